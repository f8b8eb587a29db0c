#![deny(warnings, unused_qualifications)]

use std::sync::Arc;

use resilient_http::{Error, resilient};

struct Counter {
    calls: u32,
}

impl Counter {
    #[resilient(breaker = "counter")]
    async fn bump(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[resilient]
    async fn peek(&self) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[resilient]
    async fn shared(self: Arc<Self>) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[resilient]
    async fn into_calls(self) -> Result<u32, Error> {
        Ok(self.calls)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut counter = Counter { calls: 0 };
    assert_eq!(counter.bump().await.unwrap(), 1);
    assert_eq!(counter.peek().await.unwrap(), 1);
    assert_eq!(Arc::new(Counter { calls: 5 }).shared().await.unwrap(), 5);
    assert_eq!(counter.into_calls().await.unwrap(), 1);
}
