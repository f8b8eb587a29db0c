#![cfg(feature = "metrics")]
//! `MetricsFacadeSink` behind a Prometheus exporter: a resilient client meets a flaky server,
//! and the exporter's `/metrics` endpoint, scraped over HTTP, reports the instruments of
//! `resilient_http::instruments` with their exact names, labels and values, and never a part of
//! the URLs the client called.
//!
//! Each test installs its own `PrometheusRecorder` as the thread's local recorder, so tests are
//! independent of each other. That works because the tests run on a current-thread runtime and
//! the client reports its events inline, on the calling task.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use resilient_http::{
    Backoff, BreakerConfig, Client, Error, Jitter, ManualClock, MetricsFacadeSink, Registry,
    RegistryConfig, RetryPolicy, instruments,
};
use support::{FaultServer, Reply};

const OPERATION: &str = "invoices.get";
const BREAKER: &str = "invoices";
const OPEN_FOR: Duration = Duration::from_secs(30);
/// A path with an id and a credential in its query: neither may reach a label.
const PATH: &str = "/invoices/42?token=secret";

/// A client of [`OPERATION`] guarded by [`BREAKER`] (3 failures in a row open it for
/// [`OPEN_FOR`] on a manual clock), reporting to a `MetricsFacadeSink`, and the recorder that
/// sink reports to.
struct Scenario {
    recorder: PrometheusRecorder,
    clock: ManualClock,
    client: Client,
    server: FaultServer,
}

impl Scenario {
    /// The server answers 503, 503, 200 (the first call, retried twice), then 503 three times
    /// (the second call, stopped by the breaker opening), then 200 (the probe after recovery).
    fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&instruments::DURATION_BUCKETS)
            .expect("non-empty buckets")
            .build_recorder();
        let breaker = BreakerConfig {
            consecutive_failures: Some(3),
            open_duration: OPEN_FOR,
            ..BreakerConfig::new()
        };
        let clock = ManualClock::new();
        let registry = Registry::builder()
            .config(RegistryConfig {
                breakers: HashMap::from([(BREAKER.to_owned(), breaker)]),
                ..RegistryConfig::default()
            })
            .clock(Arc::new(clock.clone()))
            .sink(Arc::new(MetricsFacadeSink::new()))
            .build()
            .expect("valid registry");
        let policy = RetryPolicy::builder()
            .max_attempts(5)
            .backoff(Backoff::constant(Duration::from_millis(5)))
            .jitter(Jitter::None)
            .build()
            .expect("valid policy");
        let client = Client::builder()
            .registry(&registry)
            .policy(policy)
            .breaker(BREAKER)
            .operation(OPERATION)
            .no_budget()
            .build()
            .expect("valid client");
        let server = FaultServer::start(vec![
            Reply::status(503),
            Reply::status(503),
            Reply::ok(),
            Reply::status(503),
            Reply::status(503),
            Reply::status(503),
            Reply::ok(),
        ]);
        Scenario {
            recorder,
            clock,
            client,
            server,
        }
    }

    /// A call that succeeds after two retries, a call that opens the breaker, a rejected call.
    /// Must run while `self.recorder` is the thread's recorder.
    async fn fail_until_rejected(&self) {
        let url = self.server.url(PATH);
        let response = self.client.get(&url).send().await.expect("third attempt");
        assert_eq!(response.status(), 200);

        let err = self.client.get(&url).send().await.unwrap_err();
        assert!(
            matches!(&err, Error::Status { status, attempts: 3, .. } if status.as_u16() == 503),
            "the third 503 in a row opens the breaker and ends the call: {err:?}"
        );

        let err = self.client.get(&url).send().await.unwrap_err();
        assert!(
            matches!(&err, Error::CircuitOpen { attempts: 0, .. }),
            "{err:?}"
        );
        assert_eq!(
            self.server.hits(),
            6,
            "the rejected call never reached the server"
        );
    }

    /// Lets the open duration pass; the next call is the probe that closes the breaker.
    async fn recover(&self) {
        self.clock.advance(OPEN_FOR);
        let response = self
            .client
            .get(self.server.url(PATH))
            .send()
            .await
            .expect("the probe succeeds");
        assert_eq!(response.status(), 200);
    }
}

/// Serves `handle.render()` at `/metrics` on an ephemeral loopback port and GETs it once.
async fn scrape(handle: PrometheusHandle) -> Scrape {
    let app = Router::new().route("/metrics", get(move || async move { handle.render() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape /metrics");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("read the scrape");
    server.abort();
    Scrape::parse(&text)
}

type LabelSet = BTreeMap<String, String>;

/// A parsed Prometheus text exposition: `# TYPE` declarations and `name{labels} value` samples.
#[derive(Debug)]
struct Scrape {
    types: BTreeMap<String, String>,
    samples: Vec<(String, LabelSet, f64)>,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declaration.split_once(' ').expect("`# TYPE name kind`");
                types.insert(name.to_owned(), kind.to_owned());
            } else if !line.starts_with('#') {
                samples.push(parse_sample(line));
            }
        }
        Scrape { types, samples }
    }

    /// The value of the one sample named `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted = label_set(labels);
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| n == name && *l == wanted)
            .map(|&(_, _, value)| value)
            .collect();
        match found[..] {
            [value] => value,
            _ => panic!("expected one sample {name}{wanted:?}, found {found:?} in {self:#?}"),
        }
    }

    /// Every sample that is not part of a histogram, keyed by name and labels.
    fn counters_and_gauges(&self) -> BTreeMap<(String, LabelSet), f64> {
        self.samples
            .iter()
            .filter(|(name, ..)| {
                self.types.get(base_name(name)).map(String::as_str) != Some("histogram")
            })
            .map(|(name, labels, value)| ((name.clone(), labels.clone()), *value))
            .collect()
    }
}

/// `name{key="value",...} value`, with the text format's escapes in label values.
fn parse_sample(line: &str) -> (String, LabelSet, f64) {
    let (series, value) = line.rsplit_once(' ').expect("`series value`");
    let value = value
        .parse()
        .unwrap_or_else(|_| panic!("a number in {line:?}"));
    let Some((name, rest)) = series.split_once('{') else {
        return (series.to_owned(), LabelSet::new(), value);
    };
    let mut labels = LabelSet::new();
    let mut chars = rest.strip_suffix('}').expect("labels end with `}`").chars();
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "a quoted value in {line:?}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(escaped) => value.push(escaped),
                    None => panic!("a dangling escape in {line:?}"),
                },
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
    }
    (name.to_owned(), labels, value)
}

/// The metric a histogram sample belongs to.
fn base_name(sample: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .unwrap_or(sample)
}

fn label_set(labels: &[(&str, &str)]) -> LabelSet {
    labels
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn series(name: &str, labels: &[(&str, &str)], value: f64) -> ((String, LabelSet), f64) {
    ((name.to_owned(), label_set(labels)), value)
}

#[tokio::test]
async fn scrape_reports_attempts_retries_the_opening_and_rejections_exactly() {
    let scenario = Scenario::new();
    {
        let _recorder = metrics::set_default_local_recorder(&scenario.recorder);
        scenario.fail_until_rejected().await;
    }

    let scrape = scrape(scenario.recorder.handle()).await;

    let call = [("operation", OPERATION), ("breaker", BREAKER)];
    let with = |key, value| [call[0], call[1], (key, value)];
    assert_eq!(
        scrape.counters_and_gauges(),
        BTreeMap::from([
            series(
                "resilient_http_attempts_total",
                &with("outcome", "status_503"),
                5.0
            ),
            series(
                "resilient_http_attempts_total",
                &with("outcome", "success"),
                1.0
            ),
            series(
                "resilient_http_retries_total",
                &with("reason", "status_503"),
                4.0
            ),
            series(
                "resilient_http_give_ups_total",
                &with("reason", "circuit_open"),
                1.0
            ),
            series("resilient_http_calls_rejected_total", &call, 1.0),
            series("resilient_http_breaker_state", &[("breaker", BREAKER)], 2.0),
            series(
                "resilient_http_breaker_transitions_total",
                &[("breaker", BREAKER), ("from", "closed"), ("to", "open")],
                1.0
            ),
        ])
    );

    let attempts = "resilient_http_attempt_duration_seconds_count";
    assert_eq!(scrape.value(attempts, &with("outcome", "status_503")), 5.0);
    assert_eq!(scrape.value(attempts, &with("outcome", "success")), 1.0);
    let calls = "resilient_http_call_duration_seconds_count";
    assert_eq!(scrape.value(calls, &with("outcome", "success")), 1.0);
    assert_eq!(scrape.value(calls, &with("outcome", "failure")), 1.0);
}

#[tokio::test]
async fn histograms_use_the_shared_buckets_and_kinds_match_the_instrument_table() {
    let scenario = Scenario::new();
    {
        let _recorder = metrics::set_default_local_recorder(&scenario.recorder);
        scenario.fail_until_rejected().await;
    }

    let scrape = scrape(scenario.recorder.handle()).await;

    for instrument in instruments::ALL {
        let kind = match instrument.kind {
            instruments::InstrumentKind::Counter => "counter",
            instruments::InstrumentKind::Gauge => "gauge",
            instruments::InstrumentKind::Histogram => "histogram",
        };
        // The scenario spends no budget, so that counter never appears.
        if instrument.name != instruments::BUDGET_EXHAUSTED.name {
            assert_eq!(
                scrape.types.get(instrument.name).map(String::as_str),
                Some(kind),
                "{}",
                instrument.name
            );
        }
    }
    let bounds: BTreeSet<String> = scrape
        .samples
        .iter()
        .filter(|(name, ..)| name == "resilient_http_attempt_duration_seconds_bucket")
        .map(|(_, labels, _)| labels["le"].clone())
        .collect();
    let expected: BTreeSet<String> = instruments::DURATION_BUCKETS
        .iter()
        .map(f64::to_string)
        .chain(["+Inf".to_owned()])
        .collect();
    assert_eq!(bounds, expected);
}

#[tokio::test]
async fn recovery_moves_the_state_gauge_back_to_closed() {
    let scenario = Scenario::new();
    {
        let _recorder = metrics::set_default_local_recorder(&scenario.recorder);
        scenario.fail_until_rejected().await;
        scenario.recover().await;
    }

    let scrape = scrape(scenario.recorder.handle()).await;

    let breaker = ("breaker", BREAKER);
    assert_eq!(
        scrape.value("resilient_http_breaker_state", &[breaker]),
        0.0
    );
    let transitions = "resilient_http_breaker_transitions_total";
    for (from, to) in [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ] {
        assert_eq!(
            scrape.value(transitions, &[breaker, ("from", from), ("to", to)]),
            1.0,
            "{from} -> {to}"
        );
    }
    let success = [
        ("operation", OPERATION),
        ("breaker", BREAKER),
        ("outcome", "success"),
    ];
    assert_eq!(scrape.value("resilient_http_attempts_total", &success), 2.0);
}

#[tokio::test]
async fn no_label_value_carries_a_part_of_the_url() {
    let scenario = Scenario::new();
    {
        let _recorder = metrics::set_default_local_recorder(&scenario.recorder);
        scenario.fail_until_rejected().await;
        scenario.recover().await;
    }

    let scrape = scrape(scenario.recorder.handle()).await;

    assert!(!scrape.samples.is_empty());
    for (name, labels, _) in &scrape.samples {
        for (key, value) in labels {
            for forbidden in ["http", "127.0.0.1", "/", "?", "token", "secret", "42"] {
                assert!(
                    !value.contains(forbidden),
                    "{name}: label {key}={value:?} contains {forbidden:?}"
                );
            }
        }
    }
}
