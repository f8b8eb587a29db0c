//! Retry budgets: a cap on retries relative to traffic, shared by every call that draws on it.
//! The design and its reasons are on [`RetryBudget`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::sync::{AtomicI64, AtomicU64};
use crate::{Clock, ConfigError, TokioClock, duration};

const MILLI: i64 = 1_000;
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The settings of a [`RetryBudget`].
///
/// # Default
/// | field | default |
/// |---|---|
/// | `enabled` | true |
/// | `retry_ratio` | 0.2 (retries may add 20% to the calls made; 0.0, or 0.001..=1.0) |
/// | `min_retries_per_second` | 10 (0..=100000) |
/// | `window` | 10s (whole seconds, 1s..=1h): how long saved-up credit lasts |
///
/// The budget counts thousandths of a token and whole seconds, so a `retry_ratio` between 0 and
/// 0.001 or a `window` with a fraction of a second is an error rather than rounded away. An
/// enabled budget needs a `retry_ratio` or a `min_retries_per_second` above zero.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Whether the budget limits retries at all.
    pub enabled: bool,
    /// Retries allowed per call made.
    pub retry_ratio: f64,
    /// Retries allowed per second whatever the traffic.
    pub min_retries_per_second: u32,
    #[serde(with = "duration")]
    /// How long saved-up credit lasts.
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig::new()
    }
}

impl BudgetConfig {
    /// The defaults.
    pub const fn new() -> Self {
        BudgetConfig {
            enabled: true,
            retry_ratio: 0.2,
            min_retries_per_second: 10,
            window: Duration::from_secs(10),
        }
    }

    /// A budget that allows every retry.
    pub const fn unlimited() -> Self {
        BudgetConfig {
            enabled: false,
            ..BudgetConfig::new()
        }
    }

    /// Checks every field and the rule across them.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first field at fault and its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ratio = self.retry_ratio;
        if !(ratio == 0.0 || (0.001..=1.0).contains(&ratio)) {
            return Err(ConfigError::new(
                "retry_ratio",
                format!(
                    "must be 0.0 or between 0.001 and 1.0 (the budget counts thousandths of a \
                     token), got {ratio}"
                ),
            ));
        }
        if self.min_retries_per_second > 100_000 {
            return Err(ConfigError::new(
                "min_retries_per_second",
                format!(
                    "must be between 0 and 100000, got {}",
                    self.min_retries_per_second
                ),
            ));
        }
        let window = self.window;
        if !(Duration::from_secs(1)..=Duration::from_secs(3_600)).contains(&window)
            || window.subsec_nanos() != 0
        {
            return Err(ConfigError::new(
                "window",
                format!("must be a whole number of seconds between 1s and 1h, got {window:?}"),
            ));
        }
        if self.enabled && ratio == 0.0 && self.min_retries_per_second == 0 {
            return Err(ConfigError::new(
                "retry_ratio",
                "must be between 0.001 and 1.0 when `min_retries_per_second` is 0, or no retry \
                 would ever be allowed (to never retry, set `max_attempts = 1` on the policy); \
                 got 0",
            ));
        }
        Ok(())
    }
}

/// A shared allowance of retries, drawn on by every call that names it.
///
/// # Why a budget, not just `max_attempts`
/// `max_attempts = 3` bounds one call, not the fleet. When a backend falls over, every caller
/// fails at once and every caller retries, so a backend that was struggling under `N` requests a
/// second now receives `3N`: retries turn a brown-out into an outage, and the extra load is the
/// reason it cannot come back. A budget bounds retries across all calls instead: retries may
/// add at most a fixed fraction of the traffic (20% by default), plus a small floor (10 per
/// second) so that a quiet client can still retry a lone failure. A healthy backend never
/// notices the budget; a failing one receives at most 1.2x its normal load instead of 3x, plus
/// the floor: 10 retries a second, and up to `min_retries_per_second * window` (100 by default)
/// saved up before the failure. This is Finagle's design, and tower's `retry::budget` follows
/// it too.
///
/// # How it is kept
/// A token bucket, counted in thousandths of a token: every first attempt deposits
/// `retry_ratio` tokens, every retry withdraws one, and the floor refills `min_retries_per_second`
/// tokens per second. The balance is capped at `min_retries_per_second * window` tokens, so
/// credit saved up during a long healthy period expires instead of funding a retry storm later;
/// it starts at one second's worth of floor.
///
/// Cost on the success path: one atomic load, plus one compare-exchange while the balance is
/// below its cap. The clock is read only when a retry asks for a token.
///
/// # Example
///
/// ```
/// use resilient_http::{BudgetConfig, RetryBudget};
///
/// let config = BudgetConfig { min_retries_per_second: 1, ..BudgetConfig::new() };
/// let budget = RetryBudget::new("payments", config)?;
/// budget.deposit(); // a first attempt: +0.2 token
/// assert!(budget.try_withdraw()); // the floor's first token
/// assert!(!budget.try_withdraw()); // 0.2 token left: not enough for a retry
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
pub struct RetryBudget {
    name: Box<str>,
    config: BudgetConfig,
    deposit: i64,
    cap: i64,
    refill_per_sec: i64,
    balance: AtomicI64,
    /// When the floor last refilled, in nanoseconds since `origin`.
    refilled_at: AtomicU64,
    origin: Instant,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("balance", &self.balance())
            .finish_non_exhaustive()
    }
}

impl RetryBudget {
    /// A budget on the tokio clock.
    ///
    /// # Errors
    /// The first invalid field of `config`.
    pub fn new(name: impl Into<String>, config: BudgetConfig) -> Result<Self, ConfigError> {
        RetryBudget::with_clock(name.into(), config, Arc::new(TokioClock))
    }

    pub(crate) fn with_clock(
        name: String,
        config: BudgetConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let refill_per_sec = i64::from(config.min_retries_per_second) * MILLI;
        let window_secs = i64::try_from(config.window.as_secs()).unwrap_or(i64::MAX);
        // A ratio-only budget still needs room for the credit its deposits earn.
        let cap = (refill_per_sec * window_secs).max(MILLI);
        Ok(RetryBudget {
            name: name.into_boxed_str(),
            // `validate` bounds the ratio to 0 or 0.001..=1, so this fits: to the nearest thousandth.
            deposit: (config.retry_ratio * MILLI as f64).round() as i64,
            cap,
            refill_per_sec,
            balance: AtomicI64::new(refill_per_sec.min(cap)),
            refilled_at: AtomicU64::new(0),
            origin: clock.now(),
            clock,
            config,
        })
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// Tokens available now, in whole retries (refills are applied at the next withdrawal).
    pub fn balance(&self) -> f64 {
        self.balance.load(Relaxed) as f64 / MILLI as f64
    }

    /// Credits one call's first attempt.
    #[inline]
    pub fn deposit(&self) {
        if self.config.enabled && self.balance.load(Relaxed) < self.cap {
            // Clamped in the same atomic step, so a deposit cannot carry the balance past the
            // cap (a plain add after the check could, by up to one deposit per racing caller).
            let _ = self.balance.fetch_update(Relaxed, Relaxed, |b| {
                (b < self.cap).then(|| (b + self.deposit).min(self.cap))
            });
        }
    }

    /// Takes one retry's token; `false` when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        if !self.config.enabled {
            return true;
        }
        self.refill();
        self.balance
            .fetch_update(Relaxed, Relaxed, |b| (b >= MILLI).then_some(b - MILLI))
            .is_ok()
    }

    fn refill(&self) {
        let now = self.clock.now().saturating_duration_since(self.origin);
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let last = self.refilled_at.load(Relaxed);
        if self.refill_per_sec == 0 || now <= last {
            return;
        }
        let rate = i128::from(self.refill_per_sec);
        let tokens = i128::from(now - last) * rate / NANOS_PER_SEC;
        if tokens == 0 {
            return;
        }
        // Move the refill time forward by exactly the time those tokens took to earn, so the
        // fractions of a token between frequent withdrawals are not lost; whoever wins the move
        // adds the tokens.
        let earned_in = u64::try_from(tokens * NANOS_PER_SEC / rate).unwrap_or(u64::MAX);
        let moved = self
            .refilled_at
            .compare_exchange(last, last + earned_in, Relaxed, Relaxed);
        if moved.is_ok() {
            let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
            let _ = self.balance.fetch_update(Relaxed, Relaxed, |b| {
                Some(b.saturating_add(tokens).min(self.cap))
            });
        }
    }
}
