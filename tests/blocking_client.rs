//! The blocking client (`resilient_http::blocking::Client`) against the fault-injecting server:
//! the same retry rules as the async client, with each attempt's time limit handed to reqwest as
//! the request timeout. Plain `#[test]`s: the blocking client must not run inside a tokio
//! runtime (reqwest's blocking client runs its own).

mod support;

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use resilient_http::blocking::Client;
use resilient_http::{Backoff, Error, InMemorySink, Jitter, ManualClock, Registry, RetryPolicy};
use support::observed::{RetryDelays, retry_after_policy, tight_budget};
use support::{FaultServer, Reply, closed_port_url};

/// `max_attempts` attempts, 5ms apart, no jitter.
fn policy(max_attempts: u32) -> resilient_http::RetryConfig {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
}

/// A blocking client with `policy` and the default breaker and budget of `registry`.
fn client(registry: &Registry, policy: RetryPolicy) -> Client {
    Client::build(Client::builder().registry(registry).policy(policy)).expect("valid client")
}

/// A client with [`retry_after_policy`] on a fresh registry reporting to a fresh
/// [`RetryDelays`] sink.
fn retry_after_client() -> (Client, Arc<RetryDelays>) {
    let sink = Arc::new(RetryDelays::default());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    (
        client(&registry, retry_after_policy().build().unwrap()),
        sink,
    )
}

#[test]
fn two_503s_then_200_succeeds_on_the_third_request() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    let response = client.get(server.url("/")).send().unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().unwrap(), "ok");
    assert_eq!(server.hits(), 3);
}

#[test]
fn persistent_503_fails_after_max_attempts() {
    let server = FaultServer::always(Reply::status(503).retry_after("0"));
    let registry = Registry::new();
    let client = client(&registry, policy(4).build().unwrap());

    let err = client.get(server.url("/")).send().unwrap_err();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(Duration::ZERO),
                attempts: 4,
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.hits(), 4);
}

#[test]
fn not_found_is_returned_as_ok_after_one_request() {
    let server = FaultServer::always(Reply::status(404));
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    let response = client.get(server.url("/")).send().unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.hits(), 1);
}

#[test]
fn too_many_requests_is_retried() {
    let server = FaultServer::start(vec![Reply::status(429), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    let response = client.get(server.url("/")).send().unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
}

#[test]
fn caller_errors_are_not_retried() {
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    for code in [400, 401, 403, 404] {
        let server = FaultServer::always(Reply::status(code));

        let response = client.get(server.url("/")).send().unwrap();

        assert_eq!(response.status().as_u16(), code);
        assert_eq!(server.hits(), 1, "status {code}");
    }
}

/// GETs from a server whose first answer is `failure` and whose second is a 200, and asserts
/// that the call was retried once: two requests, one transport failure, one success.
fn assert_retried_once_after(failure: Reply) {
    let server = FaultServer::start(vec![failure, Reply::ok()]);
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let client = client(&registry, policy(3).build().unwrap());

    let response = client.get(server.url("/")).send().unwrap();

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

#[test]
fn reset_connection_is_retried() {
    assert_retried_once_after(Reply::reset());
}

/// reqwest reports the early end of stream as a request error (hyper's `IncompleteMessage`),
/// which is transient, so a GET is retried.
#[test]
fn connection_closed_before_the_reply_is_retried() {
    assert_retried_once_after(Reply::close_before_reply());
}

#[test]
fn retry_after_seconds_is_honoured() {
    let server = FaultServer::start(vec![Reply::status(503).retry_after("1"), Reply::ok()]);
    let (client, sink) = retry_after_client();

    let started = Instant::now();
    let response = client.get(server.url("/")).send().unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    assert_eq!(sink.delays(), [Duration::from_secs(1)]);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn retry_after_beyond_the_backoff_maximum_returns_at_once() {
    // No deadline: the backoff's 10s maximum is the longest the client will wait.
    let server = FaultServer::always(Reply::status(429).retry_after("30"));
    let (client, sink) = retry_after_client();

    let err = client.get(server.url("/")).send().unwrap_err();

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

#[test]
fn retry_after_http_date_is_honoured() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let server = FaultServer::start(vec![Reply::status(503).retry_after(date), Reply::ok()]);
    let (client, sink) = retry_after_client();

    let started = Instant::now();
    let response = client.get(server.url("/")).send().unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    sink.assert_waited_for_a_date_two_seconds_ahead(elapsed);
}

/// A client that did not read the date would have retried.
#[test]
fn retry_after_http_date_beyond_the_backoff_maximum_returns_at_once() {
    let date = "Fri, 31 Dec 9999 23:59:59 GMT";
    let server = FaultServer::always(Reply::status(503).retry_after(date));
    let (client, sink) = retry_after_client();

    let err = client.get(server.url("/")).send().unwrap_err();

    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(d),
                attempts: 1,
            } if d > Duration::from_secs(86_400 * 365 * 7_000) // about 7,970 years
        ),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
    assert!(sink.delays().is_empty());
}

#[test]
fn post_is_not_retried() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    let err = client
        .post(server.url("/payments"))
        .json(&serde_json::json!({"amount": 10}))
        .send()
        .unwrap_err();

    assert!(matches!(err, Error::Status { attempts: 1, .. }), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[test]
fn post_with_generated_idempotency_key_is_retried_with_the_same_key() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::ok()]);
    let registry = Registry::new();
    let builder = Client::builder()
        .registry(&registry)
        .policy(policy(3).build().unwrap())
        .idempotency_keys(true);
    let client = Client::build(builder).unwrap();

    let response = client
        .post(server.url("/payments"))
        .body("payload")
        .send()
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let key = requests[0]
        .header("idempotency-key")
        .expect("a generated key");
    assert_eq!(requests[1].header("idempotency-key"), Some(key));
    assert!(requests.iter().all(|r| r.body == b"payload"));
}

#[test]
fn connect_refused_is_retried() {
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());

    let err = client.post(closed_port_url()).body("x").send().unwrap_err();

    let Error::Transport { source, attempts } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(source.is_connect(), "{source:?}");
    assert_eq!(*attempts, 3);
}

#[test]
fn slow_attempt_times_out_and_the_retry_succeeds() {
    // The slow reply is far slower than the timeout, and the timeout leaves the server ample
    // time to read (and count) the abandoned request.
    let server = FaultServer::start(vec![Reply::ok().delay(Duration::from_secs(2)), Reply::ok()]);
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let policy = policy(3)
        .attempt_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let response = client.get(server.url("/")).send().unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    let stats = sink.operation("default");
    assert_eq!(stats.attempts, 2, "{stats:?}");
    assert_eq!(stats.retries, 1, "{stats:?}");
    assert_eq!(stats.outcomes.get("timed_out"), Some(&1), "{stats:?}");
}

#[test]
fn never_answering_server_is_cut_off_at_the_deadline() {
    let server = FaultServer::always(Reply::never_answer());
    let registry = Registry::new();
    let deadline = Duration::from_millis(300);
    // One attempt: even with no retry to stop, it is the deadline that cut the call short.
    let policy = policy(1).deadline(deadline).build().unwrap();
    let client = client(&registry, policy);

    let started = Instant::now();
    let err = client.get(server.url("/")).send().unwrap_err();
    let elapsed = started.elapsed();

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
    assert!(elapsed >= deadline, "{elapsed:?}");
    assert!(elapsed < deadline + Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(server.hits(), 1);
}

#[test]
fn a_request_timeout_shorter_than_the_policys_is_reqwests_own() {
    let server = FaultServer::always(Reply::ok().delay(Duration::from_secs(3)));
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let policy = policy(2)
        .attempt_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let err = client
        .get(server.url("/"))
        .map(|request| request.timeout(Duration::from_millis(300)))
        .send()
        .unwrap_err();

    // The request's own timeout fired, not the policy's: reqwest's error, retried as a
    // transport failure, as on the async client.
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

#[test]
fn every_attempt_timing_out_is_reported_as_a_timeout() {
    let server = FaultServer::always(Reply::ok().delay(Duration::from_secs(5)));
    let registry = Registry::new();
    let policy = policy(2)
        .attempt_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let client = client(&registry, policy);

    let err = client.get(server.url("/")).send().unwrap_err();

    // reqwest enforces the limit, and the client reports it as the async client does.
    let Error::AttemptTimeout { timeout, attempts } = &err else {
        panic!("expected an attempt timeout, got {err:?}");
    };
    assert_eq!(*timeout, Duration::from_millis(250));
    assert_eq!(*attempts, 2);
    assert_eq!(server.hits(), 2);
}

#[test]
fn status_whose_retry_would_cross_the_deadline_returns_deadline_exceeded() {
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

    let err = client.get(server.url("/")).send().unwrap_err();

    assert!(
        matches!(
            &err,
            Error::DeadlineExceeded { deadline: d, attempts: 2, last: Some(last) }
                if *d == deadline && matches!(**last, Error::Status { attempts: 2, .. })
        ),
        "expected the deadline to stop the call after two attempts, got {err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(server.hits(), 2);
}

#[test]
fn non_replayable_body_is_sent_once() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy(3).build().unwrap());
    // A body read from a reader cannot be cloned, so it cannot be sent twice.
    let body = reqwest::blocking::Body::new(Cursor::new(b"streamed payload".to_vec()));

    let err = client
        .put(server.url("/blob"))
        .body(body)
        .send()
        .unwrap_err();

    assert!(matches!(err, Error::Status { attempts: 1, .. }), "{err:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, b"streamed payload");
}

#[test]
fn open_breaker_rejects_without_a_request() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy(1).build().unwrap());

    // The default breaker trips after five failures in a row.
    for _ in 0..5 {
        client.get(server.url("/")).send().unwrap_err();
    }
    let err = client.get(server.url("/")).send().unwrap_err();

    assert!(
        matches!(&err, Error::CircuitOpen { breaker, attempts: 0, .. } if breaker == "default"),
        "{err:?}"
    );
    assert_eq!(server.hits(), 5);
}

/// A client drawing on the budget `tight` of [`tight_budget`] with no breaker.
fn tight_budget_client() -> (Client, ManualClock, Arc<InMemorySink>) {
    let (registry, clock, sink) = tight_budget();
    let builder = Client::builder()
        .registry(&registry)
        .policy(policy(3).build().unwrap())
        .no_breaker()
        .budget("tight")
        .operation("tight");
    (Client::build(builder).unwrap(), clock, sink)
}

#[test]
fn spent_budget_stops_retries_until_it_refills() {
    let server = FaultServer::always(Reply::status(503));
    let (client, clock, sink) = tight_budget_client();

    // The one token pays for one retry; the next retry is refused.
    let err = client.get(server.url("/")).send().unwrap_err();
    let Error::BudgetExhausted {
        budget,
        attempts: 2,
        last,
    } = &err
    else {
        panic!("expected the budget to stop the call after two attempts, got {err:?}");
    };
    assert_eq!(budget, "tight");
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
    assert_eq!(server.hits(), 2);

    // Nothing left: the next call gets its first attempt only.
    let err = client.get(server.url("/")).send().unwrap_err();
    assert!(
        matches!(err, Error::BudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 3);

    // A second of floor buys one more retry.
    clock.advance(Duration::from_secs(1));
    let err = client.get(server.url("/")).send().unwrap_err();
    assert!(
        matches!(err, Error::BudgetExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 5);
    assert_eq!(sink.operation("tight").budget_exhaustions, 3);
}
