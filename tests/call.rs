//! The retry loop of `Call`: how many attempts it makes, which failures it retries, how long it
//! waits (backoff, `Retry-After`, per-attempt timeout, deadline), what it returns, and how it
//! treats non-idempotent operations and an open breaker. Async tests run on tokio's paused
//! clock, so every wait is exact and instant; the blocking loop uses `Backoff::None`.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, Breaker, BreakerConfig, Call, Classification, Classify, Error, Jitter, RetryConfig,
    RetryPolicy,
};
use support::calls::{assert_rejected_by_forced_open, ms, retrying, secs, status};
use support::classified::{Answer, answering};
use tokio::time::Instant;

fn status_asking(code: u16, retry_after: Duration) -> Error {
    Error::Status {
        status: StatusCode::from_u16(code).unwrap(),
        retry_after: Some(retry_after),
        attempts: 1,
    }
}

fn policy(max_attempts: u32) -> RetryPolicy {
    retrying(max_attempts).build().unwrap()
}

/// A policy whose backoff allows waits of up to a minute, for `Retry-After` tests.
fn patient(max_attempts: u32) -> RetryConfig {
    retrying(max_attempts).backoff(Backoff::exponential(ms(10), 2.0, secs(60)))
}

/// Runs `Call::new("test.op", policy)` (idempotent) with an operation that fails with each
/// error of `script` in turn and then succeeds; returns the result and the attempts made.
async fn run_script(policy: &RetryPolicy, script: Vec<Error>) -> (Result<u32, Error>, u32) {
    let mut script = script.into_iter();
    let mut attempts = 0;
    let result = Call::new("test.op", policy)
        .run(|| {
            attempts += 1;
            let outcome = script.next().map_or(Ok(attempts), Err);
            async move { outcome }
        })
        .await;
    (result, attempts)
}

/// As `run_script`, with an operation that always fails with a copy of `error`.
async fn run_failing(policy: &RetryPolicy, error: fn() -> Error) -> (Result<u32, Error>, u32) {
    let mut attempts = 0;
    let result = Call::new("test.op", policy)
        .run(|| {
            attempts += 1;
            async move { Err(error()) }
        })
        .await;
    (result, attempts)
}

#[tokio::test(start_paused = true)]
async fn a_retryable_status_twice_then_success_takes_three_attempts() {
    let (result, attempts) = run_script(&policy(5), vec![status(503), status(503)]).await;

    assert_eq!(result.unwrap(), 3);
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn a_persistent_retryable_status_gives_up_after_max_attempts() {
    let (result, attempts) = run_failing(&policy(4), || status(503)).await;

    assert_eq!(attempts, 4);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 4);
}

#[tokio::test(start_paused = true)]
async fn every_default_retryable_status_is_retried() {
    for code in [408, 429, 500, 502, 503, 504] {
        let mut attempts = 0;
        let result: Result<(), Error> = Call::new("test.op", &policy(3))
            .run(|| {
                attempts += 1;
                async move { Err(status(code)) }
            })
            .await;
        assert_eq!(attempts, 3, "status {code}");
        assert_eq!(result.unwrap_err().status().map(|s| s.as_u16()), Some(code));
    }
}

#[tokio::test(start_paused = true)]
async fn too_many_requests_is_retried_until_it_succeeds() {
    let (result, attempts) = run_script(&policy(3), vec![status(429)]).await;

    assert_eq!(result.unwrap(), 2);
    assert_eq!(attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_statuses_are_attempted_once() {
    for code in [400, 401, 403, 404, 409, 501] {
        let mut attempts = 0;
        let result: Result<(), Error> = Call::new("test.op", &policy(5))
            .run(|| {
                attempts += 1;
                async move { Err(status(code)) }
            })
            .await;
        assert_eq!(attempts, 1, "status {code}");
        let err = result.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(code));
        assert_eq!(err.attempts(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_retry_on_set_is_followed() {
    let policy = retrying(3)
        .retry_on(resilient_http::StatusSet::EMPTY.with(404))
        .build()
        .unwrap();

    let (_, not_found) = run_failing(&policy, || status(404)).await;
    let (_, unavailable) = run_failing(&policy, || status(503)).await;

    assert_eq!((not_found, unavailable), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn retries_wait_the_backoff() {
    let policy = RetryPolicy::builder()
        .max_attempts(4)
        .backoff(Backoff::exponential(ms(100), 2.0, secs(10)))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let mut started = Vec::new();

    let _: Result<(), Error> = Call::new("test.op", &policy)
        .run(|| {
            started.push(Instant::now());
            async { Err(status(503)) }
        })
        .await;

    let gaps: Vec<_> = started.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 3);
    for (gap, backoff) in gaps.iter().zip([ms(100), ms(200), ms(400)]) {
        assert!(*gap >= backoff && *gap < backoff + ms(5), "{gaps:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let policy = patient(3).build().unwrap();
    let mut started = Vec::new();
    let mut script = vec![status_asking(503, secs(2))].into_iter();

    let result: Result<(), Error> = Call::new("test.op", &policy)
        .run(|| {
            started.push(Instant::now());
            let outcome = script.next().map_or(Ok(()), Err);
            async move { outcome }
        })
        .await;

    assert!(result.is_ok());
    assert_eq!(started.len(), 2);
    let waited = started[1] - started[0];
    assert!(waited >= secs(2), "waited {waited:?}");
    assert!(
        waited < secs(2) + ms(5),
        "waited {waited:?}: Retry-After replaces the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_shorter_than_the_backoff_waits_the_backoff() {
    let policy = retrying(3)
        .backoff(Backoff::constant(ms(500)))
        .build()
        .unwrap();
    let mut started = Vec::new();
    let mut script = vec![status_asking(503, Duration::ZERO)].into_iter();

    let _: Result<(), Error> = Call::new("test.op", &policy)
        .run(|| {
            started.push(Instant::now());
            let outcome = script.next().map_or(Ok(()), Err);
            async move { outcome }
        })
        .await;

    assert_eq!(started.len(), 2);
    assert!(started[1] - started[0] >= ms(500));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_backoff_max_gives_up_at_once() {
    // The constant 10ms backoff waits at most 10ms.
    let policy = policy(5);
    let start = Instant::now();

    let (result, attempts) = run_failing(&policy, || status_asking(503, secs(1))).await;

    assert_eq!(attempts, 1);
    assert!(start.elapsed() < ms(1), "it waited {:?}", start.elapsed());
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
    let policy = patient(5).deadline(secs(5)).build().unwrap();
    let start = Instant::now();

    let (result, attempts) = run_failing(&policy, || status_asking(503, secs(6))).await;

    assert_eq!(attempts, 1);
    assert!(start.elapsed() < ms(1), "it waited {:?}", start.elapsed());
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Status { retry_after: Some(after), attempts: 1, .. } if after == secs(6)),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_cut_by_the_attempt_timeout_and_retried() {
    let policy = retrying(3).attempt_timeout(secs(1)).build().unwrap();
    let mut attempts = 0;
    let start = Instant::now();

    let result: Result<(), Error> = Call::new("test.op", &policy)
        .run(|| {
            attempts += 1;
            async {
                tokio::time::sleep(secs(10)).await;
                Ok(())
            }
        })
        .await;

    assert_eq!(attempts, 3);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::AttemptTimeout { timeout, attempts: 3 } if timeout == secs(1)),
        "{err:?}"
    );
    // Three cut attempts and two 10ms waits, never the 10s the operation wanted.
    let elapsed = start.elapsed();
    assert!(elapsed >= secs(3) && elapsed < secs(4), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_followed_by_a_fresh_one() {
    let policy = retrying(3).attempt_timeout(secs(1)).build().unwrap();
    let mut attempts = 0;

    let result = Call::new("test.op", &policy)
        .run(|| {
            attempts += 1;
            let hang = attempts == 1;
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Error>(attempts)
            }
        })
        .await;

    assert_eq!(result.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_stops_before_a_wait_that_would_cross_it() {
    let policy = retrying(10)
        .backoff(Backoff::constant(ms(300)))
        .deadline(secs(1))
        .build()
        .unwrap();
    let start = Instant::now();

    let (result, attempts) = run_failing(&policy, || status(503)).await;

    // Attempts at 0, 300, 600 and 900ms; a fifth would start at 1.2s, so the call gives up at
    // 900ms, without waiting for the deadline.
    assert_eq!(attempts, 4);
    assert_eq!(start.elapsed(), ms(900));
    let err = result.unwrap_err();
    match &err {
        Error::DeadlineExceeded {
            deadline,
            attempts: 4,
            last: Some(last),
        } => {
            assert_eq!(*deadline, secs(1));
            assert!(
                matches!(**last, Error::Status { attempts: 4, .. }),
                "{last:?}"
            );
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_hanging_attempt() {
    let policy = retrying(3).deadline(secs(2)).build().unwrap();
    let start = Instant::now();

    let result: Result<(), Error> = Call::new("test.op", &policy)
        .run(std::future::pending)
        .await;

    let elapsed = start.elapsed();
    assert!(
        elapsed >= secs(2) && elapsed <= secs(2) + ms(1),
        "{elapsed:?}"
    );
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), None);
}

#[tokio::test(start_paused = true)]
async fn the_last_attempt_gets_only_the_time_left_before_the_deadline() {
    let policy = retrying(5)
        .attempt_timeout(ms(1_500))
        .deadline(secs(2))
        .build()
        .unwrap();
    let mut attempts = 0;
    let start = Instant::now();

    let result: Result<(), Error> = Call::new("test.op", &policy)
        .run(|| {
            attempts += 1;
            std::future::pending()
        })
        .await;

    assert_eq!(attempts, 2);
    let elapsed = start.elapsed();
    assert!(elapsed <= secs(2) + ms(1), "{elapsed:?}");
    assert!(
        matches!(result, Err(Error::DeadlineExceeded { attempts: 2, .. })),
        "{result:?}"
    );
}

/// The waits between the attempts of a call that always fails, under `policy`.
async fn waits_of(policy: &RetryPolicy) -> Vec<Duration> {
    let mut started = Vec::new();
    let _: Result<(), Error> = Call::new("test.op", policy)
        .run(|| {
            started.push(Instant::now());
            async { Err(status(503)) }
        })
        .await;
    started.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn a_jitter_seed_makes_the_waits_repeat() {
    let seeded = |seed| {
        RetryPolicy::builder()
            .max_attempts(6)
            .backoff(Backoff::exponential(ms(100), 2.0, secs(10)))
            .jitter(Jitter::Full)
            .jitter_seed(seed)
            .build()
            .unwrap()
    };

    let first = waits_of(&seeded(7)).await;
    let again = waits_of(&seeded(7)).await;
    let other = waits_of(&seeded(8)).await;

    assert_eq!(first.len(), 5);
    assert_eq!(first, again);
    assert_ne!(first, other, "the seed has no effect");
    // Full jitter: each wait is at most the backoff's delay (plus the timer's 1ms tick).
    for (wait, base) in first.iter().zip([100, 200, 400, 800, 1_600]) {
        assert!(*wait <= ms(base + 1), "{first:?}");
    }
}

/// A user's error type: a transport layer of its own, plus the runtime's errors.
#[derive(Debug)]
enum ApiError {
    /// The connection was refused: the request never left.
    Refused,
    /// The connection broke after the request was sent.
    Reset,
    /// An error of the resilience runtime (open breaker, timeout, ...) or a status.
    Runtime(Error),
}

impl Classify for ApiError {
    fn classify(&self) -> Classification {
        match self {
            ApiError::Refused => Classification::NotSent,
            ApiError::Reset => Classification::Transient,
            ApiError::Runtime(err) => err.classify(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Runtime(err)
    }
}

/// Attempts made by a call of `idempotent` operation that always fails with `error()`.
async fn attempts_of(policy: &RetryPolicy, idempotent: bool, error: fn() -> ApiError) -> u32 {
    let mut attempts = 0;
    let result: Result<(), ApiError> = Call::new("test.op", policy)
        .idempotent(idempotent)
        .run(|| {
            attempts += 1;
            async move { Err(error()) }
        })
        .await;
    assert!(result.is_err());
    attempts
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_not_retried_on_a_503() {
    let attempts = attempts_of(&policy(3), false, || ApiError::Runtime(status(503))).await;
    assert_eq!(attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_retried_when_the_server_asks_with_retry_after() {
    let policy = patient(3).build().unwrap();
    let attempts = attempts_of(&policy, false, || {
        ApiError::Runtime(status_asking(503, ms(50)))
    })
    .await;
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_retried_when_the_request_was_never_sent() {
    let attempts = attempts_of(&policy(3), false, || ApiError::Refused).await;
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_not_retried_after_a_transport_failure() {
    assert_eq!(attempts_of(&policy(3), false, || ApiError::Reset).await, 1);
    assert_eq!(attempts_of(&policy(3), true, || ApiError::Reset).await, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_non_idempotent_retries_like_an_idempotent_call() {
    let policy = retrying(3).retry_non_idempotent(true).build().unwrap();
    let attempts = attempts_of(&policy, false, || ApiError::Runtime(status(503))).await;
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn a_user_error_type_gets_its_own_error_back() {
    let mut attempts = 0;
    let result: Result<(), ApiError> = Call::new("test.op", &policy(2))
        .run(|| {
            attempts += 1;
            async { Err(ApiError::Refused) }
        })
        .await;

    assert_eq!(attempts, 2);
    assert!(matches!(result, Err(ApiError::Refused)), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_rejects_without_calling_the_operation() {
    let breaker = Breaker::new("backend", BreakerConfig::new()).unwrap();
    breaker.force_open();
    let mut calls = 0;

    let result: Result<(), ApiError> = Call::new("test.op", &policy(3))
        .breaker(&breaker)
        .run(|| {
            calls += 1;
            async { Ok(()) }
        })
        .await;

    assert_eq!(calls, 0);
    // The rejection reaches the user's error type through its `From<Error>`.
    let Err(ApiError::Runtime(err)) = result else {
        panic!("expected the runtime's error, got {result:?}")
    };
    assert_rejected_by_forced_open(err, "backend");
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_opens_mid_call_stops_the_retries() {
    let config = BreakerConfig {
        consecutive_failures: Some(2),
        open_duration: secs(30),
        ..BreakerConfig::new()
    };
    let breaker = Breaker::new("backend", config).unwrap();
    let mut attempts = 0;

    let result: Result<(), Error> = Call::new("test.op", &policy(5))
        .breaker(&breaker)
        .run(|| {
            attempts += 1;
            async { Err(status(503)) }
        })
        .await;

    // The second failure opened the breaker: the call stops at once with its last error
    // rather than waiting for a retry the breaker would reject.
    assert_eq!(attempts, 2);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Status { attempts: 2, status, .. } if status == StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(breaker.state(), resilient_http::BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn run_classified_retries_a_failed_value() {
    let mut attempts = 0;

    let result = Call::new("test.op", &policy(5))
        .run_classified(answering([503, 502, 200], &mut attempts))
        .await;

    assert_eq!(result.unwrap(), Answer(200));
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn run_classified_returns_the_last_failed_value_as_ok() {
    let mut attempts = 0;

    let result = Call::new("test.op", &policy(3))
        .run_classified(answering([503; 3], &mut attempts))
        .await;

    assert_eq!(result.unwrap(), Answer(503));
    assert_eq!(attempts, 3);
}

// The blocking loop: no tokio runtime, and no waiting with `Backoff::None`.

fn blocking_policy(max_attempts: u32) -> RetryConfig {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::None)
}

#[test]
fn blocking_retryable_status_twice_then_success_takes_three_attempts() {
    let policy = blocking_policy(5).build().unwrap();
    let mut attempts = 0;

    let result = Call::new("test.op", &policy).run_blocking(|_| {
        attempts += 1;
        if attempts <= 2 {
            Err(status(503))
        } else {
            Ok(attempts)
        }
    });

    assert_eq!(result.unwrap(), 3);
}

#[test]
fn blocking_persistent_status_gives_up_after_max_attempts() {
    let policy = blocking_policy(4).build().unwrap();
    let mut attempts = 0;

    let result: Result<(), Error> = Call::new("test.op", &policy).run_blocking(|_| {
        attempts += 1;
        Err(status(503))
    });

    assert_eq!(attempts, 4);
    assert!(
        matches!(result, Err(Error::Status { attempts: 4, .. })),
        "{result:?}"
    );
}

#[test]
fn blocking_non_retryable_status_is_attempted_once() {
    let policy = blocking_policy(4).build().unwrap();
    for code in [400, 401, 403, 404] {
        let mut attempts = 0;
        let result: Result<(), Error> = Call::new("test.op", &policy).run_blocking(|_| {
            attempts += 1;
            Err(status(code))
        });
        assert_eq!(attempts, 1, "status {code}");
        assert_eq!(result.unwrap_err().attempts(), 1);
    }
}

#[test]
fn blocking_non_idempotent_call_is_retried_only_when_never_sent() {
    let policy = blocking_policy(3).build().unwrap();
    let attempts_with = |error: fn() -> ApiError| {
        let mut attempts = 0;
        let _: Result<(), ApiError> = Call::new("test.op", &policy)
            .idempotent(false)
            .run_blocking(|_| {
                attempts += 1;
                Err(error())
            });
        attempts
    };

    assert_eq!(attempts_with(|| ApiError::Refused), 3);
    assert_eq!(attempts_with(|| ApiError::Reset), 1);
    assert_eq!(attempts_with(|| ApiError::Runtime(status(503))), 1);
}

#[test]
fn blocking_operation_is_given_its_attempt_timeout() {
    let policy = blocking_policy(3).attempt_timeout(secs(2)).build().unwrap();
    let mut limits = Vec::new();

    let _: Result<(), Error> = Call::new("test.op", &policy).run_blocking(|limit| {
        limits.push(limit);
        Err(status(503))
    });

    assert_eq!(limits, [Some(secs(2)); 3]);
}

#[test]
fn blocking_operation_without_limits_is_given_none() {
    let policy = blocking_policy(1).build().unwrap();
    let mut limits = Vec::new();

    let _: Result<(), Error> = Call::new("test.op", &policy).run_blocking(|limit| {
        limits.push(limit);
        Ok(())
    });

    assert_eq!(limits, [None]);
}

#[test]
fn blocking_open_breaker_rejects_without_calling_the_operation() {
    let breaker = Breaker::new("backend", BreakerConfig::new()).unwrap();
    breaker.force_open();
    let policy = blocking_policy(3).build().unwrap();
    let mut calls = 0;

    let result: Result<(), Error> = Call::new("test.op", &policy)
        .breaker(&breaker)
        .run_blocking(|_| {
            calls += 1;
            Ok(())
        });

    assert_eq!(calls, 0);
    assert_rejected_by_forced_open(result.unwrap_err(), "backend");
}
