#![deny(warnings, unused_qualifications)]

use std::fmt::Display;

use resilient_http::{Error, resilient};

#[resilient(max_attempts = 2)]
async fn describe<T>(value: T, suffix: impl Display + Sync) -> Result<String, Error>
where
    T: Display + Sync,
{
    Ok(format!("{value}{suffix}"))
}

#[resilient]
async fn first<'a>(items: &'a [u32]) -> Result<&'a u32, Error> {
    items.first().ok_or(Error::CircuitOpen {
        breaker: "none".into(),
        retry_in: std::time::Duration::ZERO,
        attempts: 0,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(describe(4, "!").await.unwrap(), "4!");
    assert_eq!(*first(&[7, 8]).await.unwrap(), 7);
}
