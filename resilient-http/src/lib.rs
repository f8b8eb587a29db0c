//! Retries, backoff with jitter, circuit breakers and retry budgets for HTTP API clients built
//! on [`reqwest`], declared rather than hand-written.
//!
//! # Two ways in
//! - [`Client`]: a resilient wrapper over `reqwest::Client` with reqwest's request-builder
//!   feel. Every request runs under a [`RetryPolicy`], a named [`Breaker`] and a
//!   [`RetryBudget`].
//! - [`Call`]: the same machinery around any async (or blocking) operation, for typed API
//!   clients whose methods do more than one request or decode what they get.
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
//! - `blocking`: [`blocking::Client`], the same client over `reqwest::blocking`.

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
mod policy;
mod registry;
mod retry_after;
mod status_set;

pub use backoff::{Backoff, Delays};
pub use breaker::{Breaker, BreakerConfig, BreakerState, Permit, Rejected, WindowConfig};
pub use budget::{BudgetConfig, RetryBudget};
pub use call::Call;
pub use classify::{Classification, Classify, GiveUp};
pub use client::{Client, ClientBuilder, RequestBuilder, error_for_status};
pub use clock::{Clock, ManualClock, TokioClock};
pub use error::{ConfigError, Error};
pub use jitter::Jitter;
pub use metrics::{
    AttemptOutcome, Event, EventKind, InMemorySink, MetricsSink, NoopSink, OperationStats,
    Snapshot, TracingSink, Transition,
};
pub use policy::{RetryConfig, RetryPolicy};
pub use registry::{Registry, RegistryBuilder, RegistryConfig};
pub use retry_after::parse as parse_retry_after;
pub use status_set::StatusSet;

pub use resilient_http_macros::resilient;
