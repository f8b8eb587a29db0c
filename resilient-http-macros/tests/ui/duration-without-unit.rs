use resilient_http::{resilient, Error};

#[resilient(timeout = "10")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
