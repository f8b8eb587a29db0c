//! A sink that reports to the `metrics` facade, so whatever exporter the application installed
//! (Prometheus, StatsD, OpenTelemetry bridges, ...) receives the runtime's instruments.

use ::metrics::{Label, Unit};

use super::instruments::{self, InstrumentKind, Measurement, Value};
use super::{Event, MetricsSink};

/// Reports every event to the [`metrics`](::metrics) facade, as the instruments listed in
/// [`instruments`]: the same names, labels and values as the other exporters of this crate.
///
/// Counters are incremented, the breaker-state gauge is set and durations are recorded in
/// seconds, through the recorder that is current when the event happens (the global one, or a
/// thread's local recorder).
///
/// # Buckets
/// The facade carries observations, not bucket layouts: buckets are the exporter's business.
/// Configure [`instruments::DURATION_BUCKETS`] for the two `_seconds` histograms, so that every
/// exporter agrees (for `metrics-exporter-prometheus`: `PrometheusBuilder::set_buckets`).
///
/// # Descriptions
/// [`MetricsFacadeSink::new`] describes every instrument (its help text, and the unit seconds for
/// histograms) to the recorder current at that moment: install the recorder before building the
/// sink. Describing again is harmless (recorders keep the first description).
///
/// # Example
/// ```
/// use std::sync::Arc;
///
/// use resilient_http::{Client, MetricsFacadeSink, Registry};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // First install the application's recorder, for example
/// // `metrics_exporter_prometheus::PrometheusBuilder::new()
/// //      .set_buckets(&resilient_http::instruments::DURATION_BUCKETS)?.install()?`.
/// let registry = Registry::builder()
///     .sink(Arc::new(MetricsFacadeSink::new()))
///     .build()?;
/// let client = Client::builder()
///     .registry(&registry)
///     .breaker("payments")
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetricsFacadeSink {
    // Private, so that every sink is built by `new`, which describes the instruments.
    _private: (),
}

impl MetricsFacadeSink {
    /// A sink reporting to the current `metrics` recorder, after describing every instrument
    /// to it.
    pub fn new() -> Self {
        describe_instruments();
        MetricsFacadeSink { _private: () }
    }
}

impl Default for MetricsFacadeSink {
    fn default() -> Self {
        MetricsFacadeSink::new()
    }
}

/// Gives the recorder the help text of every instrument, and its unit where it has one.
fn describe_instruments() {
    for instrument in instruments::ALL {
        let (name, help) = (instrument.name, instrument.help);
        match instrument.kind {
            InstrumentKind::Counter => ::metrics::describe_counter!(name, help),
            InstrumentKind::Gauge => ::metrics::describe_gauge!(name, help),
            InstrumentKind::Histogram => {
                ::metrics::describe_histogram!(name, Unit::Seconds, help);
            }
        }
    }
}

impl MetricsSink for MetricsFacadeSink {
    // Runs on every event. Cost: one or two measurements, each copying its label values into
    // owned strings (the facade's keys own their labels) and one key lookup in the recorder.
    fn record(&self, event: &Event<'_>) {
        instruments::measurements(event, |measurement| record(&measurement));
    }
}

/// Hands one measurement to the current recorder.
fn record(measurement: &Measurement<'_>) {
    let name = measurement.instrument.name;
    let labels: Vec<Label> = measurement
        .instrument
        .labels
        .iter()
        .zip(measurement.labels.values())
        .map(|(&key, value)| Label::new(key, value.clone().into_owned()))
        .collect();
    match measurement.value {
        Value::Add(n) => ::metrics::counter!(name, labels).increment(n),
        Value::Set(value) => ::metrics::gauge!(name, labels).set(value),
        Value::Observe(seconds) => ::metrics::histogram!(name, labels).record(seconds),
    }
}
