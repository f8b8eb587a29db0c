//! The small vocabulary of the tests of `Call` and `CallSite`: durations, a retryable status,
//! a policy with exact waits, and the rejection by a forced-open breaker.

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

/// Asserts that `err` is a call's rejection, before its first attempt, by the forced-open
/// breaker `name`: a forced-open breaker names no time at which it may admit a probe.
pub(crate) fn assert_rejected_by_forced_open(err: Error, name: &str) {
    match err {
        Error::CircuitOpen {
            breaker,
            retry_in,
            attempts,
        } => {
            assert_eq!(breaker, name);
            assert_eq!(retry_in, Duration::ZERO);
            assert_eq!(attempts, 0);
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
}
