#![deny(warnings, unused_qualifications)]

use resilient_http::{Error, Registry, resilient};

struct Client {
    registry: Registry,
}

impl Client {
    #[resilient(
        max_attempts = 4,
        retry_on = [429, 500..=504],
        backoff = linear(initial = "10ms", step = "10ms", max = "100ms"),
        jitter = decorrelated,
        timeout = "1s",
        deadline = "5s",
        breaker = "payments.v2",
        budget = "shared-budget",
        idempotent = false,
        registry = &self.registry,
        name = "payments.invoice",
        crate = "::resilient_http",
    )]
    async fn invoice(&self, id: u64) -> Result<u64, Error> {
        Ok(id)
    }

    #[resilient(backoff = none, budget = false)]
    async fn status(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = Client { registry: Registry::new() };
    assert_eq!(client.invoice(9).await.unwrap(), 9);
    client.status().await.unwrap();
}
