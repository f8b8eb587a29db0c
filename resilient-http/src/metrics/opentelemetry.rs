//! [`OpenTelemetrySink`]: reports the instrument table through an OpenTelemetry [`Meter`].

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};

use super::instruments::{self, InstrumentKind, Measurement, Value};
use super::{Event, MetricsSink};

/// Reports every event through an OpenTelemetry [`Meter`], with the instruments of
/// [`instruments`](crate::instruments): one `u64` counter per counter of the table, an `f64`
/// gauge for the breaker state and `f64` histograms in seconds (unit `s`) whose explicit bucket
/// boundaries are [`DURATION_BUCKETS`](crate::instruments::DURATION_BUCKETS). Label keys become
/// attribute keys; their values are operation, breaker and budget names and bounded outcome,
/// reason and state labels, never a URL.
///
/// # Names
/// The table's names are kept verbatim (`resilient_http_attempts_total`,
/// `resilient_http_call_duration_seconds`, ...) rather than renamed to OpenTelemetry's dotted
/// style, so that the same dashboards work whichever exporter of this crate feeds them. An
/// exporter that translates OpenTelemetry metrics to Prometheus names may add a unit suffix or
/// `_total` of its own; check that yours does not double them.
///
/// ```
/// use std::sync::Arc;
///
/// use resilient_http::{Client, OpenTelemetrySink, Registry};
///
/// // Whatever meter provider the application installed globally (a no-op one until it does).
/// let meter = opentelemetry::global::meter("my-service");
/// let registry = Registry::builder()
///     .sink(Arc::new(OpenTelemetrySink::new(&meter)))
///     .build()?;
/// let client = Client::builder().registry(&registry).operation("invoices.get").build()?;
/// # let _ = client;
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct OpenTelemetrySink {
    counters: Vec<(&'static str, Counter<u64>)>,
    gauges: Vec<(&'static str, Gauge<f64>)>,
    histograms: Vec<(&'static str, Histogram<f64>)>,
}

impl OpenTelemetrySink {
    /// Creates one instrument in `meter` for each entry of
    /// [`instruments::ALL`](crate::instruments::ALL).
    pub fn new(meter: &Meter) -> Self {
        let mut sink = OpenTelemetrySink {
            counters: Vec::new(),
            gauges: Vec::new(),
            histograms: Vec::new(),
        };
        for instrument in instruments::ALL {
            let (name, help) = (instrument.name, instrument.help);
            match instrument.kind {
                InstrumentKind::Counter => sink
                    .counters
                    .push((name, meter.u64_counter(name).with_description(help).build())),
                InstrumentKind::Gauge => sink
                    .gauges
                    .push((name, meter.f64_gauge(name).with_description(help).build())),
                InstrumentKind::Histogram => sink.histograms.push((
                    name,
                    meter
                        .f64_histogram(name)
                        .with_description(help)
                        .with_unit("s")
                        .with_boundaries(instruments::DURATION_BUCKETS.to_vec())
                        .build(),
                )),
            }
        }
        sink
    }

    // Runs on every attempt: a scan of at most six names, one owned string per attribute
    // value (OpenTelemetry keeps attributes beyond the event's lifetime) and the meter
    // provider's own aggregation.
    fn apply(&self, measurement: Measurement<'_>) {
        let instrument = measurement.instrument;
        let attributes: Vec<KeyValue> = instrument
            .labels
            .iter()
            .zip(measurement.labels.values())
            .map(|(&key, value)| KeyValue::new(key, value.to_string()))
            .collect();
        match measurement.value {
            Value::Add(n) => {
                if let Some(counter) = find(&self.counters, instrument.name) {
                    counter.add(n, &attributes);
                }
            }
            Value::Set(value) => {
                if let Some(gauge) = find(&self.gauges, instrument.name) {
                    gauge.record(value, &attributes);
                }
            }
            Value::Observe(seconds) => {
                if let Some(histogram) = find(&self.histograms, instrument.name) {
                    histogram.record(seconds, &attributes);
                }
            }
        }
    }
}

/// The instrument named `name` in `list`; every name the table measures was created by `new`.
fn find<'s, T>(list: &'s [(&'static str, T)], name: &str) -> Option<&'s T> {
    list.iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, instrument)| instrument)
}

impl MetricsSink for OpenTelemetrySink {
    fn record(&self, event: &Event<'_>) {
        instruments::measurements(event, |measurement| self.apply(measurement));
    }
}
