//! `POST /v1/responses` seen from a raw TCP client: validation, the fixed scenarios byte for
//! byte, holds and stalls.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use oairun_testserver::{
    responses_events, responses_json, responses_long_text, responses_stream, TestServer,
    RESPONSES_ERROR_FLAT_SSE, RESPONSES_ERROR_NESTED_SSE, RESPONSES_FAILED_JSON,
    RESPONSES_FAILED_SSE, RESPONSES_FUNCTION_CALL_JSON, RESPONSES_FUNCTION_CALL_SSE,
    RESPONSES_INCOMPLETE_JSON, RESPONSES_INCOMPLETE_SSE, RESPONSES_TEXT_JSON, RESPONSES_TEXT_SSE,
};

fn streamed(model: &str) -> String {
    format!(r#"{{"model":"{model}","input":"What's the weather in Paris?","stream":true}}"#)
}

fn not_streamed(model: &str) -> String {
    format!(r#"{{"model":"{model}","input":"What's the weather in Paris?"}}"#)
}

fn assert_error(response: &Response, message: &str, param: Option<&str>, code: Option<&str>) {
    assert_eq!(
        response.status,
        400,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        error_body(message, "invalid_request_error", param, code)
    );
}

#[test]
fn text_scenario_is_byte_identical_to_its_fixtures() {
    let server = TestServer::start();
    let response = post_responses(&server, &streamed("gpt-test"));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert!(response.complete);
    assert_eq!(response.body, RESPONSES_TEXT_SSE.as_bytes());
    assert_eq!(response.chunks.len(), 14, "one chunk per event");
    let events = parse_sse(&response.body);
    assert_eq!(events, responses_events("gpt-test"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (n, (name, data)) in events.iter().enumerate() {
        let data: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n as u64);
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| {
            let d: serde_json::Value = serde_json::from_str(d).unwrap();
            d["delta"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "It's 15\u{b0}C and clear in Paris.");

    let sync = post_responses(&server, &not_streamed("gpt-test"));
    assert_eq!(sync.status, 200);
    assert_eq!(sync.header("content-type"), Some("application/json"));
    assert_eq!(sync.body, RESPONSES_TEXT_JSON.as_bytes());
    let object = sync.json();
    assert_eq!(object["object"], "response");
    assert_eq!(object["status"], "completed");
    assert!(object["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(
        object["output"][0]["content"][0]["text"],
        "It's 15\u{b0}C and clear in Paris."
    );
    assert_eq!(object["usage"]["total_tokens"], 48);
    // The final event's Response is the non-streamed one.
    let completed: serde_json::Value = serde_json::from_str(&events[13].1).unwrap();
    assert_eq!(completed["response"], object);
}

#[test]
fn done_style_and_no_event_lines() {
    let server = TestServer::start();
    let done = post_responses(&server, &streamed("done_style"));
    assert!(done.complete);
    assert_eq!(
        done.body,
        format!("{RESPONSES_TEXT_SSE}data: [DONE]\n\n").as_bytes()
    );
    let events = parse_sse(&done.body);
    assert_eq!(events.len(), 15);
    assert_eq!(events[14], ("message".to_string(), "[DONE]".to_string()));
    assert_eq!(events, responses_events("done_style"));

    let bare = post_responses(&server, &streamed("no_event_lines"));
    assert!(bare.complete);
    let body = String::from_utf8(bare.body.clone()).unwrap();
    assert!(!body.contains("event:"));
    assert_eq!(Some(body), responses_stream("no_event_lines"));
    let events = parse_sse(&bare.body);
    let text_events = responses_events("gpt-test");
    assert_eq!(events.len(), text_events.len());
    for (bare, full) in events.iter().zip(&text_events) {
        assert_eq!(bare.0, "message");
        assert_eq!(bare.1, full.1);
    }
}

#[test]
fn function_call_failed_incomplete_fixtures() {
    let server = TestServer::start();
    for (model, sse, json) in [
        (
            "function_call",
            RESPONSES_FUNCTION_CALL_SSE,
            RESPONSES_FUNCTION_CALL_JSON,
        ),
        ("failed", RESPONSES_FAILED_SSE, RESPONSES_FAILED_JSON),
        (
            "incomplete",
            RESPONSES_INCOMPLETE_SSE,
            RESPONSES_INCOMPLETE_JSON,
        ),
    ] {
        let stream = post_responses(&server, &streamed(model));
        assert!(stream.complete, "{model}");
        assert_eq!(stream.body, sse.as_bytes(), "{model}");
        let sync = post_responses(&server, &not_streamed(model));
        assert_eq!(sync.body, json.as_bytes(), "{model}");
        assert_eq!(responses_json(model).as_deref(), Some(json));
    }
    let events = responses_events("function_call");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let completed: serde_json::Value = serde_json::from_str(&events[6].1).unwrap();
    let item = &completed["response"]["output"][0];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["name"], "get_weather");
    assert_eq!(item["call_id"], "call_fixed_get_weather");
    assert_eq!(item["arguments"], r#"{"location":"Paris, France"}"#);

    let failed = responses_events("failed");
    assert_eq!(failed.len(), 3);
    let data: serde_json::Value = serde_json::from_str(&failed[2].1).unwrap();
    assert_eq!(failed[2].0, "response.failed");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(data["response"]["error"]["code"], "server_error");
    assert_eq!(
        data["response"]["error"]["message"],
        "The model failed to generate a response."
    );

    let incomplete = responses_events("incomplete");
    let last = incomplete.last().unwrap();
    assert_eq!(last.0, "response.incomplete");
    let data: serde_json::Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(data["response"]["status"], "incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn error_events_flat_and_nested() {
    let server = TestServer::start();
    let flat = post_responses(&server, &streamed("error_flat"));
    assert!(flat.complete);
    assert_eq!(flat.body, RESPONSES_ERROR_FLAT_SSE.as_bytes());
    let events = parse_sse(&flat.body);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].0, "response.created");
    assert_eq!(events[1].0, "response.in_progress");
    assert_eq!(
        events[2],
        (
            "error".to_string(),
            r#"{"type":"error","sequence_number":2,"code":"server_error","message":"The server had an error while processing your request.","param":null}"#.to_string()
        )
    );
    let nested = post_responses(&server, &streamed("error_nested"));
    assert_eq!(nested.body, RESPONSES_ERROR_NESTED_SSE.as_bytes());
    let events = parse_sse(&nested.body);
    assert_eq!(
        events[2].1,
        r#"{"type":"error","sequence_number":2,"error":{"type":"too_many_requests","code":"too_many_requests","message":"Too Many Requests","param":null}}"#
    );
    // Not streamed, stream-only scenarios answer the text Response.
    for model in [
        "error_flat",
        "error_nested",
        "cut",
        "hold_open",
        "done_style",
    ] {
        let sync = post_responses(&server, &not_streamed(model));
        assert_eq!(sync.body, RESPONSES_TEXT_JSON.as_bytes(), "{model}");
    }
}

#[test]
fn cut_ends_before_completed() {
    let server = TestServer::start();
    let cut = post_responses(&server, &streamed("cut"));
    assert!(cut.complete, "a clean end of body");
    let events = parse_sse(&cut.body);
    let full = responses_events("gpt-test");
    assert_eq!(events, full[..full.len() - 1]);
    assert_eq!(events.last().unwrap().0, "response.output_item.done");
}

#[test]
fn hold_open_keeps_the_connection_after_completed() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(
        &mut conn,
        "POST",
        "/v1/responses",
        &streamed("hold_open"),
        "",
    );
    // Read the head and every event; the body does not end.
    assert_eq!(line(&mut conn).as_deref(), Some("HTTP/1.1 200 OK"));
    while line(&mut conn).is_some_and(|l| !l.is_empty()) {}
    let mut body = Vec::new();
    let expected = RESPONSES_TEXT_SSE.len();
    let mut decoded = Vec::new();
    // Chunks: size line, data, CRLF.
    while decoded.len() < expected {
        let size = usize::from_str_radix(&line(&mut conn).unwrap(), 16).unwrap();
        assert_ne!(size, 0, "the body must not end");
        let mut data = vec![0; size + 2];
        conn.read_exact(&mut data).unwrap();
        decoded.extend_from_slice(&data[..size]);
        body.push(size);
    }
    assert_eq!(decoded, RESPONSES_TEXT_SSE.as_bytes());
    assert_eq!(server.answers_in_progress(), 1);
    conn.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let err = conn.read(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    assert_eq!(server.answers_in_progress(), 1, "still held");
    // The client leaves: the server sees it and stops answering.
    drop(conn);
    let started = Instant::now();
    while server.answers_in_progress() != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "noticed the client left"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn stall_sends_created_then_nothing() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(&mut conn, "POST", "/v1/responses", &streamed("stall"), "");
    assert_eq!(line(&mut conn).as_deref(), Some("HTTP/1.1 200 OK"));
    while line(&mut conn).is_some_and(|l| !l.is_empty()) {}
    let size = usize::from_str_radix(&line(&mut conn).unwrap(), 16).unwrap();
    let mut data = vec![0; size + 2];
    conn.read_exact(&mut data).unwrap();
    let first = String::from_utf8(data[..size].to_vec()).unwrap();
    assert!(first.starts_with("event: response.created\n"));
    assert_eq!(Some(first), responses_stream("stall"));
    conn.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(conn.read(&mut byte).is_err());
    assert_eq!(server.answers_in_progress(), 1);
    drop(conn);
    let started = Instant::now();
    while server.answers_in_progress() != 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn stall_not_streamed_sends_nothing() {
    let server = TestServer::start();
    let mut conn = connect(&server);
    send(
        &mut conn,
        "POST",
        "/v1/responses",
        &not_streamed("stall"),
        "",
    );
    conn.get_mut()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(conn.read(&mut byte).is_err(), "not even a status line");
    assert_eq!(server.answers_in_progress(), 1);
    assert_eq!(responses_json("stall"), None);
    drop(conn);
    let started = Instant::now();
    while server.answers_in_progress() != 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn long_streams_spell_responses_long_text() {
    let server = TestServer::start();
    let delta_text = |events: &[(String, String)]| -> String {
        events
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| {
                let d: serde_json::Value = serde_json::from_str(d).unwrap();
                d["delta"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let short = post_responses(&server, &streamed("long_20"));
    assert!(short.complete);
    assert_eq!(
        Some(String::from_utf8(short.body.clone()).unwrap()),
        responses_stream("long_20")
    );
    let events = parse_sse(&short.body);
    assert_eq!(events.len(), 4 + 20 + 4);
    assert_eq!(delta_text(&events), responses_long_text(20));
    let done: serde_json::Value = serde_json::from_str(&events[24].1).unwrap();
    assert_eq!(done["text"], responses_long_text(20));

    let long = post_responses(&server, &streamed("long_3000"));
    assert!(long.complete);
    let events = parse_sse(&long.body);
    assert_eq!(events.len(), 4 + 3000 + 4);
    let text = delta_text(&events);
    assert_eq!(text, responses_long_text(3000));
    assert!(text.contains('"') && text.contains('\n') && text.contains('\\') && !text.is_ascii());
    for (n, (name, data)) in events.iter().enumerate() {
        let data: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n as u64);
    }
    let largest = events.iter().map(|(_, d)| d.len()).max().unwrap();
    assert!(largest < 2000, "the largest event stays small: {largest}");
    let done: serde_json::Value = serde_json::from_str(&events[3004].1).unwrap();
    assert_eq!(done["text"], "[the 3000 deltas' text, not repeated here]");
    assert!(long.chunks.len() < 100, "deltas are batched");

    let sync = post_responses(&server, &not_streamed("long_30")).json();
    assert_eq!(
        sync["output"][0]["content"][0]["text"],
        responses_long_text(30)
    );
}

#[test]
fn validation_comes_first_with_openai_bodies() {
    let server = TestServer::start();
    let not_json = post_responses(&server, "not json");
    assert_eq!(not_json.status, 400);
    let error = not_json.json();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("We could not parse the JSON body of your request"));

    for body in [
        r#"{"input":"hi","stream":true}"#,
        r#"{"model":7,"input":"hi"}"#,
        r#"{"model":null,"previous_response_id":"resp_not_found"}"#,
    ] {
        let response = post_responses(&server, body);
        assert_error(
            &response,
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        );
    }
    for model in ["gpt-test", "status_500", "function_call"] {
        let body = format!(
            r#"{{"model":"{model}","previous_response_id":"resp_not_found","input":"hi","stream":true}}"#
        );
        assert_error(
            &post_responses(&server, &body),
            "Previous response with id 'resp_not_found' not found.",
            Some("previous_response_id"),
            Some("previous_response_not_found"),
        );
    }
    // Other unknown ids are accepted.
    let made_up = post_responses(
        &server,
        r#"{"model":"gpt-test","previous_response_id":"resp_made_up","input":"hi"}"#,
    );
    assert_eq!(made_up.body, RESPONSES_TEXT_JSON.as_bytes());
    // Only POST.
    let mut conn = connect(&server);
    send(&mut conn, "GET", "/v1/responses", "", "");
    let get = read_response(&mut conn);
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));
}

#[test]
fn status_scenarios() {
    let server = TestServer::start();
    let limited = post_responses(&server, &streamed("status_429"));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("retry-after-ms"), Some("50"));
    assert_eq!(
        String::from_utf8_lossy(&limited.body),
        error_body(
            "test error 429",
            "requests",
            None,
            Some("rate_limit_exceeded")
        )
    );
    let down = post_responses(&server, &not_streamed("status_503"));
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["error"]["type"], "server_error");
    assert_eq!(down.json()["error"]["message"], "test error 503");
}

#[test]
fn requests_are_recorded_with_their_model() {
    let server = TestServer::start();
    let body = streamed("gpt-test");
    let response = post_responses(&server, &body);
    assert_eq!(response.status, 200);
    post_responses(&server, r#"{"input":"no model"}"#);
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].target, "/v1/responses");
    assert_eq!(recorded[0].body, body.as_bytes());
    assert_eq!(recorded[0].model.as_deref(), Some("gpt-test"));
    assert_eq!(recorded[0].thread_id, None);
    assert_eq!(recorded[1].model, None);
    assert_eq!(server.requests_for_model("gpt-test").len(), 1);
    assert!(server.requests_for_model("other").is_empty());
    assert!(recorded[0].header("openai-beta").is_none());

    let mut conn = connect(&server);
    send(&mut conn, "GET", "/_test/requests", "", "");
    let list = read_response(&mut conn).json();
    assert_eq!(list[0]["model"], "gpt-test");
    assert_eq!(list[0]["body"], body.as_str());
    assert!(list[1]["model"].is_null());
}
