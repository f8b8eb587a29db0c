//! A sink that records the crate's instruments into a `prometheus_client` registry.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::instruments::{self, Instrument, InstrumentKind, Measurement, Value};
use super::{Event, MetricsSink};

/// Records every event into metric families registered in a
/// [`prometheus_client`](https://docs.rs/prometheus-client) registry, the official Rust client
/// of Prometheus.
///
/// [`PrometheusSink::register`] registers one family per instrument of [`instruments::ALL`],
/// with the names, help texts, label keys and buckets of that table, so a dashboard built on
/// this sink also reads what `MetricsFacadeSink` and `OpenTelemetrySink` report.
///
/// Two exposition formats, two spellings of the counters' family names:
/// - [`prometheus_client::encoding::prometheus_text::encode`] (the Prometheus text format
///   0.0.4, what a Prometheus server scrapes by default) writes every name exactly as in the
///   table: `# TYPE resilient_http_attempts_total counter`.
/// - [`prometheus_client::encoding::text::encode`] (OpenMetrics) names a counter's family
///   without its `_total` suffix, as that format requires (`# TYPE resilient_http_attempts
///   counter`), and its samples with it (`resilient_http_attempts_total{...} 1`).
///
/// In both, the histograms' samples are `resilient_http_call_duration_seconds_bucket`, `_sum`
/// and `_count`, over [`instruments::DURATION_BUCKETS`]. A series appears at its first
/// measurement, and prometheus-client leaves a family without series out of the exposition
/// altogether.
///
/// ```
/// use std::sync::Arc;
///
/// use prometheus_client::encoding::text::encode;
/// use resilient_http::{PrometheusSink, Registry};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut prometheus = prometheus_client::registry::Registry::default();
/// let sink = PrometheusSink::register(&mut prometheus);
/// let registry = Registry::builder().sink(Arc::new(sink)).build()?;
///
/// // An operator forces the breaker open: the transition reaches the registry's sink.
/// registry.breaker("payments").force_open();
///
/// let mut exposition = String::new();
/// encode(&mut exposition, &prometheus)?;
/// assert!(exposition.contains(
///     r#"resilient_http_breaker_transitions_total{breaker="payments",from="closed",to="forced_open"} 1"#
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PrometheusSink {
    /// One family per instrument, in the order of [`instruments::ALL`].
    families: [Metric; instruments::ALL.len()],
}

impl PrometheusSink {
    /// Registers a family for every instrument of [`instruments::ALL`] in `registry`, and
    /// returns the sink that records into them.
    ///
    /// Register once per registry: prometheus-client does not check names for duplicates, and
    /// a second registration would expose every family twice. A sub-registry made with
    /// `sub_registry_with_prefix` prefixes every name.
    pub fn register(registry: &mut Registry) -> Self {
        PrometheusSink {
            families: instruments::ALL.map(|instrument| Metric::register(registry, instrument)),
        }
    }

    /// Applies one measurement to its family.
    ///
    /// Runs for every event of every call: a scan of the table's instrument names, one small
    /// allocation for the label set (prometheus-client looks series up by an owned label set),
    /// a read lock on the family's map and one atomic update. Only the first measurement of a
    /// label set takes the map's write lock, to create the series.
    fn apply(&self, measurement: &Measurement<'_>) {
        let instrument = measurement.instrument;
        // The table's names are unique, so a name identifies an instrument.
        let Some(index) = instruments::ALL
            .iter()
            .position(|known| known.name == instrument.name)
        else {
            return;
        };
        let labels: LabelSet = instrument
            .labels
            .iter()
            .zip(measurement.labels.values())
            .map(|(key, value)| (*key, value.as_ref().to_owned()))
            .collect();
        match (&self.families[index], measurement.value) {
            (Metric::Counter(family), Value::Add(n)) => {
                family.get_or_create(&labels).inc_by(n);
            }
            (Metric::Gauge(family), Value::Set(value)) => {
                family.get_or_create(&labels).set(value);
            }
            (Metric::Histogram(family), Value::Observe(seconds)) => {
                family.get_or_create(&labels).observe(seconds);
            }
            // The table gives each kind of instrument one kind of value; a sink must not panic,
            // so a pair it never makes is dropped rather than asserted.
            _ => {}
        }
    }
}

impl MetricsSink for PrometheusSink {
    fn record(&self, event: &Event<'_>) {
        instruments::measurements(event, |measurement| self.apply(&measurement));
    }
}

/// The labels of one series: the instrument's keys, in its order, with their values.
type LabelSet = Vec<(&'static str, String)>;

/// The family registered for one instrument, of the instrument's kind.
#[derive(Debug)]
enum Metric {
    Counter(Family<LabelSet, Counter>),
    /// Holds the float value the table sets (an `f64` kept in an `AtomicU64`).
    Gauge(Family<LabelSet, Gauge<f64, AtomicU64>>),
    Histogram(Family<LabelSet, Histogram, fn() -> Histogram>),
}

impl Metric {
    /// Registers the family of `instrument` in `registry` so that its encoded names are the
    /// table's.
    fn register(registry: &mut Registry, instrument: &Instrument) -> Self {
        // prometheus-client ends every help text with a full stop of its own.
        let help = instrument.help.strip_suffix('.').unwrap_or(instrument.help);
        match instrument.kind {
            InstrumentKind::Counter => {
                let family = Family::default();
                // prometheus-client appends `_total` to a counter's name when it encodes it.
                let name = instrument
                    .name
                    .strip_suffix("_total")
                    .unwrap_or(instrument.name);
                registry.register(name, help, family.clone());
                Metric::Counter(family)
            }
            InstrumentKind::Gauge => {
                let family = Family::default();
                registry.register(instrument.name, help, family.clone());
                Metric::Gauge(family)
            }
            InstrumentKind::Histogram => {
                let family = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
                // Registered with its unit, which prometheus-client appends to the name (and
                // states in the `# UNIT` line of OpenMetrics).
                match instrument.name.strip_suffix("_seconds") {
                    Some(base) => {
                        registry.register_with_unit(base, help, Unit::Seconds, family.clone());
                    }
                    None => registry.register(instrument.name, help, family.clone()),
                }
                Metric::Histogram(family)
            }
        }
    }
}

/// A histogram of durations in seconds, over the buckets every exporter of this crate uses.
fn duration_histogram() -> Histogram {
    Histogram::new(instruments::DURATION_BUCKETS)
}
