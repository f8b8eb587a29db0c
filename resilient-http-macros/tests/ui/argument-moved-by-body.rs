use resilient_http::{resilient, Error};

fn consume(_: String) {}

#[resilient]
async fn call(name: String) -> Result<u32, Error> {
    consume(name);
    Ok(1)
}

fn main() {}
