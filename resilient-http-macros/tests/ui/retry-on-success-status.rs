use resilient_http::{resilient, Error};

#[resilient(retry_on = [200, 503])]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
