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
    /// Whether reqwest's builder was handed to the caller's code by [`map`](Self::map), which
    /// may have put extensions on the request that only reqwest's `try_clone` copies.
    mapped: bool,
}

impl RequestBuilder {
    pub(crate) fn new(inner: reqwest::RequestBuilder, shared: Arc<Shared>) -> Self {
        RequestBuilder {
            inner,
            shared,
            operation: None,
            mapped: false,
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
        self.apply(|b| b.header(key, value))
    }

    /// Adds headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.apply(|b| b.headers(headers))
    }

    /// Sets a bearer token.
    pub fn bearer_auth(self, token: impl std::fmt::Display) -> Self {
        self.apply(|b| b.bearer_auth(token))
    }

    /// Sets the body. A streaming body cannot be replayed, so its request is sent only once.
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.apply(|b| b.body(body))
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.apply(|b| b.json(json))
    }

    /// A timeout for each attempt of this request, on top of the policy's.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.apply(|b| b.timeout(timeout))
    }

    /// The operation name of this request in metrics (default: the client's).
    pub fn operation(mut self, name: impl Into<String>) -> Self {
        self.operation = Some(name.into());
        self
    }

    /// Applies any other `reqwest::RequestBuilder` method. A request changed this way is copied
    /// for each attempt by reqwest's own `try_clone`, which keeps anything such a method may
    /// have put in the request's extensions.
    pub fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        RequestBuilder {
            mapped: true,
            ..self.apply(f)
        }
    }

    fn apply(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
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
    // Inlined, so that the caller can build the future where it keeps it: returned from a
    // call, the future (over 800 bytes) was copied twice on its way there.
    #[inline]
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> {
        // The request is built and checked here, before the future exists, so that the future
        // holds what the attempts need and no more: not this builder, not the request twice.
        // It is the memory of a request in flight (832 bytes; 2,448 as an `async fn`).
        let RequestBuilder {
            inner,
            shared,
            operation,
            mapped,
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
            let copy: fn(&reqwest::Request) -> Option<reqwest::Request> = if mapped {
                reqwest::Request::try_clone
            } else {
                copy_built
            };
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
                let mut attempt = replay.next(copy);
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

/// A copy of a request built only through [`RequestBuilder`]'s own methods, for the next
/// attempt.
///
/// reqwest's `try_clone` sets the copy's timeout before it replaces the copy's extensions with
/// the original's, and setting it makes a map of extensions (two allocations and a hash) only
/// for it to be dropped, on every request (BENCHMARKS.md, "The fifth pass"). Through those
/// methods, reqwest 0.13 puts nothing in a request's extensions but that timeout, so a bodiless
/// request is copied here field by field, its timeout with it (a test checks this against
/// reqwest). A request with a body goes through `try_clone`: reqwest keeps the clone of a body
/// to itself.
fn copy_built(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    // The copy's own map is new and empty: cloning an empty one over it would only drop it.
    if !request.headers().is_empty() {
        *copy.headers_mut() = request.headers().clone();
    }
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::copy_built;
    use crate::Client;

    /// What reqwest sends of a request, extensions counted: a copy that left one out would
    /// send less than the original.
    fn sent(request: reqwest::Request) -> impl PartialEq + std::fmt::Debug {
        let timeout = request.timeout().copied();
        let request = http::Request::try_from(request).expect("a built request converts");
        (
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
            request.version(),
            request.extensions().len(),
            timeout,
        )
    }

    #[test]
    fn a_copy_sends_what_the_request_built_by_the_builders_own_methods_sends() {
        let client = Client::new();
        let mut headers = HeaderMap::new();
        headers.insert("x-many", HeaderValue::from_static("1"));
        let built = [
            client.get("http://127.0.0.1/"),
            client
                .delete("http://user:pw@127.0.0.1:8080/a?q=1#f")
                .header("x-one", "1")
                .headers(headers)
                .bearer_auth("token")
                .timeout(Duration::from_millis(1500))
                .operation("delete"),
            client
                .head("http://127.0.0.1/")
                .timeout(Duration::from_secs(2)),
        ];
        for builder in built {
            assert!(!builder.mapped);
            let original = builder.inner.build().expect("a valid request");
            let copy = copy_built(&original).expect("a bodiless request is copied");
            assert_eq!(sent(copy), sent(original));
        }
    }

    #[test]
    fn a_request_with_a_body_or_mapped_is_copied_by_reqwest() {
        let client = Client::new();
        let original = client
            .post("http://127.0.0.1/")
            .body("payload")
            .inner
            .build()
            .expect("a valid request");
        let copy = copy_built(&original).expect("a byte body is copied");
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&b"payload"[..])
        );
        assert_eq!(sent(copy), sent(original));
        assert!(client.get("http://127.0.0.1/").map(|b| b).mapped);
    }
}
