//! The decisions of a resilient call, shared by the async and the blocking loop and by the code
//! `#[resilient]` generates: admit an attempt, judge its outcome, and either schedule the next
//! one or stop.
//!
//! Cost on the success path (first attempt succeeds, closed breaker, a sink that is not
//! `enabled`, no deadline or timeout, no slow-call rule), all of it inlined into the caller's
//! loop: a budget balance load (plus a compare-exchange while it is below its cap), a load of the
//! breaker's state word, the outcome's classification, and a second load of the word plus one of
//! the consecutive-failure counter to record the success. No clock read, no lock, no allocation;
//! [`Started`] is 16 bytes and a refusal is a 16-byte [`Rejected`] (the [`Error`] is built out of
//! line, by [`Attempts::rejected`]). Shown by `success_path/full` in `benches/overhead.rs`;
//! figures in `BENCHMARKS.md`.
//!
//! The clock is read once per attempt, and only when something needs it: a deadline, a
//! per-attempt timeout, a sink that wants latencies, or a slow-call rule; that one reading
//! gives the call's start, the attempt's limit, the instant it runs out (handed to the
//! attempt's timer as an instant, so tokio does not read the clock again) and the latency's
//! start.
//! Everything else (a failure, a retry, a give-up, an enabled sink) leaves the inlined
//! [`Attempts::finish`] for the general, out-of-line judgement.

use std::ops::ControlFlow;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::{Call, off_path};
use crate::breaker::{Permit, Rejected};
use crate::metrics::{self, AttemptOutcome, Event, EventKind, MetricsSink};
use crate::{Breaker, Classification, Classify, Error, GiveUp, RetryPolicy};

/// What tokio waits for a timeout too long to represent as an instant: about 30 years, as
/// `tokio::time::timeout` does.
pub(super) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The state of one resilient call across its attempts. It does not hold the [`Call`]: every
/// decision is handed the call, which its owner keeps (`Run` in its own fields) or makes again
/// where it needs it, from its statics (`#[resilient]`) or its site (`CallSite`), so that
/// starting a call copies nothing it has just written.
pub struct Attempts {
    made: u32,
    /// What a call tracks beyond its count of attempts, made when first needed: by the first
    /// attempt of a clocked call, or by the first outcome that is not a quiet success. A call
    /// whose first attempt succeeds quietly never makes it, so starting one writes two words.
    tracked: Option<Tracked>,
    /// The sink's span for this call, if the sink is enabled and opened one, and the call's
    /// timer once it has waited: kept out of [`Tracked`] so that what the call tracks needs no
    /// drop.
    off_path: off_path::Slot,
}

#[derive(Default)]
struct Tracked {
    /// Whether an attempt's latency is wanted (by the sink or a slow-call rule).
    measure: bool,
    /// Whether [`Attempts::begin`] reads the clock: `measure`, or a deadline or per-attempt
    /// timeout to enforce.
    clocked: bool,
    first_started: Option<Instant>,
    /// When the current attempt began, if `measure`.
    began: Option<Instant>,
    /// How long the current attempt may take, if it is limited.
    limit: Option<Duration>,
    /// When that limit runs out.
    until: Option<Instant>,
    /// Whether that limit is the deadline's rather than the per-attempt timeout.
    limited_by_deadline: bool,
    /// The backoff's random generator and its previous wait, made by the first retry: the
    /// state of a [`Delays`](crate::Delays), whose backoff and jitter are the policy's.
    jitter: Option<(SmallRng, Duration)>,
}

/// An attempt under way: the breaker's permit, if there is a breaker. Dropped without
/// [`Attempts::finish`] (the attempt was cancelled), it gives a half-open probe slot back.
pub struct Started<'a> {
    permit: Option<Permit<'a>>,
}

/// What [`Attempts::end`] decided.
enum Next<'a> {
    /// Wait this long, then try again.
    Retry(Duration),
    /// The attempt succeeded: return its result.
    Done,
    /// Return the attempt's error, after telling it why.
    GiveUp(GiveUp<'a>),
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts::new()
    }
}

impl Drop for Attempts {
    /// Drops the span and the timer, if any, out of line: dropping a call without them (the
    /// success path) is then one inlined null check, rather than a call into drop glue that
    /// sets up a frame for what the call does not have.
    #[inline]
    fn drop(&mut self) {
        if self.off_path.is_some() {
            drop_off_path(self.off_path.take());
        }
    }
}

#[inline(never)]
fn drop_off_path(off_path: off_path::Slot) {
    drop(off_path);
}

impl Attempts {
    /// Starts tracking a call: two constants; what depends on the call is worked out by the
    /// first [`begin`](Attempts::begin).
    #[inline(always)]
    pub const fn new() -> Self {
        Attempts {
            made: 0,
            tracked: None,
            off_path: None,
        }
    }

    /// Admits the next attempt of `call`, or says why the breaker refused it; turn a refusal
    /// into the call's error with [`rejected`](Attempts::rejected).
    ///
    /// # Errors
    /// [`Rejected`] when the breaker refuses the attempt.
    #[inline(always)]
    pub fn begin<'a>(&mut self, call: &Call<'a>) -> Result<Started<'a>, Rejected> {
        if self.made == 0 {
            if let Some(budget) = call.budget {
                budget.deposit();
            }
            if call.is_clocked() {
                self.track_clocked(call.is_measured(), call.operation, call.breaker, call.sink);
            }
        }
        let permit = match call.breaker {
            None => None,
            Some(breaker) => Some(breaker.acquire(Some(call.operation))?),
        };
        self.made += 1;
        if let Some(tracked) = &mut self.tracked
            && tracked.clocked
        {
            tracked.start_clock(call.policy);
        }
        Ok(Started { permit })
    }

    /// Waits for the current attempt's limit, `until`, on the call's timer: for an attempt
    /// that is pending (see [`off_path::arm`] and [`off_path::poll_limit`]).
    pub(super) fn poll_limit(&mut self, until: Instant, cx: &mut Context<'_>) -> Poll<()> {
        off_path::poll_limit(off_path::arm(&mut self.off_path, until), cx)
    }

    /// Arms the call's timer for the wait before the next attempt: `false` when there is no
    /// wait.
    pub(super) fn wait(&mut self, delay: Duration) -> bool {
        if delay.is_zero() {
            return false;
        }
        let now = Instant::now();
        off_path::arm(
            &mut self.off_path,
            now.checked_add(delay).unwrap_or(now + FAR_FUTURE),
        );
        true
    }

    /// Waits for the call's timer, if it is set.
    pub(super) fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        off_path::poll_timer(&mut self.off_path, cx)
    }

    /// Starts tracking a clocked call, and opens its span if its sink is enabled.
    ///
    /// Handed the parts of the call it needs, in registers, rather than the call: given the
    /// call's address, the caller keeps the call in memory, and writes it there on the success
    /// path too, before the branch that skips this.
    #[inline(never)]
    fn track_clocked(
        &mut self,
        measure: bool,
        operation: &str,
        breaker: Option<&Breaker>,
        sink: Option<&dyn MetricsSink>,
    ) {
        let tracked = self.tracked();
        tracked.clocked = true;
        tracked.measure = measure;
        if let Some(sink) = sink {
            let span = metrics::call_span(sink, operation, breaker.map(Breaker::name));
            if !span.is_none() {
                off_path::set_span(&mut self.off_path, span);
            }
        }
    }

    /// What the call tracks, made now if it was not yet.
    fn tracked(&mut self) -> &mut Tracked {
        self.tracked.get_or_insert_with(Tracked::default)
    }

    /// Enters the call's span, when there may be one (see [`span`](Attempts::span)): an attempt
    /// is polled inside it, so the wrapped code's events nest under the call.
    #[inline(always)]
    pub fn enter_span(&self) -> Option<tracing::span::Entered<'_>> {
        self.span().map(tracing::Span::enter)
    }

    /// The call's span, for an attempt polled elsewhere: `None` for a call with neither a span
    /// (its sink is not enabled) nor a timer, the success path; `Span::none()` for a call with a
    /// timer and no span (see `off_path::span`), which costs an idle enter off the success
    /// path, where telling the two apart would cost a check on it.
    #[inline(always)]
    pub fn span(&self) -> Option<&tracing::Span> {
        off_path::span(&self.off_path)
    }

    /// How long the current attempt may take, if it is limited: what a blocking operation is
    /// told to enforce.
    #[inline]
    pub fn limit(&self) -> Option<Duration> {
        self.tracked.as_ref()?.limit
    }

    /// When the current attempt's limit runs out, if it is limited: what an async attempt's timer
    /// is set to.
    #[inline]
    pub fn until(&self) -> Option<Instant> {
        self.tracked.as_ref()?.until
    }

    /// The call's error for an attempt the breaker refused, after reporting the rejection.
    #[cold]
    pub fn rejected(&self, call: &Call<'_>, rejected: Rejected) -> Error {
        let _entered = self.enter_span();
        self.emit(
            call,
            EventKind::CallRejected {
                retry_in: rejected.retry_in,
            },
        );
        if self.made > 0 {
            self.call_finished(call, false);
        }
        Error::CircuitOpen {
            breaker: call
                .breaker
                .map(Breaker::name)
                .unwrap_or_default()
                .to_owned(),
            retry_in: rejected.retry_in,
            attempts: self.made,
        }
    }

    /// Judges an attempt's result (`None` when its time limit cut it short): either
    /// `Break`, and `result` is then what the call returns (an error rewritten by
    /// [`Classify::on_give_up`], a timeout turned into its error), or `Continue` with the wait
    /// before the next attempt (`result` is then dropped, before the wait).
    ///
    /// The result is judged in place rather than moved in and out, so that a successful result
    /// is copied once, from the attempt to the caller.
    #[inline(always)]
    pub fn finish<'a, T, E>(
        &mut self,
        call: &Call<'a>,
        started: Started<'a>,
        result: &mut Option<Result<T, E>>,
        classify: impl FnOnce(&Result<T, E>) -> Classification,
    ) -> ControlFlow<(), Duration>
    where
        E: Classify + From<Error>,
    {
        let classification = result.as_ref().map_or(Classification::Transient, classify);
        if result.is_some() && self.is_quiet_success(classification) {
            Attempts::record_success(call, started);
            return ControlFlow::Break(());
        }
        self.judge(call, started, result, classification)
    }

    /// Whether an attempt so classified is the success path: a success with no latency wanted
    /// (so the sink is off, and there is nothing to measure or report). Its caller then
    /// [`record_success`](Attempts::record_success) and returns the result as it is.
    #[inline(always)]
    pub fn is_quiet_success(&self, classification: Classification) -> bool {
        classification == Classification::Success
            && self.tracked.as_ref().is_none_or(|tracked| !tracked.measure)
    }

    /// Tells the breaker, if any, of a success on the success path: all that path does.
    #[inline(always)]
    pub fn record_success<'a>(call: &Call<'a>, started: Started<'a>) {
        if let Some(permit) = started.permit {
            permit.record_for(false, None, Some(call.operation));
        }
    }

    /// [`finish`](Attempts::finish) off the success path, given the attempt's classification.
    #[inline(never)]
    pub fn judge<'a, T, E>(
        &mut self,
        call: &Call<'a>,
        started: Started<'a>,
        result: &mut Option<Result<T, E>>,
        classification: Classification,
    ) -> ControlFlow<(), Duration>
    where
        E: Classify + From<Error>,
    {
        // Taken out for the judgement (which needs `&mut self`) and put back after, so that
        // what the judgement reports is reported inside the call's span.
        let span = off_path::take_span(&mut self.off_path);
        let next = {
            let _entered = span.enter();
            let limit = self.tracked().limit;
            match self.end(call, started, classification, result.is_none()) {
                Next::Retry(delay) => {
                    *result = None;
                    ControlFlow::Continue(delay)
                }
                Next::Done => ControlFlow::Break(()),
                Next::GiveUp(why) => {
                    let returned = match result.take() {
                        Some(Ok(value)) => Ok(value),
                        Some(Err(err)) => Err(err.on_give_up(self.made, why)),
                        None => Err(E::from(self.timeout_error(limit)).on_give_up(self.made, why)),
                    };
                    *result = Some(returned);
                    ControlFlow::Break(())
                }
            }
        };
        if !span.is_none() {
            off_path::set_span(&mut self.off_path, span);
        }
        next
    }

    /// Judges a finished attempt; `timed_out` when its limit cut it short.
    fn end<'a>(
        &mut self,
        call: &Call<'a>,
        started: Started<'a>,
        classification: Classification,
        timed_out: bool,
    ) -> Next<'a> {
        let latency = self.tracked().began.map(|began| began.elapsed());
        if let Some(permit) = started.permit {
            permit.record_for(
                timed_out || classification.is_breaker_failure(),
                latency,
                Some(call.operation),
            );
        }
        let outcome = if timed_out {
            AttemptOutcome::TimedOut
        } else {
            AttemptOutcome::of(classification)
        };
        self.emit(
            call,
            EventKind::AttemptFinished {
                attempt: self.made,
                outcome,
                latency: latency.unwrap_or_default(),
            },
        );
        if outcome == AttemptOutcome::Success {
            self.call_finished(call, true);
            return Next::Done;
        }
        if timed_out && self.tracked().limited_by_deadline {
            let deadline = call.policy.deadline().unwrap_or_default();
            return self.give_up(call, GiveUp::Deadline(deadline));
        }
        match self.next_delay(call, classification, timed_out) {
            Ok(delay) => {
                self.emit(
                    call,
                    EventKind::RetryScheduled {
                        attempt: self.made,
                        delay,
                        reason: outcome,
                    },
                );
                Next::Retry(delay)
            }
            Err(why) => self.give_up(call, why),
        }
    }

    /// The error for an attempt its limit cut short.
    fn timeout_error(&self, limit: Option<Duration>) -> Error {
        Error::AttemptTimeout {
            timeout: limit.unwrap_or_default(),
            attempts: self.made,
        }
    }

    /// The wait before the next attempt, or why there is none.
    fn next_delay<'a>(
        &mut self,
        call: &Call<'a>,
        classification: Classification,
        timed_out: bool,
    ) -> Result<Duration, GiveUp<'a>> {
        let policy = call.policy;
        let idempotent = call.idempotent || policy.retry_non_idempotent();
        let (retryable, retry_after) = match classification {
            _ if timed_out => (idempotent, None),
            Classification::Status {
                status,
                retry_after,
            } => {
                // A server that asks to be retried later has not acted on the request.
                let asked = retry_after.is_some();
                (
                    policy.retry_on().contains(status) && (idempotent || asked),
                    retry_after,
                )
            }
            Classification::NotSent => (true, None),
            Classification::Transient => (idempotent, None),
            Classification::Success | Classification::Permanent { .. } => (false, None),
        };
        if !retryable {
            return Err(GiveUp::NotRetryable);
        }
        if self.made >= policy.max_attempts() {
            return Err(GiveUp::AttemptsExhausted);
        }
        if call.breaker.is_some_and(Breaker::rejects_now) {
            return Err(GiveUp::CircuitOpen);
        }
        let mut delay = self.jittered_delay(call);
        let remaining = self.remaining(call);
        if let Some(asked) = retry_after {
            if asked > policy.backoff().max_delay() || remaining.is_some_and(|left| asked > left) {
                return Err(GiveUp::RetryAfterTooLong);
            }
            delay = delay.max(asked);
        }
        if let (Some(left), Some(deadline)) = (remaining, policy.deadline())
            && delay >= left
        {
            return Err(GiveUp::Deadline(deadline));
        }
        if let Some(budget) = call.budget
            && !budget.try_withdraw()
        {
            self.emit(
                call,
                EventKind::BudgetExhausted {
                    budget: budget.name(),
                },
            );
            return Err(GiveUp::BudgetExhausted(budget.name()));
        }
        Ok(delay)
    }

    fn jittered_delay(&mut self, call: &Call<'_>) -> Duration {
        let policy = call.policy;
        let retry = self.made;
        let (rng, prev) = self.tracked().jitter.get_or_insert_with(|| {
            let rng = match policy.jitter_seed() {
                Some(seed) => SmallRng::seed_from_u64(seed),
                None => SmallRng::from_rng(&mut rand::rng()),
            };
            (rng, policy.backoff().initial_delay())
        });
        let delay = policy
            .backoff()
            .jittered(policy.jitter(), retry, *prev, rng);
        *prev = delay;
        delay
    }

    /// Time left before the deadline, if there is one.
    fn remaining(&self, call: &Call<'_>) -> Option<Duration> {
        let deadline = call.policy.deadline()?;
        let first_started = self.tracked.as_ref()?.first_started;
        let elapsed = first_started.map(|t| t.elapsed()).unwrap_or_default();
        Some(deadline.saturating_sub(elapsed))
    }

    fn give_up<'a>(&self, call: &Call<'_>, why: GiveUp<'a>) -> Next<'a> {
        if why != GiveUp::NotRetryable {
            self.emit(
                call,
                EventKind::GaveUp {
                    attempts: self.made,
                    reason: why,
                },
            );
        }
        self.call_finished(call, false);
        Next::GiveUp(why)
    }

    /// Reports the end of a call that made at least one attempt.
    fn call_finished(&self, call: &Call<'_>, succeeded: bool) {
        let duration = match &self.tracked {
            Some(Tracked {
                first_started: Some(started),
                measure: true,
                ..
            }) => started.elapsed(),
            _ => Duration::ZERO,
        };
        self.emit(
            call,
            EventKind::CallFinished {
                attempts: self.made,
                succeeded,
                duration,
            },
        );
    }

    fn emit(&self, call: &Call<'_>, kind: EventKind<'_>) {
        if let Some(sink) = call.sink {
            let breaker = call.breaker.map(|b| b.name());
            let event = Event {
                operation: Some(call.operation),
                breaker,
                kind,
            };
            metrics::emit(sink, event);
        }
    }
}

impl Tracked {
    /// Reads the clock once for an admitted attempt: the start of the call (for its deadline),
    /// the attempt's limit and when it runs out, and the start of its latency.
    ///
    /// Out of line, and handed the policy rather than the call, as `track_clocked` is.
    #[inline(never)]
    fn start_clock(&mut self, policy: &RetryPolicy) {
        let now = Instant::now();
        let first_started = *self.first_started.get_or_insert(now);
        let remaining = policy
            .deadline()
            .map(|deadline| deadline.saturating_sub(now.saturating_duration_since(first_started)));
        let (limit, limited_by_deadline) = match (policy.attempt_timeout(), remaining) {
            (Some(timeout), Some(left)) if left < timeout => (Some(left), true),
            (Some(timeout), _) => (Some(timeout), false),
            (None, Some(left)) => (Some(left), true),
            (None, None) => (None, false),
        };
        self.limit = limit;
        self.limited_by_deadline = limited_by_deadline;
        self.until = limit.map(|limit| now.checked_add(limit).unwrap_or_else(|| now + FAR_FUTURE));
        self.began = self.measure.then_some(now);
    }
}
