//! What a call holds only off its quiet path: the sink's span and the call's timer.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::coop;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// A call's span and timer, boxed together and made when the call first needs either: a
    /// call that needs neither (the success path) carries a null pointer, and dropping it is
    /// one inlined null check. Held in place, the timer made the drop glue of `Run` and of
    /// `CallSite::run`'s future too large to inline, and every successful call paid an
    /// out-of-line call to drop a future that had finished (BENCHMARKS.md). Boxed on its own,
    /// beside the span's box, it cost every call a second null check and the `Call::run`
    /// future a slower layout.
    pub(super) struct OffPath {
        // `Span::none()` when the call has a timer but no span.
        span: tracing::Span,
        #[pin]
        timer: Option<Sleep>,
    }
}

/// The box of an [`OffPath`], made on first use.
pub(super) type Slot = Option<Pin<Box<OffPath>>>;

/// The slot's contents, made now if they were not yet.
fn made(slot: &mut Slot) -> Pin<&mut OffPath> {
    slot.get_or_insert_with(|| {
        Box::pin(OffPath {
            span: tracing::Span::none(),
            timer: None,
        })
    })
    .as_mut()
}

/// The call's span, if it has one: a call with a timer but no span answers `Span::none()`,
/// so that the call without either (the success path) is told `None` by one null check.
#[inline(always)]
pub(super) fn span(slot: &Slot) -> Option<&tracing::Span> {
    slot.as_deref().map(|off_path| &off_path.span)
}

/// Sets the call's span.
pub(super) fn set_span(slot: &mut Slot, span: tracing::Span) {
    *made(slot).project().span = span;
}

/// Takes the call's span out, to enter it while the call's state is changed; put it back with
/// [`set_span`].
pub(super) fn take_span(slot: &mut Slot) -> tracing::Span {
    match slot {
        Some(off_path) => {
            std::mem::replace(off_path.as_mut().project().span, tracing::Span::none())
        }
        None => tracing::Span::none(),
    }
}

/// The call's timer, set to go off at `until`: made on first use, reset afterwards (a limited
/// attempt re-arms it on every poll that finds the attempt pending, which costs a comparison
/// once it is set to that instant).
pub(super) fn arm(slot: &mut Slot, until: Instant) -> Pin<&mut Sleep> {
    let mut timer = made(slot).project().timer;
    if timer.is_none() {
        timer.set(Some(tokio::time::sleep_until(until)));
    }
    let Some(mut timer) = timer.as_pin_mut() else {
        unreachable!("the timer was made above")
    };
    if timer.deadline() != until {
        timer.as_mut().reset(until);
    }
    timer
}

/// Polls the timer of an attempt that is pending under its limit. Once the task has spent its
/// coop budget (tokio gives each task a budget of work per turn, and an attempt busy with
/// always-ready resources spends it), `Sleep::poll` answers `Pending` whatever the time, and a
/// timer polled only then would never fire; as `tokio::time::timeout` does, it is then polled
/// with the budget lifted. Asked only off the success path, after the attempt was pending.
pub(super) fn poll_limit(timer: Pin<&mut Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    if coop::has_budget_remaining() {
        timer.poll(cx)
    } else {
        pin!(coop::unconstrained(timer)).poll(cx)
    }
}

/// Waits for the timer, if it is set.
pub(super) fn poll_timer(slot: &mut Slot, cx: &mut Context<'_>) -> Poll<()> {
    match slot
        .as_mut()
        .and_then(|off| off.as_mut().project().timer.as_pin_mut())
    {
        Some(timer) => timer.poll(cx),
        None => Poll::Ready(()),
    }
}
