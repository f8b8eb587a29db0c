//! The circuit breaker through the async `Client`: it opens after its threshold, then rejects
//! without touching the network, admits a half-open probe once its open duration has passed,
//! and closes on the probe's success. Clients naming the same breaker share it.
//!
//! The breaker's time runs on a `ManualClock`, so the open duration passes when the test says
//! so, without a real wait; the requests themselves run in real time against the server.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, BreakerConfig, BreakerState, Client, Error, InMemorySink, Jitter, ManualClock,
    Registry, RegistryConfig, RetryPolicy,
};
use support::observed::observed_registry;
use support::{FaultServer, Reply};

const BREAKER: &str = "inventory";
const OPEN_FOR: Duration = Duration::from_secs(30);

/// A registry whose breaker [`BREAKER`] trips after 3 failures in a row and stays open for
/// [`OPEN_FOR`] on a manual clock, reporting to a fresh in-memory sink.
struct Fixture {
    registry: Registry,
    clock: ManualClock,
    sink: Arc<InMemorySink>,
}

impl Fixture {
    fn new() -> Self {
        let breaker = BreakerConfig {
            consecutive_failures: Some(3),
            open_duration: OPEN_FOR,
            ..BreakerConfig::new()
        };
        let (registry, clock, sink) = observed_registry(RegistryConfig {
            breakers: HashMap::from([(BREAKER.to_owned(), breaker)]),
            ..RegistryConfig::default()
        });
        Fixture {
            registry,
            clock,
            sink,
        }
    }

    /// A client guarded by `breaker`, making `max_attempts` attempts 5ms apart.
    fn client(&self, breaker: &str, max_attempts: u32) -> Client {
        let policy = RetryPolicy::builder()
            .max_attempts(max_attempts)
            .backoff(Backoff::constant(Duration::from_millis(5)))
            .jitter(Jitter::None)
            .build()
            .expect("valid policy");
        Client::builder()
            .registry(&self.registry)
            .policy(policy)
            .breaker(breaker)
            .no_budget()
            .build()
            .expect("valid client")
    }
}

/// Asserts that `result` was rejected by the open breaker `breaker` after `attempts` attempts.
fn assert_rejected(result: Result<reqwest::Response, Error>, breaker: &str, attempts: u32) {
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::CircuitOpen { breaker: b, attempts: a, .. } if b == breaker && *a == attempts
        ),
        "expected `{breaker}` to reject after {attempts} attempt(s), got {err:?}"
    );
}

/// Asserts that `result` is the 503 of the attempt that opened the breaker, the last of
/// `attempts`.
fn assert_stopped_by_breaker(result: Result<reqwest::Response, Error>, attempts: u32) {
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Status { status, attempts: a, .. } if status.as_u16() == 503 && *a == attempts),
        "expected the 503 of attempt {attempts}, got {err:?}"
    );
}

#[tokio::test]
async fn breaker_opens_at_its_threshold_and_rejects_without_a_request() {
    let server = FaultServer::always(Reply::status(503));
    let fixture = Fixture::new();
    let client = fixture.client(BREAKER, 1);

    for _ in 0..3 {
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }
    assert_eq!(client.breaker().unwrap().state(), BreakerState::Open);
    assert_eq!(server.hits(), 3);

    for _ in 0..5 {
        let err = client.get(server.url("/")).send().await.unwrap_err();
        // The manual clock has not moved: the whole open duration is still ahead.
        assert!(
            matches!(
                &err,
                Error::CircuitOpen { breaker, retry_in, attempts: 0 }
                    if breaker == BREAKER && *retry_in == OPEN_FOR
            ),
            "{err:?}"
        );
    }
    assert_eq!(server.hits(), 3);
    assert_eq!(fixture.sink.operation(BREAKER).rejections, 5);
}

#[tokio::test]
async fn breaker_opening_mid_call_stops_its_retries() {
    let server = FaultServer::always(Reply::status(503));
    let fixture = Fixture::new();
    let client = fixture.client(BREAKER, 5);

    let result = client.get(server.url("/")).send().await;

    // The third failure trips the breaker: the call stops there with its last error rather
    // than waiting for a fourth attempt the breaker would refuse.
    assert_stopped_by_breaker(result, 3);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn successful_probe_after_the_open_duration_closes_the_breaker() {
    let server = FaultServer::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
        Reply::ok(),
    ]);
    let fixture = Fixture::new();
    let client = fixture.client(BREAKER, 1);
    let breaker = client.breaker().unwrap().clone();
    for _ in 0..3 {
        client.get(server.url("/")).send().await.unwrap_err();
    }
    assert_eq!(breaker.state(), BreakerState::Open);

    // Just before the open duration ends: still rejected.
    fixture.clock.advance(OPEN_FOR - Duration::from_millis(1));
    let result = client.get(server.url("/")).send().await;
    assert_rejected(result, BREAKER, 0);
    assert_eq!(server.hits(), 3);

    fixture.clock.advance(Duration::from_millis(1));
    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 4);
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Closed again: requests flow.
    client.get(server.url("/")).send().await.unwrap();
    assert_eq!(server.hits(), 5);
    assert_eq!(
        fixture.sink.transitions_of(BREAKER),
        [
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed),
        ]
    );
    assert_eq!(fixture.sink.snapshot().transitions_total, 3);
}

#[tokio::test]
async fn failed_probe_opens_the_breaker_again() {
    let server = FaultServer::always(Reply::status(503));
    let fixture = Fixture::new();
    // Several attempts per call: the failed probe must also stop the probe call's retries.
    let client = fixture.client(BREAKER, 3);
    let breaker = client.breaker().unwrap().clone();
    client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(server.hits(), 3);

    fixture.clock.advance(OPEN_FOR);
    let result = client.get(server.url("/")).send().await;

    // One probe reached the server, failed, and reopened the breaker, which ends the call.
    assert_stopped_by_breaker(result, 1);
    assert_eq!(server.hits(), 4);
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        fixture.sink.transitions_of(BREAKER),
        [
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Open),
        ]
    );
}

#[tokio::test]
async fn clients_naming_the_same_breaker_share_it() {
    let failing = FaultServer::always(Reply::status(503));
    let healthy = FaultServer::always(Reply::ok());
    let fixture = Fixture::new();
    let first = fixture.client(BREAKER, 1);
    let second = fixture.client(BREAKER, 1);
    let other = fixture.client("billing", 1);
    assert!(Arc::ptr_eq(
        first.breaker().unwrap(),
        second.breaker().unwrap()
    ));

    for _ in 0..3 {
        first.get(failing.url("/")).send().await.unwrap_err();
    }
    let result = second.get(healthy.url("/")).send().await;

    assert_rejected(result, BREAKER, 0);
    assert_eq!(healthy.hits(), 0);
    // A breaker of another name is unaffected.
    other.get(healthy.url("/")).send().await.unwrap();
    assert_eq!(healthy.hits(), 1);
}

#[tokio::test]
async fn caller_errors_do_not_trip_the_breaker() {
    let server = FaultServer::always(Reply::status(404));
    let fixture = Fixture::new();
    let client = fixture.client(BREAKER, 1);

    for _ in 0..10 {
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    assert_eq!(client.breaker().unwrap().state(), BreakerState::Closed);
    assert_eq!(server.hits(), 10);
    assert!(fixture.sink.transitions_of(BREAKER).is_empty());
}

#[tokio::test]
async fn success_resets_the_consecutive_failure_count() {
    // Two failures, a success, two failures: never three in a row.
    let server = FaultServer::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok(),
        Reply::status(503),
        Reply::status(503),
    ]);
    let fixture = Fixture::new();
    let client = fixture.client(BREAKER, 1);

    for _ in 0..5 {
        let _ = client.get(server.url("/")).send().await;
    }

    assert_eq!(client.breaker().unwrap().state(), BreakerState::Closed);
    assert_eq!(server.hits(), 5);
}

#[tokio::test]
async fn no_breaker_never_rejects() {
    let server = FaultServer::always(Reply::status(503));
    let fixture = Fixture::new();
    let policy = RetryPolicy::builder()
        .max_attempts(1)
        .build()
        .expect("valid policy");
    let client = Client::builder()
        .registry(&fixture.registry)
        .policy(policy)
        .no_breaker()
        .build()
        .unwrap();

    for _ in 0..10 {
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    assert!(client.breaker().is_none());
    assert_eq!(server.hits(), 10);
}
