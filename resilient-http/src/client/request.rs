//! A request being built, sent with retries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Body, Response};
use serde::Serialize;

use tokio::time::Instant;

use super::{Replay, Shared, prepare_idempotency};
use crate::Error;

/// How long after the deadline reading a response's body is cut off: see `send`.
const BODY_GRACE: Duration = Duration::from_millis(10);

/// A request being built, with reqwest's builder methods; [`send`](RequestBuilder::send) runs
/// it under the client's policy, breaker and budget.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    // It holds the reqwest client too, which sends the attempts: one handle on the client per
    // request, as with reqwest itself, rather than a second one cloned beside it.
    inner: reqwest::RequestBuilder,
    shared: Arc<Shared>,
    operation: Option<String>,
}

impl RequestBuilder {
    pub(crate) fn new(inner: reqwest::RequestBuilder, shared: Arc<Shared>) -> Self {
        RequestBuilder {
            inner,
            shared,
            operation: None,
        }
    }

    /// Adds a header.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    /// Adds headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    /// Sets a bearer token.
    pub fn bearer_auth(self, token: impl std::fmt::Display) -> Self {
        self.map(|b| b.bearer_auth(token))
    }

    /// Sets the body. A streaming body cannot be replayed, so its request is sent only once.
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.map(|b| b.body(body))
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// A timeout for each attempt of this request, on top of the policy's.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// The operation name of this request in metrics (default: the client's).
    pub fn operation(mut self, name: impl Into<String>) -> Self {
        self.operation = Some(name.into());
        self
    }

    /// Applies any other `reqwest::RequestBuilder` method.
    pub fn map(
        mut self,
        f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Sends the request, retrying under the client's policy.
    ///
    /// # Errors
    /// [`Error::Status`] when retries stopped on a status the policy retries;
    /// [`Error::Transport`] for a transport failure (or a request that could not be built);
    /// [`Error::CircuitOpen`], [`Error::AttemptTimeout`], [`Error::DeadlineExceeded`] and
    /// [`Error::BudgetExhausted`] when the runtime stopped the call.
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> {
        // The request is built and checked here, before the future exists, so that the future
        // holds what the attempts need and no more: not this builder, not the request twice.
        // It is the memory of a request in flight (816 bytes; 2,448 as an `async fn`).
        let RequestBuilder {
            inner,
            shared,
            operation,
        } = self;
        let (http, built) = inner.build_split();
        let (mut prepared, failed) = match built {
            Ok(mut request) => {
                let idempotent = prepare_idempotency(
                    &request.method().clone(),
                    request.headers_mut(),
                    shared.idempotency_keys,
                );
                // What `try_clone` would say (only a streaming body cannot be cloned), without
                // making a copy of the URL and headers only to drop it.
                let replayable = request.body().is_none_or(|body| body.as_bytes().is_some());
                (
                    Some((Replay::new(request, replayable), idempotent, replayable)),
                    None,
                )
            }
            Err(err) => (None, Some(err)),
        };
        async move {
            if let Some(err) = failed {
                return Err(Error::from(err));
            }
            // Borrowed where it was captured rather than moved out, which would give the
            // future a second slot for the request.
            let Some((replay, idempotent, replayable)) = &mut prepared else {
                unreachable!("a request that failed to build returned above")
            };
            let (idempotent, replayable) = (*idempotent, *replayable);
            let shared = &*shared;
            let policy = shared.policy_for(replayable);
            let call = shared.call(policy, operation.as_deref(), idempotent);
            // The runtime bounds each attempt up to the response's head; the body is read
            // after `send` returns. Giving every attempt reqwest's whole-request timeout, set
            // to what is left of the deadline, bounds the body too: a server trickling it
            // cannot hold the caller past the declared deadline. That timeout runs BODY_GRACE
            // behind the runtime's own limit, so that up to the head the runtime's limit (and
            // its error) always comes first, even when both timers would fire in the same tick
            // of tokio's 1 ms wheel.
            let declared = policy.deadline();
            let mut deadline = None;
            call.run_classified(|| {
                let mut attempt = replay.next(reqwest::Request::try_clone);
                if let Some(declared) = declared {
                    let now = Instant::now();
                    let deadline = *deadline.get_or_insert(now + declared + BODY_GRACE);
                    let left = deadline.saturating_duration_since(now);
                    let timeout = attempt.timeout_mut();
                    *timeout = Some(timeout.map_or(left, |own| own.min(left)));
                }
                // Handed to reqwest here rather than inside the attempt's future, so that the
                // future holds reqwest's (boxed, two-word) one instead of the request.
                let sent = http.execute(attempt);
                async move {
                    let response = sent.await?;
                    // `on_give_up` sets the attempts and wraps it for a deadline or a budget.
                    match shared.status_error(response.status(), response.headers(), 1) {
                        Some(err) => Err(err),
                        None => Ok(response),
                    }
                }
            })
            .await
        }
    }
}
