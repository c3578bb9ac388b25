//! The scripted tool-calling models, multi-turn, on both routes, through raw HTTP.

mod common;

use common::*;
use oairun_testserver::{
    tool_loop_text, TestServer, TOOL_LOOP_FIRST_RUN_CALL, TOOL_LOOP_TURN_1, TOOL_LOOP_TURN_2,
};
use serde_json::{json, Value};

/// Outputs that must arrive intact: quotes, backslash, newline, tab, non-ASCII.
const OUT_WEATHER: &str = "{\"temp_c\":15,\"sky\":\"clear \u{2600}\"}";
const OUT_TIME: &str = "14:05 \"CET\"\nline two\t\\ caf\u{e9}";
const OUT_TOKYO: &str = "\u{6771}\u{4eac}: 22\u{b0}C \u{1f324}";

fn data(events: &[(String, String)], name: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect()
}

/// `(call_id, name, arguments)` of a Response's function_call items.
fn calls_of(response: &Value) -> Vec<(String, String, String)> {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "function_call")
        .map(|item| {
            (
                item["call_id"].as_str().unwrap().to_string(),
                item["name"].as_str().unwrap().to_string(),
                item["arguments"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn names_and_args(calls: &[(String, String, String)]) -> Vec<(&str, &str)> {
    calls
        .iter()
        .map(|(_, n, a)| (n.as_str(), a.as_str()))
        .collect()
}

fn output_item(call_id: &str, output: &str) -> Value {
    json!({"type":"function_call_output","call_id":call_id,"output":output})
}

/// Posts `body` streamed; checks the stream's framing and returns its events and the final
/// Response (from response.completed).
fn stream_turn(server: &TestServer, mut body: Value) -> (Vec<(String, String)>, Value) {
    body["stream"] = json!(true);
    let response = post_responses(server, &body.to_string());
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.complete);
    let events = parse_sse(&response.body);
    for (n, (name, data)) in events.iter().enumerate() {
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n as u64);
    }
    let last = events.last().unwrap();
    let final_response = serde_json::from_str::<Value>(&last.1).unwrap()["response"].clone();
    (events, final_response)
}

#[test]
fn responses_tool_loop_streamed_with_previous_response_id() {
    let server = TestServer::start();
    let tools = json!([{"type":"function","name":"get_weather","parameters":{},"strict":false}]);
    let (events, first) = stream_turn(
        &server,
        json!({"model":"tool_loop","input":"Weather and time in Paris?","tools":tools}),
    );
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let per_call = [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ];
    let mut expected = vec!["response.created", "response.in_progress"];
    expected.extend(per_call);
    expected.extend(per_call);
    expected.push("response.completed");
    assert_eq!(names, expected);
    assert_eq!(first["status"], "completed");
    assert_eq!(first["model"], "tool_loop");
    let id_1 = first["id"].as_str().unwrap().to_string();
    assert!(id_1.starts_with("resp_"));
    let calls = calls_of(&first);
    assert_eq!(names_and_args(&calls), TOOL_LOOP_TURN_1.to_vec());
    assert_ne!(calls[0].0, calls[1].0);
    assert!(calls.iter().all(|c| c.0.starts_with("call_")));
    // The items as streamed: added empty, deltas joining to the arguments, done complete.
    let added = data(&events, "response.output_item.added");
    assert_eq!(added[0]["item"]["arguments"], "");
    assert_eq!(added[1]["output_index"], 1);
    let item_id = added[0]["item"]["id"].as_str().unwrap();
    assert!(item_id.starts_with("fc_"));
    let joined: String = data(&events, "response.function_call_arguments.delta")
        .iter()
        .filter(|d| d["item_id"] == item_id)
        .map(|d| d["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(joined, TOOL_LOOP_TURN_1[0].1);
    let done = data(&events, "response.function_call_arguments.done");
    assert_eq!(done[1]["name"], "get_time");
    assert_eq!(done[1]["arguments"], TOOL_LOOP_TURN_1[1].1);
    let items_done = data(&events, "response.output_item.done");
    assert_eq!(items_done[0]["item"], first["output"][0]);

    // Turn 2: both outputs, chained by id.
    let (_, second) = stream_turn(
        &server,
        json!({"model":"tool_loop","previous_response_id":id_1,"tools":tools,"input":[
            output_item(&calls[0].0, OUT_WEATHER),
            output_item(&calls[1].0, OUT_TIME),
        ]}),
    );
    assert_eq!(second["previous_response_id"], id_1.as_str());
    let id_2 = second["id"].as_str().unwrap().to_string();
    assert_ne!(id_2, id_1);
    let calls_2 = calls_of(&second);
    assert_eq!(names_and_args(&calls_2), TOOL_LOOP_TURN_2.to_vec());

    // Turn 3: the text answer, built from every output in order.
    let (events, third) = stream_turn(
        &server,
        json!({"model":"tool_loop","previous_response_id":id_2,"input":[
            output_item(&calls_2[0].0, OUT_TOKYO),
        ]}),
    );
    let expected_text = tool_loop_text(&[
        (&calls[0].0, OUT_WEATHER),
        (&calls[1].0, OUT_TIME),
        (&calls_2[0].0, OUT_TOKYO),
    ]);
    assert_eq!(
        expected_text,
        format!(
            "Outputs: {}={OUT_WEATHER}; {}={OUT_TIME}; {}={OUT_TOKYO}.",
            calls[0].0, calls[1].0, calls_2[0].0
        )
    );
    let deltas: String = data(&events, "response.output_text.delta")
        .iter()
        .map(|d| d["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deltas, expected_text);
    assert!(data(&events, "response.output_text.delta").len() > 3);
    assert_eq!(third["output"][0]["type"], "message");
    assert_eq!(third["output"][0]["content"][0]["text"], expected_text);
    assert!(calls_of(&third).is_empty());
    assert_eq!(events.last().unwrap().0, "response.completed");

    // The requests were recorded as sent.
    let recorded = server.requests();
    assert_eq!(recorded.len(), 3);
    assert!(recorded
        .iter()
        .all(|r| r.model.as_deref() == Some("tool_loop")));
    let sent: Value = serde_json::from_slice(&recorded[1].body).unwrap();
    assert_eq!(sent["input"][1]["output"], OUT_TIME);
}

#[test]
fn responses_tool_loop_not_streamed() {
    let server = TestServer::start();
    let first = post_responses(&server, r#"{"model":"tool_loop","input":"hi"}"#);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let first = first.json();
    let calls = calls_of(&first);
    assert_eq!(names_and_args(&calls), TOOL_LOOP_TURN_1.to_vec());
    let body = json!({"model":"tool_loop","previous_response_id":first["id"],"input":[
        output_item(&calls[1].0, "b"), output_item(&calls[0].0, "a"),
    ]});
    let second = post_responses(&server, &body.to_string()).json();
    let calls_2 = calls_of(&second);
    assert_eq!(names_and_args(&calls_2), TOOL_LOOP_TURN_2.to_vec());
    let body = json!({"model":"tool_loop","previous_response_id":second["id"],"input":[
        output_item(&calls_2[0].0, "c"),
    ]});
    let third = post_responses(&server, &body.to_string()).json();
    assert_eq!(third["status"], "completed");
    assert_eq!(
        third["output"][0]["content"][0]["text"],
        format!(
            "Outputs: {}=b; {}=a; {}=c.",
            calls[1].0, calls[0].0, calls_2[0].0
        )
    );
}

#[test]
fn responses_tool_loop_replay_with_store_false() {
    let server = TestServer::start();
    let user = json!({"role":"user","content":"Weather and time in Paris?"});
    let first = post_responses(
        &server,
        &json!({"model":"tool_loop","store":false,"input":[user]}).to_string(),
    )
    .json();
    assert_eq!(first["store"], false);
    let id_1 = first["id"].as_str().unwrap();
    // Not stored: it cannot be chained.
    let chained = post_responses(
        &server,
        &json!({"model":"tool_loop","previous_response_id":id_1,"input":[
            output_item("call_x", "x"),
        ]})
        .to_string(),
    );
    assert_eq!(chained.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&chained.body),
        error_body(
            &format!("Previous response with id '{id_1}' not found."),
            "invalid_request_error",
            Some("previous_response_id"),
            Some("previous_response_not_found"),
        )
    );
    // Replay: the whole history each time.
    let calls = calls_of(&first);
    let mut input = vec![user];
    input.extend(first["output"].as_array().unwrap().iter().cloned());
    input.push(output_item(&calls[0].0, OUT_WEATHER));
    input.push(output_item(&calls[1].0, OUT_TIME));
    let (_, second) = stream_turn(
        &server,
        json!({"model":"tool_loop","store":false,"input":input.clone()}),
    );
    let calls_2 = calls_of(&second);
    assert_eq!(names_and_args(&calls_2), TOOL_LOOP_TURN_2.to_vec());
    input.extend(second["output"].as_array().unwrap().iter().cloned());
    input.push(output_item(&calls_2[0].0, OUT_TOKYO));
    let third = post_responses(
        &server,
        &json!({"model":"tool_loop","store":false,"input":input}).to_string(),
    )
    .json();
    assert_eq!(
        third["output"][0]["content"][0]["text"],
        tool_loop_text(&[
            (&calls[0].0, OUT_WEATHER),
            (&calls[1].0, OUT_TIME),
            (&calls_2[0].0, OUT_TOKYO),
        ])
    );
}

#[test]
fn responses_tool_loop_unanswered_and_orphan_outputs() {
    let server = TestServer::start();
    let first = post_responses(&server, r#"{"model":"tool_loop","input":"hi"}"#).json();
    let calls = calls_of(&first);
    let id = first["id"].clone();
    let post = |input: Vec<Value>, previous: &Value| {
        let mut body = json!({"model":"tool_loop","input":input});
        if !previous.is_null() {
            body["previous_response_id"] = previous.clone();
        }
        post_responses(&server, &body.to_string())
    };
    let expect = |response: Response, message: String| {
        assert_eq!(response.status, 400);
        assert_eq!(
            String::from_utf8_lossy(&response.body),
            error_body(&message, "invalid_request_error", Some("input"), None)
        );
    };
    // One of the two calls unanswered.
    expect(
        post(vec![output_item(&calls[0].0, "a")], &id),
        format!("No tool output found for function call {}.", calls[1].0),
    );
    // Every call answered, plus an output for a call that does not exist.
    expect(
        post(
            vec![
                output_item(&calls[0].0, "a"),
                output_item(&calls[1].0, "b"),
                output_item("call_bogus", "c"),
            ],
            &id,
        ),
        "No tool call found for function call output with call_id call_bogus.".to_string(),
    );
    // Replay: an output before its call, and a call left unanswered.
    let fc = |call_id: &str| json!({"type":"function_call","id":"fc_1","call_id":call_id,"name":"get_weather","arguments":"{}"});
    expect(
        post(vec![output_item("call_a", "a"), fc("call_a")], &Value::Null),
        "No tool output found for function call call_a.".to_string(),
    );
    expect(
        post(
            vec![
                fc("call_a"),
                fc("call_b"),
                output_item("call_a", "a"),
                output_item("call_b", "b"),
                output_item("call_b", "again"),
            ],
            &Value::Null,
        ),
        "No tool call found for function call output with call_id call_b.".to_string(),
    );
    // Made-up previous id: replay rules, so the outputs have no calls.
    expect(
        post(vec![output_item("call_z", "z")], &json!("resp_made_up")),
        "No tool call found for function call output with call_id call_z.".to_string(),
    );
    // The refusals changed nothing: the right answer still works.
    let ok = post(
        vec![output_item(&calls[0].0, "a"), output_item(&calls[1].0, "b")],
        &id,
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn responses_forever_failed_and_error() {
    let server = TestServer::start();
    // Forever: turn 2's call again and again.
    let mut previous =
        post_responses(&server, r#"{"model":"tool_loop_forever","input":"hi"}"#).json();
    for _ in 0..4 {
        let input: Vec<Value> = calls_of(&previous)
            .iter()
            .map(|(id, _, _)| output_item(id, "ok"))
            .collect();
        let body = json!({"model":"tool_loop_forever","previous_response_id":previous["id"],"input":input});
        previous = post_responses(&server, &body.to_string()).json();
        assert_eq!(
            names_and_args(&calls_of(&previous)),
            TOOL_LOOP_TURN_2.to_vec()
        );
    }

    let turn_2 = |model: &str| {
        let first =
            post_responses(&server, &json!({"model":model,"input":"hi"}).to_string()).json();
        assert_eq!(names_and_args(&calls_of(&first)), TOOL_LOOP_TURN_1.to_vec());
        let input: Vec<Value> = calls_of(&first)
            .iter()
            .map(|(id, _, _)| output_item(id, "ok"))
            .collect();
        json!({"model":model,"previous_response_id":first["id"],"input":input})
    };
    let (events, failed) = stream_turn(&server, turn_2("tool_loop_failed"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "server_error");
    let sync_failed = post_responses(&server, &turn_2("tool_loop_failed").to_string()).json();
    assert_eq!(sync_failed["status"], "failed");

    let mut body = turn_2("tool_loop_error");
    body["stream"] = json!(true);
    let error = post_responses(&server, &body.to_string());
    assert!(error.complete);
    let events = parse_sse(&error.body);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2],
        (
            "error".to_string(),
            r#"{"type":"error","sequence_number":2,"code":"server_error","message":"The server had an error while processing your request.","param":null}"#.to_string()
        )
    );
    let sync_error = post_responses(&server, &turn_2("tool_loop_error").to_string());
    assert_eq!(sync_error.status, 500);
    assert_eq!(sync_error.json()["error"]["type"], "server_error");
}

#[test]
fn reset_forgets_responses() {
    let server = TestServer::start();
    let stored = post_responses(&server, r#"{"model":"tool_loop","input":"hi"}"#).json();
    let unstored = post_responses(
        &server,
        r#"{"model":"tool_loop","input":"hi","store":false}"#,
    )
    .json();
    let mut conn = connect(&server);
    send(&mut conn, "POST", "/_test/reset", "", "");
    assert_eq!(read_response(&mut conn).status, 204);
    // The store:false id is no longer known, so it is accepted (as any made-up id).
    let body = json!({"model":"tool_loop","input":"hi","previous_response_id":unstored["id"]});
    assert_eq!(post_responses(&server, &body.to_string()).status, 200);
    // The stored one is forgotten: its calls are no longer pending.
    let calls = calls_of(&stored);
    let body = json!({"model":"tool_loop","previous_response_id":stored["id"],"input":[
        output_item(&calls[0].0, "a"), output_item(&calls[1].0, "b"),
    ]});
    assert_eq!(post_responses(&server, &body.to_string()).status, 400);
}

// ---------------------------------------------------------------------------------------------
// Assistants.

fn submit(
    server: &TestServer,
    thread: &str,
    run: &str,
    outputs: &[(&str, &str)],
    stream: bool,
) -> Response {
    let outputs: Vec<Value> = outputs
        .iter()
        .map(|(id, output)| json!({"tool_call_id":id,"output":output}))
        .collect();
    let body = json!({"tool_outputs":outputs,"stream":stream}).to_string();
    let mut conn = connect(server);
    send(&mut conn, "POST", &submit_path(thread, run), &body, "");
    read_response(&mut conn)
}

/// `(id, name, arguments)` of a Run's required tool calls.
fn run_calls(run: &Value) -> Vec<(String, String, String)> {
    run["required_action"]["submit_tool_outputs"]["tool_calls"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|call| {
            assert_eq!(call["type"], "function");
            (
                call["id"].as_str().unwrap().to_string(),
                call["function"]["name"].as_str().unwrap().to_string(),
                call["function"]["arguments"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A streamed submission's events (checked to end as said) and the Run of its last run event.
fn stream_submit(
    server: &TestServer,
    thread: &str,
    run: &str,
    outputs: &[(&str, &str)],
) -> (Vec<(String, String)>, Value) {
    let response = submit(server, thread, run, outputs, true);
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.complete);
    let events = parse_sse(&response.body);
    assert_eq!(events[0].0, "thread.run.queued");
    assert_eq!(events[1].0, "thread.run.in_progress");
    let run = events
        .iter()
        .rev()
        .find(|(n, _)| n.starts_with("thread.run."))
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .unwrap();
    (events, run)
}

#[test]
fn assistants_tool_loop_streamed_takes_four_submissions() {
    let server = TestServer::start();
    let (first_id, first_name, first_args) = TOOL_LOOP_FIRST_RUN_CALL;
    assert_eq!(
        (first_id, first_name, first_args),
        ("call_001", "get_weather", r#"{"city":"Berlin"}"#)
    );
    let (events, run) = stream_submit(&server, "tool_loop", "run_a", &[(first_id, "Berlin: 9")]);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.requires_action",
            "done"
        ]
    );
    assert_eq!(events[3].1, "[DONE]");
    assert_eq!(run["status"], "requires_action");
    assert_eq!(run["id"], "run_a");
    assert_eq!(run["thread_id"], "tool_loop");
    assert_eq!(run["required_action"]["type"], "submit_tool_outputs");
    let calls = run_calls(&run);
    assert_eq!(names_and_args(&calls), TOOL_LOOP_TURN_1.to_vec());
    assert_ne!(calls[0].0, first_id);

    let (_, run) = stream_submit(
        &server,
        "tool_loop",
        "run_a",
        &[(&calls[0].0, OUT_WEATHER), (&calls[1].0, OUT_TIME)],
    );
    let calls_2 = run_calls(&run);
    assert_eq!(names_and_args(&calls_2), TOOL_LOOP_TURN_2.to_vec());

    let (events, run) = stream_submit(&server, "tool_loop", "run_a", &[(&calls_2[0].0, OUT_TOKYO)]);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[2], "thread.message.created");
    assert_eq!(
        &names[names.len() - 3..],
        ["thread.message.completed", "thread.run.completed", "done"]
    );
    assert_eq!(run["status"], "completed");
    assert!(run["required_action"].is_null());
    let text = tool_loop_text(&[
        (first_id, "Berlin: 9"),
        (&calls[0].0, OUT_WEATHER),
        (&calls[1].0, OUT_TIME),
        (&calls_2[0].0, OUT_TOKYO),
    ]);
    let deltas: String = data(&events, "thread.message.delta")
        .iter()
        .map(|d| {
            assert_eq!(d["object"], "thread.message.delta");
            assert!(d["id"].as_str().unwrap().starts_with("msg_"));
            d["delta"]["content"][0]["text"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(deltas, text);
    let message = &data(&events, "thread.message.completed")[0];
    assert_eq!(message["content"][0]["text"]["value"], text);

    // A completed run takes no more outputs.
    let again = submit(&server, "tool_loop", "run_a", &[("call_x", "x")], true);
    assert_eq!(again.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&again.body),
        error_body(
            "Runs in status \"completed\" do not accept tool outputs.",
            "invalid_request_error",
            None,
            None
        )
    );
}

#[test]
fn assistants_tool_loop_not_streamed_and_per_run_state() {
    let server = TestServer::start();
    let run = submit(&server, "tool_loop", "run_b", &[("call_001", "1")], false);
    assert_eq!(run.header("content-type"), Some("application/json"));
    let run = run.json();
    assert_eq!(run["object"], "thread.run");
    assert_eq!(run["status"], "requires_action");
    let calls = run_calls(&run);
    // Another run of the same thread starts from its own beginning.
    let other = submit(&server, "tool_loop", "run_c", &[("call_001", "1")], false).json();
    assert_eq!(
        names_and_args(&run_calls(&other)),
        TOOL_LOOP_TURN_1.to_vec()
    );
    assert_ne!(run_calls(&other)[0].0, calls[0].0);
    let run = submit(
        &server,
        "tool_loop",
        "run_b",
        &[(&calls[1].0, "b"), (&calls[0].0, "a")],
        false,
    )
    .json();
    let calls_2 = run_calls(&run);
    let run = submit(
        &server,
        "tool_loop",
        "run_b",
        &[(&calls_2[0].0, "c")],
        false,
    )
    .json();
    assert_eq!(run["status"], "completed");
    assert!(run["completed_at"].is_u64());
    assert_eq!(run["usage"]["total_tokens"], 356);
    let recorded = server.requests_for("tool_loop");
    assert_eq!(recorded.len(), 4);
    let body: Value = serde_json::from_slice(&recorded[2].body).unwrap();
    assert_eq!(body["tool_outputs"][0]["output"], "b");
}

#[test]
fn assistants_unanswered_and_unknown_calls_get_400() {
    let server = TestServer::start();
    let expect = |response: Response, message: &str| {
        assert_eq!(response.status, 400);
        assert_eq!(
            String::from_utf8_lossy(&response.body),
            error_body(message, "invalid_request_error", Some("tool_outputs"), None)
        );
    };
    expect(
        submit(&server, "tool_loop", "r", &[], true),
        "No tool output found for function call call_001.",
    );
    expect(
        submit(
            &server,
            "tool_loop",
            "r",
            &[("call_001", "x"), ("call_002", "y")],
            false,
        ),
        "No tool call found for function call output with call_id call_002.",
    );
    let run = submit(&server, "tool_loop", "r", &[("call_001", "x")], false).json();
    let calls = run_calls(&run);
    expect(
        submit(&server, "tool_loop", "r", &[(&calls[1].0, "x")], false),
        &format!("No tool output found for function call {}.", calls[0].0),
    );
    // Reset: the run is new again.
    server.clear();
    let run = submit(&server, "tool_loop", "r", &[("call_001", "x")], false).json();
    assert_eq!(names_and_args(&run_calls(&run)), TOOL_LOOP_TURN_1.to_vec());
}

#[test]
fn assistants_forever_failed_and_error() {
    let server = TestServer::start();
    let mut run = submit(
        &server,
        "tool_loop_forever",
        "r",
        &[("call_001", "x")],
        false,
    )
    .json();
    for turn in 0..4 {
        let outputs: Vec<(String, String)> = run_calls(&run)
            .into_iter()
            .map(|(id, _, _)| (id, "ok".to_string()))
            .collect();
        let outputs: Vec<(&str, &str)> = outputs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        run = submit(&server, "tool_loop_forever", "r", &outputs, turn % 2 == 0).json_or_stream();
        assert_eq!(names_and_args(&run_calls(&run)), TOOL_LOOP_TURN_2.to_vec());
    }

    let to_turn_2 = |thread: &str, run_id: &str| {
        let run = submit(&server, thread, run_id, &[("call_001", "x")], false).json();
        run_calls(&run)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect::<Vec<_>>()
    };
    let ids = to_turn_2("tool_loop_failed", "r");
    let (events, run) = stream_submit(
        &server,
        "tool_loop_failed",
        "r",
        &[(&ids[0], "a"), (&ids[1], "b")],
    );
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.failed",
            "done"
        ]
    );
    assert_eq!(run["status"], "failed");
    assert_eq!(run["last_error"]["code"], "server_error");
    assert!(run["last_error"]["message"].is_string());

    let ids = to_turn_2("tool_loop_error", "r");
    let response = submit(
        &server,
        "tool_loop_error",
        "r",
        &[(&ids[0], "a"), (&ids[1], "b")],
        true,
    );
    assert!(response.complete, "a clean end");
    let events = parse_sse(&response.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["thread.run.queued", "thread.run.in_progress", "error"]
    );
    let error: Value = serde_json::from_str(&events[2].1).unwrap();
    assert_eq!(error["error"]["code"], "server_error");
    // Not streamed, the error is a 500.
    let ids = to_turn_2("tool_loop_error", "r2");
    let response = submit(
        &server,
        "tool_loop_error",
        "r2",
        &[(&ids[0], "a"), (&ids[1], "b")],
        false,
    );
    assert_eq!(response.status, 500);
}

trait RunOf {
    /// The Run of a non-streamed answer, or of a streamed one's last run event.
    fn json_or_stream(&self) -> Value;
}

impl RunOf for Response {
    fn json_or_stream(&self) -> Value {
        if self.header("content-type") == Some("application/json") {
            return self.json();
        }
        let events = parse_sse(&self.body);
        events
            .iter()
            .rev()
            .find(|(n, _)| n.starts_with("thread.run."))
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .unwrap()
    }
}
