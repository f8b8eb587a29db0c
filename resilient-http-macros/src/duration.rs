//! Durations written as string literals with a unit, parsed at compile time.

use std::time::Duration;

use syn::LitStr;

/// Parses `"250ms"`, `"2s"` or `"1m"`.
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
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.checked_mul(60).ok_or_else(invalid)?),
        _ => return Err(invalid()),
    };
    Ok(duration)
}
