#![deny(warnings, unused_qualifications)]

mod reexport {
    pub use resilient_http as rh;
}

use reexport::rh::{Error, resilient};

#[resilient(crate = "reexport::rh")]
async fn call() -> Result<u32, Error> {
    Ok(1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(call().await.unwrap(), 1);
}
