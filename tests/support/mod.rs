//! Shared helpers of the integration tests: a fault-injecting HTTP server on 127.0.0.1.
//!
//! [`FaultServer`] answers requests from a script of [`Reply`]s: statuses, headers, bodies and
//! delays, and transport faults that a real flaky upstream produces (a TCP reset, a connection
//! closed before the reply, a truncated body, a request that is never answered). It records every
//! request it reads, so tests can check how many attempts a client made and what each one carried.
//!
//! # Why a small raw HTTP/1.1 server, not axum
//!
//! Half the faults cannot be expressed through axum: hyper owns the socket, so a handler can
//! neither reset the connection after reading the request, nor send fewer body bytes than the
//! `Content-Length` it declared (hyper refuses to frame that). Serving normal replies with axum and
//! faults with a raw listener would give two servers whose request counts and ordering must be
//! stitched together. One raw server that parses the request head, reads the whole body
//! (`Content-Length` or chunked) and writes the scripted bytes handles every reply the same way,
//! and counts requests in exactly the order it reads them. It speaks HTTP/1.x only, which is what
//! reqwest uses for `http://` URLs unless told to assume HTTP/2.
//!
//! Keep-alive works as clients expect: a connection is served request after request, each counted
//! and answered in order (pipelined requests too), until the client closes it, asks for
//! `Connection: close`, or a fault ends it.
//!
//! # Threading
//!
//! The server runs on its own OS thread with its own single-threaded tokio runtime. It therefore
//! serves async tests (current-thread or multi-thread runtimes) and blocking tests
//! (`reqwest::blocking`) alike, and its delays use real time even when a test pauses its own clock.
//! Dropping the [`FaultServer`] stops the accept loop, drops the runtime (closing every connection,
//! including ones held by [`Reply::never_answer`]) and joins the thread.

// Every integration test file includes this module with `mod support;` and uses only part of it;
// without this allow, each file would warn about the helpers it happens not to call.
#![allow(dead_code)]

pub(crate) mod calls;
pub(crate) mod classified;
pub(crate) mod observed;

use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The `Content-Length` that [`Reply::truncated_body`] and [`Reply::reset_mid_body`] declare.
pub(crate) const TRUNCATED_DECLARED_LEN: usize = 100;

/// The bytes that [`Reply::truncated_body`] and [`Reply::reset_mid_body`] actually send (10 of
/// the declared 100).
pub(crate) const TRUNCATED_SENT: &[u8] = b"0123456789";

/// How long [`Reply::endless_headers`] waits between two header lines.
pub(crate) const ENDLESS_HEADER_INTERVAL: Duration = Duration::from_millis(100);

/// How long [`Reply::reset_mid_body`] waits after the partial body before the reset, so that the
/// client has read the head and handed the response to its caller.
const RESET_MID_BODY_PAUSE: Duration = Duration::from_millis(100);

/// A request head larger than this is refused with a 431 (protects against a runaway client).
const MAX_HEAD_LEN: usize = 64 * 1024;

/// What happens on the wire instead of (or around) a normal response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A normal response.
    None,
    /// Abort the connection with a TCP RST before any response byte.
    Reset,
    /// Close the connection cleanly (FIN, no RST) before any response byte.
    CloseBeforeReply,
    /// Declare a longer body than is sent, then close.
    TruncatedBody,
    /// Keep the connection open and never answer.
    NeverAnswer,
    /// Send the status line, then header lines forever, slowly, never the empty line.
    EndlessHeaders,
    /// Send the head, then the body one byte per interval.
    TrickleBody(Duration),
    /// Declare a longer body than is sent, then abort with a TCP RST.
    ResetMidBody,
}

/// One scripted answer of a [`FaultServer`], built fluently.
///
/// ```ignore
/// Reply::status(503).retry_after("2").header("x-upstream", "db").body("busy")
/// ```
///
/// The server always writes `Content-Length` itself (none for 1xx, 204 and 304 statuses) and
/// closes the connection after a reply that carries a `Connection: close` header.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    fault: Fault,
    interim: Option<u16>,
}

impl Reply {
    /// A response with this status code and an empty body.
    pub(crate) fn status(code: u16) -> Self {
        Self {
            status: code,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            fault: Fault::None,
            interim: None,
        }
    }

    /// A 200 response with the body `ok`.
    pub(crate) fn ok() -> Self {
        Self::status(200).body("ok")
    }

    /// Reads the request, then aborts the connection with a TCP RST (zero linger) before sending
    /// any response byte. The client sees "connection reset by peer".
    pub(crate) fn reset() -> Self {
        Self {
            fault: Fault::Reset,
            ..Self::status(200)
        }
    }

    /// Reads the request, then closes the connection cleanly (FIN, no RST) before sending any
    /// response byte: what an upstream does when it crashes or restarts gracefully, or when a
    /// proxy drops a connection it deems idle. Unlike [`Reply::reset`], the client sees an early
    /// end of stream, not "connection reset by peer": hyper reports the response as incomplete.
    pub(crate) fn close_before_reply() -> Self {
        Self {
            fault: Fault::CloseBeforeReply,
            ..Self::status(200)
        }
    }

    /// Sends the status line and headers with `Content-Length: 100`, then only 10 body bytes
    /// ([`TRUNCATED_SENT`]), then closes the connection. The status and headers are those of the
    /// reply (200 unless changed with [`Reply::with_status`]); a body set with [`Reply::body`] is
    /// ignored.
    pub(crate) fn truncated_body() -> Self {
        Self {
            fault: Fault::TruncatedBody,
            ..Self::status(200)
        }
    }

    /// Reads the request and keeps the connection open without ever answering, until the server
    /// is dropped. Use with a client timeout.
    pub(crate) fn never_answer() -> Self {
        Self {
            fault: Fault::NeverAnswer,
            ..Self::status(200)
        }
    }

    /// Sends the status line `HTTP/1.1 200 OK`, then one header line (`x-endless-N: N`) every
    /// [`ENDLESS_HEADER_INTERVAL`], forever: the head never ends, until the client gives up or
    /// the server is dropped. Use with a client timeout.
    pub(crate) fn endless_headers() -> Self {
        Self {
            fault: Fault::EndlessHeaders,
            ..Self::status(200)
        }
    }

    /// Sends the status line and headers with the `Content-Length` of the body set with
    /// [`Reply::body`], then the body one byte per `interval`, then closes the connection.
    pub(crate) fn trickle_body(interval: Duration) -> Self {
        Self {
            fault: Fault::TrickleBody(interval),
            ..Self::status(200)
        }
    }

    /// Sends the status line and headers with `Content-Length: 100`, then only 10 body bytes
    /// ([`TRUNCATED_SENT`]), then aborts the connection with a TCP RST (zero linger), a moment
    /// later. The client gets the response, and "connection reset by peer" while reading its
    /// body.
    pub(crate) fn reset_mid_body() -> Self {
        Self {
            fault: Fault::ResetMidBody,
            ..Self::status(200)
        }
    }

    /// Sends an interim response with this `1xx` status (e.g. `103 Early Hints`, with no
    /// headers) before the reply, or before its fault.
    pub(crate) fn interim(mut self, code: u16) -> Self {
        self.interim = Some(code);
        self
    }

    /// Replaces the status code (useful on [`Reply::truncated_body`]).
    pub(crate) fn with_status(mut self, code: u16) -> Self {
        self.status = code;
        self
    }

    /// Adds a `Retry-After` header with this raw value, written verbatim (garbage included).
    pub(crate) fn retry_after(self, value: impl Into<String>) -> Self {
        self.header("retry-after", value)
    }

    /// Adds a response header, written verbatim; may be called several times, also for one name.
    pub(crate) fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Waits this long after reading the request before answering (or before the fault).
    ///
    /// The wait runs on the server's own runtime, in real time.
    pub(crate) fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Whether this reply asks to close the connection after it.
    fn closes_connection(&self) -> bool {
        self.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection") && has_token(value.as_bytes(), "close")
        })
    }
}

/// A request as the [`FaultServer`] read it.
#[derive(Debug, Clone)]
pub(crate) struct RecordedRequest {
    /// The request method.
    pub(crate) method: Method,
    /// The request target as sent: path and query, e.g. `/orders?dry_run=true`.
    pub(crate) path: String,
    /// The request headers.
    pub(crate) headers: HeaderMap,
    /// The request body, de-chunked.
    pub(crate) body: Vec<u8>,
    /// Which connection carried the request: 0 for the first one the server accepted, and so on.
    pub(crate) connection: usize,
}

impl RecordedRequest {
    /// The value of header `name` (case-insensitive), if present and visible ASCII.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// State shared between the [`FaultServer`] handle and its connection tasks.
#[derive(Debug)]
struct Shared {
    script: Vec<Reply>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    fn requests(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        // A panic while the lock is held cannot leave the list half-updated (a push is atomic
        // from the reader's point of view), so a poisoned lock is still safe to use.
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `request` and returns the reply scripted for it.
    fn record(&self, request: RecordedRequest) -> &Reply {
        let index = {
            let mut requests = self.requests();
            requests.push(request);
            requests.len() - 1
        };
        &self.script[index.min(self.script.len() - 1)]
    }
}

/// A scripted, fault-injecting HTTP/1.1 server on `127.0.0.1`, stopped when dropped.
///
/// Request `i` (0-based, counted across all paths and methods, in the order the server reads them)
/// gets `script[i]`; once the script is exhausted, its last reply repeats. A request is counted and
/// recorded as soon as it is fully read, before any delay or fault.
#[derive(Debug)]
pub(crate) struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Starts a server on an ephemeral port of `127.0.0.1` that answers with `script`; returns
    /// once it is listening.
    ///
    /// # Panics
    ///
    /// If `script` is empty, or the socket, runtime or thread cannot be created.
    pub(crate) fn start(script: Vec<Reply>) -> Self {
        assert!(
            !script.is_empty(),
            "a `FaultServer` script needs at least one reply"
        );
        // Bound (and listening) before `start` returns, so connections made right away queue in
        // the backlog until the server thread accepts them.
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("read the listener's address");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the fault server's runtime");
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("fault-server-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                // The runtime is dropped on this thread when `serve` returns, which cancels the
                // connection tasks and closes their sockets.
                move || runtime.block_on(serve(listener, shared, shutdown_rx))
            })
            .expect("spawn the fault server thread");
        Self {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Starts a server that gives every request the same reply.
    ///
    /// # Panics
    ///
    /// As [`FaultServer::start`].
    pub(crate) fn always(reply: Reply) -> Self {
        Self::start(vec![reply])
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/path`; `path` may include a query, with or without a leading `/`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "http://{}/{}",
            self.addr,
            path.strip_prefix('/').unwrap_or(path)
        )
    }

    /// How many requests the server has read, including ones answered with a fault (but not
    /// malformed ones, which reqwest never sends: those get a 4xx/5xx and are not counted).
    pub(crate) fn hits(&self) -> usize {
        self.shared.requests().len()
    }

    /// Every request read so far, in the order they were counted.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests().clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the server already stopped; joining below still applies.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the fault server thread panicked");
        }
    }
}

/// A URL on `127.0.0.1` where nothing listens, for connection-refused tests.
///
/// The port was free a moment ago (a listener was bound to it and dropped); another process could
/// in principle take it in between, which is unlikely with ephemeral ports.
///
/// # Panics
///
/// If no local port can be bound.
pub(crate) fn closed_port_url() -> String {
    let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("read the listener's address");
    drop(listener);
    format!("http://{addr}/")
}

/// Accepts connections until `shutdown` fires (or its sender is dropped).
async fn serve(listener: StdTcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    let listener = TcpListener::from_std(listener).expect("register the listener with tokio");
    let mut next_connection = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                // Accept errors (e.g. a connection aborted while queued) concern one connection,
                // not the listener: keep serving.
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_connection(stream, next_connection, Arc::clone(&shared)));
                    next_connection += 1;
                }
            }
        }
    }
}

/// Serves the requests of one connection, in order, until it closes or a fault ends it.
async fn serve_connection(stream: TcpStream, connection: usize, shared: Arc<Shared>) {
    // Best effort: Nagle's algorithm only delays small writes, it changes no behaviour.
    let _ = stream.set_nodelay(true);
    let mut conn = Connection {
        stream,
        buf: Vec::new(),
    };
    loop {
        let request = match conn.read_request().await {
            Ok(Some(request)) => request,
            // The client closed the connection between requests, or it broke mid-request.
            Ok(None) | Err(ReadError::Io(_)) => return,
            Err(ReadError::Malformed(status, reason)) => {
                let reply = Reply::status(status)
                    .header("connection", "close")
                    .body(reason);
                let _ = conn.respond(&reply, false).await;
                return;
            }
        };
        let head_only = request.method == Method::HEAD;
        let client_closes = request.client_closes;
        let reply = shared.record(RecordedRequest {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body: request.body,
            connection,
        });
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        if let Some(code) = reply.interim {
            let interim = format!("HTTP/1.1 {code} {}\r\n\r\n", reason(code));
            if conn.stream.write_all(interim.as_bytes()).await.is_err() {
                return;
            }
        }
        match reply.fault {
            Fault::None => {
                let close = client_closes || reply.closes_connection();
                let written = conn.respond(reply, head_only).await;
                if written.is_err() || close {
                    let _ = conn.stream.shutdown().await;
                    return;
                }
            }
            Fault::Reset => {
                // Zero linger turns the close on drop into an abortive close: RST, not FIN.
                let _ = conn.stream.set_zero_linger();
                return;
            }
            Fault::CloseBeforeReply => {
                // FIN now; then read until the client closes its side, so the socket is never
                // closed with unread bytes in its buffer (which would send an RST instead).
                let _ = conn.stream.shutdown().await;
                while let Ok(true) = conn.fill().await {}
                return;
            }
            Fault::TruncatedBody => {
                let mut bytes = response_head(reply, Some(TRUNCATED_DECLARED_LEN), true);
                bytes.extend_from_slice(TRUNCATED_SENT);
                let _ = conn.stream.write_all(&bytes).await;
                let _ = conn.stream.shutdown().await;
                return;
            }
            Fault::NeverAnswer => {
                // Holds the connection until the runtime is dropped with the server.
                std::future::pending::<()>().await;
            }
            Fault::EndlessHeaders => {
                let mut line = String::from("HTTP/1.1 200 OK\r\n");
                // Ends when the client closes the connection (a write fails) or the server stops.
                for n in 0_u64.. {
                    if conn.stream.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(ENDLESS_HEADER_INTERVAL).await;
                    line = format!("x-endless-{n}: {n}\r\n");
                }
            }
            Fault::TrickleBody(interval) => {
                let head = response_head(reply, Some(reply.body.len()), true);
                if conn.stream.write_all(&head).await.is_err() {
                    return;
                }
                for byte in &reply.body {
                    tokio::time::sleep(interval).await;
                    if conn.stream.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                }
                let _ = conn.stream.shutdown().await;
                return;
            }
            Fault::ResetMidBody => {
                let mut bytes = response_head(reply, Some(TRUNCATED_DECLARED_LEN), false);
                bytes.extend_from_slice(TRUNCATED_SENT);
                let _ = conn.stream.write_all(&bytes).await;
                tokio::time::sleep(RESET_MID_BODY_PAUSE).await;
                // Zero linger turns the close on drop into an abortive close: RST, not FIN.
                let _ = conn.stream.set_zero_linger();
                return;
            }
        }
    }
}

/// Why a request could not be read.
#[derive(Debug)]
enum ReadError {
    /// The connection failed or closed mid-request.
    Io(io::Error),
    /// The request is not valid HTTP/1.x: answer with this status and reason, then close.
    Malformed(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// A request as parsed off the wire.
#[derive(Debug)]
struct ParsedRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The client asked to close the connection after this request (or speaks HTTP/1.0 without
    /// keep-alive).
    client_closes: bool,
}

/// One connection and the bytes read from it but not consumed yet (pipelined requests).
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Reads more bytes into the buffer; `false` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Removes and returns the first `n` buffered bytes, reading more as needed.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Removes and returns one CRLF-terminated line, without the CRLF.
    async fn take_line(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut searched = 0;
        loop {
            if let Some(pos) = find(&self.buf[searched..], b"\r\n") {
                let mut line = self.take(searched + pos + 2).await?;
                line.truncate(line.len() - 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD_LEN {
                return Err(ReadError::Malformed(400, "line too long"));
            }
            searched = self.buf.len().saturating_sub(1);
            if !self.fill().await? {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// Reads the next request, body included; `None` if the client closed the connection cleanly
    /// between requests.
    async fn read_request(&mut self) -> Result<Option<ParsedRequest>, ReadError> {
        let mut searched = 0;
        let head_len = loop {
            if let Some(pos) = find(&self.buf[searched..], b"\r\n\r\n") {
                break searched + pos + 4;
            }
            if self.buf.len() > MAX_HEAD_LEN {
                return Err(ReadError::Malformed(431, "request head too large"));
            }
            searched = self.buf.len().saturating_sub(3);
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::from(io::ErrorKind::UnexpectedEof).into())
                };
            }
        };
        let head: Vec<u8> = self.buf.drain(..head_len).collect();
        let (method, path, http_10, headers) = parse_head(&head[..head_len - 4])?;

        let connection = headers
            .get_all("connection")
            .iter()
            .map(HeaderValue::as_bytes);
        let (mut close, mut keep_alive) = (false, false);
        for value in connection {
            close |= has_token(value, "close");
            keep_alive |= has_token(value, "keep-alive");
        }
        let client_closes = close || (http_10 && !keep_alive);

        let chunked = headers
            .get_all("transfer-encoding")
            .iter()
            .any(|value| has_token(value.as_bytes(), "chunked"));
        let content_length = match headers.get("content-length") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .ok_or(ReadError::Malformed(400, "invalid content-length"))?,
            ),
        };
        let expects_continue = headers
            .get("expect")
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue && (chunked || content_length.is_some_and(|len| len > 0)) {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }

        let body = if chunked {
            self.read_chunked_body().await?
        } else {
            self.take(content_length.unwrap_or(0)).await?
        };
        Ok(Some(ParsedRequest {
            method,
            path,
            headers,
            body,
            client_closes,
        }))
    }

    /// Reads a chunked body (RFC 9112 §7.1), discarding extensions and trailers.
    async fn read_chunked_body(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.take_line().await?;
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
                .ok_or(ReadError::Malformed(400, "invalid chunk size"))?;
            if size == 0 {
                // Trailer fields, up to an empty line.
                while !self.take_line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.take(size).await?);
            if self.take(2).await? != b"\r\n" {
                return Err(ReadError::Malformed(400, "chunk not followed by CRLF"));
            }
        }
    }

    /// Writes `reply` as a complete response (without its body if `head_only`).
    async fn respond(&mut self, reply: &Reply, head_only: bool) -> io::Result<()> {
        let bodyless = matches!(reply.status, 100..=199 | 204 | 304);
        let length = (!bodyless).then_some(reply.body.len());
        let mut bytes = response_head(reply, length, false);
        if !bodyless && !head_only {
            bytes.extend_from_slice(&reply.body);
        }
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await
    }
}

/// The status line and headers of `reply`, with this `Content-Length` if any.
fn response_head(reply: &Reply, content_length: Option<usize>, close: bool) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        // Writing to a `String` cannot fail.
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if let Some(length) = content_length {
        let _ = write!(head, "content-length: {length}\r\n");
    }
    if close && !reply.closes_connection() {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The canonical reason phrase of status `code`, or nothing for an unknown one.
fn reason(code: u16) -> &'static str {
    StatusCode::from_u16(code)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("")
}

/// Parses a request head (without its final empty line) into method, target, whether the version
/// is HTTP/1.0, and headers.
fn parse_head(head: &[u8]) -> Result<(Method, String, bool, HeaderMap), ReadError> {
    const BAD: ReadError = ReadError::Malformed(400, "malformed request head");
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));

    let request_line = lines.next().ok_or(BAD)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    let method = Method::from_bytes(method).map_err(|_| BAD)?;
    let path = String::from_utf8(target.to_vec()).map_err(|_| BAD)?;
    let http_10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return Err(ReadError::Malformed(505, "only HTTP/1.x is supported")),
    };

    let mut headers = HeaderMap::new();
    for line in lines {
        let colon = line.iter().position(|&b| b == b':').ok_or(BAD)?;
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| BAD)?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).map_err(|_| BAD)?;
        headers.append(name, value);
    }
    Ok((method, path, http_10, headers))
}

/// Whether the comma-separated header value contains `token` (case-insensitive).
fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
