//! Rules across arguments, and between the arguments and the function they decorate. Each
//! error points at the value that breaks the rule.

use std::time::Duration;

use syn::ItemFn;
use syn::spanned::Spanned as _;

use crate::args::{Args, Backoff, Jitter};
use crate::errors::Errors;

/// The runtime's defaults that the rules below depend on.
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
    if let Some(backoff) = &args.backoff {
        check_backoff(backoff.value, backoff.span, errors);
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
    if let Some(deadline) = &args.deadline
        && max_attempts > 1
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

fn check_backoff(backoff: Backoff, span: proc_macro2::Span, errors: &mut Errors) {
    match backoff {
        Backoff::Linear { initial, max, .. } | Backoff::Exponential { initial, max, .. }
            if initial > max =>
        {
            errors.at(
                span,
                format!(
                    "the backoff's `initial` ({initial:?}) must not exceed its `max` ({max:?})"
                ),
            );
        }
        _ => {}
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
