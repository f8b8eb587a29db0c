//! The `#[resilient]` attribute of [`resilient-http`](https://docs.rs/resilient-http).
//!
//! Depend on `resilient-http`, which re-exports it and documents it in full; this crate only
//! exists because procedural macros must live in a crate of their own.

mod args;
mod async_trait;
mod duration;
mod errors;
mod expand;
mod limits;
mod suggest;
mod validate;

use proc_macro::TokenStream;

/// The `#[resilient]` attribute.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::resilient(args.into(), item.into()).into()
}
