//! The runtime's limits that `#[resilient]` checks at compile time, each stated once.
//!
//! The policy the macro builds skips the runtime's validation (`RetryPolicy::__from_checked`), so
//! the macro must reject everything the runtime would. It cannot name the runtime's constants:
//! `resilient-http` depends on this crate, not the other way round. So each limit below names
//! the runtime item it mirrors, and the tests at the bottom hold each one against the runtime's
//! own validation, so that a change on either side fails `cargo test -p resilient-http-macros`.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The longest duration of any setting. Mirrors `duration::MAX` in
/// `resilient-http/src/duration.rs`.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// [`MAX_DURATION`] as the macro's duration syntax writes it (it has no `h` unit).
pub(crate) const MAX_DURATION_TEXT: &str = "1440m";

/// The valid `max_attempts`. Mirrors `MAX_ATTEMPTS` in `resilient-http/src/policy.rs`.
pub(crate) const MAX_ATTEMPTS: RangeInclusive<u32> = 1..=100;

/// The statuses a policy may retry. Mirrors `StatusSet::add` in
/// `resilient-http/src/status_set.rs`.
pub(crate) const RETRY_STATUSES: RangeInclusive<u16> = 400..=599;

/// The longest breaker, budget or operation name, in ASCII characters. Mirrors
/// `registry::check_name` in `resilient-http/src/registry.rs`, as does [`is_valid_name`].
pub(crate) const MAX_NAME_LEN: usize = 64;

/// Whether `name` is 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `_`, `-` or `.`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.chars().all(plain)
}

#[cfg(test)]
mod tests {
    //! Each limit, at and just past its edge, through the runtime's public validation.

    use std::collections::HashMap;

    use resilient_http::{Backoff, BreakerConfig, RegistryConfig, RetryPolicy, StatusSet};

    use super::*;

    #[test]
    fn max_duration_is_the_runtimes() {
        let past = MAX_DURATION + Duration::from_nanos(1);
        let policy = |timeout, backoff| {
            RetryPolicy::builder()
                .max_attempts(1)
                .attempt_timeout(timeout)
                .deadline(timeout)
                .backoff(backoff)
                .build()
        };
        assert!(policy(MAX_DURATION, Backoff::constant(MAX_DURATION)).is_ok());
        let err = policy(past, Backoff::None).unwrap_err();
        assert_eq!(err.field(), "attempt_timeout");
        let err = policy(MAX_DURATION, Backoff::constant(past)).unwrap_err();
        assert_eq!(err.field(), "backoff.delay");
        let text = syn::LitStr::new(MAX_DURATION_TEXT, proc_macro2::Span::call_site());
        assert_eq!(crate::duration::parse(&text).unwrap(), MAX_DURATION);
    }

    #[test]
    fn max_attempts_are_the_runtimes() {
        let build = |n| RetryPolicy::builder().max_attempts(n).build();
        assert!(build(*MAX_ATTEMPTS.start()).is_ok());
        assert!(build(*MAX_ATTEMPTS.end()).is_ok());
        assert!(build(MAX_ATTEMPTS.start() - 1).is_err());
        assert!(build(MAX_ATTEMPTS.end() + 1).is_err());
    }

    #[test]
    fn retry_statuses_are_the_runtimes() {
        let build = |code| {
            RetryPolicy::builder()
                .retry_on(StatusSet::EMPTY.with(code))
                .build()
        };
        assert!(build(*RETRY_STATUSES.start()).is_ok());
        assert!(build(*RETRY_STATUSES.end()).is_ok());
        assert!(build(RETRY_STATUSES.start() - 1).is_err());
        assert!(build(RETRY_STATUSES.end() + 1).is_err());
    }

    #[test]
    fn names_are_the_runtimes() {
        let names = [
            "a".repeat(MAX_NAME_LEN),
            "a".repeat(MAX_NAME_LEN + 1),
            String::new(),
            "payments.v2-eu_1".into(),
            "pay ments".into(),
            "paiement-é".into(),
            "a/b".into(),
        ];
        for name in names {
            let config = RegistryConfig {
                breakers: HashMap::from([(name.clone(), BreakerConfig::new())]),
                ..RegistryConfig::default()
            };
            assert_eq!(is_valid_name(&name), config.validate().is_ok(), "{name:?}");
        }
    }
}
