use resilient_http::{resilient, Error};

#[resilient(timeout = "5s", deadline = "2s")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
