//! Arbitrary bytes as a `Retry-After` value; the properties are in `checks/retry_after.rs`.

#![no_main]

#[path = "../checks/retry_after.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
