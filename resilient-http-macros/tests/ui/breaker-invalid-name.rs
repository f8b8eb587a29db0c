use resilient_http::{resilient, Error};

#[resilient(breaker = "pay ments")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
