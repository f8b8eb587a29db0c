//! Prometheus metrics through the `metrics` facade: a resilient client meets a flaky server,
//! then the program scrapes its own `/metrics` endpoint and prints what Prometheus would see.
//!
//! Run with `cargo run --example prometheus --features metrics`.
//!
//! The exporter is `metrics-exporter-prometheus` rather than `prometheus-client`: the `metrics`
//! feature exists for applications that already report through the `metrics` facade, and this
//! is the facade's own Prometheus exporter. An application that keeps its own
//! `prometheus_client` registry uses the `prometheus` feature's `PrometheusSink` instead.

#[path = "support/flaky_server.rs"]
mod flaky_server;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
use resilient_http::{
    Backoff, BreakerConfig, Client, MetricsFacadeSink, Registry, RegistryConfig, RetryPolicy,
    instruments,
};

const OPEN_FOR: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The recorder first, so the sink built below describes its instruments to it. Bucket
    // layouts are the exporter's business: give it the ones every resilient-http exporter uses.
    let handle = PrometheusBuilder::new()
        .set_buckets(&instruments::DURATION_BUCKETS)?
        .install_recorder()?;

    // `/metrics` from a tiny axum route rather than the exporter's own listener: that listener
    // wants a fixed address and does not tell which port it bound, while here we bind an
    // ephemeral loopback port and know it.
    let metrics_app = Router::new().route("/metrics", get(move || async move { handle.render() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let metrics_url = format!("http://{}/metrics", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, metrics_app).await });

    let (addr, server) = flaky_server::start().await;
    let mut config = RegistryConfig::default();
    config.breakers.insert(
        "payments".to_owned(),
        BreakerConfig {
            consecutive_failures: Some(3),
            open_duration: OPEN_FOR,
            ..BreakerConfig::new()
        },
    );
    let registry = Registry::builder()
        .config(config)
        .sink(Arc::new(MetricsFacadeSink::new()))
        .build()?;
    let client = Client::builder()
        .registry(&registry)
        .policy(
            RetryPolicy::builder()
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(20)))
                .build()?,
        )
        .breaker("payments")
        .operation("payments.invoice")
        .build()?;
    let invoice = format!("http://{addr}/invoices/42");

    server.fail_next(2);
    println!(
        "1. Two 503s, then an answer: {}",
        client.get(&invoice).send().await?.status()
    );

    server.go_down();
    let err = client.get(&invoice).send().await.unwrap_err();
    println!("2. The server goes down; the breaker opens: {err}");
    for _ in 0..2 {
        let err = client.get(&invoice).send().await.unwrap_err();
        println!("3. Rejected without a request: {err}");
    }

    server.recover();
    tokio::time::sleep(OPEN_FOR).await;
    let status = client.get(&invoice).send().await?.status();
    println!("4. Recovered; the probe closes the breaker: {status}");

    println!("\nGET {metrics_url}:");
    let scrape = reqwest::get(&metrics_url).await?.text().await?;
    // Sorted, so that each metric's series sit together; buckets left out to keep it short.
    let (buckets, mut lines): (Vec<&str>, Vec<&str>) = scrape
        .lines()
        .filter(|line| line.starts_with("resilient_http_"))
        .partition(|line| line.contains("_bucket{"));
    lines.sort_unstable();
    for line in lines {
        println!("{line}");
    }
    println!("({} `_bucket` lines not shown)", buckets.len());
    Ok(())
}
