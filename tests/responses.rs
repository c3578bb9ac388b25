//! The Responses endpoint through the Rust API against the loopback test server: the request
//! body and headers, every scenario of `/v1/responses`, the end-of-stream rule, both error
//! shapes, and the blocking, async and started forms.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oairun::{Client, ClientOptions, ErrorKind, Event, EventKind, ResponseRequest};
use oairun_testserver::{
    responses_events, responses_json, responses_long_text, TestServer, RESPONSES_TEXT_JSON,
};

fn client(server: &TestServer) -> Client {
    Client::new(&ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(server.base_url()),
        ..Default::default()
    })
    .unwrap()
}

fn request(model: &str) -> ResponseRequest {
    let mut request = ResponseRequest::new();
    request.set_model(model).unwrap();
    request
        .add_function_call_output("call_fixed_get_weather", "{\"temp_c\":15}")
        .unwrap();
    request
}

/// Streams `model` and collects every event (name, data) with the outcome.
fn stream(client: &Client, model: &str) -> (Vec<(String, String)>, oairun::Result<()>) {
    let mut events = Vec::new();
    let result = client.create_response_stream(&request(model), |e: &Event| {
        events.push((e.name().to_owned(), e.data().to_owned()));
        true
    });
    (events, result)
}

#[test]
fn the_body_and_headers_are_what_the_api_expects() {
    let server = TestServer::start();
    let client = client(&server);
    let mut r = ResponseRequest::new();
    r.set_model("gpt-test").unwrap();
    r.set_previous_response_id("resp_abc").unwrap();
    r.set_instructions("Answer briefly.");
    r.set_tools_json(
        r#"[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]"#,
    )
    .unwrap();
    let tricky = "quote \" backslash \\ newline \n é 😀";
    r.add_function_call_output("call_1", tricky).unwrap();
    r.add_input_json(r#"{"role":"user","content":"and tomorrow?"}"#)
        .unwrap();
    r.set_field_json("store", "true").unwrap();
    r.set_field_json("temperature", "0.25").unwrap();
    let json = client.create_response(&r).unwrap();
    assert_eq!(json, RESPONSES_TEXT_JSON, "the answer exactly as sent");

    let recorded = &server.requests_for_model("gpt-test")[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.target, "/v1/responses");
    assert_eq!(
        recorded.header("authorization"),
        Some("Bearer sk-test-key-123")
    );
    assert_eq!(recorded.header("content-type"), Some("application/json"));
    assert_eq!(recorded.header("accept"), Some("application/json"));
    assert_eq!(
        recorded.header("openai-beta"),
        None,
        "no beta header on /responses"
    );
    let body = String::from_utf8(recorded.body.clone()).unwrap();
    let expected = format!(
        r#"{{"model":"gpt-test","previous_response_id":"resp_abc","instructions":"Answer briefly.","tools":[{{"type":"function","name":"get_weather","parameters":{{"type":"object"}}}}],"input":[{{"type":"function_call_output","call_id":"call_1","output":{}}},{{"role":"user","content":"and tomorrow?"}}],"store":true,"temperature":0.25,"stream":false}}"#,
        serde_json::to_string(tricky).unwrap()
    );
    assert_eq!(body, expected);
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["input"][0]["output"], tricky);

    // The Assistants route still carries its header (and only it).
    let mut outputs = oairun::ToolOutputs::new();
    outputs.push("call_1", "x").unwrap();
    client.submit_tool_outputs("t", "r", &outputs).unwrap();
    let assistants = server.requests_for("t");
    assert_eq!(assistants[0].header("openai-beta"), Some("assistants=v2"));
}

#[test]
fn streams_deliver_every_event_as_sent_and_end_at_the_terminal_one() {
    let server = TestServer::start();
    let client = client(&server);
    for model in ["gpt-test", "function_call", "done_style"] {
        let (events, result) = stream(&client, model);
        assert!(result.is_ok(), "{model}: {result:?}");
        let expected: Vec<_> = responses_events(model)
            .into_iter()
            .filter(|(_, data)| data != "[DONE]")
            .collect();
        assert_eq!(events, expected, "{model}");
        assert_eq!(events.last().unwrap().0, "response.completed");
    }
    let (events, result) = stream(&client, "incomplete");
    assert!(
        result.is_ok(),
        "incomplete is a complete stream: {result:?}"
    );
    assert_eq!(events, responses_events("incomplete"));
    assert_eq!(events.last().unwrap().0, "response.incomplete");
}

#[test]
fn events_without_an_event_line_are_named_by_their_type() {
    let server = TestServer::start();
    let client = client(&server);
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    client
        .create_response_stream(&request("no_event_lines"), |e: &Event| {
            kinds.push(e.kind());
            names.push(e.name().to_owned());
            true
        })
        .unwrap();
    let with_lines: Vec<String> = responses_events("gpt-test")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, with_lines);
    assert!(!kinds.contains(&EventKind::Unknown), "{kinds:?}");
    assert_eq!(kinds[0], EventKind::ResponseCreated);
    assert_eq!(*kinds.last().unwrap(), EventKind::ResponseCompleted);
}

#[test]
fn the_call_returns_after_the_terminal_event_though_the_connection_stays_open() {
    let server = TestServer::start();
    let client = client(&server);
    let started = Instant::now();
    let (events, result) = stream(&client, "hold_open");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "returned after {:?}",
        started.elapsed()
    );
    assert_eq!(events.last().unwrap().0, "response.completed");
    // The connection is given up: the server sees the client leave.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.answers_in_progress() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.answers_in_progress(), 0);
}

#[test]
fn failures_in_the_stream_carry_their_fields() {
    let server = TestServer::start();
    let client = client(&server);

    let (events, result) = stream(&client, "error_flat");
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::StreamError);
    assert_eq!(events.last().unwrap().0, "error", "delivered first");
    assert_eq!(error.api().code.as_deref(), Some("server_error"));
    assert_eq!(error.api().kind, None, "the flat shape has no error type");
    assert!(error
        .message()
        .contains("The server had an error while processing your request."));
    assert_eq!(error.http_status(), Some(200));
    assert!(error.request_id().is_some());

    let (_, result) = stream(&client, "error_nested");
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::StreamError);
    assert_eq!(error.api().kind.as_deref(), Some("too_many_requests"));
    assert_eq!(error.api().code.as_deref(), Some("too_many_requests"));
    assert!(error.message().contains("Too Many Requests"));

    let (events, result) = stream(&client, "failed");
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::StreamError);
    assert_eq!(events.last().unwrap().0, "response.failed");
    assert_eq!(error.api().code.as_deref(), Some("server_error"));
    assert!(error
        .message()
        .contains("The model failed to generate a response."));

    let (events, result) = stream(&client, "cut");
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(
        error.message().contains("response.completed"),
        "{}",
        error.message()
    );
    let sent = responses_events("gpt-test");
    assert_eq!(
        events,
        sent[..sent.len() - 1],
        "every complete event before the cut"
    );
}

#[test]
fn done_after_the_terminal_event_is_never_delivered() {
    // (`[DONE]` before a terminal event is refused by the stream rule: a unit test in
    // src/api/responses.rs.)
    let server = TestServer::start();
    let client = client(&server);
    let (events, result) = stream(&client, "done_style");
    assert!(result.is_ok());
    assert!(events.iter().all(|(_, data)| data != "[DONE]"));
}

#[test]
fn http_errors_carry_the_api_fields() {
    let server = TestServer::start();
    let client = client(&server);

    let mut no_model = ResponseRequest::new();
    no_model
        .add_input_json(r#"{"role":"user","content":"hi"}"#)
        .unwrap();
    let error = client.create_response(&no_model).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::HttpStatus);
    assert_eq!(error.http_status(), Some(400));
    assert_eq!(
        error.api().code.as_deref(),
        Some("missing_required_parameter")
    );
    assert_eq!(error.api().param.as_deref(), Some("model"));
    assert_eq!(error.api().kind.as_deref(), Some("invalid_request_error"));
    assert!(error
        .message()
        .contains("Missing required parameter: 'model'."));

    let mut gone = request("gpt-test");
    gone.set_previous_response_id("resp_not_found").unwrap();
    for streamed in [false, true] {
        let error = if streamed {
            client.create_response_stream(&gone, |_| true).unwrap_err()
        } else {
            client.create_response(&gone).unwrap_err()
        };
        assert_eq!(error.kind(), ErrorKind::HttpStatus);
        assert_eq!(
            error.api().code.as_deref(),
            Some("previous_response_not_found")
        );
        assert_eq!(error.api().param.as_deref(), Some("previous_response_id"));
        assert!(error.request_id().is_some());
    }

    let error = client.create_response(&request("status_404")).unwrap_err();
    assert_eq!(error.http_status(), Some(404));
    assert!(error.message().contains("test error 404"));
}

#[test]
fn sync_answers_are_the_response_objects_as_sent() {
    let server = TestServer::start();
    let client = client(&server);
    for model in ["gpt-test", "function_call", "failed", "incomplete"] {
        let json = client.create_response(&request(model)).unwrap();
        assert_eq!(Some(json), responses_json(model), "{model}");
    }
}

#[test]
fn bad_requests_fail_before_anything_is_sent() {
    let server = TestServer::start();
    let client = client(&server);
    let mut empty = ResponseRequest::new();
    empty.set_model("gpt-test").unwrap();
    let error = client.create_response(&empty).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("no input item"));
    let error = client.create_response_stream(&empty, |_| true).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(client.create_response_start(&empty, |_| {}).is_err());
    assert!(client
        .create_response_stream_start(&empty, |_| true)
        .is_err());
    assert!(server.requests().is_empty());
}

#[test]
fn a_long_stream_reassembles_the_text() {
    let server = TestServer::start();
    let client = client(&server);
    let mut text = String::new();
    let mut deltas = 0;
    client
        .create_response_stream(&request("long_5000"), |e: &Event| {
            if e.kind() == EventKind::ResponseOutputTextDelta {
                deltas += 1;
                text.push_str(e.json().unwrap()["delta"].as_str().unwrap());
            }
            true
        })
        .unwrap();
    assert_eq!(deltas, 5000);
    assert_eq!(text, responses_long_text(5000));
}

#[test]
fn async_and_started_forms_give_the_same_events() {
    let server = TestServer::start();
    let client = client(&server);
    let expected = responses_events("hold_open");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let events = runtime.block_on(async {
        let mut stream = client
            .create_response_stream_async(&request("hold_open"))
            .await
            .unwrap();
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            let event = event.unwrap();
            events.push((event.name().to_owned(), event.data().to_owned()));
        }
        events
    });
    assert_eq!(events, expected[..events.len()]);
    assert_eq!(events.last().unwrap().0, "response.completed");
    let json = runtime
        .block_on(client.create_response_async(&request("gpt-test")))
        .unwrap();
    assert_eq!(json, RESPONSES_TEXT_JSON);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let submission = client
        .create_response_stream_start(&request("hold_open"), move |e: &Event| {
            sink.lock()
                .unwrap()
                .push((e.name().to_owned(), e.data().to_owned()));
            true
        })
        .unwrap();
    submission.wait().unwrap();
    assert_eq!(*seen.lock().unwrap(), events);

    let (tx, rx) = std::sync::mpsc::channel();
    let submission = client
        .create_response_start(&request("function_call"), move |result| {
            tx.send(result).unwrap();
        })
        .unwrap();
    submission.wait().unwrap();
    assert_eq!(
        rx.recv().unwrap().unwrap(),
        responses_json("function_call").unwrap()
    );

    // A started stream that errs reports it through wait.
    let submission = client
        .create_response_stream_start(&request("error_nested"), |_| true)
        .unwrap();
    assert_eq!(
        submission.wait().unwrap_err().kind(),
        ErrorKind::StreamError
    );
}
