//! The one error type of everything the runtime adds around a call, and the configuration error.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::StatusCode;

/// What went wrong with a resilient call.
///
/// Every variant carries the number of attempts made, so a caller can tell "the server said no
/// once" from "the server said no three times". Wrapping variants ([`Error::BudgetExhausted`],
/// [`Error::DeadlineExceeded`]) keep the last attempt's error; [`Error::status`] and
/// [`Error::retry_after`] look through them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("server answered {status} after {attempts} attempt(s){}", fmt_retry_after(*retry_after))]
    Status {
        /// The status of the last response.
        status: StatusCode,
        /// The delay the server asked for in its `Retry-After` header, if it sent a valid one.
        retry_after: Option<Duration>,
        /// Attempts made, including the first.
        attempts: u32,
    },
    /// The request failed in transport: connect, reset, timeout, body or decode error.
    #[error("transport error after {attempts} attempt(s)")]
    Transport {
        /// The error reqwest reported.
        #[source]
        source: reqwest::Error,
        /// Attempts made, including the first.
        attempts: u32,
    },
    /// The named circuit breaker is open and rejected the call without touching the network.
    #[error("circuit `{breaker}` is open; it may admit a probe in {retry_in:.0?}")]
    CircuitOpen {
        /// The breaker's name.
        breaker: String,
        /// How long until the breaker may admit a probe (zero when forced open).
        retry_in: Duration,
        /// Attempts made before the rejection (zero when the first attempt was rejected).
        attempts: u32,
    },
    /// One attempt took longer than it was given: the policy's per-attempt timeout, or what
    /// was left of the deadline.
    #[error("attempt {attempts} timed out after {timeout:?}")]
    AttemptTimeout {
        /// The time the attempt was given: the per-attempt timeout, or what was left of the
        /// deadline when that was shorter.
        timeout: Duration,
        /// Attempts made, including the one that timed out.
        attempts: u32,
    },
    /// The overall deadline passed, or the next retry would have started after it.
    #[error("deadline of {deadline:?} exceeded after {attempts} attempt(s)")]
    DeadlineExceeded {
        /// The overall deadline of the call.
        deadline: Duration,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error: what it returned, or, for an attempt the deadline cut
        /// short, an [`Error::AttemptTimeout`] with the time it was given.
        #[source]
        last: Option<Box<Error>>,
    },
    /// The retry budget was spent, so the call stopped retrying.
    #[error("retry budget `{budget}` exhausted after {attempts} attempt(s)")]
    BudgetExhausted {
        /// The budget's name.
        budget: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
    },
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(" (Retry-After: {d:?})"))
}

impl Error {
    /// Attempts made before the call returned this error.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Status { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::CircuitOpen { attempts, .. }
            | Error::AttemptTimeout { attempts, .. }
            | Error::DeadlineExceeded { attempts, .. }
            | Error::BudgetExhausted { attempts, .. } => *attempts,
        }
    }

    /// The HTTP status of the last response, looking through wrapping variants.
    pub fn status(&self) -> Option<StatusCode> {
        match self.last_attempt() {
            Error::Status { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The `Retry-After` delay the server asked for, looking through wrapping variants.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.last_attempt() {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error of the last attempt: `self`, or the one a wrapping variant carries.
    pub fn last_attempt(&self) -> &Error {
        match self {
            Error::BudgetExhausted { last, .. } => last.last_attempt(),
            Error::DeadlineExceeded {
                last: Some(last), ..
            } => last.last_attempt(),
            other => other,
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Error::Status { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::CircuitOpen { attempts, .. }
            | Error::AttemptTimeout { attempts, .. }
            | Error::DeadlineExceeded { attempts, .. }
            | Error::BudgetExhausted { attempts, .. } => *attempts = n,
        }
    }
}

impl From<reqwest::Error> for Error {
    /// Wraps a reqwest error; an error from `error_for_status` becomes [`Error::Status`].
    fn from(source: reqwest::Error) -> Self {
        match source.status() {
            Some(status) if source.is_status() => Error::Status {
                status,
                retry_after: None,
                attempts: 1,
            },
            _ => Error::Transport {
                source,
                attempts: 1,
            },
        }
    }
}

/// An invalid configuration value, naming the field and the rule it breaks.
///
/// ```
/// use resilient_http::RetryPolicy;
///
/// let err = RetryPolicy::builder().max_attempts(0).build().unwrap_err();
/// assert_eq!(err.field(), "max_attempts");
/// assert_eq!(err.to_string(), "invalid `max_attempts`: must be between 1 and 100, got 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {problem}")]
pub struct ConfigError {
    field: Cow<'static, str>,
    problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            field: Cow::Borrowed(field),
            problem: problem.into(),
        }
    }

    /// The same error for the field as found inside `parent` (`breakers.payments`).
    pub(crate) fn within(self, parent: &str) -> Self {
        ConfigError {
            field: Cow::Owned(format!("{parent}.{}", self.field)),
            problem: self.problem,
        }
    }

    /// The configuration field at fault, as spelled in config files (a dotted path for nested
    /// fields, like `breakers.payments.open_duration`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it, including the allowed range.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}
