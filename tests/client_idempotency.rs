//! Which requests the async `Client` may repeat: idempotent methods always, POST and PATCH only
//! with an `Idempotency-Key` (explicit or generated), when the policy opts in, when the request
//! provably never left the client, or when the server asked for a retry with `Retry-After`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{Backoff, Client, Error, InMemorySink, Jitter, Registry, RetryPolicy};
use serde_json::json;
use support::{FaultServer, Reply, closed_port_url};

/// Three attempts, 5ms apart, no jitter.
fn policy() -> resilient_http::RetryConfig {
    RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
}

/// A client with the default breaker and budget of a fresh registry.
fn client(registry: &Registry, policy: RetryPolicy, idempotency_keys: bool) -> Client {
    Client::builder()
        .registry(registry)
        .policy(policy)
        .idempotency_keys(idempotency_keys)
        .build()
        .expect("valid client")
}

/// Asserts `result` is the 503 error after `attempts` attempts.
fn assert_503(result: Result<reqwest::Response, Error>, attempts: u32) {
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: a,
                ..
            } if a == attempts
        ),
        "expected a 503 after {attempts} attempt(s), got {err:?}"
    );
}

#[tokio::test]
async fn post_without_idempotency_key_is_not_retried() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let result = client
        .post(server.url("/payments"))
        .json(&json!({"amount": 10}))
        .send()
        .await;

    assert_503(result, 1);
    assert_eq!(server.hits(), 1);
    assert_eq!(server.requests()[0].header("idempotency-key"), None);
}

#[tokio::test]
async fn patch_without_idempotency_key_is_not_retried() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let result = client.patch(server.url("/orders/1")).body("x").send().await;

    assert_503(result, 1);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn post_with_explicit_idempotency_key_is_retried() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    // Generation on: a key the caller set must be kept, not replaced.
    let client = client(&registry, policy().build().unwrap(), true);

    let result = client
        .post(server.url("/payments"))
        .header("Idempotency-Key", "order-42")
        .json(&json!({"amount": 10}))
        .send()
        .await;

    assert_503(result, 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.header("idempotency-key"), Some("order-42"));
    }
}

#[tokio::test]
async fn generated_idempotency_key_is_the_same_on_every_attempt() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), true);
    let body = json!({"amount": 10, "currency": "EUR"});

    let response = client
        .post(server.url("/payments"))
        .json(&body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let key = requests[0]
        .header("idempotency-key")
        .expect("a generated key");
    assert!(
        !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key:?}"
    );
    for request in &requests {
        assert_eq!(request.method, reqwest::Method::POST);
        assert_eq!(request.header("idempotency-key"), Some(key));
        assert_eq!(request.header("content-type"), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, body);
    }
}

#[tokio::test]
async fn each_request_gets_its_own_generated_key() {
    let server = FaultServer::always(Reply::ok());
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), true);

    for _ in 0..2 {
        client.post(server.url("/payments")).send().await.unwrap();
    }

    let requests = server.requests();
    let first = requests[0].header("idempotency-key").unwrap();
    let second = requests[1].header("idempotency-key").unwrap();
    assert_ne!(first, second);
}

#[tokio::test]
async fn idempotent_methods_get_no_generated_key() {
    let server = FaultServer::always(Reply::ok());
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), true);

    client.get(server.url("/")).send().await.unwrap();
    client.put(server.url("/")).body("x").send().await.unwrap();

    for request in server.requests() {
        assert_eq!(
            request.header("idempotency-key"),
            None,
            "{}",
            request.method
        );
    }
}

#[tokio::test]
async fn put_is_retried_by_default() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let result = client.put(server.url("/orders/1")).body("v2").send().await;

    assert_503(result, 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == b"v2"));
}

#[tokio::test]
async fn delete_is_retried_by_default() {
    let server = FaultServer::always(Reply::status(503));
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let result = client.delete(server.url("/orders/1")).send().await;

    assert_503(result, 3);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn post_that_could_not_connect_is_retried() {
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let client = client(&registry, policy().build().unwrap(), false);

    let err = client
        .post(closed_port_url())
        .json(&json!({"amount": 10}))
        .send()
        .await
        .unwrap_err();

    let Error::Transport { source, attempts } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(source.is_connect(), "{source:?}");
    assert_eq!(*attempts, 3);
    let stats = sink.operation("default");
    assert_eq!(stats.outcomes.get("connect_failed"), Some(&3), "{stats:?}");
}

#[tokio::test]
async fn post_after_a_reset_is_not_retried() {
    // The request may have reached the server before the connection broke.
    let server = FaultServer::start(vec![Reply::reset(), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let err = client
        .post(server.url("/payments"))
        .body("x")
        .send()
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::Transport { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn retry_non_idempotent_policy_retries_post() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let registry = Registry::new();
    let policy = policy().retry_non_idempotent(true).build().unwrap();
    let client = client(&registry, policy, false);

    let response = client
        .post(server.url("/payments"))
        .body("x")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // Opting in retries the request as it is: no key is added.
    assert!(
        requests
            .iter()
            .all(|r| r.header("idempotency-key").is_none())
    );
}

#[tokio::test]
async fn post_answered_with_retry_after_is_retried() {
    // A server that asks to be retried later has not acted on the request.
    let server = FaultServer::start(vec![Reply::status(503).retry_after("0"), Reply::ok()]);
    let registry = Registry::new();
    let client = client(&registry, policy().build().unwrap(), false);

    let response = client
        .post(server.url("/payments"))
        .body("x")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
}
