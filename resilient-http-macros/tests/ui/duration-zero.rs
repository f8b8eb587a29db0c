use resilient_http::{resilient, Error};

#[resilient(timeout = "0ms")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
