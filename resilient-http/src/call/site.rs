//! A call site: one operation's policy, breaker, budget and sink, put together once and shared
//! by all its calls.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use super::timed::{Limited, Wait};
use super::{Attempts, Call, ClassifyOk, Handles, Judge, OkIsSuccess};
use crate::metrics::MetricsSink;
use crate::{Breaker, Classification, Classify, Error, Registry, RetryBudget, RetryPolicy};

/// One operation's policy, breaker, budget and sink, put together once and shared by all its
/// calls: the runtime's counterpart of a `#[resilient]` method, for code that does not use the
/// macro. Build it where the client is built, keep it (in the client, or in a `static`
/// `LazyLock`), and [`run`](CallSite::run) every call through it.
///
/// A [`Call`] does the same for one call, from references it is handed each time. A call site
/// is the cheaper of the two on the success path: its future holds one pointer to the site
/// rather than a copy of the call, and the sink's [`enabled`](MetricsSink::enabled) is asked
/// once, here, rather than by every call (`success_path` in `BENCHMARKS.md`).
///
/// ```
/// use resilient_http::{CallSite, Error, Registry, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let policy = RetryPolicy::builder().max_attempts(3).build().expect("a valid policy");
/// let inventory = CallSite::new("inventory.count", policy)
///     .with_registry(Registry::global(), "inventory");
///
/// let mut calls = 0;
/// let count: Result<u32, Error> = inventory
///     .run(|| {
///         calls += 1;
///         async { Ok(42) }
///     })
///     .await;
/// assert_eq!(count.unwrap(), 42);
/// assert_eq!(calls, 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CallSite {
    operation: Box<str>,
    policy: RetryPolicy,
    handles: Handles,
    idempotent: bool,
    /// Whether [`sink`](CallSite::sink) chose the sink, which a registry's then does not
    /// replace. (A breaker or budget chosen is one that is there; a sink that is not enabled is
    /// not kept.)
    sink_given: bool,
}

impl CallSite {
    /// A call site named `operation` (its name in metrics) under `policy`, with no breaker, no
    /// budget and no sink, whose calls are treated as idempotent.
    pub fn new(operation: impl Into<Box<str>>, policy: RetryPolicy) -> Self {
        CallSite {
            operation: operation.into(),
            policy,
            handles: Handles::default(),
            idempotent: true,
            sink_given: false,
        }
    }

    /// Uses `registry`'s breaker named `name`, its budget of the same name and its sink, as
    /// `#[resilient(breaker = "...", registry = ...)]` does, for each of the three not set
    /// otherwise: a breaker, budget or sink given with its own method, before or after this one,
    /// is the one used. The breaker and budget are created with the registry's defaults if they
    /// do not exist yet. Meant to be called once; for a site without a budget, give the
    /// breaker and the sink with their own methods instead.
    pub fn with_registry(mut self, registry: &Registry, name: &str) -> Self {
        let handles = &mut self.handles;
        handles
            .breaker
            .get_or_insert_with(|| registry.breaker(name));
        handles.budget.get_or_insert_with(|| registry.budget(name));
        if !self.sink_given {
            handles.set_sink(registry.sink().clone());
        }
        self
    }

    /// Guards the calls with `breaker`.
    pub fn breaker(mut self, breaker: Arc<Breaker>) -> Self {
        self.handles.breaker = Some(breaker);
        self
    }

    /// Draws the calls' retries from `budget`.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.handles.budget = Some(budget);
        self
    }

    /// Reports the calls' events to `sink`. Its [`enabled`](MetricsSink::enabled) is asked
    /// here, once; a sink that panics there is taken as disabled.
    pub fn sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.handles.set_sink(sink);
        self.sink_given = true;
        self
    }

    /// Whether the operation is safe to repeat: see [`Call::idempotent`].
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// The policy the calls run under.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// One call of this site, to change it for that call only, as in
    /// `site.call().idempotent(false).run(..)`.
    #[inline(always)]
    pub fn call(&self) -> Call<'_> {
        self.handles
            .call(&self.operation, &self.policy, self.idempotent)
    }

    /// Runs `operation` until it succeeds or the policy stops, as [`Call::run`] does: every
    /// `Ok` is a success and each error is judged by its [`Classify`] implementation.
    ///
    /// The call allocates one box the first time it has to wait (a retry, or an attempt still
    /// pending under a time limit, which is every real request under one), holding its timer
    /// for that wait and the next, and the span of an enabled sink. A call that neither waits
    /// nor has a span does not allocate.
    ///
    /// # Errors
    /// As [`Call::run`].
    pub fn run<T, E, F, Fut>(&self, operation: F) -> impl Future<Output = Result<T, E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify + From<Error>,
    {
        run_loop::<OkIsSuccess, T, E, F, Fut>(self, operation)
    }

    /// Like [`run`](CallSite::run), but the `Ok` value is classified too, as
    /// [`Call::run_classified`] does.
    ///
    /// # Errors
    /// As [`Call::run`].
    pub fn run_classified<T, E, F, Fut>(&self, operation: F) -> impl Future<Output = Result<T, E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Classify,
        E: Classify + From<Error>,
    {
        run_loop::<ClassifyOk, T, E, F, Fut>(self, operation)
    }

    /// The blocking twin of [`run`](CallSite::run): see [`Call::run_blocking`].
    ///
    /// # Errors
    /// As [`Call::run`].
    pub fn run_blocking<T, E, F>(&self, operation: F) -> Result<T, E>
    where
        F: FnMut(Option<Duration>) -> Result<T, E>,
        E: Classify + From<Error>,
    {
        self.call().run_blocking(operation)
    }

    /// The blocking twin of [`run_classified`](CallSite::run_classified).
    ///
    /// # Errors
    /// As [`Call::run`].
    pub fn run_blocking_classified<T, E, F>(&self, operation: F) -> Result<T, E>
    where
        F: FnMut(Option<Duration>) -> Result<T, E>,
        T: Classify,
        E: Classify + From<Error>,
    {
        self.call().run_blocking_classified(operation)
    }
}

/// The call's loop, shaped like the code `#[resilient]` generates: the call is made afresh from
/// the site wherever it is used rather than kept, so the future holds the site's address and
/// not the call's eight words; the attempt's result is scoped to the attempt, so it is not kept
/// across the wait before the next one; and what the future holds between its awaits is the
/// attempt, its permit and the [`Attempts`], whose drop is one inlined null check once the call
/// has returned.
async fn run_loop<J, T, E, F, Fut>(site: &CallSite, mut operation: F) -> Result<T, E>
where
    J: Judge<T, E>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Classify + From<Error>,
{
    let mut attempts = Attempts::new();
    loop {
        let delay = {
            let started = match attempts.begin(&site.call()) {
                Ok(started) => started,
                Err(rejected) => return Err(E::from(attempts.rejected(&site.call(), rejected))),
            };
            let (mut result, started) = match Limited::new(&mut attempts, operation()).await {
                Some(result) => {
                    let quiet = || attempts.is_quiet_success(Classification::Success);
                    match J::split(result, quiet) {
                        Ok(success) => {
                            Attempts::record_success(&site.call(), started);
                            return J::join(success);
                        }
                        Err(result) => (Some(result), started),
                    }
                }
                None => (None, started),
            };
            match attempts.finish(&site.call(), started, &mut result, J::classify) {
                ControlFlow::Break(()) => return super::finished(result),
                ControlFlow::Continue(delay) => delay,
            }
        };
        Wait::new(&mut attempts, delay).await;
    }
}
