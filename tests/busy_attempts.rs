//! An attempt that keeps its task busy is still cut short by its limit.
//!
//! tokio gives each task a budget of work per turn; an attempt busy with always-ready tokio
//! resources spends it, and from then on every tokio resource the task polls answers `Pending`,
//! the call's timer included, however late it is. A limit polled only then would never fire.
//! Each loop (`Call::run`, `CallSite::run`, a `#[resilient]` function) must poll its timer with
//! the budget lifted, as `tokio::time::timeout` does.
//!
//! On the paused clock: the call runs in a task of its own, which starts its attempt; the test
//! then moves the clock past the limit, and gives the scheduler a bounded number of turns to end
//! the call. Without the
//! lifted budget the call never ends, and the test fails when its turns run out, not by hanging.

use std::future::Future;
use std::time::Duration;

use resilient_http::{CallSite, Error, Registry, RetryPolicy, resilient};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_millis(100);

/// An attempt that never ends and never lets its task rest: it passes one message around an
/// unbounded channel forever, and each receive spends a unit of the task's budget.
async fn busy() -> Result<(), Error> {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    sender.send(0u8).expect("the receiver is alive");
    loop {
        let message = receiver.recv().await.expect("the sender is alive");
        sender.send(message).expect("the receiver is alive");
    }
}

fn one_limited_attempt() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(1)
        .attempt_timeout(LIMIT)
        .build()
        .expect("a valid policy")
}

/// Spawns `call`, moves the clock past the limit, and returns the call's result once it ends,
/// or `None` if it has not ended within a thousand turns of the scheduler.
async fn ended_after_the_limit(
    call: impl Future<Output = Result<(), Error>> + Send + 'static,
) -> Option<Result<(), Error>> {
    let call: JoinHandle<_> = tokio::spawn(call);
    // Lets the call start, and its attempt's limit be set, before the clock moves.
    tokio::task::yield_now().await;
    tokio::time::advance(LIMIT + Duration::from_millis(1)).await;
    for _ in 0..1000 {
        if call.is_finished() {
            return Some(call.await.expect("the call does not panic"));
        }
        tokio::task::yield_now().await;
    }
    call.abort();
    None
}

fn assert_cut_by_the_limit(result: Option<Result<(), Error>>) {
    match result {
        Some(Err(Error::AttemptTimeout { timeout, attempts })) => {
            assert_eq!((timeout, attempts), (LIMIT, 1));
        }
        other => panic!("expected the attempt cut at its limit, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn call_run_cuts_a_busy_attempt_at_its_limit() {
    let call = async {
        let policy = one_limited_attempt();
        resilient_http::Call::new("busy", &policy).run(busy).await
    };
    assert_cut_by_the_limit(ended_after_the_limit(call).await);
}

#[tokio::test(start_paused = true)]
async fn call_site_run_cuts_a_busy_attempt_at_its_limit() {
    let call = async {
        let site = CallSite::new("busy", one_limited_attempt());
        site.run(busy).await
    };
    assert_cut_by_the_limit(ended_after_the_limit(call).await);
}

#[resilient(max_attempts = 1, timeout = "100ms", budget = false, registry = &Registry::new())]
async fn busy_method() -> Result<(), Error> {
    busy().await
}

#[tokio::test(start_paused = true)]
async fn a_resilient_function_cuts_a_busy_attempt_at_its_limit() {
    assert_cut_by_the_limit(ended_after_the_limit(busy_method()).await);
}
