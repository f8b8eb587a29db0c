//! What resilience costs a healthy call: the success path of [`Call::run`] and
//! [`CallSite::run`] (first attempt succeeds, breaker closed) against the bare future they
//! wrap, side by side in one criterion group. Results and their reading are in
//! `BENCHMARKS.md`; run with `cargo bench --bench overhead`.
//!
//! Every operation here is an immediately ready future, so each call completes on its first
//! poll (checked once per variant before it is measured). The futures are driven by a one-poll
//! [`block_on`] with a no-op waker instead of a runtime, so what is measured is the call's own
//! work, not a scheduler's. The policy, breaker, budget and sink (or the call site) go through
//! [`black_box`] on every call, so the compiler cannot fold their configuration into the loop,
//! as it could not for a breaker shared through a `Registry`.
//!
//! | variant | what it adds over `bare_future` |
//! |---|---|
//! | `policy_only` | `Call::new(..).run(..)` with the default `RetryPolicy`, nothing else |
//! | `policy_breaker` | plus a closed default `Breaker` |
//! | `full` | plus a default `RetryBudget` and `NoopSink`: the configuration the target is for |
//! | `call_site` | `full`'s configuration put together once in a `CallSite`, and `site.run(..)` |
//! | `full_in_memory_sink` | `full` with an `InMemorySink`: events, latency clock reads, a mutex |
//! | `full_deadline` | `full` with a 10 s deadline: clock reads and the attempt's limit |
//! | `full_rate_breaker` | `full` with a failure-rate rule over a 100-call count window |
//!
//! A second group, `macro_vs_hand`, compares a `#[resilient]` method with the same call written
//! by hand: `macro_call` is `#[resilient(max_attempts = 3, breaker = "bench")]` (its breaker and
//! budget come from the global registry, resolved once into a static), and `hand_call` is
//! `Call::run` under the same policy with the same registry's breaker, budget and sink. The
//! macro should add nothing measurable.

#[path = "support/call_site.rs"]
mod call_site;
#[path = "support/one_poll.rs"]
mod one_poll;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use one_poll::bench_ready;
use resilient_http::{
    Breaker, BreakerConfig, BudgetConfig, Call, Error, InMemorySink, NoopSink, Registry,
    RetryBudget, RetryPolicy, WindowConfig, resilient,
};

/// The `#[resilient]` side of `macro_vs_hand`: no timeout or deadline, so no runtime is needed.
#[resilient(max_attempts = 3, breaker = "bench")]
async fn macro_call() -> Result<u64, Error> {
    Ok(black_box(1u64))
}

fn overhead(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let breaker = Breaker::new("bench", BreakerConfig::new()).expect("default breaker config");
    let budget = RetryBudget::new("bench", BudgetConfig::new()).expect("default budget config");
    let in_memory = InMemorySink::new();
    let with_deadline = RetryPolicy::builder()
        .deadline(Duration::from_secs(10))
        .build()
        .expect("valid policy");
    let rate_rule = BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: WindowConfig::Count { size: 100 },
        ..BreakerConfig::new()
    };
    let rate_breaker = Breaker::new("bench-rate", rate_rule).expect("valid breaker config");

    let mut group = c.benchmark_group("success_path");

    bench_ready(&mut group, "bare_future", || async {
        Ok::<_, Error>(black_box(1u64))
    });

    bench_ready(&mut group, "policy_only", || {
        Call::new("bench", black_box(&policy)).run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    bench_ready(&mut group, "policy_breaker", || {
        Call::new("bench", black_box(&policy))
            .breaker(black_box(&breaker))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    bench_ready(&mut group, "full", || {
        Call::new("bench", black_box(&policy))
            .breaker(black_box(&breaker))
            .budget(black_box(&budget))
            .sink(black_box(&NoopSink))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    // The same configuration as `full`, put together once.
    let site = call_site::defaults("bench");
    bench_ready(&mut group, "call_site", || {
        black_box(&site).run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    bench_ready(&mut group, "full_in_memory_sink", || {
        Call::new("bench", black_box(&policy))
            .breaker(black_box(&breaker))
            .budget(black_box(&budget))
            .sink(black_box(&in_memory))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    {
        // Entered, as a limited call runs in a runtime's context, and never run: the future
        // completes on its first poll, so the call's timer is never made.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        let _context = runtime.enter();
        bench_ready(&mut group, "full_deadline", || {
            Call::new("bench", black_box(&with_deadline))
                .breaker(black_box(&breaker))
                .budget(black_box(&budget))
                .sink(black_box(&NoopSink))
                .run(|| async { Ok::<_, Error>(black_box(1u64)) })
        });
    }

    bench_ready(&mut group, "full_rate_breaker", || {
        Call::new("bench", black_box(&policy))
            .breaker(black_box(&rate_breaker))
            .budget(black_box(&budget))
            .sink(black_box(&NoopSink))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    group.finish();

    // The macro names breaker "bench" and, by default, a budget of the same name, both from the
    // global registry; the hand-written call uses exactly those, and the registry's sink.
    let registry = Registry::global();
    let (global_breaker, global_budget) = (registry.breaker("bench"), registry.budget("bench"));
    let three_attempts = RetryPolicy::builder()
        .max_attempts(3)
        .build()
        .expect("valid policy");
    let mut group = c.benchmark_group("macro_vs_hand");
    bench_ready(&mut group, "macro_call", macro_call);
    bench_ready(&mut group, "hand_call", || {
        Call::new("bench.hand_call", black_box(&three_attempts))
            .breaker(black_box(&global_breaker))
            .budget(black_box(&global_budget))
            .sink(black_box(&**registry.sink()))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = overhead
}
criterion_main!(benches);
