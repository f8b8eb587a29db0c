//! A resilient wrapper over `reqwest::Client`.

mod request;

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response};

pub use request::RequestBuilder;

use crate::call::Handles;
use crate::registry::check_name;
use crate::{Breaker, Call, ConfigError, Error, Registry, RetryPolicy, retry_after};

/// An HTTP client whose every request runs under a retry policy, a named circuit breaker and a
/// retry budget. Cheap to clone: clones share the connection pool, breaker and budget.
///
/// Requests are retried only when repeating them is safe: GET, HEAD, OPTIONS, TRACE, PUT and
/// DELETE always; POST and PATCH when they carry an `Idempotency-Key` header (see
/// [`ClientBuilder::idempotency_keys`]) or the policy opts in with `retry_non_idempotent`; any
/// method when the connection could not be made. A request whose body cannot be cloned (a
/// stream) is sent once and never retried.
///
/// A response is returned as `Ok` whatever its status, as reqwest does, except when its status
/// is one the policy retries: then the call failed, and `send` returns [`Error::Status`] with
/// the status, the server's `Retry-After` and the number of attempts.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    shared: Arc<Shared>,
}

/// What the async and blocking clients share: the policy and the resilience state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) policy: RetryPolicy,
    /// The policy with a single attempt, for requests that cannot be repeated.
    single_attempt: RetryPolicy,
    pub(crate) handles: Handles,
    pub(crate) operation: Box<str>,
    pub(crate) idempotency_keys: bool,
}

impl Client {
    /// A client with the default policy, a breaker named `default` and its budget, from the
    /// global registry.
    pub fn new() -> Self {
        Client::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder for a client with its own policy, breaker, budget or registry.
    pub fn builder() -> ClientBuilder<'static> {
        ClientBuilder::default()
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a PATCH request.
    pub fn patch(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a HEAD request.
    pub fn head(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.http.request(method, url), self.shared.clone())
    }

    /// The breaker guarding this client's requests.
    pub fn breaker(&self) -> Option<&Arc<Breaker>> {
        self.shared.handles.breaker.as_ref()
    }

    /// The retry policy of this client's requests.
    pub fn policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// Builds a [`Client`] (and, with the `blocking` feature, a `blocking::Client`).
///
/// # Default
/// | setting | default |
/// |---|---|
/// | policy | [`RetryPolicy::default`] |
/// | registry | [`Registry::global`] |
/// | breaker | `"default"` |
/// | budget | the breaker's name (or the operation's, without a breaker) |
/// | operation name in metrics | the breaker's name, or `"http"` |
/// | `Idempotency-Key` generation | off |
#[derive(Debug)]
pub struct ClientBuilder<'r> {
    http: Option<reqwest::Client>,
    policy: RetryPolicy,
    registry: Option<&'r Registry>,
    breaker: Option<String>,
    budget: Option<Option<String>>,
    operation: Option<String>,
    idempotency_keys: bool,
}

impl Default for ClientBuilder<'static> {
    fn default() -> Self {
        ClientBuilder {
            http: None,
            policy: RetryPolicy::default(),
            registry: None,
            breaker: Some("default".to_owned()),
            budget: None,
            operation: None,
            idempotency_keys: false,
        }
    }
}

impl<'r> ClientBuilder<'r> {
    /// The reqwest client to send requests with (its pool, TLS and proxy settings).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The retry policy of every request.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Take breakers and budgets from `registry` instead of the global one.
    pub fn registry<'s>(self, registry: &'s Registry) -> ClientBuilder<'s> {
        ClientBuilder {
            registry: Some(registry),
            http: self.http,
            policy: self.policy,
            breaker: self.breaker,
            budget: self.budget,
            operation: self.operation,
            idempotency_keys: self.idempotency_keys,
        }
    }

    /// Guard requests with the breaker of this name.
    pub fn breaker(mut self, name: impl Into<String>) -> Self {
        self.breaker = Some(name.into());
        self
    }

    /// Use no breaker.
    pub fn no_breaker(mut self) -> Self {
        self.breaker = None;
        self
    }

    /// Draw retries from the budget of this name.
    pub fn budget(mut self, name: impl Into<String>) -> Self {
        self.budget = Some(Some(name.into()));
        self
    }

    /// Use no retry budget: only `max_attempts` bounds retries.
    pub fn no_budget(mut self) -> Self {
        self.budget = Some(None);
        self
    }

    /// The operation name in metrics, when a request does not set its own.
    pub fn operation(mut self, name: impl Into<String>) -> Self {
        self.operation = Some(name.into());
        self
    }

    /// Give every POST and PATCH without an `Idempotency-Key` header a fresh random key, the
    /// same on each of its attempts, so that it can be retried safely against servers that
    /// honour the header.
    pub fn idempotency_keys(mut self, yes: bool) -> Self {
        self.idempotency_keys = yes;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid breaker, budget or operation name, or when the default
    /// reqwest client cannot be created (field `http_client`).
    pub fn build(self) -> Result<Client, ConfigError> {
        let http = match self.http.clone() {
            Some(http) => http,
            None => reqwest::Client::builder()
                .build()
                .map_err(|err| ConfigError::new("http_client", err.to_string()))?,
        };
        Ok(Client {
            http,
            shared: Arc::new(self.shared()?),
        })
    }

    pub(crate) fn shared(self) -> Result<Shared, ConfigError> {
        // Each name is checked as the user gave it, so the error names the setting they wrote
        // (a bad breaker name is `breaker.name`, even though the operation defaults to it).
        for (field, name) in [
            ("breaker", self.breaker.as_deref()),
            ("budget", self.budget.as_ref().and_then(Option::as_deref)),
            ("operation", self.operation.as_deref()),
        ] {
            if let Some(name) = name {
                check_name(name).map_err(|e| e.within(field))?;
            }
        }
        let registry: &Registry = match self.registry {
            Some(registry) => registry,
            None => Registry::global(),
        };
        let operation = self
            .operation
            .or_else(|| self.breaker.clone())
            .unwrap_or_else(|| "http".to_owned());
        let budget = match self.budget {
            Some(choice) => choice,
            None => Some(self.breaker.clone().unwrap_or_else(|| operation.clone())),
        };
        Ok(Shared {
            single_attempt: self.policy.single_attempt(),
            policy: self.policy,
            handles: Handles::resolve(registry, self.breaker.as_deref(), budget.as_deref()),
            operation: operation.into_boxed_str(),
            idempotency_keys: self.idempotency_keys,
        })
    }
}

/// Turns a response with an error status (4xx or 5xx) into [`Error::Status`], keeping the
/// server's `Retry-After`, which `reqwest::Response::error_for_status` drops.
///
/// # Errors
/// [`Error::Status`] when the status is 4xx or 5xx.
pub fn error_for_status(response: Response) -> Result<Response, Error> {
    match status_error(response.status(), response.headers()) {
        Some(err) => Err(err),
        None => Ok(response),
    }
}

/// [`Error::Status`] for a 4xx or 5xx status.
pub(crate) fn status_error(status: reqwest::StatusCode, headers: &HeaderMap) -> Option<Error> {
    (status.is_client_error() || status.is_server_error()).then(|| Error::Status {
        status,
        retry_after: retry_after::from_headers(headers),
        attempts: 1,
    })
}

/// Where each attempt's request comes from: a clone of the built request, or, when its body
/// cannot be cloned, the request itself, once (the policy then allows a single attempt). One
/// request either way, so that the future holding it holds one.
pub(crate) enum Replay<R> {
    Template(R),
    Single(Option<R>),
}

impl<R> Replay<R> {
    pub(crate) fn new(request: R, replayable: bool) -> Self {
        if replayable {
            Replay::Template(request)
        } else {
            Replay::Single(Some(request))
        }
    }

    /// The request of the next attempt.
    pub(crate) fn next(&mut self, clone: impl Fn(&R) -> Option<R>) -> R {
        match self {
            Replay::Template(template) => clone(template),
            Replay::Single(single) => single.take(),
        }
        .expect("a request that cannot be cloned gets a single attempt")
    }
}

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Whether a request may be repeated, adding an `Idempotency-Key` when asked to so that it may.
pub(crate) fn prepare_idempotency(
    method: &Method,
    headers: &mut HeaderMap,
    generate: bool,
) -> bool {
    if method.is_idempotent() || headers.contains_key(IDEMPOTENCY_KEY) {
        return true;
    }
    if generate {
        let key = format!("{:032x}", rand::random::<u128>());
        let value = HeaderValue::from_str(&key).expect("hex digits are a valid header value");
        headers.insert(IDEMPOTENCY_KEY, value);
    }
    generate
}

impl Shared {
    /// The call of one request, under `policy`, named `operation` (default: the client's).
    #[inline]
    pub(crate) fn call<'a>(
        &'a self,
        policy: &'a RetryPolicy,
        operation: Option<&'a str>,
        idempotent: bool,
    ) -> Call<'a> {
        let operation = operation.unwrap_or(&self.operation);
        self.handles.call(operation, policy, idempotent)
    }

    /// The error for a response whose status the policy would have retried. Inlined, as is
    /// the classification of a response, so that a success costs the `Client` a bit test here
    /// rather than a call.
    #[inline]
    pub(crate) fn status_error(
        &self,
        status: reqwest::StatusCode,
        headers: &HeaderMap,
        attempts: u32,
    ) -> Option<Error> {
        self.policy
            .retry_on()
            .contains(status)
            .then(|| Error::Status {
                status,
                retry_after: retry_after::from_headers(headers),
                attempts,
            })
    }

    /// The policy for one request: a request that cannot be cloned gets a single attempt.
    pub(crate) fn policy_for(&self, can_retry: bool) -> &RetryPolicy {
        if can_retry {
            &self.policy
        } else {
            &self.single_attempt
        }
    }
}
