use resilient_http::{resilient, Error};

#[resilient(retries = 3)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
