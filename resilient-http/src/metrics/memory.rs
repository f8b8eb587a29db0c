//! An in-memory sink with counters and a latency summary, for tests and inspection.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{Event, EventKind, MetricsSink};
use crate::BreakerState;

/// Operations tracked by name; further names are folded into [`InMemorySink::OVERFLOW`], so a
/// caller that puts unbounded values in operation names cannot grow the sink without bound.
const MAX_OPERATIONS: usize = 256;
/// Transitions kept for inspection; older ones are dropped (the total is still counted).
const MAX_TRANSITIONS: usize = 256;

/// Counts events per operation and keeps the latest breaker transitions, in bounded memory.
///
/// ```
/// use std::sync::Arc;
/// use resilient_http::{InMemorySink, Registry};
///
/// let sink = Arc::new(InMemorySink::new());
/// let registry = Registry::builder().sink(sink.clone()).build()?;
/// # let _ = registry;
/// assert_eq!(sink.operation("payments.invoice").attempts, 0);
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
#[derive(Debug, Default)]
pub struct InMemorySink {
    inner: Mutex<Snapshot>,
}

/// What an [`InMemorySink`] has counted so far.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Counters per operation name.
    pub operations: BTreeMap<String, OperationStats>,
    /// The latest breaker transitions, oldest first.
    pub transitions: VecDeque<Transition>,
    /// All breaker transitions seen.
    pub transitions_total: u64,
}

/// Counters of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationStats {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts per outcome label (see [`AttemptOutcome::label`](crate::AttemptOutcome::label)).
    pub outcomes: BTreeMap<String, u64>,
    /// Retries scheduled.
    pub retries: u64,
    /// Calls that stopped retrying and returned an error.
    pub give_ups: u64,
    /// Calls rejected by an open breaker.
    pub rejections: u64,
    /// Retries refused by a spent budget.
    pub budget_exhaustions: u64,
    /// Attempt latencies.
    pub latency: LatencySummary,
}

/// Count, sum, minimum and maximum of attempt latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Attempts measured.
    pub count: u64,
    /// Their total duration.
    pub total: Duration,
    /// The shortest.
    pub min: Duration,
    /// The longest.
    pub max: Duration,
}

impl LatencySummary {
    fn add(&mut self, latency: Duration) {
        self.min = if self.count == 0 {
            latency
        } else {
            self.min.min(latency)
        };
        self.max = self.max.max(latency);
        self.total = self.total.saturating_add(latency);
        self.count += 1;
    }

    /// The mean latency, if any attempt was measured.
    pub fn mean(&self) -> Option<Duration> {
        let count = u32::try_from(self.count).unwrap_or(u32::MAX);
        (count > 0).then(|| self.total / count)
    }
}

/// One breaker transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The breaker's name.
    pub breaker: String,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
}

impl InMemorySink {
    /// The name under which operations beyond the first 256 are counted.
    pub const OVERFLOW: &'static str = "(other)";

    /// An empty sink.
    pub fn new() -> Self {
        InMemorySink::default()
    }

    /// A copy of everything counted so far.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    /// The counters of one operation (all zero if it was never seen).
    pub fn operation(&self, name: &str) -> OperationStats {
        self.lock()
            .operations
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// The latest transitions of one breaker, oldest first, as `(from, to)` pairs.
    pub fn transitions_of(&self, breaker: &str) -> Vec<(BreakerState, BreakerState)> {
        let inner = self.lock();
        let of_breaker = inner.transitions.iter().filter(|t| t.breaker == breaker);
        of_breaker.map(|t| (t.from, t.to)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        // Counters stay meaningful even if a panic interrupted an update.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MetricsSink for InMemorySink {
    fn record(&self, event: &Event<'_>) {
        let mut inner = self.lock();
        if let EventKind::BreakerStateChanged { from, to } = event.kind {
            inner.transitions_total += 1;
            if inner.transitions.len() == MAX_TRANSITIONS {
                inner.transitions.pop_front();
            }
            let breaker = event.breaker.unwrap_or_default().to_owned();
            inner
                .transitions
                .push_back(Transition { breaker, from, to });
            return;
        }
        let Some(operation) = event.operation else {
            return;
        };
        let operations = &mut inner.operations;
        let key = if operations.contains_key(operation) || operations.len() < MAX_OPERATIONS {
            operation
        } else {
            InMemorySink::OVERFLOW
        };
        // Look up by `&str` first: a known operation costs no allocation.
        if !operations.contains_key(key) {
            operations.insert(key.to_owned(), OperationStats::default());
        }
        let stats = operations.get_mut(key).expect("inserted above");
        match event.kind {
            EventKind::AttemptFinished {
                outcome, latency, ..
            } => {
                stats.attempts += 1;
                if outcome == crate::AttemptOutcome::Success {
                    stats.successes += 1;
                }
                let label = outcome.label();
                match stats.outcomes.get_mut(&*label) {
                    Some(count) => *count += 1,
                    None => {
                        stats.outcomes.insert(label.into_owned(), 1);
                    }
                }
                stats.latency.add(latency);
            }
            EventKind::RetryScheduled { .. } => stats.retries += 1,
            EventKind::GaveUp { .. } => stats.give_ups += 1,
            EventKind::CallRejected { .. } => stats.rejections += 1,
            EventKind::BudgetExhausted { .. } => stats.budget_exhaustions += 1,
            EventKind::BreakerStateChanged { .. } | EventKind::CallFinished { .. } => {}
        }
    }
}
