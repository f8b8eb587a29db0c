//! Running an operation under a policy, a breaker, a budget and a sink.

mod attempts;
mod handles;
mod judge;
mod off_path;
mod run;
mod site;
mod timed;

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

pub use attempts::{Attempts, Started};
pub(crate) use handles::Handles;
pub use judge::{ClassifyOk, Judge, OkIsSuccess};
pub use run::Run;
pub use site::CallSite;
pub(crate) use timed::{Limited, Wait};

use crate::metrics::MetricsSink;
use crate::{Breaker, Classification, Classify, Error, RetryBudget, RetryPolicy};

/// One resilient call: an operation, the policy it runs under, and optionally the breaker,
/// budget and sink it uses. `#[resilient]` generates one of these per call; use it directly to
/// make anything resilient. For many calls of one kind, a [`CallSite`] puts the same together
/// once, and costs less per call.
///
/// The operation is a closure that starts a fresh attempt each time it is called, so every
/// argument it captures is available to every attempt.
///
/// ```
/// use resilient_http::{Call, Error, Registry, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let policy = RetryPolicy::default();
/// let breaker = Registry::global().breaker("inventory");
/// let mut calls = 0;
/// let answer: Result<u32, Error> = Call::new("inventory.count", &policy)
///     .breaker(&breaker)
///     .run(|| {
///         calls += 1;
///         async { Ok(42) }
///     })
///     .await;
/// assert_eq!(answer.unwrap(), 42);
/// assert_eq!(calls, 1);
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub(crate) operation: &'a str,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) breaker: Option<&'a Breaker>,
    pub(crate) budget: Option<&'a RetryBudget>,
    /// The sink, if it is enabled: `enabled()` is asked once, when the sink is given, rather
    /// than by every call, so that a call with the default sink makes no virtual call at all,
    /// and a call made from a shared handle does not even look at the sink's pointer.
    pub(crate) sink: Option<&'a dyn MetricsSink>,
    pub(crate) idempotent: bool,
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("operation", &self.operation)
            .field("policy", self.policy)
            .field("breaker", &self.breaker.map(Breaker::name))
            .field("budget", &self.budget.map(RetryBudget::name))
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl<'a> Call<'a> {
    /// A call named `operation` (its name in metrics) under `policy`, with no breaker, no
    /// budget and no sink, treated as idempotent.
    #[inline]
    pub fn new(operation: &'a str, policy: &'a RetryPolicy) -> Self {
        Call {
            operation,
            policy,
            breaker: None,
            budget: None,
            sink: None,
            idempotent: true,
        }
    }

    /// Guard the call with `breaker`.
    #[inline]
    pub fn breaker(mut self, breaker: &'a Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Draw retries from `budget`.
    #[inline]
    pub fn budget(mut self, budget: &'a RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Report events to `sink`. Its [`enabled`](MetricsSink::enabled) is asked here, once.
    #[inline]
    pub fn sink(mut self, sink: &'a dyn MetricsSink) -> Self {
        self.sink = sink.enabled().then_some(sink);
        self
    }

    /// Whether the operation is safe to repeat. When `false` (and the policy does not opt in
    /// with `retry_non_idempotent`), it is retried only when it provably did not reach the
    /// server (a connect failure) or the server asked for a retry with `Retry-After`.
    #[inline]
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Whether an attempt's latency is wanted: by an enabled sink, or a breaker's slow-call
    /// rule.
    #[inline]
    pub(crate) fn is_measured(&self) -> bool {
        self.sink.is_some() || self.breaker.is_some_and(Breaker::needs_latency)
    }

    /// Whether attempts read the clock: to measure them, or to enforce a deadline or a
    /// per-attempt timeout.
    #[inline]
    pub(crate) fn is_clocked(&self) -> bool {
        self.is_measured()
            || self.policy.deadline().is_some()
            || self.policy.attempt_timeout().is_some()
    }

    /// Runs `operation` until it succeeds or the policy stops; every `Ok` is a success and each
    /// error is judged by its [`Classify`] implementation.
    ///
    /// # Errors
    /// The last attempt's error (after [`Classify::on_give_up`]), or an [`Error`] of the
    /// runtime's own converted into `E`: the breaker is open, an attempt timed out, or the
    /// deadline passed.
    pub fn run<T, E, F, Fut>(self, operation: F) -> Run<'a, F, Fut, OkIsSuccess>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify + From<Error>,
    {
        Run::new(self, operation)
    }

    /// Like [`run`](Call::run), but the `Ok` value is classified too, so `Ok(response)` with a
    /// 503 is retried. When retries stop on such a value, it is returned as `Ok`.
    ///
    /// # Errors
    /// As [`run`](Call::run).
    pub fn run_classified<T, E, F, Fut>(self, operation: F) -> Run<'a, F, Fut, ClassifyOk>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Classify,
        E: Classify + From<Error>,
    {
        Run::new(self, operation)
    }

    /// The blocking twin of [`run`](Call::run): waits with `std::thread::sleep`. The operation
    /// receives the time its attempt may take (the per-attempt timeout or what is left of the
    /// deadline) and should enforce it, as a blocking call cannot be interrupted from outside.
    ///
    /// # Errors
    /// As [`run`](Call::run).
    pub fn run_blocking<T, E, F>(self, mut operation: F) -> Result<T, E>
    where
        F: FnMut(Option<Duration>) -> Result<T, E>,
        E: Classify + From<Error>,
    {
        self.run_blocking_with(|limit| Some(operation(limit)), classify_error)
    }

    /// The blocking twin of [`run_classified`](Call::run_classified).
    ///
    /// # Errors
    /// As [`run`](Call::run).
    pub fn run_blocking_classified<T, E, F>(self, mut operation: F) -> Result<T, E>
    where
        F: FnMut(Option<Duration>) -> Result<T, E>,
        T: Classify,
        E: Classify + From<Error>,
    {
        self.run_blocking_with(|limit| Some(operation(limit)), Classify::classify)
    }

    /// The blocking loop. The operation returns `None` when the limit it was given cut its
    /// attempt short: the attempt is then judged as a timed-out one, as the async loop judges an
    /// attempt its timer cut short (reported as timed out, and given up with
    /// [`Error::AttemptTimeout`] or [`Error::DeadlineExceeded`]).
    pub(crate) fn run_blocking_with<T, E, F>(
        self,
        mut operation: F,
        classify: impl Fn(&Result<T, E>) -> Classification,
    ) -> Result<T, E>
    where
        F: FnMut(Option<Duration>) -> Option<Result<T, E>>,
        E: Classify + From<Error>,
    {
        let mut attempts = Attempts::new();
        loop {
            let started = match attempts.begin(&self) {
                Ok(started) => started,
                Err(rejected) => return Err(E::from(attempts.rejected(&self, rejected))),
            };
            let mut result = {
                let _entered = attempts.enter_span();
                operation(attempts.limit())
            };
            match attempts.finish(&self, started, &mut result, &classify) {
                ControlFlow::Break(()) => return finished(result),
                ControlFlow::Continue(delay) => std::thread::sleep(delay),
            }
        }
    }
}

/// The result a call returns once [`Attempts::finish`] said `Break`: always there by then.
#[inline(always)]
pub fn finished<R>(result: Option<R>) -> R {
    match result {
        Some(result) => result,
        None => unreachable!("`Attempts::finish` leaves the result to return when it breaks"),
    }
}

/// Every `Ok` is a success; an error is judged by its [`Classify`] implementation.
#[inline]
pub fn classify_error<T, E: Classify>(result: &Result<T, E>) -> Classification {
    match result {
        Ok(_) => Classification::Success,
        Err(err) => err.classify(),
    }
}
