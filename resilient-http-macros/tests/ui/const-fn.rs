use resilient_http::{resilient, Error};

#[resilient]
const fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
