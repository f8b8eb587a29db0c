//! What each metrics sink costs per event, side by side in one criterion group: the time of one
//! `MetricsSink::record` of an attempt's event, on the calling thread, as the runtime makes it.
//! Results and their reading are in `BENCHMARKS.md`; run with
//! `cargo bench --bench sinks --all-features` (without the features, only the sinks that need
//! none are measured).
//!
//! Two events per sink: a successful attempt (`outcome="success"`, a static label) and a
//! failed one (`outcome="status_503"`, a label formatted per event). Each exporter records into
//! a real backend: a Prometheus recorder for the `metrics` facade, a `prometheus_client`
//! registry, an OpenTelemetry SDK meter provider. `TracingSink` is measured without a
//! subscriber (what it costs when logs are off); with one, the cost is the subscriber's.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use reqwest::StatusCode;
use resilient_http::{
    AttemptOutcome, Event, EventKind, InMemorySink, MetricsSink, NoopSink, TracingSink,
};

/// An attempt of `payments.invoice` under the `payments` breaker that ended with `outcome`.
fn attempt(outcome: AttemptOutcome) -> Event<'static> {
    Event {
        operation: Some("payments.invoice"),
        breaker: Some("payments"),
        kind: EventKind::AttemptFinished {
            attempt: 1,
            outcome,
            latency: Duration::from_millis(12),
        },
    }
}

/// Measures `sink` recording a successful and a failed attempt, as `name/success` and
/// `name/status_503`.
fn bench_sink(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, sink: &dyn MetricsSink) {
    let succeeded = attempt(AttemptOutcome::Success);
    let failed = attempt(AttemptOutcome::Status(StatusCode::SERVICE_UNAVAILABLE));
    group.bench_function(format!("{name}/success"), |b| {
        b.iter(|| sink.record(black_box(&succeeded)));
    });
    group.bench_function(format!("{name}/status_503"), |b| {
        b.iter(|| sink.record(black_box(&failed)));
    });
}

fn sinks(c: &mut Criterion) {
    let mut group = c.benchmark_group("sink_record");
    bench_sink(&mut group, "noop", &NoopSink);
    bench_sink(&mut group, "in_memory", &InMemorySink::new());
    bench_sink(&mut group, "tracing_no_subscriber", &TracingSink);

    #[cfg(feature = "metrics")]
    {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&resilient_http::instruments::DURATION_BUCKETS)
            .expect("valid buckets")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            bench_sink(
                &mut group,
                "metrics_facade_prometheus",
                &resilient_http::MetricsFacadeSink::new(),
            );
        });
    }

    #[cfg(feature = "prometheus")]
    {
        let mut registry = prometheus_client::registry::Registry::default();
        let sink = resilient_http::PrometheusSink::register(&mut registry);
        bench_sink(&mut group, "prometheus_client", &sink);
    }

    #[cfg(feature = "opentelemetry")]
    {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry_sdk::metrics::{
            InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
        };

        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
            .build();
        let sink = resilient_http::OpenTelemetrySink::new(&provider.meter("bench"));
        bench_sink(&mut group, "opentelemetry_sdk", &sink);
    }

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = sinks
}
criterion_main!(benches);
