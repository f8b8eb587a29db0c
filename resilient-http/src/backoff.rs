//! How long to wait before each retry, before jitter.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use crate::{ConfigError, Jitter, duration};

/// The growth of the wait between attempts.
///
/// Delays are computed in floating point and saturate: no attempt number up to `u32::MAX` can
/// overflow or panic, and no delay exceeds [`Backoff::max_delay`], before or after jitter.
///
/// In configuration files it is written with a `kind` tag and human-readable durations:
///
/// ```
/// # use resilient_http::Backoff;
/// # use std::time::Duration;
/// let backoff: Backoff = toml::from_str(r#"
///     kind = "exponential"
///     initial = "100ms"
///     factor = 2.0
///     max = "10s"
/// "#).unwrap();
/// assert_eq!(backoff, Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(10)));
/// ```
///
/// # Default
/// `exponential(initial = 100ms, factor = 2.0, max = 10s)`.
///
/// # Valid values
/// Checked by [`RetryConfig::build`](crate::RetryConfig::build), which names the field at fault
/// (`backoff.initial`, ...):
///
/// | kind | rule |
/// |---|---|
/// | every kind | each duration between 0s and 24h |
/// | `linear`, `exponential` | `initial` <= `max` |
/// | `exponential` | `initial` > 0 (zero times any factor stays zero); `factor` finite and >= 1.0 |
/// | `linear` | `initial` > 0 when the jitter is `decorrelated`, which grows from the previous wait |
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Backoff {
    /// Retry at once.
    None,
    /// The same wait every time.
    Constant {
        /// The wait.
        #[serde(with = "duration")]
        delay: Duration,
    },
    /// `initial + step * (retry - 1)`, up to `max`.
    Linear {
        /// The first wait.
        #[serde(with = "duration")]
        initial: Duration,
        /// Added for every further retry.
        #[serde(with = "duration")]
        step: Duration,
        /// The longest wait.
        #[serde(with = "duration")]
        max: Duration,
    },
    /// `initial * factor^(retry - 1)`, up to `max`.
    Exponential {
        /// The first wait.
        #[serde(with = "duration")]
        initial: Duration,
        /// The growth per retry, at least 1.0.
        factor: f64,
        /// The longest wait.
        #[serde(with = "duration")]
        max: Duration,
    },
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(10))
    }
}

impl Backoff {
    /// A constant wait.
    pub const fn constant(delay: Duration) -> Self {
        Backoff::Constant { delay }
    }

    /// A linearly growing wait.
    pub const fn linear(initial: Duration, step: Duration, max: Duration) -> Self {
        Backoff::Linear { initial, step, max }
    }

    /// An exponentially growing wait.
    pub const fn exponential(initial: Duration, factor: f64, max: Duration) -> Self {
        Backoff::Exponential {
            initial,
            factor,
            max,
        }
    }

    /// The wait before retry number `retry` (1 for the first retry), without jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let steps = retry.saturating_sub(1);
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Constant { delay } => delay,
            Backoff::Linear { initial, step, max } => {
                initial.saturating_add(step.saturating_mul(steps)).min(max)
            }
            Backoff::Exponential { initial, .. } if initial.is_zero() => Duration::ZERO,
            Backoff::Exponential {
                initial,
                factor,
                max,
            } => {
                // Overflow (an infinite product) saturates to `max`.
                let secs = initial.as_secs_f64() * factor.powf(f64::from(steps));
                Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
            }
        }
    }

    /// The first wait: the lower bound of decorrelated jitter.
    pub fn initial_delay(&self) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Constant { delay } => delay,
            Backoff::Linear { initial, max, .. } | Backoff::Exponential { initial, max, .. } => {
                initial.min(max)
            }
        }
    }

    /// The longest wait, a hard limit that jitter never crosses.
    pub fn max_delay(&self) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Constant { delay } => delay,
            Backoff::Linear { max, .. } | Backoff::Exponential { max, .. } => max,
        }
    }

    /// The waits before retries 1, 2, 3, ... with `jitter` applied, drawing from `rng`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rand::SeedableRng;
    /// use resilient_http::{Backoff, Jitter};
    ///
    /// let backoff = Backoff::exponential(Duration::from_millis(100), 2.0, Duration::from_secs(1));
    /// let rng = rand::rngs::SmallRng::seed_from_u64(7);
    /// for delay in backoff.delays(Jitter::Full, rng).take(10) {
    ///     assert!(delay <= Duration::from_secs(1));
    /// }
    /// ```
    pub fn delays<R: Rng>(self, jitter: Jitter, rng: R) -> Delays<R> {
        Delays {
            backoff: self,
            jitter,
            rng,
            retry: 0,
            prev: self.initial_delay(),
        }
    }

    /// The wait before retry number `retry` (from 1) under `jitter`, where `prev` is the
    /// previous wait (the initial delay before the first retry): what [`Delays`] yields, for a
    /// caller that keeps only the random generator and the previous wait.
    pub(crate) fn jittered<R: Rng>(
        &self,
        jitter: Jitter,
        retry: u32,
        prev: Duration,
        rng: &mut R,
    ) -> Duration {
        jitter.apply(self.base_delay(retry), prev, self, rng)
    }

    /// Checks every duration, the factor, and the rules across them.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Backoff::None => Ok(()),
            Backoff::Constant { delay } => duration::check_max("backoff.delay", delay),
            Backoff::Linear { initial, step, max } => {
                duration::check_max("backoff.initial", initial)?;
                duration::check_max("backoff.step", step)?;
                duration::check_max("backoff.max", max)?;
                check_initial_within_max(initial, max)
            }
            Backoff::Exponential {
                initial,
                factor,
                max,
            } => {
                // Zero times any factor is zero: every wait would be zero, and `factor` and
                // `max` would be silently ignored.
                if initial.is_zero() {
                    return Err(ConfigError::new(
                        "backoff.initial",
                        "must be longer than zero and at most 24h for an exponential backoff, \
                         which multiplies it (for no wait, use `kind = \"none\"`), got 0ns",
                    ));
                }
                duration::check_positive("backoff.initial", initial)?;
                if !(factor.is_finite() && factor >= 1.0) {
                    return Err(ConfigError::new(
                        "backoff.factor",
                        format!("must be a finite number of at least 1.0, got {factor}"),
                    ));
                }
                duration::check_max("backoff.max", max)?;
                check_initial_within_max(initial, max)
            }
        }
    }
}

fn check_initial_within_max(initial: Duration, max: Duration) -> Result<(), ConfigError> {
    if initial > max {
        return Err(ConfigError::new(
            "backoff.initial",
            format!("must be at most `backoff.max` ({max:?}), got {initial:?}"),
        ));
    }
    Ok(())
}

/// The jittered waits of a [`Backoff`], one per retry; made by [`Backoff::delays`]. Endless.
#[derive(Debug, Clone)]
pub struct Delays<R> {
    backoff: Backoff,
    jitter: Jitter,
    rng: R,
    retry: u32,
    prev: Duration,
}

impl<R: Rng> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retry = self.retry.saturating_add(1);
        let delay = self
            .backoff
            .jittered(self.jitter, self.retry, self.prev, &mut self.rng);
        self.prev = delay;
        Some(delay)
    }
}
