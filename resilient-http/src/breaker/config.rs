//! The settings of a circuit breaker.

use std::time::Duration;

use serde::Deserialize;

use crate::{ConfigError, duration};

/// When a breaker trips, how long it stays open and how it probes for recovery.
///
/// A breaker trips on whichever rule fires first: `consecutive_failures` failures in a row, or,
/// once `minimum_calls` calls are in the sliding `window`, a failure rate (or a rate of calls
/// slower than `slow_call_duration`) at or above its threshold.
///
/// ```
/// # use resilient_http::BreakerConfig;
/// let config: BreakerConfig = toml::from_str(r#"
///     consecutive_failures = 10
///     failure_rate_threshold = 50.0
///     window = { kind = "time", seconds = 30 }
///     open_duration = "15s"
///     half_open_probes = 3
/// "#).unwrap();
/// config.validate().unwrap();
/// ```
///
/// # Default
/// | field | default | valid |
/// |---|---|---|
/// | `consecutive_failures` | 5 | >= 1, or `None` (`null` in JSON) to disable the rule |
/// | `failure_rate_threshold` | none | percent, 0 < x <= 100 |
/// | `slow_call_rate_threshold` | none | percent, 0 < x <= 100 |
/// | `slow_call_duration` | 5s | 0 < x <= 24h |
/// | `window` | the last 100 calls (`kind = "count"`, `size = 100`) | `size` 1..=10000, or `kind = "time"` with `seconds` 1..=3600 |
/// | `minimum_calls` | 20 | >= 1, and <= `window.size` when a rate rule is on |
/// | `open_duration` | 30s | 0 < x <= 24h |
/// | `open_duration_multiplier` | 1.0 (the open duration does not grow) | finite, >= 1.0 |
/// | `max_open_duration` | 5m | `open_duration` <= x <= 24h |
/// | `half_open_probes` | 1 | 1..=1000 |
///
/// The default trips only on consecutive failures, which costs no clock read and no atomic
/// write on a healthy call; the rate rules cost one or two atomic writes per call (and a clock
/// read for a time window).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Trip after this many failures in a row; `None` disables the rule.
    pub consecutive_failures: Option<u32>,
    /// Trip when at least this percentage of the calls in the window failed.
    pub failure_rate_threshold: Option<f64>,
    /// Trip when at least this percentage of the calls in the window were slow.
    pub slow_call_rate_threshold: Option<f64>,
    #[serde(with = "duration")]
    /// How long a call must take to count as slow.
    pub slow_call_duration: Duration,
    /// The window the rate rules look at.
    pub window: WindowConfig,
    /// Calls the window must hold before a rate rule may trip the breaker.
    pub minimum_calls: u32,
    #[serde(with = "duration")]
    /// How long the breaker stays open after tripping.
    pub open_duration: Duration,
    /// Growth of the open duration for each trip in a row without recovering (1.0: constant).
    pub open_duration_multiplier: f64,
    #[serde(with = "duration")]
    /// The longest the open duration may grow to.
    pub max_open_duration: Duration,
    /// Calls admitted while half-open; all must succeed to close the breaker.
    pub half_open_probes: u32,
}

/// The sliding window the rate rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// The last `size` calls (1..=10000).
    Count {
        /// Calls in the window.
        size: u32,
    },
    /// The calls of the last `seconds` seconds (1..=3600), in one-second buckets.
    Time {
        /// Seconds in the window.
        seconds: u32,
    },
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig::new()
    }
}

/// Probes at most, so that the half-open counters fit the breaker's packed state word.
const MAX_PROBES: u32 = 1_000;

impl BreakerConfig {
    /// The defaults.
    pub const fn new() -> Self {
        BreakerConfig {
            consecutive_failures: Some(5),
            failure_rate_threshold: None,
            slow_call_rate_threshold: None,
            slow_call_duration: Duration::from_secs(5),
            window: WindowConfig::Count { size: 100 },
            minimum_calls: 20,
            open_duration: Duration::from_secs(30),
            open_duration_multiplier: 1.0,
            max_open_duration: Duration::from_secs(300),
            half_open_probes: 1,
        }
    }

    /// Checks every field and the rules across them.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first field at fault and its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::new(
                "consecutive_failures",
                "must be at least 1 (or unset to disable the rule), got 0",
            ));
        }
        check_percent("failure_rate_threshold", self.failure_rate_threshold)?;
        check_percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        duration::check_positive("slow_call_duration", self.slow_call_duration)?;
        match self.window {
            WindowConfig::Count { size } if !(1..=10_000).contains(&size) => {
                return Err(ConfigError::new(
                    "window.size",
                    format!("must be between 1 and 10000, got {size}"),
                ));
            }
            WindowConfig::Time { seconds } if !(1..=3_600).contains(&seconds) => {
                return Err(ConfigError::new(
                    "window.seconds",
                    format!("must be between 1 and 3600, got {seconds}"),
                ));
            }
            WindowConfig::Count { .. } | WindowConfig::Time { .. } => {}
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new(
                "minimum_calls",
                "must be at least 1, got 0",
            ));
        }
        if let WindowConfig::Count { size } = self.window
            && self.uses_window()
            && self.minimum_calls > size
        {
            return Err(ConfigError::new(
                "minimum_calls",
                format!(
                    "must be between 1 and `window.size` ({size}) while a rate rule is on, or the \
                     rate rules could never trip; got {}",
                    self.minimum_calls
                ),
            ));
        }
        duration::check_positive("open_duration", self.open_duration)?;
        let factor = self.open_duration_multiplier;
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(ConfigError::new(
                "open_duration_multiplier",
                format!("must be a finite number of at least 1.0, got {factor}"),
            ));
        }
        if !(self.open_duration..=duration::MAX).contains(&self.max_open_duration) {
            return Err(ConfigError::new(
                "max_open_duration",
                format!(
                    "must be between `open_duration` ({:?}) and 24h, got {:?}",
                    self.open_duration, self.max_open_duration
                ),
            ));
        }
        if !(1..=MAX_PROBES).contains(&self.half_open_probes) {
            return Err(ConfigError::new(
                "half_open_probes",
                format!(
                    "must be between 1 and {MAX_PROBES}, got {}",
                    self.half_open_probes
                ),
            ));
        }
        Ok(())
    }

    /// Whether a rate rule is on, so calls must be recorded in the window.
    pub(crate) fn uses_window(&self) -> bool {
        self.failure_rate_threshold.is_some() || self.slow_call_rate_threshold.is_some()
    }

    /// The open duration after `trips` trips in a row (1 for the first).
    pub(crate) fn open_duration_after(&self, trips: u32) -> Duration {
        let growth = self
            .open_duration_multiplier
            .powf(f64::from(trips.saturating_sub(1)));
        let secs = self.open_duration.as_secs_f64() * growth;
        Duration::try_from_secs_f64(secs)
            .map_or(self.max_open_duration, |d| d.min(self.max_open_duration))
    }
}

fn check_percent(field: &'static str, value: Option<f64>) -> Result<(), ConfigError> {
    match value {
        Some(percent) if !(percent > 0.0 && percent <= 100.0) => Err(ConfigError::new(
            field,
            format!("must be a percentage above 0 and at most 100, got {percent}"),
        )),
        _ => Ok(()),
    }
}
