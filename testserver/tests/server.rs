//! The server seen from a raw TCP client: framing, headers and scenarios byte by byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use oairun_testserver::{
    long_text, odd_framing_chunks, odd_framing_events, reference_events, TestServer,
    REFERENCE_RUN_JSON, REFERENCE_STREAM,
};

const BODY: &str =
    r#"{"tool_outputs":[{"tool_call_id":"call_001","output":"70 degrees and sunny."}]}"#;
const STREAM_BODY: &str = r#"{"tool_outputs":[{"tool_call_id":"call_001","output":"70 degrees and sunny."}],"stream":true}"#;

mod common;
use common::*;

#[test]
fn sync_reference_answer_is_byte_identical() {
    let server = TestServer::start();
    let first = request(&server, "thread_123", BODY);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, REFERENCE_RUN_JSON.as_bytes());
    assert_eq!(first.header("content-type"), Some("application/json"));
    let id = first.header("x-request-id").unwrap();
    assert!(id.starts_with("req_") && id.len() > 4);
    assert!(first
        .header("openai-processing-ms")
        .unwrap()
        .parse::<u64>()
        .is_ok());
    let second = request(&server, "thread_123", BODY);
    assert_ne!(second.header("x-request-id"), Some(id));
}

#[test]
fn streamed_reference_is_chunked_one_event_per_chunk() {
    let server = TestServer::start();
    let response = request(&server, "thread_123", STREAM_BODY);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert!(response.header("x-request-id").unwrap().starts_with("req_"));
    assert!(response.complete);
    assert_eq!(response.body, REFERENCE_STREAM.as_bytes());
    assert_eq!(response.chunks.len(), 16);
    assert_eq!(parse_sse(&response.body), reference_events());
}

#[test]
fn keep_alive_serves_requests_in_sequence() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    let path = submit_path("thread_123", "run_123");
    send(&mut conn, "POST", &path, BODY, "");
    let first = read_response(&mut conn);
    send(&mut conn, "POST", &path, STREAM_BODY, "");
    let second = read_response(&mut conn);
    send(&mut conn, "POST", &path, BODY, "Connection: close\r\n");
    let third = read_response(&mut conn);
    assert_eq!(first.body, REFERENCE_RUN_JSON.as_bytes());
    assert_eq!(second.body, REFERENCE_STREAM.as_bytes());
    assert_eq!(third.body, REFERENCE_RUN_JSON.as_bytes());
    assert_eq!(third.header("connection"), Some("close"));
    // After `Connection: close` the server closes its side.
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn control_endpoints_list_and_reset() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(
        &mut conn,
        "POST",
        &submit_path("thread_ctl", "run_9"),
        BODY,
        "Authorization: Bearer sk-test\r\nOpenAI-Beta: assistants=v2\r\n",
    );
    assert_eq!(read_response(&mut conn).status, 200);
    send(&mut conn, "GET", "/_test/requests", "", "");
    let listed = read_response(&mut conn);
    assert_eq!(listed.status, 200);
    let list = listed.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "control requests are not recorded");
    let r = &list[0];
    assert_eq!(r["method"], "POST");
    assert_eq!(r["target"], submit_path("thread_ctl", "run_9"));
    assert_eq!(r["body"], BODY);
    assert_eq!(r["thread_id"], "thread_ctl");
    assert_eq!(r["run_id"], "run_9");
    assert!(r["headers"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(["OpenAI-Beta", "assistants=v2"])));
    // The same, in process.
    let recorded = &server.requests_for("thread_ctl")[0];
    assert_eq!(recorded.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(recorded.body, BODY.as_bytes());
    assert!(server.requests_for("other").is_empty());

    send(&mut conn, "POST", "/_test/reset", "", "");
    let reset = read_response(&mut conn);
    assert_eq!(reset.status, 204);
    assert!(server.requests().is_empty());
}

#[test]
fn arrival_times_are_recorded_and_listed() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(&mut conn, "POST", &submit_path("t_a", "r"), BODY, "");
    assert_eq!(read_response(&mut conn).status, 200);
    std::thread::sleep(Duration::from_millis(150));
    send(&mut conn, "POST", &submit_path("t_b", "r"), BODY, "");
    assert_eq!(read_response(&mut conn).status, 200);
    let recorded = server.requests();
    let gap = recorded[1].received - recorded[0].received;
    assert!(gap >= Duration::from_millis(150), "{gap:?}");

    send(&mut conn, "GET", "/_test/requests", "", "");
    let list = read_response(&mut conn).json();
    let listed: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["received_us"].as_u64().expect("received_us is a number"))
        .collect();
    let in_process: Vec<u64> = recorded
        .iter()
        .map(|r| r.received.as_micros() as u64)
        .collect();
    assert_eq!(listed, in_process);
}

#[test]
fn unknown_path_gets_404_and_wrong_method_405() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(&mut conn, "POST", "/v1/threads/t/runs/r/submit", BODY, "");
    let not_found = read_response(&mut conn);
    assert_eq!(not_found.status, 404);
    assert!(not_found.header("x-request-id").is_some());
    let error = not_found.json();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid URL"));
    send(&mut conn, "GET", &submit_path("t", "r"), "", "");
    let not_allowed = read_response(&mut conn);
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.header("allow"), Some("POST"));
    // Both were recorded; only the route match has ids.
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].thread_id, None);
    assert_eq!(recorded[1].thread_id.as_deref(), Some("t"));
}

#[test]
fn invalid_bodies_get_400() {
    let server = TestServer::start();
    for body in ["not json", r#"{"stream":true}"#, r#"{"tool_outputs":{}}"#] {
        let response = request(&server, "thread_123", body);
        assert_eq!(response.status, 400, "{body}");
        let error = response.json();
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], "tool_outputs");
        assert!(error["error"]["code"].is_null());
    }
    // Chunked request bodies are refused too, and the connection closed.
    let mut conn = connect(&server);
    conn.get_mut()
        .write_all(
            b"POST /v1/threads/t/runs/r/submit_tool_outputs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        .unwrap();
    let response = read_response(&mut conn);
    assert_eq!(response.status, 400);
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
fn oversized_head_gets_413() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    let big = "a".repeat(70 * 1024);
    send(
        &mut conn,
        "POST",
        &submit_path("t", "r"),
        BODY,
        &format!("X-Big: {big}\r\n"),
    );
    assert_eq!(read_response(&mut conn).status, 413);
}

#[test]
fn error_statuses_carry_openai_error_bodies() {
    let server = TestServer::start();
    let limited = request(&server, "status_429", STREAM_BODY);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("retry-after-ms"), Some("50"));
    let error = limited.json();
    assert_eq!(error["error"]["message"], "test error 429");
    assert_eq!(error["error"]["type"], "requests");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");

    let unauthorized = request(&server, "status_401", BODY).json();
    assert_eq!(unauthorized["error"]["code"], "invalid_api_key");
    let bad = request(&server, "status_400", BODY).json();
    assert_eq!(bad["error"]["param"], "tool_outputs");
    let unavailable = request(&server, "status_503", BODY);
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.json()["error"]["type"], "server_error");

    let plain = request(&server, "status_502_plain", BODY);
    assert_eq!(plain.status, 502);
    assert_eq!(plain.body, b"upstream exploded");
    assert!(plain
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
}

#[test]
fn ratelimit_once_refuses_each_run_once() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    let path = submit_path("ratelimit_once", "run_a");
    send(&mut conn, "POST", &path, BODY, "");
    let refused = read_response(&mut conn);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after-ms"), Some("100"));
    send(&mut conn, "POST", &path, BODY, "");
    assert_eq!(read_response(&mut conn).body, REFERENCE_RUN_JSON.as_bytes());
    send(
        &mut conn,
        "POST",
        &submit_path("ratelimit_once", "run_b"),
        BODY,
        "",
    );
    assert_eq!(read_response(&mut conn).status, 429);
}

fn delta_values(events: &[(String, String)]) -> String {
    events
        .iter()
        .filter(|(name, _)| name == "thread.message.delta")
        .map(|(_, data)| {
            let delta: serde_json::Value = serde_json::from_str(data).unwrap();
            delta["delta"]["content"][0]["text"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn long_streams_spell_long_text() {
    let server = TestServer::start();
    let response = request(&server, "long_3", STREAM_BODY);
    assert!(response.complete);
    let events = parse_sse(&response.body);
    assert_eq!(events.len(), 3 + 3 + 3);
    assert_eq!(delta_values(&events), long_text(3));
    assert_eq!(events.last().unwrap().0, "done");

    // Many deltas, batched into fewer chunks, with escapes and non-ASCII.
    let response = request(&server, "long_2000", STREAM_BODY);
    let events = parse_sse(&response.body);
    assert_eq!(events.len(), 2006);
    let text = delta_values(&events);
    assert_eq!(text, long_text(2000));
    assert!(text.contains('"') && text.contains('\n') && !text.is_ascii());
    assert!(response.chunks.len() < 100);
    assert!(
        response.body.len() / 2000 > 140,
        "deltas are about 170 bytes"
    );
}

#[test]
fn percent_encoded_ids_are_decoded() {
    let server = TestServer::start();
    let target = "/v1/threads/a%2Fb/runs/r%20%C3%A9%3F/submit_tool_outputs?x=1";
    let mut conn = connect(&server);
    send(&mut conn, "POST", target, BODY, "");
    assert_eq!(read_response(&mut conn).status, 200);
    let recorded = &server.requests_for("a/b")[0];
    assert_eq!(recorded.target, target);
    assert_eq!(recorded.run_id.as_deref(), Some("r \u{e9}?"));
}

#[test]
fn odd_framing_decodes_to_the_expected_events() {
    let server = TestServer::start();
    let response = request(&server, "odd_framing", STREAM_BODY);
    assert!(response.complete);
    let sent: Vec<Vec<u8>> = response.chunks.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(sent, odd_framing_chunks());
    let events = parse_sse(&response.body);
    assert_eq!(events, odd_framing_events());
    assert_eq!(events.len(), 16);
    // The expected events are the reference's, but for the two documented changes.
    let reference = reference_events();
    let changed: Vec<usize> = (0..16).filter(|&i| events[i] != reference[i]).collect();
    assert_eq!(changed, [5, 9]);
    assert_eq!(events[5].1.replace('\n', ""), reference[5].1);
}

#[test]
fn slow_stream_delivers_events_as_written() {
    let server = TestServer::start();
    let response = request(&server, "slow_40_3", STREAM_BODY);
    assert!(response.complete);
    let events = parse_sse(&response.body);
    assert_eq!(delta_values(&events), long_text(3));
    let deltas: Vec<(Instant, serde_json::Value)> = response
        .chunks
        .iter()
        .filter(|(_, c)| c.starts_with(b"event: thread.message.delta"))
        .map(|(at, c)| {
            let (_, data) = parse_sse(c).remove(0);
            (*at, serde_json::from_str(&data).unwrap())
        })
        .collect();
    assert_eq!(deltas.len(), 3);
    let end = response.chunks.last().unwrap().0;
    assert!(
        end.duration_since(deltas[0].0) >= Duration::from_millis(60),
        "the first delta arrived long before the body ended"
    );
    let stamps: Vec<u64> = deltas
        .iter()
        .map(|(_, d)| d["sent_ns"].as_u64().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[1] - w[0] >= 30_000_000));
}

#[test]
fn cut_streams_end_as_described() {
    let server = TestServer::start();
    let truncated = request(&server, "truncated", STREAM_BODY);
    assert!(truncated.complete);
    assert_eq!(parse_sse(&truncated.body), reference_events()[..5]);

    let partial = request(&server, "partial_event", STREAM_BODY);
    assert!(partial.complete);
    assert!(partial
        .body
        .ends_with(b"event: thread.message.delta\ndata: {\"id\":"));
    assert_eq!(parse_sse(&partial.body), reference_events()[..3]);

    let error = request(&server, "error_event", STREAM_BODY);
    assert!(error.complete);
    let events = parse_sse(&error.body);
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].0, "error");
    let data: serde_json::Value = serde_json::from_str(&events[3].1).unwrap();
    assert_eq!(data["error"]["message"], "test stream error");

    let reset = request(&server, "reset", STREAM_BODY);
    assert!(!reset.complete);
    assert_eq!(parse_sse(&reset.body), reference_events()[..2]);

    let mut conn = connect(&server);
    send(
        &mut conn,
        "POST",
        &submit_path("close_before_headers", "r"),
        BODY,
        "",
    );
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn odd_bodies_and_big_bodies() {
    let server = TestServer::start();
    let not_json = request(&server, "not_json", BODY);
    assert_eq!(not_json.header("content-type"), Some("application/json"));
    assert_eq!(not_json.body, b"this is not json");
    let wrong = request(&server, "wrong_content_type", STREAM_BODY);
    assert_eq!(wrong.header("content-type"), Some("application/json"));
    assert_eq!(wrong.body, REFERENCE_RUN_JSON.as_bytes());

    let big = request(&server, "big_2", BODY);
    assert!(big.complete);
    assert_eq!(big.body.len(), 2 * 1024 * 1024);
    assert_eq!(big.json()["id"], "run_big");
    let big_stream = request(&server, "big_1", STREAM_BODY);
    let events = parse_sse(&big_stream.body);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1.len(), 1024 * 1024);
    assert!(big_stream.chunks.len() > 10);

    let echo = request(&server, "echo", BODY).json();
    assert_eq!(echo["id"], "run_echo");
    assert_eq!(
        echo["received"],
        serde_json::from_str::<serde_json::Value>(BODY).unwrap()
    );
    let echo_stream = parse_sse(&request(&server, "echo", STREAM_BODY).body);
    let run: serde_json::Value = serde_json::from_str(&echo_stream[0].1).unwrap();
    assert_eq!(run["received"]["stream"], true);
}

#[test]
fn stalls_end_when_the_server_is_dropped() {
    let server = TestServer::start();
    let mut quiet = connect(&server);
    send(
        &mut quiet,
        "POST",
        &submit_path("stall_headers", "r"),
        BODY,
        "",
    );
    let mut stalled = connect(&server);
    send(
        &mut stalled,
        "POST",
        &submit_path("stall", "r"),
        STREAM_BODY,
        "",
    );
    // The stall sends its first two events, then nothing.
    assert_eq!(line(&mut stalled).as_deref(), Some("HTTP/1.1 200 OK"));
    quiet
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 1];
    let err = quiet.read(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    assert_eq!(server.requests().len(), 2);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2), "drop is prompt");
    // Both connections are closed by the drop: end of stream (or a reset), no more waiting.
    quiet
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(matches!(quiet.read(&mut byte), Ok(0) | Err(_)));
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("event: done"));
}

#[test]
fn binary_prints_its_url_and_exits_on_time() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oairun-testserver"))
        .args(["--max-seconds", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let port: u16 = url
        .trim_end()
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {url:?}"));
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn = BufReader::new(stream);
    send(
        &mut conn,
        "POST",
        &submit_path("thread_123", "run_123"),
        BODY,
        "",
    );
    assert_eq!(read_response(&mut conn).body, REFERENCE_RUN_JSON.as_bytes());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty(), "exactly one line on stdout");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "exits after --max-seconds"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[tokio::test]
async fn works_from_an_async_test() {
    // Its own runtime on its own thread: starting, using and dropping it inside another
    // runtime must neither panic nor deadlock.
    let server = TestServer::start();
    let port = server.port();
    let response = tokio::task::spawn_blocking(move || {
        let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
        send(
            &mut conn,
            "POST",
            &submit_path("thread_123", "run_123"),
            BODY,
            "",
        );
        read_response(&mut conn)
    })
    .await
    .unwrap();
    assert_eq!(response.body, REFERENCE_RUN_JSON.as_bytes());
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{port}/v1"));
    drop(server);
}
