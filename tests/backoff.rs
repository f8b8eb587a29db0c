//! Backoff strategies and jitter: every wait stays within the backoff's bounds, whatever the
//! strategy, the jitter, the attempt number or the size of the durations involved.

use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use resilient_http::{Backoff, Jitter, RetryPolicy};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The `initial` a backoff was built with (the lower bound of decorrelated jitter), read from
/// its fields rather than from the library's own accessor.
fn initial_of(backoff: &Backoff) -> Duration {
    match *backoff {
        Backoff::None => Duration::ZERO,
        Backoff::Constant { delay } => delay,
        Backoff::Linear { initial, .. } | Backoff::Exponential { initial, .. } => initial,
    }
}

/// The `max` a backoff was built with.
fn max_of(backoff: &Backoff) -> Duration {
    match *backoff {
        Backoff::None => Duration::ZERO,
        Backoff::Constant { delay } => delay,
        Backoff::Linear { max, .. } | Backoff::Exponential { max, .. } => max,
    }
}

/// Small, realistic durations as well as huge ones up to `Duration::MAX`.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=10_000_000_000).prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

/// Valid growth factors: at least 1, up to the largest finite `f64`.
fn factor() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), 1.0f64..=10.0, 1.0f64..=f64::MAX]
}

/// Every strategy, with `initial <= max`.
fn backoff() -> impl Strategy<Value = Backoff> {
    prop_oneof![
        Just(Backoff::None),
        duration().prop_map(Backoff::constant),
        (duration(), duration(), duration()).prop_map(|(a, step, b)| Backoff::linear(
            a.min(b),
            step,
            a.max(b)
        )),
        (duration(), factor(), duration()).prop_map(|(a, factor, b)| Backoff::exponential(
            a.min(b),
            factor,
            a.max(b)
        )),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

/// Retry numbers: the first few, anything, and the extremes.
fn retry() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=64, any::<u32>(), Just(u32::MAX), Just(0)]
}

/// Checks the bounds of one jittered wait `delay` drawn for base delay `base` (all but the
/// lower bound of decorrelated jitter, which has a property of its own).
fn check_jittered(backoff: &Backoff, jitter: Jitter, base: Duration, delay: Duration) {
    let max = max_of(backoff);
    assert!(delay <= max, "{jitter:?} gave {delay:?} above max {max:?}");
    match jitter {
        Jitter::None => assert_eq!(delay, base),
        Jitter::Full => assert!(delay <= base, "full jitter {delay:?} above {base:?}"),
        Jitter::Equal => assert!(
            base / 2 <= delay && delay <= base,
            "equal jitter {delay:?} outside [{:?}, {base:?}]",
            base / 2
        ),
        // Its lower bound, `initial`, is checked by `decorrelated_stays_within_initial_and_max`.
        Jitter::Decorrelated => {}
    }
}

proptest! {
    // Integration tests have no `lib.rs` next to them for regression files to sit by.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn base_delay_never_exceeds_max(backoff in backoff(), retry in retry()) {
        let base = backoff.base_delay(retry);
        prop_assert!(base <= max_of(&backoff), "{backoff:?} retry {retry}: {base:?}");
    }

    #[test]
    fn jittered_delay_is_within_zero_and_max(
        backoff in backoff(),
        jitter in jitter(),
        retry in retry(),
        prev in duration(),
        seed in any::<u64>(),
    ) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let base = backoff.base_delay(retry);
        let delay = jitter.apply(base, prev, &backoff, &mut rng);
        check_jittered(&backoff, jitter, base, delay);
    }

    #[test]
    fn every_delay_of_a_sequence_is_within_bounds(
        backoff in backoff(),
        jitter in jitter(),
        seed in any::<u64>(),
    ) {
        let delays = backoff.delays(jitter, SmallRng::seed_from_u64(seed));
        for (retry, delay) in (1..).zip(delays.take(64)) {
            check_jittered(&backoff, jitter, backoff.base_delay(retry), delay);
        }
    }

    #[test]
    fn decorrelated_stays_within_initial_and_max(backoff in backoff(), seed in any::<u64>()) {
        let (initial, max) = (initial_of(&backoff), max_of(&backoff));
        let delays = backoff.delays(Jitter::Decorrelated, SmallRng::seed_from_u64(seed));
        for delay in delays.take(64) {
            prop_assert!(initial <= delay && delay <= max, "{delay:?} outside [{initial:?}, {max:?}]");
        }
    }

    #[test]
    fn exponential_without_jitter_never_decreases(
        initial in duration(),
        factor in factor(),
        max in duration(),
        retries in (retry(), retry()),
    ) {
        let backoff = Backoff::exponential(initial.min(max), factor, initial.max(max));
        let mut previous = Duration::ZERO;
        for delay in backoff.delays(Jitter::None, SmallRng::seed_from_u64(0)).take(200) {
            prop_assert!(delay >= previous, "{backoff:?}: {delay:?} after {previous:?}");
            previous = delay;
        }
        let (early, late) = (retries.0.min(retries.1), retries.0.max(retries.1));
        prop_assert!(backoff.base_delay(early) <= backoff.base_delay(late));
    }

    #[test]
    fn linear_without_jitter_never_decreases(
        initial in duration(),
        step in duration(),
        max in duration(),
        retries in (retry(), retry()),
    ) {
        let backoff = Backoff::linear(initial.min(max), step, initial.max(max));
        let (early, late) = (retries.0.min(retries.1), retries.0.max(retries.1));
        prop_assert!(backoff.base_delay(early) <= backoff.base_delay(late));
    }
}

#[test]
fn huge_durations_and_the_last_retry_do_not_panic() {
    let backoffs = [
        Backoff::None,
        Backoff::constant(Duration::MAX),
        Backoff::linear(Duration::MAX, Duration::MAX, Duration::MAX),
        Backoff::linear(Duration::ZERO, Duration::MAX, Duration::MAX),
        Backoff::exponential(Duration::MAX, f64::MAX, Duration::MAX),
        Backoff::exponential(Duration::from_nanos(1), 2.0, Duration::MAX),
    ];
    let jitters = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];
    let mut rng = SmallRng::seed_from_u64(1);
    for backoff in backoffs {
        for retry in [u32::MAX - 1, u32::MAX] {
            let base = backoff.base_delay(retry);
            assert!(base <= max_of(&backoff));
            for jitter in jitters {
                let delay = jitter.apply(base, Duration::MAX, &backoff, &mut rng);
                check_jittered(&backoff, jitter, base, delay);
            }
        }
    }
}

#[test]
fn exponential_base_delay_at_the_last_retry_is_the_max() {
    let backoff = Backoff::exponential(ms(100), 2.0, Duration::from_secs(10));
    assert_eq!(backoff.base_delay(u32::MAX), Duration::from_secs(10));
}

#[test]
fn full_jitter_spans_zero_to_the_delay() {
    let backoff = Backoff::constant(Duration::from_secs(1));
    let base = Duration::from_secs(1);
    let mut rng = SmallRng::seed_from_u64(42);
    let draws: Vec<_> = (0..10_000)
        .map(|_| Jitter::Full.apply(base, base, &backoff, &mut rng))
        .collect();
    assert!(draws.iter().all(|&d| d <= base));
    // Spread over the whole range, not stuck at one end.
    assert!(draws.iter().min().unwrap() < &ms(50));
    assert!(draws.iter().max().unwrap() > &ms(950));
}

#[test]
fn equal_jitter_spans_half_the_delay_to_the_delay() {
    let backoff = Backoff::constant(Duration::from_secs(1));
    let base = Duration::from_secs(1);
    let mut rng = SmallRng::seed_from_u64(42);
    let draws: Vec<_> = (0..10_000)
        .map(|_| Jitter::Equal.apply(base, base, &backoff, &mut rng))
        .collect();
    assert!(draws.iter().all(|&d| ms(500) <= d && d <= base));
    assert!(draws.iter().min().unwrap() < &ms(525));
    assert!(draws.iter().max().unwrap() > &ms(975));
}

#[test]
fn decorrelated_never_waits_less_than_initial() {
    let backoff = Backoff::exponential(ms(100), 2.0, Duration::from_secs(5));
    let delays = backoff.delays(Jitter::Decorrelated, SmallRng::seed_from_u64(9));
    for delay in delays.take(1_000) {
        assert!(
            ms(100) <= delay && delay <= Duration::from_secs(5),
            "{delay:?}"
        );
    }
}

#[test]
fn jitter_is_capped_by_max_not_by_the_base() {
    // Decorrelated draws up to three times the previous wait; the cap still holds.
    let backoff = Backoff::exponential(ms(100), 2.0, ms(250));
    let mut rng = SmallRng::seed_from_u64(3);
    for _ in 0..1_000 {
        let delay = Jitter::Decorrelated.apply(ms(250), ms(250), &backoff, &mut rng);
        assert!(ms(100) <= delay && delay <= ms(250), "{delay:?}");
    }
}

#[test]
fn exponential_sequence_doubles_up_to_max() {
    let backoff = Backoff::exponential(ms(100), 2.0, ms(1_000));
    let delays: Vec<_> = backoff
        .delays(Jitter::None, SmallRng::seed_from_u64(0))
        .take(6)
        .collect();
    assert_eq!(
        delays,
        [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]
    );
}

#[test]
fn exponential_base_delay_is_initial_times_factor_powers() {
    let backoff = Backoff::exponential(ms(100), 3.0, Duration::from_secs(60));
    let bases: Vec<_> = (1..=4).map(|retry| backoff.base_delay(retry)).collect();
    assert_eq!(bases, [ms(100), ms(300), ms(900), ms(2_700)]);
}

#[test]
fn exponential_with_zero_initial_stays_zero() {
    // `initial * factor^(retry - 1)` is zero for every retry when `initial` is zero.
    let backoff = Backoff::exponential(Duration::ZERO, 2.0, Duration::from_secs(10));
    for retry in [1, 2, 10, 1_100, u32::MAX] {
        assert_eq!(backoff.base_delay(retry), Duration::ZERO, "retry {retry}");
    }
}

#[test]
fn linear_sequence_adds_the_step_up_to_max() {
    let backoff = Backoff::linear(ms(100), ms(50), ms(300));
    let delays: Vec<_> = backoff
        .delays(Jitter::None, SmallRng::seed_from_u64(0))
        .take(7)
        .collect();
    assert_eq!(
        delays,
        [
            ms(100),
            ms(150),
            ms(200),
            ms(250),
            ms(300),
            ms(300),
            ms(300)
        ]
    );
}

#[test]
fn constant_and_none_sequences_do_not_change() {
    let mut rng = SmallRng::seed_from_u64(0);
    let constant = Backoff::constant(ms(30));
    assert!(
        constant
            .delays(Jitter::None, &mut rng)
            .take(5)
            .all(|d| d == ms(30))
    );
    assert!(
        Backoff::None
            .delays(Jitter::Full, &mut rng)
            .take(5)
            .all(|d| d.is_zero())
    );
}

#[test]
fn a_seeded_sequence_is_reproducible() {
    let backoff = Backoff::exponential(ms(100), 2.0, Duration::from_secs(30));
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let run = |seed| -> Vec<Duration> {
            backoff
                .delays(jitter, SmallRng::seed_from_u64(seed))
                .take(20)
                .collect()
        };
        assert_eq!(run(7), run(7), "{jitter:?}");
        assert_ne!(run(7), run(8), "{jitter:?}: the seed has no effect");
    }
}

#[test]
fn default_backoff_is_exponential_100ms_doubling_to_10s() {
    assert_eq!(
        Backoff::default(),
        Backoff::exponential(ms(100), 2.0, Duration::from_secs(10))
    );
    assert_eq!(Jitter::default(), Jitter::Full);
}

#[test]
fn boundary_backoffs_are_accepted() {
    for backoff in [
        Backoff::None,
        Backoff::constant(Duration::ZERO),
        Backoff::linear(ms(1_000), Duration::ZERO, ms(1_000)),
        Backoff::exponential(ms(1_000), 1.0, ms(1_000)),
    ] {
        let policy = RetryPolicy::builder().backoff(backoff).build();
        assert_eq!(policy.map(|p| *p.backoff()), Ok(backoff));
    }
}
