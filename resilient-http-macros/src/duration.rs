//! Durations written as string literals with a unit, parsed at compile time.

use std::num::IntErrorKind;
use std::time::Duration;

use syn::LitStr;

/// Parses `"250ms"`, `"2s"` or `"1m"`. A number too large for a `Duration` gives
/// `Duration::MAX`, so that the caller reports it as above the limit rather than as invalid.
pub(crate) fn parse(lit: &LitStr) -> syn::Result<Duration> {
    let text = lit.value();
    let invalid = || {
        syn::Error::new(
            lit.span(),
            format!(
                "invalid duration {text:?}; write a whole number and a unit: \"250ms\", \"2s\" or \"1m\""
            ),
        )
    };
    let digits = text.trim().bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.trim().split_at(digits);
    if !matches!(unit, "ms" | "s" | "m") {
        return Err(invalid());
    }
    let number: u64 = match number.parse() {
        Ok(number) => number,
        Err(err) if *err.kind() == IntErrorKind::PosOverflow => return Ok(Duration::MAX),
        Err(_) => return Err(invalid()),
    };
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        _ => number
            .checked_mul(60)
            .map_or(Duration::MAX, Duration::from_secs),
    };
    Ok(duration)
}
