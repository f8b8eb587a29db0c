//! The `#[resilient]` attribute of [`resilient-http`](https://docs.rs/resilient-http).
//!
//! Depend on `resilient-http`, which re-exports everything here; this crate only exists because
//! procedural macros must live in a crate of their own.
