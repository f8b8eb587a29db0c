//! Registries and sinks shared by the async and the blocking client's tests, so that both run
//! against exactly the same set-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilient_http::{
    BudgetConfig, Event, EventKind, InMemorySink, ManualClock, MetricsSink, Registry,
    RegistryConfig,
};

/// Keeps the delay of every scheduled retry, and counts everything else in memory.
#[derive(Debug, Default)]
pub(crate) struct RetryDelays {
    delays: Mutex<Vec<Duration>>,
    pub(crate) memory: InMemorySink,
}

impl RetryDelays {
    pub(crate) fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

impl MetricsSink for RetryDelays {
    fn record(&self, event: &Event<'_>) {
        if let EventKind::RetryScheduled { delay, .. } = event.kind {
            self.delays.lock().unwrap().push(delay);
        }
        self.memory.record(event);
    }
}

/// A registry whose budget `tight` starts with a single token, earns nothing from traffic and
/// refills one token a second on a manual clock, reporting to an in-memory sink.
pub(crate) fn tight_budget() -> (Registry, ManualClock, Arc<InMemorySink>) {
    let budget = BudgetConfig {
        retry_ratio: 0.0,
        min_retries_per_second: 1,
        ..BudgetConfig::new()
    };
    let config = RegistryConfig {
        budgets: HashMap::from([("tight".to_owned(), budget)]),
        ..RegistryConfig::default()
    };
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder()
        .config(config)
        .clock(Arc::new(clock.clone()))
        .sink(sink.clone())
        .build()
        .unwrap();
    (registry, clock, sink)
}
