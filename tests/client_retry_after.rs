//! `Retry-After` through the async `Client`: delay-seconds and HTTP-dates are honoured, a wait
//! that would cross the deadline or the backoff's maximum ends the call at once, and garbage is
//! ignored in favour of the backoff.
//!
//! The server records no arrival times, so waits are checked twice: the delay the client
//! scheduled, as reported to a recording metrics sink, and a lower bound on the client-side
//! elapsed time. The backoff starts at 5ms without jitter, so any wait of a second or more can
//! only come from `Retry-After`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use resilient_http::{Client, Error, Registry, RetryPolicy};
use support::observed::{RetryDelays, retry_after_policy};
use support::{FaultServer, Reply};

/// A client with `policy` on a fresh registry reporting to a fresh [`RetryDelays`] sink.
fn client(policy: RetryPolicy) -> (Client, Arc<RetryDelays>) {
    let sink = Arc::new(RetryDelays::default());
    let registry = Registry::builder()
        .sink(sink.clone())
        .build()
        .expect("valid registry");
    let client = Client::builder()
        .registry(&registry)
        .policy(policy)
        .build()
        .expect("valid client");
    (client, sink)
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let server = FaultServer::start(vec![Reply::status(503).retry_after("1"), Reply::ok()]);
    let (client, sink) = client(retry_after_policy().build().unwrap());

    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    assert_eq!(sink.delays(), [Duration::from_secs(1)]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let written = SystemTime::now();
    let date = httpdate::fmt_http_date(written + Duration::from_secs(2));
    let server = FaultServer::start(vec![Reply::status(503).retry_after(date), Reply::ok()]);
    let (client, sink) = client(retry_after_policy().build().unwrap());

    let started = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    sink.assert_waited_for_a_date_two_seconds_ahead(elapsed);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_returns_at_once() {
    let server = FaultServer::always(Reply::status(503).retry_after("999999"));
    let deadline = Duration::from_secs(2);
    let (client, sink) = client(retry_after_policy().deadline(deadline).build().unwrap());

    let started = Instant::now();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(d),
                attempts: 1,
            } if d == Duration::from_secs(999_999)
        ),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
    assert!(sink.delays().is_empty());
    // The call did not wait for the deadline (nor, of course, for the 11 days asked).
    assert!(elapsed < deadline, "{elapsed:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_backoff_maximum_returns_at_once() {
    // No deadline: the backoff's 10s maximum is the longest the client will wait.
    let server = FaultServer::always(Reply::status(429).retry_after("30"));
    let (client, sink) = client(retry_after_policy().build().unwrap());

    let err = client.get(server.url("/")).send().await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(server.hits(), 1);
    assert!(sink.delays().is_empty());
    assert_eq!(sink.memory.operation("default").give_ups, 1);
}

#[tokio::test]
async fn garbage_retry_after_falls_back_to_the_backoff() {
    let server = FaultServer::start(vec![
        Reply::status(503).retry_after("soon"),
        Reply::status(503).retry_after("-5"),
        Reply::ok(),
    ]);
    let (client, sink) = client(retry_after_policy().build().unwrap());

    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 3);
    // Exactly the backoff's waits: 5ms, then 10ms.
    assert_eq!(
        sink.delays(),
        [Duration::from_millis(5), Duration::from_millis(10)]
    );
}

#[tokio::test]
async fn garbage_retry_after_is_not_reported_in_the_error() {
    let server = FaultServer::always(Reply::status(503).retry_after("in a bit"));
    let (client, _sink) = client(retry_after_policy().build().unwrap());

    let err = client.get(server.url("/")).send().await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                attempts: 3,
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn retry_after_shorter_than_the_backoff_does_not_shorten_it() {
    // The client waits for the longer of the two: here the 5ms backoff over a zero Retry-After.
    let server = FaultServer::start(vec![Reply::status(503).retry_after("0"), Reply::ok()]);
    let (client, sink) = client(retry_after_policy().build().unwrap());

    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sink.delays(), [Duration::from_millis(5)]);
}
