use resilient_http::{resilient, Error};

#[resilient(idempotent = "no")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
