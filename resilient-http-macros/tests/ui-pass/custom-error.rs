#![deny(warnings, unused_qualifications)]

use resilient_http::{Classification, Classify, resilient};

#[derive(Debug)]
enum ApiError {
    Resilience(resilient_http::Error),
    NotFound,
}

impl From<resilient_http::Error> for ApiError {
    fn from(err: resilient_http::Error) -> Self {
        ApiError::Resilience(err)
    }
}

impl Classify for ApiError {
    fn classify(&self) -> Classification {
        match self {
            ApiError::Resilience(err) => err.classify(),
            ApiError::NotFound => Classification::Permanent { breaker_failure: false },
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

#[resilient(max_attempts = 5)]
async fn lookup(found: bool) -> ApiResult<u32> {
    if found { Ok(1) } else { Err(ApiError::NotFound) }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(lookup(true).await.unwrap(), 1);
    assert!(matches!(lookup(false).await, Err(ApiError::NotFound)));
}
