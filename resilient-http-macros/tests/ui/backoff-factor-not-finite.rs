use resilient_http::{resilient, Error};

#[resilient(backoff = exponential(initial = "100ms", factor = 1e999, max = "1s"))]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
