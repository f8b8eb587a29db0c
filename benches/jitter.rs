//! Jitter under contention (issue #5, experiment 5): the experiment of the AWS Architecture
//! Blog's "Exponential Backoff And Jitter", rerun with this crate's [`Backoff`] and [`Jitter`].
//! Run with `cargo bench --bench jitter`; it prints a markdown table in well under a second.
//!
//! The model is the article's simulator (`aws-samples/aws-arch-backoff-simulator`), in virtual
//! time, deterministic (seeded `SmallRng`s), nothing slept: N clients start together, each
//! wanting to update one row under optimistic concurrency control. A client reads the row's
//! version, then writes with it; the write succeeds only if no other write landed in between
//! (the version is unchanged), and then the client is done. A client whose write failed waits
//! its backoff delay and starts over with a fresh read. Every message crosses a network whose
//! delay is `|N(10 ms, 2 ms)|`. "Calls" counts writes (the work the contended resource sees);
//! "time" is when the last client finished. Both are means over 100 runs per cell.
//!
//! Strategies, all capped at 2 s, each drawing its delays with [`Backoff::delays`] from one
//! seeded generator per client: `none` retries at once ([`Backoff::None`]); the others wait as
//! the article's do, with its base of 5 ms. The article's exponential waits `base * 2^n` before
//! retry `n`, from 10 ms on, which is our `Backoff::exponential(10 ms, 2.0, 2 s)` (its first
//! wait is `initial`); under it, [`Jitter::None`], `Equal` and `Full`. Its decorrelated jitter
//! draws from `[base, 3 * previous]` starting from `base`, which is [`Jitter::Decorrelated`]
//! over `Backoff::exponential(5 ms, 2.0, 2 s)` (only the initial wait and the cap matter to it).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};
use resilient_http::{Backoff, Delays, Jitter};

const CLIENTS: [u32; 2] = [50, 100];
const RUNS: u64 = 100;
/// The article's `base`.
const BASE: Duration = Duration::from_millis(5);
const CAP: Duration = Duration::from_secs(2);
/// The article's waits `base * 2^n` for retries `n = 1, 2, ...`: our `initial * 2^(n-1)`.
const EXPONENTIAL: Backoff = Backoff::exponential(BASE.saturating_mul(2), 2.0, CAP);
const NET_MEAN_MS: f64 = 10.0;
const NET_SD_MS: f64 = 2.0;

/// A backoff and jitter, named as in the article.
struct Strategy {
    name: &'static str,
    backoff: Backoff,
    jitter: Jitter,
}

const STRATEGIES: [Strategy; 5] = [
    Strategy {
        name: "none (no backoff)",
        backoff: Backoff::None,
        jitter: Jitter::None,
    },
    Strategy {
        name: "exponential, no jitter",
        backoff: EXPONENTIAL,
        jitter: Jitter::None,
    },
    Strategy {
        name: "equal jitter",
        backoff: EXPONENTIAL,
        jitter: Jitter::Equal,
    },
    Strategy {
        name: "full jitter",
        backoff: EXPONENTIAL,
        jitter: Jitter::Full,
    },
    Strategy {
        name: "decorrelated jitter",
        // Its lower bound and first `previous` are the initial wait: the article's `base`.
        backoff: Backoff::exponential(BASE, 2.0, CAP),
        jitter: Jitter::Decorrelated,
    },
];

fn main() {
    println!(
        "OCC contention, {RUNS} runs per cell; base 5 ms, cap 2 s; network |N(10 ms, 2 ms)| per message\n"
    );
    print!("| strategy |");
    for n in CLIENTS {
        print!(" calls, N={n} | time, N={n} | calls vs full, N={n} |");
    }
    println!();
    println!("|---|{}", "---:|---:|---:|".repeat(CLIENTS.len()));
    let results: Vec<Vec<(f64, f64)>> = STRATEGIES
        .iter()
        .map(|strategy| CLIENTS.iter().map(|&n| mean(strategy, n)).collect())
        .collect();
    let full = STRATEGIES
        .iter()
        .position(|s| s.jitter == Jitter::Full)
        .expect("full jitter is measured");
    for (strategy, row) in STRATEGIES.iter().zip(&results) {
        print!("| {} |", strategy.name);
        for (i, &(calls, time)) in row.iter().enumerate() {
            let vs_full = calls / results[full][i].0;
            print!(" {calls:.0} | {:.0} ms | {vs_full:.2}x |", time * 1e3);
        }
        println!();
    }
}

/// Mean calls and completion time (seconds) of `strategy` with `clients` clients.
fn mean(strategy: &Strategy, clients: u32) -> (f64, f64) {
    let (mut calls, mut time) = (0u64, Duration::ZERO);
    for run in 0..RUNS {
        let outcome = simulate(strategy, clients, run);
        calls += outcome.calls;
        time += outcome.time;
    }
    // At most a few million calls: exact as f64.
    let runs = RUNS as f64;
    (calls as f64 / runs, time.as_secs_f64() / runs)
}

/// What one run of the simulation produced.
struct Outcome {
    calls: u64,
    time: Duration,
}

/// A message on its way, delivered at its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Message {
    /// A client asks the server for the row's version.
    Read { client: usize },
    /// The server tells a client the version.
    ReadReply { client: usize, version: u64 },
    /// A client writes the row, expecting `version`.
    Write { client: usize, version: u64 },
    /// The server tells a client whether its write succeeded.
    WriteReply { client: usize, ok: bool },
}

/// One run: `clients` clients start at time zero; seeded by `run`, so every strategy sees the
/// same network for the same run until their choices diverge.
fn simulate(strategy: &Strategy, clients: u32, run: u64) -> Outcome {
    let mut net = SmallRng::seed_from_u64(run);
    let mut delays: Vec<Delays<SmallRng>> = (0..u64::from(clients))
        .map(|client| {
            let rng = SmallRng::seed_from_u64((run << 32) | (client + 1));
            strategy.backoff.delays(strategy.jitter, rng)
        })
        .collect();
    let mut version = 0;
    let mut calls = 0;
    // Ordered by delivery time, then by sending order, so ties resolve deterministically.
    let mut queue = BinaryHeap::new();
    let mut sent = 0u64;
    let mut send = |queue: &mut BinaryHeap<_>, at: Duration, message: Message| {
        queue.push(Reverse((at, sent, message)));
        sent += 1;
    };
    for client in 0..delays.len() {
        send(
            &mut queue,
            network_delay(&mut net),
            Message::Read { client },
        );
    }
    let mut now = Duration::ZERO;
    while let Some(Reverse((at, _, message))) = queue.pop() {
        now = at;
        let (next_at, next) = match message {
            Message::Read { client } => (now, Message::ReadReply { client, version }),
            Message::ReadReply { client, version } => (now, Message::Write { client, version }),
            Message::Write {
                client,
                version: expected,
            } => {
                calls += 1;
                let ok = expected == version;
                if ok {
                    version += 1;
                }
                (now, Message::WriteReply { client, ok })
            }
            Message::WriteReply { ok: true, .. } => continue,
            Message::WriteReply { client, ok: false } => {
                let wait = delays[client].next().expect("backoff delays are endless");
                (now + wait, Message::Read { client })
            }
        };
        send(&mut queue, next_at + network_delay(&mut net), next);
    }
    Outcome { calls, time: now }
}

/// One message's network delay, `|N(mean, sd)|` as in the article's simulator, drawn by the
/// Box-Muller transform (rand has no normal distribution without `rand_distr`).
fn network_delay<R: Rng>(rng: &mut R) -> Duration {
    // `1 - U[0, 1)` is in (0, 1]: the logarithm stays finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    Duration::from_secs_f64((NET_MEAN_MS + NET_SD_MS * z).abs() / 1e3)
}
