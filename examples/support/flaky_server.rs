//! A flaky HTTP server on 127.0.0.1 for the examples: it fails on command.

// Each example includes this module and uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// How the server behaves, switched at run time by the example.
#[derive(Debug, Default)]
pub(crate) struct Behaviour {
    /// Answer 503 to this many more requests before answering 200.
    failures_left: AtomicU32,
    /// Answer 503 to everything while non-zero.
    down: AtomicU32,
    hits: AtomicUsize,
}

impl Behaviour {
    /// Fail the next `n` requests.
    pub(crate) fn fail_next(&self, n: u32) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// Fail every request until [`Behaviour::recover`].
    pub(crate) fn go_down(&self) {
        self.down.store(1, Ordering::SeqCst);
    }

    /// Answer normally again.
    pub(crate) fn recover(&self) {
        self.down.store(0, Ordering::SeqCst);
    }

    /// Requests that reached the server.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn invoice(State(behaviour): State<Arc<Behaviour>>) -> (StatusCode, &'static str) {
    behaviour.hits.fetch_add(1, Ordering::SeqCst);
    let down = behaviour.down.load(Ordering::SeqCst) != 0;
    let failing = behaviour
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if down || failing {
        (StatusCode::SERVICE_UNAVAILABLE, "try again later")
    } else {
        (StatusCode::OK, r#"{"id":42,"amount_cents":1999}"#)
    }
}

/// Starts the server on an ephemeral loopback port, on the current tokio runtime.
pub(crate) async fn start() -> (SocketAddr, Arc<Behaviour>) {
    let behaviour = Arc::new(Behaviour::default());
    let app = Router::new()
        .route("/invoices/{id}", get(invoice))
        .with_state(behaviour.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, behaviour)
}
