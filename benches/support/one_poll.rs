//! The harness of the success-path benches (`overhead.rs`, `peers.rs`): futures that complete
//! on their first poll, driven by a one-poll `block_on` on `Waker::noop()` with no runtime, so
//! that what is measured is the call's own work, not a scheduler's.

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// Polls `future` once with a no-op waker; `None` if it is not ready.
///
/// Inlined into the measuring loop for every variant, so that the output is not returned
/// through memory from a separate frame: copying it back with wider loads than the stores that
/// wrote it stalls (10 to 30 ns here), a cost of the harness, not of the call measured.
#[inline(always)]
pub(crate) fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Runs a future that completes on its first poll.
///
/// # Panics
/// If it does not.
#[inline(always)]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    match poll_once(future) {
        Some(output) => output,
        None => panic!("the benchmarked future must complete on its first poll"),
    }
}

/// Measures `call` as `name`, after checking once that it completes at the first poll with 1.
/// The error type is the library's own (the peers wrap ours in theirs).
pub(crate) fn bench_ready<Fut, E>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut call: impl FnMut() -> Fut,
) where
    Fut: Future<Output = Result<u64, E>>,
    E: Debug,
{
    let first = poll_once(call()).unwrap_or_else(|| panic!("`{name}` is not ready at first poll"));
    assert_eq!(first.expect("the benchmarked call succeeds"), 1);
    group.bench_function(name, |b| b.iter(|| block_on(call())));
}
