//! A sink that turns events into `tracing` events.

use super::{Event, EventKind, MetricsSink};
use crate::BreakerState;

/// Logs every event through [`tracing`], under the target `resilient_http`.
///
/// Levels follow what an operator wants to see: a breaker opening, a give-up and a spent budget
/// are `warn`; a breaker closing is `info`; retries and rejections are `debug`; each attempt is
/// `trace`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl MetricsSink for TracingSink {
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
        }
    }
}
