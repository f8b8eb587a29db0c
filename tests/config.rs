//! Configuration: registries, breakers, budgets and retry policies loaded from TOML and JSON,
//! and every validation rule, each reported with the field at fault.

use std::collections::HashMap;
use std::time::Duration;

use resilient_http::{
    Backoff, BreakerConfig, BudgetConfig, ConfigError, Jitter, Registry, RegistryConfig,
    RetryConfig, RetryPolicy, StatusSet, WindowConfig,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The field named by `validate` for an invalid breaker configuration.
fn breaker_error(config: BreakerConfig) -> String {
    config
        .validate()
        .expect_err("the configuration is invalid")
        .field()
        .to_owned()
}

/// The field named by `validate` for an invalid budget configuration.
fn budget_error(config: BudgetConfig) -> String {
    config
        .validate()
        .expect_err("the configuration is invalid")
        .field()
        .to_owned()
}

/// The field named when building an invalid retry policy.
fn policy_error(config: RetryConfig) -> String {
    config
        .build()
        .expect_err("the configuration is invalid")
        .field()
        .to_owned()
}

/// The error of building a registry from `config`.
fn registry_error(config: RegistryConfig) -> ConfigError {
    Registry::builder()
        .config(config)
        .build()
        .expect_err("the configuration is invalid")
}

/// A registry configuration with one named breaker.
fn with_breaker(name: &str, config: BreakerConfig) -> RegistryConfig {
    RegistryConfig {
        breakers: HashMap::from([(name.to_owned(), config)]),
        ..RegistryConfig::default()
    }
}

/// A registry configuration with one named budget.
fn with_budget(name: &str, config: BudgetConfig) -> RegistryConfig {
    RegistryConfig {
        budgets: HashMap::from([(name.to_owned(), config)]),
        ..RegistryConfig::default()
    }
}

const TOML: &str = r#"
[breaker]
open_duration = "10s"

[breakers.payments]
consecutive_failures = 3
half_open_probes = 2
failure_rate_threshold = 50.0
window = { kind = "time", seconds = 30 }
open_duration = "15s"
open_duration_multiplier = 2.0
max_open_duration = "2m"

[budgets.payments]
retry_ratio = 0.1
min_retries_per_second = 5
window = "30s"
"#;

const JSON: &str = r#"{
    "breaker": { "open_duration": "10s" },
    "breakers": {
        "payments": {
            "consecutive_failures": 3,
            "half_open_probes": 2,
            "failure_rate_threshold": 50.0,
            "window": { "kind": "time", "seconds": 30 },
            "open_duration": "15s",
            "open_duration_multiplier": 2.0,
            "max_open_duration": "2m"
        }
    },
    "budgets": {
        "payments": { "retry_ratio": 0.1, "min_retries_per_second": 5, "window": "30s" }
    }
}"#;

/// Checks that a registry built from the `TOML`/`JSON` example applies it.
fn check_example_applies(config: RegistryConfig) {
    let registry = Registry::builder().config(config).build().unwrap();

    let payments = BreakerConfig {
        consecutive_failures: Some(3),
        half_open_probes: 2,
        failure_rate_threshold: Some(50.0),
        window: WindowConfig::Time { seconds: 30 },
        open_duration: secs(15),
        open_duration_multiplier: 2.0,
        max_open_duration: secs(120),
        ..BreakerConfig::new()
    };
    assert_eq!(registry.breaker("payments").config(), &payments);
    let other = BreakerConfig {
        open_duration: secs(10),
        ..BreakerConfig::new()
    };
    assert_eq!(registry.breaker("search").config(), &other);

    let payments = BudgetConfig {
        retry_ratio: 0.1,
        min_retries_per_second: 5,
        window: secs(30),
        ..BudgetConfig::new()
    };
    assert_eq!(registry.budget("payments").config(), &payments);
    assert_eq!(registry.budget("search").config(), &BudgetConfig::new());
}

#[test]
fn registry_config_from_toml_applies_named_breakers_and_budgets() {
    check_example_applies(toml::from_str(TOML).unwrap());
}

#[test]
fn registry_config_from_json_applies_named_breakers_and_budgets() {
    check_example_applies(serde_json::from_str(JSON).unwrap());
}

#[test]
fn toml_and_json_give_the_same_configuration() {
    let from_toml: RegistryConfig = toml::from_str(TOML).unwrap();
    let from_json: RegistryConfig = serde_json::from_str(JSON).unwrap();
    assert_eq!(from_toml, from_json);
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config: RegistryConfig = toml::from_str("").unwrap();
    assert_eq!(config, RegistryConfig::default());
    assert_eq!(config.breaker, BreakerConfig::new());
    assert_eq!(config.budget, BudgetConfig::new());

    let policy = toml::from_str::<RetryConfig>("").unwrap().build().unwrap();
    assert_eq!(policy, RetryPolicy::default());
}

#[test]
fn retry_config_from_toml() {
    let policy = toml::from_str::<RetryConfig>(
        r#"
        max_attempts = 5
        retry_on = [429, "500..=503"]
        jitter = "equal"
        attempt_timeout = "2s"
        deadline = "10s"
        retry_non_idempotent = true
        jitter_seed = 7
        backoff = { kind = "linear", initial = "100ms", step = "50ms", max = "1s" }
        "#,
    )
    .unwrap()
    .build()
    .unwrap();

    assert_eq!(policy.max_attempts(), 5);
    assert_eq!(
        policy.retry_on().iter().collect::<Vec<_>>(),
        [429, 500, 501, 502, 503]
    );
    assert_eq!(policy.jitter(), Jitter::Equal);
    assert_eq!(policy.attempt_timeout(), Some(secs(2)));
    assert_eq!(policy.deadline(), Some(secs(10)));
    assert!(policy.retry_non_idempotent());
    assert_eq!(policy.jitter_seed(), Some(7));
    assert_eq!(
        *policy.backoff(),
        Backoff::linear(
            Duration::from_millis(100),
            Duration::from_millis(50),
            secs(1)
        )
    );
}

#[test]
fn retry_config_from_json() {
    let policy = serde_json::from_str::<RetryConfig>(
        r#"{ "max_attempts": 2, "retry_on": [503], "backoff": { "kind": "none" } }"#,
    )
    .unwrap()
    .build()
    .unwrap();

    assert_eq!(policy.max_attempts(), 2);
    assert_eq!(policy.retry_on(), &StatusSet::EMPTY.with(503));
    assert_eq!(*policy.backoff(), Backoff::None);
}

#[test]
fn a_misspelled_field_is_named_in_toml() {
    for (text, field) in [
        (
            "[breakers.payments]\nconsecutive_failure = 3",
            "consecutive_failure",
        ),
        ("[breaker]\nopen_durations = \"1s\"", "open_durations"),
        ("[budgets.payments]\nretry_ration = 0.1", "retry_ration"),
        ("[breakerz.payments]\nhalf_open_probes = 2", "breakerz"),
        (
            "[breaker]\nwindow = { kind = \"count\", sise = 10 }",
            "sise",
        ),
    ] {
        let err = toml::from_str::<RegistryConfig>(text).unwrap_err();
        let expected = format!("unknown field `{field}`");
        assert!(err.to_string().contains(&expected), "{text:?}: {err}");
    }
}

#[test]
fn a_misspelled_field_is_named_in_json() {
    let err = serde_json::from_str::<RegistryConfig>(
        r#"{ "breakers": { "payments": { "half_open_probe": 2 } } }"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown field `half_open_probe`"),
        "{err}"
    );
}

#[test]
fn a_misspelled_retry_field_is_named() {
    for (text, field) in [
        ("max_attempt = 3", "max_attempt"),
        ("backoff = { kind = \"constant\", dleay = \"1s\" }", "dleay"),
    ] {
        let err = toml::from_str::<RetryConfig>(text).unwrap_err();
        let expected = format!("unknown field `{field}`");
        assert!(err.to_string().contains(&expected), "{text:?}: {err}");
    }
}

#[test]
fn an_invalid_named_breaker_is_reported_by_its_dotted_path() {
    let config: RegistryConfig =
        toml::from_str("[breakers.payments]\nhalf_open_probes = 0").unwrap();
    let err = registry_error(config);
    assert_eq!(err.field(), "breakers.payments.half_open_probes");
    assert!(
        err.to_string()
            .starts_with("invalid `breakers.payments.half_open_probes`: "),
        "{err}"
    );
}

#[test]
fn nested_invalid_values_are_reported_by_their_dotted_paths() {
    for (text, field) in [
        (
            "[breakers.payments]\nopen_duration = \"0s\"",
            "breakers.payments.open_duration",
        ),
        (
            "[breakers.search]\nwindow = { kind = \"count\", size = 0 }",
            "breakers.search.window.size",
        ),
        ("[breaker]\nminimum_calls = 0", "breaker.minimum_calls"),
        ("[budget]\nretry_ratio = 2.0", "budget.retry_ratio"),
        (
            "[budgets.payments]\nwindow = \"2h\"",
            "budgets.payments.window",
        ),
    ] {
        let config: RegistryConfig = toml::from_str(text).unwrap();
        assert_eq!(registry_error(config).field(), field, "{text:?}");
    }
}

#[test]
fn an_invalid_registry_config_fails_validate_too() {
    let config = with_budget(
        "payments",
        BudgetConfig {
            retry_ratio: -1.0,
            ..BudgetConfig::new()
        },
    );
    assert_eq!(
        config.validate().unwrap_err().field(),
        "budgets.payments.retry_ratio"
    );
}

// Retry policy rules.

#[test]
fn zero_max_attempts_is_rejected() {
    assert_eq!(
        policy_error(RetryPolicy::builder().max_attempts(0)),
        "max_attempts"
    );
}

#[test]
fn more_than_100_max_attempts_is_rejected() {
    assert_eq!(
        policy_error(RetryPolicy::builder().max_attempts(101)),
        "max_attempts"
    );
    assert!(RetryPolicy::builder().max_attempts(100).build().is_ok());
    assert!(RetryPolicy::builder().max_attempts(1).build().is_ok());
}

#[test]
fn zero_attempt_timeout_is_rejected() {
    assert_eq!(
        policy_error(RetryPolicy::builder().attempt_timeout(Duration::ZERO)),
        "attempt_timeout"
    );
}

#[test]
fn zero_deadline_is_rejected() {
    assert_eq!(
        policy_error(RetryPolicy::builder().deadline(Duration::ZERO)),
        "deadline"
    );
}

#[test]
fn attempt_timeout_longer_than_the_deadline_is_rejected() {
    let config = RetryPolicy::builder()
        .attempt_timeout(secs(6))
        .deadline(secs(5));
    assert_eq!(policy_error(config), "attempt_timeout");

    let equal = RetryPolicy::builder()
        .attempt_timeout(secs(5))
        .deadline(secs(5));
    assert!(equal.build().is_ok());
}

#[test]
fn zero_max_attempts_in_a_file_is_rejected() {
    let config: RetryConfig = toml::from_str("max_attempts = 0").unwrap();
    assert_eq!(policy_error(config), "max_attempts");
}

// Breaker rules.

#[test]
fn zero_consecutive_failures_is_rejected() {
    let config = BreakerConfig {
        consecutive_failures: Some(0),
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "consecutive_failures");

    let disabled = BreakerConfig {
        consecutive_failures: None,
        ..BreakerConfig::new()
    };
    assert_eq!(disabled.validate(), Ok(()));
}

#[test]
fn zero_half_open_probes_is_rejected() {
    let config = BreakerConfig {
        half_open_probes: 0,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "half_open_probes");
}

#[test]
fn more_than_1000_half_open_probes_is_rejected() {
    let config = BreakerConfig {
        half_open_probes: 1_001,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "half_open_probes");
    let most = BreakerConfig {
        half_open_probes: 1_000,
        ..BreakerConfig::new()
    };
    assert_eq!(most.validate(), Ok(()));
}

#[test]
fn zero_open_duration_is_rejected() {
    let config = BreakerConfig {
        open_duration: Duration::ZERO,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "open_duration");
}

#[test]
fn zero_slow_call_duration_is_rejected() {
    let config = BreakerConfig {
        slow_call_duration: Duration::ZERO,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "slow_call_duration");
}

#[test]
fn failure_rate_outside_0_to_100_is_rejected() {
    for rate in [0.0, -1.0, 100.1, f64::NAN, f64::INFINITY] {
        let config = BreakerConfig {
            failure_rate_threshold: Some(rate),
            ..BreakerConfig::new()
        };
        assert_eq!(breaker_error(config), "failure_rate_threshold", "{rate}");
    }
    for rate in [0.1, 100.0] {
        let config = BreakerConfig {
            failure_rate_threshold: Some(rate),
            ..BreakerConfig::new()
        };
        assert_eq!(config.validate(), Ok(()), "{rate}");
    }
}

#[test]
fn slow_call_rate_outside_0_to_100_is_rejected() {
    for rate in [0.0, -5.0, 101.0, f64::NAN] {
        let config = BreakerConfig {
            slow_call_rate_threshold: Some(rate),
            ..BreakerConfig::new()
        };
        assert_eq!(breaker_error(config), "slow_call_rate_threshold", "{rate}");
    }
    let full = BreakerConfig {
        slow_call_rate_threshold: Some(100.0),
        ..BreakerConfig::new()
    };
    assert_eq!(full.validate(), Ok(()));
}

#[test]
fn count_window_size_outside_1_to_10000_is_rejected() {
    for size in [0, 10_001] {
        let config = BreakerConfig {
            window: WindowConfig::Count { size },
            ..BreakerConfig::new()
        };
        assert_eq!(breaker_error(config), "window.size", "{size}");
    }
    for size in [1, 10_000] {
        let config = BreakerConfig {
            window: WindowConfig::Count { size },
            ..BreakerConfig::new()
        };
        assert_eq!(config.validate(), Ok(()), "{size}");
    }
}

#[test]
fn time_window_seconds_outside_1_to_3600_is_rejected() {
    for seconds in [0, 3_601] {
        let config = BreakerConfig {
            window: WindowConfig::Time { seconds },
            ..BreakerConfig::new()
        };
        assert_eq!(breaker_error(config), "window.seconds", "{seconds}");
    }
    for seconds in [1, 3_600] {
        let config = BreakerConfig {
            window: WindowConfig::Time { seconds },
            ..BreakerConfig::new()
        };
        assert_eq!(config.validate(), Ok(()), "{seconds}");
    }
}

#[test]
fn zero_minimum_calls_is_rejected() {
    let config = BreakerConfig {
        minimum_calls: 0,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "minimum_calls");
}

#[test]
fn open_duration_multiplier_below_one_is_rejected() {
    for multiplier in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
        let config = BreakerConfig {
            open_duration_multiplier: multiplier,
            ..BreakerConfig::new()
        };
        assert_eq!(
            breaker_error(config),
            "open_duration_multiplier",
            "{multiplier}"
        );
    }
}

#[test]
fn max_open_duration_below_open_duration_is_rejected() {
    let config = BreakerConfig {
        open_duration: secs(60),
        max_open_duration: secs(59),
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "max_open_duration");

    let equal = BreakerConfig {
        open_duration: secs(60),
        max_open_duration: secs(60),
        ..BreakerConfig::new()
    };
    assert_eq!(equal.validate(), Ok(()));
}

// Budget rules.

#[test]
fn budget_ratio_outside_0_to_1_is_rejected() {
    for ratio in [-0.1, 1.1, f64::NAN] {
        let config = BudgetConfig {
            retry_ratio: ratio,
            ..BudgetConfig::new()
        };
        assert_eq!(budget_error(config), "retry_ratio", "{ratio}");
    }
    for ratio in [0.0, 1.0] {
        let config = BudgetConfig {
            retry_ratio: ratio,
            ..BudgetConfig::new()
        };
        assert_eq!(config.validate(), Ok(()), "{ratio}");
    }
}

#[test]
fn budget_with_no_ratio_and_no_floor_is_rejected() {
    let config = BudgetConfig {
        retry_ratio: 0.0,
        min_retries_per_second: 0,
        ..BudgetConfig::new()
    };
    assert_eq!(budget_error(config.clone()), "retry_ratio");

    let disabled = BudgetConfig {
        enabled: false,
        ..config
    };
    assert_eq!(disabled.validate(), Ok(()));
}

#[test]
fn budget_floor_above_100000_is_rejected() {
    let config = BudgetConfig {
        min_retries_per_second: 100_001,
        ..BudgetConfig::new()
    };
    assert_eq!(budget_error(config), "min_retries_per_second");
}

#[test]
fn budget_window_outside_1s_to_1h_is_rejected() {
    for window in [Duration::ZERO, Duration::from_millis(999), secs(3_601)] {
        let config = BudgetConfig {
            window,
            ..BudgetConfig::new()
        };
        assert_eq!(budget_error(config), "window", "{window:?}");
    }
}

// Values that do not parse.

#[test]
fn a_duration_without_a_unit_is_rejected() {
    let err = toml::from_str::<RegistryConfig>("[breaker]\nopen_duration = \"10\"").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("invalid duration \"10\""), "{message}");
}

#[test]
fn a_duration_that_is_not_one_is_rejected() {
    let err = toml::from_str::<RegistryConfig>("[budget]\nwindow = \"abc\"").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("invalid duration \"abc\""), "{message}");

    let err = toml::from_str::<RetryConfig>("attempt_timeout = \"abc\"").unwrap_err();
    assert!(
        err.to_string().contains("invalid duration \"abc\""),
        "{err}"
    );
}

#[test]
fn a_duration_given_as_a_number_is_rejected() {
    assert!(toml::from_str::<RegistryConfig>("[breaker]\nopen_duration = 10").is_err());
}

#[test]
fn retry_on_with_a_success_status_is_rejected() {
    let err = toml::from_str::<RetryConfig>("retry_on = [200]").unwrap_err();
    assert!(
        err.to_string().contains("status 200 cannot be retried"),
        "{err}"
    );
}

#[test]
fn retry_on_with_a_status_above_599_is_rejected() {
    let err = toml::from_str::<RetryConfig>("retry_on = [503, 600]").unwrap_err();
    assert!(
        err.to_string().contains("status 600 cannot be retried"),
        "{err}"
    );
    let err = toml::from_str::<RetryConfig>("retry_on = [\"500..=600\"]").unwrap_err();
    assert!(
        err.to_string().contains("status 600 cannot be retried"),
        "{err}"
    );
}

#[test]
fn retry_on_with_a_malformed_range_is_rejected() {
    for range in ["500-599", "500..599", "abc", "..=599", "500..="] {
        let text = format!("retry_on = [\"{range}\"]");
        let err = toml::from_str::<RetryConfig>(&text).unwrap_err();
        assert!(
            err.to_string().contains("invalid status range"),
            "{range:?}: {err}"
        );
    }
}

#[test]
fn retry_on_with_a_reversed_range_is_rejected() {
    let err = toml::from_str::<RetryConfig>("retry_on = [\"599..=500\"]").unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
}

// Names.

#[test]
fn invalid_breaker_names_are_rejected() {
    for name in [
        "",
        "bad name",
        "payments/v2",
        "zahlungen-ü",
        &"x".repeat(65),
    ] {
        let err = registry_error(with_breaker(name, BreakerConfig::new()));
        assert_eq!(err.field(), "breakers.name", "{name:?}");
    }
}

#[test]
fn invalid_budget_names_are_rejected() {
    let err = registry_error(with_budget("bad name", BudgetConfig::new()));
    assert_eq!(err.field(), "budgets.name");
}

#[test]
fn plain_names_are_accepted() {
    let name = "payments.v2_eu-west-1";
    let long = "x".repeat(64);
    let mut config = with_breaker(name, BreakerConfig::new());
    config.breakers.insert(long.clone(), BreakerConfig::new());
    config.budgets.insert(name.to_owned(), BudgetConfig::new());

    let registry = Registry::builder().config(config).build().unwrap();
    assert_eq!(registry.breaker(name).name(), name);
    assert_eq!(registry.breaker(&long).name(), long);
    assert_eq!(registry.budget(name).name(), name);
}

#[test]
fn an_invalid_name_in_a_file_is_rejected() {
    let config: RegistryConfig = toml::from_str("[breakers.\"bad name\"]").unwrap();
    assert_eq!(registry_error(config).field(), "breakers.name");
}

#[test]
fn a_count_window_smaller_than_minimum_calls_is_rejected_when_a_rate_rule_is_on() {
    let config = BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: WindowConfig::Count { size: 10 },
        minimum_calls: 20,
        ..BreakerConfig::new()
    };
    assert_eq!(breaker_error(config), "minimum_calls");
    // Without a rate rule the window is not used, so the combination is harmless.
    let unused = BreakerConfig {
        window: WindowConfig::Count { size: 10 },
        minimum_calls: 20,
        ..BreakerConfig::new()
    };
    unused.validate().unwrap();
}
