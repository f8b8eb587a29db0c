//! Metrics hooks: typed events about every attempt, retry, give-up, rejection and breaker
//! transition, delivered to a [`MetricsSink`].
//!
//! Events name the operation and the breaker, never a URL, a query string or credentials, so
//! they are safe to turn into metric labels and logs.

mod background;
#[cfg(feature = "metrics")]
mod facade;
pub mod instruments;
mod memory;
#[cfg(feature = "opentelemetry")]
mod opentelemetry;
#[cfg(feature = "prometheus")]
mod prometheus;
mod tracing_sink;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

pub use background::BackgroundSink;
#[cfg(feature = "metrics")]
pub use facade::MetricsFacadeSink;
pub use memory::{InMemorySink, OperationStats, Snapshot, Transition};
#[cfg(feature = "opentelemetry")]
pub use opentelemetry::OpenTelemetrySink;
#[cfg(feature = "prometheus")]
pub use prometheus::PrometheusSink;
pub use tracing_sink::TracingSink;

use crate::{BreakerState, Classification, GiveUp};

/// Receives the runtime's events.
///
/// Called inline on the calling task, so keep it cheap; state changes of breakers and budgets
/// are complete before a sink sees them, and a sink that panics is contained (the panic is
/// logged once and the event, or the span, dropped), so it cannot corrupt them.
///
/// A breaker reports each transition while it still holds its transition lock, so a sink sees
/// one breaker's transitions in the order they were made. From inside `record`, a sink must
/// therefore not change a breaker's state by hand ([`Breaker::force_open`](crate::Breaker::force_open),
/// `disable`, `reset`): that would wait on the lock it is called under.
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Handles one event.
    fn record(&self, event: &Event<'_>);

    /// Whether this sink wants events at all. When `false` the runtime skips building them,
    /// and the clock reads that latencies need, on the success path. Asked once when the sink
    /// is given to a [`Call`](crate::Call), not per event: the answer should not change.
    ///
    /// It must not panic. A breaker or a `Client` that asks it treats a panic as `false`; a
    /// [`Call`](crate::Call) given the sink asks it on the caller's path, outside any
    /// containment (which would cost every call), so a panic there reaches the code building
    /// the call, before the call starts.
    fn enabled(&self) -> bool {
        true
    }

    /// The `tracing` span a call of `operation` runs in, asked once per call when the sink is
    /// [`enabled`](MetricsSink::enabled): the call's attempts are polled inside it and its
    /// events are reported inside it. The default is no span; [`TracingSink`] opens one. If it
    /// panics, the call runs without a span.
    fn call_span(&self, operation: &str, breaker: Option<&str>) -> tracing::Span {
        let _ = (operation, breaker);
        tracing::Span::none()
    }
}

/// One thing that happened during a resilient call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<'a> {
    /// The operation's name (for example `payments.invoice`); `None` for breaker transitions
    /// made by hand.
    pub operation: Option<&'a str>,
    /// The breaker guarding the call, if any.
    pub breaker: Option<&'a str>,
    /// What happened.
    pub kind: EventKind<'a>,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum EventKind<'a> {
    /// An attempt finished.
    AttemptFinished {
        /// The attempt's number, 1 for the first.
        attempt: u32,
        /// How it ended.
        outcome: AttemptOutcome,
        /// How long it took (zero when the runtime did not need to read the clock).
        latency: Duration,
    },
    /// A retry will start after `delay`.
    RetryScheduled {
        /// The number of the attempt that failed.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// How the failed attempt ended.
        reason: AttemptOutcome,
    },
    /// The call stopped retrying and returned an error.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Why it stopped.
        reason: GiveUp<'a>,
    },
    /// An open breaker rejected the call without touching the network.
    CallRejected {
        /// How long until the breaker may admit a probe.
        retry_in: Duration,
    },
    /// A breaker changed state.
    BreakerStateChanged {
        /// The state it left.
        from: BreakerState,
        /// The state it entered.
        to: BreakerState,
    },
    /// A retry was refused because the retry budget is spent.
    BudgetExhausted {
        /// The budget's name.
        budget: &'a str,
    },
    /// A call that made at least one attempt returned: it succeeded, or it stopped (gave up, or
    /// its breaker opened before a retry). A call rejected before its first attempt reports
    /// only [`CallRejected`](EventKind::CallRejected).
    CallFinished {
        /// Attempts made.
        attempts: u32,
        /// Whether it returned a success.
        succeeded: bool,
        /// From the start of its first attempt to its return.
        duration: Duration,
    },
}

/// How one attempt ended, with a bounded set of values fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It succeeded.
    Success,
    /// The server answered with an error status.
    Status(StatusCode),
    /// No connection could be made.
    ConnectFailed,
    /// The transport failed after the request may have been sent.
    TransportFailed,
    /// The attempt took longer than its timeout.
    TimedOut,
    /// Another error, not worth retrying.
    Failed,
}

impl AttemptOutcome {
    pub(crate) fn of(classification: Classification) -> Self {
        match classification {
            Classification::Success => AttemptOutcome::Success,
            Classification::Status { status, .. } => AttemptOutcome::Status(status),
            Classification::NotSent => AttemptOutcome::ConnectFailed,
            Classification::Transient => AttemptOutcome::TransportFailed,
            Classification::Permanent { .. } => AttemptOutcome::Failed,
        }
    }

    /// A short, stable name: `success`, `status_503`, `connect_failed`, `transport_failed`,
    /// `timed_out`, `failed`.
    pub fn label(&self) -> std::borrow::Cow<'static, str> {
        match self {
            AttemptOutcome::Success => "success".into(),
            AttemptOutcome::Status(status) => format!("status_{}", status.as_u16()).into(),
            AttemptOutcome::ConnectFailed => "connect_failed".into(),
            AttemptOutcome::TransportFailed => "transport_failed".into(),
            AttemptOutcome::TimedOut => "timed_out".into(),
            AttemptOutcome::Failed => "failed".into(),
        }
    }
}

/// A sink that drops everything and tells the runtime not to build events at all.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSink;

impl MetricsSink for NoopSink {
    fn record(&self, _event: &Event<'_>) {}

    fn enabled(&self) -> bool {
        false
    }
}

/// Whether `sink` wants events; not if it panics when asked. Off the success path only: the
/// containment costs a `Call` that asks it about 14 instructions and 8 stores.
pub(crate) fn is_enabled(sink: &dyn MetricsSink) -> bool {
    contain(sink, || sink.enabled()).unwrap_or(false)
}

/// Delivers `event` to `sink`, containing a panicking sink.
pub(crate) fn emit(sink: &dyn MetricsSink, event: Event<'_>) {
    contain(sink, || sink.record(&event));
}

/// The span `sink` opens for a call of `operation`; no span if the sink panics.
pub(crate) fn call_span(
    sink: &dyn MetricsSink,
    operation: &str,
    breaker: Option<&str>,
) -> tracing::Span {
    contain(sink, || sink.call_span(operation, breaker)).unwrap_or_else(tracing::Span::none)
}

/// Runs `f`, a call into `sink`, and contains its panic: a sink is the user's code, and
/// unwinding out of it would leave the call, and what it holds of the breaker and the budget,
/// half done. The first panic is reported, the rest are dropped silently.
fn contain<R>(sink: &dyn MetricsSink, f: impl FnOnce() -> R) -> Option<R> {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let result = catch_unwind(AssertUnwindSafe(f));
    if result.is_err() && !REPORTED.swap(true, Ordering::Relaxed) {
        tracing::error!(
            sink = ?sink,
            "a metrics sink panicked; what it was asked for was dropped (reported once)"
        );
    }
    result.ok()
}
