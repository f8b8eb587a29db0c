//! Stress: thousands of concurrent callers on a multi-threaded runtime drive one breaker through
//! open, half-open and closed, cycle after cycle, while every caller checks the breaker's
//! invariants: no call is admitted while the breaker is open, no more than `half_open_probes`
//! probes are ever held at once, and every transition reaches the metrics sink exactly once.
//!
//! Each cycle is four waves of concurrent callers: one that fails while the breaker is closed
//! (it trips), one while it is open (all rejected), one of failing probes (it opens again) and
//! one of succeeding probes (it closes), some of whose probes are abandoned mid-call. The
//! breaker's time is a `ManualClock` that moves only between waves, so within a wave an open
//! breaker stays open and a half-open one is entered at most once: what each wave must do to
//! the breaker, and which transitions it must report, is known exactly, whatever the
//! interleaving of its callers.
//!
//! The callers go straight to `Breaker::try_acquire` and `Permit::record` in one test, and
//! through `Call` with a sink in the other.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use reqwest::StatusCode;
use resilient_http::{
    Breaker, BreakerConfig, BreakerState, Call, Error, Event, EventKind, ManualClock, MetricsSink,
    Registry, RegistryConfig, RetryPolicy,
};

use BreakerState::{Closed, HalfOpen, Open};

/// Open, half-open and closed this many times over, in each test.
const CYCLES: usize = 10;
/// Concurrent callers in each wave: four waves a cycle make 4,000 callers a test.
const CALLERS: usize = 100;
/// Every `CANCEL_EVERY`th caller of a wave of succeeding probes abandons its first call.
const CANCEL_EVERY: usize = 4;
/// Failures in a row that trip the breaker.
const TRIP_AFTER: u32 = 5;
/// Probes a half-open breaker admits.
const PROBES: u32 = 3;
const OPEN: Duration = Duration::from_secs(10);
/// How many times an admitted call yields to the scheduler before it finishes, so that callers
/// hold their permits while the others race for theirs.
const HOLD: usize = 3;
const OPERATION: &str = "stress.call";
/// A wave takes milliseconds; one still running after this is stuck.
const WAVE_LIMIT: Duration = Duration::from_secs(10);

type Change = (BreakerState, BreakerState);

/// Records every transition in the order the sink is told of it, and counts the calls'
/// rejections and finished attempts.
#[derive(Debug, Default)]
struct Recorder {
    transitions: Mutex<Vec<Change>>,
    rejected: AtomicUsize,
    attempts_finished: AtomicUsize,
}

impl Recorder {
    fn transitions(&self) -> Vec<Change> {
        self.transitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl MetricsSink for Recorder {
    fn record(&self, event: &Event<'_>) {
        match event.kind {
            EventKind::BreakerStateChanged { from, to } => self
                .transitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((from, to)),
            EventKind::CallRejected { .. } => {
                self.rejected.fetch_add(1, SeqCst);
            }
            EventKind::AttemptFinished { .. } => {
                self.attempts_finished.fetch_add(1, SeqCst);
            }
            _ => {}
        }
    }
}

/// What the callers of one wave do, and so what the wave does to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wave {
    /// The breaker is closed and every call fails: it trips, once.
    FailWhileClosed,
    /// The breaker is open with time left: every call is rejected.
    WhileOpen,
    /// The open duration has passed and every call fails: the first caller makes the breaker
    /// half-open, the first failed probe opens it again.
    ProbesFail,
    /// The open duration has passed and every call succeeds: the probes close the breaker and
    /// the other callers, once they find it closed, go through. Some callers abandon their first
    /// call mid-attempt (a cancelled probe must give its slot back).
    ProbesSucceed,
}

impl Wave {
    const CYCLE: [Wave; 4] = [
        Wave::FailWhileClosed,
        Wave::WhileOpen,
        Wave::ProbesFail,
        Wave::ProbesSucceed,
    ];

    fn fails(self) -> bool {
        self != Wave::ProbesSucceed
    }

    fn cancels(self, caller: usize) -> bool {
        self == Wave::ProbesSucceed && caller.is_multiple_of(CANCEL_EVERY)
    }

    /// The transitions the wave makes, in the order it makes them.
    fn transitions(self) -> &'static [Change] {
        match self {
            Wave::FailWhileClosed => &[(Closed, Open)],
            Wave::WhileOpen => &[],
            Wave::ProbesFail => &[(Open, HalfOpen), (HalfOpen, Open)],
            Wave::ProbesSucceed => &[(Open, HalfOpen), (HalfOpen, Closed)],
        }
    }

    /// The state the breaker is left in.
    fn leaves(self) -> BreakerState {
        match self {
            Wave::ProbesSucceed => Closed,
            _ => Open,
        }
    }
}

/// How the callers reach the breaker.
#[derive(Debug, Clone, Copy)]
enum Callers {
    /// `Breaker::try_acquire` and `Permit::record`.
    Permits,
    /// `Call::run`, with the breaker and the recording sink.
    Calls,
}

/// The breaker under stress and what its callers have seen.
struct Stress {
    clock: ManualClock,
    sink: Arc<Recorder>,
    breaker: Arc<Breaker>,
    policy: RetryPolicy,
    /// Probes held right now (by permit callers), or attempts running while the breaker is
    /// half-open (by `Call` callers): never more than [`PROBES`].
    probes_held: AtomicU32,
    most_probes_held: AtomicU32,
    /// Probe permits the current wave's permit callers were given, and of those, abandoned.
    probes_admitted: AtomicU32,
    probes_abandoned: AtomicU32,
}

impl Stress {
    fn new() -> Arc<Self> {
        let clock = ManualClock::new();
        let sink = Arc::new(Recorder::default());
        let registry = Registry::builder()
            .config(RegistryConfig {
                breaker: BreakerConfig {
                    consecutive_failures: Some(TRIP_AFTER),
                    open_duration: OPEN,
                    half_open_probes: PROBES,
                    ..BreakerConfig::new()
                },
                ..RegistryConfig::default()
            })
            .clock(Arc::new(clock.clone()))
            .sink(sink.clone())
            .build()
            .expect("valid breaker configuration");
        Arc::new(Stress {
            clock,
            sink,
            breaker: registry.breaker("backend"),
            policy: RetryPolicy::builder().max_attempts(1).build().unwrap(),
            probes_held: AtomicU32::new(0),
            most_probes_held: AtomicU32::new(0),
            probes_admitted: AtomicU32::new(0),
            probes_abandoned: AtomicU32::new(0),
        })
    }

    /// Counts one more probe held; `held` is the count including it.
    fn check_probes_held(&self, held: u32) {
        self.most_probes_held.fetch_max(held, SeqCst);
        assert!(
            held <= PROBES,
            "{held} probes held at once; the breaker admits {PROBES}"
        );
    }
}

/// What the callers of a wave saw, summed.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Admitted calls that ran to the end and recorded their result.
    finished: usize,
    /// Rejected because the breaker was open.
    rejected: usize,
    /// Rejected because every probe was taken (the caller then asks again).
    probes_taken: usize,
    /// Admitted calls abandoned mid-attempt.
    abandoned: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.finished += other.finished;
        self.rejected += other.rejected;
        self.probes_taken += other.probes_taken;
        self.abandoned += other.abandoned;
    }
}

async fn hold() {
    for _ in 0..HOLD {
        tokio::task::yield_now().await;
    }
}

fn failure() -> Error {
    Error::Status {
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: None,
        attempts: 1,
    }
}

/// One caller through `try_acquire` and `record`: asks until it is admitted or the breaker is
/// open (a half-open breaker with every probe taken is asked again), holds its permit, then
/// records the wave's outcome, or, if it `cancels`, drops its first permit unrecorded (its call
/// was cancelled) and asks again.
async fn permit_caller(stress: Arc<Stress>, wave: Wave, mut cancels: bool) -> Tally {
    let breaker = &stress.breaker;
    let mut tally = Tally::default();
    loop {
        // The clock stands still during a wave, so a breaker open now stays open until the
        // end of it: a caller that sees it open must be rejected.
        let open = breaker.rejects_now();
        let permit = match breaker.try_acquire() {
            Ok(permit) => permit,
            Err(rejected) if rejected.retry_in.is_zero() => {
                tally.probes_taken += 1;
                tokio::task::yield_now().await;
                continue;
            }
            Err(_) => {
                tally.rejected += 1;
                return tally;
            }
        };
        assert!(!open, "a call was admitted while the breaker was open");
        let probe = permit.is_probe();
        if probe {
            stress.probes_admitted.fetch_add(1, SeqCst);
            stress.check_probes_held(stress.probes_held.fetch_add(1, SeqCst) + 1);
        }
        hold().await;
        if probe {
            // Before the permit goes: a slot it frees may be taken at once.
            stress.probes_held.fetch_sub(1, SeqCst);
        }
        if cancels {
            cancels = false;
            if probe {
                stress.probes_abandoned.fetch_add(1, SeqCst);
            }
            tally.abandoned += 1;
            drop(permit);
            continue;
        }
        permit.record(wave.fails(), None);
        tally.finished += 1;
        return tally;
    }
}

/// An attempt running while the breaker is half-open, counted as a probe held.
struct Running<'a>(&'a Stress);

impl<'a> Running<'a> {
    fn start(stress: &'a Stress) -> Self {
        let running = stress.probes_held.fetch_add(1, SeqCst) + 1;
        // Within a wave a breaker is half-open at most once, and every attempt admitted before
        // it closes is a probe: an attempt that finds it half-open counts only probes.
        if stress.breaker.state() == HalfOpen {
            stress.check_probes_held(running);
        }
        Running(stress)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.probes_held.fetch_sub(1, SeqCst);
    }
}

/// One attempt of a `Call` caller: holds on, then has the wave's outcome, or never ends if it
/// `hangs` (its caller abandons it).
async fn attempt(stress: &Stress, wave: Wave, hangs: bool) -> Result<(), Error> {
    let _running = Running::start(stress);
    hold().await;
    if hangs {
        std::future::pending::<()>().await;
    }
    if wave.fails() { Err(failure()) } else { Ok(()) }
}

/// One caller through `Call::run`: as [`permit_caller`], but a caller that `cancels` drops its
/// first admitted call while the attempt is under way.
async fn call_caller(stress: Arc<Stress>, wave: Wave, mut cancels: bool) -> Tally {
    let mut tally = Tally::default();
    loop {
        let open = stress.breaker.rejects_now();
        let mut ran = false;
        let hangs = cancels;
        let call = Call::new(OPERATION, &stress.policy)
            .breaker(&stress.breaker)
            .sink(&*stress.sink)
            .run(|| {
                ran = true;
                attempt(&stress, wave, hangs)
            });
        // A hanging attempt is abandoned once it has held its permit a while; a rejected call
        // returns before that.
        let result = tokio::select! {
            biased;
            result = call => Some(result),
            () = hold(), if hangs => None,
        };
        match result {
            None => {
                assert!(
                    ran && !open,
                    "only an admitted call has an attempt to abandon"
                );
                cancels = false;
                tally.abandoned += 1;
            }
            Some(Err(Error::CircuitOpen {
                retry_in,
                attempts: 0,
                ..
            })) => {
                assert!(!ran, "a rejected call ran its operation");
                if !retry_in.is_zero() {
                    tally.rejected += 1;
                    return tally;
                }
                tally.probes_taken += 1;
                tokio::task::yield_now().await;
            }
            Some(result) => {
                assert!(!open, "a call was admitted while the breaker was open");
                assert!(ran);
                assert_eq!(result.is_err(), wave.fails(), "{result:?}");
                tally.finished += 1;
                return tally;
            }
        }
    }
}

/// Runs one wave of [`CALLERS`] concurrent callers and checks what it did to the breaker;
/// returns the transitions it reported, in the order the sink got them.
async fn run_wave(stress: &Arc<Stress>, wave: Wave, callers: Callers) -> (Tally, Vec<Change>) {
    let breaker = &stress.breaker;
    let reported_before = stress.sink.transitions().len();
    stress.probes_admitted.store(0, SeqCst);
    stress.probes_abandoned.store(0, SeqCst);

    let tasks: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let stress = Arc::clone(stress);
            let cancels = wave.cancels(caller);
            tokio::spawn(async move {
                match callers {
                    Callers::Permits => permit_caller(stress, wave, cancels).await,
                    Callers::Calls => call_caller(stress, wave, cancels).await,
                }
            })
        })
        .collect();
    // Bounded, so that a breaker stuck half-open (its callers asking for a probe forever) fails
    // the wave rather than hanging it.
    let joined = tokio::time::timeout(WAVE_LIMIT, async {
        let mut tally = Tally::default();
        for task in tasks {
            tally += task.await.expect("a caller failed: see its panic above");
        }
        tally
    });
    let tally = joined
        .await
        .unwrap_or_else(|_| panic!("{wave:?}: callers still asking after {WAVE_LIMIT:?}"));

    // Exactly the transitions the wave makes, each reported once. Within a wave two of them are
    // made by different callers, which report them after releasing the breaker's transition
    // lock, so they are compared as a set here; their order is checked by
    // `transitions_reach_the_sink_in_the_order_they_are_made`.
    let reported = stress.sink.transitions()[reported_before..].to_vec();
    let mut sorted = reported.clone();
    sorted.sort_by_key(|&(from, to)| (from.label(), to.label()));
    let mut expected = wave.transitions().to_vec();
    expected.sort_by_key(|&(from, to)| (from.label(), to.label()));
    assert_eq!(sorted, expected, "{wave:?}: transitions reported");
    assert_eq!(breaker.state(), wave.leaves(), "{wave:?}: state after");

    assert_eq!(
        tally.finished + tally.rejected,
        CALLERS,
        "{wave:?}: every caller ends admitted or rejected: {tally:?}"
    );
    match wave {
        Wave::FailWhileClosed => assert!(tally.finished >= TRIP_AFTER as usize, "{tally:?}"),
        Wave::WhileOpen => assert_eq!(tally.rejected, CALLERS, "{tally:?}"),
        Wave::ProbesFail => assert!(tally.finished >= 1, "{tally:?}"),
        Wave::ProbesSucceed => assert_eq!(tally.finished, CALLERS, "{tally:?}"),
    }
    if let Callers::Permits = callers {
        let admitted = stress.probes_admitted.load(SeqCst);
        let abandoned = stress.probes_abandoned.load(SeqCst);
        match wave {
            Wave::FailWhileClosed | Wave::WhileOpen => assert_eq!(admitted, 0),
            // The first failed probe reopens the breaker: at least one, at most all of them.
            Wave::ProbesFail => assert!((1..=PROBES).contains(&admitted), "{admitted} probes"),
            // Closing takes `PROBES` successes, and a slot is admitted again only when an
            // abandoned probe gave it back.
            Wave::ProbesSucceed => assert_eq!(
                admitted,
                PROBES + abandoned,
                "probes admitted ({abandoned} abandoned)"
            ),
        }
    }
    (tally, reported)
}

/// Drives the breaker through [`CYCLES`] cycles of the four waves and checks the whole run.
async fn cycle_the_breaker(callers: Callers) {
    let stress = Stress::new();
    let mut totals = Tally::default();
    let mut reordered = 0;
    for _ in 0..CYCLES {
        for wave in Wave::CYCLE {
            if matches!(wave, Wave::ProbesFail | Wave::ProbesSucceed) {
                assert!(stress.breaker.rejects_now(), "open, with time left");
                stress.clock.advance(OPEN);
                assert!(
                    !stress.breaker.rejects_now(),
                    "the open duration has passed"
                );
            }
            let (tally, reported) = run_wave(&stress, wave, callers).await;
            totals += tally;
            if reported != wave.transitions() {
                reordered += 1;
            }
        }
    }

    // The run cycled: every transition it went through was reported, once.
    let transitions = stress.sink.transitions();
    let count = |change: Change| transitions.iter().filter(|&&c| c == change).count();
    assert_eq!(transitions.len(), 5 * CYCLES);
    assert_eq!(count((Closed, Open)), CYCLES);
    assert_eq!(count((Open, HalfOpen)), 2 * CYCLES);
    assert_eq!(count((HalfOpen, Open)), CYCLES);
    assert_eq!(count((HalfOpen, Closed)), CYCLES);
    // The probe limit was reached, not only respected.
    assert_eq!(stress.most_probes_held.load(SeqCst), PROBES);
    assert_eq!(stress.probes_held.load(SeqCst), 0);
    assert_eq!(
        totals.abandoned,
        CYCLES * CALLERS.div_ceil(CANCEL_EVERY),
        "every canceller abandoned one call: {totals:?}"
    );
    if let Callers::Calls = callers {
        // Each rejection and each finished attempt reported once; abandoned attempts never
        // finish, so they report nothing.
        let rejections = totals.rejected + totals.probes_taken;
        assert_eq!(stress.sink.rejected.load(SeqCst), rejections);
        assert_eq!(stress.sink.attempts_finished.load(SeqCst), totals.finished);
    }
    eprintln!(
        "{callers:?}: {totals:?}; transitions of {reordered} wave(s) reached the sink out of order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_permits_cycle_the_breaker_within_its_invariants() {
    cycle_the_breaker(Callers::Permits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_cycle_the_breaker_within_its_invariants() {
    cycle_the_breaker(Callers::Calls).await;
}

/// A sink that, told the breaker closed, holds that event (as a slow or descheduled sink would)
/// until the test lets it go, recording every transition when its `record` returns.
#[derive(Debug)]
struct HoldsTheClose {
    transitions: Mutex<Vec<Change>>,
    holding: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl MetricsSink for HoldsTheClose {
    fn record(&self, event: &Event<'_>) {
        let EventKind::BreakerStateChanged { from, to } = event.kind else {
            return;
        };
        if (from, to) == (HalfOpen, Closed) {
            let _ = self.holding.lock().unwrap().send(());
            // Bounded, so that a runtime reporting under its transition lock (where the test's
            // second transition waits for this one) cannot hang the test.
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(5));
        }
        self.transitions.lock().unwrap().push((from, to));
    }
}

/// Two transitions made back to back by two threads: the probe that closes the breaker, and
/// a call that fails at once and opens it again. The sink must see them in that order: an
/// exporter sets its state gauge from each event's `to`, so the reverse order leaves the gauge
/// at `closed` while the breaker is open.
#[test]
fn transitions_reach_the_sink_in_the_order_they_are_made() {
    let clock = ManualClock::new();
    let (holding, held) = mpsc::channel();
    let (release, released) = mpsc::channel();
    let sink = Arc::new(HoldsTheClose {
        transitions: Mutex::default(),
        holding: Mutex::new(holding),
        release: Mutex::new(released),
    });
    let breaker = Registry::builder()
        .config(RegistryConfig {
            breaker: BreakerConfig {
                consecutive_failures: Some(1),
                open_duration: OPEN,
                ..BreakerConfig::new()
            },
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock.clone()))
        .sink(sink.clone())
        .build()
        .unwrap()
        .breaker("backend");
    breaker.try_acquire().unwrap().record(true, None);
    clock.advance(OPEN);
    let probe = breaker.try_acquire().unwrap();
    assert!(probe.is_probe());

    std::thread::scope(|scope| {
        let closer = scope.spawn(|| probe.record(false, None));
        held.recv_timeout(Duration::from_secs(5))
            .expect("the probe closes the breaker and reports it");
        // The breaker is closed; a call fails and opens it again while the close is still on
        // its way to the sink.
        let (failed, failing) = mpsc::channel();
        let breaker = &breaker;
        let opener = scope.spawn(move || {
            breaker.try_acquire().unwrap().record(true, None);
            failed.send(()).unwrap();
        });
        // Where reports are ordered the failing call waits for the close's report, so this
        // times out; otherwise it returns at once. Either way the close is released after.
        let _ = failing.recv_timeout(Duration::from_millis(300));
        release.send(()).unwrap();
        closer.join().unwrap();
        opener.join().unwrap();
    });

    assert_eq!(breaker.state(), Open);
    let transitions = sink.transitions.lock().unwrap().clone();
    assert_eq!(
        transitions.last().map(|&(_, to)| to),
        Some(Open),
        "the last transition reported is the breaker's state: {transitions:?}"
    );
    assert_eq!(
        transitions,
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open)
        ]
    );
}
