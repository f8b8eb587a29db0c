//! The blocking side: `resilient_http::blocking::Client`, and `#[resilient]` on a plain `fn`.
//!
//! Run with `cargo run --example blocking`.

#[path = "support/flaky_server.rs"]
mod flaky_server;

use resilient_http::{Error, RetryPolicy, resilient};

/// A plain function: between attempts it blocks the thread instead of awaiting.
#[resilient(max_attempts = 4, backoff = constant("20ms"), jitter = none, breaker = "inventory")]
fn invoice_status(client: &reqwest::blocking::Client, url: &str) -> Result<u16, Error> {
    let response = resilient_http::blocking::error_for_status(client.get(url).send()?)?;
    Ok(response.status().as_u16())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The flaky server needs a runtime; the blocking clients must not run inside one, so the
    // server gets a thread of its own.
    let runtime = tokio::runtime::Runtime::new()?;
    let (addr, server) = runtime.block_on(flaky_server::start());
    let url = format!("http://{addr}/invoices/42");

    server.fail_next(2);
    let policy = RetryPolicy::builder().max_attempts(3).build()?;
    let client = resilient_http::blocking::Client::build(
        resilient_http::Client::builder()
            .policy(policy)
            .breaker("payments"),
    )?;
    let response = client.get(&url).send()?;
    println!(
        "blocking client: {} after {} requests",
        response.status(),
        server.hits()
    );

    server.fail_next(3);
    let status = invoice_status(&reqwest::blocking::Client::new(), &url)?;
    println!(
        "#[resilient] fn: {status} after {} requests in all",
        server.hits()
    );
    Ok(())
}
