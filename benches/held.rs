//! The success path of `peers.rs` with every future held in memory (issue #5, experiment 1
//! from another side). Results and their reading are in `BENCHMARKS.md`; run with
//! `cargo bench --bench held --features peers`.
//!
//! `peers.rs` and `overhead.rs` poll each future right where it is made, so the compiler sees
//! it whole and may keep its state in registers: it does for the bare future (1.2 ns), and for
//! whichever wrapper it manages to inline entirely. A future awaited in a task is held in the
//! task's memory instead, and so is every future it awaits. Here each future's address is
//! handed to `black_box` before its one poll (`support/held.rs`), so no compiler can keep it
//! out of memory, the bare future's included. Same operation, same configurations and handles
//! as `peers.rs`; tower-resilience is left out (its boxed future and async mutex cost the same
//! either way, hundreds of ns).
//!
//! It is a binary of its own so that its second call site of each wrapper does not change how
//! the compiler inlines the first one, in `peers.rs` and `overhead.rs`.

#[path = "support/call_site.rs"]
mod call_site;
#[path = "support/held.rs"]
mod held;

use std::hint::black_box;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use recloser::{AsyncRecloser, Recloser};
use resilient_http::{
    Breaker, BreakerConfig, BudgetConfig, Call, Error, NoopSink, RetryBudget, RetryPolicy,
    resilient,
};

use held::bench_held;

/// The `#[resilient]` variant: no timeout or deadline, so no runtime is needed.
#[resilient(max_attempts = 3, breaker = "held")]
async fn ours_macro() -> Result<u64, Error> {
    Ok(black_box(1u64))
}

fn held_success_path(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let breaker = Breaker::new("held", BreakerConfig::new()).expect("default breaker config");
    let budget = RetryBudget::new("held", BudgetConfig::new()).expect("default budget config");
    let site = call_site::defaults("held");
    let backoff = ExponentialBuilder::default();
    let failsafe_breaker = failsafe::Config::new().build();
    let recloser = AsyncRecloser::from(Recloser::default());

    let mut group = c.benchmark_group("held_success_path");
    bench_held(&mut group, "bare_future", || async {
        Ok::<_, Error>(black_box(1u64))
    });
    bench_held(&mut group, "ours_call", || {
        Call::new("held", black_box(&policy))
            .breaker(black_box(&breaker))
            .budget(black_box(&budget))
            .sink(black_box(&NoopSink))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });
    bench_held(&mut group, "ours_call_site", || {
        black_box(&site).run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });
    bench_held(&mut group, "ours_macro", ours_macro);
    bench_held(&mut group, "backon_retry", || {
        (|| async { Ok::<_, Error>(black_box(1u64)) }).retry(black_box(backoff))
    });
    bench_held(&mut group, "failsafe_breaker", || {
        failsafe::futures::CircuitBreaker::call(black_box(&failsafe_breaker), async {
            Ok::<_, Error>(black_box(1u64))
        })
    });
    bench_held(&mut group, "recloser_breaker", || {
        black_box(&recloser).call(async { Ok::<_, Error>(black_box(1u64)) })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = held_success_path
}
criterion_main!(benches);
