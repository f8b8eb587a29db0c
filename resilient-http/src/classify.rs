//! Deciding what an attempt's outcome means: done, worth another try, or failed for good.

use std::time::Duration;

use reqwest::StatusCode;

use crate::{Error, retry_after};

/// What one attempt's outcome means to the retry loop and the circuit breaker.
///
/// Statuses are reported as they are: whether a status is retried is the policy's call (its
/// `retry_on` set), so one classification serves every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Classification {
    /// The attempt succeeded.
    Success,
    /// The server answered with this status. The policy retries it when the status is in its
    /// `retry_on` set; it counts against the breaker when it is a 5xx, 408 or 429 (other 4xx are
    /// the caller's fault, not the server's).
    Status {
        /// The response status.
        status: StatusCode,
        /// The delay the server asked for with `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The request provably never left the client (the connection could not be made): safe to
    /// retry whatever the method. Counts against the breaker.
    NotSent,
    /// A transport failure after the request may have reached the server (reset, closed
    /// connection, timeout, truncated body): retried for idempotent requests. Counts against the
    /// breaker.
    Transient,
    /// Failed for good; never retried.
    Permanent {
        /// Whether the failure counts against the breaker.
        breaker_failure: bool,
    },
}

impl Classification {
    /// Whether a call ending this way counts as a failure for the circuit breaker.
    pub fn is_breaker_failure(self) -> bool {
        match self {
            Classification::Success => false,
            Classification::Status { status, .. } => status_is_breaker_failure(status),
            Classification::NotSent | Classification::Transient => true,
            Classification::Permanent { breaker_failure } => breaker_failure,
        }
    }
}

pub(crate) fn status_is_breaker_failure(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// Why the runtime stopped retrying and returned an error; passed to [`Classify::on_give_up`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp<'a> {
    /// The error is not retryable under the policy.
    NotRetryable,
    /// `max_attempts` attempts were made.
    AttemptsExhausted,
    /// The server's `Retry-After` was longer than the backoff's maximum or the time left before
    /// the deadline, so waiting for it would hang the caller.
    RetryAfterTooLong,
    /// The next retry could not start before the deadline.
    Deadline(Duration),
    /// The retry budget of this name was spent.
    BudgetExhausted(&'a str),
    /// The breaker opened during the call (this attempt's failure, or others', tripped it), so
    /// the next attempt would be rejected: the call returns its last error instead of waiting.
    CircuitOpen,
}

impl GiveUp<'_> {
    /// A short, stable name, fit for a metric label: `not_retryable`, `attempts_exhausted`,
    /// `retry_after_too_long`, `deadline`, `budget_exhausted`, `circuit_open`.
    pub fn label(&self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "not_retryable",
            GiveUp::AttemptsExhausted => "attempts_exhausted",
            GiveUp::RetryAfterTooLong => "retry_after_too_long",
            GiveUp::Deadline(_) => "deadline",
            GiveUp::BudgetExhausted(_) => "budget_exhausted",
            GiveUp::CircuitOpen => "circuit_open",
        }
    }
}

/// Tells the runtime what an attempt's error means: implement it for your own error type.
///
/// Implemented for [`reqwest::Error`], [`reqwest::Response`] (by status), this crate's
/// [`Error`], and for `Result<T, E>` when both sides implement it (so `Ok(response)` with a 503
/// is retried). A resilient call whose success type does not implement it treats every `Ok` as
/// a success and asks only the error.
///
/// ```
/// use resilient_http::{Classification, Classify};
///
/// enum ApiError {
///     Http(resilient_http::Error),
///     /// The server answered, but with something we cannot parse: retrying will not help.
///     Parse(String),
/// }
///
/// impl Classify for ApiError {
///     fn classify(&self) -> Classification {
///         match self {
///             ApiError::Http(err) => err.classify(),
///             ApiError::Parse(_) => Classification::Permanent { breaker_failure: false },
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Classify`, so failures of this type cannot be judged for retrying",
    note = "implement `resilient_http::Classify` for `{Self}` (a few lines: see its docs), or use `resilient_http::Error`"
)]
pub trait Classify {
    /// What this outcome means for retrying and for the breaker.
    fn classify(&self) -> Classification;

    /// Called once on the error the runtime is about to return, with the number of attempts
    /// made and why it stopped. The default returns the error unchanged; [`Error`] records the
    /// attempts and wraps itself when the deadline or the budget stopped the call.
    #[must_use]
    fn on_give_up(self, attempts: u32, why: GiveUp<'_>) -> Self
    where
        Self: Sized,
    {
        let _ = (attempts, why);
        self
    }
}

impl Classify for reqwest::Error {
    fn classify(&self) -> Classification {
        if let Some(status) = self.status() {
            Classification::Status {
                status,
                retry_after: None,
            }
        } else if self.is_connect() {
            Classification::NotSent
        } else if self.is_timeout() || self.is_request() || self.is_body() || cut_short(self) {
            Classification::Transient
        } else {
            // Builder, redirect-policy and decode errors: the same request fails the same way.
            Classification::Permanent {
                breaker_failure: false,
            }
        }
    }
}

/// Whether the connection failed mid-body: reqwest reports a truncated or reset body as a decode
/// error, but the same request can well succeed on a healthy connection.
fn cut_short(err: &reqwest::Error) -> bool {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}

impl Classify for reqwest::Response {
    #[inline]
    fn classify(&self) -> Classification {
        of_status(self.status(), self.headers())
    }
}

/// A response's classification: success below 400, otherwise its status and `Retry-After`.
#[inline]
pub(crate) fn of_status(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Classification {
    if status.is_client_error() || status.is_server_error() {
        Classification::Status {
            status,
            retry_after: retry_after::from_headers(headers),
        }
    } else {
        Classification::Success
    }
}

impl Classify for Error {
    fn classify(&self) -> Classification {
        match self {
            Error::Status {
                status,
                retry_after,
                ..
            } => Classification::Status {
                status: *status,
                retry_after: *retry_after,
            },
            Error::Transport { source, .. } => source.classify(),
            Error::AttemptTimeout { .. } => Classification::Transient,
            Error::CircuitOpen { .. } => Classification::Permanent {
                breaker_failure: false,
            },
            Error::DeadlineExceeded { .. } | Error::BudgetExhausted { .. } => {
                Classification::Permanent {
                    breaker_failure: true,
                }
            }
        }
    }

    fn on_give_up(mut self, attempts: u32, why: GiveUp<'_>) -> Self {
        self.set_attempts(attempts);
        match why {
            GiveUp::Deadline(deadline) => Error::DeadlineExceeded {
                deadline,
                attempts,
                last: Some(Box::new(self)),
            },
            GiveUp::BudgetExhausted(budget) => Error::BudgetExhausted {
                budget: budget.to_owned(),
                attempts,
                last: Box::new(self),
            },
            GiveUp::NotRetryable
            | GiveUp::AttemptsExhausted
            | GiveUp::RetryAfterTooLong
            | GiveUp::CircuitOpen => self,
        }
    }
}

impl<T: Classify, E: Classify> Classify for Result<T, E> {
    fn classify(&self) -> Classification {
        match self {
            Ok(value) => value.classify(),
            Err(err) => err.classify(),
        }
    }
}
