//! What a place that makes many calls keeps for them: the breaker, the budget and the sink.

use std::sync::Arc;

use super::Call;
use crate::metrics::{self, MetricsSink};
use crate::{Breaker, Registry, RetryBudget, RetryPolicy};

/// The breaker, budget and sink of a `Client`, a [`CallSite`](super::CallSite) or a
/// `#[resilient]` call site, looked up once, with the sink's
/// [`enabled`](MetricsSink::enabled) asked once rather than by every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Handles {
    pub(crate) breaker: Option<Arc<Breaker>>,
    pub(super) budget: Option<Arc<RetryBudget>>,
    /// The sink, if it is enabled.
    sink: Option<Arc<dyn MetricsSink>>,
}

impl Handles {
    /// The named breaker and budget of `registry`, and its sink.
    pub(crate) fn resolve(
        registry: &Registry,
        breaker: Option<&str>,
        budget: Option<&str>,
    ) -> Self {
        let mut handles = Handles {
            breaker: breaker.map(|name| registry.breaker(name)),
            budget: budget.map(|name| registry.budget(name)),
            sink: None,
        };
        handles.set_sink(registry.sink().clone());
        handles
    }

    /// Reports to `sink`, if it is enabled.
    pub(super) fn set_sink(&mut self, sink: Arc<dyn MetricsSink>) {
        self.sink = metrics::is_enabled(&*sink).then_some(sink);
    }

    /// A call named `operation` under `policy` with these handles.
    #[inline]
    pub(crate) fn call<'a>(
        &'a self,
        operation: &'a str,
        policy: &'a RetryPolicy,
        idempotent: bool,
    ) -> Call<'a> {
        Call {
            operation,
            policy,
            breaker: self.breaker.as_deref(),
            budget: self.budget.as_deref(),
            sink: self.sink.as_deref(),
            idempotent,
        }
    }
}
