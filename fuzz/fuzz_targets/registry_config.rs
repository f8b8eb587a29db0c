//! Arbitrary bytes as a TOML or JSON registry configuration; the properties are in
//! `checks/registry_config.rs`.

#![no_main]

#[path = "../checks/registry_config.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check(data));
