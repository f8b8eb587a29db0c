use resilient_http::{resilient, Error};

#[resilient(backoff = constant("1441m"))]
async fn constant() -> Result<u32, Error> {
    Ok(1)
}

#[resilient(backoff = linear(initial = "1s", step = "86401s", max = "1440m"))]
async fn linear() -> Result<u32, Error> {
    Ok(1)
}

#[resilient(backoff = exponential(initial = "1s", factor = 2.0, max = "2000m"))]
async fn exponential() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
