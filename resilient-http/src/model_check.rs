//! Model checks of the races in breakers and budgets: loom runs each scenario under every
//! interleaving of its threads (up to a bound on preemptions), on the real state machines,
//! whose atomics and lock come from loom under `--cfg loom` (see `sync.rs`). No tokio is
//! involved: time is a `ManualClock` moved between scenarios' steps, never during them.
//!
//! Run by `.ci/run`:
//! `RUSTC_WORKSPACE_WRAPPER=.ci/loom-rustc cargo test -p resilient-http --lib model_check`.

use std::sync::{Arc as StdArc, Mutex as StdMutex};
use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering::SeqCst};
use loom::thread;

use crate::metrics::{Event, EventKind, MetricsSink};
use crate::{Breaker, BreakerConfig, BreakerState, BudgetConfig, ManualClock, RetryBudget};

/// Enough preemptions to reach every ordering of the few atomic steps that race here, few
/// enough that the whole file runs in seconds.
const PREEMPTION_BOUND: usize = 3;

fn check(scenario: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(PREEMPTION_BOUND);
    model.check(scenario);
}

/// Every transition a breaker reports, in order.
#[derive(Debug, Default)]
struct Transitions(StdMutex<Vec<(BreakerState, BreakerState)>>);

impl MetricsSink for Transitions {
    fn record(&self, event: &Event<'_>) {
        if let EventKind::BreakerStateChanged { from, to } = event.kind {
            self.0.lock().unwrap().push((from, to));
        }
    }
}

impl Transitions {
    fn seen(&self) -> Vec<(BreakerState, BreakerState)> {
        self.0.lock().unwrap().clone()
    }
}

struct Fixture {
    breaker: Arc<Breaker>,
    transitions: StdArc<Transitions>,
    clock: ManualClock,
}

fn fixture(config: BreakerConfig) -> Fixture {
    let clock = ManualClock::new();
    let transitions = StdArc::new(Transitions::default());
    let breaker = Breaker::with_parts(
        "model".into(),
        config,
        StdArc::new(clock.clone()),
        transitions.clone(),
    )
    .unwrap();
    Fixture {
        breaker: Arc::new(breaker),
        transitions,
        clock,
    }
}

/// A breaker that one failure trips, already tripped and at the end of its open duration, so
/// the next call moves it to half-open.
fn due_for_probes(probes: u32) -> Fixture {
    let config = BreakerConfig {
        consecutive_failures: Some(1),
        half_open_probes: probes,
        ..BreakerConfig::new()
    };
    let fixture = fixture(config.clone());
    fixture.breaker.try_acquire().unwrap().record(true, None);
    fixture.clock.advance(config.open_duration);
    fixture
}

/// Runs `body` on `threads` threads sharing `shared`, and waits for all of them.
fn race<T: Send + Sync + 'static>(threads: usize, shared: &Arc<T>, body: fn(&T)) {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let shared = shared.clone();
            thread::spawn(move || body(&shared))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

/// Three callers fail at once on a closed breaker that `config` trips: it opens, and the
/// transition is made and reported exactly once.
fn failures_trip_exactly_once(config: BreakerConfig) {
    let Fixture {
        breaker,
        transitions,
        ..
    } = fixture(config);
    race(3, &breaker, |breaker| {
        if let Ok(permit) = breaker.try_acquire() {
            permit.record(true, None);
        }
    });
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        transitions.seen(),
        [(BreakerState::Closed, BreakerState::Open)]
    );
}

#[test]
fn concurrent_failures_trip_the_breaker_exactly_once() {
    check(|| {
        failures_trip_exactly_once(BreakerConfig {
            consecutive_failures: Some(2),
            ..BreakerConfig::new()
        });
    });
}

#[test]
fn a_failure_rate_trips_the_breaker_exactly_once() {
    check(|| {
        failures_trip_exactly_once(BreakerConfig {
            consecutive_failures: None,
            failure_rate_threshold: Some(50.0),
            window: crate::WindowConfig::Count { size: 3 },
            minimum_calls: 2,
            ..BreakerConfig::new()
        });
    });
}

#[test]
fn the_hand_over_to_half_open_admits_exactly_one_probe() {
    check(|| {
        let Fixture {
            breaker,
            transitions,
            ..
        } = due_for_probes(1);
        let admitted = held_probes(2, &breaker);
        assert_eq!(admitted, 1);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(
            transitions.seen(),
            [
                (BreakerState::Closed, BreakerState::Open),
                (BreakerState::Open, BreakerState::HalfOpen)
            ]
        );
    });
}

#[test]
fn half_open_admits_exactly_the_configured_probes() {
    check(|| {
        let Fixture { breaker, .. } = due_for_probes(2);
        // The hand-over is the test above; here three callers race for two slots.
        drop(breaker.try_acquire().unwrap());
        assert_eq!(held_probes(3, &breaker), 2);
    });
}

/// Has `callers` threads each ask `breaker` for a probe and keep it: counts those admitted.
fn held_probes(callers: usize, breaker: &Arc<Breaker>) -> u32 {
    let probes = Arc::new((breaker.clone(), AtomicU32::new(0)));
    race(callers, &probes, |(breaker, admitted)| {
        if let Ok(permit) = breaker.try_acquire() {
            assert!(permit.is_probe());
            admitted.fetch_add(1, SeqCst);
            // Still in flight when the scenario ends: its slot is never given back.
            std::mem::forget(permit);
        }
    });
    probes.1.load(SeqCst)
}

#[test]
fn a_cancelled_probe_gives_its_slot_back() {
    check(|| {
        let Fixture { breaker, .. } = due_for_probes(1);
        let cancelled = {
            let breaker = breaker.clone();
            thread::spawn(move || drop(breaker.try_acquire()))
        };
        let succeeded = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                if let Ok(permit) = breaker.try_acquire() {
                    permit.record(false, None);
                }
            })
        };
        cancelled.join().unwrap();
        succeeded.join().unwrap();
        // Whichever way the two raced, the breaker is not stuck: a caller is admitted, and a
        // success closes it.
        breaker.try_acquire().unwrap().record(false, None);
        assert_eq!(breaker.state(), BreakerState::Closed);
    });
}

#[test]
fn a_probe_from_an_earlier_half_open_cannot_free_a_later_slot() {
    check(|| {
        let Fixture { breaker, clock, .. } = due_for_probes(2);
        let stale = breaker.try_acquire().unwrap();
        let reopener = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                breaker.try_acquire().unwrap().record(true, None);
                clock.advance(breaker.config().max_open_duration);
                // The first probe of the next half-open, still in flight at the end.
                std::mem::forget(breaker.try_acquire().unwrap());
            })
        };
        // Cancelled while the other thread re-opens the breaker and half-opens it again.
        drop(stale);
        reopener.join().unwrap();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        std::mem::forget(breaker.try_acquire().unwrap());
        assert!(breaker.try_acquire().is_err(), "both probe slots are taken");
    });
}

fn budget(config: BudgetConfig, clock: &ManualClock) -> Arc<RetryBudget> {
    let budget = RetryBudget::with_clock("model".into(), config, StdArc::new(clock.clone()));
    Arc::new(budget.unwrap())
}

/// A budget holding one retry token and earning one per second, from no deposits.
fn one_token(clock: &ManualClock) -> Arc<RetryBudget> {
    let config = BudgetConfig {
        retry_ratio: 0.0,
        min_retries_per_second: 1,
        ..BudgetConfig::new()
    };
    budget(config, clock)
}

fn withdraw_counting(budget: &Arc<RetryBudget>, threads: usize) -> u32 {
    let granted = Arc::new((budget.clone(), AtomicU32::new(0)));
    race(threads, &granted, |(budget, granted)| {
        if budget.try_withdraw() {
            granted.fetch_add(1, SeqCst);
        }
    });
    granted.1.load(SeqCst)
}

#[test]
fn racing_retries_never_overdraw_the_budget() {
    check(|| {
        let budget = one_token(&ManualClock::new());
        assert_eq!(withdraw_counting(&budget, 3), 1);
        assert_eq!(budget.balance(), 0.0);
    });
}

#[test]
fn a_refill_is_credited_exactly_once() {
    check(|| {
        let clock = ManualClock::new();
        let budget = one_token(&clock);
        clock.advance(Duration::from_secs(1));
        // Both racing retries refill; one second earns one token, so two in all.
        assert_eq!(withdraw_counting(&budget, 2), 2);
        assert_eq!(budget.balance(), 0.0);
    });
}

#[test]
fn deposits_racing_withdrawals_lose_no_token() {
    check(|| {
        let config = BudgetConfig {
            retry_ratio: 0.5,
            min_retries_per_second: 1,
            ..BudgetConfig::new()
        };
        let budget = budget(config, &ManualClock::new());
        let depositor = {
            let budget = budget.clone();
            thread::spawn(move || {
                budget.deposit();
                budget.deposit();
            })
        };
        let granted = u32::from(budget.try_withdraw()) + u32::from(budget.try_withdraw());
        depositor.join().unwrap();
        // One token at the start and one from the two deposits: the first retry always finds
        // a token; the second only if the deposits came first.
        assert!((1..=2).contains(&granted), "granted {granted}");
        assert_eq!(budget.balance(), 2.0 - f64::from(granted));
    });
}
