//! What must hold for any configuration file given to `RegistryConfig`'s loaders.
//!
//! Shared by the `registry_config` fuzz target and `tests/fuzz_corpus.rs`, which replays the
//! checked-in corpus through [`check`] as an ordinary test.
//!
//! - Loading any bytes as TOML or JSON never panics; neither do `validate` and `build`.
//! - `build` fails exactly when `validate` does, with the same error.
//! - The error names a field by its path (`breakers.payments.open_duration`), the path leads to a
//!   configuration that really is invalid, and the message quotes it in backticks.
//! - A registry built from it gives each named breaker and budget its configuration and any other
//!   name the default, and their arithmetic holds on a few steps: a breaker trips after its
//!   consecutive failures, rejects for no longer than `max_open_duration`, admits its probes
//!   once the wait is over and closes when they succeed; a budget's balance never goes negative
//!   nor above its cap by a whole token, and withdrawals take exactly the whole tokens there are.

use std::sync::Arc;
use std::time::Duration;

use resilient_http::{
    BreakerConfig, BreakerState, BudgetConfig, ConfigError, ManualClock, Registry, RegistryConfig,
};

/// The leaf fields of a breaker's or a budget's configuration that an error may name.
const FIELDS: &[&str] = &[
    "consecutive_failures",
    "failure_rate_threshold",
    "slow_call_rate_threshold",
    "slow_call_duration",
    "window.size",
    "window.seconds",
    "minimum_calls",
    "open_duration",
    "open_duration_multiplier",
    "max_open_duration",
    "half_open_probes",
    "retry_ratio",
    "min_retries_per_second",
    "window",
];

/// A wait the checks are willing to move the clock by, so the clock stays far from the 584 years
/// its nanosecond offset can count.
const LONGEST_WAIT: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Checks every property above for `data`, read as TOML and as JSON.
pub(crate) fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = toml::from_str::<RegistryConfig>(text) {
        check_config(&config);
    }
    if let Ok(config) = serde_json::from_str::<RegistryConfig>(text) {
        check_config(&config);
    }
}

fn check_config(config: &RegistryConfig) {
    let validated = config.validate();
    let clock = ManualClock::new();
    let built = Registry::builder()
        .config(config.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    match (validated, built) {
        (Ok(()), Ok(registry)) => check_registry(config, &registry, &clock),
        (Err(validated), Err(built)) => {
            assert_eq!(validated, built, "`validate` and `build` disagree");
            check_error(config, &validated);
        }
        (validated, built) => panic!(
            "`validate` gave {validated:?} but `build` gave {:?}",
            built.map(drop)
        ),
    }
}

/// The error names a field by its path, and that path leads to an invalid configuration.
fn check_error(config: &RegistryConfig, error: &ConfigError) {
    let field = error.field();
    assert!(
        error.to_string().contains(&format!("`{field}`")),
        "{error} does not quote `{field}`"
    );
    assert!(!error.problem().is_empty(), "{error:?} says nothing");
    let (within, leaf) = if let Some(leaf) = field.strip_prefix("breaker.") {
        (config.breaker.validate(), leaf)
    } else if let Some(leaf) = field.strip_prefix("budget.") {
        (config.budget.validate(), leaf)
    } else if field == "breakers.name" {
        assert!(config.breakers.keys().any(|name| !plain(name)), "{error}");
        return;
    } else if field == "budgets.name" {
        assert!(config.budgets.keys().any(|name| !plain(name)), "{error}");
        return;
    } else if let Some(path) = field.strip_prefix("breakers.") {
        let (name, leaf) = named(path, config.breakers.keys());
        (config.breakers[name].validate(), leaf)
    } else if let Some(path) = field.strip_prefix("budgets.") {
        let (name, leaf) = named(path, config.budgets.keys());
        (config.budgets[name].validate(), leaf)
    } else {
        panic!("{error}: `{field}` is not a path of the configuration");
    };
    assert!(FIELDS.contains(&leaf), "{error}: `{leaf}` is not a field");
    let within = within.expect_err("the field named is valid");
    assert_eq!(within.field(), leaf, "{error}");
}

/// Splits `path` (`payments.open_duration`) into a configured name and a field.
fn named<'a>(path: &'a str, mut names: impl Iterator<Item = &'a String>) -> (&'a str, &'a str) {
    names
        .find_map(|name| {
            let leaf = path.strip_prefix(name.as_str())?.strip_prefix('.')?;
            FIELDS.contains(&leaf).then_some((name.as_str(), leaf))
        })
        .unwrap_or_else(|| panic!("`{path}` names no configured breaker or budget"))
}

/// A name the registry accepts, read from its documented rule rather than its code.
fn plain(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn check_registry(config: &RegistryConfig, registry: &Registry, clock: &ManualClock) {
    let unnamed = "fuzz.unnamed";
    let breakers = config
        .breakers
        .keys()
        .filter(|&name| name != unnamed)
        .take(3);
    for name in breakers.map(String::as_str).chain([unnamed]) {
        let expected = config.breakers.get(name).unwrap_or(&config.breaker);
        check_breaker(registry, name, expected, clock);
    }
    let budgets = config
        .budgets
        .keys()
        .filter(|&name| name != unnamed)
        .take(3);
    for name in budgets.map(String::as_str).chain([unnamed]) {
        let expected = config.budgets.get(name).unwrap_or(&config.budget);
        check_budget(registry, name, expected, clock);
    }
}

fn check_breaker(registry: &Registry, name: &str, config: &BreakerConfig, clock: &ManualClock) {
    let breaker = registry.breaker(name);
    assert_eq!(breaker.config(), config, "breaker `{name}`");
    assert!(Arc::ptr_eq(&breaker, &registry.breaker(name)));

    // Fail until the breaker trips, or for 64 calls.
    let latency = Some(config.slow_call_duration);
    let mut tripped = false;
    for _ in 0..64 {
        match breaker.try_acquire() {
            Ok(permit) => permit.record(true, latency),
            Err(rejected) => {
                assert!(
                    rejected.retry_in <= config.max_open_duration,
                    "{rejected:?}"
                );
                tripped = true;
                break;
            }
        }
    }
    if let Some(threshold) = config.consecutive_failures
        && threshold < 64
    {
        assert!(tripped, "`{name}` did not trip after {threshold} failures");
    }
    if !tripped {
        breaker.force_open();
    }
    let state = breaker.state();
    assert!(matches!(
        state,
        BreakerState::Open | BreakerState::ForcedOpen
    ));
    let rejected = breaker.try_acquire().expect_err("an open breaker rejects");
    assert!(
        rejected.retry_in <= config.max_open_duration,
        "{rejected:?}"
    );
    if state == BreakerState::Open && rejected.retry_in <= LONGEST_WAIT {
        assert!(!rejected.retry_in.is_zero(), "open, with no time left");
        clock.advance(rejected.retry_in);
        for _ in 0..config.half_open_probes {
            let probe = breaker
                .try_acquire()
                .expect("a probe once the wait is over");
            assert!(probe.is_probe());
            probe.record(false, None);
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "its probes succeeded"
        );
    }
    breaker.reset();
    assert_eq!(breaker.state(), BreakerState::Closed);
    let permit = breaker.try_acquire().expect("a reset breaker admits");
    assert!(!permit.is_probe());
    permit.record(false, latency);
}

fn check_budget(registry: &Registry, name: &str, config: &BudgetConfig, clock: &ManualClock) {
    let budget = registry.budget(name);
    assert_eq!(budget.config(), config, "budget `{name}`");
    assert!(Arc::ptr_eq(&budget, &registry.budget(name)));
    let milli = || (budget.balance() * 1_000.0).round() as i64;
    // The documented cap, `min_retries_per_second * window` whole seconds (at least one token).
    let floor = i64::from(config.min_retries_per_second) * 1_000;
    let window = i64::try_from(config.window.as_secs()).expect("at most an hour");
    let cap = (floor * window).max(1_000);
    // A deposit below the cap may cross it by less than a deposit (at most one token).
    let within_bounds = |milli: i64| (0..cap + 1_000).contains(&milli);

    if !config.enabled {
        let before = milli();
        budget.deposit();
        assert!(
            (0..100).all(|_| budget.try_withdraw()),
            "disabled yet refused"
        );
        assert_eq!(milli(), before, "a disabled budget's balance moved");
        return;
    }
    assert_eq!(
        milli(),
        floor.min(cap),
        "a budget starts with a second of floor"
    );
    for _ in 0..8 {
        budget.deposit();
        assert!(within_bounds(milli()), "balance {} of cap {cap}", milli());
    }
    // No time passes: exactly the whole tokens there are can be withdrawn (up to 100 of them).
    let whole = milli() / 1_000;
    let taken = (0..100).filter(|_| budget.try_withdraw()).count() as i64;
    assert_eq!(taken, whole.min(100), "balance before: {whole} tokens");
    assert!(within_bounds(milli()));
    // A window later the floor has refilled up to the cap, never beyond it.
    clock.advance(config.window);
    budget.try_withdraw();
    assert!(within_bounds(milli()), "balance {} of cap {cap}", milli());
    if floor > 0 {
        assert!(milli() < cap, "a withdrawal after a refill to the cap");
    }
}
