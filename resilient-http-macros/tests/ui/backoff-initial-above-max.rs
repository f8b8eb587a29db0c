use resilient_http::{resilient, Error};

#[resilient(backoff = exponential(initial = "2s", factor = 2.0, max = "1s"))]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
