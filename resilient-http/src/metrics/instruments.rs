//! The instruments every metrics exporter of this crate reports, named once, and how each event
//! maps onto them. The `metrics`, `prometheus` and `opentelemetry` sinks all record exactly
//! what [`measurements`] says, so their names, labels and buckets cannot drift apart.
//!
//! | instrument | kind | labels | what it counts |
//! |---|---|---|---|
//! | `resilient_http_attempts_total` | counter | `operation`, `breaker`, `outcome` | attempts, by how each ended |
//! | `resilient_http_retries_total` | counter | `operation`, `breaker`, `reason` | retries scheduled, by how the failed attempt ended |
//! | `resilient_http_give_ups_total` | counter | `operation`, `breaker`, `reason` | calls that stopped retrying and returned an error |
//! | `resilient_http_calls_rejected_total` | counter | `operation`, `breaker` | attempts an open breaker refused without touching the network |
//! | `resilient_http_budget_exhausted_total` | counter | `operation`, `budget` | retries refused because the retry budget was spent |
//! | `resilient_http_breaker_state` | gauge | `breaker` | the breaker's state: 0 closed, 1 half-open, 2 open, 3 forced open, 4 disabled |
//! | `resilient_http_breaker_transitions_total` | counter | `breaker`, `from`, `to` | breaker state changes |
//! | `resilient_http_call_duration_seconds` | histogram | `operation`, `breaker`, `outcome` | calls, from the first attempt to the return; `outcome` is `success` or `failure` |
//! | `resilient_http_attempt_duration_seconds` | histogram | `operation`, `breaker`, `outcome` | attempts |
//!
//! Label values are bounded: operation, breaker and budget names are declared in code or
//! configuration (never taken from a URL), and outcomes, reasons and states come from the
//! fixed sets of [`AttemptOutcome::label`](super::AttemptOutcome::label) (`success`,
//! `status_503`, `connect_failed`, `transport_failed`, `timed_out`, `failed`),
//! [`GiveUp::label`](crate::GiveUp::label) and [`BreakerState::label`](crate::BreakerState::label).
//! A call without a breaker has an empty `breaker` label. The breaker-state gauge appears at a
//! breaker's first transition.

use std::borrow::Cow;

use super::{Event, EventKind};
use crate::BreakerState;

/// What kind of instrument an [`Instrument`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// A monotonic count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of durations in seconds, over [`DURATION_BUCKETS`].
    Histogram,
}

/// One instrument: its name, help text, kind and label keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Instrument {
    /// The name, following Prometheus conventions (`_total` for counters, base unit suffix).
    pub name: &'static str,
    /// One line saying what it measures.
    pub help: &'static str,
    /// Counter, gauge or histogram.
    pub kind: InstrumentKind,
    /// Its label keys, in the order [`Labels`] gives their values.
    pub labels: &'static [&'static str],
}

macro_rules! instrument {
    ($id:ident, $name:literal, $kind:ident, [$($label:literal),*], $help:literal) => {
        #[doc = concat!("`", $name, "`: ", $help)]
        pub const $id: Instrument = Instrument {
            name: $name,
            help: $help,
            kind: InstrumentKind::$kind,
            labels: &[$($label),*],
        };
    };
}

instrument!(
    ATTEMPTS,
    "resilient_http_attempts_total",
    Counter,
    ["operation", "breaker", "outcome"],
    "Attempts made, by how each ended."
);
instrument!(
    RETRIES,
    "resilient_http_retries_total",
    Counter,
    ["operation", "breaker", "reason"],
    "Retries scheduled, by how the failed attempt ended."
);
instrument!(
    GIVE_UPS,
    "resilient_http_give_ups_total",
    Counter,
    ["operation", "breaker", "reason"],
    "Calls that stopped retrying and returned an error."
);
instrument!(
    CALLS_REJECTED,
    "resilient_http_calls_rejected_total",
    Counter,
    ["operation", "breaker"],
    "Attempts an open circuit breaker refused."
);
instrument!(
    BUDGET_EXHAUSTED,
    "resilient_http_budget_exhausted_total",
    Counter,
    ["operation", "budget"],
    "Retries refused because the retry budget was spent."
);
instrument!(
    BREAKER_STATE,
    "resilient_http_breaker_state",
    Gauge,
    ["breaker"],
    "Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 forced open, 4 disabled."
);
instrument!(
    BREAKER_TRANSITIONS,
    "resilient_http_breaker_transitions_total",
    Counter,
    ["breaker", "from", "to"],
    "Circuit breaker state changes."
);
instrument!(
    CALL_DURATION,
    "resilient_http_call_duration_seconds",
    Histogram,
    ["operation", "breaker", "outcome"],
    "Resilient calls, from the first attempt to the return."
);
instrument!(
    ATTEMPT_DURATION,
    "resilient_http_attempt_duration_seconds",
    Histogram,
    ["operation", "breaker", "outcome"],
    "Attempts of resilient calls."
);

/// Every instrument, in the order of the table above.
pub const ALL: [&Instrument; 9] = [
    &ATTEMPTS,
    &RETRIES,
    &GIVE_UPS,
    &CALLS_REJECTED,
    &BUDGET_EXHAUSTED,
    &BREAKER_STATE,
    &BREAKER_TRANSITIONS,
    &CALL_DURATION,
    &ATTEMPT_DURATION,
];

/// Histogram bucket upper bounds, in seconds: from a fast local call (5 ms) to a slow call
/// under a long deadline (30 s).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The label values of one measurement, in the order of its instrument's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    values: [Cow<'a, str>; 3],
    len: usize,
}

impl<'a> Labels<'a> {
    fn new<const N: usize>(values: [Cow<'a, str>; N]) -> Self {
        let mut all: [Cow<'a, str>; 3] = Default::default();
        for (slot, value) in all.iter_mut().zip(values) {
            *slot = value;
        }
        Labels {
            values: all,
            len: N.min(3),
        }
    }

    /// The values.
    pub fn values(&self) -> &[Cow<'a, str>] {
        &self.values[..self.len]
    }
}

/// What to do with an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Add this much to a counter.
    Add(u64),
    /// Set a gauge.
    Set(f64),
    /// Record one observation in a histogram, in seconds.
    Observe(f64),
}

/// One measurement an event makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement<'a> {
    /// Which instrument.
    pub instrument: &'static Instrument,
    /// Its label values.
    pub labels: Labels<'a>,
    /// What to record.
    pub value: Value,
}

/// The gauge value of a breaker state.
pub fn state_value(state: BreakerState) -> f64 {
    match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
        BreakerState::ForcedOpen => 3.0,
        BreakerState::Disabled => 4.0,
    }
}

/// Calls `each` with every measurement `event` makes (one or two).
pub fn measurements<'a>(event: &Event<'a>, mut each: impl FnMut(Measurement<'a>)) {
    let operation = Cow::Borrowed(event.operation.unwrap_or_default());
    let breaker = Cow::Borrowed(event.breaker.unwrap_or_default());
    let mut emit = |instrument, labels, value| {
        each(Measurement {
            instrument,
            labels,
            value,
        });
    };
    match event.kind {
        EventKind::AttemptFinished {
            outcome, latency, ..
        } => {
            let labels = Labels::new([operation, breaker, outcome.label()]);
            emit(&ATTEMPTS, labels.clone(), Value::Add(1));
            emit(
                &ATTEMPT_DURATION,
                labels,
                Value::Observe(latency.as_secs_f64()),
            );
        }
        EventKind::RetryScheduled { reason, .. } => emit(
            &RETRIES,
            Labels::new([operation, breaker, reason.label()]),
            Value::Add(1),
        ),
        EventKind::GaveUp { reason, .. } => emit(
            &GIVE_UPS,
            Labels::new([operation, breaker, Cow::Borrowed(reason.label())]),
            Value::Add(1),
        ),
        EventKind::CallRejected { .. } => emit(
            &CALLS_REJECTED,
            Labels::new([operation, breaker]),
            Value::Add(1),
        ),
        EventKind::BudgetExhausted { budget } => emit(
            &BUDGET_EXHAUSTED,
            Labels::new([operation, Cow::Borrowed(budget)]),
            Value::Add(1),
        ),
        EventKind::BreakerStateChanged { from, to } => {
            emit(
                &BREAKER_STATE,
                Labels::new([breaker.clone()]),
                Value::Set(state_value(to)),
            );
            emit(
                &BREAKER_TRANSITIONS,
                Labels::new([
                    breaker,
                    Cow::Borrowed(from.label()),
                    Cow::Borrowed(to.label()),
                ]),
                Value::Add(1),
            );
        }
        EventKind::CallFinished {
            succeeded,
            duration,
            ..
        } => emit(
            &CALL_DURATION,
            Labels::new([
                operation,
                breaker,
                Cow::Borrowed(if succeeded { "success" } else { "failure" }),
            ]),
            Value::Observe(duration.as_secs_f64()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::GiveUp;
    use crate::metrics::AttemptOutcome;

    #[test]
    fn every_measurement_gives_one_value_per_label_key() {
        let kinds = [
            EventKind::AttemptFinished {
                attempt: 1,
                outcome: AttemptOutcome::Status(reqwest::StatusCode::SERVICE_UNAVAILABLE),
                latency: Duration::from_millis(3),
            },
            EventKind::RetryScheduled {
                attempt: 1,
                delay: Duration::from_millis(100),
                reason: AttemptOutcome::TimedOut,
            },
            EventKind::GaveUp {
                attempts: 3,
                reason: GiveUp::AttemptsExhausted,
            },
            EventKind::CallFinished {
                attempts: 3,
                succeeded: false,
                duration: Duration::from_secs(1),
            },
            EventKind::BreakerStateChanged {
                from: BreakerState::Closed,
                to: BreakerState::Open,
            },
            EventKind::BudgetExhausted { budget: "b" },
            EventKind::CallRejected {
                retry_in: Duration::ZERO,
            },
        ];
        let mut seen = Vec::new();
        for kind in kinds {
            let event = Event {
                operation: Some("op"),
                breaker: Some("br"),
                kind,
            };
            measurements(&event, |m| {
                assert_eq!(m.labels.values().len(), m.instrument.labels.len(), "{m:?}");
                seen.push(m.instrument.name);
            });
        }
        let mut all: Vec<_> = ALL.iter().map(|i| i.name).collect();
        all.sort_unstable();
        seen.sort_unstable();
        assert_eq!(
            seen, all,
            "every instrument is measured by exactly one event kind"
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for instrument in ALL {
            let suffix_ok = match instrument.kind {
                InstrumentKind::Counter => instrument.name.ends_with("_total"),
                InstrumentKind::Histogram => instrument.name.ends_with("_seconds"),
                InstrumentKind::Gauge => !instrument.name.ends_with("_total"),
            };
            assert!(suffix_ok, "{}", instrument.name);
            assert!(instrument.name.starts_with("resilient_http_"));
        }
    }
}
