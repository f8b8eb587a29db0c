use resilient_http::{resilient, Error};

#[resilient(timeout = "2s")]
fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
