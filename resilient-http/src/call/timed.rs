//! How an async call polls its attempt, and the futures a [`CallSite`](super::CallSite) call and
//! a `#[resilient]` function await on the call's state: an attempt under its time limit, and
//! the wait before the next attempt. Both run on the call's one timer, which [`Attempts`]
//! holds, so that the call's future holds no timer of its own.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::Attempts;

pin_project! {
    /// An attempt polled inside its call's span, and cut short when its limit runs out (the
    /// per-attempt timeout or the deadline): `None` then.
    pub(crate) struct Limited<'s, F> {
        attempts: &'s mut Attempts,
        #[pin]
        attempt: F,
    }
}

impl<'s, F> Limited<'s, F> {
    #[inline(always)]
    pub(crate) fn new(attempts: &'s mut Attempts, attempt: F) -> Self {
        Limited { attempts, attempt }
    }
}

impl<F: Future> Future for Limited<'_, F> {
    type Output = Option<F::Output>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        poll_attempt(this.attempts, this.attempt, cx)
    }
}

/// Polls `attempt` inside the call's span and, while it is pending, the call's timer for its
/// limit, if it has one: `Ready(None)` when the limit ran out first. What every async loop does
/// with its attempt (`Run`, [`Limited`] for `CallSite::run` and `#[resilient]`).
#[inline(always)]
pub(super) fn poll_attempt<F: Future>(
    attempts: &mut Attempts,
    attempt: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Option<F::Output>> {
    // Two arms rather than an optional guard: a guard alive across the poll would need dropping
    // if the poll panicked, and keeping the output spill-free on the success path matters more
    // than one branch.
    let polled = match attempts.span() {
        None => attempt.poll(cx),
        Some(span) => span.in_scope(|| attempt.poll(cx)),
    };
    if let Poll::Ready(output) = polled {
        return Poll::Ready(Some(output));
    }
    let Some(until) = attempts.until() else {
        return Poll::Pending;
    };
    ready!(attempts.poll_limit(until, cx));
    Poll::Ready(None)
}

/// The wait before the next attempt, on the call's timer.
pub(crate) struct Wait<'s> {
    /// The call, when there is a wait.
    attempts: Option<&'s mut Attempts>,
}

impl<'s> Wait<'s> {
    /// Arms the call's timer to wait `delay` (see [`Attempts::wait`]).
    pub(crate) fn new(attempts: &'s mut Attempts, delay: Duration) -> Self {
        let armed = attempts.wait(delay);
        Wait {
            attempts: armed.then_some(attempts),
        }
    }
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.attempts {
            Some(attempts) => attempts.poll_timer(cx),
            None => Poll::Ready(()),
        }
    }
}
