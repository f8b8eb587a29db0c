use resilient_http::{resilient, Error};

#[resilient(deadline = "50ms", backoff = constant("100ms"), jitter = none)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
