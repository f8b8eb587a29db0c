//! The retry budget through the async `Client`: under a failing backend it caps the load that
//! retries add across all calls, where `max_attempts` alone would multiply it.
//!
//! The budget's arithmetic (see `resilient_http::RetryBudget`): it starts with one second of
//! floor (`min_retries_per_second` tokens), every first attempt deposits `retry_ratio` of a
//! token, the floor refills `min_retries_per_second` tokens a second, every retry withdraws one
//! token, and the balance never exceeds `window` seconds of floor. So `n` calls make at most
//! `n * (1 + retry_ratio)` requests plus the floor's tokens: one second's worth from a fresh
//! budget, more as its clock moves, never more than `window` seconds' worth however long it was
//! quiet. The storms here run the budget on a manual clock, so those bounds are exact.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, BudgetConfig, Client, Error, InMemorySink, Jitter, ManualClock, Registry, RetryPolicy,
};
use support::observed::tight_budget;
use support::{FaultServer, Reply, closed_port_url};

const CALLS: usize = 100;

/// Three attempts, 1ms apart, no jitter.
fn policy() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(1)))
        .jitter(Jitter::None)
        .build()
        .expect("valid policy")
}

/// Sends [`CALLS`] concurrent GETs to `url`, each on its own task, and returns their results.
async fn storm(client: &Client, url: &str) -> Vec<Result<reqwest::Response, Error>> {
    let tasks: Vec<_> = (0..CALLS)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    let mut results = Vec::with_capacity(CALLS);
    for task in tasks {
        results.push(task.await.expect("the request task completes"));
    }
    results
}

/// A registry with every default but a manual clock, reporting to an in-memory sink, and a
/// client of it drawing on the budget `storm` with no breaker: a breaker would stop a storm on
/// its own and hide what the budget does.
fn storm_client() -> (Client, ManualClock, Arc<InMemorySink>) {
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder()
        .clock(Arc::new(clock.clone()))
        .sink(sink.clone())
        .build()
        .unwrap();
    let client = Client::builder()
        .registry(&registry)
        .policy(policy())
        .no_breaker()
        .budget("storm")
        .operation("storm")
        .build()
        .unwrap();
    (client, clock, sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_budget_caps_retries_under_a_failing_backend() {
    let server = FaultServer::always(Reply::status(503));
    let (client, _clock, sink) = storm_client();

    let results = storm(&client, &server.url("/")).await;

    // Default budget: retry_ratio 0.2 and min_retries_per_second 10, starting with 10 tokens.
    // The clock does not move, so the floor refills nothing: 100 first attempts, and at most
    // 100 * 0.2 + 10 = 30 retries.
    let defaults = BudgetConfig::new();
    let floor = defaults.min_retries_per_second as usize;
    let bound = CALLS + (CALLS as f64 * defaults.retry_ratio) as usize + floor;
    assert_eq!(bound, 130);
    let hits = server.hits();
    assert!(hits <= bound, "{hits} requests for {CALLS} calls");
    // Every call made its first attempt, and the starting tokens were certainly spent.
    assert!(hits >= CALLS + floor, "{hits}");

    let stats = sink.operation("storm");
    assert!(stats.budget_exhaustions > 0, "{stats:?}");
    assert_eq!(stats.attempts, hits as u64);
    assert_eq!(stats.retries, (hits - CALLS) as u64);
    assert_eq!(stats.give_ups, CALLS as u64);

    // A call the budget stopped says so, keeping the last 503 inside.
    let mut exhausted = 0;
    for result in results {
        let err = result.unwrap_err();
        assert_eq!(
            err.status(),
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{err:?}"
        );
        match err {
            Error::BudgetExhausted { budget, .. } => {
                assert_eq!(budget, "storm");
                exhausted += 1;
            }
            Error::Status { attempts: 3, .. } => {}
            other => panic!("expected a 503 or a spent budget, got {other:?}"),
        }
    }
    assert_eq!(stats.budget_exhaustions, exhausted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_budget_every_call_makes_every_attempt() {
    let server = FaultServer::always(Reply::status(503));
    let sink = Arc::new(InMemorySink::new());
    let registry = Registry::builder().sink(sink.clone()).build().unwrap();
    let client = Client::builder()
        .registry(&registry)
        .policy(policy())
        .no_breaker()
        .no_budget()
        .operation("storm")
        .build()
        .unwrap();

    let results = storm(&client, &server.url("/")).await;

    assert_eq!(server.hits(), 3 * CALLS);
    for result in results {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Status {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    attempts: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(sink.operation("storm").budget_exhaustions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_saved_over_a_quiet_spell_adds_at_most_a_window_of_floor() {
    let server = FaultServer::always(Reply::status(503));
    let (client, clock, _sink) = storm_client();
    // A quiet window: the floor refills the balance to its cap, `min_retries_per_second *
    // window` tokens, and no further.
    let defaults = BudgetConfig::new();
    clock.advance(defaults.window * 2);

    storm(&client, &server.url("/")).await;

    let floor = defaults.min_retries_per_second as usize;
    let saved = floor * defaults.window.as_secs() as usize;
    let bound = CALLS + (CALLS as f64 * defaults.retry_ratio) as usize + saved;
    assert_eq!(bound, 220);
    let hits = server.hits();
    assert!(hits <= bound, "{hits} requests for {CALLS} calls");
    // The saved credit was drawn on, all of it: 200 retries were wanted.
    assert!(hits >= CALLS + saved, "{hits}");
}

fn tight_client(registry: &Registry) -> Client {
    Client::builder()
        .registry(registry)
        .policy(policy())
        .no_breaker()
        .budget("tight")
        .operation("tight")
        .build()
        .unwrap()
}

#[tokio::test]
async fn spent_budget_stops_retries_until_it_refills() {
    let server = FaultServer::always(Reply::status(503));
    let (registry, clock, sink) = tight_budget();
    let client = tight_client(&registry);

    // The one token pays for one retry; the next retry is refused.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let Error::BudgetExhausted {
        budget,
        attempts: 2,
        last,
    } = &err
    else {
        panic!("expected the budget to stop the call after two attempts, got {err:?}");
    };
    assert_eq!(budget, "tight");
    assert!(
        matches!(
            **last,
            Error::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                attempts: 2,
                ..
            }
        ),
        "{last:?}"
    );
    assert_eq!(server.hits(), 2);

    // Nothing left: the next call gets its first attempt only.
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(
        matches!(err, Error::BudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 3);

    // A second of floor buys one more retry.
    clock.advance(Duration::from_secs(1));
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(
        matches!(err, Error::BudgetExhausted { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits(), 5);
    assert_eq!(sink.operation("tight").budget_exhaustions, 3);
}

#[tokio::test]
async fn clients_naming_the_same_budget_share_it() {
    let server = FaultServer::always(Reply::status(503));
    let (registry, _clock, _sink) = tight_budget();
    let first = tight_client(&registry);
    let second = tight_client(&registry);

    first.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(server.hits(), 2);
    let err = second.get(server.url("/")).send().await.unwrap_err();

    assert!(
        matches!(err, Error::BudgetExhausted { attempts: 1, .. }),
        "expected the shared budget, spent by the first client, to stop the call, got {err:?}"
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn spent_budget_stops_retrying_a_connect_failure() {
    let url = closed_port_url();
    let (registry, _clock, sink) = tight_budget();
    let client = tight_client(&registry);

    let err = client.get(&url).send().await.unwrap_err();

    let Error::BudgetExhausted {
        budget,
        attempts: 2,
        last,
    } = &err
    else {
        panic!("expected the budget to stop the call after two attempts, got {err:?}");
    };
    assert_eq!(budget, "tight");
    assert!(
        matches!(&**last, Error::Transport { source, attempts: 2 } if source.is_connect()),
        "{last:?}"
    );
    assert_eq!(sink.operation("tight").budget_exhaustions, 1);
}

#[tokio::test]
async fn budget_does_not_limit_first_attempts() {
    let server = FaultServer::always(Reply::ok());
    let (registry, _clock, sink) = tight_budget();
    let client = tight_client(&registry);

    for _ in 0..20 {
        client.get(server.url("/")).send().await.unwrap();
    }

    assert_eq!(server.hits(), 20);
    assert_eq!(sink.operation("tight").budget_exhaustions, 0);
}
