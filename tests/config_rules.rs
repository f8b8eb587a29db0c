//! Every validation rule of the runtime configuration, one test each. A value that breaks a rule
//! is rejected, never clamped or replaced by a default, with an error that names the field (by
//! its dotted path inside a registry file) and states the allowed range, whether the value came
//! from a builder, a struct, a TOML file or a JSON file.
//!
//! TOML writes NaN and infinity as `nan` and `inf`; JSON cannot write them at all, so float rules
//! take their non-finite cases from structs and TOML.

use std::fmt::Debug;
use std::time::Duration;

use resilient_http::{
    Backoff, BreakerConfig, BudgetConfig, Client, ConfigError, Jitter, Registry, RegistryConfig,
    RetryConfig, RetryPolicy, StatusSet, WindowConfig,
};

/// The longest duration any setting accepts.
const DAY: Duration = Duration::from_secs(86_400);
/// Just over [`DAY`].
const OVER_A_DAY: Duration = Duration::from_nanos(86_400_000_000_001);
const NON_FINITE: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Asserts that `result` failed on `field`, with a message that states `range`.
#[track_caller]
fn assert_rejected<T: Debug>(result: Result<T, ConfigError>, field: &str, range: &str) {
    let err = result.expect_err("the value breaks the rule");
    assert_eq!(err.field(), field, "{err}");
    assert!(
        err.problem().contains(range),
        "the error for `{field}` does not state {range:?}: {err}"
    );
    assert_eq!(
        err.to_string(),
        format!("invalid `{field}`: {}", err.problem())
    );
}

/// A policy built from a TOML `RetryConfig`.
fn policy_toml(text: &str) -> Result<RetryPolicy, ConfigError> {
    toml::from_str::<RetryConfig>(text)
        .unwrap_or_else(|err| panic!("{text:?} parses: {err}"))
        .build()
}

/// A policy built from a JSON `RetryConfig`.
fn policy_json(text: &str) -> Result<RetryPolicy, ConfigError> {
    serde_json::from_str::<RetryConfig>(text)
        .unwrap_or_else(|err| panic!("{text:?} parses: {err}"))
        .build()
}

/// A registry built from a TOML `RegistryConfig`.
fn registry_toml(text: &str) -> Result<Registry, ConfigError> {
    let config: RegistryConfig =
        toml::from_str(text).unwrap_or_else(|err| panic!("{text:?} parses: {err}"));
    Registry::builder().config(config).build()
}

/// A registry built from a JSON `RegistryConfig`.
fn registry_json(text: &str) -> Result<Registry, ConfigError> {
    let config: RegistryConfig =
        serde_json::from_str(text).unwrap_or_else(|err| panic!("{text:?} parses: {err}"));
    Registry::builder().config(config).build()
}

fn breaker(change: impl FnOnce(&mut BreakerConfig)) -> BreakerConfig {
    let mut config = BreakerConfig::new();
    change(&mut config);
    config
}

fn budget(change: impl FnOnce(&mut BudgetConfig)) -> BudgetConfig {
    let mut config = BudgetConfig::new();
    change(&mut config);
    config
}

// Retry policy.

#[test]
fn max_attempts_must_be_1_to_100() {
    const RANGE: &str = "between 1 and 100";
    for n in [0, 101, u32::MAX] {
        let result = RetryPolicy::builder().max_attempts(n).build();
        assert_rejected(result, "max_attempts", RANGE);
    }
    assert_rejected(policy_toml("max_attempts = 0"), "max_attempts", RANGE);
    assert_rejected(
        policy_json(r#"{ "max_attempts": 101 }"#),
        "max_attempts",
        RANGE,
    );
    for n in [1, 100] {
        RetryPolicy::builder().max_attempts(n).build().unwrap();
    }
}

#[test]
fn retry_on_must_hold_only_statuses_400_to_599() {
    const RANGE: &str = "error statuses between 400 and 599";
    for set in [
        StatusSet::EMPTY.with(200),
        StatusSet::EMPTY.with(399),
        StatusSet::EMPTY.with(600),
        StatusSet::EMPTY.with(503).with(99),
        StatusSet::EMPTY.with_range(500, 600),
        StatusSet::EMPTY.with_range(300, 499),
        [503, 304].into_iter().collect(),
    ] {
        let result = RetryPolicy::builder().retry_on(set).build();
        assert_rejected(result, "retry_on", RANGE);
    }
    let err = RetryPolicy::builder()
        .retry_on(StatusSet::EMPTY.with(600))
        .build()
        .unwrap_err();
    assert_eq!(
        err.problem(),
        "must hold only error statuses between 400 and 599, got 600"
    );
    for text in [
        "retry_on = [200]",
        "retry_on = [503, 600]",
        "retry_on = [70000]",
        r#"retry_on = ["500..=600"]"#,
        r#"retry_on = ["0..=599"]"#,
    ] {
        assert_rejected(policy_toml(text), "retry_on", RANGE);
    }
    assert_rejected(policy_json(r#"{ "retry_on": [302] }"#), "retry_on", RANGE);

    let edges = StatusSet::EMPTY.with(400).with(599).with_range(400, 599);
    let policy = RetryPolicy::builder().retry_on(edges).build().unwrap();
    assert_eq!(policy.retry_on().iter().count(), 200);
    policy_toml(r#"retry_on = [400, "500..=599"]"#).unwrap();
}

#[test]
fn retry_on_ranges_must_be_written_lowest_first() {
    const RANGE: &str = "ranges written lowest first, within 400..=599";
    let result = RetryPolicy::builder()
        .retry_on(StatusSet::EMPTY.with_range(599, 500))
        .build();
    assert_rejected(result, "retry_on", RANGE);
    assert_rejected(
        policy_toml(r#"retry_on = ["599..=500"]"#),
        "retry_on",
        RANGE,
    );
    assert_rejected(
        policy_json(r#"{ "retry_on": ["504..=502"] }"#),
        "retry_on",
        RANGE,
    );
    let one = RetryPolicy::builder()
        .retry_on(StatusSet::EMPTY.with_range(503, 503))
        .build()
        .unwrap();
    assert_eq!(one.retry_on(), &StatusSet::EMPTY.with(503));
}

#[test]
fn backoff_durations_must_be_at_most_24h() {
    const RANGE: &str = "between 0s and 24h";
    for (backoff, field) in [
        (Backoff::constant(OVER_A_DAY), "backoff.delay"),
        (Backoff::constant(Duration::MAX), "backoff.delay"),
        (
            Backoff::linear(OVER_A_DAY, ms(1), OVER_A_DAY),
            "backoff.initial",
        ),
        (Backoff::linear(ms(1), OVER_A_DAY, DAY), "backoff.step"),
        (Backoff::linear(ms(1), ms(1), OVER_A_DAY), "backoff.max"),
        (
            Backoff::exponential(ms(1), 2.0, Duration::MAX),
            "backoff.max",
        ),
    ] {
        let result = RetryPolicy::builder().backoff(backoff).build();
        assert_rejected(result, field, RANGE);
    }
    let result = RetryPolicy::builder()
        .backoff(Backoff::exponential(OVER_A_DAY, 2.0, OVER_A_DAY))
        .build();
    assert_rejected(
        result,
        "backoff.initial",
        "longer than zero and at most 24h",
    );
    assert_rejected(
        policy_toml(r#"backoff = { kind = "constant", delay = "25h" }"#),
        "backoff.delay",
        RANGE,
    );
    assert_rejected(
        policy_toml(
            r#"backoff = { kind = "exponential", initial = "1s", factor = 2.0, max = "2days" }"#,
        ),
        "backoff.max",
        RANGE,
    );
    assert_rejected(
        policy_json(
            r#"{ "backoff": { "kind": "linear", "initial": "1s", "step": "100000h", "max": "1h" } }"#,
        ),
        "backoff.step",
        RANGE,
    );
    for backoff in [
        Backoff::constant(DAY),
        Backoff::constant(Duration::ZERO),
        Backoff::linear(DAY, DAY, DAY),
        Backoff::exponential(DAY, 2.0, DAY),
    ] {
        RetryPolicy::builder().backoff(backoff).build().unwrap();
    }
}

#[test]
fn backoff_initial_must_be_at_most_max() {
    const RANGE: &str = "at most `backoff.max` (1s)";
    for backoff in [
        Backoff::linear(ms(1_001), ms(10), secs(1)),
        Backoff::exponential(secs(2), 2.0, secs(1)),
    ] {
        let result = RetryPolicy::builder().backoff(backoff).build();
        assert_rejected(result, "backoff.initial", RANGE);
    }
    assert_rejected(
        policy_toml(
            r#"backoff = { kind = "exponential", initial = "2s", factor = 2.0, max = "1s" }"#,
        ),
        "backoff.initial",
        RANGE,
    );
    assert_rejected(
        policy_json(
            r#"{ "backoff": { "kind": "linear", "initial": "5s", "step": "1s", "max": "1s" } }"#,
        ),
        "backoff.initial",
        RANGE,
    );
    for backoff in [
        Backoff::linear(secs(1), ms(10), secs(1)),
        Backoff::exponential(secs(1), 2.0, secs(1)),
    ] {
        RetryPolicy::builder().backoff(backoff).build().unwrap();
    }
}

#[test]
fn exponential_backoff_initial_must_be_above_zero() {
    const RANGE: &str = "longer than zero and at most 24h";
    let result = RetryPolicy::builder()
        .backoff(Backoff::exponential(Duration::ZERO, 2.0, secs(1)))
        .build();
    assert_rejected(result, "backoff.initial", RANGE);
    assert_rejected(
        policy_toml(
            r#"backoff = { kind = "exponential", initial = "0s", factor = 2.0, max = "1s" }"#,
        ),
        "backoff.initial",
        RANGE,
    );
    assert_rejected(
        policy_json(
            r#"{ "backoff": { "kind": "exponential", "initial": "0ms", "factor": 3.0, "max": "1s" } }"#,
        ),
        "backoff.initial",
        RANGE,
    );
    let smallest = Backoff::exponential(Duration::from_nanos(1), 2.0, secs(1));
    RetryPolicy::builder().backoff(smallest).build().unwrap();
}

#[test]
fn backoff_factor_must_be_finite_and_at_least_1() {
    const RANGE: &str = "finite number of at least 1.0";
    for factor in [0.5, 0.0, -1.0, 0.999].into_iter().chain(NON_FINITE) {
        let result = RetryPolicy::builder()
            .backoff(Backoff::exponential(ms(100), factor, secs(1)))
            .build();
        assert_rejected(result, "backoff.factor", RANGE);
    }
    for factor in ["nan", "inf", "-inf", "0.5"] {
        let text = format!(
            r#"backoff = {{ kind = "exponential", initial = "100ms", factor = {factor}, max = "1s" }}"#
        );
        assert_rejected(policy_toml(&text), "backoff.factor", RANGE);
    }
    assert_rejected(
        policy_json(
            r#"{ "backoff": { "kind": "exponential", "initial": "1s", "factor": 0, "max": "2s" } }"#,
        ),
        "backoff.factor",
        RANGE,
    );
    let constant = Backoff::exponential(ms(100), 1.0, secs(1));
    RetryPolicy::builder().backoff(constant).build().unwrap();
}

#[test]
fn decorrelated_jitter_needs_a_linear_initial_above_zero() {
    const RANGE: &str = "longer than zero and at most 24h with `jitter = \"decorrelated\"`";
    let from_zero = Backoff::linear(Duration::ZERO, ms(100), secs(1));
    let result = RetryPolicy::builder()
        .backoff(from_zero)
        .jitter(Jitter::Decorrelated)
        .build();
    assert_rejected(result, "backoff.initial", RANGE);
    assert_rejected(
        policy_toml(
            r#"
            jitter = "decorrelated"
            backoff = { kind = "linear", initial = "0s", step = "100ms", max = "1s" }
            "#,
        ),
        "backoff.initial",
        RANGE,
    );
    assert_rejected(
        policy_json(
            r#"{ "jitter": "decorrelated",
                 "backoff": { "kind": "linear", "initial": "0s", "step": "1s", "max": "5s" } }"#,
        ),
        "backoff.initial",
        RANGE,
    );
    // Other jitters follow the backoff's own growth from zero.
    for jitter in [Jitter::None, Jitter::Full, Jitter::Equal] {
        let config = RetryPolicy::builder().backoff(from_zero).jitter(jitter);
        config.build().unwrap();
    }
}

#[test]
fn attempt_timeout_must_be_above_zero_and_at_most_24h() {
    const RANGE: &str = "longer than zero and at most 24h";
    for timeout in [Duration::ZERO, OVER_A_DAY, Duration::MAX] {
        let result = RetryPolicy::builder().attempt_timeout(timeout).build();
        assert_rejected(result, "attempt_timeout", RANGE);
    }
    assert_rejected(
        policy_toml(r#"attempt_timeout = "0s""#),
        "attempt_timeout",
        RANGE,
    );
    assert_rejected(
        policy_toml(r#"attempt_timeout = "18446744073709551615s""#),
        "attempt_timeout",
        RANGE,
    );
    assert_rejected(
        policy_json(r#"{ "attempt_timeout": "25h" }"#),
        "attempt_timeout",
        RANGE,
    );
    for timeout in [Duration::from_nanos(1), DAY] {
        RetryPolicy::builder()
            .attempt_timeout(timeout)
            .build()
            .unwrap();
    }
}

#[test]
fn deadline_must_be_above_zero_and_at_most_24h() {
    const RANGE: &str = "longer than zero and at most 24h";
    for deadline in [Duration::ZERO, OVER_A_DAY, Duration::MAX] {
        let result = RetryPolicy::builder().deadline(deadline).build();
        assert_rejected(result, "deadline", RANGE);
    }
    assert_rejected(policy_toml(r#"deadline = "0ms""#), "deadline", RANGE);
    assert_rejected(policy_toml(r#"deadline = "1000years""#), "deadline", RANGE);
    assert_rejected(policy_json(r#"{ "deadline": "2days" }"#), "deadline", RANGE);
    for deadline in [Duration::from_nanos(1), DAY] {
        RetryPolicy::builder().deadline(deadline).build().unwrap();
    }
}

#[test]
fn attempt_timeout_must_not_exceed_the_deadline() {
    const RANGE: &str = "at most `deadline` (5s)";
    let result = RetryPolicy::builder()
        .attempt_timeout(secs(6))
        .deadline(secs(5))
        .build();
    assert_rejected(result, "attempt_timeout", RANGE);
    assert_rejected(
        policy_toml("attempt_timeout = \"5s 1ms\"\ndeadline = \"5s\""),
        "attempt_timeout",
        RANGE,
    );
    assert_rejected(
        policy_json(r#"{ "attempt_timeout": "1m", "deadline": "5s" }"#),
        "attempt_timeout",
        RANGE,
    );
    let equal = RetryPolicy::builder()
        .attempt_timeout(secs(5))
        .deadline(secs(5));
    equal.build().unwrap();
}

#[test]
fn deadline_must_leave_room_for_the_first_retry() {
    let second = Backoff::constant(secs(1));
    // The shortest first wait: the delay without jitter, half of it with equal jitter, the
    // backoff's initial wait with decorrelated jitter.
    for (jitter, backoff, shortest) in [
        (Jitter::None, second, secs(1)),
        (Jitter::Equal, second, ms(500)),
        (
            Jitter::Decorrelated,
            Backoff::exponential(ms(100), 2.0, secs(1)),
            ms(100),
        ),
    ] {
        let config = RetryPolicy::builder().backoff(backoff).jitter(jitter);
        let range = format!("longer than {shortest:?}, the shortest wait before the first retry");
        for deadline in [shortest, shortest / 2] {
            let result = config.clone().deadline(deadline).build();
            assert_rejected(result, "deadline", &range);
        }
        let err = config.clone().deadline(shortest).build().unwrap_err();
        assert!(err.problem().contains("`backoff` and `jitter`"), "{err}");
        config.clone().deadline(shortest + ms(1)).build().unwrap();
        // A single attempt never waits.
        config.max_attempts(1).deadline(shortest).build().unwrap();
    }
    // Full jitter may wait no time at all, so any deadline leaves room.
    let full = RetryPolicy::builder().backoff(second).jitter(Jitter::Full);
    full.deadline(ms(1)).build().unwrap();

    let range = "longer than 1s, the shortest wait before the first retry";
    assert_rejected(
        policy_toml(
            r#"
            jitter = "none"
            deadline = "1s"
            backoff = { kind = "constant", delay = "1s" }
            "#,
        ),
        "deadline",
        range,
    );
    assert_rejected(
        policy_json(
            r#"{ "jitter": "equal", "deadline": "900ms",
                 "backoff": { "kind": "linear", "initial": "2s", "step": "1s", "max": "5s" } }"#,
        ),
        "deadline",
        range,
    );
}

// Circuit breaker.

#[test]
fn consecutive_failures_must_be_at_least_1() {
    const RANGE: &str = "at least 1 (or unset to disable the rule)";
    let zero = breaker(|c| c.consecutive_failures = Some(0));
    assert_rejected(zero.validate(), "consecutive_failures", RANGE);
    assert_rejected(
        registry_toml("[breakers.payments]\nconsecutive_failures = 0"),
        "breakers.payments.consecutive_failures",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breaker": { "consecutive_failures": 0 } }"#),
        "breaker.consecutive_failures",
        RANGE,
    );
    breaker(|c| c.consecutive_failures = None)
        .validate()
        .unwrap();
    breaker(|c| c.consecutive_failures = Some(1))
        .validate()
        .unwrap();
    let disabled = registry_json(r#"{ "breaker": { "consecutive_failures": null } }"#).unwrap();
    assert_eq!(disabled.breaker("any").config().consecutive_failures, None);
}

#[test]
fn failure_rate_threshold_must_be_a_percentage_above_0_up_to_100() {
    const RANGE: &str = "percentage above 0 and at most 100";
    for rate in [0.0, -1.0, 100.1].into_iter().chain(NON_FINITE) {
        let config = breaker(|c| c.failure_rate_threshold = Some(rate));
        assert_rejected(config.validate(), "failure_rate_threshold", RANGE);
    }
    for rate in ["nan", "inf", "-inf", "0.0"] {
        let text = format!("[breakers.payments]\nfailure_rate_threshold = {rate}");
        assert_rejected(
            registry_toml(&text),
            "breakers.payments.failure_rate_threshold",
            RANGE,
        );
    }
    assert_rejected(
        registry_json(r#"{ "breaker": { "failure_rate_threshold": 150 } }"#),
        "breaker.failure_rate_threshold",
        RANGE,
    );
    for rate in [0.1, 100.0] {
        let config = breaker(|c| c.failure_rate_threshold = Some(rate));
        config.validate().unwrap();
    }
}

#[test]
fn slow_call_rate_threshold_must_be_a_percentage_above_0_up_to_100() {
    const RANGE: &str = "percentage above 0 and at most 100";
    for rate in [0.0, -5.0, 101.0].into_iter().chain(NON_FINITE) {
        let config = breaker(|c| c.slow_call_rate_threshold = Some(rate));
        assert_rejected(config.validate(), "slow_call_rate_threshold", RANGE);
    }
    for rate in ["nan", "inf", "-inf", "-1.0"] {
        let text = format!("[breaker]\nslow_call_rate_threshold = {rate}");
        assert_rejected(
            registry_toml(&text),
            "breaker.slow_call_rate_threshold",
            RANGE,
        );
    }
    assert_rejected(
        registry_json(r#"{ "breakers": { "search": { "slow_call_rate_threshold": 0 } } }"#),
        "breakers.search.slow_call_rate_threshold",
        RANGE,
    );
    for rate in [0.1, 100.0] {
        let config = breaker(|c| c.slow_call_rate_threshold = Some(rate));
        config.validate().unwrap();
    }
}

#[test]
fn slow_call_duration_must_be_above_zero_and_at_most_24h() {
    const RANGE: &str = "longer than zero and at most 24h";
    for duration in [Duration::ZERO, OVER_A_DAY, Duration::MAX] {
        let config = breaker(|c| c.slow_call_duration = duration);
        assert_rejected(config.validate(), "slow_call_duration", RANGE);
    }
    assert_rejected(
        registry_toml("[breaker]\nslow_call_duration = \"0s\""),
        "breaker.slow_call_duration",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breakers": { "payments": { "slow_call_duration": "25h" } } }"#),
        "breakers.payments.slow_call_duration",
        RANGE,
    );
    for duration in [Duration::from_nanos(1), DAY] {
        breaker(|c| c.slow_call_duration = duration)
            .validate()
            .unwrap();
    }
}

#[test]
fn count_window_size_must_be_1_to_10000() {
    const RANGE: &str = "between 1 and 10000";
    for size in [0, 10_001] {
        let config = breaker(|c| c.window = WindowConfig::Count { size });
        assert_rejected(config.validate(), "window.size", RANGE);
    }
    assert_rejected(
        registry_toml("[breakers.search]\nwindow = { kind = \"count\", size = 0 }"),
        "breakers.search.window.size",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breaker": { "window": { "kind": "count", "size": 10001 } } }"#),
        "breaker.window.size",
        RANGE,
    );
    for size in [1, 10_000] {
        let config = breaker(|c| c.window = WindowConfig::Count { size });
        config.validate().unwrap();
    }
}

#[test]
fn time_window_seconds_must_be_1_to_3600() {
    const RANGE: &str = "between 1 and 3600";
    for seconds in [0, 3_601] {
        let config = breaker(|c| c.window = WindowConfig::Time { seconds });
        assert_rejected(config.validate(), "window.seconds", RANGE);
    }
    assert_rejected(
        registry_toml("[breaker]\nwindow = { kind = \"time\", seconds = 3601 }"),
        "breaker.window.seconds",
        RANGE,
    );
    assert_rejected(
        registry_json(
            r#"{ "breakers": { "payments": { "window": { "kind": "time", "seconds": 0 } } } }"#,
        ),
        "breakers.payments.window.seconds",
        RANGE,
    );
    for seconds in [1, 3_600] {
        let config = breaker(|c| c.window = WindowConfig::Time { seconds });
        config.validate().unwrap();
    }
}

#[test]
fn minimum_calls_must_be_at_least_1() {
    const RANGE: &str = "at least 1";
    let config = breaker(|c| c.minimum_calls = 0);
    assert_rejected(config.validate(), "minimum_calls", RANGE);
    assert_rejected(
        registry_toml("[breaker]\nminimum_calls = 0"),
        "breaker.minimum_calls",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breakers": { "payments": { "minimum_calls": 0 } } }"#),
        "breakers.payments.minimum_calls",
        RANGE,
    );
    breaker(|c| c.minimum_calls = 1).validate().unwrap();
}

#[test]
fn minimum_calls_must_fit_a_count_window_when_a_rate_rule_is_on() {
    const RANGE: &str = "between 1 and `window.size` (10) while a rate rule is on";
    for rule in [
        BreakerConfig {
            failure_rate_threshold: Some(50.0),
            ..BreakerConfig::new()
        },
        BreakerConfig {
            slow_call_rate_threshold: Some(50.0),
            ..BreakerConfig::new()
        },
    ] {
        let config = BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 11,
            ..rule
        };
        assert_rejected(config.validate(), "minimum_calls", RANGE);
    }
    assert_rejected(
        registry_toml(
            "[breakers.payments]\nfailure_rate_threshold = 50.0\nminimum_calls = 20\n\
             window = { kind = \"count\", size = 10 }",
        ),
        "breakers.payments.minimum_calls",
        RANGE,
    );
    assert_rejected(
        registry_json(
            r#"{ "breaker": { "slow_call_rate_threshold": 20.0, "minimum_calls": 11,
                              "window": { "kind": "count", "size": 10 } } }"#,
        ),
        "breaker.minimum_calls",
        RANGE,
    );
    let fits = breaker(|c| {
        c.failure_rate_threshold = Some(50.0);
        c.window = WindowConfig::Count { size: 10 };
        c.minimum_calls = 10;
    });
    fits.validate().unwrap();
    // Without a rate rule the window is not used, so the combination is harmless.
    let unused = breaker(|c| {
        c.window = WindowConfig::Count { size: 10 };
        c.minimum_calls = 20;
    });
    unused.validate().unwrap();
}

#[test]
fn open_duration_must_be_above_zero_and_at_most_24h() {
    const RANGE: &str = "longer than zero and at most 24h";
    for duration in [Duration::ZERO, OVER_A_DAY, Duration::MAX] {
        let config = breaker(|c| {
            c.open_duration = duration;
            c.max_open_duration = duration;
        });
        assert_rejected(config.validate(), "open_duration", RANGE);
    }
    assert_rejected(
        registry_toml("[breakers.payments]\nopen_duration = \"0s\""),
        "breakers.payments.open_duration",
        RANGE,
    );
    assert_rejected(
        registry_json(
            r#"{ "breaker": { "open_duration": "2days", "max_open_duration": "2days" } }"#,
        ),
        "breaker.open_duration",
        RANGE,
    );
    for duration in [Duration::from_nanos(1), DAY] {
        let config = breaker(|c| {
            c.open_duration = duration;
            c.max_open_duration = duration;
        });
        config.validate().unwrap();
    }
}

#[test]
fn open_duration_multiplier_must_be_finite_and_at_least_1() {
    const RANGE: &str = "finite number of at least 1.0";
    for multiplier in [0.5, 0.0, -2.0].into_iter().chain(NON_FINITE) {
        let config = breaker(|c| c.open_duration_multiplier = multiplier);
        assert_rejected(config.validate(), "open_duration_multiplier", RANGE);
    }
    for multiplier in ["nan", "inf", "-inf", "0.9"] {
        let text = format!("[breaker]\nopen_duration_multiplier = {multiplier}");
        assert_rejected(
            registry_toml(&text),
            "breaker.open_duration_multiplier",
            RANGE,
        );
    }
    assert_rejected(
        registry_json(r#"{ "breakers": { "payments": { "open_duration_multiplier": 0.5 } } }"#),
        "breakers.payments.open_duration_multiplier",
        RANGE,
    );
    breaker(|c| c.open_duration_multiplier = 1.0)
        .validate()
        .unwrap();
}

#[test]
fn max_open_duration_must_be_between_open_duration_and_24h() {
    const RANGE: &str = "between `open_duration` (30s) and 24h";
    for max in [secs(29), OVER_A_DAY, Duration::MAX] {
        let config = breaker(|c| c.max_open_duration = max);
        assert_rejected(config.validate(), "max_open_duration", RANGE);
    }
    assert_rejected(
        registry_toml("[breaker]\nmax_open_duration = \"29s\""),
        "breaker.max_open_duration",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breakers": { "payments": { "max_open_duration": "25h" } } }"#),
        "breakers.payments.max_open_duration",
        RANGE,
    );
    for max in [secs(60), DAY] {
        let config = breaker(|c| {
            c.open_duration = secs(60);
            c.max_open_duration = max;
        });
        config.validate().unwrap();
    }
}

#[test]
fn half_open_probes_must_be_1_to_1000() {
    const RANGE: &str = "between 1 and 1000";
    for probes in [0, 1_001] {
        let config = breaker(|c| c.half_open_probes = probes);
        assert_rejected(config.validate(), "half_open_probes", RANGE);
    }
    assert_rejected(
        registry_toml("[breakers.payments]\nhalf_open_probes = 0"),
        "breakers.payments.half_open_probes",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "breaker": { "half_open_probes": 1001 } }"#),
        "breaker.half_open_probes",
        RANGE,
    );
    for probes in [1, 1_000] {
        breaker(|c| c.half_open_probes = probes).validate().unwrap();
    }
}

// Retry budget.

#[test]
fn retry_ratio_must_be_0_or_0_001_to_1() {
    const RANGE: &str = "0.0 or between 0.001 and 1.0";
    for ratio in [-0.1, 1.1, 0.0005, 1e-9].into_iter().chain(NON_FINITE) {
        let config = budget(|c| c.retry_ratio = ratio);
        assert_rejected(config.validate(), "retry_ratio", RANGE);
    }
    for ratio in ["nan", "inf", "-inf", "0.0001"] {
        let text = format!("[budgets.payments]\nretry_ratio = {ratio}");
        assert_rejected(registry_toml(&text), "budgets.payments.retry_ratio", RANGE);
    }
    assert_rejected(
        registry_json(r#"{ "budget": { "retry_ratio": 2.0 } }"#),
        "budget.retry_ratio",
        RANGE,
    );
    for ratio in [0.0, 0.001, 1.0] {
        budget(|c| c.retry_ratio = ratio).validate().unwrap();
    }
}

#[test]
fn min_retries_per_second_must_be_at_most_100000() {
    const RANGE: &str = "between 0 and 100000";
    let config = budget(|c| c.min_retries_per_second = 100_001);
    assert_rejected(config.validate(), "min_retries_per_second", RANGE);
    assert_rejected(
        registry_toml("[budget]\nmin_retries_per_second = 100001"),
        "budget.min_retries_per_second",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "budgets": { "payments": { "min_retries_per_second": 4294967295 } } }"#),
        "budgets.payments.min_retries_per_second",
        RANGE,
    );
    for floor in [0, 100_000] {
        let config = budget(|c| c.min_retries_per_second = floor);
        config.validate().unwrap();
    }
}

#[test]
fn budget_window_must_be_whole_seconds_from_1s_to_1h() {
    const RANGE: &str = "whole number of seconds between 1s and 1h";
    for window in [
        Duration::ZERO,
        ms(999),
        ms(1_500),
        secs(3_601),
        Duration::MAX,
    ] {
        let config = budget(|c| c.window = window);
        assert_rejected(config.validate(), "window", RANGE);
    }
    for window in ["2h", "1s 500ms", "0s"] {
        let text = format!("[budgets.payments]\nwindow = \"{window}\"");
        assert_rejected(registry_toml(&text), "budgets.payments.window", RANGE);
    }
    assert_rejected(
        registry_json(r#"{ "budget": { "window": "500ms" } }"#),
        "budget.window",
        RANGE,
    );
    for window in [secs(1), secs(90), secs(3_600)] {
        budget(|c| c.window = window).validate().unwrap();
    }
}

#[test]
fn an_enabled_budget_needs_a_ratio_or_a_floor() {
    const RANGE: &str = "between 0.001 and 1.0 when `min_retries_per_second` is 0";
    let config = budget(|c| {
        c.retry_ratio = 0.0;
        c.min_retries_per_second = 0;
    });
    assert_rejected(config.clone().validate(), "retry_ratio", RANGE);
    assert_rejected(
        registry_toml("[budget]\nretry_ratio = 0.0\nmin_retries_per_second = 0"),
        "budget.retry_ratio",
        RANGE,
    );
    assert_rejected(
        registry_json(
            r#"{ "budgets": { "payments": { "retry_ratio": 0, "min_retries_per_second": 0 } } }"#,
        ),
        "budgets.payments.retry_ratio",
        RANGE,
    );
    let disabled = BudgetConfig {
        enabled: false,
        ..config
    };
    disabled.validate().unwrap();
    budget(|c| c.min_retries_per_second = 0).validate().unwrap();
    budget(|c| c.retry_ratio = 0.0).validate().unwrap();
}

// Names.

#[test]
fn registry_names_must_be_1_to_64_plain_characters() {
    const RANGE: &str = "use 1 to 64 letters, digits, `_`, `-` or `.`";
    let long = "x".repeat(65);
    for name in ["", "bad name", "payments/v2", "zahlungen-ü", &long] {
        let breakers = RegistryConfig {
            breakers: [(name.to_owned(), BreakerConfig::new())].into(),
            ..RegistryConfig::default()
        };
        assert_rejected(breakers.validate(), "breakers.name", RANGE);
        let budgets = RegistryConfig {
            budgets: [(name.to_owned(), BudgetConfig::new())].into(),
            ..RegistryConfig::default()
        };
        assert_rejected(budgets.validate(), "budgets.name", RANGE);
    }
    assert_rejected(
        registry_toml("[breakers.\"bad name\"]"),
        "breakers.name",
        RANGE,
    );
    assert_rejected(
        registry_json(r#"{ "budgets": { "": {} } }"#),
        "budgets.name",
        RANGE,
    );
    let name = "payments.v2_eu-west-1";
    let longest = "x".repeat(64);
    let plain = format!(
        "[breakers.\"{name}\"]\n[breakers.{longest}]\n[budgets.\"{name}\"]\n[budgets.{longest}]"
    );
    let registry = registry_toml(&plain).unwrap();
    assert_eq!(registry.breaker(name).name(), name);
    assert_eq!(registry.breaker(&longest).name(), longest);
    assert_eq!(registry.budget(name).name(), name);
}

#[test]
fn client_names_must_be_1_to_64_plain_characters() {
    const RANGE: &str = "use 1 to 64 letters, digits, `_`, `-` or `.`";
    let registry = Registry::new();
    let builder = || Client::builder().registry(&registry);
    assert_rejected(builder().breaker("bad name").build(), "breaker.name", RANGE);
    assert_rejected(builder().budget("a/b").build(), "budget.name", RANGE);
    assert_rejected(builder().operation("").build(), "operation.name", RANGE);
    assert_rejected(
        builder().no_breaker().operation("x".repeat(65)).build(),
        "operation.name",
        RANGE,
    );
    builder()
        .breaker("payments.v2")
        .budget("payments")
        .operation("charge-card")
        .build()
        .unwrap();
}
