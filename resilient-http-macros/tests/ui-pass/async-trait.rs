#![deny(warnings, unused_qualifications)]

use async_trait::async_trait;
use resilient_http::{Error, resilient};

#[async_trait]
trait Payments {
    async fn invoice(&self, id: u64) -> Result<u64, Error>;
}

struct Client {
    calls: std::sync::atomic::AtomicU32,
}

// `#[async_trait]` goes on the impl and `#[resilient]` on the method: async-trait expands
// first, and `#[resilient]` wraps the body it left in place.
#[async_trait]
impl Payments for Client {
    #[resilient(max_attempts = 3, backoff = constant("1ms"), jitter = none, timeout = "1s")]
    async fn invoice(&self, id: u64) -> Result<u64, Error> {
        let calls = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if calls < 3 {
            return Err(Error::Status {
                status: reqwest::StatusCode::BAD_GATEWAY,
                retry_after: None,
                attempts: 1,
            });
        }
        Ok(id)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = Client { calls: Default::default() };
    assert_eq!(client.invoice(7).await.unwrap(), 7);
    assert_eq!(client.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}
