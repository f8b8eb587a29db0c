//! Cancellation: a resilient call's future dropped at each of its await points (during its
//! first attempt, during a backoff sleep, during a retry attempt, during an attempt under its
//! timeout, while holding the half-open breaker's only probe) leaves nothing behind: the
//! attempt's own future is dropped with it, no task is left running, the retry budget holds
//! what the call had taken and no more, no later attempt or event appears, and the breaker
//! admits the next caller (as its probe, when the call held it). A panic in the body reaches the
//! caller and still gives the probe back.
//!
//! Each await point is tested through `Call::run`, `CallSite::run` and a `#[resilient]` method,
//! on tokio's paused clock, with the call polled by hand so that it is dropped exactly where the
//! test says; and through the `Client`, against a server on 127.0.0.1 that never answers.

mod support;

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    AttemptOutcome, Backoff, Breaker, BreakerConfig, BreakerState, BudgetConfig, Call, CallSite,
    Client, Error, Event, EventKind, Jitter, ManualClock, MetricsSink, Registry, RegistryConfig,
    RetryBudget, RetryPolicy, resilient,
};
use support::{FaultServer, Reply};

use BreakerState::{Closed, HalfOpen, Open};

const BREAKER: &str = "backend";
const OPEN: Duration = Duration::from_secs(10);
const BACKOFF: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_secs(1);
/// What a call's first attempt adds to the budget (`retry_ratio` 0.25), in thousandths of a
/// token.
const DEPOSIT: i64 = 250;
/// What a scheduled retry takes from it.
const RETRY: i64 = 1_000;

/// What one attempt of the scripted body does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Fails with a 503, which is retried.
    Fail,
    /// Never finishes.
    Hang,
    /// Succeeds.
    Succeed,
    /// Panics with "the body panicked".
    Panic,
}

/// The body of every call: one scripted step per attempt.
#[derive(Debug, Default)]
struct Script {
    steps: Mutex<VecDeque<Step>>,
    started: AtomicU32,
    /// Hanging attempts whose future was dropped.
    abandoned: AtomicU32,
}

/// Counts its drop.
struct OnDrop<'a>(&'a AtomicU32);

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl Script {
    fn attempt(&self) -> impl Future<Output = Result<(), Error>> + Send + '_ {
        self.started.fetch_add(1, SeqCst);
        let step = self.steps.lock().unwrap().pop_front();
        async move {
            match step.expect("an attempt the test did not script") {
                Step::Fail => Err(Error::Status {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    retry_after: None,
                    attempts: 1,
                }),
                Step::Hang => {
                    let _abandoned = OnDrop(&self.abandoned);
                    std::future::pending().await
                }
                Step::Succeed => Ok(()),
                Step::Panic => panic!("the body panicked"),
            }
        }
    }

    fn started(&self) -> u32 {
        self.started.load(SeqCst)
    }

    fn abandoned(&self) -> u32 {
        self.abandoned.load(SeqCst)
    }
}

/// An event as the tests look at it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Attempt(u32, AttemptOutcome),
    Retry(u32, Duration),
    Finished { attempts: u32, succeeded: bool },
    Transition(BreakerState, BreakerState),
    Other,
}

#[derive(Debug, Default)]
struct Recorder {
    events: Mutex<Vec<Seen>>,
}

impl Recorder {
    fn events(&self) -> Vec<Seen> {
        self.events.lock().unwrap().clone()
    }

    fn transitions(&self) -> Vec<Seen> {
        let mut events = self.events();
        events.retain(|e| matches!(e, Seen::Transition(..)));
        events
    }
}

impl MetricsSink for Recorder {
    fn record(&self, event: &Event<'_>) {
        let seen = match event.kind {
            EventKind::AttemptFinished {
                attempt, outcome, ..
            } => Seen::Attempt(attempt, outcome),
            EventKind::RetryScheduled { attempt, delay, .. } => Seen::Retry(attempt, delay),
            EventKind::CallFinished {
                attempts,
                succeeded,
                ..
            } => Seen::Finished {
                attempts,
                succeeded,
            },
            EventKind::BreakerStateChanged { from, to } => Seen::Transition(from, to),
            _ => Seen::Other,
        };
        self.events.lock().unwrap().push(seen);
    }
}

/// How the test calls the scripted body.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// `Call::run`.
    Call,
    /// `CallSite::run`.
    Site,
    /// A `#[resilient]` method.
    Method,
}

/// A registry on a manual clock whose breaker [`BREAKER`] trips after 3 failures in a row and
/// admits one probe after [`OPEN`], with its budget and a recording sink; the scripted body;
/// and the same policy for a `Call`, for `CallSite`s of the registry and for `#[resilient]`
/// methods: 3 attempts, [`BACKOFF`] apart, with or without a per-attempt [`TIMEOUT`].
struct Fixture {
    registry: Registry,
    clock: ManualClock,
    sink: Arc<Recorder>,
    breaker: Arc<Breaker>,
    budget: Arc<RetryBudget>,
    script: Script,
    policy: RetryPolicy,
    limited: RetryPolicy,
    site: CallSite,
    limited_site: CallSite,
}

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

impl Fixture {
    fn new<const N: usize>(steps: [Step; N]) -> Self {
        let clock = ManualClock::new();
        let sink = Arc::new(Recorder::default());
        let registry = Registry::builder()
            .config(RegistryConfig {
                breaker: BreakerConfig {
                    consecutive_failures: Some(3),
                    open_duration: OPEN,
                    ..BreakerConfig::new()
                },
                budget: BudgetConfig {
                    retry_ratio: 0.25,
                    ..BudgetConfig::new()
                },
                ..RegistryConfig::default()
            })
            .clock(Arc::new(clock.clone()))
            .sink(sink.clone())
            .build()
            .expect("valid registry");
        let policy = RetryPolicy::builder()
            .max_attempts(3)
            .backoff(Backoff::constant(BACKOFF))
            .jitter(Jitter::None);
        let limited = policy.clone().attempt_timeout(TIMEOUT).build().unwrap();
        let policy = policy.build().unwrap();
        Fixture {
            breaker: registry.breaker(BREAKER),
            budget: registry.budget(BREAKER),
            clock,
            sink,
            script: Script {
                steps: Mutex::new(steps.into()),
                ..Script::default()
            },
            site: CallSite::new("cancellation.site", policy.clone())
                .with_registry(&registry, BREAKER),
            limited_site: CallSite::new("cancellation.limited_site", limited.clone())
                .with_registry(&registry, BREAKER),
            registry,
            limited,
            policy,
        }
    }

    /// A call of the scripted body, under the policy limited by [`TIMEOUT`] or not.
    fn start(&self, via: Via, limited: bool) -> Boxed<'_> {
        match (via, limited) {
            (Via::Call, false) => Box::pin(self.call(&self.policy)),
            (Via::Call, true) => Box::pin(self.call(&self.limited)),
            (Via::Site, false) => Box::pin(self.site.run(|| self.script.attempt())),
            (Via::Site, true) => Box::pin(self.limited_site.run(|| self.script.attempt())),
            (Via::Method, false) => Box::pin(self.method()),
            (Via::Method, true) => Box::pin(self.limited_method()),
        }
    }

    fn call<'a>(
        &'a self,
        policy: &'a RetryPolicy,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        Call::new("cancellation.call", policy)
            .breaker(&self.breaker)
            .budget(&self.budget)
            .sink(&*self.sink)
            .run(|| self.script.attempt())
    }

    #[resilient(max_attempts = 3, backoff = constant("100ms"), jitter = none,
                breaker = "backend", registry = &self.registry, name = "cancellation.method")]
    async fn method(&self) -> Result<(), Error> {
        self.script.attempt().await
    }

    #[resilient(max_attempts = 3, backoff = constant("100ms"), jitter = none, timeout = "1s",
                breaker = "backend", registry = &self.registry, name = "cancellation.limited")]
    async fn limited_method(&self) -> Result<(), Error> {
        self.script.attempt().await
    }

    /// A client of the registry guarded by [`BREAKER`] (and drawing on its budget), under the
    /// unlimited policy.
    fn client(&self) -> Client {
        Client::builder()
            .registry(&self.registry)
            .policy(self.policy.clone())
            .breaker(BREAKER)
            .build()
            .expect("valid client")
    }

    /// The budget's balance, in thousandths of a token.
    fn balance(&self) -> i64 {
        (self.budget.balance() * 1_000.0).round() as i64
    }

    /// Trips the breaker and lets its open duration pass: the next caller is its only probe.
    fn trip_and_wait(&self) {
        for _ in 0..3 {
            self.breaker.try_acquire().unwrap().record(true, None);
        }
        assert_eq!(self.breaker.state(), Open);
        self.clock.advance(OPEN);
    }

    /// After a call was dropped: once the runtime has had an hour to run whatever the call
    /// might have left behind, no task is alive beyond the `tasks` there were before it, no
    /// attempt started after it was dropped, the sink heard nothing more, and the budget holds
    /// `balance` thousandths of a token.
    async fn assert_settled(&self, tasks: usize, balance: i64) {
        let (started, events) = (self.script.started(), self.sink.events());
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        assert_eq!(alive_tasks(), tasks, "tasks alive");
        assert_eq!(
            self.script.started(),
            started,
            "an attempt started after the drop"
        );
        assert_eq!(self.sink.events(), events, "events after the drop");
        assert_eq!(self.balance(), balance, "the budget's balance");
    }

    /// The breaker admits the next call, which succeeds at its first attempt.
    async fn assert_admits(&self, via: Via) {
        let started = self.script.started();
        self.start(via, false)
            .await
            .expect("the next call is admitted and succeeds");
        assert_eq!(self.script.started(), started + 1);
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Polls `future` once, with the calling task's waker.
async fn poll_once<F: Future + ?Sized>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// Awaits `future`, turning a panic in its poll into an `Err` carrying the panic's payload
/// (the future is dropped before this returns, as an unwinding caller would drop it).
async fn catch_unwind<F: Future>(future: F) -> std::thread::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

fn status_503() -> AttemptOutcome {
    AttemptOutcome::Status(StatusCode::SERVICE_UNAVAILABLE)
}

// ---- During the first attempt ----

async fn dropped_during_the_first_attempt(via: Via) {
    let f = Fixture::new([Step::Hang, Step::Succeed]);
    let (tasks, balance) = (alive_tasks(), f.balance());

    let mut call = f.start(via, false);
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(f.script.started(), 1, "the first attempt is under way");
    assert_eq!(
        f.sink.events(),
        [],
        "an unfinished attempt has reported nothing"
    );
    drop(call);

    assert_eq!(
        f.script.abandoned(),
        1,
        "the attempt is dropped with the call"
    );
    f.assert_settled(tasks, balance + DEPOSIT).await;
    assert_eq!(f.breaker.state(), Closed);
    f.assert_admits(via).await;
}

#[tokio::test(start_paused = true)]
async fn call_dropped_during_its_first_attempt_leaves_nothing_behind() {
    dropped_during_the_first_attempt(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn call_site_dropped_during_its_first_attempt_leaves_nothing_behind() {
    dropped_during_the_first_attempt(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn resilient_method_dropped_during_its_first_attempt_leaves_nothing_behind() {
    dropped_during_the_first_attempt(Via::Method).await;
}

// ---- During an attempt under its per-attempt timeout ----

async fn dropped_during_a_time_limited_attempt(via: Via) {
    let f = Fixture::new([Step::Hang, Step::Succeed]);
    let (tasks, balance) = (alive_tasks(), f.balance());

    let mut call = f.start(via, true);
    assert!(poll_once(call.as_mut()).await.is_pending());
    tokio::time::advance(TIMEOUT / 2).await;
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(
        f.script.started(),
        1,
        "the attempt is still within its timeout"
    );
    drop(call);

    assert_eq!(
        f.script.abandoned(),
        1,
        "the attempt is dropped with the call"
    );
    // Its timer is gone too: an hour later it has not fired a timeout, nor a retry.
    f.assert_settled(tasks, balance + DEPOSIT).await;
    assert_eq!(f.sink.events(), []);
    f.assert_admits(via).await;
}

#[tokio::test(start_paused = true)]
async fn call_dropped_during_a_time_limited_attempt_leaves_nothing_behind() {
    dropped_during_a_time_limited_attempt(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn call_site_dropped_during_a_time_limited_attempt_leaves_nothing_behind() {
    dropped_during_a_time_limited_attempt(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn resilient_method_dropped_during_a_time_limited_attempt_leaves_nothing_behind() {
    dropped_during_a_time_limited_attempt(Via::Method).await;
}

// ---- During a backoff sleep ----

async fn dropped_during_a_backoff_sleep(via: Via) {
    let f = Fixture::new([Step::Fail, Step::Succeed]);
    let (tasks, balance) = (alive_tasks(), f.balance());

    let mut call = f.start(via, false);
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(
        f.sink.events(),
        [Seen::Attempt(1, status_503()), Seen::Retry(1, BACKOFF)]
    );
    tokio::time::advance(BACKOFF / 2).await;
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(f.script.started(), 1, "halfway through the wait");
    drop(call);

    // The token of the retry it had scheduled stays spent; nothing else is taken.
    f.assert_settled(tasks, balance + DEPOSIT - RETRY).await;
    assert_eq!(f.breaker.state(), Closed);
    f.assert_admits(via).await;
}

#[tokio::test(start_paused = true)]
async fn call_dropped_during_a_backoff_sleep_leaves_nothing_behind() {
    dropped_during_a_backoff_sleep(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn call_site_dropped_during_a_backoff_sleep_leaves_nothing_behind() {
    dropped_during_a_backoff_sleep(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn resilient_method_dropped_during_a_backoff_sleep_leaves_nothing_behind() {
    dropped_during_a_backoff_sleep(Via::Method).await;
}

// ---- During a retry attempt ----

async fn dropped_during_a_retry_attempt(via: Via) {
    let f = Fixture::new([Step::Fail, Step::Hang, Step::Succeed]);
    let (tasks, balance) = (alive_tasks(), f.balance());

    let mut call = f.start(via, false);
    assert!(poll_once(call.as_mut()).await.is_pending());
    tokio::time::advance(BACKOFF).await;
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(f.script.started(), 2, "the retry is under way");
    drop(call);

    assert_eq!(
        f.script.abandoned(),
        1,
        "the retry is dropped with the call"
    );
    f.assert_settled(tasks, balance + DEPOSIT - RETRY).await;
    assert_eq!(
        f.sink.events(),
        [Seen::Attempt(1, status_503()), Seen::Retry(1, BACKOFF)],
        "the dropped retry reported nothing"
    );
    assert_eq!(f.breaker.state(), Closed);
    f.assert_admits(via).await;
}

#[tokio::test(start_paused = true)]
async fn call_dropped_during_a_retry_attempt_leaves_nothing_behind() {
    dropped_during_a_retry_attempt(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn call_site_dropped_during_a_retry_attempt_leaves_nothing_behind() {
    dropped_during_a_retry_attempt(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn resilient_method_dropped_during_a_retry_attempt_leaves_nothing_behind() {
    dropped_during_a_retry_attempt(Via::Method).await;
}

// ---- While holding the half-open breaker's only probe ----

/// After the probing call is gone: the next call is admitted (with one probe allowed, only as
/// the probe, so the slot came back), succeeds and closes the breaker.
async fn assert_the_probe_came_back(f: &Fixture, via: Via) {
    assert_eq!(f.breaker.state(), HalfOpen);
    f.assert_admits(via).await;
    assert_eq!(f.breaker.state(), Closed);
    assert_eq!(
        f.sink.transitions(),
        [
            Seen::Transition(Closed, Open),
            Seen::Transition(Open, HalfOpen),
            Seen::Transition(HalfOpen, Closed),
        ]
    );
}

async fn dropped_holding_the_only_probe(via: Via) {
    let f = Fixture::new([Step::Hang, Step::Succeed]);
    f.trip_and_wait();
    let (tasks, balance) = (alive_tasks(), f.balance());

    let mut call = f.start(via, false);
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(f.breaker.state(), HalfOpen);
    let taken = f
        .breaker
        .try_acquire()
        .expect_err("the call holds the only probe");
    assert_eq!(taken.retry_in, Duration::ZERO);
    drop(call);

    assert_eq!(f.script.abandoned(), 1);
    f.assert_settled(tasks, balance + DEPOSIT).await;
    assert_the_probe_came_back(&f, via).await;
}

#[tokio::test(start_paused = true)]
async fn call_dropped_while_holding_the_only_probe_gives_the_slot_back() {
    dropped_holding_the_only_probe(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn call_site_dropped_while_holding_the_only_probe_gives_the_slot_back() {
    dropped_holding_the_only_probe(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn resilient_method_dropped_while_holding_the_only_probe_gives_the_slot_back() {
    dropped_holding_the_only_probe(Via::Method).await;
}

// ---- A panic in the body, holding the only probe ----

async fn panicked_holding_the_only_probe(via: Via) {
    let f = Fixture::new([Step::Panic, Step::Succeed]);
    f.trip_and_wait();
    let tasks = alive_tasks();

    let payload = catch_unwind(f.start(via, false))
        .await
        .expect_err("the body's panic reaches the caller");

    assert_eq!(panic_message(&*payload), Some("the body panicked"));
    assert_eq!(alive_tasks(), tasks);
    assert_the_probe_came_back(&f, via).await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_call_body_reaches_the_caller_and_gives_the_probe_back() {
    panicked_holding_the_only_probe(Via::Call).await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_call_site_body_reaches_the_caller_and_gives_the_probe_back() {
    panicked_holding_the_only_probe(Via::Site).await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_resilient_body_fails_its_task_and_gives_the_probe_back() {
    let f = Arc::new(Fixture::new([Step::Panic, Step::Succeed]));
    f.trip_and_wait();
    let tasks = alive_tasks();

    let task = tokio::spawn({
        let f = Arc::clone(&f);
        async move { f.start(Via::Method, false).await }
    });
    let failed = task.await.expect_err("the body's panic fails the task");

    assert!(failed.is_panic(), "{failed:?}");
    assert_eq!(
        panic_message(&*failed.into_panic()),
        Some("the body panicked")
    );
    assert_eq!(alive_tasks(), tasks);
    assert_the_probe_came_back(&f, Via::Method).await;
}

// ---- The Client, mid-request to a server that never answers ----

/// Polls `send` until the server has read `hits` requests; panics if `send` finishes first, or
/// after 5 seconds.
async fn drive_until_hits<F: Future<Output = Result<reqwest::Response, Error>> + ?Sized>(
    send: Pin<&mut F>,
    server: &FaultServer,
    hits: usize,
) {
    let reached = async {
        for _ in 0..500 {
            if server.hits() >= hits {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server read {} request(s), not {hits}", server.hits());
    };
    tokio::select! {
        result = send => panic!("the server never answers, yet the request returned {result:?}"),
        () = reached => {}
    }
}

/// Waits (up to 5 seconds) for the tasks alive to come back to `tasks`: reqwest runs each
/// connection in a task of its own, which ends once its connection is closed (a connection
/// whose request was abandoned is closed; an idle one, when its client is dropped).
async fn assert_tasks_return_to(tasks: usize) {
    for _ in 0..500 {
        if alive_tasks() == tasks {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(alive_tasks(), tasks, "tasks still alive after 5s");
}

#[tokio::test]
async fn client_dropped_during_its_first_attempt_leaves_nothing_behind() {
    let server = FaultServer::start(vec![Reply::never_answer(), Reply::ok()]);
    let f = Fixture::new([]);
    let (tasks, balance) = (alive_tasks(), f.balance());
    let client = f.client();

    let mut send = Box::pin(client.get(server.url("/hang")).send());
    drive_until_hits(send.as_mut(), &server, 1).await;
    assert!(
        alive_tasks() > tasks,
        "reqwest runs the connection in a task"
    );
    drop(send);

    // The abandoned request's connection is closed and its task ends, the client still alive.
    assert_tasks_return_to(tasks).await;
    assert_eq!(
        f.sink.events(),
        [],
        "an unfinished attempt has reported nothing"
    );
    assert_eq!(f.balance(), balance + DEPOSIT);
    assert_eq!(f.breaker.state(), Closed);
    let response = client.get(server.url("/ok")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 2);
    drop((response, client));
    assert_tasks_return_to(tasks).await;
}

#[tokio::test]
async fn client_dropped_while_holding_the_only_probe_gives_the_slot_back() {
    let server = FaultServer::start(vec![Reply::never_answer(), Reply::ok()]);
    let f = Fixture::new([]);
    f.trip_and_wait();
    let tasks = alive_tasks();
    let client = f.client();

    let mut send = Box::pin(client.get(server.url("/hang")).send());
    drive_until_hits(send.as_mut(), &server, 1).await;
    assert_eq!(f.breaker.state(), HalfOpen);
    let taken = f
        .breaker
        .try_acquire()
        .expect_err("the request holds the only probe");
    assert_eq!(taken.retry_in, Duration::ZERO);
    drop(send);
    assert_tasks_return_to(tasks).await;

    // The next request is the probe; its success closes the breaker.
    let response = client.get(server.url("/ok")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(f.breaker.state(), Closed);
    assert_eq!(
        f.sink.transitions(),
        [
            Seen::Transition(Closed, Open),
            Seen::Transition(Open, HalfOpen),
            Seen::Transition(HalfOpen, Closed),
        ]
    );
    drop((response, client));
    assert_tasks_return_to(tasks).await;
}
