use resilient_http::{resilient, Error};

#[resilient(backoff = fibonacci("1s"))]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
