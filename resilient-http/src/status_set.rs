//! A set of HTTP status codes, as a fixed bitset: `contains` is one shift and one mask.

use std::fmt;

use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, de};

use crate::ConfigError;

/// The status codes a policy retries: error statuses, 400..=599.
///
/// Stored as 640 bits, so it is `Copy`, can be built in a `const`, and a lookup costs no
/// allocation and no branch on the number of entries.
///
/// In configuration files it is a list of codes and inclusive ranges written as strings:
/// `retry_on = [429, "500..=599"]`.
///
/// A code or range outside 400..=599 (or a range written highest first) is not added, and the
/// set remembers it: [`RetryConfig::build`](crate::RetryConfig::build) rejects the set, naming
/// `retry_on` and the first such entry, whether it came from code or from a file.
///
/// ```
/// use resilient_http::{RetryPolicy, StatusSet};
///
/// let err = RetryPolicy::builder().retry_on(StatusSet::EMPTY.with(200)).build().unwrap_err();
/// assert_eq!(err.field(), "retry_on");
/// assert_eq!(err.problem(), "must hold only error statuses between 400 and 599, got 200");
/// ```
///
/// # Default
/// 408, 429, 500, 502, 503, 504: timeouts, rate limiting and the server errors that mean
/// "try again" (501 and 505 do not).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StatusSet {
    bits: [u64; 10],
    /// The first entry that was not added, as an inclusive range (`first == last` for a code).
    rejected: Option<(u64, u64)>,
}

impl StatusSet {
    /// No status at all: only transport failures are retried.
    pub const EMPTY: StatusSet = StatusSet {
        bits: [0; 10],
        rejected: None,
    };

    /// The default set.
    pub const DEFAULT: StatusSet = StatusSet::EMPTY
        .with(408)
        .with(429)
        .with(500)
        .with(502)
        .with(503)
        .with(504);

    /// This set plus `code`, an error status (400..=599); any other code is not added and makes
    /// the policy invalid (see [`StatusSet`]).
    pub const fn with(self, code: u16) -> Self {
        self.add(code as u64, code as u64)
    }

    /// This set plus every code in `first..=last`, within 400..=599 and lowest first; any other
    /// range is not added and makes the policy invalid (see [`StatusSet`]).
    pub const fn with_range(self, first: u16, last: u16) -> Self {
        self.add(first as u64, last as u64)
    }

    const fn add(mut self, first: u64, last: u64) -> Self {
        if first < 400 || last > 599 || first > last {
            if self.rejected.is_none() {
                self.rejected = Some((first, last));
            }
            return self;
        }
        let mut code = first;
        while code <= last {
            self.bits[(code / 64) as usize] |= 1 << (code % 64);
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
        (400..=599u16).filter(|&code| self.bits[usize::from(code / 64)] & (1 << (code % 64)) != 0)
    }

    /// Checks that every code and range given was added.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let problem = match self.rejected {
            None => return Ok(()),
            Some((first, last)) if first > last => format!(
                "must hold only ranges written lowest first, within 400..=599, got \"{first}..={last}\""
            ),
            Some((first, last)) if first == last => {
                format!("must hold only error statuses between 400 and 599, got {first}")
            }
            Some((first, last)) => format!(
                "must hold only error statuses between 400 and 599, got \"{first}..={last}\""
            ),
        };
        Err(ConfigError::new("retry_on", problem))
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
    /// Reads codes and ranges; one outside 400..=599 is kept aside for
    /// [`RetryConfig::build`](crate::RetryConfig::build) to reject, like one given in code.
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
                Entry::Code(code) => set.add(code, code),
                Entry::Range(range) => {
                    let (first, last) = parse_range(&range).map_err(de::Error::custom)?;
                    set.add(first, last)
                }
            };
        }
        Ok(set)
    }
}

fn parse_range(range: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid status range {range:?}; write it like \"500..=599\"");
    let (first, last) = range.split_once("..=").ok_or_else(bad)?;
    let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    Ok((parse(first)?, parse(last)?))
}
