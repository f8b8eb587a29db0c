//! Human-readable durations in configuration files: `"250ms"`, `"2s"`, `"1m 30s"`, and the
//! limits every configured duration shares.
//!
//! Parsing is [`humantime`]'s: a small, long-lived crate that already accepts what operators
//! write, so we do not keep a parser of our own.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

use crate::ConfigError;

/// The longest duration any setting accepts. A day is past any wait, timeout or open duration an
/// HTTP client needs, and it keeps every instant the runtime computes from a setting far from
/// overflowing, so no setting is ever cut down to what the clock can hold.
pub(crate) const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks a duration that must be longer than zero and at most [`MAX`].
pub(crate) fn check_positive(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() || value > MAX {
        return Err(ConfigError::new(
            field,
            format!("must be longer than zero and at most 24h, got {value:?}"),
        ));
    }
    Ok(())
}

/// Checks a duration that may be zero and must be at most [`MAX`].
pub(crate) fn check_max(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value > MAX {
        return Err(ConfigError::new(
            field,
            format!("must be between 0s and 24h, got {value:?}"),
        ));
    }
    Ok(())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|err| {
        D::Error::custom(format!(
            "invalid duration {text:?} ({err}); write it with a unit, like \"250ms\" or \"2s\""
        ))
    })
}

pub(crate) mod option {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::deserialize(de).map(Some)
    }
}
