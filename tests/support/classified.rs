//! A value that is itself a success or a failure, for the `run_classified` tests of `Call` and
//! `CallSite`.

use std::future::{Ready, ready};

use reqwest::StatusCode;
use resilient_http::{Classification, Classify, Error};

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

/// An operation that answers each of `answers` in turn, as an `Ok` value, one an attempt, and
/// counts its attempts in `attempts`; an attempt beyond the last answer fails the test.
pub(crate) fn answering<const N: usize>(
    answers: [u16; N],
    attempts: &mut u32,
) -> impl FnMut() -> Ready<Result<Answer, Error>> + '_ {
    let mut answers = answers.into_iter();
    move || {
        *attempts += 1;
        let answer = answers.next().expect("no attempt beyond the last answer");
        ready(Ok(Answer(answer)))
    }
}
