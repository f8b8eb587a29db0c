//! The tour: a flaky server on loopback, a typed client whose methods are `#[resilient]`, and
//! what happens when the server stumbles, falls over and comes back.
//!
//! Run with `cargo run --example quickstart`.

#[path = "support/flaky_server.rs"]
mod flaky_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use resilient_http::{
    BreakerConfig, Error, Event, EventKind, InMemorySink, MetricsSink, Registry, RegistryConfig,
    resilient,
};

/// Prints retries and breaker transitions as they happen, and counts everything in memory.
#[derive(Debug, Default)]
struct Narrator {
    memory: InMemorySink,
}

impl MetricsSink for Narrator {
    fn record(&self, event: &Event<'_>) {
        match event.kind {
            EventKind::RetryScheduled {
                attempt,
                delay,
                reason,
            } => println!(
                "    attempt {attempt} failed ({}), retrying in {delay:.0?}",
                reason.label()
            ),
            EventKind::BreakerStateChanged { from, to } => println!(
                "    breaker `{}`: {} -> {}",
                event.breaker.unwrap_or_default(),
                from.label(),
                to.label()
            ),
            _ => {}
        }
        self.memory.record(event);
    }
}

/// A typed client of the payments API. Its methods declare their resilience; the retry loop,
/// the backoff and the `payments` breaker come from `#[resilient]`.
struct PaymentsClient {
    http: reqwest::Client,
    base: String,
}

impl PaymentsClient {
    #[resilient(max_attempts = 3, retry_on = [502, 503], breaker = "payments",
                backoff = exponential(initial = "50ms", factor = 2.0, max = "1s"), jitter = equal,
                timeout = "2s", name = "payments.invoice")]
    async fn invoice(&self, id: u64) -> Result<String, Error> {
        let response = self
            .http
            .get(format!("{}/invoices/{id}", self.base))
            .send()
            .await?;
        let response = resilient_http::error_for_status(response)?;
        Ok(response.text().await?)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, server) = flaky_server::start().await;
    println!("flaky payments server on http://{addr}\n");

    // The global registry, which `#[resilient]` methods use unless told otherwise: set it up
    // first thing, with a narrating sink and a `payments` breaker that trips after 3 failures
    // in a row and stays open for a second.
    let narrator = Arc::new(Narrator::default());
    let mut config = RegistryConfig::default();
    config.breakers.insert(
        "payments".to_owned(),
        BreakerConfig {
            consecutive_failures: Some(3),
            open_duration: Duration::from_secs(1),
            ..BreakerConfig::new()
        },
    );
    let registry = Registry::builder()
        .config(config)
        .sink(narrator.clone())
        .build()?;
    Registry::set_global(registry).map_err(|_| "the global registry was already in use")?;
    let client = PaymentsClient {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
    };

    println!("1. The server fails twice, then answers:");
    server.fail_next(2);
    println!("    -> {}\n", client.invoice(42).await?);

    println!("2. The server goes down; calls fail and the breaker opens:");
    server.go_down();
    for call in 1..=2 {
        let err = client.invoice(42).await.unwrap_err();
        println!("    call {call} -> {err}");
    }

    println!("\n3. While open, calls are rejected without touching the network:");
    let hits_before = server.hits();
    for _ in 0..3 {
        let started = Instant::now();
        let err = client.invoice(42).await.unwrap_err();
        println!("    rejected in {:.0?}: {err}", started.elapsed());
    }
    println!(
        "    server hits while open: {}\n",
        server.hits() - hits_before
    );

    println!("4. The server recovers; after the open duration one probe closes the breaker:");
    server.recover();
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("    -> {}\n", client.invoice(42).await?);

    println!("5. Metrics of `payments.invoice`:");
    let stats = narrator.memory.operation("payments.invoice");
    println!(
        "    attempts {}, successes {}, retries {}, give-ups {}, rejected {}",
        stats.attempts, stats.successes, stats.retries, stats.give_ups, stats.rejections
    );
    for (outcome, count) in &stats.outcomes {
        println!("    {outcome}: {count}");
    }
    if let Some(mean) = stats.latency.mean() {
        println!(
            "    mean attempt latency {mean:.1?}, max {:.1?}",
            stats.latency.max
        );
    }
    Ok(())
}
