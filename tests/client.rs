//! The resilient async `Client` against a real fault-injecting server on 127.0.0.1: which
//! outcomes are retried, how many requests reach the server, what error comes back, and how the
//! per-attempt timeout and the deadline bound a call.
//!
//! Every test builds its own `Registry`, so breaker and budget state never leaks between tests,
//! and a policy with a 5ms constant backoff without jitter, so retries cost next to nothing. The
//! server runs in real time on its own thread, so no test pauses tokio's clock.

mod support;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use resilient_http::{
    Backoff, Client, Error, InMemorySink, Jitter, Registry, RetryPolicy, StatusSet,
};
use support::{FaultServer, Reply, closed_port_url};

/// Retries 5ms apart, no jitter, no timeout or deadline.
fn quick_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .build()
        .expect("valid policy")
}

/// A client on `registry` with `policy` and the default breaker and budget.
fn client(registry: &Registry, policy: RetryPolicy) -> Client {
    Client::builder()
        .registry(registry)
        .policy(policy)
        .build()
        .expect("valid client")
}

/// A registry reporting to a fresh in-memory sink.
fn registry_with_sink() -> (Registry, Arc<InMemorySink>) {
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder()
        .sink(sink.clone())
        .build()
        .expect("valid registry");
    (registry, sink)
}

#[tokio::test]
async fn two_503s_then_200_succeeds_on_the_third_request() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let response = client.get(server.url("/orders")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn persistent_503_fails_after_max_attempts_with_the_status() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, quick_policy(4));

    let err = client.get(server.url("/")).send().await.unwrap_err();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                attempts: 4,
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 4);
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn not_found_is_returned_as_ok_after_one_request() {
    let server = FaultServer::always(Reply::status(404).body("no such order"));
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let response = client.get(server.url("/orders/7")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.text().await.unwrap(), "no such order");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let server = FaultServer::start(vec![Reply::status(429), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn caller_errors_are_not_retried() {
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    for code in [400, 401, 403, 404] {
        let server = FaultServer::always(Reply::status(code));

        let response = client.get(server.url("/")).send().await.unwrap();

        assert_eq!(response.status().as_u16(), code);
        assert_eq!(server.hits(), 1, "status {code}");
    }
}

/// GETs from a server whose first answer is `failure` and whose second is a 200, and asserts
/// that the call was retried once: two requests, one transport failure, one success.
async fn assert_retried_once_after(failure: Reply) {
    let server = FaultServer::start(vec![failure, Reply::ok()]);
    let (registry, sink) = registry_with_sink();
    let client = client(&registry, quick_policy(3));

    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    let stats = sink.operation("default");
    assert_eq!(
        stats.outcomes.get("transport_failed"),
        Some(&1),
        "{stats:?}"
    );
    assert_eq!(stats.outcomes.get("success"), Some(&1), "{stats:?}");
}

#[tokio::test]
async fn reset_connection_is_retried() {
    assert_retried_once_after(Reply::reset()).await;
}

/// reqwest reports the early end of stream as a request error (hyper's `IncompleteMessage`, no
/// I/O error underneath), which is classified as transient, so a GET is retried.
#[tokio::test]
async fn connection_closed_before_the_reply_is_retried() {
    assert_retried_once_after(Reply::close_before_reply()).await;
}

#[tokio::test]
async fn connect_refused_is_retried_then_reported_as_transport_error() {
    let url = closed_port_url();
    let (registry, sink) = registry_with_sink();
    let client = client(&registry, quick_policy(3));

    let err = client.get(&url).send().await.unwrap_err();

    let Error::Transport { source, attempts } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(source.is_connect(), "{source:?}");
    assert_eq!(*attempts, 3);
    let stats = sink.operation("default");
    assert_eq!(stats.attempts, 3);
    assert_eq!(stats.outcomes.get("connect_failed"), Some(&3), "{stats:?}");
}

#[tokio::test]
async fn slow_attempt_hits_the_attempt_timeout_and_the_retry_succeeds() {
    // The slow reply is far slower than the timeout, and the timeout leaves the server ample
    // time to read (and count) the abandoned request.
    let server = FaultServer::start(vec![Reply::ok().delay(Duration::from_secs(2)), Reply::ok()]);
    let (registry, sink) = registry_with_sink();
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let response = client.get(server.url("/")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    let stats = sink.operation("default");
    assert_eq!(stats.outcomes.get("timed_out"), Some(&1), "{stats:?}");
    assert_eq!(stats.outcomes.get("success"), Some(&1), "{stats:?}");
}

#[tokio::test]
async fn every_attempt_timing_out_returns_attempt_timeout() {
    let server = FaultServer::always(Reply::ok().delay(Duration::from_secs(5)));
    let registry = Registry::new();
    let timeout = Duration::from_millis(250);
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .attempt_timeout(timeout)
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let err = client.get(server.url("/")).send().await.unwrap_err();

    assert!(
        matches!(err, Error::AttemptTimeout { timeout: t, attempts: 2 } if t == timeout),
        "{err:?}"
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_request_timeout_shorter_than_the_policys_is_reqwests_own() {
    let server = FaultServer::always(Reply::ok().delay(Duration::from_secs(3)));
    let (registry, sink) = registry_with_sink();
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let err = client
        .get(server.url("/"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();

    // The request's own timeout fired, not the policy's: reqwest's error, retried as a
    // transport failure.
    assert!(
        matches!(&err, Error::Transport { source, attempts: 2 } if source.is_timeout()),
        "{err:?}"
    );
    assert_eq!(server.hits(), 2);
    let stats = sink.operation("default");
    assert_eq!(
        stats.outcomes.get("transport_failed"),
        Some(&2),
        "{stats:?}"
    );
}

#[tokio::test]
async fn never_answering_server_is_cut_off_at_the_deadline() {
    let server = FaultServer::always(Reply::never_answer());
    let registry = Registry::new();
    let deadline = Duration::from_millis(300);
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .deadline(deadline)
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let started = Instant::now();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let elapsed = started.elapsed();

    // The only attempt ran out of the deadline's time: nothing is left for a retry.
    let Error::DeadlineExceeded {
        deadline: d,
        attempts: 1,
        last: Some(last),
    } = &err
    else {
        panic!("expected the deadline to stop the call after one attempt, got {err:?}");
    };
    assert_eq!(*d, deadline);
    assert!(matches!(**last, Error::AttemptTimeout { .. }), "{last:?}");
    // The deadline is the point of the test: the call returns within it plus a generous margin.
    assert!(elapsed >= deadline, "{elapsed:?}");
    assert!(elapsed < deadline + Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn deadline_bounds_a_call_whose_attempts_keep_timing_out() {
    let server = FaultServer::always(Reply::never_answer());
    let registry = Registry::new();
    let deadline = Duration::from_millis(600);
    // Enough attempts that only the deadline can stop the call.
    let policy = RetryPolicy::builder()
        .max_attempts(20)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_millis(200))
        .deadline(deadline)
        .build()
        .unwrap();
    let client = Client::builder()
        .registry(&registry)
        .policy(policy)
        .no_breaker()
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        matches!(err, Error::DeadlineExceeded { deadline: d, .. } if d == deadline),
        "{err:?}"
    );
    assert!(err.attempts() >= 2, "{err:?}");
    assert!(elapsed < deadline + Duration::from_secs(2), "{elapsed:?}");
    assert!(server.hits() >= 2);
}

#[tokio::test]
async fn status_whose_retry_would_cross_the_deadline_returns_deadline_exceeded() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let deadline = Duration::from_millis(200);
    // Attempts at 0 and about 100 ms; the second wait (1 s) would end after the deadline, so the
    // call stops after two attempts. (A deadline shorter than the first wait is a config error.)
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            10.0,
            Duration::from_secs(1),
        ))
        .jitter(Jitter::None)
        .deadline(deadline)
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let err = client.get(server.url("/")).send().await.unwrap_err();

    let Error::DeadlineExceeded {
        deadline: d,
        attempts: 2,
        last: Some(last),
    } = &err
    else {
        panic!("expected the deadline to stop the call after two attempts, got {err:?}");
    };
    assert_eq!(*d, deadline);
    assert!(
        matches!(
            **last,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: 2,
                ..
            }
        ),
        "{last:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(server.hits(), 2);
}

/// `reqwest::Body::wrap_stream` needs reqwest's `stream` feature, which is off; `Body::wrap`
/// (any `http_body::Body`, here a `String`) is available without it and builds the same
/// streaming, non-cloneable body.
#[tokio::test]
async fn streaming_body_is_sent_once_and_never_replayed() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let err = client
        .put(server.url("/blob"))
        .body(reqwest::Body::wrap(String::from("streamed payload")))
        .send()
        .await
        .unwrap_err();

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
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, b"streamed payload");
}

#[tokio::test]
async fn buffered_body_is_replayed_on_every_attempt() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let err = client
        .put(server.url("/blob"))
        .body("buffered payload")
        .send()
        .await
        .unwrap_err();

    assert_eq!(err.attempts(), 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.body, b"buffered payload");
    }
}

#[tokio::test]
async fn error_for_status_keeps_retry_after() {
    let server = FaultServer::always(Reply::status(429).retry_after("7"));
    let registry = Registry::new();
    // A policy that retries no status hands the 429 back as a response.
    let policy = RetryPolicy::builder()
        .retry_on(StatusSet::EMPTY)
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let err = resilient_http::error_for_status(response).unwrap_err();

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
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn error_for_status_passes_success_through() {
    let server = FaultServer::always(Reply::ok());
    let registry = Registry::new();
    let client = client(&registry, quick_policy(3));

    let response = client.get(server.url("/")).send().await.unwrap();
    let response = resilient_http::error_for_status(response).unwrap();

    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn transport_error_keeps_reqwest_as_its_source() {
    let registry = Registry::new();
    let client = client(&registry, quick_policy(1));

    let err = client.get(closed_port_url()).send().await.unwrap_err();

    let source = err.source().expect("a transport error has a source");
    assert!(
        source
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect),
        "{source:?}"
    );
    assert_eq!(err.attempts(), 1);
}
