//! Configuration files: registries, breakers, budgets and retry policies loaded from TOML and
//! JSON, misspelled fields, values that do not parse, and errors named by their dotted paths.
//! The validation rules, one test each, are in `config_rules.rs`.

use std::collections::HashMap;
use std::time::Duration;

use resilient_http::{
    Backoff, BreakerConfig, BudgetConfig, ConfigError, Jitter, Registry, RegistryConfig,
    RetryConfig, RetryPolicy, StatusSet, WindowConfig,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The error of building a registry from `config`.
fn registry_error(config: RegistryConfig) -> ConfigError {
    Registry::builder()
        .config(config)
        .build()
        .expect_err("the configuration is invalid")
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

/// Every default, value by value, as the README's configuration reference and each type's
/// `# Default` section give it: a default changed in code must be changed there too.
#[test]
fn the_defaults_are_the_documented_ones() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.max_attempts(), 3);
    assert_eq!(
        policy.retry_on().iter().collect::<Vec<_>>(),
        [408, 429, 500, 502, 503, 504]
    );
    assert_eq!(
        *policy.backoff(),
        Backoff::exponential(Duration::from_millis(100), 2.0, secs(10))
    );
    assert_eq!(policy.jitter(), Jitter::Full);
    assert_eq!(policy.attempt_timeout(), None);
    assert_eq!(policy.deadline(), None);
    assert!(!policy.retry_non_idempotent());
    assert_eq!(policy.jitter_seed(), None);

    let breaker = BreakerConfig::new();
    assert_eq!(breaker.consecutive_failures, Some(5));
    assert_eq!(breaker.failure_rate_threshold, None);
    assert_eq!(breaker.slow_call_rate_threshold, None);
    assert_eq!(breaker.slow_call_duration, secs(5));
    assert_eq!(breaker.window, WindowConfig::Count { size: 100 });
    assert_eq!(breaker.minimum_calls, 20);
    assert_eq!(breaker.open_duration, secs(30));
    assert_eq!(breaker.open_duration_multiplier, 1.0);
    assert_eq!(breaker.max_open_duration, secs(300));
    assert_eq!(breaker.half_open_probes, 1);

    let budget = BudgetConfig::new();
    assert!(budget.enabled);
    assert_eq!(budget.retry_ratio, 0.2);
    assert_eq!(budget.min_retries_per_second, 10);
    assert_eq!(budget.window, secs(10));
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
fn a_file_with_several_errors_reports_the_same_first_one_every_time() {
    let text = "[breakers.b]\nhalf_open_probes = 0\n[breakers.a]\nminimum_calls = 0\n\
                [breakers.c]\nopen_duration = \"0s\"";
    for _ in 0..20 {
        // Each parse builds a new map with its own iteration order.
        let config: RegistryConfig = toml::from_str(text).unwrap();
        assert_eq!(registry_error(config).field(), "breakers.a.minimum_calls");
    }
}
