//! `#[resilient]` on the methods of a typed API client, against a fault-injecting server on
//! 127.0.0.1: attempts, Retry-After, timeouts, the deadline, shared breakers, isolated
//! registries and the metrics each method reports; and, on the paused clock, limits and waits
//! sharing the call's one timer.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use resilient_http::{
    BreakerConfig, BreakerState, Error, InMemorySink, Registry, RegistryConfig, resilient,
};
use support::{FaultServer, Reply};

/// A typed client whose resilience state lives in its own registry, so tests running in
/// parallel do not share breakers.
struct Payments {
    http: reqwest::Client,
    base: String,
    registry: Registry,
    /// How many times the body of `misaddressed` ran: its request never reaches the server, so
    /// the server's request count cannot show whether it was retried.
    runs: AtomicU32,
}

impl Payments {
    fn new(server: &FaultServer, registry: Registry) -> Self {
        Payments {
            http: reqwest::Client::new(),
            base: server.url(""),
            registry,
            runs: AtomicU32::new(0),
        }
    }

    async fn get(&self, path: &str) -> Result<String, Error> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        let response = resilient_http::error_for_status(response)?;
        Ok(response.text().await?)
    }

    #[resilient(max_attempts = 3, retry_on = [502, 503], backoff = constant("5ms"), jitter = none,
                breaker = "payments", registry = &self.registry, name = "payments.invoice")]
    async fn invoice(&self, id: u64) -> Result<String, Error> {
        self.get(&format!("invoices/{id}")).await
    }

    #[resilient(max_attempts = 3, backoff = constant("5ms"), jitter = none,
                breaker = "payments", registry = &self.registry, name = "payments.refund")]
    async fn refund(&self, id: u64) -> Result<String, Error> {
        self.get(&format!("refunds/{id}")).await
    }

    #[resilient(max_attempts = 2, backoff = exponential(initial = "5ms", factor = 2.0, max = "5s"),
                jitter = none, registry = &self.registry, name = "payments.slow")]
    async fn polite(&self) -> Result<String, Error> {
        self.get("polite").await
    }

    #[resilient(max_attempts = 2, timeout = "150ms", backoff = none, registry = &self.registry)]
    async fn with_timeout(&self) -> Result<String, Error> {
        self.get("slow").await
    }

    #[resilient(max_attempts = 100, timeout = "100ms", deadline = "400ms", backoff = none,
                budget = false, registry = &self.registry)]
    async fn with_deadline(&self) -> Result<String, Error> {
        self.get("hang").await
    }

    /// Decodes the body as JSON: a body that is not JSON fails the same way on every attempt.
    #[resilient(max_attempts = 3, backoff = constant("5ms"), jitter = none,
                registry = &self.registry)]
    async fn statement(&self) -> Result<serde_json::Value, Error> {
        let response = self
            .http
            .get(format!("{}statement", self.base))
            .send()
            .await?;
        Ok(response.json().await?)
    }

    /// Sends to a URL without a host, which reqwest refuses before connecting (a builder error).
    #[resilient(max_attempts = 3, backoff = constant("5ms"), jitter = none,
                registry = &self.registry)]
    async fn misaddressed(&self) -> Result<String, Error> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        Ok(self.http.get("http://").send().await?.text().await?)
    }
}

fn registry_with(sink: Arc<InMemorySink>, consecutive_failures: u32) -> Registry {
    let mut config = RegistryConfig::default();
    config.breakers.insert(
        "payments".to_owned(),
        BreakerConfig {
            consecutive_failures: Some(consecutive_failures),
            open_duration: Duration::from_secs(60),
            ..BreakerConfig::new()
        },
    );
    Registry::builder()
        .config(config)
        .sink(sink)
        .build()
        .expect("a valid configuration")
}

#[tokio::test]
async fn retries_listed_statuses_until_success() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(502), Reply::ok()]);
    let client = Payments::new(&server, Registry::new());
    assert_eq!(client.invoice(7).await.unwrap(), "ok");
    assert_eq!(server.hits(), 3);
    assert!(server.requests().iter().all(|r| r.path == "/invoices/7"));
}

#[tokio::test]
async fn stops_after_max_attempts_with_the_status() {
    let server = FaultServer::always(Reply::status(503));
    let client = Payments::new(&server, Registry::new());
    let err = client.invoice(7).await.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 3);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn statuses_outside_retry_on_are_not_retried() {
    let server = FaultServer::always(Reply::status(500));
    let client = Payments::new(&server, Registry::new());
    let err = client.invoice(7).await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn honours_retry_after() {
    let server = FaultServer::start(vec![Reply::status(503).retry_after("1"), Reply::ok()]);
    let client = Payments::new(&server, Registry::new());
    let started = Instant::now();
    assert_eq!(client.polite().await.unwrap(), "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_backoff_max_gives_up_at_once() {
    let server = FaultServer::always(Reply::status(429).retry_after("999999"));
    let client = Payments::new(&server, Registry::new());
    let err = client.polite().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(999_999)));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_slow_attempt_times_out_and_the_next_succeeds() {
    let server = FaultServer::start(vec![Reply::ok().delay(Duration::from_secs(2)), Reply::ok()]);
    let client = Payments::new(&server, Registry::new());
    assert_eq!(client.with_timeout().await.unwrap(), "ok");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let server = FaultServer::always(Reply::never_answer());
    let client = Payments::new(&server, Registry::new());
    let started = Instant::now();
    let err = client.with_deadline().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(err, Error::DeadlineExceeded { .. }),
        "expected the deadline, got {err:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!((3..=5).contains(&server.hits()), "hits: {}", server.hits());
}

#[tokio::test]
async fn a_body_that_does_not_decode_is_not_retried() {
    let server = FaultServer::always(Reply::ok().body("<html>busy</html>"));
    let client = Payments::new(&server, Registry::new());
    let err = client.statement().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { source, attempts: 1 } if source.is_decode()),
        "expected a decode error after one attempt, got {err:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_request_that_does_not_build_is_not_retried() {
    let server = FaultServer::always(Reply::ok());
    let client = Payments::new(&server, Registry::new());
    let err = client.misaddressed().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { source, attempts: 1 } if source.is_builder()),
        "expected a builder error after one attempt, got {err:?}"
    );
    assert_eq!(client.runs.load(Ordering::Relaxed), 1);
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn methods_naming_one_breaker_share_it() {
    let sink = Arc::new(InMemorySink::new());
    let server = FaultServer::always(Reply::status(503));
    let client = Payments::new(&server, registry_with(sink.clone(), 3));
    client.invoice(1).await.unwrap_err();
    let breaker = client.registry.breaker("payments");
    assert_eq!(breaker.state(), BreakerState::Open);
    let hits = server.hits();
    let err = client.refund(1).await.unwrap_err();
    assert!(matches!(err, Error::CircuitOpen { ref breaker, .. } if breaker == "payments"));
    assert_eq!(
        server.hits(),
        hits,
        "a rejected call must not reach the server"
    );
    assert_eq!(sink.operation("payments.refund").rejections, 1);
}

#[tokio::test]
async fn an_isolated_registry_does_not_touch_the_global_one() {
    let server = FaultServer::always(Reply::status(503));
    let client = Payments::new(&server, registry_with(Arc::new(InMemorySink::new()), 1));
    client.invoice(1).await.unwrap_err();
    assert_eq!(
        client.registry.breaker("payments").state(),
        BreakerState::Open
    );
    assert_eq!(
        Registry::global().breaker("payments").state(),
        BreakerState::Closed
    );
}

#[tokio::test]
async fn each_method_reports_its_events() {
    let sink = Arc::new(InMemorySink::new());
    let server = FaultServer::start(vec![Reply::status(503), Reply::ok(), Reply::ok()]);
    let client = Payments::new(&server, registry_with(sink.clone(), 5));
    client.invoice(1).await.unwrap();
    client.refund(1).await.unwrap();
    let invoice = sink.operation("payments.invoice");
    assert_eq!(
        (invoice.attempts, invoice.successes, invoice.retries),
        (2, 1, 1)
    );
    assert_eq!(invoice.outcomes.get("status_503"), Some(&1));
    let refund = sink.operation("payments.refund");
    assert_eq!(
        (refund.attempts, refund.successes, refund.retries),
        (1, 1, 0)
    );
}

#[resilient(max_attempts = 3, backoff = none)]
async fn global_default() -> Result<u32, Error> {
    Ok(7)
}

#[tokio::test]
async fn the_global_registry_and_the_function_path_are_the_defaults() {
    assert_eq!(global_default().await.unwrap(), 7);
    // Without a breaker, the budget is the operation's, named after the function's path; the
    // call's first attempt deposited its share in it.
    let budget = Registry::global().budget("resilient_attr::global_default");
    assert!(budget.balance() > 10.0, "balance {}", budget.balance());
}

/// Attempts 1 and 2 hang (only their 1 s limit ends them), attempt 3 succeeds; `started` gets
/// when each began, since `start`. Waits of 100 ms, then 200 ms.
#[resilient(max_attempts = 4, timeout = "1s", budget = false, jitter = none,
            backoff = exponential(initial = "100ms", factor = 2.0, max = "10s"),
            registry = &Registry::new())]
async fn hangs_twice(
    start: tokio::time::Instant,
    started: &std::sync::Mutex<Vec<Duration>>,
) -> Result<usize, Error> {
    let attempt = {
        let mut started = started.lock().expect("not poisoned");
        started.push(start.elapsed());
        started.len()
    };
    if attempt <= 2 {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
    }
    Ok(attempt)
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_and_waits_alternate_on_the_one_timer_each_in_full() {
    // Each limit and each wait re-arms the call's one timer that the previous one left
    // expired, so a wait or limit cut short (or not re-armed) shows in the instants.
    let start = tokio::time::Instant::now();
    let started = std::sync::Mutex::new(Vec::new());

    assert_eq!(hangs_twice(start, &started).await.unwrap(), 3);

    let (ms, s) = (Duration::from_millis, Duration::from_secs);
    assert_eq!(
        *started.lock().unwrap(),
        [Duration::ZERO, s(1) + ms(100), s(2) + ms(300)]
    );
    assert_eq!(start.elapsed(), s(2) + ms(300));
}
