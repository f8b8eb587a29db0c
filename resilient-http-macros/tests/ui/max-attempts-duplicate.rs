use resilient_http::{resilient, Error};

#[resilient(max_attempts = 3, max_attempts = 4)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
