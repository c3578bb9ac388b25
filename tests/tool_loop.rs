//! The tool-call loop of both endpoints against the test server's scripted models: what each
//! request carries, what the model received, and every way the loop ends.

use oairun::{
    Client, ClientOptions, ErrorKind, Event, EventKind, ResponseRequest, ToolCall, ToolOutputs,
};
use oairun_testserver::{
    tool_loop_text, TestServer, TOOL_LOOP_FIRST_RUN_CALL, TOOL_LOOP_TURN_1, TOOL_LOOP_TURN_2,
};
use serde_json::Value;

const TOOLS: &str = r#"[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"type":"function","name":"get_time","parameters":{"type":"object","properties":{"timezone":{"type":"string"}}}}]"#;
const USER: &str = r#"{"role":"user","content":"Weather and time in Paris, then Tokyo?"}"#;

fn client(server: &TestServer) -> Client {
    Client::new(&ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(server.base_url()),
        ..Default::default()
    })
    .unwrap()
}

fn request(model: &str) -> ResponseRequest {
    let mut r = ResponseRequest::new();
    r.set_model(model).unwrap();
    r.set_instructions("Use the tools.");
    r.set_tools_json(TOOLS).unwrap();
    r.add_input_json(USER).unwrap();
    r.set_field_json("temperature", "0.5").unwrap();
    r
}

/// An output that JSON must escape, different for every call.
fn output_for(call: &ToolCall) -> String {
    format!(
        "{} \"{}\"\n→ 15°C ☀ \\ {}",
        call.name, call.arguments, call.id
    )
}

/// What a loop did: the calls the handler saw with the outputs it gave, and every event.
#[derive(Default)]
struct Seen {
    calls: Vec<(ToolCall, String)>,
    events: Vec<Event>,
}

impl Seen {
    fn names_and_arguments(&self) -> Vec<(&str, &str)> {
        self.calls
            .iter()
            .map(|(c, _)| (c.name.as_str(), c.arguments.as_str()))
            .collect()
    }

    fn outputs(&self) -> Vec<(&str, &str)> {
        self.calls
            .iter()
            .map(|(c, o)| (c.id.as_str(), o.as_str()))
            .collect()
    }

    fn text(&self) -> String {
        self.events.iter().filter_map(Event::text_delta).collect()
    }

    fn count(&self, kind: EventKind) -> usize {
        self.events.iter().filter(|e| e.kind() == kind).count()
    }
}

fn response_loop(
    client: &Client,
    first: &ResponseRequest,
    max_turns: u32,
) -> (Seen, oairun::Result<String>) {
    let mut seen = Seen::default();
    let mut calls = Vec::new();
    let result = client.response_tool_loop(
        first,
        max_turns,
        |call| {
            let output = output_for(call);
            calls.push((call.clone(), output.clone()));
            Ok(output)
        },
        |event| {
            seen.events.push(event.clone());
            true
        },
    );
    seen.calls = calls;
    (seen, result)
}

fn first_outputs() -> ToolOutputs {
    let mut outputs = ToolOutputs::new();
    outputs
        .push(TOOL_LOOP_FIRST_RUN_CALL.0, "Berlin: 9°C, \"rain\"\nlater")
        .unwrap();
    outputs
}

fn run_loop(client: &Client, thread: &str, max_turns: u32) -> (Seen, oairun::Result<String>) {
    let mut seen = Seen::default();
    let mut calls = Vec::new();
    let result = client.run_tool_loop(
        thread,
        "run_1",
        &first_outputs(),
        max_turns,
        |call| {
            let output = output_for(call);
            calls.push((call.clone(), output.clone()));
            Ok(output)
        },
        |event| {
            seen.events.push(event.clone());
            true
        },
    );
    seen.calls = calls;
    (seen, result)
}

fn body(request: &oairun_testserver::RecordedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn expected_calls() -> Vec<(&'static str, &'static str)> {
    TOOL_LOOP_TURN_1
        .iter()
        .chain(TOOL_LOOP_TURN_2.iter())
        .copied()
        .collect()
}

#[test]
fn responses_loop_answers_parallel_calls_over_three_turns() {
    let server = TestServer::start();
    let client = client(&server);
    let (seen, result) = response_loop(&client, &request("tool_loop"), 0);
    let json = result.unwrap();
    assert_eq!(seen.names_and_arguments(), expected_calls());
    let expected = tool_loop_text(&seen.outputs());
    let response: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(response["status"], "completed");
    assert_eq!(
        response["output"][0]["content"][0]["text"],
        expected.as_str()
    );
    assert_eq!(seen.text(), expected);
    // The final JSON is the text inside the last response.completed, exactly.
    let last = seen.events.last().unwrap();
    assert_eq!(last.kind(), EventKind::ResponseCompleted);
    assert!(last.data().contains(&json));
    assert_eq!(seen.count(EventKind::ResponseCompleted), 3);

    let requests = server.requests_for_model("tool_loop");
    assert_eq!(requests.len(), 3);
    let bodies: Vec<Value> = requests.iter().map(body).collect();
    assert_eq!(
        bodies[0]["input"],
        serde_json::json!([serde_json::from_str::<Value>(USER).unwrap()])
    );
    assert!(bodies[0].get("previous_response_id").is_none());
    let completed: Vec<Value> = seen
        .events
        .iter()
        .filter(|e| e.kind() == EventKind::ResponseCompleted)
        .map(|e| e.json().unwrap())
        .collect();
    for turn in 1..3 {
        let b = &bodies[turn];
        assert_eq!(b["model"], "tool_loop");
        assert_eq!(b["instructions"], "Use the tools.");
        assert_eq!(b["tools"], serde_json::from_str::<Value>(TOOLS).unwrap());
        assert_eq!(b["temperature"], 0.5);
        assert_eq!(b["stream"], true);
        assert_eq!(
            b["previous_response_id"],
            completed[turn - 1]["response"]["id"]
        );
        let input = b["input"].as_array().unwrap();
        let answered: Vec<_> = if turn == 1 { &seen.calls[..2] } else { &seen.calls[2..] }
            .iter()
            .map(|(c, o)| {
                serde_json::json!({"type": "function_call_output", "call_id": c.id, "output": o})
            })
            .collect();
        assert_eq!(input, &answered);
    }
    // The body's field order is the documented one.
    let text = String::from_utf8(requests[1].body.clone()).unwrap();
    assert!(
        text.starts_with(r#"{"model":"tool_loop","previous_response_id":"resp_"#),
        "{text}"
    );
}

#[test]
fn responses_loop_with_store_false_replays_the_conversation() {
    let server = TestServer::start();
    let client = client(&server);
    let mut first = request("tool_loop");
    first.set_field_json("store", "false").unwrap();
    let (seen, result) = response_loop(&client, &first, 0);
    let json = result.unwrap();
    let expected = tool_loop_text(&seen.outputs());
    let response: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        response["output"][0]["content"][0]["text"],
        expected.as_str()
    );
    assert_eq!(response["store"], false);

    let requests = server.requests_for_model("tool_loop");
    assert_eq!(requests.len(), 3);
    // Each output item exactly as the server sent it in response.completed.
    let mut items: Vec<String> = vec![USER.to_owned()];
    let completed: Vec<&Event> = seen
        .events
        .iter()
        .filter(|e| e.kind() == EventKind::ResponseCompleted)
        .collect();
    let mut answered = 0;
    for turn in 1..3 {
        let raw: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(completed[turn - 1].data()).unwrap();
        let response: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(raw["response"].get()).unwrap();
        let output: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(response["output"].get()).unwrap();
        items.extend(output.iter().map(|i| i.get().to_owned()));
        let n = if turn == 1 { 2 } else { 1 };
        for (call, out) in &seen.calls[answered..answered + n] {
            let mut item = String::from(r#"{"type":"function_call_output","call_id":"#);
            item.push_str(&serde_json::to_string(&call.id).unwrap());
            item.push_str(r#","output":"#);
            item.push_str(&serde_json::to_string(out).unwrap());
            item.push('}');
            items.push(item);
        }
        answered += n;
        let text = String::from_utf8(requests[turn].body.clone()).unwrap();
        let input = format!("\"input\":[{}]", items.join(","));
        assert!(
            text.contains(&input),
            "turn {turn}: {text}\nexpected {input}"
        );
        let b = body(&requests[turn]);
        assert!(b.get("previous_response_id").is_none(), "{text}");
        assert_eq!(b["store"], false);
        assert_eq!(b["tools"], serde_json::from_str::<Value>(TOOLS).unwrap());
    }
}

#[test]
fn assistants_loop_answers_every_turn_on_the_same_run() {
    let server = TestServer::start();
    let client = client(&server);
    let (seen, result) = run_loop(&client, "tool_loop", 0);
    let json = result.unwrap();
    assert_eq!(seen.names_and_arguments(), expected_calls());
    let mut outputs = vec![(TOOL_LOOP_FIRST_RUN_CALL.0, "Berlin: 9°C, \"rain\"\nlater")];
    outputs.extend(seen.outputs());
    let expected = tool_loop_text(&outputs);
    assert_eq!(seen.text(), expected);
    let run: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(run["status"], "completed");
    let completed = seen
        .events
        .iter()
        .find(|e| e.kind() == EventKind::ThreadRunCompleted)
        .unwrap();
    assert_eq!(completed.data(), json);
    assert_eq!(seen.count(EventKind::Done), 3);
    assert_eq!(seen.count(EventKind::ThreadRunRequiresAction), 2);

    let requests = server.requests_for("tool_loop");
    assert_eq!(requests.len(), 3);
    for (i, r) in requests.iter().enumerate() {
        assert_eq!(r.run_id.as_deref(), Some("run_1"));
        let b = body(r);
        assert_eq!(b["stream"], true);
        let sent: Vec<(String, String)> = b["tool_outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["tool_call_id"].as_str().unwrap().to_owned(),
                    o["output"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = match i {
            0 => vec![(outputs[0].0.into(), outputs[0].1.into())],
            1 => outputs[1..3]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            _ => vec![(outputs[3].0.into(), outputs[3].1.into())],
        };
        assert_eq!(sent, want, "request {i}");
    }
}

#[test]
fn max_turns_bounds_the_requests() {
    let server = TestServer::start();
    let client = client(&server);
    let (seen, result) = response_loop(&client, &request("tool_loop_forever"), 3);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxTurns);
    assert!(err.message().contains("max_turns 3"), "{}", err.message());
    assert_eq!(server.requests_for_model("tool_loop_forever").len(), 3);
    // The calls of the last turn are not run: their outputs could never be sent.
    assert_eq!(seen.calls.len(), 3);

    server.clear();
    let (_, result) = response_loop(&client, &request("tool_loop_forever"), 0);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::MaxTurns);
    assert_eq!(server.requests_for_model("tool_loop_forever").len(), 10);

    let (_, result) = run_loop(&client, "tool_loop_forever", 2);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::MaxTurns);
    assert_eq!(server.requests_for("tool_loop_forever").len(), 2);

    // Exactly enough turns is not too many.
    server.clear();
    let (_, result) = response_loop(&client, &request("tool_loop"), 3);
    assert!(result.is_ok());
    let (_, result) = response_loop(&client, &request("tool_loop"), 2);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::MaxTurns);
}

#[test]
fn a_failing_handler_stops_the_loop_with_its_error() {
    let server = TestServer::start();
    let client = client(&server);
    let mut called = 0;
    let result = client.response_tool_loop(
        &request("tool_loop"),
        0,
        |call| {
            called += 1;
            Err(oairun::Error::new(
                ErrorKind::Cancelled,
                format!("stop at {}", call.id),
            ))
        },
        |_| true,
    );
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(err.message().starts_with("stop at call_"));
    assert_eq!(called, 1);
    assert_eq!(server.requests_for_model("tool_loop").len(), 1);
}

#[test]
fn on_event_stops_the_loop_mid_turn() {
    let server = TestServer::start();
    let client = client(&server);
    for api in ["responses", "assistants"] {
        let mut completed_turns = 0;
        let mut after = 0;
        let mut on_event = |event: &Event| {
            if completed_turns == 1 {
                after += 1;
                return after < 2; // stop at the second event of turn 2
            }
            if matches!(event.kind(), EventKind::ResponseCompleted | EventKind::Done) {
                completed_turns += 1;
            }
            true
        };
        let handler = |call: &ToolCall| Ok(output_for(call));
        let result = if api == "responses" {
            client.response_tool_loop(&request("tool_loop"), 0, handler, &mut on_event)
        } else {
            client.run_tool_loop(
                "tool_loop",
                "run_cancel",
                &first_outputs(),
                0,
                handler,
                &mut on_event,
            )
        };
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{api}");
        assert_eq!(after, 2, "{api}");
    }
    assert_eq!(server.requests_for_model("tool_loop").len(), 2);
    assert_eq!(server.requests_for("tool_loop").len(), 2);
}

#[test]
fn a_failed_or_erroring_turn_mid_loop_is_a_stream_error() {
    let server = TestServer::start();
    let client = client(&server);

    let (seen, result) = response_loop(&client, &request("tool_loop_failed"), 0);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    assert!(err
        .message()
        .contains("The model failed to generate a response."));
    assert_eq!(err.api().code.as_deref(), Some("server_error"));
    assert_eq!(
        seen.events.last().unwrap().kind(),
        EventKind::ResponseFailed
    );
    assert_eq!(seen.calls.len(), 2);

    let (seen, result) = response_loop(&client, &request("tool_loop_error"), 0);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    assert!(
        err.message().contains("The server had an error"),
        "{}",
        err.message()
    );
    assert_eq!(seen.events.last().unwrap().kind(), EventKind::Error);

    let (seen, result) = run_loop(&client, "tool_loop_failed", 0);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    assert_eq!(
        err.message(),
        "the run ended failed: The model failed to generate a response."
    );
    assert_eq!(err.api().code.as_deref(), Some("server_error"));
    assert_eq!(seen.count(EventKind::ThreadRunFailed), 1);

    let (seen, result) = run_loop(&client, "tool_loop_error", 0);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    assert!(
        err.message().contains("The server had an error"),
        "{}",
        err.message()
    );
    assert_eq!(seen.events.last().unwrap().kind(), EventKind::Error);
    assert_eq!(server.requests_for("tool_loop_error").len(), 2);
}

#[test]
fn an_incomplete_response_is_a_stream_error_though_its_stream_ends_well() {
    let server = TestServer::start();
    let client = client(&server);
    let (seen, result) = response_loop(&client, &request("incomplete"), 0);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamError);
    assert_eq!(
        err.message(),
        "the response is incomplete: max_output_tokens"
    );
    assert_eq!(err.api().code.as_deref(), Some("max_output_tokens"));
    assert_eq!(
        seen.events.last().unwrap().kind(),
        EventKind::ResponseIncomplete
    );
}

#[test]
fn a_first_answer_without_calls_ends_the_loop_at_once() {
    let server = TestServer::start();
    let client = client(&server);
    let (seen, result) = response_loop(&client, &request("gpt-test"), 0);
    let response: Value = serde_json::from_str(&result.unwrap()).unwrap();
    assert_eq!(response["id"], "resp_fixed_text");
    assert!(seen.calls.is_empty());
    assert_eq!(seen.text(), "It's 15°C and clear in Paris.");
}

#[test]
fn bad_arguments_fail_before_any_request() {
    let server = TestServer::start();
    let client = client(&server);
    let never = |_: &ToolCall| -> oairun::Result<String> { panic!("no call expected") };
    let err = client
        .run_tool_loop("tool_loop", "run_1", &ToolOutputs::new(), 0, never, |_| {
            true
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = client
        .run_tool_loop("", "run_1", &first_outputs(), 0, never, |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let mut no_input = ResponseRequest::new();
    no_input.set_model("tool_loop").unwrap();
    let err = client
        .response_tool_loop(&no_input, 0, never, |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(server.requests().is_empty());
}
