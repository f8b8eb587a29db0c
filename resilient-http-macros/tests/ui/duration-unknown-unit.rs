use resilient_http::{resilient, Error};

#[resilient(deadline = "2h")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
