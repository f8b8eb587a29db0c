use resilient_http::{resilient, Error};

// The backoff is rejected; the deadline is not then judged against the default backoff
// (whose first wait, 100ms without jitter, is longer than 50ms): one error, not two.
#[resilient(deadline = "50ms", backoff = constant("1441m"), jitter = none)]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

fn main() {}
