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
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use std::time::Duration;

use resilient_http::{
    Breaker, BreakerConfig, BudgetConfig, Call, CallSite, Error, NoopSink, RetryBudget,
    RetryPolicy, WindowConfig, resilient,
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

#[test]
fn a_deadline_does_not_allocate_on_success() {
    // A limited attempt runs on a tokio timer, which needs a runtime's timer in context; an
    // attempt that is ready at once never makes one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let _context = runtime.enter();
    let policy = RetryPolicy::builder()
        .deadline(Duration::from_secs(10))
        .build()
        .expect("valid policy");
    let breaker = Breaker::new("zero-alloc", BreakerConfig::new()).expect("default breaker");
    assert_none(allocations_of_successful_calls(&policy, &breaker));
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
    // The site's timer is made only when an attempt is pending under its limit; one that is
    // ready at once never makes it, but a limited call still needs a runtime's timer in context.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let _context = runtime.enter();
    let policy = RetryPolicy::builder()
        .deadline(Duration::from_secs(10))
        .build()
        .expect("valid policy");
    assert_none(allocations_of_successful_site_calls(policy));
}
