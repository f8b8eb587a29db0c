//! Circuit breakers: tripping on consecutive failures, failure and slow-call rates; the open,
//! half-open and closed cycle with its probes; manual control; and the transitions reported to
//! the registry's sink. Time moves only when a test moves it: a `ManualClock`, or tokio's paused
//! clock for breakers on the default clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use resilient_http::{
    Backoff, Breaker, BreakerConfig, BreakerState, Call, Classification, Error, Event,
    InMemorySink, ManualClock, MetricsSink, Registry, RegistryConfig, Rejected, RetryPolicy,
    WindowConfig,
};

use BreakerState::{Closed, Disabled, ForcedOpen, HalfOpen, Open};

const OPEN: Duration = Duration::from_secs(10);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Trips after 3 failures in a row, stays open 10s, admits one probe.
fn three_strikes() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: Some(3),
        open_duration: OPEN,
        ..BreakerConfig::new()
    }
}

/// Only the failure-rate rule: at least `threshold`% of the last `size` calls, once `size`
/// calls were seen.
fn failure_rate(threshold: f64, window: WindowConfig, minimum_calls: u32) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: None,
        failure_rate_threshold: Some(threshold),
        window,
        minimum_calls,
        open_duration: OPEN,
        ..BreakerConfig::new()
    }
}

/// A registry whose every breaker has `config`, on `clock`, reporting to `sink`.
fn registry(config: BreakerConfig, clock: &ManualClock, sink: Arc<dyn MetricsSink>) -> Registry {
    Registry::builder()
        .config(RegistryConfig {
            breaker: config,
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock.clone()))
        .sink(sink)
        .build()
        .expect("valid breaker configuration")
}

/// The breaker `name` of a fresh registry on `clock` with no sink.
fn breaker_on(config: BreakerConfig, clock: &ManualClock) -> Arc<Breaker> {
    registry(config, clock, Arc::new(InMemorySink::new())).breaker("backend")
}

fn fail(breaker: &Breaker) {
    breaker.try_acquire().expect("admitted").record(true, None);
}

fn succeed(breaker: &Breaker) {
    breaker.try_acquire().expect("admitted").record(false, None);
}

fn rejection(breaker: &Breaker) -> Rejected {
    breaker.try_acquire().expect_err("rejected")
}

/// Trips `breaker` (three-strikes configuration) and waits out its open duration.
fn trip_and_wait(breaker: &Breaker, clock: &ManualClock) {
    for _ in 0..3 {
        fail(breaker);
    }
    assert_eq!(breaker.state(), Open);
    clock.advance(OPEN);
}

#[test]
fn opens_after_consecutive_failures_and_rejects() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);

    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), Closed);
    fail(&breaker);

    assert_eq!(breaker.state(), Open);
    assert_eq!(rejection(&breaker).retry_in, OPEN);
    clock.advance(secs(4));
    assert_eq!(rejection(&breaker).retry_in, secs(6));
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);

    fail(&breaker);
    fail(&breaker);
    succeed(&breaker);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), Closed);

    fail(&breaker);
    assert_eq!(breaker.state(), Open);
}

#[test]
fn results_that_are_not_failures_do_not_count() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    for _ in 0..50 {
        breaker
            .try_acquire()
            .expect("admitted")
            .record(false, Some(secs(60)));
    }
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn client_errors_through_a_call_do_not_trip_the_breaker() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    let policy = RetryPolicy::builder()
        .max_attempts(1)
        .backoff(Backoff::None)
        .build()
        .unwrap();
    let call_with = |status: u16| {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        Call::new("backend.get", &policy)
            .breaker(&breaker)
            .run_blocking(|_| {
                Err::<(), _>(Error::Status {
                    status,
                    retry_after: None,
                    attempts: 1,
                })
            })
    };

    for status in [400, 401, 403, 404, 409, 422] {
        assert!(call_with(status).is_err());
        assert!(
            !Classification::Status {
                status: reqwest::StatusCode::from_u16(status).unwrap(),
                retry_after: None
            }
            .is_breaker_failure()
        );
    }
    assert_eq!(breaker.state(), Closed);

    for _ in 0..3 {
        assert!(call_with(503).is_err());
    }
    assert_eq!(breaker.state(), Open);
}

#[test]
fn open_turns_half_open_once_the_open_duration_has_passed() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    for _ in 0..3 {
        fail(&breaker);
    }

    clock.advance(OPEN - Duration::from_nanos(1));
    assert_eq!(rejection(&breaker).retry_in, Duration::from_nanos(1));
    assert_eq!(breaker.state(), Open);

    clock.advance(Duration::from_nanos(1));
    let probe = breaker.try_acquire().expect("a probe is admitted");
    assert!(probe.is_probe());
    assert_eq!(breaker.state(), HalfOpen);
    probe.record(false, None);
}

#[tokio::test(start_paused = true)]
async fn open_turns_half_open_on_the_paused_tokio_clock() {
    let breaker = Breaker::new("backend", three_strikes()).unwrap();
    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(rejection(&breaker).retry_in, OPEN);

    tokio::time::advance(OPEN - Duration::from_millis(1)).await;
    assert_eq!(rejection(&breaker).retry_in, Duration::from_millis(1));

    tokio::time::advance(Duration::from_millis(1)).await;
    let probe = breaker.try_acquire().expect("a probe is admitted");
    assert!(probe.is_probe());
    assert_eq!(breaker.state(), HalfOpen);
    probe.record(false, None);
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn half_open_admits_exactly_the_configured_probes() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        half_open_probes: 3,
        ..three_strikes()
    };
    let breaker = breaker_on(config, &clock);
    trip_and_wait(&breaker, &clock);

    let mut permits = Vec::new();
    let mut rejected = Vec::new();
    for _ in 0..50 {
        match breaker.try_acquire() {
            Ok(permit) => permits.push(permit),
            Err(rejection) => rejected.push(rejection),
        }
    }

    assert_eq!(permits.len(), 3);
    assert!(permits.iter().all(|p| p.is_probe()));
    assert_eq!(rejected.len(), 47);
    assert!(rejected.iter().all(|r| r.retry_in == Duration::ZERO));
    for permit in permits {
        permit.record(false, None);
    }
}

#[test]
fn half_open_admits_exactly_the_configured_probes_among_50_concurrent_callers() {
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let config = BreakerConfig {
        half_open_probes: 3,
        ..three_strikes()
    };
    let breaker = registry(config, &clock, sink.clone()).breaker("backend");
    trip_and_wait(&breaker, &clock);

    // All 50 callers race the open -> half-open transition and the probe slots, and hold what
    // they got until every caller has asked.
    let asked = Barrier::new(50);
    let admitted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..50 {
            scope.spawn(|| {
                asked.wait();
                let permit = breaker.try_acquire();
                if permit.is_ok() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
                asked.wait();
                drop(permit);
            });
        }
    });

    assert_eq!(admitted.load(Ordering::SeqCst), 3);
    assert_eq!(
        sink.transitions_of("backend"),
        [(Closed, Open), (Open, HalfOpen)]
    );
}

#[test]
fn all_probes_succeeding_close_the_breaker() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        half_open_probes: 3,
        ..three_strikes()
    };
    let breaker = breaker_on(config, &clock);
    trip_and_wait(&breaker, &clock);

    let probes: Vec<_> = (0..3).map(|_| breaker.try_acquire().unwrap()).collect();
    let mut probes = probes.into_iter();
    probes.next().unwrap().record(false, None);
    probes.next().unwrap().record(false, None);
    assert_eq!(breaker.state(), HalfOpen);
    probes.next().unwrap().record(false, None);
    assert_eq!(breaker.state(), Closed);

    // Closed again, with a fresh count.
    let permit = breaker.try_acquire().unwrap();
    assert!(!permit.is_probe());
    permit.record(true, None);
    fail(&breaker);
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn a_failed_probe_opens_the_breaker_again() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        half_open_probes: 2,
        ..three_strikes()
    };
    let breaker = breaker_on(config, &clock);
    trip_and_wait(&breaker, &clock);

    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    first.record(false, None);
    second.record(true, None);

    assert_eq!(breaker.state(), Open);
    assert_eq!(rejection(&breaker).retry_in, OPEN);
}

#[test]
fn open_duration_grows_with_the_multiplier_up_to_its_max() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        open_duration_multiplier: 2.0,
        max_open_duration: secs(35),
        ..three_strikes()
    };
    let breaker = breaker_on(config, &clock);
    for _ in 0..3 {
        fail(&breaker);
    }

    let mut open_for = Vec::new();
    for _ in 0..4 {
        let wait = rejection(&breaker).retry_in;
        open_for.push(wait);
        clock.advance(wait);
        fail(&breaker); // the probe fails
    }
    assert_eq!(open_for, [secs(10), secs(20), secs(35), secs(35)]);

    // Recovering resets the growth.
    clock.advance(secs(35));
    succeed(&breaker);
    assert_eq!(breaker.state(), Closed);
    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(rejection(&breaker).retry_in, secs(10));
}

#[test]
fn a_dropped_probe_permit_frees_its_slot() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    trip_and_wait(&breaker, &clock);

    let probe = breaker.try_acquire().expect("the probe");
    assert_eq!(rejection(&breaker).retry_in, Duration::ZERO);
    drop(probe); // its call was cancelled

    let probe = breaker.try_acquire().expect("the freed slot");
    assert!(probe.is_probe());
    assert_eq!(breaker.state(), HalfOpen);
    probe.record(false, None);
    assert_eq!(breaker.state(), Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_holding_the_probe_frees_its_slot() {
    let breaker = Breaker::new("backend", three_strikes()).unwrap();
    let policy = RetryPolicy::builder().max_attempts(1).build().unwrap();
    for _ in 0..3 {
        fail(&breaker);
    }
    tokio::time::advance(OPEN).await;

    let mut slot_taken_during_call = None;
    let call = Call::new("backend.hang", &policy)
        .breaker(&breaker)
        .run(|| {
            slot_taken_during_call = Some(breaker.try_acquire().is_err());
            std::future::pending::<Result<(), Error>>()
        });
    let outcome = tokio::time::timeout(secs(1), call).await;

    assert!(outcome.is_err(), "the call never completes");
    assert_eq!(slot_taken_during_call, Some(true));
    assert_eq!(breaker.state(), HalfOpen);
    let probe = breaker.try_acquire().expect("not stuck half-open");
    assert!(probe.is_probe());
    probe.record(false, None);
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn failure_rate_trips_only_once_minimum_calls_are_in_the_window() {
    let clock = ManualClock::new();
    let breaker = breaker_on(
        failure_rate(50.0, WindowConfig::Count { size: 10 }, 10),
        &clock,
    );

    for _ in 0..9 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), Closed, "9 calls are below minimum_calls");

    succeed(&breaker);
    assert_eq!(breaker.state(), Open, "9 failures in 10 calls");
}

#[test]
fn failure_rate_at_the_threshold_trips_and_below_it_does_not() {
    let clock = ManualClock::new();
    let breaker = breaker_on(
        failure_rate(50.0, WindowConfig::Count { size: 10 }, 10),
        &clock,
    );

    // 4 failures in 10 calls: 40%.
    for failure in [
        false, true, false, true, false, true, false, true, false, false,
    ] {
        breaker.try_acquire().unwrap().record(failure, None);
    }
    assert_eq!(breaker.state(), Closed);

    // The window slides past the first success: 5 failures in the last 10 calls.
    fail(&breaker);
    assert_eq!(breaker.state(), Open);
}

/// The state after three failures, then (`gap` later) three successes and a failure, on a
/// breaker with a 10-second window that trips at 50% once it holds 4 calls.
fn failures_then_mostly_successes(gap: Duration) -> BreakerState {
    let clock = ManualClock::new();
    let breaker = breaker_on(
        failure_rate(50.0, WindowConfig::Time { seconds: 10 }, 4),
        &clock,
    );
    let record = |failure| {
        // Once the breaker trips, the remaining calls are rejected.
        if let Ok(permit) = breaker.try_acquire() {
            permit.record(failure, None);
        }
    };
    for _ in 0..3 {
        record(true);
    }
    clock.advance(gap);
    for failure in [false, false, false, true] {
        record(failure);
    }
    breaker.state()
}

#[test]
fn time_window_counts_recent_failures() {
    // With the first success, 3 failures in 4 calls within the window.
    assert_eq!(failures_then_mostly_successes(secs(5)), Open);
}

#[test]
fn time_window_forgets_failures_older_than_the_window() {
    // The first three failures slid out: 1 failure in 4 calls.
    assert_eq!(failures_then_mostly_successes(secs(11)), Closed);
}

#[test]
fn slow_call_rate_trips_the_breaker() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        consecutive_failures: None,
        slow_call_rate_threshold: Some(50.0),
        slow_call_duration: secs(1),
        window: WindowConfig::Count { size: 4 },
        minimum_calls: 4,
        ..BreakerConfig::new()
    };
    let breaker = breaker_on(config, &clock);
    assert!(breaker.needs_latency());

    let record = |latency| breaker.try_acquire().unwrap().record(false, Some(latency));
    record(secs(2));
    record(secs(3));
    record(Duration::from_millis(100));
    assert_eq!(breaker.state(), Closed, "3 calls are below minimum_calls");
    record(Duration::from_millis(100));
    assert_eq!(breaker.state(), Open, "2 slow calls in 4");
}

#[test]
fn fast_calls_do_not_trip_the_slow_call_rule() {
    let clock = ManualClock::new();
    let config = BreakerConfig {
        consecutive_failures: None,
        slow_call_rate_threshold: Some(50.0),
        slow_call_duration: secs(1),
        window: WindowConfig::Count { size: 4 },
        minimum_calls: 4,
        ..BreakerConfig::new()
    };
    let breaker = breaker_on(config, &clock);
    for _ in 0..20 {
        breaker
            .try_acquire()
            .unwrap()
            .record(false, Some(Duration::from_millis(999)));
    }
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn force_open_rejects_every_call_until_reset() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);

    breaker.force_open();
    assert_eq!(breaker.state(), ForcedOpen);
    assert_eq!(rejection(&breaker).retry_in, Duration::ZERO);
    clock.advance(secs(3_600));
    assert_eq!(rejection(&breaker).retry_in, Duration::ZERO);

    breaker.reset();
    assert_eq!(breaker.state(), Closed);
    succeed(&breaker);
}

#[test]
fn disable_admits_every_call_and_counts_nothing() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);

    breaker.disable();
    for _ in 0..100 {
        let permit = breaker.try_acquire().expect("a disabled breaker admits");
        assert!(!permit.is_probe());
        permit.record(true, None);
    }
    assert_eq!(breaker.state(), Disabled);

    breaker.reset();
    assert_eq!(breaker.state(), Closed);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), Closed, "failures while disabled counted");
    fail(&breaker);
    assert_eq!(breaker.state(), Open);
}

#[test]
fn reset_closes_an_open_breaker() {
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    for _ in 0..3 {
        fail(&breaker);
    }

    breaker.reset();

    assert_eq!(breaker.state(), Closed);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), Closed);
}

#[test]
fn reset_forgets_failures_counted_while_closed() {
    // `reset` "closes the breaker and forgets every failure counted so far".
    let clock = ManualClock::new();
    let breaker = breaker_on(three_strikes(), &clock);
    fail(&breaker);
    fail(&breaker);

    breaker.reset();

    fail(&breaker);
    assert_eq!(
        breaker.state(),
        Closed,
        "one failure after reset tripped the breaker"
    );
}

#[test]
fn every_transition_is_reported_exactly_once() {
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let config = BreakerConfig {
        half_open_probes: 2,
        ..three_strikes()
    };
    let breaker = registry(config, &clock, sink.clone()).breaker("backend");

    // Five calls admitted while closed all fail: the third trips, the late two change nothing.
    let permits: Vec<_> = (0..5).map(|_| breaker.try_acquire().unwrap()).collect();
    for permit in permits {
        permit.record(true, None);
    }
    clock.advance(OPEN);
    let probes: Vec<_> = (0..2).map(|_| breaker.try_acquire().unwrap()).collect();
    for probe in probes {
        probe.record(true, None); // the second one's epoch is gone
    }
    clock.advance(OPEN);
    succeed(&breaker);
    succeed(&breaker);
    breaker.force_open();
    breaker.force_open();
    breaker.reset();
    breaker.disable();
    breaker.reset();
    breaker.reset();

    let expected = [
        (Closed, Open),
        (Open, HalfOpen),
        (HalfOpen, Open),
        (Open, HalfOpen),
        (HalfOpen, Closed),
        (Closed, ForcedOpen),
        (ForcedOpen, Closed),
        (Closed, Disabled),
        (Disabled, Closed),
    ];
    assert_eq!(sink.transitions_of("backend"), expected);
    assert_eq!(sink.snapshot().transitions_total, expected.len() as u64);
}

#[test]
fn transitions_carry_the_breaker_name() {
    let clock = ManualClock::new();
    let sink = Arc::new(InMemorySink::new());
    let registry = registry(three_strikes(), &clock, sink.clone());
    registry.breaker("payments").force_open();
    registry.breaker("search").disable();

    assert_eq!(sink.transitions_of("payments"), [(Closed, ForcedOpen)]);
    assert_eq!(sink.transitions_of("search"), [(Closed, Disabled)]);
    assert!(sink.transitions_of("inventory").is_empty());
}

/// A sink that panics on every event, counting the events it was given.
#[derive(Debug, Default)]
struct PanickingSink {
    events: AtomicUsize,
}

impl MetricsSink for PanickingSink {
    fn record(&self, _event: &Event<'_>) {
        self.events.fetch_add(1, Ordering::SeqCst);
        panic!("this sink always panics");
    }
}

#[test]
fn a_panicking_sink_does_not_corrupt_breaker_state() {
    let clock = ManualClock::new();
    let sink = Arc::new(PanickingSink::default());
    let breaker = registry(three_strikes(), &clock, sink.clone()).breaker("backend");

    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), Open);
    assert_eq!(rejection(&breaker).retry_in, OPEN);

    clock.advance(OPEN);
    let probe = breaker.try_acquire().expect("the probe");
    assert_eq!(breaker.state(), HalfOpen);
    probe.record(false, None);
    assert_eq!(breaker.state(), Closed);

    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), Open, "the breaker still trips");
    // Closed -> Open, Open -> HalfOpen, HalfOpen -> Closed, Closed -> Open.
    assert_eq!(sink.events.load(Ordering::SeqCst), 4);
}

/// A sink that panics when asked whether it wants events.
#[derive(Debug)]
struct PanicsWhenAsked;

impl MetricsSink for PanicsWhenAsked {
    fn record(&self, _event: &Event<'_>) {}

    fn enabled(&self) -> bool {
        panic!("this sink panics when asked whether it is enabled")
    }
}

#[test]
fn a_sink_that_panics_when_asked_if_it_is_enabled_does_not_stop_a_transition() {
    let clock = ManualClock::new();
    let breaker = registry(three_strikes(), &clock, Arc::new(PanicsWhenAsked)).breaker("backend");

    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), Open);
    clock.advance(OPEN);
    succeed(&breaker);
    assert_eq!(breaker.state(), Closed);
}
