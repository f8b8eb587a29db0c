use resilient_http::{resilient, Error};

#[resilient(backoff = exponential(initial = "2s", factor = 2.0, max = "1s"))]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

// `initial` left to its default (100ms): the error points at `max`.
#[resilient(backoff = linear(step = "10ms", max = "50ms"))]
async fn defaulted_initial() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
