//! The small vocabulary of the tests of `Call` and `CallSite`: durations, a retryable status,
//! and a policy with exact waits.

use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{Backoff, Error, Jitter, RetryConfig, RetryPolicy};

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The error of an attempt answered with `code`, without `Retry-After`.
pub(crate) fn status(code: u16) -> Error {
    Error::Status {
        status: StatusCode::from_u16(code).expect("a valid status code"),
        retry_after: None,
        attempts: 1,
    }
}

/// `max_attempts` attempts, 10ms apart.
pub(crate) fn retrying(max_attempts: u32) -> RetryConfig {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(ms(10)))
        .jitter(Jitter::None)
}
