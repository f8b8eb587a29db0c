//! A value that is itself a success or a failure, for the `run_classified` tests of `Call` and
//! `CallSite`.

use reqwest::StatusCode;
use resilient_http::{Classification, Classify};

/// An HTTP status as an `Ok` value: a success when it is one, a retryable-or-not status when it
/// is a 4xx or 5xx, as a `reqwest::Response` would be classified.
#[derive(Debug, PartialEq)]
pub(crate) struct Answer(pub(crate) u16);

impl Classify for Answer {
    fn classify(&self) -> Classification {
        match StatusCode::from_u16(self.0).expect("a valid status code") {
            status if status.is_client_error() || status.is_server_error() => {
                Classification::Status {
                    status,
                    retry_after: None,
                }
            }
            _ => Classification::Success,
        }
    }
}
