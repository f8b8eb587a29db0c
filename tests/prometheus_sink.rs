//! `PrometheusSink`: a scripted fault sequence against the fault server, through the resilient
//! `Client`, scraped from a `prometheus_client` registry. The scrape has exactly the counts of
//! what happened, under exactly the names of the instrument table, and no label carries the
//! URL.
//!
//! The breaker's time runs on a `ManualClock` that never moves, so once open it stays open.

#![cfg(feature = "prometheus")]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry as PrometheusRegistry;
use reqwest::StatusCode;
use resilient_http::instruments::{self, InstrumentKind};
use resilient_http::{
    Backoff, BreakerConfig, BreakerState, BudgetConfig, Client, Error, Jitter, ManualClock,
    PrometheusSink, Registry, RegistryConfig, RetryPolicy,
};
use support::{FaultServer, Reply};

const BREAKER: &str = "invoices";
/// The operation of the client guarded by [`BREAKER`].
const GUARDED: &str = "invoices.get";
/// The operation of the client drawing on [`BUDGET`], without a breaker.
const BUDGETED: &str = "invoices.list";
const BUDGET: &str = "lean";
/// A path and query string with a credential: none of it may reach a label.
const PATH: &str = "/invoices/42?token=secret";

/// A registry whose breaker [`BREAKER`] opens after 3 failures in a row and whose budget
/// [`BUDGET`] starts empty and earns half a retry per call, so a first call cannot retry,
/// reporting to a `PrometheusSink` registered in `prometheus`.
fn registries() -> (PrometheusRegistry, Registry) {
    let mut prometheus = PrometheusRegistry::default();
    let sink = PrometheusSink::register(&mut prometheus);
    let breaker = BreakerConfig {
        consecutive_failures: Some(3),
        open_duration: Duration::from_secs(30),
        ..BreakerConfig::new()
    };
    let budget = BudgetConfig {
        retry_ratio: 0.5,
        min_retries_per_second: 0,
        ..BudgetConfig::new()
    };
    let config = RegistryConfig {
        breakers: HashMap::from([(BREAKER.to_owned(), breaker)]),
        budgets: HashMap::from([(BUDGET.to_owned(), budget)]),
        ..RegistryConfig::default()
    };
    let registry = Registry::builder()
        .config(config)
        .clock(Arc::new(ManualClock::new()))
        .sink(Arc::new(sink))
        .build()
        .expect("valid registry");
    (prometheus, registry)
}

/// Up to `max_attempts` attempts, 5ms apart.
fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .build()
        .expect("valid policy")
}

/// Runs the sequence whose counts the scrape must show:
/// 1. a [`GUARDED`] call answered 503, 503, 200: it succeeds on its third attempt;
/// 2. a [`GUARDED`] call against a server stuck on 503: its third failure in a row opens the
///    breaker, which stops the call before a fourth attempt;
/// 3. a [`GUARDED`] call that the open breaker rejects without a request;
/// 4. a [`BUDGETED`] call whose 503 cannot be retried: the budget holds half a retry.
async fn run_fault_sequence(registry: &Registry) {
    let guarded = Client::builder()
        .registry(registry)
        .policy(policy(5))
        .breaker(BREAKER)
        .no_budget()
        .operation(GUARDED)
        .build()
        .expect("valid client");
    let budgeted = Client::builder()
        .registry(registry)
        .policy(policy(3))
        .no_breaker()
        .budget(BUDGET)
        .operation(BUDGETED)
        .build()
        .expect("valid client");

    let flaky = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let response = guarded.get(flaky.url(PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(flaky.hits(), 3);

    let down = FaultServer::always(Reply::status(503));
    let err = guarded.get(down.url(PATH)).send().await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(down.hits(), 3);
    assert_eq!(guarded.breaker().unwrap().state(), BreakerState::Open);

    let err = guarded.get(down.url(PATH)).send().await.unwrap_err();
    assert!(
        matches!(&err, Error::CircuitOpen { attempts: 0, .. }),
        "{err:?}"
    );
    assert_eq!(down.hits(), 3);

    let err = budgeted.get(down.url(PATH)).send().await.unwrap_err();
    assert!(
        matches!(&err, Error::BudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(down.hits(), 4);
}

/// The samples of a text exposition, by series: `name{key="value",...} value`.
#[derive(Debug)]
struct Scrape {
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Scrape {
    /// Parses every line of `exposition` that is not a `#` comment.
    fn parse(exposition: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in exposition.lines().filter(|l| !l.starts_with('#')) {
            let (name, labels, rest) = match line.split_once('{') {
                Some((name, labelled)) => {
                    let (labels, rest) = parse_labels(labelled);
                    (name, labels, rest)
                }
                None => {
                    let (name, rest) = line.split_once(' ').expect("a sample has a value");
                    (name, Vec::new(), rest)
                }
            };
            let value = rest
                .split_whitespace()
                .next()
                .expect("a sample has a value");
            let value: f64 = value.parse().expect("a sample's value is a number");
            let previous = samples.insert((name.to_owned(), labels), value);
            assert!(previous.is_none(), "series exposed twice: {line}");
        }
        Scrape { samples }
    }

    /// Every series of `name`: its labels, in their order, and its value.
    fn family(&self, name: &str) -> Series {
        self.samples
            .iter()
            .filter(|((series, _), _)| series == name)
            .map(|((_, labels), &value)| (labels.clone(), value))
            .collect()
    }

    /// The bucket counts of the histogram `name` with these labels (before `le`), by upper
    /// bound.
    fn buckets(&self, name: &str, labels: &[(&str, &str)]) -> BTreeMap<Bound, f64> {
        let bucket = format!("{name}_bucket");
        self.samples
            .iter()
            .filter_map(|((series, series_labels), &count)| {
                let (le, rest) = series_labels.split_last()?;
                let same = rest.len() == labels.len()
                    && rest
                        .iter()
                        .zip(labels)
                        .all(|(a, b)| a.0 == b.0 && a.1 == b.1);
                (*series == bucket && same && le.0 == "le").then(|| {
                    let bound = le.1.parse().expect("a bucket bound is a number");
                    (Bound(bound), count)
                })
            })
            .collect()
    }

    /// Every label value of every sample.
    fn label_values(&self) -> impl Iterator<Item = &str> {
        self.samples
            .keys()
            .flat_map(|(_, labels)| labels.iter().map(|(_, value)| value.as_str()))
    }
}

/// Series by their labels (in their order).
type Series = BTreeMap<Vec<(String, String)>, f64>;

/// The [`Series`] of these labels and values.
fn series(entries: &[(&[(&str, &str)], f64)]) -> Series {
    entries
        .iter()
        .map(|&(labels, value)| {
            let labels = labels
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            (labels, value)
        })
        .collect()
}

/// A bucket's upper bound, ordered as a number.
#[derive(Debug, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Parses `key="value",...}` (the text after a sample's `{`) into its labels, undoing the
/// exposition's escapes, and returns the text after the `}`.
fn parse_labels(text: &str) -> (Vec<(String, String)>, &str) {
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        let after = rest.strip_prefix(',').unwrap_or(rest);
        if let Some(after_labels) = after.strip_prefix('}') {
            return (labels, after_labels);
        }
        let (key, quoted) = after.split_once("=\"").expect("a label is key=\"value\"");
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next().expect("a label value ends with a quote") {
                (i, '"') => break i,
                (_, '\\') => value.push(match chars.next().expect("an escaped character").1 {
                    'n' => '\n',
                    escaped => escaped,
                }),
                (_, c) => value.push(c),
            }
        };
        labels.push((key.to_owned(), value));
        rest = &quoted[end + 1..];
    }
}

/// Runs the fault sequence against a fresh sink and returns the Prometheus text (0.0.4) and
/// OpenMetrics expositions of its registry.
async fn scrape_after_fault_sequence() -> (String, String) {
    let (prometheus, registry) = registries();
    run_fault_sequence(&registry).await;
    let mut prometheus_text = String::new();
    prometheus_text::encode(&mut prometheus_text, &prometheus).unwrap();
    let mut openmetrics = String::new();
    text::encode(&mut openmetrics, &prometheus).unwrap();
    (prometheus_text, openmetrics)
}

#[tokio::test]
async fn the_scrape_counts_exactly_what_the_fault_sequence_did() {
    let (exposition, _) = scrape_after_fault_sequence().await;
    let scrape = Scrape::parse(&exposition);
    let guarded = |key, value| [("operation", GUARDED), ("breaker", BREAKER), (key, value)];
    let budgeted = |key, value| [("operation", BUDGETED), ("breaker", ""), (key, value)];

    // Two 503s of the first call, three of the second, one of the budgeted call.
    assert_eq!(
        scrape.family("resilient_http_attempts_total"),
        series(&[
            (&guarded("outcome", "status_503"), 5.0),
            (&guarded("outcome", "success"), 1.0),
            (&budgeted("outcome", "status_503"), 1.0),
        ])
    );
    // Two per guarded call: none after the failure that opened the breaker; none without budget.
    assert_eq!(
        scrape.family("resilient_http_retries_total"),
        series(&[(&guarded("reason", "status_503"), 4.0)])
    );
    assert_eq!(
        scrape.family("resilient_http_give_ups_total"),
        series(&[
            (&guarded("reason", "circuit_open"), 1.0),
            (&budgeted("reason", "budget_exhausted"), 1.0),
        ])
    );
    assert_eq!(
        scrape.family("resilient_http_calls_rejected_total"),
        series(&[(&[("operation", GUARDED), ("breaker", BREAKER)], 1.0)])
    );
    assert_eq!(
        scrape.family("resilient_http_budget_exhausted_total"),
        series(&[(&[("operation", BUDGETED), ("budget", BUDGET)], 1.0)])
    );
    // 2 is open.
    assert_eq!(
        scrape.family("resilient_http_breaker_state"),
        series(&[(&[("breaker", BREAKER)], 2.0)])
    );
    assert_eq!(
        scrape.family("resilient_http_breaker_transitions_total"),
        series(&[(
            &[("breaker", BREAKER), ("from", "closed"), ("to", "open")],
            1.0
        )])
    );
    // The rejected call made no attempt, so it has no duration.
    assert_eq!(
        scrape.family("resilient_http_call_duration_seconds_count"),
        series(&[
            (&guarded("outcome", "success"), 1.0),
            (&guarded("outcome", "failure"), 1.0),
            (&budgeted("outcome", "failure"), 1.0),
        ])
    );
    assert_eq!(
        scrape.family("resilient_http_attempt_duration_seconds_count"),
        series(&[
            (&guarded("outcome", "status_503"), 5.0),
            (&guarded("outcome", "success"), 1.0),
            (&budgeted("outcome", "status_503"), 1.0),
        ])
    );

    // The buckets are the table's, and every observation falls in `+Inf`.
    let call_buckets = scrape.buckets(
        "resilient_http_call_duration_seconds",
        &guarded("outcome", "success"),
    );
    let mut bounds: Vec<f64> = instruments::DURATION_BUCKETS.to_vec();
    bounds.push(f64::INFINITY);
    assert_eq!(call_buckets.keys().map(|b| b.0).collect::<Vec<_>>(), bounds);
    assert_eq!(call_buckets.last_key_value().map(|(_, &n)| n), Some(1.0));

    for instrument in instruments::ALL {
        let kind = match instrument.kind {
            InstrumentKind::Counter => "counter",
            InstrumentKind::Gauge => "gauge",
            InstrumentKind::Histogram => "histogram",
        };
        let help = format!("# HELP {} {}\n", instrument.name, instrument.help);
        let type_ = format!("# TYPE {} {kind}\n", instrument.name);
        assert!(exposition.contains(&help), "no `{help}` in:\n{exposition}");
        assert!(
            exposition.contains(&type_),
            "no `{type_}` in:\n{exposition}"
        );
    }
}

#[tokio::test]
async fn openmetrics_names_counter_families_without_total_and_has_the_same_samples() {
    let (prometheus_text, openmetrics) = scrape_after_fault_sequence().await;
    let (prometheus_scrape, openmetrics_scrape) =
        (Scrape::parse(&prometheus_text), Scrape::parse(&openmetrics));

    for instrument in instruments::ALL {
        // OpenMetrics names a counter's family without the `_total` of its samples.
        let (family, kind, samples) = match instrument.kind {
            InstrumentKind::Counter => (
                instrument.name.trim_end_matches("_total"),
                "counter",
                vec![instrument.name.to_owned()],
            ),
            InstrumentKind::Gauge => (instrument.name, "gauge", vec![instrument.name.to_owned()]),
            InstrumentKind::Histogram => (
                instrument.name,
                "histogram",
                vec![
                    format!("{}_count", instrument.name),
                    format!("{}_sum", instrument.name),
                ],
            ),
        };
        let type_ = format!("# TYPE {family} {kind}\n");
        assert!(
            openmetrics.contains(&type_),
            "no `{type_}` in:\n{openmetrics}"
        );
        for name in samples {
            let series = openmetrics_scrape.family(&name);
            assert!(!series.is_empty(), "no `{name}` in:\n{openmetrics}");
            assert_eq!(series, prometheus_scrape.family(&name), "{name}");
        }
    }
    assert!(openmetrics.contains("# UNIT resilient_http_call_duration_seconds seconds\n"));
}

#[tokio::test]
async fn no_label_carries_the_url() {
    let (prometheus_text, openmetrics) = scrape_after_fault_sequence().await;

    for exposition in [prometheus_text, openmetrics] {
        let scrape = Scrape::parse(&exposition);
        let values: Vec<&str> = scrape.label_values().collect();
        assert!(values.contains(&GUARDED), "{exposition}");
        for value in values {
            for leak in ["http", "127.0.0.1", "/", "?", "token"] {
                assert!(
                    !value.contains(leak),
                    "label value {value:?} contains {leak:?}"
                );
            }
        }
    }
}
