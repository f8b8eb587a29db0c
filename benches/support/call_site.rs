//! The `CallSite` of the success-path benches (`overhead.rs`, `peers.rs`, `held.rs`).

use std::sync::Arc;

use resilient_http::{
    Breaker, BreakerConfig, BudgetConfig, CallSite, NoopSink, RetryBudget, RetryPolicy,
};

/// A site named `name` with the configuration of the benches' `Call::run` (the default policy,
/// a breaker and a budget named `name` with default configurations, and the no-op sink), put
/// together once. Its breaker and budget are its own, not the `Call`'s, so that the two
/// contenders share no state.
pub(crate) fn defaults(name: &str) -> CallSite {
    CallSite::new(name, RetryPolicy::default())
        .breaker(Arc::new(
            Breaker::new(name, BreakerConfig::new()).expect("default breaker config"),
        ))
        .budget(Arc::new(
            RetryBudget::new(name, BudgetConfig::new()).expect("default budget config"),
        ))
        .sink(Arc::new(NoopSink))
}
