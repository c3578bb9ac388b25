//! The Rust API against the loopback test server: what is sent, what comes back, and every
//! way it can fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oairun::{Client, ClientOptions, ErrorKind, Event, EventKind, ToolOutputs};
use oairun_testserver::{odd_framing_events, reference_events, TestServer, REFERENCE_RUN_JSON};

fn options(server: &TestServer) -> ClientOptions {
    ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(server.base_url()),
        ..Default::default()
    }
}

fn client(server: &TestServer) -> Client {
    Client::new(&options(server)).unwrap()
}

fn outputs() -> ToolOutputs {
    let mut outputs = ToolOutputs::new();
    outputs.push("call_001", "70 degrees and sunny.").unwrap();
    outputs
}

/// Streams and collects every event with the call's result.
fn stream(client: &Client, thread: &str) -> (Vec<Event>, oairun::Result<()>) {
    let mut events = Vec::new();
    let result = client.submit_tool_outputs_stream(thread, "run_123", &outputs(), |e| {
        events.push(e.clone());
        true
    });
    (events, result)
}

fn names_and_data(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.name().to_owned(), e.data().to_owned()))
        .collect()
}

#[test]
fn request_is_sent_as_the_api_expects() {
    let server = TestServer::start();
    let mut opts = options(&server);
    opts.organization = Some("org-abc".into());
    opts.project = Some("proj_xyz".into());
    opts.headers
        .push(("X-Custom".into(), "custom value".into()));
    let client = Client::new(&opts).unwrap();
    let mut outs = ToolOutputs::new();
    let tricky = "quote \" backslash \\ newline \n tab \t é 😀 end";
    outs.push("call_001", tricky).unwrap();
    outs.push("call_002", "").unwrap();
    client
        .submit_tool_outputs("thread_123", "run_123", &outs)
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.target,
        "/v1/threads/thread_123/runs/run_123/submit_tool_outputs"
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-key-123"));
    assert_eq!(r.header("openai-beta"), Some("assistants=v2"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("openai-organization"), Some("org-abc"));
    assert_eq!(r.header("openai-project"), Some("proj_xyz"));
    assert_eq!(r.header("x-custom"), Some("custom value"));
    assert_eq!(r.header("accept"), Some("application/json"));
    let ua = r.header("user-agent").unwrap();
    assert_eq!(ua, format!("oairun/{}", env!("CARGO_PKG_VERSION")));

    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "tool_outputs": [
                {"tool_call_id": "call_001", "output": tricky},
                {"tool_call_id": "call_002", "output": ""}
            ],
            "stream": false
        })
    );

    // The streamed form differs only in "stream" and Accept.
    server.clear();
    let (_, result) = stream(&client, "thread_123");
    result.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["stream"], true);
}

#[test]
fn extra_headers_replace_standard_ones() {
    let server = TestServer::start();
    let mut opts = options(&server);
    opts.headers
        .push(("OpenAI-Beta".into(), "assistants=v1".into()));
    opts.headers.push(("User-Agent".into(), "mine/1.0".into()));
    let client = Client::new(&opts).unwrap();
    client
        .submit_tool_outputs("thread_123", "run_123", &outputs())
        .unwrap();
    // The streamed form reads the socket on this thread, over a connection of its own that
    // oairun writes itself (wire.rs): the same headers, each once.
    stream(&client, "thread_123").1.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let only = |name: &str| -> String {
            let found: Vec<_> = r
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .collect();
            assert_eq!(found.len(), 1, "{name} in {:?}", r.headers);
            found[0].1.clone()
        };
        assert_eq!(only("openai-beta"), "assistants=v1");
        assert_eq!(only("user-agent"), "mine/1.0");
        assert_eq!(only("authorization"), "Bearer sk-test-key-123");
        assert_eq!(
            only("host"),
            server.base_url()[7..].split('/').next().unwrap()
        );
        assert_eq!(only("content-length"), r.body.len().to_string());
        let mut names: Vec<String> = r.headers.iter().map(|(n, _)| n.to_lowercase()).collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a header sent twice: {:?}", r.headers);
    }
}

#[test]
fn sync_result_is_byte_identical_to_what_the_server_sent() {
    let server = TestServer::start();
    let run = client(&server)
        .submit_tool_outputs("thread_123", "run_123", &outputs())
        .unwrap();
    assert_eq!(run, REFERENCE_RUN_JSON);
    assert!(run.contains("\n\"status\": \"queued\",\n"));
}

#[test]
fn reference_stream_arrives_in_order_with_exact_names_and_data() {
    let server = TestServer::start();
    let (events, result) = stream(&client(&server), "thread_123");
    result.unwrap();
    let expected = reference_events();
    assert!(
        expected.len() >= 15,
        "the fixture holds the whole reference stream"
    );
    assert_eq!(names_and_data(&events), expected);
    assert_eq!(events.last().unwrap().kind(), EventKind::Done);
    assert_eq!(events.last().unwrap().data(), "[DONE]");
    assert_eq!(events[0].kind(), EventKind::ThreadRunStepCompleted);
}

#[test]
fn odd_but_legal_framing_decodes_to_the_same_events() {
    let server = TestServer::start();
    let (events, result) = stream(&client(&server), "odd_framing");
    result.unwrap();
    assert_eq!(names_and_data(&events), odd_framing_events());
    assert!(events.iter().any(|e| e.id().is_some()));
}

#[test]
fn events_reach_the_callback_before_the_body_ends() {
    // The server sends two events and then stalls for 30 s (until the client leaves): the
    // callback can only see them now if delivery does not wait for the end of the body.
    let server = TestServer::start();
    let client = client(&server);
    let start = Instant::now();
    let mut seen = 0;
    let result = client.submit_tool_outputs_stream("stall", "run_123", &outputs(), |_| {
        seen += 1;
        seen < 2
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(seen, 2);
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn http_errors_carry_status_api_fields_and_request_id() {
    let server = TestServer::start();
    let client = client(&server);
    for (status, kind, code, param) in [
        (400, "invalid_request_error", None, Some("tool_outputs")),
        (401, "invalid_request_error", Some("invalid_api_key"), None),
        (404, "invalid_request_error", None, None),
        (429, "requests", Some("rate_limit_exceeded"), None),
        (500, "server_error", None, None),
    ] {
        let thread = format!("status_{status}");
        for streamed in [false, true] {
            let err = if streamed {
                let (events, result) = stream(&client, &thread);
                assert!(events.is_empty());
                result.unwrap_err()
            } else {
                client
                    .submit_tool_outputs(&thread, "run_123", &outputs())
                    .unwrap_err()
            };
            assert_eq!(err.kind(), ErrorKind::HttpStatus, "{thread}");
            assert_eq!(err.http_status(), Some(status));
            assert!(err.request_id().unwrap().starts_with("req_"));
            assert_eq!(
                err.api().message.as_deref(),
                Some(&*format!("test error {status}"))
            );
            assert_eq!(err.api().kind.as_deref(), Some(kind), "{thread}");
            if let Some(code) = code {
                assert_eq!(err.api().code.as_deref(), Some(code), "{thread}");
            }
            assert_eq!(err.api().param.as_deref(), param, "{thread}");
            assert!(err.message().contains(&format!("HTTP {status}")));
            assert!(err.message().contains(err.request_id().unwrap()));
            assert!(!err.message().contains("sk-test-key-123"));
        }
    }
    // A non-JSON error body still gives the status and the body's text.
    let err = client
        .submit_tool_outputs("status_502_plain", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
    assert_eq!(err.http_status(), Some(502));
    assert!(
        err.message().contains("upstream exploded"),
        "{}",
        err.message()
    );
    assert_eq!(err.api().message, None);
}

#[test]
fn error_event_is_delivered_then_reported() {
    let server = TestServer::start();
    let (events, result) = stream(&client(&server), "error_event");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    let last = events.last().unwrap();
    assert_eq!(last.kind(), EventKind::Error);
    assert_eq!(events.len(), 4);
    assert_eq!(err.api().message.as_deref(), Some("test stream error"));
    assert_eq!(err.api().kind.as_deref(), Some("server_error"));
    assert_eq!(err.api().code.as_deref(), Some("server_error"));
    assert!(err.message().contains("test stream error"));
    assert_eq!(err.http_status(), Some(200));
    assert!(err.request_id().is_some());
}

#[test]
fn streams_that_end_before_done_are_protocol_errors() {
    let server = TestServer::start();
    let client = client(&server);
    for (thread, delivered) in [("truncated", 5), ("reset", 2), ("partial_event", 3)] {
        let (events, result) = stream(&client, thread);
        let err = result.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Protocol,
            "{thread}: {}",
            err.message()
        );
        assert_eq!(events.len(), delivered, "{thread}");
        assert!(
            err.message().contains(&format!("after {delivered} events")),
            "{}",
            err.message()
        );
        assert_eq!(
            names_and_data(&events),
            reference_events()[..delivered].to_vec()
        );
    }
}

#[test]
fn answers_that_are_not_what_the_endpoint_returns_are_protocol_errors() {
    let server = TestServer::start();
    let client = client(&server);
    let err = client
        .submit_tool_outputs("not_json", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("not JSON"));
    assert_eq!(err.http_status(), Some(200));

    let (events, result) = stream(&client, "wrong_content_type");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.message().contains("application/json"),
        "{}",
        err.message()
    );
    assert!(events.is_empty());

    let err = client
        .submit_tool_outputs("big_40", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("cap"), "{}", err.message());
    // The answer's status and request id are known before its body: the error carries them.
    assert_eq!(err.http_status(), Some(200));
    assert!(err.request_id().is_some_and(|id| id.starts_with("req_")));

    // One 9 MiB event against the default 8 MiB event cap.
    let (events, result) = stream(&client, "big_9");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.message().contains("cap of 8388608 bytes"),
        "{}",
        err.message()
    );
    assert!(events.is_empty());

    // A small cap: the reference's first event fits in 700 bytes, its second does not.
    let mut opts = options(&server);
    opts.max_event_bytes = Some(700);
    let strict = Client::new(&opts).unwrap();
    let (events, result) = stream(&strict, "thread_123");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Protocol);
    assert_eq!(events.len(), 1);
}

#[test]
fn connection_failures_and_timeouts() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = Client::new(&ClientOptions {
        api_key: Some("k".into()),
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        ..Default::default()
    })
    .unwrap();
    let err = refused
        .submit_tool_outputs("t", "r", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{}", err.message());
    assert_eq!(err.http_status(), None);
    let (_, result) = stream(&refused, "t");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Connect);

    let server = TestServer::start();
    let err = client(&server)
        .submit_tool_outputs("close_before_headers", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{}", err.message());

    let mut opts = options(&server);
    opts.timeout = Some(Duration::from_millis(300));
    opts.read_timeout = Some(Duration::from_millis(300));
    let impatient = Client::new(&opts).unwrap();
    let err = impatient
        .submit_tool_outputs("stall_headers", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{}", err.message());
    let (events, result) = stream(&impatient, "stall");
    assert_eq!(events.len(), 2);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{}", err.message());
}

#[test]
fn streams_have_a_read_gap_limit_not_an_overall_one() {
    // Ten deltas 60 ms apart: longer in all than the 200 ms overall timeout, which is for
    // synchronous calls; each gap is well within the 3 s read timeout.
    let server = TestServer::start();
    let mut opts = options(&server);
    opts.timeout = Some(Duration::from_millis(200));
    opts.read_timeout = Some(Duration::from_secs(3));
    let client = Client::new(&opts).unwrap();
    let start = Instant::now();
    let (events, result) = stream(&client, "slow_60_10");
    result.unwrap();
    assert!(start.elapsed() > Duration::from_millis(200));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind() == EventKind::ThreadMessageDelta)
            .count(),
        10
    );
    // The same gaps against a 20 ms read timeout fail.
    opts.read_timeout = Some(Duration::from_millis(20));
    let (_, result) = stream(&Client::new(&opts).unwrap(), "slow_60_10");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Timeout);
}

#[test]
fn cancel_from_the_callback_stops_the_stream() {
    let server = TestServer::start();
    let client = client(&server);
    let mut seen = Vec::new();
    let result = client.submit_tool_outputs_stream("long_1000", "run_123", &outputs(), |e| {
        seen.push(e.name().to_owned());
        seen.len() < 3
    });
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(seen.len(), 3);
    // The client is still fine afterwards.
    let (_, again) = stream(&client, "thread_123");
    again.unwrap();
}

#[test]
fn a_callback_may_make_a_new_submission() {
    let server = TestServer::start();
    let client = client(&server);
    let mut nested_runs = Vec::new();
    let mut nested_events = 0;
    let (events, result) = {
        let mut events = Vec::new();
        let result = client.submit_tool_outputs_stream("thread_123", "run_123", &outputs(), |e| {
            if e.kind() == EventKind::ThreadMessageCreated {
                nested_runs.push(
                    client
                        .submit_tool_outputs("thread_nested", "run_9", &outputs())
                        .unwrap(),
                );
                let (inner, result) = stream(&client, "thread_nested");
                result.unwrap();
                nested_events = inner.len();
            }
            events.push(e.clone());
            true
        });
        (events, result)
    };
    result.unwrap();
    assert_eq!(names_and_data(&events), reference_events());
    assert_eq!(nested_runs, vec![REFERENCE_RUN_JSON.to_owned()]);
    assert_eq!(nested_events, reference_events().len());
    assert_eq!(server.requests_for("thread_nested").len(), 2);
}

#[test]
fn eight_threads_share_one_client_for_200_submissions() {
    let server = TestServer::start();
    let client = client(&server);
    let done = Arc::new(AtomicUsize::new(0));
    let expected = reference_events();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let client = &client;
            let done = done.clone();
            let expected = &expected;
            scope.spawn(move || {
                for i in 0..25 {
                    let thread = format!("thread_{t}_{i}");
                    if i % 2 == 0 {
                        let run = client
                            .submit_tool_outputs(&thread, "run_123", &outputs())
                            .unwrap();
                        assert_eq!(run, REFERENCE_RUN_JSON);
                    } else {
                        let (events, result) = stream(client, &thread);
                        result.unwrap();
                        assert_eq!(&names_and_data(&events), expected);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(done.load(Ordering::Relaxed), 200);
    assert_eq!(server.requests().len(), 200);
}

#[test]
fn ids_reach_the_server_as_the_one_segment_they_are() {
    let server = TestServer::start();
    let client = client(&server);
    let ids = [
        "a/b",
        "../../etc/passwd",
        "../",
        "what?x=1",
        "frag#ment",
        "with space",
        "ünïcødé-😀",
        "%2F already encoded",
        "...",
    ];
    for id in ids {
        client.submit_tool_outputs(id, id, &outputs()).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(r.thread_id.as_deref(), Some(id), "target {}", r.target);
        assert_eq!(r.run_id.as_deref(), Some(id), "target {}", r.target);
        assert!(r.target.starts_with("/v1/threads/"), "{}", r.target);
        assert!(r.target.ends_with("/submit_tool_outputs"), "{}", r.target);
        assert!(
            !r.target.contains('?') && !r.target.contains('#'),
            "{}",
            r.target
        );
    }
    for bad in ["", ".", ".."] {
        let err = client
            .submit_tool_outputs(bad, "r", &outputs())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
    assert_eq!(server.requests().len(), ids.len());
}

#[test]
fn bad_arguments_fail_before_any_request() {
    let server = TestServer::start();
    let client = client(&server);
    let empty = ToolOutputs::new();
    let err = client.submit_tool_outputs("t", "r", &empty).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = client
        .submit_tool_outputs_stream("t", "", &outputs(), |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(server.requests().is_empty());
}

#[test]
fn long_stream_reassembles_the_text() {
    let server = TestServer::start();
    let mut text = String::new();
    let mut count = 0;
    client(&server)
        .submit_tool_outputs_stream("long_20000", "run_123", &outputs(), |e| {
            count += 1;
            if e.kind() == EventKind::ThreadMessageDelta {
                let value = e.json().unwrap();
                text.push_str(
                    value["delta"]["content"][0]["text"]["value"]
                        .as_str()
                        .unwrap(),
                );
            }
            true
        })
        .unwrap();
    assert_eq!(text, oairun_testserver::long_text(20000));
    assert!(count > 20000);
}

#[test]
fn async_api_gives_the_same_events() {
    let server = TestServer::start();
    let client = client(&server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let run = client
            .submit_tool_outputs_async("thread_123", "run_123", &outputs())
            .await
            .unwrap();
        assert_eq!(run, REFERENCE_RUN_JSON);

        let mut stream = client
            .submit_tool_outputs_stream_async("thread_123", "run_123", &outputs())
            .await
            .unwrap();
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event.unwrap());
        }
        assert_eq!(names_and_data(&events), reference_events());

        let mut stream = client
            .submit_tool_outputs_stream_async("error_event", "run_123", &outputs())
            .await
            .unwrap();
        let mut results = Vec::new();
        while let Some(item) = stream.next().await {
            results.push(item);
        }
        assert_eq!(results.len(), 5);
        assert_eq!(results[3].as_ref().unwrap().kind(), EventKind::Error);
        assert_eq!(
            results[4].as_ref().unwrap_err().kind(),
            ErrorKind::StreamError
        );

        // Blocking calls inside a runtime are refused, not a deadlock or a panic.
        let err = client
            .submit_tool_outputs("thread_123", "run_123", &outputs())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    });
}

#[test]
fn retries_follow_the_servers_wish_then_back_off_and_say_how_many_attempts() {
    let server = TestServer::start();
    let client = client(&server);
    // 429 with retry-after-ms: 100, then the normal answer: two requests, 100 ms apart at least.
    let start = Instant::now();
    let run = client
        .submit_tool_outputs("ratelimit_once", "run_sync", &outputs())
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(run, REFERENCE_RUN_JSON);
    let (events, result) = {
        let mut events = Vec::new();
        let result =
            client.submit_tool_outputs_stream("ratelimit_once", "run_stream", &outputs(), |e| {
                events.push(e.clone());
                true
            });
        (events, result)
    };
    result.unwrap();
    assert_eq!(names_and_data(&events), reference_events());
    assert_eq!(server.requests_for("ratelimit_once").len(), 4);
    let sync_attempts: Vec<_> = server
        .requests_for("ratelimit_once")
        .into_iter()
        .filter(|r| r.run_id.as_deref() == Some("run_sync"))
        .collect();
    assert_eq!(sync_attempts.len(), 2);
    assert_eq!(
        sync_attempts[0].body, sync_attempts[1].body,
        "every attempt sends the same body"
    );

    // 500 every time: the default two retries, then the last answer's error.
    let err = client
        .submit_tool_outputs("status_500", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
    assert_eq!(err.http_status(), Some(500));
    assert_eq!(err.api().message.as_deref(), Some("test error 500"));
    assert!(
        err.message().ends_with("(after 3 attempts)"),
        "{}",
        err.message()
    );
    assert_eq!(server.requests_for("status_500").len(), 3);

    // Not retried: a 400, and anything once retries are off.
    client
        .submit_tool_outputs("status_400", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(server.requests_for("status_400").len(), 1);
    let mut opts = options(&server);
    opts.max_retries = Some(0);
    let once = Client::new(&opts).unwrap();
    let err = once
        .submit_tool_outputs("status_503", "run_123", &outputs())
        .unwrap_err();
    assert!(!err.message().contains("attempts"), "{}", err.message());
    assert_eq!(server.requests_for("status_503").len(), 1);
}
