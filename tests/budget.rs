//! Retry budgets: the token arithmetic of the default budget (a fifth of a token per call, a
//! floor of ten tokens a second, a cap), a disabled budget, a call that stops retrying when the
//! budget is spent, and withdrawals from many threads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Backoff, BudgetConfig, Call, Error, InMemorySink, Jitter, ManualClock, RetryBudget, RetryPolicy,
};

#[path = "support/budgets.rs"]
mod budgets;

use budgets::{budget_on, milli};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Withdraws until refused; returns how many withdrawals succeeded.
fn drain(budget: &RetryBudget) -> usize {
    let mut taken = 0;
    while budget.try_withdraw() {
        taken += 1;
        assert!(taken <= 1_000_000, "the budget never ran out");
    }
    taken
}

fn unavailable() -> Error {
    Error::Status {
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: None,
        attempts: 1,
    }
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(ms(10)))
        .jitter(Jitter::None)
        .build()
        .unwrap()
}

#[test]
fn default_budget_starts_with_one_second_of_floor() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);

    assert_eq!(budget.balance(), 10.0);
    assert_eq!(drain(&budget), 10);
    assert_eq!(budget.balance(), 0.0);
}

#[test]
fn each_call_deposits_a_fifth_of_a_token() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    drain(&budget);

    for _ in 0..4 {
        budget.deposit();
    }
    assert_eq!(milli(&budget), 800);
    assert!(!budget.try_withdraw(), "0.8 token is not a retry");

    budget.deposit();
    assert_eq!(milli(&budget), 1_000);
    assert!(budget.try_withdraw());
    assert!(!budget.try_withdraw());
}

#[test]
fn a_hundred_calls_fund_twenty_retries() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    drain(&budget);

    for _ in 0..100 {
        budget.deposit();
    }
    assert_eq!(drain(&budget), 20);
}

#[test]
fn the_floor_refills_ten_tokens_a_second() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    drain(&budget);

    clock.advance(Duration::from_secs(1));
    assert_eq!(drain(&budget), 10);

    clock.advance(ms(100));
    assert_eq!(drain(&budget), 1);
}

#[tokio::test(start_paused = true)]
async fn the_floor_refills_on_the_paused_tokio_clock() {
    let budget = RetryBudget::new("payments", BudgetConfig::default()).unwrap();
    assert_eq!(drain(&budget), 10);

    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(drain(&budget), 20);
}

#[test]
fn fractions_of_a_refilled_token_are_kept() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    drain(&budget);

    clock.advance(ms(50));
    assert!(!budget.try_withdraw(), "half a token is not a retry");
    clock.advance(ms(50));
    assert!(budget.try_withdraw(), "two halves make a token");
    assert!(!budget.try_withdraw());
}

#[test]
fn refills_stop_at_the_cap() {
    // The cap is `min_retries_per_second * window`: 10 * 10s = 100 tokens.
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);

    clock.advance(Duration::from_secs(3_600));
    assert!(budget.try_withdraw());
    assert_eq!(budget.balance(), 99.0);
    assert_eq!(drain(&budget), 99);
}

#[test]
fn deposits_stop_at_the_cap() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    clock.advance(Duration::from_secs(3_600));
    assert!(budget.try_withdraw());

    for _ in 0..5 {
        budget.deposit();
    }
    assert_eq!(budget.balance(), 100.0);
    for _ in 0..100 {
        budget.deposit();
    }
    assert_eq!(budget.balance(), 100.0);
}

#[test]
fn a_smaller_window_lowers_the_cap() {
    let clock = ManualClock::new();
    let config = BudgetConfig {
        min_retries_per_second: 3,
        window: Duration::from_secs(2),
        ..BudgetConfig::new()
    };
    let budget = budget_on(config, &clock);
    assert_eq!(budget.balance(), 3.0);

    clock.advance(Duration::from_secs(60));
    assert_eq!(drain(&budget), 6);
}

#[test]
fn a_disabled_budget_always_allows() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::unlimited(), &clock);

    assert!((0..10_000).all(|_| budget.try_withdraw()));
}

#[tokio::test(start_paused = true)]
async fn a_call_stops_retrying_when_the_budget_is_spent() {
    let clock = ManualClock::new();
    // One token to start with, and calls earn nothing.
    let config = BudgetConfig {
        retry_ratio: 0.0,
        min_retries_per_second: 1,
        ..BudgetConfig::new()
    };
    let budget = budget_on(config, &clock);
    let sink = InMemorySink::new();
    let policy = policy(5);
    let mut attempts = 0;

    let result: Result<(), Error> = Call::new("payments.charge", &policy)
        .budget(&budget)
        .sink(&sink)
        .run(|| {
            attempts += 1;
            async { Err(unavailable()) }
        })
        .await;

    assert_eq!(attempts, 2, "one retry, paid with the only token");
    let err = result.unwrap_err();
    let Error::BudgetExhausted {
        budget: name,
        attempts: made,
        last,
    } = &err
    else {
        panic!("expected BudgetExhausted, got {err:?}");
    };
    assert_eq!((name.as_str(), *made), ("payments", 2));
    assert!(matches!(
        **last,
        Error::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            attempts: 2,
            ..
        }
    ));
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.attempts(), 2);

    let stats = sink.operation("payments.charge");
    assert_eq!(stats.budget_exhaustions, 1);
    assert_eq!(stats.give_ups, 1);
    assert_eq!(stats.retries, 1);
}

#[tokio::test(start_paused = true)]
async fn the_default_budget_funds_ten_retries_of_a_lone_call() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    let policy = policy(100);
    let mut attempts = 0;

    let result: Result<(), Error> = Call::new("payments.charge", &policy)
        .budget(&budget)
        .run(|| {
            attempts += 1;
            async { Err(unavailable()) }
        })
        .await;

    // 10 tokens plus the call's own 0.2 pay for 10 retries.
    assert_eq!(attempts, 11);
    assert!(matches!(
        result,
        Err(Error::BudgetExhausted { attempts: 11, .. })
    ));
    assert_eq!(milli(&budget), 200);
}

#[tokio::test(start_paused = true)]
async fn calls_sharing_a_budget_share_its_tokens() {
    let clock = ManualClock::new();
    let config = BudgetConfig {
        retry_ratio: 0.0,
        min_retries_per_second: 1,
        ..BudgetConfig::new()
    };
    let budget = budget_on(config, &clock);
    let policy = policy(5);
    let mut attempts = Vec::new();

    for _ in 0..2 {
        let mut made = 0;
        let result: Result<(), Error> = Call::new("payments.charge", &policy)
            .budget(&budget)
            .run(|| {
                made += 1;
                async { Err(unavailable()) }
            })
            .await;
        assert!(matches!(result, Err(Error::BudgetExhausted { .. })));
        attempts.push(made);
    }

    assert_eq!(attempts, [2, 1], "the second call found the budget spent");
}

#[tokio::test(start_paused = true)]
async fn a_call_under_a_disabled_budget_retries_up_to_max_attempts() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::unlimited(), &clock);
    let policy = policy(7);
    let mut attempts = 0;

    let result: Result<(), Error> = Call::new("payments.charge", &policy)
        .budget(&budget)
        .run(|| {
            attempts += 1;
            async { Err(unavailable()) }
        })
        .await;

    assert_eq!(attempts, 7);
    assert!(matches!(result, Err(Error::Status { attempts: 7, .. })));
}

#[test]
fn concurrent_withdrawals_never_take_more_tokens_than_exist() {
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    let taken = AtomicU64::new(0);

    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                for _ in 0..1_000 {
                    if budget.try_withdraw() {
                        taken.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });

    assert_eq!(taken.load(Ordering::Relaxed), 10);
    assert_eq!(budget.balance(), 0.0);
}

#[test]
fn concurrent_deposits_and_withdrawals_keep_the_balance_non_negative() {
    const THREADS: u64 = 8;
    const ROUNDS: u64 = 2_000;
    let clock = ManualClock::new();
    let budget = budget_on(BudgetConfig::default(), &clock);
    let taken = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let lowest = std::sync::Mutex::new(f64::MAX);

    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let balance = budget.balance();
                let mut lowest = lowest.lock().unwrap();
                *lowest = lowest.min(balance);
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..ROUNDS {
                        budget.deposit();
                        if budget.try_withdraw() {
                            taken.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
    });

    let taken = i64::try_from(taken.load(Ordering::Relaxed)).unwrap();
    let deposits = i64::try_from(THREADS * ROUNDS).unwrap();
    let balance = milli(&budget);
    assert!(*lowest.lock().unwrap() >= 0.0, "the balance went negative");
    assert!(balance >= 0);
    // Every token taken was there: 10 to start with, plus at most 0.2 per deposit, and the
    // books balance to whole deposits.
    let deposited = balance + taken * 1_000 - 10_000;
    assert_eq!(deposited % 200, 0, "balance {balance}, taken {taken}");
    assert!(
        (0..=deposits * 200).contains(&deposited),
        "balance {balance}, taken {taken}"
    );
    assert!(taken >= 10);
}
