//! What must hold for any `Retry-After` value given to `resilient_http::parse_retry_after`.
//!
//! Shared by the `retry_after` fuzz target and `tests/fuzz_corpus.rs`, which replays the checked-in
//! corpus through [`check`] as an ordinary test.
//!
//! - It never panics, whatever the bytes and whenever they are parsed.
//! - A value that reaches the parser the way the client reads it (a `HeaderValue` that is visible
//!   ASCII) gives the same result as the text itself; one that is not text never reaches it.
//! - Delay-seconds (digits only, surrounding whitespace ignored) gives exactly that many seconds,
//!   whatever the time, or `Duration::MAX` when the number does not fit a `u64`.
//! - Anything else is an HTTP-date or nothing. A date is a whole second between 1970 and 9999,
//!   its delay is the time from `now` to it (zero once it has passed), and an IMF-fixdate
//!   (`Sun, 06 Nov 1994 08:49:37 GMT`) with a correct weekday is always recognised, as the date
//!   an independent reading of it gives.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use resilient_http::parse_retry_after as parse;

/// The last second of the year 9999, the latest date an HTTP-date can name here.
const LAST_DATE: u64 = 253_402_300_799;

/// Checks every property above for `data`, read as text and as a header value.
pub(crate) fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        if let Ok(header) = HeaderValue::from_bytes(data) {
            assert!(
                header.to_str().is_err(),
                "a header that is not UTF-8 read as text: {data:?}"
            );
        }
        return;
    };
    check_text(text);
    if let Ok(header) = HeaderValue::from_bytes(data)
        && let Ok(seen) = header.to_str()
    {
        assert_eq!(
            seen, text,
            "the client would parse other text than was sent"
        );
    }
}

/// The instants a value is parsed at: the epoch, the date of the docs' example, one second before
/// the epoch, the last date an HTTP-date can name, and one far beyond it.
fn nows() -> [SystemTime; 5] {
    let epoch = SystemTime::UNIX_EPOCH;
    [
        epoch,
        epoch + Duration::from_secs(1_445_412_480),
        epoch - Duration::from_secs(1),
        epoch + Duration::from_secs(LAST_DATE),
        epoch + Duration::from_secs(1 << 40),
    ]
}

fn check_text(text: &str) {
    let at_epoch = parse(text, SystemTime::UNIX_EPOCH);
    if let Some(expected) = delay_seconds(text.trim()) {
        for now in nows() {
            assert_eq!(parse(text, now), Some(expected), "{text:?} at {now:?}");
        }
        return;
    }
    let Some(since_epoch) = at_epoch else {
        for now in nows() {
            assert_eq!(parse(text, now), None, "{text:?} at {now:?}");
        }
        assert_eq!(imf_fixdate(text.trim()), None, "{text:?} is a valid date");
        return;
    };
    assert_eq!(since_epoch.subsec_nanos(), 0, "{text:?}: {since_epoch:?}");
    assert!(
        since_epoch.as_secs() <= LAST_DATE,
        "{text:?}: {since_epoch:?}"
    );
    if let Some(secs) = imf_fixdate(text.trim()) {
        assert_eq!(since_epoch, Duration::from_secs(secs), "{text:?}");
    }
    let date = SystemTime::UNIX_EPOCH + since_epoch;
    for now in nows() {
        let expected = date.duration_since(now).unwrap_or(Duration::ZERO);
        assert_eq!(parse(text, now), Some(expected), "{text:?} at {now:?}");
    }
    let second = Duration::from_secs(1);
    assert_eq!(
        parse(text, date),
        Some(Duration::ZERO),
        "{text:?} at itself"
    );
    assert_eq!(parse(text, date + second), Some(Duration::ZERO), "{text:?}");
    assert_eq!(parse(text, date - second), Some(second), "{text:?}");
}

/// The delay that `value` (already trimmed) asks for if it is delay-seconds: its digits' value,
/// or `Duration::MAX` when that does not fit a `u64`.
fn delay_seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = value.bytes().try_fold(0u64, |secs, digit| {
        secs.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    });
    Some(secs.map_or(Duration::MAX, Duration::from_secs))
}

/// Seconds since the epoch of `value` (already trimmed) if it is a valid IMF-fixdate, read
/// without the parser under test.
fn imf_fixdate(value: &str) -> Option<u64> {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let bytes = value.as_bytes();
    let layout_ok = bytes.len() == 29
        && value.is_ascii()
        && &value[3..5] == ", "
        && [7, 11, 16, 25].iter().all(|&i| bytes[i] == b' ')
        && bytes[19] == b':'
        && bytes[22] == b':'
        && &value[26..] == "GMT";
    if !layout_ok {
        return None;
    }
    // Digits only: `str::parse` would also take a sign.
    let number = |from: usize, to: usize| -> Option<u64> {
        let digits = &value[from..to];
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (day, year) = (number(5, 7)?, number(12, 16)?);
    let (hour, minute, second) = (number(17, 19)?, number(20, 22)?, number(23, 25)?);
    let month = MONTHS.iter().position(|&m| m == &value[8..11])? as u64 + 1;
    let month_days = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1970..=9999).contains(&year)
        && (1..=month_days[month as usize - 1]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    // 1970-01-01 was a Thursday.
    if WEEKDAYS[(days % 7) as usize] != &value[..3] {
        return None;
    }
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (from 1970 on).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let days_before_year = |y: u64| {
        let y = y - 1;
        y * 365 + y / 4 - y / 100 + y / 400
    };
    let days_before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        [month as usize - 1]
        + u64::from(leap(year) && month > 2);
    days_before_year(year) - days_before_year(1970) + days_before_month + day - 1
}

fn leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}
