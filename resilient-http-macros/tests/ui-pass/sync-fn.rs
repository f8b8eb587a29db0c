#![deny(warnings, unused_qualifications)]

use resilient_http::{Error, resilient};

#[resilient(max_attempts = 3, backoff = constant("1ms"), jitter = none)]
fn flaky(calls: &mut u32) -> Result<u32, Error> {
    *calls += 1;
    if *calls < 3 {
        return Err(Error::Status {
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            retry_after: None,
            attempts: 1,
        });
    }
    Ok(*calls)
}

fn main() {
    let mut calls = 0;
    assert_eq!(flaky(&mut calls).unwrap(), 3);
}
