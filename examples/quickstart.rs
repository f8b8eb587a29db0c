//! The tour: a flaky server on loopback, a resilient client, and what happens when the server
//! stumbles, falls over and comes back.
//!
//! Run with `cargo run --example quickstart`.

#[path = "support/flaky_server.rs"]
mod flaky_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use resilient_http::{
    Backoff, BreakerConfig, Client, Event, EventKind, InMemorySink, Jitter, MetricsSink, Registry,
    RegistryConfig, RetryPolicy,
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, server) = flaky_server::start().await;
    let url = format!("http://{addr}/invoices/42");
    println!("flaky payments server on http://{addr}\n");

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
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            2.0,
            Duration::from_secs(1),
        ))
        .jitter(Jitter::Equal)
        .build()?;
    let client = Client::builder()
        .registry(&registry)
        .policy(policy)
        .breaker("payments")
        .operation("payments.invoice")
        .build()?;

    println!("1. The server fails twice, then answers:");
    server.fail_next(2);
    let response = client.get(&url).send().await?;
    println!("    -> {} {}\n", response.status(), response.text().await?);

    println!("2. The server goes down; calls fail and the breaker opens:");
    server.go_down();
    for call in 1..=2 {
        let err = client.get(&url).send().await.unwrap_err();
        println!("    call {call} -> {err}");
    }

    println!("\n3. While open, calls are rejected without touching the network:");
    let hits_before = server.hits();
    for _ in 0..3 {
        let started = Instant::now();
        let err = client.get(&url).send().await.unwrap_err();
        println!("    rejected in {:.0?}: {err}", started.elapsed());
    }
    println!(
        "    server hits while open: {}\n",
        server.hits() - hits_before
    );

    println!("4. The server recovers; after the open duration one probe closes the breaker:");
    server.recover();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let response = client.get(&url).send().await?;
    println!("    -> {}\n", response.status());

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
