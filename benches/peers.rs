//! This crate against its peers (issue #5, experiments 1 and 2). Results and their reading are
//! in `BENCHMARKS.md`; run with `cargo bench --bench peers --features peers`.
//!
//! # `peer_success_path`: what each library adds to a healthy call
//! The same immediately ready operation, `async { Ok::<_, Error>(black_box(1u64)) }`, bare and
//! wrapped by each library in its defaults (or the configuration its docs show first):
//!
//! | variant | the wrapping |
//! |---|---|
//! | `bare_future` | none |
//! | `ours_call` | `Call::run` with a default `RetryPolicy`, `Breaker`, `RetryBudget` and `NoopSink` (`full` in `benches/overhead.rs`) |
//! | `ours_call_site` | `CallSite::run` with the same configuration, put together once (`call_site` in `benches/overhead.rs`) |
//! | `ours_macro` | `#[resilient(max_attempts = 3, breaker = "peers")]`: the global registry's breaker and budget |
//! | `backon_retry` | `(|| op).retry(ExponentialBuilder::default())` |
//! | `tower_resilience` | `RetryLayer::builder().build()` over `CircuitBreakerLayer::builder().build()` over a `service_fn`, called as `ready().await?.call(req)` |
//! | `failsafe_breaker` | `failsafe::futures::CircuitBreaker::call` on `Config::new().build()` |
//! | `recloser_breaker` | `AsyncRecloser::call` on `Recloser::default()` |
//!
//! backon only retries, failsafe and recloser only break; ours and tower-resilience do
//! both (and ours draws on a retry budget too). Every variant is driven by the one-poll
//! [`block_on`] of `benches/overhead.rs`, so what is measured is each library's own work, not
//! a scheduler's, and each is checked once to complete at its first poll with 1. None needs a
//! runtime on this path: backon and tower-resilience only touch tokio's timer to sleep before a
//! retry, and tower-resilience's `tokio::sync::Mutex` is taken uncontended, without waiting. As
//! in `overhead.rs`, every library's configuration or handle goes through [`black_box`] on
//! every call, so no compiler folds it into the loop.
//!
//! # `breaker_contention`: one closed breaker shared by two threads
//! Two OS threads admit a call and record its success on ONE closed breaker as fast as they
//! can. Each criterion iteration is one such pair on each thread (two pairs in all, so the
//! reported throughput is pairs per second), measured with `iter_custom`: both threads are
//! released together by a barrier, run the sample's fixed count, and the wall time from their
//! release to the last one's end is the sample's time. Criterion's samples and confidence
//! intervals then apply as everywhere else, and flat sampling gives every sample the same
//! count. Contenders: ours (`try_acquire` and `Permit::record`), a `Mutex` breaker written here
//! as the baseline (the same closed-path logic under a lock), failsafe's `StateMachine` and
//! recloser's `Recloser`, each through its synchronous `call` (both are built for sharing
//! between threads). tower-resilience's breaker is a tower service whose state sits behind an
//! async mutex reached only from its boxed future, so it has no shared synchronous path to put
//! in this loop; it is left out.

#[path = "support/call_site.rs"]
mod call_site;
#[path = "support/one_poll.rs"]
mod one_poll;

use std::hint::black_box;
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use recloser::{AsyncRecloser, Recloser};
use resilient_http::{
    Breaker, BreakerConfig, BreakerState, BudgetConfig, Call, Error, NoopSink, RetryBudget,
    RetryPolicy, resilient,
};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_resilience::circuitbreaker::CircuitBreakerLayer;
use tower_resilience::retry::RetryLayer;

use one_poll::{bench_ready, block_on};

/// The `#[resilient]` variant: no timeout or deadline, so no runtime is needed.
#[resilient(max_attempts = 3, breaker = "peers")]
async fn ours_macro() -> Result<u64, Error> {
    Ok(black_box(1u64))
}

fn success_path(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let breaker = Breaker::new("peers", BreakerConfig::new()).expect("default breaker config");
    let budget = RetryBudget::new("peers", BudgetConfig::new()).expect("default budget config");
    let site = call_site::defaults("peers");
    let backoff = ExponentialBuilder::default();
    // Retry outside, breaker inside: every attempt asks the breaker, as in `Call::run`.
    let mut tower_service = ServiceBuilder::new()
        .layer(RetryLayer::builder().build())
        .layer(
            CircuitBreakerLayer::builder()
                .build()
                .expect("default circuit breaker config"),
        )
        .service(tower::service_fn(|()| async {
            Ok::<_, Error>(black_box(1u64))
        }));
    let failsafe_breaker = failsafe::Config::new().build();
    let recloser = AsyncRecloser::from(Recloser::default());

    let mut group = c.benchmark_group("peer_success_path");

    bench_ready(&mut group, "bare_future", || async {
        Ok::<_, Error>(black_box(1u64))
    });

    bench_ready(&mut group, "ours_call", || {
        Call::new("peers", black_box(&policy))
            .breaker(black_box(&breaker))
            .budget(black_box(&budget))
            .sink(black_box(&NoopSink))
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });

    bench_ready(&mut group, "ours_call_site", || {
        black_box(&site).run(|| async { Ok::<_, Error>(black_box(1u64)) })
    });
    bench_ready(&mut group, "ours_macro", ours_macro);

    bench_ready(&mut group, "backon_retry", || {
        (|| async { Ok::<_, Error>(black_box(1u64)) }).retry(black_box(backoff))
    });

    bench_ready(&mut group, "tower_resilience", || {
        // `ready().await?.call(req)`, tower's calling convention: readiness first (the breaker
        // checks its state there), then the call's boxed future.
        let service = black_box(&mut tower_service);
        block_on(ServiceExt::<()>::ready(&mut *service)).expect("a closed breaker is ready");
        service.call(())
    });

    bench_ready(&mut group, "failsafe_breaker", || {
        failsafe::futures::CircuitBreaker::call(black_box(&failsafe_breaker), async {
            Ok::<_, Error>(black_box(1u64))
        })
    });

    bench_ready(&mut group, "recloser_breaker", || {
        black_box(&recloser).call(async { Ok::<_, Error>(black_box(1u64)) })
    });

    group.finish();
}

/// The baseline of `breaker_contention`: a breaker whose state and failure count sit behind one
/// `Mutex`, as a straightforward implementation would keep them. Only the closed path, the one
/// the loop exercises, is written out.
struct MutexBreaker {
    inner: Mutex<MutexBreakerState>,
}

struct MutexBreakerState {
    state: BreakerState,
    consecutive_failures: u32,
}

impl MutexBreaker {
    fn new() -> Self {
        MutexBreaker {
            inner: Mutex::new(MutexBreakerState {
                state: BreakerState::Closed,
                consecutive_failures: 0,
            }),
        }
    }

    /// Lock, check the state, unlock.
    fn try_acquire(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        matches!(inner.state, BreakerState::Closed | BreakerState::Disabled)
    }

    /// Lock, reset the failure count, unlock.
    fn record_success(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .consecutive_failures = 0;
    }
}

/// Times `pairs` admit-and-record pairs on each of two threads at once, from their common
/// release to the last one's end.
fn two_threads(pairs: u64, pair: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(2);
    let run = || {
        start.wait();
        let started = Instant::now();
        for _ in 0..pairs {
            pair();
        }
        (started, Instant::now())
    };
    let (first, second) = thread::scope(|scope| {
        let other = scope.spawn(run);
        let mine = run();
        (mine, other.join().expect("the contending thread finished"))
    });
    first.1.max(second.1) - first.0.min(second.0)
}

fn contention(c: &mut Criterion) {
    let ours = Breaker::new("contention", BreakerConfig::new()).expect("default breaker config");
    let baseline = MutexBreaker::new();
    let failsafe_breaker = failsafe::Config::new().build();
    let recloser = Recloser::default();

    let mut group = c.benchmark_group("breaker_contention");
    // One iteration is one pair on each of the two threads.
    group.throughput(Throughput::Elements(2));
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("ours", |b| {
        b.iter_custom(|pairs| {
            two_threads(pairs, || {
                let permit = black_box(&ours).try_acquire();
                permit.expect("a closed breaker admits").record(false, None);
            })
        });
    });

    group.bench_function("mutex_baseline", |b| {
        b.iter_custom(|pairs| {
            two_threads(pairs, || {
                let baseline = black_box(&baseline);
                assert!(baseline.try_acquire(), "a closed breaker admits");
                baseline.record_success();
            })
        });
    });

    group.bench_function("failsafe", |b| {
        b.iter_custom(|pairs| {
            two_threads(pairs, || {
                let result = black_box(&failsafe_breaker).call(|| Ok::<(), ()>(()));
                result.expect("a closed breaker admits");
            })
        });
    });

    group.bench_function("recloser", |b| {
        b.iter_custom(|pairs| {
            two_threads(pairs, || {
                let result = black_box(&recloser).call(|| Ok::<(), ()>(()));
                result.expect("a closed breaker admits");
            })
        });
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = success_path, contention
}
criterion_main!(benches);
