//! Metrics: the events a call reports (attempts, outcomes, retries, give-ups, rejections, spent
//! budgets, latencies), as counted by `InMemorySink` and logged by `TracingSink`, and the rule
//! that events name operations, never URLs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    AttemptOutcome, BackgroundSink, Backoff, Breaker, BreakerConfig, BreakerState, BudgetConfig,
    Call, Client, Error, Event, EventKind, InMemorySink, Jitter, ManualClock, MetricsSink,
    Registry, RegistryConfig, RetryPolicy, TracingSink,
};
use tracing::Level;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn status(code: u16) -> Error {
    Error::Status {
        status: StatusCode::from_u16(code).unwrap(),
        retry_after: None,
        attempts: 1,
    }
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(ms(10)))
        .jitter(Jitter::None)
        .build()
        .unwrap()
}

/// Runs a call named `operation` reporting to `sink`, whose attempts fail with the errors of
/// `script` in turn and then succeed.
async fn run_script(
    operation: &str,
    policy: &RetryPolicy,
    sink: &dyn MetricsSink,
    script: Vec<Error>,
) -> Result<(), Error> {
    let mut script = script.into_iter();
    Call::new(operation, policy)
        .sink(sink)
        .run(|| {
            let outcome = script.next().map_or(Ok(()), Err);
            async move { outcome }
        })
        .await
}

fn outcomes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_call_reports_its_attempts_and_their_outcomes() {
    let sink = InMemorySink::new();

    let result = run_script(
        "inventory.count",
        &policy(5),
        &sink,
        vec![status(503), status(429)],
    )
    .await;

    assert!(result.is_ok());
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.attempts, 3);
    assert_eq!(stats.successes, 1);
    assert_eq!(
        stats.outcomes,
        outcomes(&[("status_429", 1), ("status_503", 1), ("success", 1)])
    );
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.give_ups, 0);
    assert_eq!(stats.rejections, 0);
    assert_eq!(stats.budget_exhaustions, 0);
    assert_eq!(stats.latency.count, 3);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_runs_out_of_attempts_reports_a_give_up() {
    let sink = InMemorySink::new();

    let result = run_script(
        "inventory.count",
        &policy(3),
        &sink,
        (0..5).map(|_| status(503)).collect(),
    )
    .await;

    assert!(result.is_err());
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.attempts, 3);
    assert_eq!(stats.successes, 0);
    assert_eq!(stats.outcomes, outcomes(&[("status_503", 3)]));
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.give_ups, 1);
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_are_reported_as_such() {
    let sink = InMemorySink::new();
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .backoff(Backoff::None)
        .attempt_timeout(ms(100))
        .build()
        .unwrap();

    let result: Result<(), Error> = Call::new("inventory.count", &policy)
        .sink(&sink)
        .run(std::future::pending)
        .await;

    assert!(matches!(result, Err(Error::AttemptTimeout { .. })));
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.outcomes, outcomes(&[("timed_out", 2)]));
    assert_eq!(stats.give_ups, 1);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_reports_a_rejection_and_no_attempt() {
    let sink = InMemorySink::new();
    let breaker = Breaker::new("inventory", BreakerConfig::new()).unwrap();
    breaker.force_open();

    let result: Result<(), Error> = Call::new("inventory.count", &policy(3))
        .breaker(&breaker)
        .sink(&sink)
        .run(|| async { Ok(()) })
        .await;

    assert!(matches!(result, Err(Error::CircuitOpen { .. })));
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.rejections, 1);
    assert_eq!(stats.attempts, 0);
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_reports_a_budget_exhaustion() {
    let clock = ManualClock::new();
    let registry = Registry::builder()
        .config(RegistryConfig {
            budget: BudgetConfig {
                retry_ratio: 0.0,
                min_retries_per_second: 1,
                ..BudgetConfig::new()
            },
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    let budget = registry.budget("inventory");
    let sink = InMemorySink::new();

    let result: Result<(), Error> = Call::new("inventory.count", &policy(5))
        .budget(&budget)
        .sink(&sink)
        .run(|| async { Err(status(503)) })
        .await;

    assert!(matches!(result, Err(Error::BudgetExhausted { .. })));
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.budget_exhaustions, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.give_ups, 1);
}

/// A sink that panics whenever the runtime calls into it: on every event, and when it is asked
/// for a call's span.
#[derive(Debug, Default)]
struct PanickingSink {
    events: AtomicUsize,
    spans: AtomicUsize,
}

impl MetricsSink for PanickingSink {
    fn record(&self, _event: &Event<'_>) {
        self.events.fetch_add(1, Ordering::Relaxed);
        panic!("this sink panics on every event");
    }

    fn call_span(&self, _operation: &str, _breaker: Option<&str>) -> tracing::Span {
        self.spans.fetch_add(1, Ordering::Relaxed);
        panic!("this sink panics when asked for a span");
    }
}

/// Three calls reporting to `sink` whose every attempt fails with a 503, under a breaker that
/// opens after three failures in a row and a budget that allows one retry: between them they
/// retry, spend the budget, give up, trip the breaker and are rejected by it. Returns each
/// call's result, and the state the breaker and the budget are left in.
async fn a_failing_streak(sink: &dyn MetricsSink) -> (Vec<String>, BreakerState, f64) {
    let registry = Registry::builder()
        .config(RegistryConfig {
            breaker: BreakerConfig {
                consecutive_failures: Some(3),
                ..BreakerConfig::new()
            },
            budget: BudgetConfig {
                retry_ratio: 0.0,
                min_retries_per_second: 1,
                ..BudgetConfig::new()
            },
            ..RegistryConfig::default()
        })
        .clock(Arc::new(ManualClock::new()))
        .build()
        .unwrap();
    let (breaker, budget) = (registry.breaker("inventory"), registry.budget("inventory"));
    let mut results = Vec::new();
    for _ in 0..3 {
        let result: Result<(), Error> = Call::new("inventory.count", &policy(5))
            .breaker(&breaker)
            .budget(&budget)
            .sink(sink)
            .run(|| async { Err(status(503)) })
            .await;
        results.push(format!("{result:?}"));
    }
    (results, breaker.state(), budget.balance())
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_changes_nothing_but_the_events() {
    let quiet = a_failing_streak(&InMemorySink::new()).await;
    let sink = PanickingSink::default();
    let loud = a_failing_streak(&sink).await;

    assert_eq!(loud, quiet);
    assert_eq!(quiet.1, BreakerState::Open);
    assert!(quiet.0[0].contains("BudgetExhausted"), "{:?}", quiet.0);
    assert!(quiet.0[2].contains("CircuitOpen"), "{:?}", quiet.0);
    // Asked for a span by each call and told of every event, it panicked each time.
    assert_eq!(sink.spans.load(Ordering::Relaxed), 3);
    assert!(sink.events.load(Ordering::Relaxed) > 0);
}

#[tokio::test(start_paused = true)]
async fn attempt_latencies_are_summarised() {
    let sink = InMemorySink::new();
    let mut attempts = 0u64;

    let result: Result<(), Error> = Call::new("inventory.count", &policy(3))
        .sink(&sink)
        .run(|| {
            attempts += 1;
            let (took, outcome) = (ms(100 * attempts), attempts);
            async move {
                tokio::time::sleep(took).await;
                if outcome < 3 {
                    Err(status(503))
                } else {
                    Ok(())
                }
            }
        })
        .await;

    assert!(result.is_ok());
    let latency = sink.operation("inventory.count").latency;
    assert_eq!(latency.count, 3);
    assert!(
        latency.min >= ms(100) && latency.min < ms(105),
        "{latency:?}"
    );
    assert!(
        latency.max >= ms(300) && latency.max < ms(305),
        "{latency:?}"
    );
    assert!(
        latency.total >= ms(600) && latency.total < ms(615),
        "{latency:?}"
    );
    let mean = latency.mean().unwrap();
    assert!(mean >= ms(200) && mean < ms(205), "{mean:?}");
}

#[tokio::test(start_paused = true)]
async fn operations_are_counted_apart() {
    let sink = InMemorySink::new();

    run_script("inventory.count", &policy(3), &sink, vec![status(503)])
        .await
        .unwrap();
    run_script("orders.list", &policy(3), &sink, vec![])
        .await
        .unwrap();

    assert_eq!(sink.operation("inventory.count").attempts, 2);
    assert_eq!(sink.operation("orders.list").attempts, 1);
    assert_eq!(sink.operation("never.called").attempts, 0);
    let names: Vec<_> = sink.snapshot().operations.into_keys().collect();
    assert_eq!(names, ["inventory.count", "orders.list"]);
}

#[test]
fn operation_names_beyond_256_are_folded_into_one() {
    let sink = InMemorySink::new();
    let names: Vec<String> = (0..300).map(|i| format!("op.{i}")).collect();
    for name in &names {
        sink.record(&Event {
            operation: Some(name),
            breaker: None,
            kind: EventKind::AttemptFinished {
                attempt: 1,
                outcome: AttemptOutcome::Success,
                latency: ms(1),
            },
        });
    }

    let snapshot = sink.snapshot();
    assert_eq!(snapshot.operations.len(), 257);
    assert_eq!(sink.operation("op.255").attempts, 1);
    assert_eq!(sink.operation("op.256").attempts, 0);
    assert_eq!(sink.operation(InMemorySink::OVERFLOW).attempts, 44);
}

/// An owned copy of the events a sink received, for checking their order and content.
#[derive(Debug, Default)]
struct RecordingSink {
    events: Mutex<Vec<String>>,
}

impl RecordingSink {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl MetricsSink for RecordingSink {
    fn record(&self, event: &Event<'_>) {
        let summary = match event.kind {
            EventKind::AttemptFinished {
                attempt, outcome, ..
            } => format!("attempt {attempt}: {}", outcome.label()),
            EventKind::RetryScheduled { attempt, delay, .. } => {
                format!("retry after {attempt} in {delay:?}")
            }
            EventKind::GaveUp { attempts, reason } => {
                format!("gave up after {attempts}: {reason:?}")
            }
            EventKind::CallRejected { .. } => "rejected".to_owned(),
            EventKind::BudgetExhausted { budget } => format!("budget {budget} spent"),
            EventKind::BreakerStateChanged { from, to } => format!("{from:?} -> {to:?}"),
            EventKind::CallFinished {
                attempts,
                succeeded,
                duration,
            } => format!("finished after {attempts} in {duration:?}, succeeded: {succeeded}"),
            _ => format!("{:?}", event.kind),
        };
        let line = format!(
            "[{} {}] {summary} | {event:?}",
            event.operation.unwrap_or("-"),
            event.breaker.unwrap_or("-"),
        );
        self.events.lock().unwrap().push(line);
    }
}

/// The summaries of `events`, without the full `Debug` of each.
fn summaries(events: &[String]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.split(" | ").next().unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn events_arrive_in_order_with_the_operation_and_breaker_names() {
    let sink = RecordingSink::default();
    let config = BreakerConfig {
        consecutive_failures: Some(2),
        ..BreakerConfig::new()
    };
    let registry = Registry::builder()
        .config(RegistryConfig {
            breaker: config,
            ..RegistryConfig::default()
        })
        .sink(Arc::new(InMemorySink::new()))
        .build()
        .unwrap();
    let breaker = registry.breaker("inventory");

    let result: Result<(), Error> = Call::new("inventory.count", &policy(3))
        .breaker(&breaker)
        .sink(&sink)
        .run(|| async { Err(status(503)) })
        .await;

    assert!(matches!(result, Err(Error::Status { attempts: 2, .. })));
    assert_eq!(
        summaries(&sink.events()),
        [
            "[inventory.count inventory] attempt 1: status_503",
            "[inventory.count inventory] retry after 1 in 10ms",
            "[inventory.count inventory] attempt 2: status_503",
            "[inventory.count inventory] gave up after 2: CircuitOpen",
            "[inventory.count inventory] finished after 2 in 10ms, succeeded: false",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn breaker_transitions_reach_the_registry_sink() {
    let sink = Arc::new(InMemorySink::new());
    let config = BreakerConfig {
        consecutive_failures: Some(2),
        ..BreakerConfig::new()
    };
    let registry = Registry::builder()
        .config(RegistryConfig {
            breaker: config,
            ..RegistryConfig::default()
        })
        .sink(sink.clone())
        .build()
        .unwrap();
    let breaker = registry.breaker("inventory");

    let _: Result<(), Error> = Call::new("inventory.count", &policy(3))
        .breaker(&breaker)
        .sink(&**registry.sink())
        .run(|| async { Err(status(503)) })
        .await;

    assert_eq!(
        sink.transitions_of("inventory"),
        [(BreakerState::Closed, BreakerState::Open)]
    );
    // The call that tripped the breaker stops at once: it gives up, it is not rejected.
    let stats = sink.operation("inventory.count");
    assert_eq!(
        (stats.attempts, stats.give_ups, stats.rejections),
        (2, 1, 0)
    );
}

#[tokio::test]
async fn client_events_name_the_operation_never_the_url() {
    let sink = Arc::new(RecordingSink::default());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let client = Client::builder()
        .registry(&registry)
        .breaker("orders")
        .operation("orders.get")
        .build()
        .unwrap();

    // reqwest refuses the scheme before opening any connection, so no socket is needed.
    let url = "ftp://user:hunter2@orders.example.invalid/v1/orders/42?token=s3cr3t";
    let result = client.get(url).send().await;

    assert!(result.is_err());
    let events = sink.events();
    assert!(!events.is_empty(), "the attempt was not reported");
    for event in &events {
        assert!(event.starts_with("[orders.get orders]"), "{event}");
        for part in [
            "ftp",
            "://",
            "hunter2",
            "example",
            "/v1/orders",
            "token",
            "s3cr3t",
        ] {
            assert!(!event.contains(part), "{part:?} leaked into {event}");
        }
    }
}

#[test]
fn attempt_outcome_labels_are_stable() {
    let labels: Vec<_> = [
        AttemptOutcome::Success,
        AttemptOutcome::Status(StatusCode::SERVICE_UNAVAILABLE),
        AttemptOutcome::ConnectFailed,
        AttemptOutcome::TransportFailed,
        AttemptOutcome::TimedOut,
        AttemptOutcome::Failed,
    ]
    .iter()
    .map(|outcome| outcome.label().into_owned())
    .collect();
    assert_eq!(
        labels,
        [
            "success",
            "status_503",
            "connect_failed",
            "transport_failed",
            "timed_out",
            "failed"
        ]
    );
}

// `TracingSink`, observed through a `tracing-subscriber` layer that keeps every event.

/// One `tracing` event: its level, target and fields (`message` included), and the span it was
/// reported in (its name and fields), if any.
#[derive(Debug, Clone)]
struct Logged {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
    span: Option<Opened>,
}

/// A span, as it was opened.
#[derive(Debug, Clone, PartialEq)]
struct Opened {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl Logged {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default)]
struct Capture {
    logged: Arc<Mutex<Vec<Logged>>>,
    spans: Arc<Mutex<BTreeMap<u64, Opened>>>,
}

impl Capture {
    fn logged(&self) -> Vec<Logged> {
        self.logged.lock().unwrap().clone()
    }

    /// Every span opened, in the order they were opened.
    fn spans(&self) -> Vec<Opened> {
        self.spans.lock().unwrap().values().cloned().collect()
    }

    /// The event whose message is `message`.
    fn find(&self, message: &str) -> Logged {
        let logged = self.logged();
        logged
            .iter()
            .find(|l| l.field("message") == Some(message))
            .cloned()
            .unwrap_or_else(|| panic!("no {message:?} event in {logged:#?}"))
    }

    /// Runs `f` with this capture as the thread's subscriber.
    fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::with_default(subscriber, f)
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let opened = Opened {
            name: attrs.metadata().name(),
            fields: fields.0,
        };
        self.spans.lock().unwrap().insert(id.into_u64(), opened);
    }

    fn on_event(&self, event: &tracing::Event<'_>, context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = context.event_span(event).and_then(|span| {
            self.spans
                .lock()
                .unwrap()
                .get(&span.id().into_u64())
                .cloned()
        });
        self.logged.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
            span,
        });
    }
}

/// Runs a blocking call of `inventory.count` that fails twice with a 503, logged by
/// `TracingSink`.
fn failing_call_logged_by_tracing() -> Capture {
    let capture = Capture::default();
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .backoff(Backoff::None)
        .build()
        .unwrap();
    let result: Result<(), Error> = capture.during(|| {
        Call::new("inventory.count", &policy)
            .sink(&TracingSink)
            .run_blocking(|_| Err(status(503)))
    });
    assert!(result.is_err());
    capture
}

#[test]
fn tracing_sink_logs_a_give_up_at_warn_with_the_operation() {
    let gave_up = failing_call_logged_by_tracing().find("gave up");

    assert_eq!(gave_up.level, Level::WARN);
    assert_eq!(gave_up.target, "resilient_http");
    assert_eq!(gave_up.field("operation"), Some("inventory.count"));
    assert_eq!(gave_up.field("attempts"), Some("2"));
}

#[test]
fn tracing_sink_logs_retries_at_debug_and_attempts_at_trace() {
    let capture = failing_call_logged_by_tracing();

    let retry = capture.find("retry scheduled");
    assert_eq!(retry.level, Level::DEBUG);
    assert_eq!(retry.field("operation"), Some("inventory.count"));
    assert_eq!(retry.field("reason"), Some("status_503"));

    let attempts: Vec<_> = capture
        .logged()
        .into_iter()
        .filter(|l| l.field("message") == Some("attempt finished"))
        .collect();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|l| l.level == Level::TRACE));
    assert!(
        attempts
            .iter()
            .all(|l| l.field("outcome") == Some("status_503"))
    );
}

#[test]
fn tracing_sink_logs_breaker_transitions_with_the_breaker_name() {
    let capture = Capture::default();
    capture.during(|| {
        let registry = Registry::builder()
            .sink(Arc::new(TracingSink))
            .build()
            .unwrap();
        let breaker = registry.breaker("payments");
        breaker.force_open();
        breaker.reset();
    });

    let opened = capture.find("breaker state changed");
    assert_eq!(opened.level, Level::WARN);
    assert_eq!(opened.field("breaker"), Some("payments"));
    assert_eq!(opened.field("to"), Some("ForcedOpen"));
    let closed = capture.find("breaker closed");
    assert_eq!(closed.level, Level::INFO);
    assert_eq!(closed.field("breaker"), Some("payments"));
}

#[test]
fn tracing_sink_logs_a_spent_budget_at_warn() {
    let capture = Capture::default();
    let clock = ManualClock::new();
    let registry = Registry::builder()
        .config(RegistryConfig {
            budget: BudgetConfig {
                retry_ratio: 0.0,
                min_retries_per_second: 1,
                ..BudgetConfig::new()
            },
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    let budget = registry.budget("inventory");
    let policy = RetryPolicy::builder()
        .max_attempts(5)
        .backoff(Backoff::None)
        .build()
        .unwrap();

    let _: Result<(), Error> = capture.during(|| {
        Call::new("inventory.count", &policy)
            .budget(&budget)
            .sink(&TracingSink)
            .run_blocking(|_| Err(status(503)))
    });

    let spent = capture.find("retry budget exhausted");
    assert_eq!(spent.level, Level::WARN);
    assert_eq!(spent.field("budget"), Some("inventory"));
    assert_eq!(spent.field("operation"), Some("inventory.count"));
}

/// The span `TracingSink` opens for a call of `inventory.count` without a breaker.
fn inventory_call_span() -> Opened {
    Opened {
        name: "resilient_call",
        fields: BTreeMap::from([
            ("breaker".to_owned(), String::new()),
            ("operation".to_owned(), "inventory.count".to_owned()),
        ]),
    }
}

#[test]
fn tracing_sink_reports_a_call_inside_one_span_named_after_it() {
    let capture = failing_call_logged_by_tracing();

    assert_eq!(capture.spans(), vec![inventory_call_span()]);
    let logged = capture.logged();
    let decisions: Vec<_> = logged
        .iter()
        .filter(|l| l.target == "resilient_http")
        .collect();
    assert_eq!(decisions.len(), 5, "{decisions:#?}");
    for event in decisions {
        assert_eq!(event.span, Some(inventory_call_span()), "{event:#?}");
    }
}

#[test]
fn the_wrapped_code_logs_inside_the_call_span() {
    let capture = Capture::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    capture.during(|| {
        runtime.block_on(async {
            let result: Result<(), Error> = Call::new("inventory.count", &policy(1))
                .sink(&TracingSink)
                .run(|| async {
                    tracing::info!("inside the attempt");
                    Ok(())
                })
                .await;
            result.unwrap();
        });
    });

    assert_eq!(
        capture.find("inside the attempt").span,
        Some(inventory_call_span())
    );
}

#[resilient_http::resilient(max_attempts = 2, backoff = none, name = "inventory.count", registry = registry)]
async fn count_inventory(registry: &Registry) -> Result<u32, Error> {
    tracing::info!("counting");
    Err(status(503))
}

#[test]
fn a_resilient_method_logs_inside_the_call_span_too() {
    let capture = Capture::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    capture.during(|| {
        let registry = Registry::builder()
            .sink(Arc::new(TracingSink))
            .build()
            .unwrap();
        let result = runtime.block_on(count_inventory(&registry));
        assert!(result.is_err());
    });

    assert_eq!(capture.spans(), vec![inventory_call_span()]);
    let counted: Vec<_> = capture
        .logged()
        .into_iter()
        .filter(|l| l.field("message") == Some("counting"))
        .collect();
    assert_eq!(counted.len(), 2);
    assert!(
        counted
            .iter()
            .all(|l| l.span == Some(inventory_call_span()))
    );
}

/// A sink that stops at its first event until the test lets it go, then records summaries.
#[derive(Debug)]
struct StuckSink {
    reached: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
    recorded: Mutex<Vec<String>>,
}

impl MetricsSink for StuckSink {
    fn record(&self, event: &Event<'_>) {
        let first = self.recorded.lock().unwrap().is_empty();
        self.recorded
            .lock()
            .unwrap()
            .push(format!("{:?}", event.kind));
        if first {
            self.reached.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
    }
}

#[test]
fn a_stuck_sink_behind_a_background_sink_never_holds_up_a_call() {
    let (reached, sink_reached) = mpsc::channel();
    let (let_go, release) = mpsc::channel();
    let stuck = Arc::new(StuckSink {
        reached: Mutex::new(reached),
        release: Mutex::new(release),
        recorded: Mutex::new(Vec::new()),
    });
    let background = BackgroundSink::new(stuck.clone(), 2);
    // A first event, which the sink's thread takes and gets stuck on.
    background.record(&Event {
        operation: Some("warm.up"),
        breaker: None,
        kind: EventKind::CallRejected {
            retry_in: Duration::ZERO,
        },
    });
    sink_reached.recv().unwrap();

    // Seven events: three attempts, two retries, the give-up, the end of the call.
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::None)
        .build()
        .unwrap();
    let result: Result<(), Error> = Call::new("inventory.count", &policy)
        .sink(&background)
        .run_blocking(|_| Err(status(503)));

    assert!(
        result.is_err(),
        "the call returned while its sink was stuck"
    );
    assert_eq!(background.dropped(), 5, "two events queued, five dropped");
    let_go.send(()).unwrap();
    drop(background);
    // Dropping the sink ends its thread once the queue is drained; wait for that through the
    // recorded events (three: the warm-up and the two queued).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stuck.recorded.lock().unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "queued events never arrived"
        );
        std::thread::yield_now();
    }
    let recorded = stuck.recorded.lock().unwrap().clone();
    assert!(recorded[0].starts_with("CallRejected"), "{recorded:?}");
    assert!(
        recorded[1].starts_with("AttemptFinished { attempt: 1"),
        "{recorded:?}"
    );
    assert!(
        recorded[2].starts_with("RetryScheduled { attempt: 1"),
        "{recorded:?}"
    );
}
