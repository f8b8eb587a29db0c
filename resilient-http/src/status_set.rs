//! A set of HTTP status codes, as a fixed bitset: `contains` is one shift and one mask.

use std::fmt;

use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, de};

/// The status codes a policy retries.
///
/// Stored as 640 bits, so it is `Copy`, can be built in a `const`, and a lookup costs no
/// allocation and no branch on the number of entries.
///
/// In configuration files it is a list of codes and inclusive ranges written as strings:
/// `retry_on = [429, "500..=599"]`.
///
/// # Default
/// 408, 429, 500, 502, 503, 504: timeouts, rate limiting and the server errors that mean
/// "try again" (501 and 505 do not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StatusSet {
    bits: [u64; 10],
}

impl StatusSet {
    /// No status at all: only transport failures are retried.
    pub const EMPTY: StatusSet = StatusSet { bits: [0; 10] };

    /// The default set.
    pub const DEFAULT: StatusSet = StatusSet::EMPTY
        .with(408)
        .with(429)
        .with(500)
        .with(502)
        .with(503)
        .with(504);

    /// This set plus `code`. Codes outside 100..=599 are ignored here; configuration files and
    /// `#[resilient]` reject them with an error instead.
    pub const fn with(mut self, code: u16) -> Self {
        if code >= 100 && code <= 599 {
            self.bits[(code / 64) as usize] |= 1 << (code % 64);
        }
        self
    }

    /// This set plus every code in `first..=last`.
    pub const fn with_range(mut self, first: u16, last: u16) -> Self {
        let mut code = first;
        while code <= last && code <= 599 {
            self = self.with(code);
            code += 1;
        }
        self
    }

    /// Whether `status` is in the set.
    #[inline]
    pub fn contains(&self, status: StatusCode) -> bool {
        let code = status.as_u16();
        code < 640 && self.bits[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }

    /// The codes in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (100..=599u16).filter(|&code| self.bits[usize::from(code / 64)] & (1 << (code % 64)) != 0)
    }

    /// Whether `code` may be retried at all: only error statuses (400..=599) can be.
    pub(crate) fn check(code: u64) -> Result<u16, String> {
        match u16::try_from(code) {
            Ok(code @ 400..=599) => Ok(code),
            _ => Err(format!(
                "status {code} cannot be retried; use error statuses between 400 and 599"
            )),
        }
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet::DEFAULT
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<u16> for StatusSet {
    fn from_iter<I: IntoIterator<Item = u16>>(codes: I) -> Self {
        codes.into_iter().fold(StatusSet::EMPTY, StatusSet::with)
    }
}

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Code(u64),
            Range(String),
        }

        let mut set = StatusSet::EMPTY;
        for entry in Vec::<Entry>::deserialize(de)? {
            set = match entry {
                Entry::Code(code) => set.with(StatusSet::check(code).map_err(de::Error::custom)?),
                Entry::Range(range) => {
                    let (first, last) = parse_range(&range).map_err(de::Error::custom)?;
                    set.with_range(first, last)
                }
            };
        }
        Ok(set)
    }
}

fn parse_range(range: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid status range {range:?}; write it like \"500..=599\"");
    let (first, last) = range.split_once("..=").ok_or_else(bad)?;
    let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let first = StatusSet::check(parse(first)?)?;
    let last = StatusSet::check(parse(last)?)?;
    if first > last {
        return Err(format!(
            "status range {range:?} is empty; put the lower code first"
        ));
    }
    Ok((first, last))
}
