//! What a place that makes many calls keeps for them: the breaker, the budget and the sink.

use std::sync::Arc;

use super::Call;
use crate::metrics::{self, MetricsSink};
use crate::{Breaker, Registry, RetryBudget, RetryPolicy};

/// The breaker, budget and sink of a `Client` or a `#[resilient]` call site, looked up once,
/// with the sink's [`enabled`](MetricsSink::enabled) asked once rather than by every call.
#[derive(Debug)]
pub(crate) struct Handles {
    pub(crate) breaker: Option<Arc<Breaker>>,
    budget: Option<Arc<RetryBudget>>,
    /// The registry's sink, if it is enabled.
    sink: Option<Arc<dyn MetricsSink>>,
}

impl Handles {
    /// The named breaker and budget of `registry`, and its sink.
    pub(crate) fn resolve(
        registry: &Registry,
        breaker: Option<&str>,
        budget: Option<&str>,
    ) -> Self {
        let sink = registry.sink();
        Handles {
            breaker: breaker.map(|name| registry.breaker(name)),
            budget: budget.map(|name| registry.budget(name)),
            sink: metrics::is_enabled(&**sink).then(|| sink.clone()),
        }
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
