//! The future of an async resilient call, written by hand rather than as an `async fn`.
//!
//! The success path (an `Ok` from the first attempt, a closed breaker, a quiet sink) is what
//! every healthy call pays, so it is laid out for the compiler: the poll is inlined into the
//! caller, the attempt's output is returned as it came out of the attempt's poll, and
//! everything else is out of line, in [`after_attempt`]. As an `async fn`, the same loop kept
//! its result in its own frame and copied it out through memory, with wider loads than the
//! stores that had just written it; each such copy stalls. `success_path` in
//! `benches/overhead.rs` measures the difference (figures in `BENCHMARKS.md`).
//!
//! The call's one timer (an attempt's time limit, or the wait before a retry) is the
//! [`Attempts`]'s: boxed with the call's span, made the first time the call has to wait, and
//! reset for its later attempts and waits, so that a call that never waits never sets one up
//! and carries a null pointer. Held in place in `Run`, it made `Run`'s drop glue too large to
//! inline, and every call paid an out-of-line call to drop a finished future (BENCHMARKS.md).

use std::future::Future;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::timed::poll_attempt;
use super::{Attempts, Call, Judge, Started};
use crate::{Classification, Classify, Error};

pin_project! {
    /// The future of [`Call::run`](super::Call::run) and
    /// [`Call::run_classified`](super::Call::run_classified).
    ///
    /// Dropping it cancels the call: the attempt under way is dropped with it and gives back
    /// its half-open probe slot, if it held one.
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, F, Fut, J> {
        call: Call<'a>,
        attempts: Attempts,
        operation: F,
        // How a result is judged: a type, so that `run`'s success path has no classification
        // in it at all. Classifying its results there, even behind a branch, would take their
        // address and put them in memory.
        judge: PhantomData<fn() -> J>,
        #[pin]
        attempt: Option<Fut>,
        started: Option<Started<'a>>,
        // Whether the call's timer is the wait before the next attempt.
        waiting: bool,
    }
}

impl<'a, F, Fut, J> Run<'a, F, Fut, J> {
    #[inline(always)]
    pub(super) fn new(call: Call<'a>, operation: F) -> Self {
        Run {
            call,
            attempts: Attempts::new(),
            operation,
            judge: PhantomData,
            attempt: None,
            started: None,
            waiting: false,
        }
    }
}

impl<T, E, F, Fut, J> Future for Run<'_, F, Fut, J>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Classify + From<Error>,
    J: Judge<T, E>,
{
    type Output = Result<T, E>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if *this.waiting {
                ready!(this.attempts.poll_timer(cx));
                *this.waiting = false;
            }
            let attempts = &mut *this.attempts;
            if this.attempt.is_none() {
                match attempts.begin(this.call) {
                    Ok(started) => *this.started = Some(started),
                    Err(rejected) => {
                        let error = attempts.rejected(this.call, rejected);
                        return Poll::Ready(Err(E::from(error)));
                    }
                }
                this.attempt.set(Some((this.operation)()));
            }
            let Some(attempt) = this.attempt.as_mut().as_pin_mut() else {
                unreachable!("an attempt was started above")
            };
            let result = match ready!(poll_attempt(attempts, attempt, cx)) {
                Some(result)
                    if J::succeeded(&result)
                        && attempts.is_quiet_success(Classification::Success) =>
                {
                    this.attempt.set(None);
                    if let Some(started) = this.started.take() {
                        Attempts::record_success(this.call, started);
                    }
                    return Poll::Ready(result);
                }
                result => {
                    this.attempt.set(None);
                    result
                }
            };
            let next = after_attempt(this.call, attempts, this.started, result, &J::classify);
            match next {
                ControlFlow::Break(result) => return Poll::Ready(result),
                ControlFlow::Continue(waiting) => *this.waiting = waiting,
            }
        }
    }
}

/// Everything after an attempt but the success path: judges its result (`None` when its limit
/// cut it short) and either returns what the call returns, or arms the timer for the wait
/// before the next attempt and says whether there is a wait.
#[inline(never)]
fn after_attempt<'a, T, E>(
    call: &Call<'a>,
    attempts: &mut Attempts,
    started: &mut Option<Started<'a>>,
    result: Option<Result<T, E>>,
    classify: &impl Fn(&Result<T, E>) -> Classification,
) -> ControlFlow<Result<T, E>, bool>
where
    E: Classify + From<Error>,
{
    let Some(started) = started.take() else {
        unreachable!("an attempt under way holds its `Started`")
    };
    let mut result = result;
    match attempts.finish(call, started, &mut result, classify) {
        ControlFlow::Break(()) => ControlFlow::Break(super::finished(result)),
        ControlFlow::Continue(delay) => ControlFlow::Continue(attempts.wait(delay)),
    }
}
