use resilient_http::{resilient, Error};

#[resilient(jitter = random)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
