//! Hostile servers (issue #6, item 4): whatever a server on 127.0.0.1 sends, a call through the
//! resilient async `Client` returns within its declared deadline, with a clear error (or the
//! response, for the harmless cases), and never panics.
//!
//! Every test uses the same policy: three attempts 5ms apart without jitter, a per-attempt
//! timeout of one second and a deadline of two. The server runs in real time on its own thread,
//! so no test pauses tokio's clock; the elapsed time is only checked against an upper bound.
//!
//! Covered elsewhere, not repeated here: garbage and negative `Retry-After` values
//! (`client_retry_after.rs`, `garbage_retry_after_falls_back_to_the_backoff`) and a server that
//! accepts and never answers (`client.rs`, `never_answering_server_is_cut_off_at_the_deadline`).

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use resilient_http::{Backoff, Client, Error, Jitter, Registry, RetryPolicy};
use support::{FaultServer, Reply};

/// The deadline of every call.
const DEADLINE: Duration = Duration::from_secs(2);

/// The per-attempt timeout of every call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// How late past [`DEADLINE`] a call may return: scheduling slack on a loaded machine.
const MARGIN: Duration = Duration::from_millis(750);

/// Three attempts 5ms apart, no jitter, [`ATTEMPT_TIMEOUT`] and [`DEADLINE`].
fn policy() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .deadline(DEADLINE)
        .build()
        .expect("valid policy")
}

/// A client with [`policy`] on its own registry, so no breaker state leaks between tests.
fn client() -> Client {
    Client::builder()
        .registry(&Registry::new())
        .policy(policy())
        .build()
        .expect("valid client")
}

/// Asserts that a call that started at `started` returned within the deadline plus the margin.
#[track_caller]
fn assert_within_deadline(started: Instant) {
    let elapsed = started.elapsed();
    assert!(elapsed < DEADLINE + MARGIN, "took {elapsed:?}");
}

/// Whether an I/O error of kind `ConnectionReset` is somewhere in `err`'s source chain.
fn is_connection_reset(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |err| err.source()).any(|err| {
        err.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
    })
}

#[tokio::test]
async fn retry_after_of_a_trillion_seconds_returns_the_status_at_once() {
    // About 31,700 years: far past any deadline, and a test of overflow when added to `now`.
    let server = FaultServer::always(Reply::status(503).retry_after("1000000000000"));

    let started = Instant::now();
    let err = client().get(server.url("/")).send().await.unwrap_err();

    assert_within_deadline(started);
    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(d),
                attempts: 1,
            } if d == Duration::from_secs(1_000_000_000_000)
        ),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn retry_after_of_a_far_future_date_returns_the_status_at_once() {
    let server =
        FaultServer::always(Reply::status(503).retry_after("Fri, 31 Dec 9999 23:59:59 GMT"));

    let started = Instant::now();
    let err = client().get(server.url("/")).send().await.unwrap_err();

    assert_within_deadline(started);
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
    // Almost 8,000 years from now.
    let asked = err.retry_after().expect("a valid date is reported");
    assert!(
        asked > Duration::from_secs(7_000 * 365 * 86_400),
        "{asked:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn retry_after_of_a_far_past_date_means_retry_after_the_backoff() {
    // A date in the past means "retry now": the 5ms backoff applies.
    let server = FaultServer::start(vec![
        Reply::status(503).retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
        Reply::ok(),
    ]);

    let started = Instant::now();
    let response = client().get(server.url("/")).send().await.unwrap();

    assert_within_deadline(started);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn headers_that_never_end_are_cut_off_at_the_deadline() {
    let server = FaultServer::always(Reply::endless_headers());

    let started = Instant::now();
    let err = client().get(server.url("/")).send().await.unwrap_err();

    assert_within_deadline(started);
    // The first attempt times out after a second, the second runs into the deadline.
    let Error::DeadlineExceeded {
        deadline,
        last: Some(last),
        ..
    } = &err
    else {
        panic!("expected the deadline to stop the call, got {err:?}");
    };
    assert_eq!(*deadline, DEADLINE);
    assert!(matches!(**last, Error::AttemptTimeout { .. }), "{last:?}");
    assert!(server.hits() >= 1);
}

#[tokio::test]
async fn body_trickling_one_byte_a_second_is_cut_off_at_the_deadline() {
    // `send` returns with the head; the body, read after it, is still bounded by the deadline.
    let server =
        FaultServer::always(Reply::trickle_body(Duration::from_secs(1)).body(vec![b'x'; 60]));

    let started = Instant::now();
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let err = response.bytes().await.unwrap_err();

    assert_within_deadline(started);
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn connection_reset_mid_body_fails_reading_the_body() {
    let server = FaultServer::always(Reply::reset_mid_body());

    let started = Instant::now();
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let err = response.bytes().await.unwrap_err();

    assert_within_deadline(started);
    assert!(is_connection_reset(&err), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn early_hints_before_the_response_are_skipped() {
    let server = FaultServer::always(Reply::ok().interim(103));

    let started = Instant::now();
    let response = client().get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_within_deadline(started);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn redirect_loop_stops_at_reqwests_limit_without_retrying() {
    let server = FaultServer::always(Reply::status(302).header("location", "/loop"));

    let started = Instant::now();
    let err = client().get(server.url("/loop")).send().await.unwrap_err();

    assert_within_deadline(started);
    let Error::Transport {
        source,
        attempts: 1,
    } = &err
    else {
        panic!("expected one attempt ending in a transport error, got {err:?}");
    };
    assert!(source.is_redirect(), "{source:?}");
    // reqwest's default policy follows 10 redirects: the first request and 10 more.
    assert_eq!(server.hits(), 11);
}
