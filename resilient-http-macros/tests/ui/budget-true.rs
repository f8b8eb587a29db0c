use resilient_http::{resilient, Error};

#[resilient(budget = true)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
