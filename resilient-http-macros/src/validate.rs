//! Rules across arguments, and between the arguments and the function they decorate. Each
//! error points at the value that breaks the rule.

use std::time::Duration;

use syn::ItemFn;
use syn::spanned::Spanned as _;

use crate::args::{Args, Backoff, Jitter};
use crate::errors::Errors;

/// The runtime's defaults that the rules below depend on. They mirror `RetryConfig::new` in
/// `resilient-http/src/policy.rs`; the test at the bottom holds them to it.
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_BACKOFF: Backoff = Backoff::Exponential {
    initial: Duration::from_millis(100),
    factor: 2.0,
    max: Duration::from_secs(10),
};
const DEFAULT_JITTER: Jitter = Jitter::Full;

/// `is_async` is true for an `async fn` and for a method `#[async_trait]` has rewritten.
pub(crate) fn check(args: &Args, function: &ItemFn, is_async: bool, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span(),
            "`#[resilient]` cannot apply to a `const fn`: retries wait and read the clock at run time; remove `const`",
        );
    }
    if !is_async {
        for (key, value) in [("timeout", &args.timeout), ("deadline", &args.deadline)] {
            if let Some(value) = value {
                errors.at(
                    value.key,
                    format!(
                        "`{key}` needs an `async fn`: a blocking call cannot be cut short from outside; \
                         make the function `async`, or set the timeout on the request itself"
                    ),
                );
            }
        }
    }
    if let (Some(timeout), Some(deadline)) = (&args.timeout, &args.deadline)
        && timeout.value > deadline.value
    {
        errors.at(
            timeout.span,
            format!(
                "`timeout` ({:?}) must not exceed `deadline` ({:?}): an attempt cannot outlast the whole call",
                timeout.value, deadline.value
            ),
        );
    }
    let max_attempts = args
        .max_attempts
        .as_ref()
        .map_or(DEFAULT_MAX_ATTEMPTS, |m| m.value);
    // A rejected `max_attempts`, `backoff` or `jitter` is already reported, and judging the
    // deadline by the default it was meant to replace would report a rule the user never broke.
    let inputs_valid = !["max_attempts", "backoff", "jitter"]
        .iter()
        .any(|key| args.rejected(key));
    if let Some(deadline) = &args.deadline
        && max_attempts > 1
        && inputs_valid
    {
        let backoff = args.backoff.as_ref().map_or(DEFAULT_BACKOFF, |b| b.value);
        let jitter = args.jitter.as_ref().map_or(DEFAULT_JITTER, |j| j.value);
        let wait = shortest_first_wait(backoff, jitter);
        if deadline.value <= wait {
            errors.at(
                deadline.span,
                format!(
                    "`deadline` ({:?}) leaves no time for a retry: the first retry waits at least {wait:?}; \
                     raise `deadline`, shorten the backoff, or set `max_attempts = 1`",
                    deadline.value
                ),
            );
        }
    }
}

/// The shortest wait before the first retry that the backoff and jitter allow.
fn shortest_first_wait(backoff: Backoff, jitter: Jitter) -> Duration {
    let base = match backoff {
        Backoff::None => Duration::ZERO,
        Backoff::Constant(delay) => delay,
        Backoff::Linear { initial, max, .. } | Backoff::Exponential { initial, max, .. } => {
            initial.min(max)
        }
    };
    match jitter {
        Jitter::None | Jitter::Decorrelated => base,
        Jitter::Equal => base / 2,
        Jitter::Full => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_runtimes() {
        let policy = resilient_http::RetryPolicy::default();
        assert_eq!(policy.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        let Backoff::Exponential {
            initial,
            factor,
            max,
        } = DEFAULT_BACKOFF
        else {
            panic!("the runtime's default backoff is exponential");
        };
        assert_eq!(
            *policy.backoff(),
            resilient_http::Backoff::exponential(initial, factor, max)
        );
        assert!(DEFAULT_JITTER == Jitter::Full);
        assert_eq!(policy.jitter(), resilient_http::Jitter::Full);
    }

    /// The deadline rule draws the line where the runtime's `RetryConfig::build` does.
    #[test]
    fn shortest_first_wait_is_the_runtimes() {
        let ms = Duration::from_millis;
        let backoffs = [
            (Backoff::None, resilient_http::Backoff::None),
            (
                Backoff::Constant(ms(100)),
                resilient_http::Backoff::constant(ms(100)),
            ),
            (
                Backoff::Linear {
                    initial: ms(30),
                    step: ms(10),
                    max: ms(30),
                },
                resilient_http::Backoff::linear(ms(30), ms(10), ms(30)),
            ),
            (DEFAULT_BACKOFF, resilient_http::Backoff::default()),
        ];
        let jitters = [
            (Jitter::None, resilient_http::Jitter::None),
            (Jitter::Full, resilient_http::Jitter::Full),
            (Jitter::Equal, resilient_http::Jitter::Equal),
            (Jitter::Decorrelated, resilient_http::Jitter::Decorrelated),
        ];
        for (backoff, runtime_backoff) in backoffs {
            for (jitter, runtime_jitter) in jitters {
                let wait = shortest_first_wait(backoff, jitter);
                let build = |deadline| {
                    resilient_http::RetryPolicy::builder()
                        .backoff(runtime_backoff)
                        .jitter(runtime_jitter)
                        .deadline(deadline)
                        .build()
                };
                assert!(
                    build(wait + ms(1)).is_ok(),
                    "{runtime_backoff:?} {runtime_jitter:?}"
                );
                if !wait.is_zero() {
                    let err = build(wait).unwrap_err();
                    assert_eq!(
                        err.field(),
                        "deadline",
                        "{runtime_backoff:?} {runtime_jitter:?}"
                    );
                }
            }
        }
    }
}
