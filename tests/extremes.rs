//! The arithmetic of backoffs, breaker windows, open durations and budgets at the extremes of
//! their types: attempts near `u32::MAX`, durations near `Duration::MAX` and `u64::MAX`
//! nanoseconds, factors up to `f64::MAX`, windows of one and of the largest size, clocks that
//! jump by years. `backoff.rs`, `breaker.rs` and `budget.rs` check the behaviour at ordinary
//! values; this file checks that nothing overflows, wraps, panics or drifts at the edges.
//!
//! Time moves only by a `ManualClock`, whose nanosecond offset counts up to 584 years; every test
//! keeps its clock well below that (see `manual_clock_never_goes_backwards` for what happens
//! beyond it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use resilient_http::{
    Backoff, Breaker, BreakerConfig, BreakerState, BudgetConfig, Clock, Jitter, ManualClock,
    Registry, RegistryConfig, WindowConfig,
};

#[path = "support/budgets.rs"]
mod budgets;

use budgets::{budget_on, milli};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// The longest duration a breaker's configuration accepts.
const DAY: Duration = Duration::from_secs(86_400);

/// The most a test moves its clock in all: far from the 584 years a `ManualClock` can count.
const CLOCK_LIMIT: Duration = Duration::from_secs(500 * 365 * 86_400);

/// `u64::MAX` nanoseconds (~584 years): where jitter's draw and the clocks' offsets saturate.
const U64_NANOS: Duration = Duration::from_nanos(u64::MAX);

/// Latency that makes a call slow for the breakers of this file.
const SLOW: Duration = Duration::from_secs(1);

fn config() -> ProptestConfig {
    // Integration tests have no `lib.rs` next to them for regression files to sit by.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fewer cases, for properties that run thousands of calls each.
fn heavy(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, ..config() }
}

fn nanos(duration: Duration) -> u128 {
    duration.as_nanos()
}

fn from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).expect("within Duration::MAX");
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

/// Moves `clock` by `by`, keeping the test's `elapsed` total under [`CLOCK_LIMIT`]; returns the
/// distance actually moved.
fn advance(clock: &ManualClock, elapsed: &mut Duration, by: Duration) -> Duration {
    let by = by.min(CLOCK_LIMIT.saturating_sub(*elapsed));
    clock.advance(by);
    *elapsed += by;
    by
}

// ---------------------------------------------------------------------------------------------
// Backoff and jitter
// ---------------------------------------------------------------------------------------------

/// Durations at every scale, with the edges: zero, one nanosecond, `u64::MAX` nanoseconds and its
/// neighbours, `u64::MAX` seconds and `Duration::MAX`.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=10_000_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        prop::sample::select(vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            U64_NANOS - Duration::from_nanos(1),
            U64_NANOS,
            U64_NANOS + Duration::from_nanos(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX - Duration::from_nanos(1),
            Duration::MAX,
        ]),
    ]
}

/// Retry numbers, weighted to the extremes.
fn retry() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..=3,
        any::<u32>(),
        (u32::MAX - 3)..=u32::MAX,
        1_000u32..=1_200,
    ]
}

/// Any `f64` a caller can pass to `Backoff::exponential`, which does not validate: the valid
/// range up to `f64::MAX` and everything `RetryPolicy` would reject.
fn any_factor() -> impl Strategy<Value = f64> {
    prop_oneof![
        1.0f64..=f64::MAX,
        any::<f64>(),
        prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            0.0,
            -0.0,
            -1.0,
            0.5,
            1.0,
            1.0 + f64::EPSILON,
        ]),
    ]
}

/// Every strategy, with any durations and factors: `initial` may exceed `max`, as the
/// constructors allow.
fn any_backoff() -> impl Strategy<Value = Backoff> {
    prop_oneof![
        Just(Backoff::None),
        duration().prop_map(Backoff::constant),
        (duration(), duration(), duration()).prop_map(|(i, s, m)| Backoff::linear(i, s, m)),
        (duration(), any_factor(), duration()).prop_map(|(i, f, m)| Backoff::exponential(i, f, m)),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop::sample::select(vec![
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ])
}

fn max_of(backoff: &Backoff) -> Duration {
    match *backoff {
        Backoff::None => Duration::ZERO,
        Backoff::Constant { delay } => delay,
        Backoff::Linear { max, .. } | Backoff::Exponential { max, .. } => max,
    }
}

/// `d` to the precision of an `f64` number of seconds, the precision of exponential backoff and of
/// the breaker's open duration: exact up to 2^50 ns (13 days), within 2^-52 relative beyond.
fn close_to(actual: Duration, expected: Duration) -> bool {
    let (a, e) = (nanos(actual), nanos(expected));
    a.abs_diff(e) <= e >> 50
}

proptest! {
    #![proptest_config(config())]

    /// `initial + step * (retry - 1)`, capped at `max`, exactly, to the nanosecond: the
    /// saturating `Duration` arithmetic loses nothing below the cap, even for steps near
    /// `Duration::MAX` and retries near `u32::MAX`.
    #[test]
    fn linear_is_exact_at_any_size(
        initial in duration(),
        step in duration(),
        max in duration(),
        retry in retry(),
    ) {
        let backoff = Backoff::linear(initial, step, max);
        let steps = u128::from(retry.saturating_sub(1));
        let expected = (nanos(initial) + nanos(step) * steps).min(nanos(max));
        prop_assert_eq!(backoff.base_delay(retry), from_nanos(expected));
    }

    /// Whatever the factor, the first retry waits `initial` (capped at `max`): `factor^0` is one,
    /// even for a NaN or negative factor.
    #[test]
    fn exponential_first_retry_waits_initial(
        initial in duration(),
        factor in any_factor(),
        max in duration(),
    ) {
        let backoff = Backoff::exponential(initial, factor, max);
        for retry in [0, 1] {
            let first = backoff.base_delay(retry);
            if initial.is_zero() {
                prop_assert_eq!(first, Duration::ZERO);
            } else if initial.as_secs_f64() >= 2f64.powi(64) {
                // Past what a `Duration` made from seconds in an `f64` can hold: the cap.
                prop_assert_eq!(first, max);
            } else {
                let expected = initial.min(max);
                prop_assert!(first == max || close_to(first, expected), "{first:?} for {initial:?}");
                prop_assert!(first <= max);
            }
        }
    }

    /// A factor of exactly 1 waits the same at every retry, up to `u32::MAX`.
    #[test]
    fn exponential_with_factor_one_never_grows(
        initial in duration(),
        max in duration(),
        retry in retry(),
    ) {
        let backoff = Backoff::exponential(initial.min(max), 1.0, initial.max(max));
        prop_assert_eq!(backoff.base_delay(retry), backoff.base_delay(1));
    }

    /// Once the product overflows an `f64` (a factor of 2 past retry 1100, the largest factor
    /// from retry 2 on), the wait is exactly `max`: it saturates, it does not wrap to zero.
    #[test]
    fn exponential_overflow_saturates_to_max(
        initial in duration().prop_filter("non-zero", |d| !d.is_zero()),
        max in duration(),
        (factor, retry) in prop_oneof![
            (2.0f64..=f64::MAX, 1_101u32..=u32::MAX),
            (Just(f64::MAX), 2u32..=u32::MAX),
        ],
    ) {
        let backoff = Backoff::exponential(initial, factor, initial.max(max));
        prop_assert_eq!(backoff.base_delay(retry), initial.max(max));
    }

    /// The constructors do not validate, so a backoff may have any factor and `initial > max`;
    /// no wait still exceeds `max`, and nothing panics, for any jitter, retry or previous wait.
    #[test]
    fn unvalidated_backoffs_never_exceed_max(
        backoff in any_backoff(),
        jitter in jitter(),
        retry in retry(),
        prev in duration(),
        seed in any::<u64>(),
    ) {
        let max = max_of(&backoff);
        let base = backoff.base_delay(retry);
        prop_assert!(base <= max, "{backoff:?} retry {retry}: {base:?}");
        let mut rng = SmallRng::seed_from_u64(seed);
        let delay = jitter.apply(base, prev, &backoff, &mut rng);
        prop_assert!(delay <= max, "{backoff:?} {jitter:?}: {delay:?}");
        for delay in backoff.delays(jitter, rng).take(8) {
            prop_assert!(delay <= max, "{backoff:?} {jitter:?}: {delay:?}");
        }
    }

    /// A jitter span wider than `u64::MAX` nanoseconds is drawn within its first 584 years, as
    /// documented, and never below its lower end.
    #[test]
    fn jitter_draws_saturate_at_u64_nanoseconds(
        base in duration(),
        prev in duration(),
        seed in any::<u64>(),
    ) {
        // No cap gets in the way: `max` is `Duration::MAX`.
        let backoff = Backoff::linear(Duration::ZERO, Duration::ZERO, Duration::MAX);
        let mut rng = SmallRng::seed_from_u64(seed);
        let full = Jitter::Full.apply(base, prev, &backoff, &mut rng);
        prop_assert!(full <= base.min(U64_NANOS), "{full:?}");
        let half = base / 2;
        let equal = Jitter::Equal.apply(base, prev, &backoff, &mut rng);
        prop_assert!(half <= equal && equal <= half + (base - half).min(U64_NANOS), "{equal:?}");
        // Decorrelated: from `initial` (zero here) to three times the previous wait.
        let decorrelated = Jitter::Decorrelated.apply(base, prev, &backoff, &mut rng);
        prop_assert!(decorrelated <= prev.saturating_mul(3).min(U64_NANOS), "{decorrelated:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Breaker windows
// ---------------------------------------------------------------------------------------------

/// A breaker named `backend` with `config`, on `clock`.
fn breaker_on(config: BreakerConfig, clock: &ManualClock) -> Arc<Breaker> {
    Registry::builder()
        .config(RegistryConfig {
            breaker: config,
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("a valid breaker configuration")
        .breaker("backend")
}

/// Only the rate rules: the breaker trips on what its window holds and on nothing else.
fn rate_rules(
    window: WindowConfig,
    minimum_calls: u32,
    failure_rate: f64,
    slow_rate: Option<f64>,
) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: None,
        failure_rate_threshold: Some(failure_rate),
        slow_call_rate_threshold: slow_rate,
        slow_call_duration: SLOW,
        window,
        minimum_calls,
        ..BreakerConfig::new()
    }
}

/// Rate thresholds in percent, with the extremes: the smallest positive `f64` and 100.
fn threshold() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![f64::MIN_POSITIVE, 1e-9, 50.0, 99.99, 100.0]),
        0.001f64..=100.0,
    ]
}

/// Calls, failures and slow calls in a model window.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Totals {
    fn add(&mut self, (failure, slow): (bool, bool), sign: i8) {
        let step = |n: &mut u32, on: bool| {
            if on {
                *n = if sign > 0 { *n + 1 } else { *n - 1 };
            }
        };
        step(&mut self.calls, true);
        step(&mut self.failures, failure);
        step(&mut self.slow, slow);
    }

    /// Whether `config`'s rate rules fire on these totals: a rate, in percent of the calls in the
    /// window, at or above its threshold, once `minimum_calls` calls are in it.
    fn trip(self, config: &BreakerConfig) -> bool {
        let over = |threshold: Option<f64>, n: u32| {
            threshold.is_some_and(|t| f64::from(n) * 100.0 / f64::from(self.calls) >= t)
        };
        self.calls >= config.minimum_calls
            && (over(config.failure_rate_threshold, self.failures)
                || over(config.slow_call_rate_threshold, self.slow))
    }
}

/// Records one call through `breaker`; false when it was rejected.
fn record(breaker: &Breaker, (failure, slow): (bool, bool)) -> bool {
    let latency = if slow { SLOW } else { Duration::ZERO };
    match breaker.try_acquire() {
        Ok(permit) => {
            permit.record(failure, Some(latency));
            true
        }
        Err(_) => false,
    }
}

/// A count window: its size (the extremes, and anything in between), and a number of calls at
/// most that size.
fn count_window() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        prop::sample::select(vec![1u32, 2, 3, 9_999, 10_000]),
        1u32..=10_000,
    ]
    .prop_flat_map(|size| {
        let minimum = prop_oneof![Just(1), Just(size), 1..=size];
        (Just(size), minimum)
    })
}

proptest! {
    #![proptest_config(heavy(40))]

    /// A count window of any size from 1 to 10000, driven through the ring more than twice:
    /// the breaker trips at exactly the call where a model of the last `size` calls says a rate
    /// reached its threshold, so its totals neither drift nor wrap as slots are reused.
    #[test]
    fn count_window_rates_match_a_model(
        (size, minimum_calls) in count_window(),
        failure_rate in threshold(),
        slow_rate in prop::option::of(threshold()),
        (p_failure, p_slow) in (prop::sample::select(vec![0.0, 0.001, 0.3, 0.5, 1.0]), 0.0f64..=1.0),
        seed in any::<u64>(),
    ) {
        let config = rate_rules(WindowConfig::Count { size }, minimum_calls, failure_rate, slow_rate);
        let breaker = breaker_on(config.clone(), &ManualClock::new());
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut window = VecDeque::new();
        let mut totals = Totals::default();
        let calls = (size as usize * 5 / 2).clamp(50, 25_000);
        for call in 0..calls {
            let outcome = (rng.random_bool(p_failure), rng.random_bool(p_slow));
            prop_assert!(record(&breaker, outcome), "call {call} rejected by a closed breaker");
            if window.len() == size as usize {
                totals.add(window.pop_front().expect("a full window"), -1);
            }
            window.push_back(outcome);
            totals.add(outcome, 1);
            let tripped = breaker.state() == BreakerState::Open;
            prop_assert_eq!(tripped, totals.trip(&config), "call {} with {:?}", call, totals);
            if tripped {
                break;
            }
        }
    }
}

/// A step of the clock: the edges of a second and of the window, and jumps of years and of more
/// than `u32::MAX` seconds.
fn clock_step(window_secs: u32) -> impl Strategy<Value = Duration> {
    let secs = u64::from(window_secs);
    prop_oneof![
        4 => Just(Duration::ZERO),
        2 => (1u64..=2_000_000_000).prop_map(Duration::from_nanos),
        2 => prop::sample::select(vec![
            Duration::from_nanos(1),
            Duration::from_nanos(999_999_999),
            Duration::from_secs(1),
            Duration::from_secs(secs - 1),
            Duration::from_secs(secs),
            Duration::from_secs(secs + 1),
        ]),
        1 => prop::sample::select(vec![
            YEAR,
            Duration::from_secs(u64::from(u32::MAX) + 1),
            100 * YEAR,
        ]),
    ]
}

/// A time window: its length in seconds, and steps of (clock move, failure, slow).
fn time_window() -> impl Strategy<Value = (u32, Vec<(Duration, bool, bool)>)> {
    prop_oneof![
        prop::sample::select(vec![1u32, 2, 3_599, 3_600]),
        1u32..=3_600
    ]
    .prop_flat_map(|secs| {
        let step = (clock_step(secs), any::<bool>(), any::<bool>());
        (Just(secs), prop::collection::vec(step, 1..300))
    })
}

proptest! {
    #![proptest_config(heavy(64))]

    /// A time window of 1 to 3600 seconds on a clock that moves by nanoseconds, by the window's
    /// length and by centuries (past `u32::MAX` seconds): the breaker trips at exactly the call
    /// where a model of the calls of the last `seconds` whole seconds says a rate reached its
    /// threshold.
    #[test]
    fn time_window_rates_match_a_model(
        (seconds, steps) in time_window(),
        minimum_calls in prop_oneof![Just(1u32), 1u32..=40],
        failure_rate in threshold(),
        slow_rate in prop::option::of(threshold()),
    ) {
        let config = rate_rules(WindowConfig::Time { seconds }, minimum_calls, failure_rate, slow_rate);
        let clock = ManualClock::new();
        let breaker = breaker_on(config.clone(), &clock);
        let mut elapsed = Duration::ZERO;
        let mut window: VecDeque<(u64, (bool, bool))> = VecDeque::new();
        let mut totals = Totals::default();
        for (call, (by, failure, slow)) in steps.into_iter().enumerate() {
            advance(&clock, &mut elapsed, by);
            let now = elapsed.as_secs();
            while let Some(&(second, outcome)) = window.front() {
                if second + u64::from(seconds) > now {
                    break;
                }
                window.pop_front();
                totals.add(outcome, -1);
            }
            prop_assert!(record(&breaker, (failure, slow)), "call {call} rejected by a closed breaker");
            window.push_back((now, (failure, slow)));
            totals.add((failure, slow), 1);
            let tripped = breaker.state() == BreakerState::Open;
            prop_assert_eq!(tripped, totals.trip(&config), "call {} at {:?}: {:?}", call, elapsed, totals);
            if tripped {
                break;
            }
        }
    }
}

#[test]
fn a_window_of_one_call_trips_on_the_first_failure_whatever_the_threshold() {
    for threshold in [f64::MIN_POSITIVE, 1e-9, 50.0, 100.0] {
        let config = rate_rules(WindowConfig::Count { size: 1 }, 1, threshold, None);
        let breaker = breaker_on(config, &ManualClock::new());
        for _ in 0..1_000 {
            assert!(record(&breaker, (false, false)));
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "threshold {threshold}"
        );
        assert!(record(&breaker, (true, false)));
        assert_eq!(breaker.state(), BreakerState::Open, "threshold {threshold}");
    }
}

#[test]
fn the_largest_count_window_needs_all_its_calls_at_100_percent() {
    let config = rate_rules(WindowConfig::Count { size: 10_000 }, 10_000, 100.0, None);
    let breaker = breaker_on(config, &ManualClock::new());
    // One success among 10000 calls keeps the rate below 100%, slot after slot.
    assert!(record(&breaker, (false, false)));
    for _ in 0..9_999 {
        assert!(record(&breaker, (true, false)));
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // The 10001st call pushes the success out: 10000 failures in 10000 calls.
    assert!(record(&breaker, (true, false)));
    assert_eq!(breaker.state(), BreakerState::Open);
}

// ---------------------------------------------------------------------------------------------
// Open durations
// ---------------------------------------------------------------------------------------------

/// Trips after one failure, with the given open durations, one probe.
fn growing(open: Duration, multiplier: f64, max: Duration) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: Some(1),
        open_duration: open,
        open_duration_multiplier: multiplier,
        max_open_duration: max,
        ..BreakerConfig::new()
    }
}

/// Trips `breaker` `trips` times in a row (the probe after each wait fails), returning each
/// wait. Each trip's wait is read the instant it trips, so it is the whole open duration.
fn waits_of(breaker: &Breaker, clock: &ManualClock, trips: usize) -> Vec<Duration> {
    let mut waits = Vec::with_capacity(trips);
    let mut elapsed = Duration::ZERO;
    breaker.try_acquire().expect("closed").record(true, None);
    for trip in 1..=trips {
        let wait = breaker.try_acquire().expect_err("open").retry_in;
        waits.push(wait);
        if trip == trips {
            break;
        }
        assert_eq!(
            advance(clock, &mut elapsed, wait),
            wait,
            "the test's clock ran out"
        );
        let probe = breaker.try_acquire().expect("the wait is over");
        assert!(probe.is_probe());
        probe.record(true, None);
    }
    waits
}

proptest! {
    #![proptest_config(heavy(64))]

    /// Trip after trip, the open duration is `open * multiplier^(trips - 1)` (to `f64`
    /// precision), never decreases, and stops at exactly `max_open_duration`, for multipliers up
    /// to `f64::MAX` and open durations from a nanosecond to the longest allowed, a day.
    #[test]
    fn open_duration_grows_to_its_max_and_stays(
        open in prop_oneof![
            prop::sample::select(vec![Duration::from_nanos(1), Duration::from_secs(1), DAY]),
            (1u64..=DAY.as_secs()).prop_map(Duration::from_secs),
            (1u64..=nanos(DAY) as u64).prop_map(Duration::from_nanos),
        ],
        multiplier in prop_oneof![
            prop::sample::select(vec![1.0, 1.0 + f64::EPSILON, 1.000_000_001, 2.0, 1e300, f64::MAX]),
            1.0f64..=10.0,
        ],
        extra in prop_oneof![Just(Duration::ZERO), Just(DAY), (0u64..=nanos(DAY) as u64).prop_map(Duration::from_nanos)],
        trips in 1usize..=60,
    ) {
        let max = (open + extra).min(DAY);
        let open = open.min(max);
        let clock = ManualClock::new();
        let breaker = breaker_on(growing(open, multiplier, max), &clock);
        let waits = waits_of(&breaker, &clock, trips);

        prop_assert!(close_to(waits[0], open), "first wait {:?} for {open:?}", waits[0]);
        for (trip, pair) in waits.windows(2).enumerate() {
            prop_assert!(pair[0] <= pair[1], "trip {}: {:?} then {:?}", trip + 1, pair[0], pair[1]);
        }
        for (trip, &wait) in (1i32..).zip(&waits) {
            prop_assert!(wait <= max, "trip {trip}: {wait:?} above {max:?}");
            let expected = open.as_secs_f64() * multiplier.powi(trip - 1);
            let max_secs = max.as_secs_f64();
            if expected > max_secs * (1.0 + 1e-12) {
                prop_assert_eq!(wait, max, "trip {}", trip);
            } else if expected < max_secs * (1.0 - 1e-12) {
                let error = (wait.as_secs_f64() - expected).abs();
                prop_assert!(error <= expected * 1e-9 + 1e-9, "trip {trip}: {wait:?}, expected {expected}s");
            }
        }
        if multiplier == 1.0 {
            prop_assert!(waits.iter().all(|&w| w == waits[0]), "{waits:?}");
        }
    }
}

#[test]
fn ten_thousand_trips_reach_the_max_where_the_growth_says() {
    // 1ms growing by 0.1% a trip reaches 1s at trip 1 + ln(1000) / ln(1.001) = 6912.2.
    let clock = ManualClock::new();
    let config = growing(Duration::from_millis(1), 1.001, Duration::from_secs(1));
    let breaker = breaker_on(config, &clock);
    let waits = waits_of(&breaker, &clock, 10_000);
    let first_at_max = waits.iter().position(|&w| w == Duration::from_secs(1));
    assert_eq!(first_at_max.map(|i| i + 1), Some(6_913));
    assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    assert!(waits[6_912..].iter().all(|&w| w == Duration::from_secs(1)));
}

proptest! {
    #![proptest_config(heavy(64))]

    /// After the clock has run for up to centuries, a breaker still rejects for exactly its open
    /// duration, to the nanosecond, and admits a probe the nanosecond it ends.
    #[test]
    fn open_for_exactly_its_duration_after_years_of_uptime(
        uptime in prop_oneof![Just(Duration::ZERO), (0u64..=u64::MAX / 2).prop_map(Duration::from_nanos), Just(400 * YEAR)],
        open in prop_oneof![
            Just(Duration::from_nanos(1)),
            (1u64..=nanos(DAY) as u64).prop_map(Duration::from_nanos),
            Just(DAY),
        ],
    ) {
        let clock = ManualClock::new();
        let mut elapsed = Duration::ZERO;
        let breaker = breaker_on(growing(open, 1.0, open), &clock);
        advance(&clock, &mut elapsed, uptime);
        breaker.try_acquire().expect("closed").record(true, None);

        let wait = breaker.try_acquire().expect_err("open").retry_in;
        prop_assert!(close_to(wait, open), "{wait:?} for {open:?}");
        advance(&clock, &mut elapsed, wait - Duration::from_nanos(1));
        prop_assert_eq!(breaker.try_acquire().expect_err("still open").retry_in, Duration::from_nanos(1));
        advance(&clock, &mut elapsed, Duration::from_nanos(1));
        let probe = breaker.try_acquire().expect("a probe when the wait ends");
        prop_assert!(probe.is_probe());
        probe.record(false, None);
        prop_assert_eq!(breaker.state(), BreakerState::Closed);
    }
}

// ---------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------

/// The documented cap, in thousandths: `min_retries_per_second * window` (whole seconds), and
/// at least one token.
fn cap_of(config: &BudgetConfig) -> i64 {
    let window = i64::try_from(config.window.as_secs()).expect("at most an hour");
    (i64::from(config.min_retries_per_second) * 1_000 * window).max(1_000)
}

/// Non-zero retry ratios from the smallest allowed, 0.001 (the budget counts thousandths), to 1.
fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![
            0.001,
            0.001 + f64::EPSILON,
            0.2,
            1.0 - f64::EPSILON,
            1.0
        ]),
        0.001f64..=1.0,
    ]
}

/// Valid budget configurations at the edges of every field.
fn budget_config() -> impl Strategy<Value = BudgetConfig> {
    let ratio = prop_oneof![Just(0.0), ratio()];
    let floor = prop_oneof![
        prop::sample::select(vec![0u32, 1, 3, 99_999, 100_000]),
        0u32..=100_000
    ];
    let window = prop_oneof![
        prop::sample::select(vec![1u64, 2, 3_599, 3_600]),
        1u64..=3_600
    ]
    .prop_map(Duration::from_secs);
    (any::<bool>(), ratio, floor, window)
        .prop_map(
            |(enabled, retry_ratio, min_retries_per_second, window)| BudgetConfig {
                enabled,
                retry_ratio,
                min_retries_per_second,
                window,
            },
        )
        .prop_filter("valid", |config| config.validate().is_ok())
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Deposit(u16),
    Withdraw(u16),
    Advance(Duration),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u16..=500).prop_map(Op::Deposit),
        (1u16..=500).prop_map(Op::Withdraw),
        prop::sample::select(vec![
            Duration::from_nanos(1),
            Duration::from_millis(1),
            Duration::from_secs(1),
            Duration::from_secs(3_600),
            YEAR,
            100 * YEAR,
        ])
        .prop_map(Op::Advance),
        (0u64..=10_000_000_000).prop_map(|n| Op::Advance(Duration::from_nanos(n))),
    ]
}

proptest! {
    #![proptest_config(heavy(96))]

    /// Whatever the configuration and whatever happens (bursts of deposits and withdrawals, the
    /// clock jumping by nanoseconds or centuries), the balance never goes negative and never
    /// passes the cap by a whole token; a disabled budget allows everything and never moves.
    #[test]
    fn balance_stays_between_zero_and_the_cap(
        config in budget_config(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let clock = ManualClock::new();
        let budget = budget_on(config.clone(), &clock);
        let cap = cap_of(&config);
        let start = milli(&budget);
        let mut elapsed = Duration::ZERO;
        for op in ops {
            match op {
                Op::Deposit(n) => (0..n).for_each(|_| budget.deposit()),
                Op::Withdraw(n) => {
                    let allowed = (0..n).filter(|_| budget.try_withdraw()).count();
                    if !config.enabled {
                        prop_assert_eq!(allowed, usize::from(n));
                    }
                }
                Op::Advance(by) => {
                    advance(&clock, &mut elapsed, by);
                }
            }
            let balance = milli(&budget);
            prop_assert!(balance >= 0, "{op:?}: balance {balance}");
            prop_assert!(balance < cap + 1_000, "{op:?}: balance {balance} of cap {cap}");
            if !config.enabled {
                prop_assert_eq!(balance, start);
            }
        }
    }

    /// However long the quiet period, from a second to centuries, the floor refills the balance
    /// to exactly the cap: the refill arithmetic neither overflows nor loses the bucket.
    #[test]
    fn a_quiet_period_of_any_length_refills_exactly_to_the_cap(
        config in budget_config().prop_filter("a floor", |c| c.enabled && c.min_retries_per_second > 0),
        spent in 0u32..=200,
        quiet in prop_oneof![
            Just(3_600u64),
            3_600u64..=400 * YEAR.as_secs(),
            Just(400 * YEAR.as_secs())
        ],
    ) {
        let clock = ManualClock::new();
        let budget = budget_on(config.clone(), &clock);
        for _ in 0..spent {
            budget.try_withdraw();
        }
        clock.advance(Duration::from_secs(quiet));
        prop_assert!(budget.try_withdraw());
        prop_assert_eq!(milli(&budget), cap_of(&config) - 1_000);
    }

    /// The floor refills `min_retries_per_second` tokens a second however the time is cut
    /// (single nanoseconds, odd fractions of a token, whole seconds), at rates up to 100000 a
    /// second: what is granted over `T` is never short of `T * rate` (in thousandths of a token,
    /// rounded down), and over it by at most a nanosecond's worth per refill.
    #[test]
    fn refills_add_up_to_the_rate_times_the_time(
        floor in prop_oneof![prop::sample::select(vec![1u32, 3, 7, 99_999, 100_000]), 1u32..=100_000],
        steps in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![1u64, 7, 10, 333_333, 999_999_999]),
            1u64..=60_000_000_000,
        ], 1..50),
    ) {
        let config = BudgetConfig {
            retry_ratio: 0.0,
            min_retries_per_second: floor,
            window: Duration::from_secs(3_600),
            ..BudgetConfig::new()
        };
        let clock = ManualClock::new();
        let budget = budget_on(config, &clock);
        let start = milli(&budget);
        let mut taken = 0i64;
        let mut elapsed = 0u128;
        for &step in &steps {
            clock.advance(Duration::from_nanos(step));
            elapsed += u128::from(step);
            taken += i64::from(budget.try_withdraw());
        }
        // Below the cap all along: at most 50 minutes of refill on top of one second's worth.
        let granted = milli(&budget) + taken * 1_000 - start;
        let at_rate = |nanos: u128| i64::try_from(nanos * u128::from(floor) / 1_000_000).unwrap();
        let expected = at_rate(elapsed);
        prop_assert!(granted >= expected, "granted {granted}, expected {expected}");
        // Each refill moves its mark by the time its tokens took, rounded down to the
        // nanosecond: at most a nanosecond's worth is credited twice per refill.
        let most = at_rate(elapsed + steps.len() as u128);
        prop_assert!(granted <= most, "granted {granted}, expected {expected} to {most}");
    }

    /// Every call deposits `retry_ratio` tokens to the nearest thousandth (the budget's unit): `n`
    /// calls fund `n * ratio` retries, give or take half a thousandth a call, for ratios of 0 and
    /// from 0.001 to 1.
    #[test]
    fn deposits_fund_the_ratio_of_retries(
        retry_ratio in prop_oneof![Just(0.0), ratio()],
        calls in 0u32..=3_000,
    ) {
        let config = BudgetConfig {
            retry_ratio,
            min_retries_per_second: 1,
            window: Duration::from_secs(3_600),
            ..BudgetConfig::new()
        };
        let budget = budget_on(config, &ManualClock::new());
        prop_assert!(budget.try_withdraw(), "the floor's first token");
        for _ in 0..calls {
            budget.deposit();
        }
        let funded = (0..=calls).take_while(|_| budget.try_withdraw()).count() as f64;
        let calls = f64::from(calls);
        let most = (calls * (retry_ratio + 0.000_5) * (1.0 + 1e-12)).floor();
        let least = (calls * (retry_ratio - 0.000_5) * (1.0 - 1e-12)).floor();
        prop_assert!(least <= funded && funded <= most, "{funded} outside {least}..={most}");
    }
}

proptest! {
    #![proptest_config(heavy(32))]

    /// `validate` refuses a budget that could never allow a retry, and the arithmetic agrees:
    /// every valid, enabled budget, once spent, funds a retry again within 1000 calls (its
    /// ratio) or a second (its floor), even at the smallest ratio and floor.
    #[test]
    fn every_valid_budget_funds_a_retry_again(config in budget_config().prop_filter("enabled", |c| c.enabled)) {
        let clock = ManualClock::new();
        let budget = budget_on(config, &clock);
        while budget.try_withdraw() {}
        let by_calls = (1..=1_000).any(|_| {
            budget.deposit();
            budget.try_withdraw()
        });
        clock.advance(Duration::from_secs(1));
        prop_assert!(by_calls || budget.try_withdraw(), "spent for good");
    }
}

// ---------------------------------------------------------------------------------------------
// Found at the extremes, and fixed.
// ---------------------------------------------------------------------------------------------

/// `Clock::now` "must never go backwards": `ManualClock::advance` once wrapped its `u64` of
/// nanoseconds past 584 years in all, and the clock jumped back to near its start.
#[test]
fn manual_clock_never_goes_backwards() {
    let clock = ManualClock::new();
    clock.advance(300 * YEAR);
    let before = clock.now();
    clock.advance(300 * YEAR);
    assert!(
        clock.now() >= before,
        "600 years on, the clock is back before year 300"
    );
}

/// The balance "is capped at `min_retries_per_second * window` tokens": `deposit` once checked
/// the cap before adding, so a deposit could cross it by up to one deposit.
#[test]
fn deposits_never_push_the_balance_above_the_cap() {
    let config = BudgetConfig {
        retry_ratio: 0.3,
        min_retries_per_second: 1,
        window: Duration::from_secs(1),
        ..BudgetConfig::new()
    };
    let budget = budget_on(config, &ManualClock::new());
    assert!(budget.try_withdraw());
    for _ in 0..4 {
        budget.deposit();
    }
    assert!(
        budget.balance() <= 1.0,
        "balance {} above the cap of 1",
        budget.balance()
    );
}
