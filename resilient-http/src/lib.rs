//! Retries, backoff with jitter, circuit breakers and retry budgets for HTTP API clients built
//! on [`reqwest`], declared rather than hand-written.
//!
//! # Three ways in
//! - [`macro@resilient`]: annotate the methods of a typed API client, and the policy is
//!   declared, checked at compile time and generated around each method's body.
//! - [`Client`]: a resilient wrapper over `reqwest::Client` with reqwest's request-builder
//!   feel. Every request runs under a [`RetryPolicy`], a named [`Breaker`] and a
//!   [`RetryBudget`].
//! - [`CallSite`]: the same machinery around any async (or blocking) operation, for typed API
//!   clients whose methods do more than one request or decode what they get. One operation's
//!   policy, breaker, budget and sink are put together once and shared by all its calls; a
//!   [`Call`] does the same for a single call, from references handed to it each time.
//!
//! ```no_run
//! use resilient_http::Client;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().breaker("github").build()?;
//! let response = client.get("https://api.github.com/zen").send().await?;
//! println!("{}", response.text().await?);
//! # Ok(()) }
//! ```
//!
//! # What happens on a call
//! 1. The breaker is asked for a permit. An open breaker rejects the call at once with
//!    [`Error::CircuitOpen`], without touching the network.
//! 2. The attempt runs, limited by the per-attempt timeout and what is left of the deadline.
//! 3. Its outcome is [classified](Classify): success, a status (retried if the policy's
//!    `retry_on` has it), a connect failure (always safe to retry), a transport failure after
//!    sending (retried for idempotent requests), or a permanent failure.
//! 4. Before a retry the call waits for the backoff's jittered delay, or longer if the server
//!    sent `Retry-After`; it gives up at once when that wait would cross the deadline or exceed
//!    the backoff's maximum, or when the retry budget is spent.
//! 5. Every step is reported to the [`MetricsSink`] as a typed [`Event`].
//!
//! # Defaults
//! Every configuration type lists its defaults in a `# Default` section: [`RetryConfig`],
//! [`Backoff`], [`Jitter`], [`StatusSet`], [`BreakerConfig`], [`BudgetConfig`].
//!
//! # Features
//! - `blocking`: `blocking::Client`, the same client over `reqwest::blocking` (documented
//!   when the feature is on, as it is on docs.rs).
//! - `metrics`: `MetricsFacadeSink`, reporting to the [`metrics`](https://docs.rs/metrics)
//!   facade, so any exporter the application already installs works.
//! - `prometheus`: `PrometheusSink`, registering into a `prometheus_client` registry.
//! - `opentelemetry`: `OpenTelemetrySink`, reporting through an OpenTelemetry `Meter`.
//!
//! All three report the instruments listed in [`instruments`], with the same names, labels and
//! buckets.

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
mod breaker;
mod budget;
mod call;
mod classify;
mod client;
mod clock;
mod duration;
mod error;
mod jitter;
mod metrics;
#[cfg(all(test, loom))]
mod model_check;
mod policy;
mod registry;
mod retry_after;
mod status_set;
mod sync;

pub use backoff::{Backoff, Delays};
pub use breaker::{Breaker, BreakerConfig, BreakerState, Permit, Rejected, WindowConfig};
pub use budget::{BudgetConfig, RetryBudget};
pub use call::{Call, CallSite, ClassifyOk, Judge, OkIsSuccess, Run};
pub use classify::{Classification, Classify, GiveUp};
pub use client::{Client, ClientBuilder, RequestBuilder, error_for_status};
pub use clock::{Clock, ManualClock, TokioClock};
pub use error::{ConfigError, Error};
pub use jitter::Jitter;
#[cfg(feature = "metrics")]
pub use metrics::MetricsFacadeSink;
#[cfg(feature = "opentelemetry")]
pub use metrics::OpenTelemetrySink;
#[cfg(feature = "prometheus")]
pub use metrics::PrometheusSink;
pub use metrics::instruments;
pub use metrics::{
    AttemptOutcome, BackgroundSink, Event, EventKind, InMemorySink, MetricsSink, NoopSink,
    OperationStats, Snapshot, TracingSink, Transition,
};
pub use policy::{RetryConfig, RetryPolicy};
pub use registry::{Registry, RegistryBuilder, RegistryConfig};
pub use retry_after::parse as parse_retry_after;
pub use status_set::StatusSet;

/// Makes an `async fn` (or a plain `fn`) resilient: retries with backoff and jitter, a named
/// circuit breaker and a retry budget, declared in the attribute and checked at compile time.
///
/// ```
/// use resilient_http::{Error, resilient};
///
/// struct Payments {
///     http: reqwest::Client,
/// }
///
/// impl Payments {
///     #[resilient(max_attempts = 3, retry_on = [502, 503], breaker = "payments")]
///     async fn invoice(&self, id: u64) -> Result<String, Error> {
///         let url = format!("http://127.0.0.1:9/invoices/{id}");
///         let response = resilient_http::error_for_status(self.http.get(url).send().await?)?;
///         Ok(response.text().await?)
///     }
/// }
/// ```
///
/// The body runs once per attempt. It borrows the function's arguments, so every argument is
/// usable in every attempt; a body that *moves* an argument out (passes a `String` by value, say)
/// does not compile, with rustc's "value moved here, in previous iteration of loop" pointing at
/// the move: clone it inside the body, or take the argument by reference.
///
/// # Arguments
/// Every argument is optional and may appear once; unset ones take the runtime's defaults
/// ([`RetryConfig`], [`BreakerConfig`], [`BudgetConfig`]).
///
/// | argument | meaning |
/// |---|---|
/// | `max_attempts = 3` | attempts in all, including the first: 1..=100 |
/// | `retry_on = [502, 503, 520..=529]` | statuses and inclusive ranges (lowest first) to retry, within 400..=599, each status listed once |
/// | `backoff = ...` | `none`, `constant("200ms")`, `linear(initial = "100ms", step = "100ms", max = "2s")` or `exponential(initial = "100ms", factor = 2.0, max = "10s")`; `initial` <= `max`, `factor` finite and >= 1.0 |
/// | `jitter = full` | `none`, `full`, `equal` or `decorrelated` (see [`Jitter`]) |
/// | `timeout = "2s"` | per attempt (`async fn` only); at most `deadline` |
/// | `deadline = "10s"` | for the whole call, from the first attempt (`async fn` only) |
/// | `breaker = "payments"` | the registry's breaker of that name; methods naming one breaker share it |
/// | `budget = "name"` or `budget = false` | the retry budget to draw on; default: the breaker's, else the operation's |
/// | `idempotent = false` | retry only what provably did not reach the server (a connect failure) or what the server asked to be retried with `Retry-After` |
/// | `registry = &self.registry` | an expression giving `&Registry`; default: [`Registry::global`] |
/// | `name = "payments.invoice"` | the operation's name in metrics; default: the module path and function name |
/// | `crate = "path"` | where this crate is, for crates that re-export it |
///
/// Durations are a whole number with a unit, `ms`, `s` or `m`, longer than zero and at most 24h
/// (`"1440m"`), the runtime's limit; for no wait at all, write `backoff = none`. Names
/// (`breaker`, `budget`, `name`) are 1 to 64 letters, digits, `_`, `-` or `.`.
///
/// A wrong value is a compile error pointing at it, with what to write instead; every mistake of
/// one attribute is reported in the same compile, and the function is still emitted unchanged so
/// the rest of the crate keeps compiling.
///
/// # Rules checked at compile time
/// Every value the runtime's validation ([`RetryConfig::build`]) would reject is a compile error,
/// since the policy the attribute builds is not validated again at run time:
/// - Each value's range, in the table above.
/// - `timeout` must not exceed `deadline`, and a `deadline` must leave room for the first
///   retry's shortest wait when `max_attempts > 1`.
/// - `timeout` and `deadline` need an `async fn`: a blocking call cannot be cut short from
///   outside.
/// - The return type must be a `Result<T, E>` (any alias) where `E: From<Error> + Classify`.
/// - Not on a `const fn`, nor on anything but a function.
///
/// The named breaker's and budget's settings are not in the attribute: they come from the
/// registry at run time, checked when it is built ([`RegistryBuilder::build`]).
///
/// # Cost
/// With the global registry, each function caches its breaker and budget handles in a `static`:
/// after the first call no map lookup and no allocation happens per call, but for one box the
/// first time a call waits (a retry, or an attempt pending under its `timeout` or `deadline`),
/// holding the call's timer, reused for its later waits (boxed so that the function's future
/// stays small enough for the compiler to inline its drop on the success path). With
/// `registry = ...` the handles are looked up on every call (a read lock and a hash), so keep
/// that for tests and multi-tenant code.
///
/// # With `#[async_trait]`
/// Put `#[async_trait]` on the impl block and `#[resilient]` on the method inside it:
///
/// ```
/// # use resilient_http::{Error, resilient};
/// use async_trait::async_trait;
///
/// #[async_trait]
/// trait Payments {
///     async fn invoice(&self, id: u64) -> Result<u64, Error>;
/// }
///
/// struct Client;
///
/// #[async_trait]
/// impl Payments for Client {
///     #[resilient(breaker = "payments")]
///     async fn invoice(&self, id: u64) -> Result<u64, Error> {
///         Ok(id)
///     }
/// }
/// ```
#[doc(inline)]
pub use resilient_http_macros::resilient;
