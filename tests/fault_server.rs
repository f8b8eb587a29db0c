//! Tests of the fault-injecting test server (`tests/support`) itself, driven by plain reqwest and
//! raw sockets, so the other integration tests can trust what it does.

mod support;

use std::error::Error as _;
use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{FaultServer, Reply, TRUNCATED_DECLARED_LEN, closed_port_url};

/// Whether an `io::Error` of this kind is somewhere in the source chain of `error`.
fn has_io_error(error: &reqwest::Error, kind: io::ErrorKind) -> bool {
    let mut source = error.source();
    while let Some(error) = source {
        if error
            .downcast_ref::<io::Error>()
            .is_some_and(|error| error.kind() == kind)
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// Polls `condition` until it holds; panics after 5 seconds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `raw` on a fresh connection and returns everything the server writes until it closes.
fn raw_exchange(server: &FaultServer, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn script_is_served_in_order() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::status(503), Reply::ok()]);
    let client = reqwest::Client::new();

    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = client.get(server.url("/")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn last_reply_repeats_across_paths_and_methods() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::ok()]);
    let client = reqwest::Client::new();

    let responses = [
        client.get(server.url("/a")).send().await.unwrap(),
        client.post(server.url("/b")).send().await.unwrap(),
        client.put(server.url("c?x=1")).send().await.unwrap(),
        client.delete(server.url("/")).send().await.unwrap(),
    ];

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [503, 200, 200, 200]);
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn reply_headers_and_body_arrive() {
    let server = FaultServer::start(vec![
        Reply::status(429)
            .retry_after("2")
            .header("x-upstream", "db")
            .header("x-upstream", "cache")
            .body("slow down"),
        Reply::status(503).retry_after("soon, maybe"),
    ]);
    let client = reqwest::Client::new();

    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let upstreams: Vec<_> = response.headers().get_all("x-upstream").iter().collect();
    assert_eq!(upstreams, ["db", "cache"]);
    assert_eq!(response.content_length(), Some(9));
    assert_eq!(response.text().await.unwrap(), "slow down");

    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "soon, maybe");
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn delay_outlasts_a_shorter_timeout() {
    let server = FaultServer::always(Reply::ok().delay(Duration::from_secs(30)));

    let error = reqwest::Client::new()
        .get(server.url("/"))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
    // Dropping the server cancels the pending delay instead of waiting 30 s for it.
}

#[tokio::test]
async fn delay_is_waited_before_answering() {
    let delay = Duration::from_millis(200);
    let server = FaultServer::always(Reply::ok().delay(delay));

    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();

    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn reset_aborts_the_connection() {
    let server = FaultServer::always(Reply::reset());

    let error = reqwest::Client::new()
        .get(server.url("/"))
        .send()
        .await
        .unwrap_err();

    assert!(error.is_request(), "{error:?}");
    assert!(!error.is_timeout() && !error.is_connect(), "{error:?}");
    assert!(
        has_io_error(&error, io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn truncated_body_fails_while_reading_the_body() {
    let server = FaultServer::always(Reply::truncated_body().header("x-kept", "yes"));

    let response = reqwest::Client::new()
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-kept"], "yes");
    assert_eq!(
        response.content_length(),
        Some(TRUNCATED_DECLARED_LEN as u64)
    );

    // reqwest 0.13 reports a failure while reading a response body as a decode error; the
    // cause underneath is the early end of the stream.
    let error = response.bytes().await.unwrap_err();
    assert!(error.is_decode(), "{error:?}");
    assert!(
        has_io_error(&error, io::ErrorKind::UnexpectedEof),
        "{error:?}"
    );
}

#[tokio::test]
async fn never_answer_runs_into_the_client_timeout() {
    let server = FaultServer::always(Reply::never_answer());

    let error = reqwest::Client::new()
        .get(server.url("/"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(server.hits(), 1);
}

#[test]
fn drop_closes_held_connections_and_the_listener() {
    let server = FaultServer::always(Reply::never_answer());
    let addr = server.addr();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .unwrap();
    wait_until("the server has read the request", || server.hits() == 1);

    drop(server);

    // The held connection is closed (EOF, or a reset), not left hanging until the read timeout.
    let mut buf = [0; 16];
    match stream.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "unexpected bytes {:?}", &buf[..n]),
        Err(error) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset),
    }
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
}

#[tokio::test]
async fn requests_are_recorded() {
    let server = FaultServer::start(vec![Reply::status(503), Reply::ok()]);
    let client = reqwest::Client::new();
    let big = vec![b'x'; 300_000];

    client
        .post(server.url("/orders?dry_run=true&n=2"))
        .header("idempotency-key", "key-1")
        .json(&serde_json::json!({ "item": "book", "qty": 2 }))
        .send()
        .await
        .unwrap();
    client
        .put(server.url("/blobs/7"))
        .header("idempotency-key", "key-1")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    client.get(server.url("/")).send().await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(server.hits(), 3);

    assert_eq!(requests[0].method, reqwest::Method::POST);
    assert_eq!(requests[0].path, "/orders?dry_run=true&n=2");
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(json, serde_json::json!({ "item": "book", "qty": 2 }));

    assert_eq!(requests[1].method, reqwest::Method::PUT);
    assert_eq!(requests[1].path, "/blobs/7");
    assert!(
        requests[1].body == big,
        "the large body was not read in full"
    );

    assert_eq!(requests[2].method, reqwest::Method::GET);
    assert_eq!(requests[2].path, "/");
    assert!(requests[2].body.is_empty());
    assert_eq!(requests[2].header("idempotency-key"), None);

    assert_eq!(
        requests[0].header("Idempotency-Key"),
        requests[1].header("idempotency-key")
    );
    assert!(
        requests
            .iter()
            .all(|r| r.header("host") == Some(&*server.addr().to_string()))
    );
}

#[test]
fn pipelined_requests_on_one_connection_are_answered_in_order() {
    let server = FaultServer::start(vec![
        Reply::status(503).body("first"),
        Reply::status(201).body("second"),
        Reply::ok().body("third"),
    ]);

    let response = raw_exchange(
        &server,
        b"GET /a HTTP/1.1\r\nhost: test\r\n\r\n\
          POST /b HTTP/1.1\r\nhost: test\r\ncontent-length: 11\r\n\r\nhello world\
          GET /c HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
    );

    let first = response
        .find("HTTP/1.1 503 Service Unavailable\r\n")
        .unwrap();
    let second = response.find("HTTP/1.1 201 Created\r\n").unwrap();
    let third = response.find("HTTP/1.1 200 OK\r\n").unwrap();
    assert!(first < second && second < third, "{response}");
    assert!(response.ends_with("\r\n\r\nthird"), "{response}");

    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    assert_eq!(requests[1].body, b"hello world");
    assert!(requests.iter().all(|r| r.connection == 0));
}

#[test]
fn chunked_request_body_is_read_in_full() {
    let server = FaultServer::always(Reply::ok());

    let response = raw_exchange(
        &server,
        b"POST /upload HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: t\r\n\r\n\
          GET /after HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
    );

    assert_eq!(
        response.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "{response}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, b"hello world");
    assert_eq!(requests[1].path, "/after");
}

#[tokio::test]
async fn closed_port_refuses_connections() {
    let error = reqwest::Client::new()
        .get(closed_port_url())
        .send()
        .await
        .unwrap_err();

    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_from_a_multi_thread_runtime_are_each_counted() {
    let mut script = vec![Reply::status(503); 5];
    script.push(Reply::ok());
    let server = FaultServer::start(script);
    let client = reqwest::Client::new();

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let request = client.get(server.url(&format!("/{i}")));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }

    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 503, 503, 503, 503, 503]);
    assert_eq!(server.hits(), 10);
}

#[test]
fn blocking_client_works_too() {
    let server = FaultServer::start(vec![Reply::status(503).retry_after("1"), Reply::ok()]);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let first = client.get(server.url("/")).send().unwrap();
    assert_eq!(first.status(), 503);
    assert_eq!(first.headers()["retry-after"], "1");
    let second = client.get(server.url("/")).send().unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().unwrap(), "ok");
    assert_eq!(server.hits(), 2);
}
