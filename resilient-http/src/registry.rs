//! Where named breakers and budgets live, so that every call naming `"payments"` shares one.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use serde::Deserialize;

use crate::metrics::{MetricsSink, NoopSink};
use crate::{Breaker, BreakerConfig, BudgetConfig, Clock, ConfigError, RetryBudget, TokioClock};

/// Named breakers and budgets, created on first use.
///
/// A breaker named in [`RegistryConfig::breakers`] gets that configuration; any other name gets
/// the registry's default. Budgets likewise. Use [`Registry::global`] for the process-wide
/// registry, or build isolated ones for tests and multi-tenant applications.
///
/// ```
/// use resilient_http::{BreakerState, Registry};
///
/// let registry = Registry::new();
/// let a = registry.breaker("payments");
/// let b = registry.breaker("payments");
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(a.state(), BreakerState::Closed);
/// ```
pub struct Registry {
    config: RegistryConfig,
    breakers: RwLock<HashMap<Box<str>, Arc<Breaker>>>,
    budgets: RwLock<HashMap<Box<str>, Arc<RetryBudget>>>,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn MetricsSink>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// A registry with default configuration, the tokio clock and no metrics sink.
    pub fn new() -> Self {
        Registry {
            config: RegistryConfig::default(),
            breakers: RwLock::default(),
            budgets: RwLock::default(),
            clock: Arc::new(TokioClock),
            sink: Arc::new(NoopSink),
        }
    }

    /// A builder for a registry with its own configuration, clock or sink.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            registry: Registry::new(),
        }
    }

    /// The process-wide registry, which `#[resilient]` methods and clients use unless told
    /// otherwise. Created with defaults on first use unless [`Registry::set_global`] ran first.
    pub fn global() -> &'static Registry {
        GLOBAL.get_or_init(Registry::new)
    }

    /// Installs `registry` as the process-wide one.
    ///
    /// # Errors
    /// Gives `registry` back if the global registry was already created (by an earlier call
    /// of this, or by first use): set it at the start of `main`.
    pub fn set_global(registry: Registry) -> Result<(), Box<Registry>> {
        GLOBAL.set(registry).map_err(Box::new)
    }

    /// The sink that this registry's breakers and calls report to.
    pub fn sink(&self) -> &Arc<dyn MetricsSink> {
        &self.sink
    }

    /// The breaker called `name`, created on first use.
    pub fn breaker(&self, name: &str) -> Arc<Breaker> {
        get_or_create(&self.breakers, name, || {
            let config = self
                .config
                .breakers
                .get(name)
                .unwrap_or(&self.config.breaker);
            // Configurations were validated when the registry was built.
            Breaker::with_parts(
                name.into(),
                config.clone(),
                self.clock.clone(),
                self.sink.clone(),
            )
            .expect("registry breaker configurations are validated when the registry is built")
        })
    }

    /// The retry budget called `name`, created on first use.
    pub fn budget(&self, name: &str) -> Arc<RetryBudget> {
        get_or_create(&self.budgets, name, || {
            let config = self.config.budgets.get(name).unwrap_or(&self.config.budget);
            RetryBudget::with_clock(name.into(), config.clone(), self.clock.clone())
                .expect("registry budget configurations are validated when the registry is built")
        })
    }
}

fn get_or_create<T>(
    map: &RwLock<HashMap<Box<str>, Arc<T>>>,
    name: &str,
    create: impl FnOnce() -> T,
) -> Arc<T> {
    if let Some(found) = map.read().unwrap_or_else(PoisonError::into_inner).get(name) {
        return found.clone();
    }
    let mut map = map.write().unwrap_or_else(PoisonError::into_inner);
    map.entry(name.into())
        .or_insert_with(|| Arc::new(create()))
        .clone()
}

/// Builds a [`Registry`].
#[derive(Debug)]
pub struct RegistryBuilder {
    registry: Registry,
}

impl RegistryBuilder {
    /// The configuration of named and default breakers and budgets.
    pub fn config(mut self, config: RegistryConfig) -> Self {
        self.registry.config = config;
        self
    }

    /// The clock of every breaker and budget.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.registry.clock = clock;
        self
    }

    /// Where breakers and calls report events.
    pub fn sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.registry.sink = sink;
        self
    }

    /// Validates the configuration and builds the registry.
    ///
    /// # Errors
    /// The first invalid field, named by its path (`breakers.payments.open_duration`).
    pub fn build(self) -> Result<Registry, ConfigError> {
        self.registry.config.validate()?;
        Ok(self.registry)
    }
}

/// The configuration of a [`Registry`], loadable from an application's TOML or JSON file.
/// Unknown fields are errors, so a misspelled setting is reported, not ignored.
///
/// ```
/// use resilient_http::{Registry, RegistryConfig};
///
/// let config: RegistryConfig = toml::from_str(r#"
///     [breaker]
///     open_duration = "10s"
///
///     [breakers.payments]
///     consecutive_failures = 3
///     half_open_probes = 2
///
///     [budgets.payments]
///     retry_ratio = 0.1
/// "#).unwrap();
/// let registry = Registry::builder().config(config).build()?;
/// assert_eq!(registry.breaker("payments").config().half_open_probes, 2);
///
/// let typo = toml::from_str::<RegistryConfig>("[breakers.payments]\nconsecutive_failure = 3");
/// assert!(typo.unwrap_err().to_string().contains("unknown field `consecutive_failure`"));
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
///
/// # Default
/// Every breaker and budget takes [`BreakerConfig`]'s and [`BudgetConfig`]'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// The configuration of breakers not named in `breakers`.
    pub breaker: BreakerConfig,
    /// The configuration of budgets not named in `budgets`.
    pub budget: BudgetConfig,
    /// Configurations of breakers by name.
    pub breakers: HashMap<String, BreakerConfig>,
    /// Configurations of budgets by name.
    pub budgets: HashMap<String, BudgetConfig>,
}

impl RegistryConfig {
    /// Checks every configuration in it, named ones in the order of their names, so that the
    /// same file always reports the same first error.
    ///
    /// # Errors
    /// The first invalid field, named by its path (`breakers.payments.open_duration`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.breaker.validate().map_err(|e| e.within("breaker"))?;
        self.budget.validate().map_err(|e| e.within("budget"))?;
        for (name, config) in sorted(&self.breakers) {
            check_name(name).map_err(|e| e.within("breakers"))?;
            config
                .validate()
                .map_err(|e| e.within(&format!("breakers.{name}")))?;
        }
        for (name, config) in sorted(&self.budgets) {
            check_name(name).map_err(|e| e.within("budgets"))?;
            config
                .validate()
                .map_err(|e| e.within(&format!("budgets.{name}")))?;
        }
        Ok(())
    }
}

fn sorted<T>(map: &HashMap<String, T>) -> Vec<(&String, &T)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by_key(|(name, _)| *name);
    entries
}

/// Names become metric labels and log fields: keep them short and plain.
pub(crate) fn check_name(name: &str) -> Result<(), ConfigError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
        return Err(ConfigError::new(
            "name",
            format!("{name:?} is not a valid name; use 1 to 64 letters, digits, `_`, `-` or `.`"),
        ));
    }
    Ok(())
}
