//! Retry storm and recovery (issue #5, experiment 4): what each retry library does to a backend
//! that goes down and comes back. Run with `cargo bench --bench storm --features peers`; it
//! prints a markdown table and stops by itself (about ten seconds per contender, forty for ours
//! with defaults).
//!
//! A fresh local HTTP server (axum on 127.0.0.1) per contender answers 200 for a 1 s warm-up,
//! 503 to everything for a 5 s outage, then 200 again for 3 s (or, for a breaker that stays open
//! longer than that, for its open duration and 3 s more). 200 callers share one client of
//! the contender; each loops: one call (a GET, retried as the contender retries it), then 50 ms
//! of think time, until the end of the scenario. Callers start staggered over the first think
//! time, and the warm-up lets connection pools and retry budgets reach their steady state, so
//! the outage hits a running client, as it does in production. The server logs the time of
//! every request it receives; the callers log when each call started and ended and whether it
//! ended with a 200.
//!
//! | contender | configuration |
//! |---|---|
//! | naive | a hand loop over `reqwest::Client`: 3 attempts, no wait, no budget |
//! | backon | `ExponentialBuilder::default()`: 3 retries, after 1 s, 2 s and 4 s (no jitter) |
//! | reqwest-retry | `ExponentialBackoff::builder().build_with_max_retries(3)`: 3 retries, after U(0, 1 s), U(0, 2 s), U(0, 4 s) |
//! | reqwest built-in | `retry::for_host(..)` with its documented 503 classifier; defaults: 2 retries, no wait, 20% budget |
//! | ours, open 1s | `resilient_http::Client` on a fresh `Registry`, every default (3 attempts, waits of U(0, 100 ms) then U(0, 200 ms), breaker trips after 5 failures in a row, budget 20% + 10/s) but the breaker's `open_duration = 1s` |
//! | ours, defaults | the same with every default (`open_duration = 30s`) |
//!
//! The default open duration (30 s) is longer than the outage and its 3 s aftermath, so the
//! first `ours` row shortens it to fit them; the second keeps it, and its server stays healthy
//! 33 s after the outage, long enough for the breaker's first probe after recovery.
//!
//! Reported per contender: amplification (server hits during the outage over calls started
//! during it); for ours, when the breaker first opened (from the outage's start) and the server
//! hits that arrived while it was not closed, split by the breaker's state at their arrival:
//! while half-open they are its probes, while open they can only be attempts admitted before it
//! tripped and still on their way; then for everyone the time from recovery to the first call
//! that succeeded, and the share of calls started after recovery that succeeded.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resilient_http::{
    BreakerConfig, BreakerState, Event, EventKind, MetricsSink, Registry, RegistryConfig,
};

const CALLERS: u32 = 200;
const THINK: Duration = Duration::from_millis(50);
const WARM_UP: Duration = Duration::from_secs(1);
const OUTAGE: Duration = Duration::from_secs(5);
/// How long the server stays healthy after the outage, at least: see [`Kind::after`].
const AFTER: Duration = Duration::from_secs(3);
/// When the outage ends.
const RECOVERY: Duration = WARM_UP.saturating_add(OUTAGE);
/// How long a scenario may run past its end, calls in flight then included: the slowest
/// contender's last call (backon's 1 + 2 + 4 s of waits) ends long before it.
const OVERRUN: Duration = Duration::from_secs(21);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "{CALLERS} callers, {} ms think time; warm-up {WARM_UP:?}, outage {OUTAGE:?}, then {AFTER:?} healthy (ours with defaults: its open duration and {AFTER:?})\n",
        THINK.as_millis()
    );
    println!(
        "| contender | calls in outage | hits in outage | amplification | breaker opened after | hits while open: probes + in flight at trip | first success after recovery | success after recovery |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for kind in Kind::ALL {
        let row = runtime.block_on(scenario(kind));
        println!("{row}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Naive,
    Backon,
    ReqwestRetry,
    ReqwestBuiltin,
    Ours { open: Duration },
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Naive,
        Kind::Backon,
        Kind::ReqwestRetry,
        Kind::ReqwestBuiltin,
        Kind::Ours {
            open: Duration::from_secs(1),
        },
        Kind::Ours {
            open: BreakerConfig::new().open_duration,
        },
    ];

    /// How long the server stays healthy after the outage: [`AFTER`], or, for a breaker that
    /// stays open longer than that, its open duration and [`AFTER`] more, so that the breaker's
    /// first probe after recovery falls inside the scenario.
    fn after(self) -> Duration {
        match self {
            Kind::Ours { open } if open > AFTER => open + AFTER,
            _ => AFTER,
        }
    }

    fn name(self) -> String {
        match self {
            Kind::Naive => "naive".to_owned(),
            Kind::Backon => "backon".to_owned(),
            Kind::ReqwestRetry => "reqwest-retry".to_owned(),
            Kind::ReqwestBuiltin => "reqwest built-in".to_owned(),
            Kind::Ours { open } if open == BreakerConfig::new().open_duration => {
                format!("ours, defaults (open {open:?})")
            }
            Kind::Ours { open } => format!("ours, open {open:?}"),
        }
    }
}

/// One contender's client, shared by every caller.
enum Contender {
    Naive(reqwest::Client),
    Backon(reqwest::Client),
    ReqwestRetry(reqwest_middleware::ClientWithMiddleware),
    ReqwestBuiltin(reqwest::Client),
    Ours(resilient_http::Client),
}

impl Contender {
    /// The client of `kind`; ours reports its breaker's transitions to `transitions`.
    fn new(kind: Kind, transitions: Arc<Transitions>) -> Self {
        match kind {
            Kind::Naive => Contender::Naive(reqwest::Client::new()),
            Kind::Backon => Contender::Backon(reqwest::Client::new()),
            Kind::ReqwestRetry => {
                let policy = ExponentialBackoff::builder().build_with_max_retries(3);
                let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                    .with(RetryTransientMiddleware::new_with_policy(policy))
                    .build();
                Contender::ReqwestRetry(client)
            }
            Kind::ReqwestBuiltin => {
                // The classifier of `reqwest::retry::Builder::classify_fn`'s documentation.
                let retry = reqwest::retry::for_host("127.0.0.1").classify_fn(|req_rep| {
                    match (req_rep.method(), req_rep.status()) {
                        (&Method::GET, Some(StatusCode::SERVICE_UNAVAILABLE)) => {
                            req_rep.retryable()
                        }
                        _ => req_rep.success(),
                    }
                });
                let client = reqwest::Client::builder()
                    .retry(retry)
                    .build()
                    .expect("a reqwest client");
                Contender::ReqwestBuiltin(client)
            }
            Kind::Ours { open } => {
                let config = RegistryConfig {
                    breaker: BreakerConfig {
                        open_duration: open,
                        ..BreakerConfig::new()
                    },
                    ..RegistryConfig::default()
                };
                let registry = Registry::builder()
                    .config(config)
                    .sink(transitions)
                    .build()
                    .expect("a valid registry configuration");
                // The client keeps its breaker and budget; the registry may go.
                let client = resilient_http::Client::builder()
                    .registry(&registry)
                    .build()
                    .expect("the default client configuration is valid");
                Contender::Ours(client)
            }
        }
    }

    /// Makes one call; whether it ended with a 200.
    async fn call(&self, url: &str) -> bool {
        match self {
            Contender::Naive(http) => {
                for _ in 0..3 {
                    if let Ok(response) = http.get(url).send().await
                        && response.status().is_success()
                    {
                        return true;
                    }
                }
                false
            }
            Contender::Backon(http) => {
                (|| async { http.get(url).send().await?.error_for_status() })
                    .retry(ExponentialBuilder::default())
                    .await
                    .is_ok()
            }
            Contender::ReqwestRetry(client) => client
                .get(url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success()),
            Contender::ReqwestBuiltin(http) => http
                .get(url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success()),
            Contender::Ours(client) => client
                .get(url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success()),
        }
    }
}

/// The server's state: when the scenario started and when each request arrived.
struct Server {
    start: Instant,
    hits: Mutex<Vec<Duration>>,
}

async fn handle(State(server): State<Arc<Server>>) -> StatusCode {
    let now = server.start.elapsed();
    server
        .hits
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(now);
    if (WARM_UP..RECOVERY).contains(&now) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// Our breaker's transitions, timed from the scenario's start.
#[derive(Debug)]
struct Transitions {
    start: Instant,
    log: Mutex<Vec<(Duration, BreakerState)>>,
}

impl MetricsSink for Transitions {
    fn record(&self, event: &Event<'_>) {
        if let EventKind::BreakerStateChanged { to, .. } = event.kind {
            let now = self.start.elapsed();
            self.log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((now, to));
        }
    }
}

/// One call as a caller saw it.
#[derive(Debug, Clone, Copy)]
struct CallRecord {
    start: Duration,
    end: Duration,
    ok: bool,
}

/// Runs the scenario against a fresh server and client; the table row of `kind`.
async fn scenario(kind: Kind) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url: Arc<str> = format!("http://{}/", listener.local_addr().expect("its address")).into();
    let start = Instant::now();
    let server = Arc::new(Server {
        start,
        hits: Mutex::default(),
    });
    let app = Router::new()
        .route("/", get(handle))
        .with_state(server.clone());
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let transitions = Arc::new(Transitions {
        start,
        log: Mutex::default(),
    });
    let contender = Arc::new(Contender::new(kind, transitions.clone()));
    let end = RECOVERY + kind.after();
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            // Staggered over one think time, so callers are not in lockstep before the outage.
            let offset = THINK * i / CALLERS;
            tokio::spawn(run_caller(
                contender.clone(),
                url.clone(),
                start,
                offset,
                end,
            ))
        })
        .collect();
    let all = async {
        let mut calls = Vec::new();
        for caller in callers {
            calls.extend(caller.await.expect("a caller panicked"));
        }
        calls
    };
    let calls = tokio::time::timeout(end + OVERRUN, all)
        .await
        .expect("every caller finishes within the scenario's limit");
    serving.abort();
    drop(contender);

    let hits = std::mem::take(&mut *server.hits.lock().unwrap_or_else(PoisonError::into_inner));
    let log = std::mem::take(
        &mut *transitions
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    Figures::new(kind, &calls, &hits, &log).row()
}

/// One caller: call, think, repeat until `end`, the end of the scenario.
async fn run_caller(
    contender: Arc<Contender>,
    url: Arc<str>,
    start: Instant,
    offset: Duration,
    end: Duration,
) -> Vec<CallRecord> {
    tokio::time::sleep_until((start + offset).into()).await;
    let mut records = Vec::new();
    while start.elapsed() < end {
        let begun = start.elapsed();
        let ok = contender.call(&url).await;
        records.push(CallRecord {
            start: begun,
            end: start.elapsed(),
            ok,
        });
        tokio::time::sleep(THINK).await;
    }
    records
}

/// What one scenario showed.
struct Figures {
    kind: Kind,
    calls_in_outage: usize,
    hits_in_outage: usize,
    opened_after: Option<Duration>,
    /// Hits that arrived while the breaker was half-open: its probes.
    probe_hits: usize,
    /// Hits that arrived while it was open, which admits nothing: attempts it admitted before
    /// it tripped, still on their way to the server.
    in_flight_hits: usize,
    first_success: Option<Duration>,
    after_recovery: usize,
    after_recovery_ok: usize,
}

impl Figures {
    fn new(
        kind: Kind,
        calls: &[CallRecord],
        hits: &[Duration],
        transitions: &[(Duration, BreakerState)],
    ) -> Self {
        let outage = WARM_UP..RECOVERY;
        let after: Vec<_> = calls.iter().filter(|c| c.start >= RECOVERY).collect();
        let states: Vec<_> = hits.iter().map(|&t| state_at(transitions, t)).collect();
        Figures {
            kind,
            calls_in_outage: calls.iter().filter(|c| outage.contains(&c.start)).count(),
            hits_in_outage: hits.iter().filter(|t| outage.contains(t)).count(),
            opened_after: transitions
                .iter()
                .find(|(_, to)| *to == BreakerState::Open)
                .map(|(at, _)| at.saturating_sub(WARM_UP)),
            probe_hits: states
                .iter()
                .filter(|s| **s == BreakerState::HalfOpen)
                .count(),
            in_flight_hits: states.iter().filter(|s| **s == BreakerState::Open).count(),
            first_success: calls
                .iter()
                .filter(|c| c.ok && c.end >= RECOVERY)
                .map(|c| c.end - RECOVERY)
                .min(),
            after_recovery: after.len(),
            after_recovery_ok: after.iter().filter(|c| c.ok).count(),
        }
    }

    fn row(&self) -> String {
        let ours = matches!(self.kind, Kind::Ours { .. });
        let opened = match (ours, self.opened_after) {
            (false, _) => "n/a".to_owned(),
            (true, Some(at)) => millis(at),
            (true, None) => "never".to_owned(),
        };
        let while_open = if ours {
            format!("{} + {}", self.probe_hits, self.in_flight_hits)
        } else {
            "n/a".to_owned()
        };
        let first = self
            .first_success
            .map_or_else(|| format!("none within {:?}", self.kind.after()), millis);
        format!(
            "| {} | {} | {} | {:.3}x | {opened} | {while_open} | {first} | {:.1}% ({}/{}) |",
            self.kind.name(),
            self.calls_in_outage,
            self.hits_in_outage,
            ratio(self.hits_in_outage, self.calls_in_outage),
            100.0 * ratio(self.after_recovery_ok, self.after_recovery),
            self.after_recovery_ok,
            self.after_recovery,
        )
    }
}

/// The breaker's state at `t`, from its transitions in the order they were made.
fn state_at(transitions: &[(Duration, BreakerState)], t: Duration) -> BreakerState {
    transitions
        .iter()
        .take_while(|(at, _)| *at <= t)
        .last()
        .map_or(BreakerState::Closed, |(_, state)| *state)
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(part: usize, whole: usize) -> f64 {
    // Counts are far below 2^52: exact as f64.
    part as f64 / whole.max(1) as f64
}
