//! What resilience costs a busy client: requests per second of plain GETs against a local axum
//! server, for bare reqwest and for four resilient clients built on it, in one run. Run with
//! `cargo bench --bench throughput --features peers`; it prints a markdown table and stops by
//! itself (about 3 minutes on a 2-core machine).
//!
//! The server listens on an ephemeral port of 127.0.0.1, on the same tokio multi-thread runtime
//! as the clients, and answers every `GET /` with a 200 and a 2-byte body over HTTP/1.1. Each
//! client sends `REQUESTS` GETs from `CONCURRENCY` tasks that take request numbers from one
//! shared counter, reads every body and checks its length; a failed request stops the program,
//! since a throughput with errors in it compares nothing. Each client is warmed up once with
//! `WARM_UP` requests (its pool then holds its connections), then the five are timed in
//! `ROUNDS` rounds, the order rotating each round so no client always runs first or last. The
//! table reports each client's median rate and, since one round's clients run back to back,
//! its per-round ratios to bare reqwest: their median, middle half and extremes. The goal of
//! issue #5 is at least 0.98 for `resilient_http::Client`.
//!
//! | client | configuration |
//! |---|---|
//! | `reqwest` | `reqwest::Client::new()`: reqwest's own default layer retries protocol NACKs only |
//! | `resilient_http::Client` | defaults: `RetryPolicy::default()`, the `default` breaker and budget of a fresh `Registry` |
//! | `#[resilient]` | `#[resilient(breaker = "throughput")]` on a typed client's method; global registry, defaults otherwise |
//! | `reqwest-retry` | `RetryTransientMiddleware::new_with_policy(ExponentialBackoff::builder().build_with_max_retries(3))`, as its crate docs show |
//! | `reqwest retry` | `ClientBuilder::retry(retry::for_host("127.0.0.1").classify_fn(..))` retrying a GET's 503, as its docs show; default budget (20% extra load) and 2 retries |
//!
//! Every request succeeds, so what differs is each client's work around a healthy call.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use reqwest::{Method, StatusCode};
use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resilient_http::{Error, Registry, resilient};
use tokio::task::JoinSet;

/// Requests per timed run of one client.
const REQUESTS: usize = 20_000;
/// Requests in flight at once, one task each.
const CONCURRENCY: usize = 64;
/// Requests sent by each client before any is timed: opens its pool's connections.
const WARM_UP: usize = 1_000;
/// Timed runs of each client. Odd, for a plain median; enough that the middle half of the
/// per-round ratios is narrower than the 2% the goal asks about.
const ROUNDS: usize = 15;
/// What the server answers, short so that the client's own work is what is measured.
const BODY: &str = "ok";

/// A typed API client whose method is made resilient by the attribute, as a user would write it.
struct TypedClient {
    http: reqwest::Client,
}

impl TypedClient {
    #[resilient(breaker = "throughput")]
    async fn fetch(&self, url: &str) -> Result<usize, Error> {
        let response = resilient_http::error_for_status(self.http.get(url).send().await?)?;
        Ok(response.bytes().await?.len())
    }
}

/// One client under test. Every variant does the same GET, status check and body read.
enum Subject {
    Bare(reqwest::Client),
    Ours(resilient_http::Client),
    Macro(TypedClient),
    Middleware(ClientWithMiddleware),
    BuiltIn(reqwest::Client),
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl Subject {
    /// GETs `url` and returns the length of the body read.
    async fn fetch(&self, url: &str) -> Result<usize, BoxError> {
        Ok(match self {
            Subject::Bare(http) | Subject::BuiltIn(http) => {
                let response = http.get(url).send().await?.error_for_status()?;
                response.bytes().await?.len()
            }
            Subject::Ours(client) => {
                let response = client.get(url).send().await?.error_for_status()?;
                response.bytes().await?.len()
            }
            Subject::Macro(client) => client.fetch(url).await?,
            Subject::Middleware(client) => {
                let response = client.get(url).send().await?.error_for_status()?;
                response.bytes().await?.len()
            }
        })
    }
}

/// Sends `requests` GETs to `url` from `CONCURRENCY` tasks and returns how long they took.
///
/// # Panics
/// If a request fails or a body is not `BODY`.
async fn run(subject: &Arc<Subject>, url: &Arc<str>, requests: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (subject, url, next) = (subject.clone(), url.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let len = subject.fetch(&url).await.expect("a loopback GET succeeds");
                assert_eq!(len, BODY.len(), "the whole body is read");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a request task panicked");
    }
    start.elapsed()
}

/// The five clients, in the order of the table.
fn subjects(registry: &Registry) -> Vec<(&'static str, Arc<Subject>)> {
    let ours = resilient_http::Client::builder()
        .registry(registry)
        .build()
        .expect("the default configuration is valid");
    let middleware = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(
            ExponentialBackoff::builder().build_with_max_retries(3),
        ))
        .build();
    // The classifier of reqwest's own example: without one, a scoped policy retries nothing.
    let built_in = reqwest::Client::builder()
        .retry(
            reqwest::retry::for_host("127.0.0.1").classify_fn(|req_rep| {
                match (req_rep.method(), req_rep.status()) {
                    (&Method::GET, Some(StatusCode::SERVICE_UNAVAILABLE)) => req_rep.retryable(),
                    _ => req_rep.success(),
                }
            }),
        )
        .build()
        .expect("a reqwest client builds");
    vec![
        ("`reqwest`", Subject::Bare(reqwest::Client::new())),
        ("`resilient_http::Client`", Subject::Ours(ours)),
        (
            "`#[resilient]`",
            Subject::Macro(TypedClient {
                http: reqwest::Client::new(),
            }),
        ),
        ("`reqwest-retry`", Subject::Middleware(middleware)),
        ("`reqwest retry`", Subject::BuiltIn(built_in)),
    ]
    .into_iter()
    .map(|(name, subject)| (name, Arc::new(subject)))
    .collect()
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("an ephemeral loopback port is free");
    let url: Arc<str> = format!("http://{}/", listener.local_addr().expect("bound")).into();
    let app = Router::new().route("/", get(|| async { BODY }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });

    let registry = Registry::new();
    let subjects = subjects(&registry);
    for (_, subject) in &subjects {
        run(subject, &url, WARM_UP).await;
    }

    let mut rates = vec![Vec::with_capacity(ROUNDS); subjects.len()];
    for round in 0..ROUNDS {
        for offset in 0..subjects.len() {
            let index = (round + offset) % subjects.len();
            let elapsed = run(&subjects[index].1, &url, REQUESTS).await;
            rates[index].push(REQUESTS as f64 / elapsed.as_secs_f64());
        }
    }

    let medians: Vec<f64> = rates.iter().map(|r| median(r)).collect();
    println!(
        "{REQUESTS} GETs at concurrency {CONCURRENCY} per run, {ROUNDS} rounds, {} worker threads\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| client | median req/s | median ratio to `reqwest` | middle half of the ratios | lowest, highest ratio |"
    );
    println!("|---|---:|---:|---:|---:|");
    let bare = &rates[0];
    for ((name, _), (rates, median)) in subjects.iter().zip(rates.iter().zip(&medians)) {
        // Each round runs every client back to back, so a round's ratio to bare reqwest
        // cancels what drifts between rounds (the machine's other load, the pool's state).
        let mut ratios: Vec<f64> = rates.iter().zip(bare).map(|(r, b)| r / b).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {name} | {median:.0} | {:.3} | {:.3} to {:.3} | {:.3}, {:.3} |",
            ratios[ROUNDS / 2],
            ratios[ROUNDS / 4],
            ratios[ROUNDS * 3 / 4],
            ratios[0],
            ratios[ROUNDS - 1],
        );
    }
}

/// The median of an odd number of values.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
