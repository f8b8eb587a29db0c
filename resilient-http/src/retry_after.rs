//! Parsing `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! Servers send all sorts of things here. A value that is neither form is ignored (it is the
//! server's bug, not a reason to fail the call), and no value can make the parser panic or
//! overflow: a delay too large to represent saturates to [`Duration::MAX`], which the retry loop
//! treats as "longer than we will wait".

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The delay a response's `Retry-After` header asks for, measured from now.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse(value, SystemTime::now())
}

/// Parses a `Retry-After` value received at `now`.
///
/// Returns `None` for anything that is neither delay-seconds nor an HTTP-date. A date in the
/// past means "retry now" (zero).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use resilient_http::parse_retry_after;
///
/// // Wed, 21 Oct 2015 07:28:00 GMT
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_epoch(value: &str) -> Option<Duration> {
        parse(value, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn delay_seconds() {
        assert_eq!(at_epoch("0"), Some(Duration::ZERO));
        assert_eq!(at_epoch(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            at_epoch("1000000000000"),
            Some(Duration::from_secs(1_000_000_000_000))
        );
    }

    #[test]
    fn more_digits_than_u64_saturate() {
        assert_eq!(at_epoch(&"9".repeat(40)), Some(Duration::MAX));
    }

    #[test]
    fn garbage_is_ignored() {
        for value in [
            "",
            "-5",
            "1.5",
            "+3",
            "soon",
            "12s",
            "Wed, 99 Foo 2015",
            "\u{1F600}",
        ] {
            assert_eq!(at_epoch(value), None, "{value:?}");
        }
    }

    #[test]
    fn past_date_means_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn non_utf8_header_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(from_headers(&headers), None);
    }
}
