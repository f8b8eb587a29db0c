//! The resilient client over `reqwest::blocking`, with the same semantics as the async
//! [`Client`](crate::Client). Waits between attempts block the thread.
//!
//! Each attempt's time limit (the per-attempt timeout, or what is left of the deadline) is
//! passed to reqwest as the request's timeout, since a blocking call cannot be interrupted
//! from outside. That is one difference from the async client: reqwest's blocking timeout runs
//! until the response's body is read, so the per-attempt timeout bounds reading the body too,
//! where on the async client it bounds the attempt up to the response's head (and the deadline
//! bounds the body). As on the async client, a failure while reading the body (a timeout
//! included) is the caller's `reqwest::Error`, after `send` returned, and is not retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use reqwest::{IntoUrl, Method};
use serde::Serialize;

use crate::client::{Replay, Shared, prepare_idempotency};
use crate::{Breaker, ClientBuilder, ConfigError, Error};

/// A blocking HTTP client with retries, a breaker and a budget; see
/// [`Client`](crate::Client) for the rules. Do not use it inside an async runtime.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    shared: Arc<Shared>,
}

impl Client {
    /// A client with the default policy, a breaker named `default` and its budget.
    ///
    /// # Errors
    /// When reqwest cannot create its blocking client (field `http_client`).
    pub fn new() -> Result<Self, ConfigError> {
        Client::build(Client::builder())
    }

    /// The builder shared with the async client; finish it with [`Client::build`].
    pub fn builder() -> ClientBuilder<'static> {
        ClientBuilder::default()
    }

    /// Builds a blocking client from `builder` (its `http_client`, if set, is not used: pass a
    /// blocking one with [`Client::with_http_client`]).
    ///
    /// reqwest's blocking client times a request out after 30 s by default; this one does not.
    /// As on the async client, the policy's `attempt_timeout` and `deadline` bound its calls,
    /// and without them a call waits as long as the server takes.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn build(builder: ClientBuilder<'_>) -> Result<Self, ConfigError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .map_err(|err| ConfigError::new("http_client", err.to_string()))?;
        Client::with_http_client(builder, http)
    }

    /// Builds a blocking client from `builder` that sends with `http`. `http` keeps its own
    /// timeouts: reqwest's default of 30 s included, unless it was built with `.timeout(None)`.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn with_http_client(
        builder: ClientBuilder<'_>,
        http: reqwest::blocking::Client,
    ) -> Result<Self, ConfigError> {
        Ok(Client {
            http,
            shared: Arc::new(builder.shared()?),
        })
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder {
            inner: self.http.request(method, url),
            client: self.clone(),
            operation: None,
        }
    }

    /// The breaker guarding this client's requests.
    pub fn breaker(&self) -> Option<&Arc<Breaker>> {
        self.shared.handles.breaker.as_ref()
    }
}

/// A blocking request being built; [`send`](RequestBuilder::send) runs it with retries.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    inner: reqwest::blocking::RequestBuilder,
    client: Client,
    operation: Option<String>,
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header(self, key: &'static str, value: impl AsRef<str>) -> Self {
        self.map(|b| b.header(key, value.as_ref()))
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// Sets the body.
    pub fn body(self, body: impl Into<reqwest::blocking::Body>) -> Self {
        self.map(|b| b.body(body))
    }

    /// The operation name of this request in metrics.
    pub fn operation(mut self, name: impl Into<String>) -> Self {
        self.operation = Some(name.into());
        self
    }

    /// Applies any other `reqwest::blocking::RequestBuilder` method.
    pub fn map(
        mut self,
        f: impl FnOnce(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
    ) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Sends the request, retrying under the client's policy.
    ///
    /// # Errors
    /// As [`crate::RequestBuilder::send`].
    pub fn send(self) -> Result<Response, Error> {
        let mut request = self.inner.build()?;
        let shared = &*self.client.shared;
        let method = request.method().clone();
        let idempotent =
            prepare_idempotency(&method, request.headers_mut(), shared.idempotency_keys);
        // What `try_clone` would say (only a reader body cannot be cloned), without the clone.
        let replayable = request.body().is_none_or(|body| body.as_bytes().is_some());
        let policy = shared.policy_for(replayable);
        let call = shared.call(policy, self.operation.as_deref(), idempotent);
        let mut replay = Replay::new(request, replayable);
        let http = &self.client.http;
        let attempt = |limit: Option<Duration>| {
            let mut attempt = replay.next(reqwest::blocking::Request::try_clone);
            // The attempt's limit is enforced by reqwest, as the request's timeout. A timeout
            // of the request's own that is shorter stays, and is reqwest's error when it fires,
            // as on the async client; the limit firing is the runtime's, reported as `None`.
            let limit = limit.filter(|&limit| attempt.timeout().is_none_or(|own| *own >= limit));
            if limit.is_some() {
                *attempt.timeout_mut() = limit;
            }
            let sent = Instant::now();
            let response = match http.execute(attempt) {
                Ok(response) => response,
                // Only once the limit has run out: a timeout sooner is another one (a connect
                // timeout of the reqwest client, the operating system's), judged as the async
                // client judges it.
                Err(err) if err.is_timeout() && limit.is_some_and(|l| sent.elapsed() >= l) => {
                    return None;
                }
                Err(err) => return Some(Err(Error::from(err))),
            };
            let status_error = shared.status_error(response.status(), response.headers(), 1);
            Some(status_error.map_or(Ok(response), Err))
        };
        call.run_blocking_with(attempt, crate::Classify::classify)
    }
}

/// Turns a response with an error status (4xx or 5xx) into [`Error::Status`], keeping the
/// server's `Retry-After`; the blocking twin of [`crate::error_for_status`].
///
/// # Errors
/// [`Error::Status`] when the status is 4xx or 5xx.
pub fn error_for_status(response: Response) -> Result<Response, Error> {
    match crate::client::status_error(response.status(), response.headers()) {
        Some(err) => Err(err),
        None => Ok(response),
    }
}

impl crate::Classify for Response {
    fn classify(&self) -> crate::Classification {
        crate::classify::of_status(self.status(), self.headers())
    }
}
