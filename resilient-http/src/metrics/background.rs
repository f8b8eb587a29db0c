//! A sink that hands events to another sink on a thread of its own, so that a slow sink never
//! blocks a call.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

use super::{Event, EventKind, MetricsSink};
use crate::GiveUp;

/// Runs another sink on a background thread: [`record`](MetricsSink::record) copies the event
/// into a bounded queue and returns at once, and the thread feeds the queued events to the
/// inner sink in order. When the queue is full the event is dropped and counted
/// ([`dropped`](BackgroundSink::dropped)), never waited for: a sink that writes to a socket or a
/// file, or takes a contended lock, cannot hold up the calls it observes.
///
/// Costs one allocation per event (the owned copy of its names). The thread stops when the
/// `BackgroundSink` is dropped, after the events already queued.
///
/// ```
/// use std::sync::Arc;
///
/// use resilient_http::{BackgroundSink, Registry, TracingSink};
///
/// let sink = BackgroundSink::new(Arc::new(TracingSink), 1024);
/// let registry = Registry::builder().sink(Arc::new(sink)).build()?;
/// # let _ = registry;
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
pub struct BackgroundSink {
    queue: SyncSender<OwnedEvent>,
    dropped: Arc<AtomicU64>,
    inner: Arc<dyn MetricsSink>,
}

impl fmt::Debug for BackgroundSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundSink")
            .field("inner", &self.inner)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl BackgroundSink {
    /// Feeds `inner` from a thread named `resilient-http-sink`, with at most `capacity` events
    /// waiting (at least one).
    ///
    /// # Panics
    /// If the thread cannot be spawned.
    pub fn new(inner: Arc<dyn MetricsSink>, capacity: usize) -> Self {
        let (queue, events) = mpsc::sync_channel(capacity.max(1));
        let fed = Arc::clone(&inner);
        thread::Builder::new()
            .name("resilient-http-sink".into())
            .spawn(move || feed(&*fed, &events))
            .expect("failed to spawn the resilient-http-sink thread");
        BackgroundSink {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            inner,
        }
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn feed(sink: &dyn MetricsSink, events: &Receiver<OwnedEvent>) {
    for event in events {
        super::emit(sink, event.as_event());
    }
}

impl MetricsSink for BackgroundSink {
    fn record(&self, event: &Event<'_>) {
        match self.queue.try_send(OwnedEvent::from(event)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn call_span(&self, operation: &str, breaker: Option<&str>) -> tracing::Span {
        self.inner.call_span(operation, breaker)
    }
}

/// An [`Event`] that owns its names, to cross to the sink's thread. A budget name, the only
/// name inside an [`EventKind`], is kept apart and put back by [`as_event`](Self::as_event).
struct OwnedEvent {
    operation: Option<Box<str>>,
    breaker: Option<Box<str>>,
    kind: EventKind<'static>,
    budget: Box<str>,
}

impl From<&Event<'_>> for OwnedEvent {
    fn from(event: &Event<'_>) -> Self {
        let mut budget = "";
        let kind = match event.kind {
            EventKind::AttemptFinished {
                attempt,
                outcome,
                latency,
            } => EventKind::AttemptFinished {
                attempt,
                outcome,
                latency,
            },
            EventKind::RetryScheduled {
                attempt,
                delay,
                reason,
            } => EventKind::RetryScheduled {
                attempt,
                delay,
                reason,
            },
            EventKind::GaveUp { attempts, reason } => EventKind::GaveUp {
                attempts,
                reason: match reason {
                    GiveUp::NotRetryable => GiveUp::NotRetryable,
                    GiveUp::AttemptsExhausted => GiveUp::AttemptsExhausted,
                    GiveUp::RetryAfterTooLong => GiveUp::RetryAfterTooLong,
                    GiveUp::Deadline(deadline) => GiveUp::Deadline(deadline),
                    GiveUp::CircuitOpen => GiveUp::CircuitOpen,
                    GiveUp::BudgetExhausted(name) => {
                        budget = name;
                        GiveUp::BudgetExhausted("")
                    }
                },
            },
            EventKind::CallRejected { retry_in } => EventKind::CallRejected { retry_in },
            EventKind::BreakerStateChanged { from, to } => {
                EventKind::BreakerStateChanged { from, to }
            }
            EventKind::BudgetExhausted { budget: name } => {
                budget = name;
                EventKind::BudgetExhausted { budget: "" }
            }
            EventKind::CallFinished {
                attempts,
                succeeded,
                duration,
            } => EventKind::CallFinished {
                attempts,
                succeeded,
                duration,
            },
        };
        OwnedEvent {
            operation: event.operation.map(Into::into),
            breaker: event.breaker.map(Into::into),
            kind,
            budget: budget.into(),
        }
    }
}

impl OwnedEvent {
    fn as_event(&self) -> Event<'_> {
        let budget = &*self.budget;
        let kind = match self.kind {
            EventKind::GaveUp {
                attempts,
                reason: GiveUp::BudgetExhausted(_),
            } => EventKind::GaveUp {
                attempts,
                reason: GiveUp::BudgetExhausted(budget),
            },
            EventKind::BudgetExhausted { .. } => EventKind::BudgetExhausted { budget },
            other => other,
        };
        Event {
            operation: self.operation.as_deref(),
            breaker: self.breaker.as_deref(),
            kind,
        }
    }
}
