//! Human-readable durations in configuration files: `"250ms"`, `"2s"`, `"1m 30s"`.
//!
//! Parsing is [`humantime`]'s: a small, long-lived crate that already accepts what operators
//! write, so we do not keep a parser of our own.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

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
