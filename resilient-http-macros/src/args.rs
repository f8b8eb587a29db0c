//! Parsing the attribute's arguments. Each value is parsed once, stored with its span, and
//! checked on its own; rules across arguments live in `validate.rs`.

use std::time::Duration;

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitStr, Path, Token};

use crate::errors::Errors;
use crate::limits::{
    self, MAX_ATTEMPTS, MAX_DURATION, MAX_DURATION_TEXT, MAX_NAME_LEN, RETRY_STATUSES,
};
use crate::{duration, suggest};

const KEYS: &[&str] = &[
    "max_attempts",
    "retry_on",
    "backoff",
    "jitter",
    "timeout",
    "deadline",
    "breaker",
    "budget",
    "idempotent",
    "registry",
    "name",
    "crate",
];

/// A value and where it was written.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    /// The key's span.
    pub(crate) key: Span,
    /// The value's span.
    pub(crate) span: Span,
}

#[derive(Clone, Copy)]
pub(crate) enum Backoff {
    None,
    Constant(Duration),
    Linear {
        initial: Duration,
        step: Duration,
        max: Duration,
    },
    Exponential {
        initial: Duration,
        factor: f64,
        max: Duration,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

pub(crate) enum Budget {
    Named(String),
    Off,
}

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) max_attempts: Option<Spanned<u32>>,
    /// Inclusive ranges of statuses.
    pub(crate) retry_on: Option<Spanned<Vec<(u16, u16)>>>,
    pub(crate) backoff: Option<Spanned<Backoff>>,
    pub(crate) jitter: Option<Spanned<Jitter>>,
    pub(crate) timeout: Option<Spanned<Duration>>,
    pub(crate) deadline: Option<Spanned<Duration>>,
    pub(crate) breaker: Option<Spanned<String>>,
    pub(crate) budget: Option<Spanned<Budget>>,
    pub(crate) idempotent: Option<Spanned<bool>>,
    pub(crate) registry: Option<Spanned<Expr>>,
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) krate: Option<Spanned<Path>>,
    /// Keys seen so far, to reject repeats even when the first value was invalid.
    seen: Vec<String>,
    /// Keys whose value was rejected, so that no rule across arguments judges them by the
    /// default they were meant to replace.
    rejected: Vec<String>,
}

impl Args {
    /// Parses one `key = value`, recording what is wrong with it in `errors` and moving on, so
    /// that every mistake of the attribute is reported in one compile.
    pub(crate) fn parse_one(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        let key_span = meta.path.span();
        let key = match meta.path.get_ident() {
            Some(ident) => ident.to_string(),
            None => quote::ToTokens::to_token_stream(&meta.path)
                .to_string()
                .replace(' ', ""),
        };
        if !KEYS.contains(&key.as_str()) {
            errors.at(key_span, unknown_key(&key));
            return skip_value(meta);
        }
        if !meta.input.peek(Token![=]) {
            errors.at(key_span, format!("`{key}` needs a value: `{key} = ...`"));
            return skip_value(meta);
        }
        let value: Expr = meta.value()?.parse()?;
        if self.seen.contains(&key) {
            errors.at(key_span, format!("`{key}` is set more than once; keep one"));
            return Ok(());
        }
        self.seen.push(key.clone());
        let span = value.span();
        let stored = match key.as_str() {
            "max_attempts" => max_attempts(&value).map(|v| {
                self.max_attempts = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "retry_on" => retry_on(&value).map(|v| {
                self.retry_on = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "backoff" => backoff(&value).map(|v| {
                self.backoff = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "jitter" => jitter(&value).map(|v| {
                self.jitter = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "timeout" => duration_value(&value, "timeout").map(|v| {
                self.timeout = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "deadline" => duration_value(&value, "deadline").map(|v| {
                self.deadline = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "breaker" => name_value(&value, "breaker").map(|v| {
                self.breaker = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "budget" => budget(&value).map(|v| {
                self.budget = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "idempotent" => bool_value(&value, "idempotent").map(|v| {
                self.idempotent = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "registry" => {
                self.registry = Some(Spanned {
                    value: value.clone(),
                    key: key_span,
                    span,
                });
                Ok(())
            }
            "name" => name_value(&value, "name").map(|v| {
                self.name = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            "crate" => crate_path(&value).map(|v| {
                self.krate = Some(Spanned {
                    value: v,
                    key: key_span,
                    span,
                })
            }),
            _ => unreachable!("`KEYS` lists every key matched here"),
        };
        if let Err(error) = stored {
            errors.push(error);
            self.rejected.push(key);
        }
        Ok(())
    }

    /// Whether `key` was given a value that was rejected (and is therefore unset).
    pub(crate) fn rejected(&self, key: &str) -> bool {
        self.rejected.iter().any(|k| k == key)
    }
}

fn unknown_key(key: &str) -> String {
    let expected = KEYS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match suggest::closest(key, KEYS) {
        Some(close) => format!("unknown argument `{key}`; did you mean `{close}`?"),
        None => format!("unknown argument `{key}`; expected one of {expected}"),
    }
}

/// Skips the rest of an argument we could not make sense of, up to the next comma.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => lit(&group.expr),
        _ => None,
    }
}

fn error(value: &impl quote::ToTokens, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(value, message)
}

fn max_attempts(value: &Expr) -> syn::Result<u32> {
    let Some(Lit::Int(int)) = lit(value) else {
        return Err(error(
            value,
            "`max_attempts` takes a whole number, like `max_attempts = 3`",
        ));
    };
    match int.base10_parse::<u32>() {
        Ok(n) if MAX_ATTEMPTS.contains(&n) => Ok(n),
        _ => Err(error(
            int,
            format!(
                "`max_attempts` must be between {} and {} (it counts the first attempt too), got {}",
                MAX_ATTEMPTS.start(),
                MAX_ATTEMPTS.end(),
                int.base10_digits()
            ),
        )),
    }
}

fn status(value: &Expr) -> syn::Result<u16> {
    let Some(Lit::Int(int)) = lit(value) else {
        return Err(error(
            value,
            "expected an HTTP status code, like `503`, or a range, like `500..=599`",
        ));
    };
    let (first, last) = (RETRY_STATUSES.start(), RETRY_STATUSES.end());
    match int.base10_parse::<u16>() {
        Ok(code) if RETRY_STATUSES.contains(&code) => Ok(code),
        Ok(code @ 100..=399) => Err(error(
            int,
            format!(
                "status {code} is not an error and cannot be retried; use statuses between {first} and {last}"
            ),
        )),
        _ => Err(error(
            int,
            format!(
                "`{}` is not an HTTP status; use statuses between {first} and {last}",
                int.base10_digits()
            ),
        )),
    }
}

fn retry_on(value: &Expr) -> syn::Result<Vec<(u16, u16)>> {
    let Expr::Array(array) = value else {
        return Err(error(
            value,
            "`retry_on` takes a list of statuses, like `retry_on = [502, 503, 520..=529]`",
        ));
    };
    if array.elems.is_empty() {
        return Err(error(
            value,
            "`retry_on` is empty; list the statuses to retry, or remove it to retry the default ones",
        ));
    }
    let mut errors = Errors::default();
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for element in &array.elems {
        let range = match element {
            Expr::Range(range) if matches!(range.limits, syn::RangeLimits::Closed(_)) => {
                match (&range.start, &range.end) {
                    (Some(start), Some(end)) => status(start).and_then(|first| {
                        let last = status(end)?;
                        if first > last {
                            return Err(error(element, format!("empty range: {first} is above {last}; put the lower status first")));
                        }
                        Ok((first, last))
                    }),
                    _ => Err(error(element, "a status range needs both ends, like `500..=599`")),
                }
            }
            Expr::Range(range) => Err(error(range, "use an inclusive range, like `500..=599`")),
            _ => status(element).map(|code| (code, code)),
        };
        match range {
            Ok((first, last)) if ranges.iter().any(|&(a, b)| first <= b && a <= last) => {
                errors.push(error(
                    element,
                    "this status is already listed in `retry_on`; remove the duplicate",
                ));
            }
            Ok(range) => ranges.push(range),
            Err(err) => errors.push(err),
        }
    }
    match errors.into_error() {
        Some(err) => Err(err),
        None => Ok(ranges),
    }
}

const BACKOFF_HELP: &str = "expected `none`, `constant(\"200ms\")`, `linear(initial = \"100ms\", step = \"100ms\", max = \"2s\")` or `exponential(initial = \"100ms\", factor = 2.0, max = \"10s\")`";

fn backoff(value: &Expr) -> syn::Result<Backoff> {
    match value {
        Expr::Path(path) if path.path.is_ident("none") => Ok(Backoff::None),
        Expr::Call(call) => {
            let Expr::Path(func) = &*call.func else {
                return Err(error(value, format!("unknown backoff; {BACKOFF_HELP}")));
            };
            let kind = func
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match kind.as_str() {
                "constant" => {
                    let mut args = call.args.iter();
                    match (args.next(), args.next()) {
                        (Some(delay), None) => {
                            Ok(Backoff::Constant(duration_value(delay, "constant")?))
                        }
                        _ => Err(error(
                            call,
                            "`constant` takes one duration, like `constant(\"200ms\")`",
                        )),
                    }
                }
                "linear" => {
                    let mut named = Named::parse(call, &["initial", "step", "max"])?;
                    let (initial, max) = named.initial_and_max(call)?;
                    Ok(Backoff::Linear {
                        initial,
                        step: named.duration("step", Duration::from_millis(100))?,
                        max,
                    })
                }
                "exponential" => {
                    let mut named = Named::parse(call, &["initial", "factor", "max"])?;
                    let (initial, max) = named.initial_and_max(call)?;
                    Ok(Backoff::Exponential {
                        initial,
                        factor: named.factor()?,
                        max,
                    })
                }
                _ => Err(error(
                    &call.func,
                    format!("unknown backoff `{kind}`; {BACKOFF_HELP}"),
                )),
            }
        }
        _ => Err(error(value, format!("unknown backoff; {BACKOFF_HELP}"))),
    }
}

/// The `name = value` arguments of `linear(...)` or `exponential(...)`.
struct Named<'a> {
    values: Vec<(String, &'a Expr)>,
}

impl<'a> Named<'a> {
    fn parse(call: &'a syn::ExprCall, allowed: &[&str]) -> syn::Result<Self> {
        let mut values: Vec<(String, &Expr)> = Vec::new();
        for arg in &call.args {
            let Expr::Assign(assign) = arg else {
                return Err(error(
                    arg,
                    format!(
                        "expected `name = value`, with a name among `{}`",
                        allowed.join("`, `")
                    ),
                ));
            };
            let name = match &*assign.left {
                Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
                _ => None,
            }
            .unwrap_or_default();
            if !allowed.contains(&name.as_str()) {
                let hint = suggest::closest(&name, allowed).map_or_else(
                    || format!("expected one of `{}`", allowed.join("`, `")),
                    |c| format!("did you mean `{c}`?"),
                );
                return Err(error(
                    &assign.left,
                    format!("unknown backoff setting `{name}`; {hint}"),
                ));
            }
            if values.iter().any(|(n, _)| *n == name) {
                return Err(error(
                    &assign.left,
                    format!("`{name}` is set more than once; keep one"),
                ));
            }
            values.push((name, &assign.right));
        }
        Ok(Named { values })
    }

    fn take(&mut self, name: &str) -> Option<&'a Expr> {
        let index = self.values.iter().position(|(n, _)| n == name)?;
        Some(self.values.remove(index).1)
    }

    fn duration(&mut self, name: &'static str, default: Duration) -> syn::Result<Duration> {
        self.take(name)
            .map_or(Ok(default), |value| duration_value(value, name))
    }

    /// `initial` and `max`, checked against each other. The error points at `initial`, or at
    /// `max` when `initial` is left to its default.
    fn initial_and_max(&mut self, call: &syn::ExprCall) -> syn::Result<(Duration, Duration)> {
        let initial_value = self.take("initial");
        let max_value = self.take("max");
        let initial = initial_value.map_or(Ok(Duration::from_millis(100)), |value| {
            duration_value(value, "initial")
        })?;
        let max = max_value.map_or(Ok(Duration::from_secs(10)), |value| {
            duration_value(value, "max")
        })?;
        if initial > max {
            let message = format!(
                "the backoff's `initial` ({initial:?}) must not exceed its `max` ({max:?}); \
                 lower `initial` or raise `max`"
            );
            return Err(match initial_value.or(max_value) {
                Some(value) => error(value, message),
                None => error(call, message),
            });
        }
        Ok((initial, max))
    }

    fn factor(&mut self) -> syn::Result<f64> {
        let Some(value) = self.take("factor") else {
            return Ok(2.0);
        };
        let factor = match lit(value) {
            Some(Lit::Float(float)) => float.base10_parse::<f64>().ok(),
            Some(Lit::Int(int)) => int.base10_parse::<f64>().ok(),
            _ => None,
        };
        match factor {
            Some(factor) if factor.is_finite() && factor >= 1.0 => Ok(factor),
            Some(factor) if factor.is_infinite() => Err(error(
                value,
                "`factor` must be a finite number of at least 1.0, and this one is too large for an `f64`; \
                 use a factor like `2.0` and let `max` bound the waits",
            )),
            Some(_) => Err(error(
                value,
                "`factor` must be at least 1.0, or the waits would shrink",
            )),
            None => Err(error(value, "`factor` takes a number, like `factor = 2.0`")),
        }
    }
}

fn jitter(value: &Expr) -> syn::Result<Jitter> {
    let name = match value {
        Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
        _ => None,
    };
    match name.as_deref() {
        Some("none") => Ok(Jitter::None),
        Some("full") => Ok(Jitter::Full),
        Some("equal") => Ok(Jitter::Equal),
        Some("decorrelated") => Ok(Jitter::Decorrelated),
        _ => Err(error(
            value,
            "unknown jitter; expected `none`, `full`, `equal` or `decorrelated`",
        )),
    }
}

fn lit_str<'a>(value: &'a Expr, key: &str, example: &str) -> syn::Result<&'a LitStr> {
    match lit(value) {
        Some(Lit::Str(s)) => Ok(s),
        _ => Err(error(
            value,
            format!("`{key}` takes a string, like `{key} = {example}`"),
        )),
    }
}

/// A duration longer than zero and at most the runtime's [`MAX_DURATION`]. The runtime accepts
/// zero for some backoff durations too (a `constant` delay, a `linear` step); the attribute asks
/// for `backoff = none` or `constant(...)` instead, which say what is meant.
fn duration_value(value: &Expr, key: &str) -> syn::Result<Duration> {
    let text = lit_str(value, key, "\"2s\"")?;
    let duration = duration::parse(text)?;
    if duration.is_zero() || duration > MAX_DURATION {
        let zero = duration.is_zero();
        let fix = match key {
            "timeout" | "deadline" if zero => format!("remove `{key}` for no limit"),
            "timeout" | "deadline" => format!("shorten it, or remove `{key}` for no limit"),
            "step" if zero => "for the same wait every time, use `backoff = constant(...)`".into(),
            _ if zero => "for no wait at all, use `backoff = none`".into(),
            _ => "shorten it".into(),
        };
        return Err(error(
            text,
            format!(
                "`{key}` must be longer than zero and at most 24h ({MAX_DURATION_TEXT:?}), got {:?}; {fix}",
                text.value()
            ),
        ));
    }
    Ok(duration)
}

fn name_value(value: &Expr, key: &str) -> syn::Result<String> {
    let text = lit_str(value, key, "\"payments\"")?;
    let name = text.value();
    if !limits::is_valid_name(&name) {
        return Err(error(
            text,
            format!(
                "`{key}` must be 1 to {MAX_NAME_LEN} letters, digits, `_`, `-` or `.`, like \"payments\""
            ),
        ));
    }
    Ok(name)
}

fn budget(value: &Expr) -> syn::Result<Budget> {
    match lit(value) {
        Some(Lit::Bool(b)) if !b.value => Ok(Budget::Off),
        Some(Lit::Bool(b)) => Err(error(
            b,
            "`budget = true` is the default; name a budget, like `budget = \"payments\"`, or turn it off with `budget = false`",
        )),
        _ => name_value(value, "budget").map(Budget::Named),
    }
}

fn bool_value(value: &Expr, key: &str) -> syn::Result<bool> {
    match lit(value) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(error(value, format!("`{key}` takes `true` or `false`"))),
    }
}

fn crate_path(value: &Expr) -> syn::Result<Path> {
    let text = lit_str(value, "crate", "\"my_crate::resilient_http\"")?;
    text.parse::<Path>().map_err(|_| {
        error(
            text,
            "`crate` takes a path, like `crate = \"my_crate::resilient_http\"`",
        )
    })
}
