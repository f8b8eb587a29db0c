//! Registries and sinks shared by the async and the blocking client's tests, so that both run
//! against exactly the same set-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilient_http::{
    Backoff, BudgetConfig, Event, EventKind, InMemorySink, Jitter, ManualClock, MetricsSink,
    Registry, RegistryConfig, RetryConfig, RetryPolicy,
};

/// Three attempts, waits of 5ms, 10ms, ... up to 10s (so a `Retry-After` of up to 10s is
/// honoured), no jitter: any wait of a second or more can only come from `Retry-After`.
pub(crate) fn retry_after_policy() -> RetryConfig {
    RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(5),
            2.0,
            Duration::from_secs(10),
        ))
        .jitter(Jitter::None)
}

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

    /// Asserts that one retry was scheduled, for a `Retry-After` date written two seconds ahead
    /// (`httpdate::fmt_http_date(SystemTime::now() + 2s)`), and that the call, `elapsed` long,
    /// waited it out. The date has whole seconds, so truncated it is still over a second ahead,
    /// and the wait is measured from when the response arrived: a little under two seconds.
    pub(crate) fn assert_waited_for_a_date_two_seconds_ahead(&self, elapsed: Duration) {
        let delays = self.delays();
        assert_eq!(delays.len(), 1, "{delays:?}");
        assert!(
            delays[0] > Duration::from_millis(500) && delays[0] <= Duration::from_secs(2),
            "{delays:?}"
        );
        assert!(elapsed >= delays[0], "{elapsed:?} < {delays:?}");
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
    observed_registry(RegistryConfig {
        budgets: HashMap::from([("tight".to_owned(), budget)]),
        ..RegistryConfig::default()
    })
}

/// A registry built from `config`, on a manual clock (returned, to move it), reporting to an
/// in-memory sink (returned, to read it).
pub(crate) fn observed_registry(
    config: RegistryConfig,
) -> (Registry, ManualClock, Arc<InMemorySink>) {
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder()
        .config(config)
        .clock(Arc::new(clock.clone()))
        .sink(sink.clone())
        .build()
        .expect("a valid registry");
    (registry, clock, sink)
}
