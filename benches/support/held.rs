//! The harness of `held.rs`: like `one_poll.rs`, but each future has its address escape before
//! it is polled, as a future held in a task's memory does. The compiler must then keep the
//! future's state in memory, where `one_poll.rs` lets it keep a future it sees whole (the bare
//! one, above all) in registers.

use std::fmt::Debug;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// Polls `future` once with a no-op waker, after handing its address to `black_box`; panics if
/// it is not ready.
#[inline(always)]
fn poll_held<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    black_box(&mut future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future must complete on its first poll"),
    }
}

/// Measures `call` as `name`, held in memory, after checking once that it completes at the
/// first poll with 1.
pub(crate) fn bench_held<Fut, E>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut call: impl FnMut() -> Fut,
) where
    Fut: Future<Output = Result<u64, E>>,
    E: Debug,
{
    assert_eq!(poll_held(call()).expect("the benchmarked call succeeds"), 1);
    group.bench_function(name, |b| b.iter(|| poll_held(call())));
}
