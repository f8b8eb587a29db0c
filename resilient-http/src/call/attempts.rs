//! The decisions of a resilient call, shared by the async and the blocking loop: admit an
//! attempt, judge its outcome, and either schedule the next one or stop.
//!
//! Cost on the success path (first attempt succeeds, closed breaker, no sink, no deadline): a
//! breaker state load, a budget balance load, the outcome's classification and a
//! consecutive-failure counter load. The clock is read only when something needs it: a deadline,
//! a per-attempt timeout, a sink that wants latencies, or a slow-call rule.

use std::ops::ControlFlow;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::Call;
use crate::backoff::Delays;
use crate::breaker::Permit;
use crate::metrics::{self, AttemptOutcome, Event, EventKind};
use crate::{Breaker, Classification, Classify, Error, GiveUp};

/// The state of one resilient call across its attempts.
pub struct Attempts<'a> {
    call: Call<'a>,
    made: u32,
    first_started: Option<Instant>,
    delays: Option<Delays<SmallRng>>,
    measure: bool,
}

/// An attempt under way.
pub struct Started<'a> {
    permit: Option<Permit<'a>>,
    began: Option<Instant>,
    /// How long the attempt may take, if it is limited.
    pub limit: Option<Duration>,
    /// Whether that limit is the deadline's rather than the per-attempt timeout.
    limited_by_deadline: bool,
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
    pub fn new(call: Call<'a>) -> Self {
        let measure = call.sink.enabled() || call.breaker.is_some_and(|b| b.needs_latency());
        Attempts {
            call,
            made: 0,
            first_started: None,
            delays: None,
            measure,
        }
    }

    /// Admits the next attempt, or says why the breaker refused it.
    ///
    /// # Errors
    /// [`Error::CircuitOpen`] when the breaker refuses the attempt.
    pub fn begin(&mut self) -> Result<Started<'a>, Error> {
        let policy = self.call.policy;
        let deadline = policy.deadline();
        if self.made == 0 {
            if let Some(budget) = self.call.budget {
                budget.deposit();
            }
            if deadline.is_some() {
                self.first_started = Some(Instant::now());
            }
        }
        let permit = match self.call.breaker {
            None => None,
            Some(breaker) => match breaker.acquire(Some(self.call.operation)) {
                Ok(permit) => Some(permit),
                Err(rejected) => {
                    self.emit(EventKind::CallRejected {
                        retry_in: rejected.retry_in,
                    });
                    return Err(Error::CircuitOpen {
                        breaker: breaker.name().to_owned(),
                        retry_in: rejected.retry_in,
                        attempts: self.made,
                    });
                }
            },
        };
        self.made += 1;
        let remaining = self.remaining();
        let (limit, limited_by_deadline) = match (policy.attempt_timeout(), remaining) {
            (Some(timeout), Some(left)) if left < timeout => (Some(left), true),
            (Some(timeout), _) => (Some(timeout), false),
            (None, Some(left)) => (Some(left), true),
            (None, None) => (None, false),
        };
        Ok(Started {
            permit,
            began: self.measure.then(Instant::now),
            limit,
            limited_by_deadline,
        })
    }

    /// Judges an attempt's result (`None` when its time limit cut it short): either the
    /// result to return, or the wait before the next attempt.
    pub fn finish<T, E>(
        &mut self,
        started: Started<'a>,
        result: Option<Result<T, E>>,
        classify: impl FnOnce(&Result<T, E>) -> Classification,
    ) -> ControlFlow<Result<T, E>, Duration>
    where
        E: Classify + From<Error>,
    {
        let limit = started.limit;
        let classification = result.as_ref().map_or(Classification::Transient, classify);
        match self.end(started, classification, result.is_none()) {
            Next::Retry(delay) => ControlFlow::Continue(delay),
            Next::Done => ControlFlow::Break(result.expect("only a finished attempt succeeds")),
            Next::GiveUp(why) => ControlFlow::Break(match result {
                Some(Ok(value)) => Ok(value),
                Some(Err(err)) => Err(err.on_give_up(self.made, why)),
                None => Err(E::from(self.timeout_error(limit)).on_give_up(self.made, why)),
            }),
        }
    }

    /// Judges a finished attempt; `timed_out` when its limit cut it short.
    fn end(
        &mut self,
        started: Started<'a>,
        classification: Classification,
        timed_out: bool,
    ) -> Next<'a> {
        let latency = started.began.map(|began| began.elapsed());
        if let Some(permit) = started.permit {
            permit.record(timed_out || classification.is_breaker_failure(), latency);
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
            return Next::Done;
        }
        if timed_out && started.limited_by_deadline {
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
        Next::GiveUp(why)
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
