//! Budgets on a test's clock, for the budget tests (`budget.rs`, `extremes.rs`).

use std::sync::Arc;

use resilient_http::{BudgetConfig, ManualClock, Registry, RegistryConfig, RetryBudget};

/// The budget `payments` of a registry on `clock` whose budgets have `config`.
pub(crate) fn budget_on(config: BudgetConfig, clock: &ManualClock) -> Arc<RetryBudget> {
    Registry::builder()
        .config(RegistryConfig {
            budget: config,
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("a valid budget configuration")
        .budget("payments")
}

/// The balance in thousandths of a token, the budget's unit.
pub(crate) fn milli(budget: &RetryBudget) -> i64 {
    (budget.balance() * 1_000.0).round() as i64
}
