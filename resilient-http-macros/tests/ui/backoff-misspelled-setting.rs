use resilient_http::{resilient, Error};

#[resilient(backoff = linear(intial = "100ms", step = "100ms", max = "2s"))]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
