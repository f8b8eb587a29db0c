//! Circuit breakers: stop calling a backend that keeps failing, then probe it for recovery.
//!
//! Cost of the closed-state success path (what every healthy call pays): one atomic load of the
//! state word to admit the call (an inlined check; a 16-byte [`Permit`] comes back in
//! registers), and to record its success one more load of the word plus one of the
//! consecutive-failure counter. No lock, no clock read, no allocation, unless a rate rule is
//! configured (then two atomic read-modify-writes on the count window, plus a clock read for a
//! time window). Measured by `benches/overhead.rs` (`policy_breaker`, `full`,
//! `full_rate_breaker`; figures in `BENCHMARKS.md`). Everything off that path (open, half-open,
//! failures, rate rules) is out of line. Transitions are rare and serialise on a mutex, so that
//! exactly one caller makes each transition and reports it, in order: the sink is called under
//! that mutex (keep it cheap, or wrap a slow one in a `BackgroundSink`).

mod config;
mod state;
mod window;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

pub use config::{BreakerConfig, WindowConfig};
pub use state::BreakerState;

use crate::metrics::{self, Event, EventKind, MetricsSink, NoopSink};
use crate::sync::{AtomicU32, AtomicU64, Mutex};
use crate::{Clock, ConfigError, TokioClock};
use state::Word;
use window::Window;

/// A named circuit breaker. Usually obtained from a [`Registry`](crate::Registry), which
/// shares one breaker between every call that names it.
///
/// ```
/// use resilient_http::{Breaker, BreakerConfig, BreakerState};
///
/// let config = BreakerConfig { consecutive_failures: Some(2), ..BreakerConfig::new() };
/// let breaker = Breaker::new("payments", config)?;
/// for _ in 0..2 {
///     breaker.try_acquire().unwrap().record(true, None);
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire().is_err());
/// # Ok::<(), resilient_http::ConfigError>(())
/// ```
pub struct Breaker {
    name: Box<str>,
    config: BreakerConfig,
    word: AtomicU64,
    consecutive_failures: AtomicU32,
    window: Option<Window>,
    /// When the open state ends, in nanoseconds since `origin`.
    open_until: AtomicU64,
    /// Trips since the breaker last closed, for the growing open duration.
    trips: AtomicU32,
    transition: Mutex<()>,
    origin: Instant,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn MetricsSink>,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A call the breaker refused; see [`Breaker::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// How long until the breaker may admit a probe (zero when forced open or when every probe
    /// is already taken).
    pub retry_in: Duration,
}

impl Breaker {
    /// A breaker on the tokio clock, reporting to no sink.
    ///
    /// # Errors
    /// The first invalid field of `config`.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Result<Self, ConfigError> {
        Breaker::with_parts(
            name.into(),
            config,
            Arc::new(TokioClock),
            Arc::new(NoopSink),
        )
    }

    pub(crate) fn with_parts(
        name: String,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn MetricsSink>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Breaker {
            name: name.into_boxed_str(),
            window: config.uses_window().then(|| Window::new(config.window)),
            config,
            word: AtomicU64::new(Word::new(0, BreakerState::Closed).0),
            consecutive_failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            transition: Mutex::new(()),
            origin: clock.now(),
            clock,
            sink,
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Its current state. An open breaker whose open duration has passed still reads `Open`
    /// until a call arrives and moves it to `HalfOpen`.
    pub fn state(&self) -> BreakerState {
        self.load().state()
    }

    /// Whether a call arriving now would be rejected without a chance: the breaker is forced
    /// open, or open with time left to wait.
    pub fn rejects_now(&self) -> bool {
        match self.state() {
            BreakerState::ForcedOpen => true,
            BreakerState::Open => !self.open_remaining().is_zero(),
            BreakerState::Closed | BreakerState::HalfOpen | BreakerState::Disabled => false,
        }
    }

    /// Whether [`Permit::record`] wants the call's latency (a slow-call rule is configured).
    pub fn needs_latency(&self) -> bool {
        self.config.slow_call_rate_threshold.is_some()
    }

    /// Asks to make one call.
    ///
    /// # Errors
    /// [`Rejected`] when the breaker is open or forced open, or half-open with every probe
    /// taken.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.acquire(None)
    }

    /// [`try_acquire`](Breaker::try_acquire), naming the call's operation in the transition
    /// event it may cause. The closed (or disabled) breaker is decided inline; every other state
    /// goes out of line.
    #[inline]
    pub(crate) fn acquire(&self, operation: Option<&str>) -> Result<Permit<'_>, Rejected> {
        let word = self.load();
        if word.admits_all() {
            Ok(self.permit(word))
        } else {
            self.acquire_slow(word, operation)
        }
    }

    #[inline(never)]
    fn acquire_slow(
        &self,
        mut word: Word,
        operation: Option<&str>,
    ) -> Result<Permit<'_>, Rejected> {
        loop {
            match word.state() {
                BreakerState::Closed | BreakerState::Disabled => {
                    return Ok(self.permit(word));
                }
                BreakerState::ForcedOpen => {
                    return Err(Rejected {
                        retry_in: Duration::ZERO,
                    });
                }
                BreakerState::Open => {
                    let wait = self.open_remaining();
                    if !wait.is_zero() {
                        return Err(Rejected { retry_in: wait });
                    }
                    self.transition(word, BreakerState::HalfOpen, operation);
                    word = self.load();
                }
                BreakerState::HalfOpen => {
                    if word.admitted() >= self.config.half_open_probes {
                        return Err(Rejected {
                            retry_in: Duration::ZERO,
                        });
                    }
                    let admitted = word.with_admitted(word.admitted() + 1);
                    match self.cas(word, admitted) {
                        Ok(()) => return Ok(self.permit(admitted)),
                        Err(actual) => word = actual,
                    }
                }
            }
        }
    }

    /// Opens the breaker until [`reset`](Breaker::reset): every call is rejected.
    pub fn force_open(&self) {
        self.transition_from_any(BreakerState::ForcedOpen);
    }

    /// Switches the breaker off until [`reset`](Breaker::reset): every call is admitted.
    pub fn disable(&self) {
        self.transition_from_any(BreakerState::Disabled);
    }

    /// Closes the breaker and forgets every failure counted so far.
    pub fn reset(&self) {
        self.transition_from_any(BreakerState::Closed);
    }

    /// A permit admitted in `word`'s state: a probe when that state is half-open.
    #[inline]
    fn permit(&self, word: Word) -> Permit<'_> {
        Permit {
            breaker: self,
            admitted: word,
        }
    }

    #[inline]
    fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    fn cas(&self, current: Word, new: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word)
    }

    fn elapsed_nanos(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    fn open_remaining(&self) -> Duration {
        let until = self.open_until.load(Ordering::Acquire);
        Duration::from_nanos(until.saturating_sub(self.elapsed_nanos()))
    }

    /// A success of a closed breaker ends a run of consecutive failures. The counter is read
    /// first, so that a success path with no failures to forget writes nothing shared.
    #[inline]
    fn end_failure_run(&self) {
        if self.config.consecutive_failures.is_some()
            && self.consecutive_failures.load(Ordering::Relaxed) != 0
        {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
    }

    /// Counts the result of a call admitted in state word `admitted`, off the success path
    /// that [`Permit::record_for`] decides inline.
    #[inline(never)]
    fn record(&self, admitted: Word, failure: bool, slow: bool, operation: Option<&str>) {
        let word = self.load();
        if word.epoch() != admitted.epoch() {
            // The breaker moved on since this call was admitted: its result says nothing about
            // the current state.
            return;
        }
        if admitted.is(BreakerState::HalfOpen) {
            self.record_probe(word, failure, operation);
            return;
        }
        if !word.is(BreakerState::Closed) {
            return;
        }
        let mut trip = false;
        if !failure {
            self.end_failure_run();
        } else if let Some(threshold) = self.config.consecutive_failures {
            trip |= self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1 >= threshold;
        }
        if let Some(window) = &self.window {
            let second = if window.needs_time() {
                self.elapsed_nanos() / 1_000_000_000
            } else {
                0
            };
            let totals = window.record(second, failure, slow);
            if totals.calls >= self.config.minimum_calls {
                let rate = |n: u32| f64::from(n) * 100.0 / f64::from(totals.calls);
                let over = |threshold: Option<f64>, n| threshold.is_some_and(|t| rate(n) >= t);
                trip |= over(self.config.failure_rate_threshold, totals.failures);
                trip |= over(self.config.slow_call_rate_threshold, totals.slow);
            }
        }
        if trip {
            self.transition(word, BreakerState::Open, operation);
        }
    }

    fn record_probe(&self, mut word: Word, failure: bool, operation: Option<&str>) {
        if failure {
            self.transition(word, BreakerState::Open, operation);
            return;
        }
        loop {
            let succeeded = word.succeeded() + 1;
            match self.cas(word, word.with_succeeded(succeeded)) {
                Ok(()) if succeeded >= self.config.half_open_probes => {
                    self.transition(
                        word.with_succeeded(succeeded),
                        BreakerState::Closed,
                        operation,
                    );
                    return;
                }
                Ok(()) => return,
                Err(actual) if actual.epoch() == word.epoch() => word = actual,
                Err(_) => return,
            }
        }
    }

    /// Gives back a probe permit whose call never finished, so another caller can probe.
    #[cold]
    #[inline(never)]
    fn release_probe(&self, epoch: u32) {
        let mut word = self.load();
        while word.epoch() == epoch && word.is(BreakerState::HalfOpen) {
            match self.cas(word, word.with_admitted(word.admitted().saturating_sub(1))) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// Moves from the state `from` (as read by the caller) to `to`, unless another caller has
    /// already moved the breaker on; exactly one caller makes and reports each transition.
    fn transition(&self, from: Word, to: BreakerState, operation: Option<&str>) {
        let guard = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.load();
        if current.epoch() != from.epoch() || current.state() != from.state() {
            return;
        }
        self.enter(current, to);
        // Reported before the lock is released, so that sinks see transitions in the order
        // they were made: a gauge set from each event's `to` ends on the breaker's real state.
        self.report(from.state(), to, operation);
        drop(guard);
    }

    fn transition_from_any(&self, to: BreakerState) {
        let guard = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.load();
        if current.state() == to {
            if to == BreakerState::Closed {
                // Not a transition, but `reset` still forgets the failures counted so far.
                self.forget_failures();
            }
            return;
        }
        self.enter(current, to);
        self.report(current.state(), to, None);
        drop(guard);
    }

    /// Sets up `to` and publishes it; called with the transition lock held.
    fn enter(&self, current: Word, to: BreakerState) {
        match to {
            BreakerState::Open => {
                let trips = self.trips.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                let open_for = self.config.open_duration_after(trips);
                let nanos = u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX);
                let until = self.elapsed_nanos().saturating_add(nanos);
                self.open_until.store(until, Ordering::Release);
            }
            BreakerState::Closed => self.forget_failures(),
            BreakerState::HalfOpen | BreakerState::ForcedOpen | BreakerState::Disabled => {}
        }
        // A swap, not a store: a probe may be giving back its slot with a compare-exchange on
        // the old word right now, and loom orders a plain store only partially against such a
        // read-modify-write (it let a store be overtaken by a CAS that read the word before
        // it). Two read-modify-writes are totally ordered, in loom as on hardware.
        self.word.swap(current.next(to).0, Ordering::AcqRel);
    }

    fn forget_failures(&self) {
        self.trips.store(0, Ordering::Relaxed);
        self.consecutive_failures.store(0, Ordering::Relaxed);
        if let Some(window) = &self.window {
            window.reset();
        }
    }

    fn report(&self, from: BreakerState, to: BreakerState, operation: Option<&str>) {
        if metrics::is_enabled(&*self.sink) {
            let kind = EventKind::BreakerStateChanged { from, to };
            let breaker = Some(&*self.name);
            metrics::emit(
                &*self.sink,
                Event {
                    operation,
                    breaker,
                    kind,
                },
            );
        }
    }
}

/// Leave to make one call through a [`Breaker`]. Report the call's result with
/// [`record`](Permit::record); a permit dropped without a result (its call was cancelled)
/// gives its half-open probe slot back, so a breaker cannot be left stuck half-open.
#[must_use = "a permit must be given the call's result with `record`"]
pub struct Permit<'a> {
    // Two words, so that a permit (and an `Option` of one) travels in registers and is copied
    // whole: the state word it was admitted in tells its epoch and whether it is a probe (it
    // was admitted half-open), and the operation's name, which only a transition event needs,
    // is passed to `record_for` instead of being kept here.
    breaker: &'a Breaker,
    admitted: Word,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.breaker.name())
            .field("epoch", &self.admitted.epoch())
            .field("probe", &self.is_probe())
            .finish()
    }
}

impl Permit<'_> {
    /// Whether this call is a half-open probe.
    #[inline]
    pub fn is_probe(&self) -> bool {
        self.admitted.is(BreakerState::HalfOpen)
    }

    /// Reports the call's result: whether it counts as a failure, and how long it took (needed
    /// only when [`Breaker::needs_latency`]).
    #[inline]
    pub fn record(self, failure: bool, latency: Option<Duration>) {
        self.record_for(failure, latency, None);
    }

    /// [`record`](Permit::record), naming the call's operation in the transition event it may
    /// cause. The success path is decided inline: when the breaker is still in the very state
    /// word the permit was admitted in, and that word is closed with no rate rule, a success is
    /// one comparison and a check of the failure counter. Anything else goes out of line.
    #[inline]
    pub(crate) fn record_for(
        self,
        failure: bool,
        latency: Option<Duration>,
        operation: Option<&str>,
    ) {
        let (breaker, admitted) = (self.breaker, self.admitted);
        // Recorded: there is no probe slot to give back.
        std::mem::forget(self);
        if !failure
            && admitted.is(BreakerState::Closed)
            && breaker.window.is_none()
            && breaker.load() == admitted
        {
            breaker.end_failure_run();
            return;
        }
        let slow = latency.is_some_and(|l| l >= breaker.config.slow_call_duration);
        breaker.record(admitted, failure, slow, operation);
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.is_probe() {
            self.breaker.release_probe(self.admitted.epoch());
        }
    }
}
