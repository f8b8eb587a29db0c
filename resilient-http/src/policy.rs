//! The retry policy: how many attempts, which failures to retry, how long to wait, and when to
//! stop waiting.

use std::time::Duration;

use serde::Deserialize;

use crate::{Backoff, ConfigError, Jitter, StatusSet, duration};

/// A validated retry policy. Build one with [`RetryPolicy::builder`], or load a
/// [`RetryConfig`] from a configuration file and [`build`](RetryConfig::build) it.
///
/// ```
/// use std::time::Duration;
/// use resilient_http::{Backoff, Jitter, RetryPolicy, StatusSet};
///
/// let policy = RetryPolicy::builder()
///     .max_attempts(4)
///     .retry_on(StatusSet::EMPTY.with(429).with_range(500, 599))
///     .backoff(Backoff::constant(Duration::from_millis(50)))
///     .jitter(Jitter::Equal)
///     .deadline(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(policy.max_attempts(), 4);
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    config: RetryConfig,
}

impl RetryPolicy {
    /// A builder starting from the defaults (see [`RetryConfig`]).
    pub const fn builder() -> RetryConfig {
        RetryConfig::new()
    }

    /// Attempts in all, including the first.
    pub const fn max_attempts(&self) -> u32 {
        self.config.max_attempts
    }

    /// The statuses that are retried.
    pub const fn retry_on(&self) -> &StatusSet {
        &self.config.retry_on
    }

    /// The wait between attempts, before jitter.
    pub const fn backoff(&self) -> &Backoff {
        &self.config.backoff
    }

    /// How the wait is randomised.
    pub const fn jitter(&self) -> Jitter {
        self.config.jitter
    }

    /// The longest one attempt may take.
    pub const fn attempt_timeout(&self) -> Option<Duration> {
        self.config.attempt_timeout
    }

    /// The longest the whole call may take, from the start of its first attempt.
    pub const fn deadline(&self) -> Option<Duration> {
        self.config.deadline
    }

    /// Whether requests that are not idempotent are retried like idempotent ones.
    pub const fn retry_non_idempotent(&self) -> bool {
        self.config.retry_non_idempotent
    }

    /// The fixed seed of the jitter, if one was set.
    pub const fn jitter_seed(&self) -> Option<u64> {
        self.config.jitter_seed
    }

    /// This policy with a single attempt, for requests that cannot be repeated.
    pub(crate) fn single_attempt(&self) -> Self {
        let mut policy = self.clone();
        policy.config.max_attempts = 1;
        policy
    }

    /// Wraps a configuration the caller has already validated, for policies checked at compile
    /// time by `#[resilient]`.
    #[doc(hidden)]
    pub const fn __from_checked(config: RetryConfig) -> Self {
        RetryPolicy { config }
    }
}

/// The settings of a [`RetryPolicy`], as a builder and as the shape of its configuration file.
///
/// Setters do not validate; [`build`](RetryConfig::build) does, and names the field at fault.
///
/// In a configuration file (fields not given keep their default; unknown fields are errors):
///
/// ```
/// # use resilient_http::RetryConfig;
/// let policy = toml::from_str::<RetryConfig>(r#"
///     max_attempts = 5
///     retry_on = [429, "500..=599"]
///     jitter = "equal"
///     attempt_timeout = "2s"
///     deadline = "10s"
///     backoff = { kind = "exponential", initial = "200ms", factor = 2.0, max = "5s" }
/// "#).unwrap().build().unwrap();
/// assert_eq!(policy.max_attempts(), 5);
/// ```
///
/// # Default
/// | field | default | valid |
/// |---|---|---|
/// | `max_attempts` | 3 | 1..=100 |
/// | `retry_on` | 408, 429, 500, 502, 503, 504 | codes and ranges (lowest first) within 400..=599 |
/// | `backoff` | exponential, initial 100ms, factor 2.0, max 10s | see [`Backoff`]: durations 0s..=24h, `initial` <= `max`, exponential `initial` > 0 and `factor` finite >= 1.0 |
/// | `jitter` | full | any; `decorrelated` needs a linear `initial` > 0 |
/// | `attempt_timeout` | none | 0 < x <= 24h, and <= `deadline` |
/// | `deadline` | none | 0 < x <= 24h, and longer than the shortest first wait when `max_attempts` > 1 |
/// | `retry_non_idempotent` | false | |
/// | `jitter_seed` | none (a fresh random seed per call) | any u64 |
///
/// The shortest first wait is the backoff's first delay with no jitter or `decorrelated`, half of
/// it with `equal`, and zero with `full`: a `deadline` no longer than it would let no retry start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    max_attempts: u32,
    retry_on: StatusSet,
    backoff: Backoff,
    jitter: Jitter,
    #[serde(with = "duration::option")]
    attempt_timeout: Option<Duration>,
    #[serde(with = "duration::option")]
    deadline: Option<Duration>,
    retry_non_idempotent: bool,
    jitter_seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig::new()
    }
}

/// The valid range of `max_attempts`: more than 100 attempts is a loop, not a policy.
const MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=100;

impl RetryConfig {
    /// The defaults.
    pub const fn new() -> Self {
        RetryConfig {
            max_attempts: 3,
            retry_on: StatusSet::DEFAULT,
            backoff: Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(10)),
            jitter: Jitter::Full,
            attempt_timeout: None,
            deadline: None,
            retry_non_idempotent: false,
            jitter_seed: None,
        }
    }

    /// Attempts in all, including the first: 1 means no retry.
    pub const fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The statuses to retry.
    pub const fn retry_on(mut self, statuses: StatusSet) -> Self {
        self.retry_on = statuses;
        self
    }

    /// The wait between attempts.
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How the wait is randomised.
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The longest one attempt may take before it is abandoned (and retried).
    pub const fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The longest the whole call may take, measured from the start of the first attempt. No
    /// wait is started that would end after it.
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Retry requests that are not idempotent (POST, PATCH) like idempotent ones. Prefer an
    /// `Idempotency-Key` header, which the server can use to drop duplicates.
    pub const fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = yes;
        self
    }

    /// Draw jitter from a generator seeded with `seed`, so waits repeat from run to run (for
    /// tests and simulations; in production a fresh seed per call keeps clients apart).
    pub const fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Checks every field and the rules across them; the table on [`RetryConfig`] lists them.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first field at fault (`backoff.factor` for a field of the
    /// backoff) and its allowed range.
    pub fn build(self) -> Result<RetryPolicy, ConfigError> {
        if !MAX_ATTEMPTS.contains(&self.max_attempts) {
            return Err(ConfigError::new(
                "max_attempts",
                format!("must be between 1 and 100, got {}", self.max_attempts),
            ));
        }
        self.retry_on.validate()?;
        self.backoff.validate()?;
        if let (Jitter::Decorrelated, Backoff::Linear { initial, .. }) = (self.jitter, self.backoff)
            && initial.is_zero()
        {
            return Err(ConfigError::new(
                "backoff.initial",
                "must be longer than zero and at most 24h with `jitter = \"decorrelated\"`, \
                 which draws each wait from the previous one (three times zero is zero), got 0ns",
            ));
        }
        if let Some(timeout) = self.attempt_timeout {
            duration::check_positive("attempt_timeout", timeout)?;
        }
        if let Some(deadline) = self.deadline {
            duration::check_positive("deadline", deadline)?;
        }
        if let (Some(timeout), Some(deadline)) = (self.attempt_timeout, self.deadline)
            && timeout > deadline
        {
            return Err(ConfigError::new(
                "attempt_timeout",
                format!("must be at most `deadline` ({deadline:?}), got {timeout:?}"),
            ));
        }
        let first_wait = self.jitter.shortest_first_wait(&self.backoff);
        if let Some(deadline) = self.deadline
            && self.max_attempts > 1
            && deadline <= first_wait
        {
            return Err(ConfigError::new(
                "deadline",
                format!(
                    "must be longer than {first_wait:?}, the shortest wait before the first retry \
                     under `backoff` and `jitter`, or no retry could ever start; got {deadline:?} \
                     (raise it, shorten the backoff, or set `max_attempts = 1`)"
                ),
            ));
        }
        Ok(RetryPolicy { config: self })
    }
}
