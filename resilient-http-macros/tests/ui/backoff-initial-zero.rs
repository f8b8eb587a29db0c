use resilient_http::{resilient, Error};

// Zero times any factor is zero: every wait would be zero.
#[resilient(backoff = exponential(initial = "0ms", factor = 2.0, max = "1s"))]
async fn exponential() -> Result<u32, Error> {
    Ok(1)
}

// Decorrelated jitter draws each wait from the previous one: three times zero is zero.
#[resilient(backoff = linear(initial = "0ms", step = "100ms", max = "1s"), jitter = decorrelated)]
async fn decorrelated() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
