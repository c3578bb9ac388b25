//! A blocking stream reads its answer over oairun's own HTTP/1.1 connection (src/wire.rs).
//! The test server always frames a stream with chunked coding; these answers, written byte for
//! byte by a one-connection server on loopback, frame it every other way HTTP/1.1 allows (and
//! some ways it does not), and the stream must end exactly where its framing says.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use oairun::{Client, ClientOptions, ErrorKind, ToolOutputs};

const EVENTS: &str = "event: thread.run.in_progress\ndata: {\"id\":\"run_1\"}\n\n\
                      event: thread.run.completed\ndata: {\"id\":\"run_1\"}\n\n\
                      event: done\ndata: [DONE]\n\n";
/// The same without the terminal `done`: the stream is then complete only by its framing.
const NO_DONE: &str = "event: thread.run.in_progress\ndata: {\"id\":\"run_1\"}\n\n";

/// Serves one connection on loopback: reads the request (head and `Content-Length` body),
/// writes `answer`, then, when `hold` is not zero, keeps the connection open until the client
/// closes it, for at most `hold`. Gives the base URL and what the request was.
fn serve_once(answer: Vec<u8>, hold: Duration) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before its request was whole");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .expect("a content-length")
                    .parse()
                    .unwrap();
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        socket.write_all(&answer).unwrap();
        if !hold.is_zero() {
            socket.set_read_timeout(Some(hold)).unwrap();
            let closed = matches!(socket.read(&mut buf), Ok(0));
            assert!(closed, "the client left the connection open");
        }
        String::from_utf8(request).unwrap()
    });
    (base, server)
}

fn client(base: &str) -> Client {
    Client::new(&ClientOptions {
        api_key: Some("sk-wire".into()),
        base_url: Some(base.into()),
        max_retries: Some(0),
        // Long enough never to end a stream here unless its framing is not understood.
        read_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    })
    .unwrap()
}

/// Streams the answer: the events' names and the outcome, and the request the server read.
fn stream(answer: &str, hold: Duration) -> (Vec<String>, oairun::Result<()>, String) {
    let (base, server) = serve_once(answer.as_bytes().to_vec(), hold);
    let mut outputs = ToolOutputs::new();
    outputs.push("call_1", "sunny").unwrap();
    let mut names = Vec::new();
    let result = client(&base).submit_tool_outputs_stream("thread_1", "run_1", &outputs, |e| {
        names.push(e.name().to_owned());
        true
    });
    (names, result, server.join().unwrap())
}

fn head(framing: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{framing}\r\n")
}

fn chunked(parts: &[&str]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("{:x};ext=1\r\n{part}\r\n", part.len()));
    }
    body + "0\r\nx-trailer: yes\r\n\r\n"
}

const ALL: [&str; 3] = ["thread.run.in_progress", "thread.run.completed", "done"];

#[test]
fn the_request_is_http_1_1_with_its_length() {
    let (names, result, request) =
        stream(&(head("connection: close\r\n") + EVENTS), Duration::ZERO);
    result.unwrap();
    assert_eq!(names, ALL);
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(
        lines.next(),
        Some("POST /v1/threads/thread_1/runs/run_1/submit_tool_outputs HTTP/1.1")
    );
    let headers: Vec<&str> = lines.collect();
    let port = request.split("host: 127.0.0.1:").nth(1).unwrap();
    assert!(
        port.starts_with(|c: char| c.is_ascii_digit()),
        "{headers:?}"
    );
    for line in [
        "accept: text/event-stream",
        "authorization: Bearer sk-wire",
        "content-type: application/json",
        "openai-beta: assistants=v2",
    ] {
        assert!(headers.contains(&line), "{line} not in {headers:?}");
    }
    assert!(headers.contains(&format!("content-length: {}", body.len()).as_str()));
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["stream"], true);
}

#[test]
fn bodies_framed_every_way_end_where_their_framing_says() {
    let hold = Duration::from_secs(30);
    // Delimited by the close, after an interim answer, lines ending in LF alone.
    let (names, result, _) = stream(
        &format!(
            "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\ncontent-type: text/event-stream\n\n{EVENTS}"
        ),
        Duration::ZERO,
    );
    result.unwrap();
    assert_eq!(names, ALL);
    // By length, and by chunks with extensions and a trailer, the connection then left open:
    // the stream must end at the framing's end, not wait for the close (the read timeout is
    // 20 s, the hold 30 s). Without `done`, it ends with the protocol error that says so.
    for answer in [
        head(&format!("content-length: {}\r\n", NO_DONE.len())) + NO_DONE,
        head("transfer-encoding: chunked\r\n") + &chunked(&[&NO_DONE[..10], &NO_DONE[10..]]),
    ] {
        let (names, result, _) = stream(&answer, hold);
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{answer:?}: {error}");
        assert!(error.message().contains("without `done`"), "{error}");
        assert_eq!(names, ["thread.run.in_progress"]);
    }
    // The events in chunks cut anywhere, the connection left open: complete at `done`.
    let cuts: Vec<&str> = EVENTS
        .as_bytes()
        .chunks(7)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let (names, result, _) = stream(
        &(head("transfer-encoding: chunked\r\n") + &chunked(&cuts)),
        hold,
    );
    result.unwrap();
    assert_eq!(names, ALL);
}

#[test]
fn a_body_cut_short_or_misframed_fails_with_what_went_wrong() {
    let cases = [
        (
            head(&format!("content-length: {}\r\n", NO_DONE.len() + 100)) + NO_DONE,
            "closed 100 bytes before the end",
        ),
        (
            head("transfer-encoding: chunked\r\n")
                + &format!("{:x}\r\n{NO_DONE}\r\n", NO_DONE.len()),
            "closed before the end of the chunked body",
        ),
        (
            head("transfer-encoding: chunked\r\n") + &format!("{:x}\r\n{NO_DONE}XX", NO_DONE.len()),
            "chunked body is broken",
        ),
    ];
    for (answer, says) in cases {
        let (names, result, _) = stream(&answer, Duration::ZERO);
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
        assert!(error.message().contains(says), "{says}: {error}");
        assert!(error.message().contains("the stream failed"), "{error}");
        assert_eq!(names, ["thread.run.in_progress"]);
        assert_eq!(error.http_status(), Some(200));
    }
    // A head that is not HTTP: a connection failure, as reqwest reports one.
    let (names, result, _) = stream("SSH-2.0-OpenSSH\r\n\r\n", Duration::ZERO);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(error.message().contains("HTTP/1 status line"), "{error}");
    assert!(names.is_empty());
}
