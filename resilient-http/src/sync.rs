//! The atomics and the lock that breakers and budgets keep their state in: the standard
//! library's, or loom's when their unit tests are model-checked (`--cfg loom`, see
//! `model_check.rs`), so that loom explores every interleaving of the real state machines
//! rather than of a copy.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::Mutex;
#[cfg(all(test, loom))]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::Mutex;
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64};
