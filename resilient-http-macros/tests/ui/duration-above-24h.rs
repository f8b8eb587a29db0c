use resilient_http::{resilient, Error};

// 24h is the longest duration resilient-http accepts, and it is allowed.
#[resilient(timeout = "1440m", deadline = "86400s")]
async fn longest() -> Result<u32, Error> {
    Ok(1)
}

#[resilient(timeout = "1441m", deadline = "86400001ms")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

// Too large for a duration at all: still reported as above 24h.
#[resilient(deadline = "99999999999999999999s")]
async fn overflow() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
