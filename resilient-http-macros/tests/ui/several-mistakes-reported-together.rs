use resilient_http::{resilient, Error};

#[resilient(max_attempts = 0, jitter = random, breaker = "")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
