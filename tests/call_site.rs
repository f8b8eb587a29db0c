//! `CallSite`: one operation's policy, breaker, budget and sink, put together once. Its async
//! calls run in a loop of their own (an `async fn` over one timer, not `Call::run`'s hand-written
//! future), so these tests cover that loop's mechanics: how many attempts it makes, that every
//! wait and every time limit lasts exactly what it should (the one timer is re-armed for each),
//! what it returns when it gives up, that it honours the breaker, the budget and the sink it was
//! built with, and that its future can be spawned. Which failures are retryable is decided by
//! `Attempts`, shared with `Call::run`, and tested in `call.rs`; what a cancelled call leaves
//! behind is tested in `cancellation.rs`.
//!
//! Timing tests run on tokio's paused clock, where every wait ends exactly when its timer says,
//! so elapsed times are asserted exactly. The real-socket tests run in real time against the
//! fault server of `support`, on its own thread.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, Breaker, BreakerConfig, BreakerState, CallSite, Error, Event, InMemorySink,
    MetricsSink, Registry, RegistryConfig, RetryConfig, RetryPolicy, error_for_status,
};
use support::calls::{assert_rejected_by_forced_open, ms, retrying, secs, status};
use support::classified::{Answer, answering};
use support::observed::tight_budget;
use support::{FaultServer, Reply};
use tokio::time::Instant;

use BreakerState::Open;

/// A site named `site.op` under `policy`, with no breaker, budget or sink.
fn site(policy: RetryConfig) -> CallSite {
    CallSite::new("site.op", policy.build().expect("a valid policy"))
}

/// An operation whose first `failures` attempts fail with a 503 and whose later ones succeed;
/// it counts its attempts in `attempts`.
fn failing_first(
    failures: u32,
    attempts: &mut u32,
) -> impl FnMut() -> std::future::Ready<Result<(), Error>> + '_ {
    move || {
        *attempts += 1;
        std::future::ready(if *attempts <= failures {
            Err(status(503))
        } else {
            Ok(())
        })
    }
}

// ---- Attempts and waits ----

#[tokio::test(start_paused = true)]
async fn a_retryable_error_twice_then_success_takes_three_attempts_a_backoff_apart() {
    let site = site(retrying(5));
    let start = Instant::now();
    let mut started = Vec::new();

    let result = site
        .run(|| {
            started.push(start.elapsed());
            let outcome = match started.len() {
                1 | 2 => Err(status(503)),
                n => Ok(n),
            };
            async move { outcome }
        })
        .await;

    assert_eq!(result.unwrap(), 3);
    assert_eq!(started, [Duration::ZERO, ms(10), ms(20)]);
    assert_eq!(start.elapsed(), ms(20));
}

#[tokio::test(start_paused = true)]
async fn a_persistent_retryable_failure_gives_up_after_max_attempts_with_the_last_error() {
    let site = site(retrying(4));
    // All four are retryable by default; each attempt fails with its own, so the error returned
    // shows which attempt it came from.
    let mut codes = [502, 503, 504, 500].into_iter();
    let mut attempts = 0;

    let result: Result<(), Error> = site
        .run(|| {
            attempts += 1;
            let code = codes.next().expect("no more than four attempts");
            async move { Err(status(code)) }
        })
        .await;

    assert_eq!(attempts, 4);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn several_waits_in_one_call_are_each_waited_in_full() {
    let site = site(retrying(4).backoff(Backoff::exponential(ms(100), 2.0, secs(10))));
    let start = Instant::now();
    let mut started = Vec::new();

    let result: Result<(), Error> = site
        .run(|| {
            started.push(start.elapsed());
            async { Err(status(503)) }
        })
        .await;

    assert!(
        matches!(result, Err(Error::Status { attempts: 4, .. })),
        "{result:?}"
    );
    // Waits of 100, 200 and 400ms, on the one timer re-armed for each.
    assert_eq!(started, [Duration::ZERO, ms(100), ms(300), ms(700)]);
    assert_eq!(start.elapsed(), ms(700));
}

#[tokio::test(start_paused = true)]
async fn a_site_marked_non_idempotent_does_not_retry_a_503() {
    let site = site(retrying(3)).idempotent(false);
    let mut attempts = 0;

    let result = site.run(failing_first(u32::MAX, &mut attempts)).await;

    assert_eq!(attempts, 1);
    assert!(
        matches!(result, Err(Error::Status { attempts: 1, .. })),
        "{result:?}"
    );
}

// ---- Time limits ----

/// The operation of a call whose attempts hang while `hangs(attempt)` (counting from 1), and
/// otherwise succeed with their number; `started` gets when each began, since `start`.
/// (Each attempt is boxed so that this helper can name the operation's type.)
fn hanging_while<'a>(
    hangs: impl Fn(u32) -> bool + 'a,
    start: Instant,
    started: &'a mut Vec<Duration>,
) -> impl FnMut() -> Pin<Box<dyn Future<Output = Result<u32, Error>> + 'a>> + 'a {
    move || {
        started.push(start.elapsed());
        let attempt = u32::try_from(started.len()).unwrap();
        let hang = hangs(attempt);
        Box::pin(async move {
            if hang {
                // Far longer than any limit under test: only a limit ends it.
                tokio::time::sleep(secs(3_600)).await;
            }
            Ok(attempt)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_cut_by_the_attempt_timeout_and_the_next_attempt_succeeds() {
    let site = site(retrying(3).attempt_timeout(secs(1)));
    let start = Instant::now();
    let mut started = Vec::new();

    let result = site
        .run(hanging_while(|n| n == 1, start, &mut started))
        .await;

    assert_eq!(result.unwrap(), 2);
    // Cut at 1s, then the 10ms backoff.
    assert_eq!(started, [Duration::ZERO, secs(1) + ms(10)]);
    assert_eq!(start.elapsed(), secs(1) + ms(10));
}

#[tokio::test(start_paused = true)]
async fn attempts_that_all_time_out_give_up_with_attempt_timeout_after_max_attempts() {
    let site = site(retrying(3).attempt_timeout(secs(1)));
    let start = Instant::now();
    let mut started = Vec::new();

    let result = site.run(hanging_while(|_| true, start, &mut started)).await;

    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::AttemptTimeout { timeout, attempts: 3 } if timeout == secs(1)),
        "{err:?}"
    );
    // Three attempts of exactly 1s each, and two 10ms waits.
    assert_eq!(
        started,
        [Duration::ZERO, secs(1) + ms(10), secs(2) + ms(20)]
    );
    assert_eq!(start.elapsed(), secs(3) + ms(20));
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempts_and_waits_alternate_on_the_one_timer_each_in_full() {
    // Attempt 1 times out at 1s, waits 100ms, attempt 2 times out 1s later, waits 200ms, and
    // attempt 3 succeeds at once: each limit and each wait re-arms the timer the previous one
    // left expired, so a wait or limit cut short (or not re-armed) shows in the instants.
    let site = site(
        retrying(4)
            .backoff(Backoff::exponential(ms(100), 2.0, secs(10)))
            .attempt_timeout(secs(1)),
    );
    let start = Instant::now();
    let mut started = Vec::new();

    let result = site
        .run(hanging_while(|n| n <= 2, start, &mut started))
        .await;

    assert_eq!(result.unwrap(), 3);
    assert_eq!(
        started,
        [Duration::ZERO, secs(1) + ms(100), secs(2) + ms(300)]
    );
    assert_eq!(start.elapsed(), secs(2) + ms(300));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_hanging_attempt_at_the_deadline_exactly() {
    let site = site(retrying(3).deadline(secs(2)));
    let start = Instant::now();
    let mut started = Vec::new();

    let result = site.run(hanging_while(|_| true, start, &mut started)).await;

    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(started, [Duration::ZERO], "no attempt after the deadline");
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { deadline, attempts: 1, .. } if deadline == secs(2)),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_hanging_retry_at_the_deadline_not_a_full_deadline_later() {
    // Attempt 1 fails at once, the wait is 10ms, and attempt 2 hangs: it gets only what is left
    // of the deadline, on the timer the wait left expired.
    let site = site(retrying(3).deadline(secs(2)));
    let start = Instant::now();
    let mut attempts = 0;

    let result: Result<(), Error> = site
        .run(|| {
            attempts += 1;
            let fail = attempts == 1;
            async move {
                if fail {
                    return Err(status(503));
                }
                std::future::pending().await
            }
        })
        .await;

    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(attempts, 2);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { deadline, attempts: 2, .. } if deadline == secs(2)),
        "{err:?}"
    );
}

// ---- The breaker ----

#[tokio::test(start_paused = true)]
async fn an_open_breaker_rejects_without_calling_the_operation() {
    let breaker = Breaker::new("backend", BreakerConfig::new()).unwrap();
    breaker.force_open();
    let site = site(retrying(3)).breaker(Arc::new(breaker));
    let mut calls = 0;

    let result: Result<(), Error> = site
        .run(|| {
            calls += 1;
            async { Ok(()) }
        })
        .await;

    assert_eq!(calls, 0);
    assert_rejected_by_forced_open(result.unwrap_err(), "backend");
}

// ---- Classified values ----

#[tokio::test(start_paused = true)]
async fn run_classified_retries_an_ok_value_that_classifies_as_a_retryable_failure() {
    let site = site(retrying(5));
    let mut attempts = 0;

    let result = site
        .run_classified(answering([503, 502, 200], &mut attempts))
        .await;

    assert_eq!(result.unwrap(), Answer(200));
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn run_classified_returns_the_last_failed_value_as_ok_when_retries_stop() {
    let site = site(retrying(3));
    let mut attempts = 0;

    let result = site
        .run_classified(answering([503; 3], &mut attempts))
        .await;

    assert_eq!(result.unwrap(), Answer(503));
    assert_eq!(attempts, 3);
}

// ---- A registry's handles ----

#[tokio::test(start_paused = true)]
async fn with_registry_guards_calls_with_the_registrys_breaker_of_that_name() {
    let registry = Registry::builder()
        .config(RegistryConfig {
            breaker: BreakerConfig {
                consecutive_failures: Some(2),
                ..BreakerConfig::new()
            },
            ..RegistryConfig::default()
        })
        .build()
        .expect("a valid registry");
    let site = site(retrying(5)).with_registry(&registry, "inventory");
    let mut attempts = 0;

    let result = site.run(failing_first(u32::MAX, &mut attempts)).await;

    // The registry's breaker opened at the second failure, which stopped the retries.
    assert_eq!(attempts, 2);
    assert!(
        matches!(result, Err(Error::Status { attempts: 2, .. })),
        "{result:?}"
    );
    assert_eq!(registry.breaker("inventory").state(), Open);
    let rejected: Result<(), Error> = site.run(|| async { Ok(()) }).await;
    assert!(
        matches!(&rejected, Err(Error::CircuitOpen { breaker, .. }) if breaker == "inventory"),
        "{rejected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_registry_draws_retries_from_the_registrys_budget_of_that_name() {
    // The budget `tight` holds one token and earns none; a default budget would allow all five
    // attempts.
    let (registry, _clock, _sink) = tight_budget();
    let site = site(retrying(5)).with_registry(&registry, "tight");
    let mut attempts = 0;

    let result = site.run(failing_first(u32::MAX, &mut attempts)).await;

    assert_eq!(attempts, 2);
    assert!(
        matches!(&result, Err(Error::BudgetExhausted { budget, attempts: 2, .. }) if budget == "tight"),
        "{result:?}"
    );
    assert_eq!(registry.budget("tight").balance(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn with_registry_reports_to_the_registrys_sink() {
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder()
        .sink(sink.clone())
        .build()
        .expect("a valid registry");
    let site = CallSite::new("inventory.count", retrying(3).build().unwrap())
        .with_registry(&registry, "inventory");
    let mut attempts = 0;

    let result = site.run(failing_first(1, &mut attempts)).await;

    assert!(result.is_ok(), "{result:?}");
    let stats = sink.operation("inventory.count");
    assert_eq!(stats.attempts, 2);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.successes, 1);
}

#[tokio::test(start_paused = true)]
async fn what_is_given_before_or_after_with_registry_is_kept_whatever_the_order() {
    let (of_registry, given) = (Arc::new(InMemorySink::new()), Arc::new(InMemorySink::new()));
    let registry = Registry::builder()
        .sink(of_registry.clone())
        .build()
        .expect("a valid registry");
    let own_breaker =
        Arc::new(Breaker::new("own", BreakerConfig::new()).expect("default breaker config"));
    let policy = || retrying(3).build().unwrap();
    let before = CallSite::new("before", policy())
        .sink(given.clone())
        .breaker(own_breaker.clone())
        .with_registry(&registry, "inventory");
    let after = CallSite::new("after", policy())
        .with_registry(&registry, "inventory")
        .sink(given.clone())
        .breaker(own_breaker.clone());

    for site in [&before, &after] {
        let result: Result<(), Error> = site.run(|| async { Ok(()) }).await;
        assert!(result.is_ok(), "{result:?}");
    }
    own_breaker.force_open();
    for site in [&before, &after] {
        let result: Result<(), Error> = site.run(|| async { Ok(()) }).await;
        assert!(
            matches!(&result, Err(Error::CircuitOpen { breaker, .. }) if breaker == "own"),
            "{result:?}"
        );
    }

    assert_eq!(given.operation("before").attempts, 1);
    assert_eq!(given.operation("after").attempts, 1);
    assert_eq!(of_registry.operation("before").attempts, 0);
    assert_eq!(of_registry.operation("after").attempts, 0);
}

#[tokio::test(start_paused = true)]
async fn a_budget_given_before_or_after_with_registry_is_kept_whatever_the_order() {
    let registry = Registry::new();
    // A budget of one retry (its registry's clock never moves): the first retry spends it, the
    // second is refused. The other registry's default budget would allow both.
    let (tight, _clock, _sink) = tight_budget();
    let own_budget = tight.budget("tight");
    let before = site(retrying(3))
        .budget(own_budget.clone())
        .with_registry(&registry, "inventory");
    let after = site(retrying(3))
        .with_registry(&registry, "inventory")
        .budget(own_budget.clone());

    for site in [&before, &after] {
        let mut attempts = 0;
        let result = site.run(failing_first(2, &mut attempts)).await;
        assert!(
            matches!(&result, Err(Error::BudgetExhausted { budget, .. }) if budget == "tight"),
            "{result:?}"
        );
    }
}

// ---- The sink ----

/// A sink that panics when asked whether it wants events, and counts the events it is given.
#[derive(Debug, Default)]
struct PanicsWhenAsked {
    recorded: AtomicU32,
}

impl MetricsSink for PanicsWhenAsked {
    fn record(&self, _event: &Event<'_>) {
        self.recorded.fetch_add(1, SeqCst);
    }

    fn enabled(&self) -> bool {
        panic!("this sink panics when asked whether it is enabled")
    }
}

#[tokio::test(start_paused = true)]
async fn a_sink_whose_enabled_panics_is_treated_as_disabled() {
    let sink = Arc::new(PanicsWhenAsked::default());
    let site = site(retrying(3)).sink(sink.clone());
    let mut attempts = 0;

    // A retry and a success: an enabled sink would hear of two attempts, a retry and the end.
    let result = site.run(failing_first(1, &mut attempts)).await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(attempts, 2);
    assert_eq!(
        sink.recorded.load(SeqCst),
        0,
        "a disabled sink hears nothing"
    );
}

// ---- Spawning ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_sites_future_is_send_and_can_be_spawned() {
    // Real time, on two workers: the call waits 1ms on its timer between attempts, with its
    // breaker's permit released, and may resume on either thread.
    let site = Arc::new(
        site(
            retrying(3)
                .backoff(Backoff::constant(ms(1)))
                .attempt_timeout(secs(5)),
        )
        .breaker(Arc::new(
            Breaker::new("backend", BreakerConfig::new()).unwrap(),
        )),
    );

    let task = tokio::spawn({
        let site = Arc::clone(&site);
        async move {
            let mut attempts = 0;
            site.run(move || {
                attempts += 1;
                let outcome = if attempts == 1 {
                    Err(status(503))
                } else {
                    Ok(attempts)
                };
                async move { outcome }
            })
            .await
        }
    });

    assert_eq!(task.await.expect("the task finishes").unwrap(), 2);
}

// ---- Real sockets ----

/// Retries 5ms apart, no jitter.
fn quick(max_attempts: u32) -> RetryConfig {
    retrying(max_attempts).backoff(Backoff::constant(ms(5)))
}

#[tokio::test]
async fn a_reqwest_get_answered_503_twice_then_200_succeeds_on_the_third_request() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let http = reqwest::Client::new();
    let url = server.url("/orders");
    let site = CallSite::new("orders.list", quick(5).build().unwrap());

    let response = site
        .run(|| {
            let request = http.get(&url);
            async move { error_for_status(request.send().await?) }
        })
        .await
        .expect("the third request succeeds");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn run_classified_retries_503_responses_from_a_real_server() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let http = reqwest::Client::new();
    let url = server.url("/orders");
    let site = CallSite::new("orders.list", quick(5).build().unwrap());

    // No `error_for_status`: the response itself is classified.
    let response = site
        .run_classified(|| {
            let send = http.get(&url).send();
            async move { send.await.map_err(Error::from) }
        })
        .await
        .expect("the third request succeeds");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.hits(), 3);
}

// ---- The blocking loop ----

#[test]
fn run_blocking_retries_a_retryable_failure_under_the_sites_policy() {
    let site = site(
        RetryPolicy::builder()
            .max_attempts(3)
            .backoff(Backoff::None)
            .attempt_timeout(secs(2)),
    );
    let mut limits = Vec::new();

    let result = site.run_blocking(|limit| {
        limits.push(limit);
        if limits.len() == 1 {
            Err(status(503))
        } else {
            Ok(limits.len())
        }
    });

    assert_eq!(result.unwrap(), 2);
    // Each attempt is told the policy's per-attempt timeout.
    assert_eq!(limits, [Some(secs(2)); 2]);
}

#[test]
fn run_blocking_classified_retries_a_failed_value() {
    let site = site(
        RetryPolicy::builder()
            .max_attempts(3)
            .backoff(Backoff::None),
    );
    let mut answers = [Answer(503), Answer(200)].into_iter();
    let mut attempts = 0;

    let result: Result<Answer, Error> = site.run_blocking_classified(|_| {
        attempts += 1;
        Ok(answers.next().expect("no more than two attempts"))
    });

    assert_eq!(result.unwrap(), Answer(200));
    assert_eq!(attempts, 2);
}
