#![cfg(feature = "opentelemetry")]
//! `OpenTelemetrySink` behind an OpenTelemetry SDK: a resilient client's calls against the fault
//! server (a call that recovers after two 503s, a call whose 503s open the breaker, a call the
//! open breaker rejects) arrive as exactly the data points of the instrument table, with its
//! names, attributes and bucket boundaries, and with no part of a URL in any attribute.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use reqwest::StatusCode;
use resilient_http::instruments::{self, Instrument};
use resilient_http::{
    Backoff, BreakerConfig, BreakerState, Client, Error, Jitter, ManualClock, OpenTelemetrySink,
    Registry, RegistryConfig, RetryPolicy,
};
use support::{FaultServer, Reply};

const BREAKER: &str = "invoices";
const OPERATION: &str = "invoices.get";
const URL_PATH: &str = "/invoices/42?token=secret";

/// The `operation` and `breaker` attributes every call measurement carries, followed by `rest`.
fn call_attributes(rest: &str) -> String {
    format!("breaker={BREAKER},operation={OPERATION},{rest}")
}

/// Runs the scripted calls through a client whose registry reports to an `OpenTelemetrySink`,
/// flushes the meter provider and returns the last export.
///
/// The breaker opens at 3 consecutive failures; each call makes up to 4 attempts:
/// 1. 503, 503, 200: a success after two retries;
/// 2. 503, 503, 503: the third failure opens the breaker, which ends the call;
/// 3. rejected by the open breaker without a request (its clock is manual, so it stays open).
async fn export_of_scripted_calls() -> ResourceMetrics {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let sink = OpenTelemetrySink::new(&provider.meter("resilient-http-test"));
    let breaker = BreakerConfig {
        consecutive_failures: Some(3),
        ..BreakerConfig::new()
    };
    let registry = Registry::builder()
        .config(RegistryConfig {
            breakers: HashMap::from([(BREAKER.to_owned(), breaker)]),
            ..RegistryConfig::default()
        })
        .clock(Arc::new(ManualClock::new()))
        .sink(Arc::new(sink))
        .build()
        .expect("valid registry");
    let policy = RetryPolicy::builder()
        .max_attempts(4)
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
    // The last reply repeats: every request after the first success gets a 503.
    let server = FaultServer::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::ok(),
        Reply::status(503),
    ]);

    let recovered = client.get(server.url(URL_PATH)).send().await.unwrap();
    assert_eq!(recovered.status(), StatusCode::OK);
    let tripped = client.get(server.url(URL_PATH)).send().await.unwrap_err();
    assert!(
        matches!(&tripped, Error::Status { attempts: 3, .. }),
        "{tripped:?}"
    );
    assert_eq!(client.breaker().unwrap().state(), BreakerState::Open);
    let rejected = client.get(server.url(URL_PATH)).send().await.unwrap_err();
    assert!(
        matches!(&rejected, Error::CircuitOpen { attempts: 0, .. }),
        "{rejected:?}"
    );
    assert_eq!(server.hits(), 6);

    provider.force_flush().expect("flush");
    let mut exports = exporter.get_finished_metrics().expect("finished metrics");
    // Temporality is cumulative: the last export holds every data point.
    exports.pop().expect("at least one export")
}

/// The metric named like `instrument`, if it has data points.
fn metric<'a>(export: &'a ResourceMetrics, instrument: &Instrument) -> Option<&'a Metric> {
    export
        .scope_metrics()
        .filter(|scope| scope.scope().name() == "resilient-http-test")
        .flat_map(|scope| scope.metrics())
        .find(|metric| metric.name() == instrument.name)
}

/// `key=value` pairs sorted by key and joined by commas.
fn attribute_string<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut pairs: Vec<String> = attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    pairs.sort_unstable();
    pairs.join(",")
}

/// The data points of the `u64` counter `instrument`, by attributes.
fn counter(export: &ResourceMetrics, instrument: &Instrument) -> BTreeMap<String, u64> {
    let Some(metric) = metric(export, instrument) else {
        return BTreeMap::new();
    };
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() else {
        panic!("{} is not a u64 sum: {:?}", instrument.name, metric.data());
    };
    assert!(sum.is_monotonic(), "{} is not monotonic", instrument.name);
    sum.data_points()
        .map(|point| (attribute_string(point.attributes()), point.value()))
        .collect()
}

/// The data points of the `f64` gauge `instrument`, by attributes.
fn gauge(export: &ResourceMetrics, instrument: &Instrument) -> BTreeMap<String, f64> {
    let Some(metric) = metric(export, instrument) else {
        return BTreeMap::new();
    };
    let AggregatedMetrics::F64(MetricData::Gauge(gauge)) = metric.data() else {
        panic!(
            "{} is not an f64 gauge: {:?}",
            instrument.name,
            metric.data()
        );
    };
    gauge
        .data_points()
        .map(|point| (attribute_string(point.attributes()), point.value()))
        .collect()
}

/// The observation counts of the `f64` histogram `instrument`, by attributes, after checking
/// its unit, description and bucket boundaries.
fn histogram_counts(export: &ResourceMetrics, instrument: &Instrument) -> BTreeMap<String, u64> {
    let metric = metric(export, instrument).expect("histogram exported");
    assert_eq!(metric.unit(), "s", "{}", instrument.name);
    assert_eq!(metric.description(), instrument.help);
    let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
        panic!(
            "{} is not an f64 histogram: {:?}",
            instrument.name,
            metric.data()
        );
    };
    histogram
        .data_points()
        .map(|point| {
            let bounds: Vec<f64> = point.bounds().collect();
            assert_eq!(bounds, instruments::DURATION_BUCKETS, "{}", instrument.name);
            (attribute_string(point.attributes()), point.count())
        })
        .collect()
}

/// Every attribute of every data point of `export`.
fn all_attributes(export: &ResourceMetrics) -> Vec<KeyValue> {
    fn of<T>(data: &MetricData<T>) -> Vec<KeyValue> {
        match data {
            MetricData::Gauge(g) => g
                .data_points()
                .flat_map(|p| p.attributes())
                .cloned()
                .collect(),
            MetricData::Sum(s) => s
                .data_points()
                .flat_map(|p| p.attributes())
                .cloned()
                .collect(),
            MetricData::Histogram(h) => h
                .data_points()
                .flat_map(|p| p.attributes())
                .cloned()
                .collect(),
            MetricData::ExponentialHistogram(h) => h
                .data_points()
                .flat_map(|p| p.attributes())
                .cloned()
                .collect(),
        }
    }
    export
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .flat_map(|metric| match metric.data() {
            AggregatedMetrics::F64(data) => of(data),
            AggregatedMetrics::U64(data) => of(data),
            AggregatedMetrics::I64(data) => of(data),
        })
        .collect()
}

#[tokio::test]
async fn scripted_calls_export_exact_data_points() {
    let export = export_of_scripted_calls().await;

    assert_eq!(
        counter(&export, &instruments::ATTEMPTS),
        BTreeMap::from([
            (call_attributes("outcome=status_503"), 5),
            (call_attributes("outcome=success"), 1),
        ])
    );
    // Two retries in each of the first two calls; the third failure of the second call opened
    // the breaker, so no retry followed it.
    assert_eq!(
        counter(&export, &instruments::RETRIES),
        BTreeMap::from([(call_attributes("reason=status_503"), 4)])
    );
    assert_eq!(
        counter(&export, &instruments::GIVE_UPS),
        BTreeMap::from([(call_attributes("reason=circuit_open"), 1)])
    );
    assert_eq!(
        counter(&export, &instruments::CALLS_REJECTED),
        BTreeMap::from([(format!("breaker={BREAKER},operation={OPERATION}"), 1)])
    );
    assert!(counter(&export, &instruments::BUDGET_EXHAUSTED).is_empty());
    assert_eq!(
        gauge(&export, &instruments::BREAKER_STATE),
        BTreeMap::from([(format!("breaker={BREAKER}"), 2.0)])
    );
    assert_eq!(
        counter(&export, &instruments::BREAKER_TRANSITIONS),
        BTreeMap::from([(format!("breaker={BREAKER},from=closed,to=open"), 1)])
    );
    // The rejected call made no attempt, so it has no call duration.
    assert_eq!(
        histogram_counts(&export, &instruments::CALL_DURATION),
        BTreeMap::from([
            (call_attributes("outcome=failure"), 1),
            (call_attributes("outcome=success"), 1),
        ])
    );
    assert_eq!(
        histogram_counts(&export, &instruments::ATTEMPT_DURATION),
        BTreeMap::from([
            (call_attributes("outcome=status_503"), 5),
            (call_attributes("outcome=success"), 1),
        ])
    );
}

#[tokio::test]
async fn no_attribute_carries_part_of_the_url() {
    let export = export_of_scripted_calls().await;

    let attributes = all_attributes(&export);
    assert!(!attributes.is_empty(), "nothing was exported");
    for attribute in &attributes {
        let value = attribute.value.to_string();
        for part in ["http", "127.0.0.1", "/", "?", "token"] {
            assert!(
                !value.contains(part),
                "{part:?} leaked into {}={value}",
                attribute.key
            );
        }
    }
}
