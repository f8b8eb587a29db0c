//! The success path of a resilient call does not touch the heap: a policy, a closed breaker, a
//! retry budget and a `NoopSink` around an operation that succeeds at once cost no allocation,
//! and neither do a breaker's failure-rate rule, a policy's deadline, or a `#[resilient]` method
//! once its first call has resolved its handles. (An `InMemorySink` allocates for the first event
//! of each operation and outcome it sees: it is a test sink, and not covered here.)
//!
//! A counting global allocator counts the allocations (and reallocations) made by the current
//! thread while [`allocations_in`] runs a closure; other threads, such as the test harness's,
//! are never counted, so the tests of this file may run in parallel.
//!
//! To see where an unexpected allocation comes from, run
//! `ZERO_ALLOC_BACKTRACE=1 cargo test --test zero_alloc -- --nocapture`: every counted
//! allocation then prints its size and a backtrace.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, Breaker, BreakerConfig, BudgetConfig, Call, CallSite, Error, Jitter, NoopSink,
    RetryBudget, RetryPolicy, WindowConfig, resilient,
};

/// Calls measured per check, after one warm-up call.
const CALLS: usize = 1_000;

thread_local! {
    // Both are const-initialised `Cell`s without destructors, so the allocator can read them
    // without allocating or registering anything.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Whether counted allocations print a backtrace; read once, outside the allocator.
static BACKTRACE: OnceLock<bool> = OnceLock::new();

struct CountingAllocator;

impl CountingAllocator {
    fn note(size: usize) {
        // `try_with`: during thread teardown the locals may be gone; nothing is counted then.
        if !COUNTING.try_with(Cell::get).unwrap_or(false) {
            return;
        }
        COUNT.with(|count| count.set(count.get() + 1));
        if BACKTRACE.get().copied().unwrap_or(false) {
            // Printing allocates: stop counting meanwhile, so this neither counts nor recurses.
            COUNTING.with(|counting| counting.set(false));
            eprintln!(
                "counted allocation of {size} bytes at:\n{}",
                Backtrace::force_capture()
            );
            COUNTING.with(|counting| counting.set(true));
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the only addition is `note`,
// which touches thread-local `Cell`s and never allocates (except while printing a backtrace,
// which it does with counting switched off, so it does not re-enter itself).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CountingAllocator::note(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CountingAllocator::note(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CountingAllocator::note(new_size);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations the current thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> usize {
    BACKTRACE.get_or_init(|| std::env::var_os("ZERO_ALLOC_BACKTRACE").is_some_and(|v| v != "0"));
    COUNT.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    f();
    COUNTING.with(|counting| counting.set(false));
    COUNT.with(Cell::get)
}

/// Runs a future that completes on its first poll, with a no-op waker and no runtime.
///
/// # Panics
/// If the future is not ready at once.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future must complete on its first poll"),
    }
}

/// Runs `call` once to warm up, then counts the allocations of [`CALLS`] more runs.
fn allocations_per_run<Fut>(mut call: impl FnMut() -> Fut) -> usize
where
    Fut: Future<Output = Result<u64, Error>>,
{
    assert_eq!(block_on(call()).expect("the call succeeds"), 1);
    allocations_in(|| {
        for _ in 0..CALLS {
            black_box(block_on(call()).expect("the call succeeds"));
        }
    })
}

#[test]
fn the_counter_counts_this_threads_allocations() {
    let counted = allocations_in(|| {
        black_box(Box::new(black_box(1u64)));
    });
    assert_eq!(counted, 1, "a `Box::new` must count as one allocation");
}

#[test]
fn a_bare_ready_future_does_not_allocate() {
    let counted = allocations_per_run(|| async { Ok::<_, Error>(black_box(1u64)) });
    assert_eq!(
        counted, 0,
        "the bare future and `block_on` must not allocate"
    );
}

/// Counts the allocations of successful calls under `policy`, `breaker`, a default budget and a
/// `NoopSink`.
fn allocations_of_successful_calls(policy: &RetryPolicy, breaker: &Breaker) -> usize {
    let budget = RetryBudget::new("zero-alloc", BudgetConfig::new()).expect("default budget");
    allocations_per_run(|| {
        Call::new("zero-alloc", black_box(policy))
            .breaker(black_box(breaker))
            .budget(black_box(&budget))
            .sink(&NoopSink)
            .run(|| async { Ok::<_, Error>(black_box(1u64)) })
    })
}

fn assert_none(counted: usize) {
    assert_eq!(
        counted, 0,
        "{counted} allocations in {CALLS} successful calls; rerun with ZERO_ALLOC_BACKTRACE=1 \
         and --nocapture to see where they happen"
    );
}

#[test]
fn the_success_path_does_not_allocate() {
    let breaker = Breaker::new("zero-alloc", BreakerConfig::new()).expect("default breaker");
    assert_none(allocations_of_successful_calls(
        &RetryPolicy::default(),
        &breaker,
    ));
}

#[test]
fn a_failure_rate_rule_does_not_allocate_on_success() {
    let config = BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: WindowConfig::Count { size: 100 },
        ..BreakerConfig::new()
    };
    let breaker = Breaker::new("zero-alloc-rate", config).expect("valid breaker config");
    assert_none(allocations_of_successful_calls(
        &RetryPolicy::default(),
        &breaker,
    ));
}

/// Counts `count`'s allocations of calls under a 10 s deadline, inside a runtime's context, as
/// a limited call runs: the call's timer is made only for an attempt still pending under its
/// limit, which one that is ready at once never is.
fn allocations_under_a_deadline(count: impl FnOnce(RetryPolicy) -> usize) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let _context = runtime.enter();
    let policy = RetryPolicy::builder()
        .deadline(Duration::from_secs(10))
        .build()
        .expect("valid policy");
    count(policy)
}

#[test]
fn a_deadline_does_not_allocate_on_success() {
    let breaker = Breaker::new("zero-alloc", BreakerConfig::new()).expect("default breaker");
    assert_none(allocations_under_a_deadline(|policy| {
        allocations_of_successful_calls(&policy, &breaker)
    }));
}

/// A `#[resilient]` method with a breaker and (by default) a budget from the global registry,
/// and no timeout or deadline, so it needs no runtime.
#[resilient(max_attempts = 3, breaker = "zero-alloc-macro")]
async fn resilient_method() -> Result<u64, Error> {
    Ok(black_box(1u64))
}

#[test]
fn a_resilient_method_does_not_allocate_after_its_first_call() {
    // The warm-up call of `allocations_per_run` resolves the method's static handles (a
    // registry lookup that allocates the breaker and budget); later calls must not allocate.
    assert_none(allocations_per_run(resilient_method));
}

/// Counts the allocations of successful calls through a `CallSite` under `policy`, with a
/// default breaker, a default budget and a `NoopSink`. The site is built before counting
/// starts, as it would be where a client is built; only its calls are counted.
fn allocations_of_successful_site_calls(policy: RetryPolicy) -> usize {
    let breaker = Breaker::new("zero-alloc-site", BreakerConfig::new()).expect("default breaker");
    let budget = RetryBudget::new("zero-alloc-site", BudgetConfig::new()).expect("default budget");
    let site = CallSite::new("zero-alloc-site", policy)
        .breaker(Arc::new(breaker))
        .budget(Arc::new(budget))
        .sink(Arc::new(NoopSink));
    allocations_per_run(|| black_box(&site).run(|| async { Ok::<_, Error>(black_box(1u64)) }))
}

#[test]
fn a_call_site_success_path_does_not_allocate() {
    assert_none(allocations_of_successful_site_calls(RetryPolicy::default()));
}

#[test]
fn a_call_site_with_a_deadline_does_not_allocate_on_success() {
    assert_none(allocations_under_a_deadline(
        allocations_of_successful_site_calls,
    ));
}

// ---- A call that waits: one box, however many waits ----

/// Failures before each call of the waiting checks succeeds.
const FAILURES: u32 = 2;

/// `FAILURES` retryable failures, 1 ms apart, then a success.
fn retrying_after_a_millisecond() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(FAILURES + 1)
        .backoff(Backoff::constant(Duration::from_millis(1)))
        .jitter(Jitter::None)
        .build()
        .expect("valid policy")
}

/// An attempt that fails with a 503 while `failed` is under [`FAILURES`], and succeeds after.
fn fail_then_succeed(failed: &AtomicU32) -> impl Future<Output = Result<u64, Error>> + use<> {
    let outcome = if failed.fetch_add(1, Relaxed) < FAILURES {
        Err(Error::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: None,
            attempts: 1,
        })
    } else {
        Ok(1)
    };
    async move { outcome }
}

/// Allocations of one call that waits [`FAILURES`] times, after a warm-up call, run to its end on
/// a paused current-thread runtime: the box of the call's timer, made by its first wait and
/// reused by the next, whichever loop runs the call.
fn allocations_of_a_call_that_waits<Fut>(failed: &AtomicU32, mut call: impl FnMut() -> Fut) -> usize
where
    Fut: Future<Output = Result<u64, Error>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    for warm_up in [true, false] {
        failed.store(0, Relaxed);
        let counted = allocations_in(|| {
            assert_eq!(
                runtime
                    .block_on(call())
                    .expect("the third attempt succeeds"),
                1
            );
        });
        assert_eq!(failed.load(Relaxed), FAILURES + 1);
        if !warm_up {
            return counted;
        }
    }
    unreachable!("the second run returns")
}

#[test]
fn call_run_allocates_one_box_for_all_its_waits() {
    let policy = retrying_after_a_millisecond();
    let failed = AtomicU32::new(0);
    let counted = allocations_of_a_call_that_waits(&failed, || {
        Call::new("zero-alloc-waits", &policy).run(|| fail_then_succeed(&failed))
    });
    assert_eq!(counted, 1);
}

#[test]
fn a_call_site_allocates_one_box_for_all_its_waits() {
    let site = CallSite::new("zero-alloc-waits", retrying_after_a_millisecond());
    let failed = AtomicU32::new(0);
    let counted =
        allocations_of_a_call_that_waits(&failed, || site.run(|| fail_then_succeed(&failed)));
    assert_eq!(counted, 1);
}

static METHOD_FAILED: AtomicU32 = AtomicU32::new(0);

/// [`FAILURES`] failures 1 ms apart, then a success; no budget, so that nothing but its waits
/// could allocate.
#[resilient(max_attempts = 3, backoff = constant("1ms"), jitter = none, budget = false)]
async fn waiting_method() -> Result<u64, Error> {
    fail_then_succeed(&METHOD_FAILED).await
}

#[test]
fn a_resilient_method_allocates_one_box_for_all_its_waits() {
    assert_eq!(
        allocations_of_a_call_that_waits(&METHOD_FAILED, waiting_method),
        1
    );
}
