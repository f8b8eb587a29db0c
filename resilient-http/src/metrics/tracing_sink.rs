//! A sink that turns events into `tracing` events.

use super::{Event, EventKind, MetricsSink};
use crate::BreakerState;

/// Logs every call through [`tracing`], under the target `resilient_http`: one span per call,
/// and one event per attempt and per decision inside it.
///
/// The span is `resilient_call` at `info`, with the fields `operation` and `breaker`; the
/// call's attempts are polled inside it (so the wrapped code's own events nest under it) and
/// every event below is reported inside it.
///
/// Levels follow what an operator wants to see:
///
/// | event | level | fields |
/// |---|---|---|
/// | a breaker opened (or was forced open) | `warn` | `breaker`, `from`, `to` |
/// | a call gave up (attempts exhausted, deadline, budget, `Retry-After` too long, breaker open) | `warn` | `attempts`, `reason` |
/// | a retry budget refused a retry | `warn` | `budget` |
/// | a breaker closed | `info` | `breaker`, `from`, `to` |
/// | a failed attempt that will be retried | `debug` | `attempt`, `outcome` (with the status, for example `status_503`), `delay` before the next one |
/// | a call rejected by an open breaker | `debug` | `retry_in` |
/// | an attempt finished (any outcome) | `trace` | `attempt`, `outcome`, `latency` |
/// | a call finished | `trace` | `attempts`, `succeeded`, `duration` |
///
/// A failure is a `warn` only when it reaches the caller or changes what other calls see
/// (a give-up, an opened breaker, a spent budget); a failure the call recovers from is `debug`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl MetricsSink for TracingSink {
    fn call_span(&self, operation: &str, breaker: Option<&str>) -> tracing::Span {
        tracing::info_span!(
            target: "resilient_http",
            "resilient_call",
            operation,
            breaker = breaker.unwrap_or_default()
        )
    }

    fn record(&self, event: &Event<'_>) {
        let operation = event.operation.unwrap_or_default();
        let breaker = event.breaker.unwrap_or_default();
        match event.kind {
            EventKind::AttemptFinished {
                attempt,
                outcome,
                latency,
            } => tracing::trace!(
                target: "resilient_http", operation, breaker, attempt,
                outcome = %outcome.label(), ?latency, "attempt finished"
            ),
            EventKind::RetryScheduled {
                attempt,
                delay,
                reason,
            } => tracing::debug!(
                target: "resilient_http", operation, breaker, attempt, ?delay,
                reason = %reason.label(), "retry scheduled"
            ),
            EventKind::GaveUp { attempts, reason } => tracing::warn!(
                target: "resilient_http", operation, breaker, attempts, ?reason, "gave up"
            ),
            EventKind::CallRejected { retry_in } => tracing::debug!(
                target: "resilient_http", operation, breaker, ?retry_in,
                "call rejected by open breaker"
            ),
            EventKind::BreakerStateChanged { from, to } if to == BreakerState::Closed => {
                tracing::info!(target: "resilient_http", breaker, ?from, ?to, "breaker closed")
            }
            EventKind::BreakerStateChanged { from, to } => tracing::warn!(
                target: "resilient_http", breaker, ?from, ?to, "breaker state changed"
            ),
            EventKind::BudgetExhausted { budget } => tracing::warn!(
                target: "resilient_http", operation, breaker, budget, "retry budget exhausted"
            ),
            EventKind::CallFinished {
                attempts,
                succeeded,
                duration,
            } => tracing::trace!(
                target: "resilient_http", operation, breaker, attempts, succeeded, ?duration,
                "call finished"
            ),
        }
    }
}
