//! A typed API client whose methods are made resilient by `#[resilient]`.
//!
//! Run with `cargo run --example typed_client`.

#[path = "support/flaky_server.rs"]
mod flaky_server;

use resilient_http::{Error, resilient};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Invoice {
    id: u64,
    amount_cents: u64,
}

/// A small client of the payments API.
struct PaymentsClient {
    http: reqwest::Client,
    base: String,
}

impl PaymentsClient {
    /// Fetches an invoice: up to 4 attempts on 502/503, sharing the `payments` breaker.
    #[resilient(max_attempts = 4, retry_on = [502, 503], breaker = "payments",
                backoff = exponential(initial = "20ms", factor = 2.0, max = "1s"), jitter = equal,
                timeout = "2s", deadline = "5s")]
    async fn invoice(&self, id: u64) -> Result<Invoice, Error> {
        let url = format!("{}/invoices/{id}", self.base);
        let response = self.http.get(url).send().await?;
        let response = resilient_http::error_for_status(response)?;
        Ok(response.json().await?)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, server) = flaky_server::start().await;
    let client = PaymentsClient {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
    };
    server.fail_next(2);
    let invoice = client.invoice(42).await?;
    println!(
        "invoice {} for {} cents after {} requests",
        invoice.id,
        invoice.amount_cents,
        server.hits()
    );
    Ok(())
}
