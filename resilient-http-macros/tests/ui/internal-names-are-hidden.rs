use resilient_http::{resilient, Error};

#[resilient]
async fn call() -> Result<u32, Error> {
    let _ = __rh_attempts;
    Ok(1)
}

fn main() {}
