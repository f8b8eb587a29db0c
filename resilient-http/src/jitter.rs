//! Randomising waits so that clients that failed together do not retry together.

use std::time::Duration;

use rand::{Rng, RngExt};
use serde::Deserialize;

use crate::Backoff;

/// How a backoff delay is randomised, following the formulas of the AWS Architecture Blog's
/// "Exponential Backoff And Jitter", with `d` the backoff's delay for this retry:
///
/// | jitter | wait |
/// |---|---|
/// | `None` | `d` |
/// | `Full` | `U(0, d)` |
/// | `Equal` | `d/2 + U(0, d/2)` |
/// | `Decorrelated` | `min(max, U(initial, previous * 3))` |
///
/// Whatever the jitter, the result never exceeds the backoff's `max`: the cap applies after
/// jitter, not before.
///
/// # Default
/// `Full`: the article's measurements show it spreads contending clients best for the fewest
/// calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// No randomness.
    None,
    /// Uniform between zero and the delay.
    #[default]
    Full,
    /// Half the delay, plus uniform up to the other half.
    Equal,
    /// Uniform between the initial delay and three times the previous wait.
    Decorrelated,
}

impl Jitter {
    /// Applies this jitter to `base`, the backoff's delay for this retry, where `prev` is the
    /// previous wait (the initial delay before the first retry).
    pub fn apply<R: Rng + ?Sized>(
        self,
        base: Duration,
        prev: Duration,
        backoff: &Backoff,
        rng: &mut R,
    ) -> Duration {
        let max = backoff.max_delay();
        let delay = match self {
            Jitter::None => base,
            Jitter::Full => uniform(rng, Duration::ZERO, base),
            Jitter::Equal => {
                let half = base / 2;
                half.saturating_add(uniform(rng, Duration::ZERO, base - half))
            }
            Jitter::Decorrelated => {
                let low = backoff.initial_delay();
                uniform(rng, low, prev.saturating_mul(3).max(low))
            }
        };
        delay.min(max)
    }

    /// The shortest wait this jitter can make before the first retry under `backoff`.
    pub(crate) fn shortest_first_wait(self, backoff: &Backoff) -> Duration {
        match self {
            Jitter::None => backoff.base_delay(1),
            Jitter::Full => Duration::ZERO,
            Jitter::Equal => backoff.base_delay(1) / 2,
            Jitter::Decorrelated => backoff.initial_delay(),
        }
    }
}

/// A uniform draw in `[low, high]`, at nanosecond resolution. A span wider than `u64` nanoseconds
/// (~584 years) is drawn within its first 584 years, so the draw never falls below `low`.
fn uniform<R: Rng + ?Sized>(rng: &mut R, low: Duration, high: Duration) -> Duration {
    let span = u64::try_from(high.saturating_sub(low).as_nanos()).unwrap_or(u64::MAX);
    low.saturating_add(Duration::from_nanos(rng.random_range(0..=span)))
}
