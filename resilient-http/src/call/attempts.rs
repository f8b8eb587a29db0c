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
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::Call;
use crate::backoff::Delays;
use crate::breaker::{Permit, Rejected};
use crate::metrics::{self, AttemptOutcome, Event, EventKind};
use crate::{Breaker, Classification, Classify, Error, GiveUp};

/// What tokio waits for a timeout too long to represent as an instant: about 30 years, as
/// `tokio::time::timeout` does.
pub(super) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The state of one resilient call across its attempts.
pub struct Attempts<'a> {
    call: Call<'a>,
    made: u32,
    /// Whether an attempt's latency is wanted (by the sink or a slow-call rule).
    measure: bool,
    /// Whether [`begin`](Attempts::begin) reads the clock: `measure`, or a deadline or
    /// per-attempt timeout to enforce.
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
    delays: Option<Delays<SmallRng>>,
    /// The sink's span for this call, if the sink is enabled and opened one. Boxed, so that a
    /// call without one carries and drops a null pointer rather than a `Span`.
    span: Option<Box<tracing::Span>>,
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

impl<'a> Attempts<'a> {
    /// Starts tracking a call.
    #[inline]
    pub fn new(call: Call<'a>) -> Self {
        let measure = call.sink.enabled() || call.breaker.is_some_and(Breaker::needs_latency);
        let policy = call.policy;
        let clocked = measure || policy.deadline().is_some() || policy.attempt_timeout().is_some();
        let span = if measure {
            let span = call
                .sink
                .call_span(call.operation, call.breaker.map(Breaker::name));
            (!span.is_none()).then(|| Box::new(span))
        } else {
            None
        };
        Attempts {
            call,
            made: 0,
            measure,
            clocked,
            first_started: None,
            began: None,
            limit: None,
            until: None,
            limited_by_deadline: false,
            delays: None,
            span,
        }
    }

    /// Admits the next attempt, or says why the breaker refused it; turn a refusal into the
    /// call's error with [`rejected`](Attempts::rejected).
    ///
    /// # Errors
    /// [`Rejected`] when the breaker refuses the attempt.
    #[inline(always)]
    pub fn begin(&mut self) -> Result<Started<'a>, Rejected> {
        if self.made == 0
            && let Some(budget) = self.call.budget
        {
            budget.deposit();
        }
        let permit = match self.call.breaker {
            None => None,
            Some(breaker) => Some(breaker.acquire(Some(self.call.operation))?),
        };
        self.made += 1;
        if self.clocked {
            self.start_clock();
        }
        Ok(Started { permit })
    }

    /// Reads the clock once for an admitted attempt: the start of the call (for its deadline),
    /// the attempt's limit and when it runs out, and the start of its latency.
    fn start_clock(&mut self) {
        let now = Instant::now();
        let policy = self.call.policy;
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

    /// Enters the call's span, when there is one (the sink is enabled): an attempt is polled
    /// inside it, so the wrapped code's events nest under the call.
    #[inline(always)]
    pub fn enter_span(&self) -> Option<tracing::span::Entered<'_>> {
        self.span.as_deref().map(tracing::Span::enter)
    }

    /// The call's span, if it has one, for an attempt polled elsewhere.
    pub fn span(&self) -> Option<&tracing::Span> {
        self.span.as_deref()
    }

    /// How long the current attempt may take, if it is limited: what a blocking operation is
    /// told to enforce.
    #[inline]
    pub fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// When the current attempt's limit runs out, if it is limited: what an async attempt's timer
    /// is set to.
    #[inline]
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The call's error for an attempt the breaker refused, after reporting the rejection.
    #[cold]
    pub fn rejected(&self, rejected: Rejected) -> Error {
        let _entered = self.enter_span();
        self.emit(EventKind::CallRejected {
            retry_in: rejected.retry_in,
        });
        if self.made > 0 {
            self.call_finished(false);
        }
        Error::CircuitOpen {
            breaker: self
                .call
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
    pub fn finish<T, E>(
        &mut self,
        started: Started<'a>,
        result: &mut Option<Result<T, E>>,
        classify: impl FnOnce(&Result<T, E>) -> Classification,
    ) -> ControlFlow<(), Duration>
    where
        E: Classify + From<Error>,
    {
        let classification = result.as_ref().map_or(Classification::Transient, classify);
        if result.is_some() && self.is_quiet_success(classification) {
            self.record_success(started);
            return ControlFlow::Break(());
        }
        self.judge(started, result, classification)
    }

    /// Whether an attempt so classified is the success path: a success with no latency wanted
    /// (so the sink is off, and there is nothing to measure or report). Its caller then
    /// [`record_success`](Attempts::record_success) and returns the result as it is.
    #[inline(always)]
    pub fn is_quiet_success(&self, classification: Classification) -> bool {
        !self.measure && classification == Classification::Success
    }

    /// Tells the breaker, if any, of a success on the success path: all that path does.
    #[inline(always)]
    pub fn record_success(&self, started: Started<'a>) {
        if let Some(permit) = started.permit {
            permit.record_for(false, None, Some(self.call.operation));
        }
    }

    /// [`finish`](Attempts::finish) off the success path, given the attempt's classification.
    #[inline(never)]
    pub fn judge<T, E>(
        &mut self,
        started: Started<'a>,
        result: &mut Option<Result<T, E>>,
        classification: Classification,
    ) -> ControlFlow<(), Duration>
    where
        E: Classify + From<Error>,
    {
        // Taken out for the judgement (which needs `&mut self`) and put back after, so that
        // what the judgement reports is reported inside the call's span.
        let span = self.span.take();
        let next = {
            let _entered = span.as_deref().map(tracing::Span::enter);
            let limit = self.limit;
            match self.end(started, classification, result.is_none()) {
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
        self.span = span;
        next
    }

    /// Judges a finished attempt; `timed_out` when its limit cut it short.
    fn end(
        &mut self,
        started: Started<'a>,
        classification: Classification,
        timed_out: bool,
    ) -> Next<'a> {
        let latency = self.began.map(|began| began.elapsed());
        if let Some(permit) = started.permit {
            permit.record_for(
                timed_out || classification.is_breaker_failure(),
                latency,
                Some(self.call.operation),
            );
        }
        let outcome = if timed_out {
            AttemptOutcome::TimedOut
        } else {
            AttemptOutcome::of(classification)
        };
        self.emit(EventKind::AttemptFinished {
            attempt: self.made,
            outcome,
            latency: latency.unwrap_or_default(),
        });
        if outcome == AttemptOutcome::Success {
            self.call_finished(true);
            return Next::Done;
        }
        if timed_out && self.limited_by_deadline {
            let deadline = self.call.policy.deadline().unwrap_or_default();
            return self.give_up(GiveUp::Deadline(deadline));
        }
        match self.next_delay(classification, timed_out) {
            Ok(delay) => {
                self.emit(EventKind::RetryScheduled {
                    attempt: self.made,
                    delay,
                    reason: outcome,
                });
                Next::Retry(delay)
            }
            Err(why) => self.give_up(why),
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
    fn next_delay(
        &mut self,
        classification: Classification,
        timed_out: bool,
    ) -> Result<Duration, GiveUp<'a>> {
        let policy = self.call.policy;
        let idempotent = self.call.idempotent || policy.retry_non_idempotent();
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
        if self.call.breaker.is_some_and(Breaker::rejects_now) {
            return Err(GiveUp::CircuitOpen);
        }
        let mut delay = self.jittered_delay();
        let remaining = self.remaining();
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
        if let Some(budget) = self.call.budget
            && !budget.try_withdraw()
        {
            self.emit(EventKind::BudgetExhausted {
                budget: budget.name(),
            });
            return Err(GiveUp::BudgetExhausted(budget.name()));
        }
        Ok(delay)
    }

    fn jittered_delay(&mut self) -> Duration {
        let policy = self.call.policy;
        let delays = self.delays.get_or_insert_with(|| {
            let rng = match policy.jitter_seed() {
                Some(seed) => SmallRng::seed_from_u64(seed),
                None => SmallRng::from_rng(&mut rand::rng()),
            };
            policy.backoff().delays(policy.jitter(), rng)
        });
        delays.next().unwrap_or_default()
    }

    /// Time left before the deadline, if there is one.
    fn remaining(&self) -> Option<Duration> {
        let deadline = self.call.policy.deadline()?;
        let elapsed = self.first_started.map(|t| t.elapsed()).unwrap_or_default();
        Some(deadline.saturating_sub(elapsed))
    }

    fn give_up(&self, why: GiveUp<'a>) -> Next<'a> {
        if why != GiveUp::NotRetryable {
            self.emit(EventKind::GaveUp {
                attempts: self.made,
                reason: why,
            });
        }
        self.call_finished(false);
        Next::GiveUp(why)
    }

    /// Reports the end of a call that made at least one attempt.
    fn call_finished(&self, succeeded: bool) {
        let duration = match self.first_started {
            Some(started) if self.measure => started.elapsed(),
            _ => Duration::ZERO,
        };
        self.emit(EventKind::CallFinished {
            attempts: self.made,
            succeeded,
            duration,
        });
    }

    fn emit(&self, kind: EventKind<'_>) {
        let call = &self.call;
        if call.sink.enabled() {
            let breaker = call.breaker.map(|b| b.name());
            let event = Event {
                operation: Some(call.operation),
                breaker,
                kind,
            };
            metrics::emit(call.sink, event);
        }
    }
}
