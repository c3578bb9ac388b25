//! The scripted tool-calling models, for both routes: a fixed script of function calls, then
//! a text answer built from every output received.
//!
//! The script, by turn (a turn is one answer of the model):
//! 1. two calls in parallel: `get_weather` `{"city":"Paris"}`, `get_time`
//!    `{"timezone":"Europe/Paris"}`;
//! 2. one call: `get_weather` `{"city":"Tokyo"}` (`tool_loop_failed`: the answer fails;
//!    `tool_loop_error`: an `error` event);
//! 3. a text answer, [`crate::tool_loop_text`] of every output received so far, in order
//!    (`tool_loop_forever`: turn 2 again, forever).
//!
//! Assistants runs have a turn 0, the state of a run the server has not seen: one pending call
//! `call_001`, `get_weather` `{"city":"Berlin"}`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::http::{After, Exchange};
use crate::responses::{self, json_str, sse_block, Events, FnCall, Resp, Status};
use crate::server::Shared;

/// The calls of turn 1, as `(name, arguments)`.
pub(crate) const TURN_1: [(&str, &str); 2] = [
    ("get_weather", r#"{"city":"Paris"}"#),
    ("get_time", r#"{"timezone":"Europe/Paris"}"#),
];
/// The call of turn 2 (and of every later turn of `tool_loop_forever`).
pub(crate) const TURN_2: [(&str, &str); 1] = [("get_weather", r#"{"city":"Tokyo"}"#)];
/// The pending call of an Assistants run the server has not seen yet.
pub(crate) const FIRST_RUN_CALL: (&str, &str, &str) =
    ("call_001", "get_weather", r#"{"city":"Berlin"}"#);
/// `response.error` / `last_error` message when a scripted model fails.
const FAILED_MESSAGE: &str = "The model failed to generate a response.";
/// The message of a scripted model's `error` event (and of its non-streamed 500).
const ERROR_MESSAGE: &str = "The server had an error while processing your request.";

/// A scripted tool-calling model: the `model` of a Responses request, the thread id of an
/// Assistants submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Loop,
    Forever,
    Failed,
    Error,
}

impl Script {
    pub(crate) fn parse(name: &str) -> Option<Script> {
        match name {
            "tool_loop" => Some(Script::Loop),
            "tool_loop_forever" => Some(Script::Forever),
            "tool_loop_failed" => Some(Script::Failed),
            "tool_loop_error" => Some(Script::Error),
            _ => None,
        }
    }

    /// What the model does in `turn` (from 1).
    fn turn(self, turn: u32) -> Turn {
        match (self, turn) {
            (_, 0 | 1) => Turn::Calls(&TURN_1),
            (Script::Failed, _) => Turn::Failed,
            (Script::Error, _) => Turn::Error,
            (Script::Loop, 2) | (Script::Forever, _) => Turn::Calls(&TURN_2),
            (Script::Loop, _) => Turn::Text,
        }
    }
}

/// One answer of a scripted model.
#[derive(Debug, Clone, Copy)]
enum Turn {
    Calls(&'static [(&'static str, &'static str)]),
    Text,
    Failed,
    Error,
}

/// A stored response of a scripted model.
#[derive(Debug)]
struct Stored {
    turn: u32,
    /// The call ids of its `function_call` items.
    calls: Vec<String>,
    /// Every output received in the conversation up to this response, in order.
    outputs: Vec<(String, String)>,
}

/// An Assistants run of a scripted model.
#[derive(Debug)]
struct Run {
    turn: u32,
    status: &'static str,
    pending: Vec<String>,
    outputs: Vec<(String, String)>,
}

/// What the scripted models remember; [`crate::TestServer::clear`] forgets it all.
#[derive(Debug, Default)]
pub(crate) struct State {
    responses: HashMap<String, Stored>,
    unstored: HashSet<String>,
    runs: HashMap<(String, String), Run>,
}

/// Whether `id` is a response this server issued for a request with `"store": false`.
pub(crate) fn is_unstored(shared: &Shared, id: &str) -> bool {
    shared.tools().unstored.contains(id)
}

/// The text of a final answer: `Outputs: <call_id>=<output>; <call_id>=<output>.`.
pub(crate) fn loop_text<S: AsRef<str>>(outputs: &[(S, S)]) -> String {
    let parts: Vec<String> = outputs
        .iter()
        .map(|(id, output)| format!("{}={}", id.as_ref(), output.as_ref()))
        .collect();
    format!("Outputs: {}.", parts.join("; "))
}

/// An output as text: a string as is, anything else (an array of content parts) as its JSON.
fn output_text(output: Option<&Value>) -> String {
    match output {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks that `outputs` answer exactly the `pending` calls: the first unanswered call, else
/// the first output for a call that is not pending (or already answered), is the error.
fn check_outputs(pending: &[String], outputs: &[(String, String)]) -> Result<(), String> {
    let mut open: Vec<&str> = pending.iter().map(String::as_str).collect();
    let mut orphan = None;
    for (id, _) in outputs {
        match open.iter().position(|p| p == id) {
            Some(at) => {
                open.remove(at);
            }
            None => {
                orphan.get_or_insert(id.as_str());
            }
        }
    }
    if let Some(missing) = open.first() {
        return Err(format!("No tool output found for function call {missing}."));
    }
    if let Some(orphan) = orphan {
        return Err(format!(
            "No tool call found for function call output with call_id {orphan}."
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// The decisions about one Responses request, made under the state lock.
struct Plan {
    resp: Resp,
    turn: Turn,
    calls: Vec<FnCall>,
    msg_id: String,
    text: String,
}

fn plan_response(
    shared: &Shared,
    script: Script,
    body: &Value,
    model: &str,
) -> Result<Plan, String> {
    let items: &[Value] = body
        .get("input")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let is_output =
        |item: &&Value| item.get("type").and_then(Value::as_str) == Some("function_call_output");
    let call_id = |item: &Value| {
        item.get("call_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let outputs: Vec<(String, String)> = items
        .iter()
        .filter(is_output)
        .map(|item| (call_id(item), output_text(item.get("output"))))
        .collect();
    let previous = body
        .get("previous_response_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let store = body.get("store") != Some(&Value::Bool(false));
    let mut state = shared.tools();
    let (turn, history) = if outputs.is_empty() {
        (1, Vec::new())
    } else if let Some(stored) = previous.as_ref().and_then(|p| state.responses.get(p)) {
        check_outputs(&stored.calls, &outputs)?;
        let mut history = stored.outputs.clone();
        history.extend(outputs);
        (stored.turn + 1, history)
    } else {
        // Replay: the calls are the input's function_call items; each output must follow
        // its call.
        let mut open: Vec<String> = Vec::new();
        let mut orphan = None;
        let mut calls = 0;
        for item in items {
            match item.get("type").and_then(Value::as_str) {
                Some("function_call") => {
                    calls += 1;
                    open.push(call_id(item));
                }
                Some("function_call_output") => {
                    let id = call_id(item);
                    match open.iter().position(|p| *p == id) {
                        Some(at) => {
                            open.remove(at);
                        }
                        None => {
                            orphan.get_or_insert(id);
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(missing) = open.first() {
            return Err(format!("No tool output found for function call {missing}."));
        }
        if let Some(orphan) = orphan {
            return Err(format!(
                "No tool call found for function call output with call_id {orphan}."
            ));
        }
        // Turn 1 asks two calls and each later turn one: n calls answered means turn n.
        (calls.max(2), outputs)
    };
    let resp = Resp {
        id: shared.next_id("resp"),
        model: model.to_string(),
        created_at: now(),
        previous,
        store,
    };
    let turn_kind = script.turn(turn);
    let calls: Vec<FnCall> = match turn_kind {
        Turn::Calls(list) => list
            .iter()
            .map(|(name, arguments)| FnCall {
                item_id: shared.next_id("fc"),
                call_id: shared.next_id("call"),
                name: name.to_string(),
                arguments: arguments.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let text = loop_text(&history);
    if store {
        state.responses.insert(
            resp.id.clone(),
            Stored {
                turn,
                calls: calls.iter().map(|c| c.call_id.clone()).collect(),
                outputs: history,
            },
        );
    } else {
        state.unstored.insert(resp.id.clone());
    }
    Ok(Plan {
        resp,
        turn: turn_kind,
        calls,
        msg_id: shared.next_id("msg"),
        text,
    })
}

/// Answers a Responses request to a scripted model.
pub(crate) async fn respond_responses(
    ex: &mut Exchange<'_>,
    shared: &Shared,
    script: Script,
    body: &Value,
    model: &str,
    stream: bool,
) -> io::Result<After> {
    let plan = match plan_response(shared, script, body, model) {
        Ok(plan) => plan,
        Err(message) => return responses::invalid(ex, 400, &message, Some("input"), None).await,
    };
    let resp = &plan.resp;
    let mut ev = Events::default();
    ev.start(resp);
    let (status, items) = match plan.turn {
        Turn::Calls(_) => {
            let items: Vec<String> = plan
                .calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    // Arguments in two deltas: a client must join them.
                    let cut = call.arguments.len() / 2;
                    let (a, b) = call.arguments.split_at(cut);
                    ev.function_call(call, index, &[a, b])
                })
                .collect();
            (Status::Completed, items)
        }
        Turn::Text => {
            let deltas = responses::pieces(&plan.text, 12);
            let item = ev.text(&plan.msg_id, 0, &deltas, "completed");
            (Status::Completed, vec![item])
        }
        Turn::Failed => (Status::Failed, Vec::new()),
        Turn::Error => {
            if !stream {
                ex.error(500, ERROR_MESSAGE, "server_error", None, None, &[])
                    .await?;
                return Ok(After::KeepAlive);
            }
            ex.start_stream().await?;
            for (kind, data) in &ev.list {
                ex.chunk(sse_block(kind, data, true).as_bytes()).await?;
            }
            ex.chunk(sse_block("error", responses::ERROR_FLAT_DATA, true).as_bytes())
                .await?;
            return ex.end_stream().await;
        }
    };
    if !stream {
        let json = resp.object(status, &format!("[{}]", items.join(",")));
        ex.send(200, "application/json", json.as_bytes(), &[])
            .await?;
        return Ok(After::KeepAlive);
    }
    ev.finish(resp, status, &items);
    ex.start_stream().await?;
    for (kind, data) in &ev.list {
        ex.chunk(sse_block(kind, data, true).as_bytes()).await?;
    }
    ex.end_stream().await
}

// ---------------------------------------------------------------------------------------------
// Assistants.

/// The decisions about one submission, made under the state lock.
struct RunPlan {
    turn: Turn,
    calls: Vec<(String, &'static str, &'static str)>,
    text: String,
    msg_id: String,
}

fn plan_run(
    shared: &Shared,
    script: Script,
    thread: &str,
    run_id: &str,
    body: &Value,
) -> Result<RunPlan, String> {
    let outputs: Vec<(String, String)> = body
        .get("tool_outputs")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|o| {
            let id = o
                .get("tool_call_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (id.to_string(), output_text(o.get("output")))
        })
        .collect();
    let mut state = shared.tools();
    let run = state
        .runs
        .entry((thread.to_string(), run_id.to_string()))
        .or_insert_with(|| Run {
            turn: 0,
            status: "requires_action",
            pending: vec![FIRST_RUN_CALL.0.to_string()],
            outputs: Vec::new(),
        });
    if run.status != "requires_action" {
        return Err(format!(
            "Runs in status \"{}\" do not accept tool outputs.",
            run.status
        ));
    }
    check_outputs(&run.pending, &outputs)?;
    run.outputs.extend(outputs);
    run.turn += 1;
    let turn = script.turn(run.turn);
    let calls: Vec<(String, &'static str, &'static str)> = match turn {
        Turn::Calls(list) => list
            .iter()
            .map(|(name, arguments)| (shared.next_id("call"), *name, *arguments))
            .collect(),
        _ => Vec::new(),
    };
    run.pending = calls.iter().map(|c| c.0.clone()).collect();
    run.status = match turn {
        Turn::Calls(_) => "requires_action",
        Turn::Text => "completed",
        Turn::Failed | Turn::Error => "failed",
    };
    Ok(RunPlan {
        turn,
        calls,
        text: loop_text(&run.outputs),
        msg_id: shared.next_id("msg"),
    })
}

/// The Run object of a scripted run.
fn run_json(
    thread: &str,
    run_id: &str,
    created: u64,
    status: &str,
    required_action: &str,
    last_error: &str,
) -> String {
    let at = |when: &str| {
        if status == when {
            (created + 1).to_string()
        } else {
            "null".to_string()
        }
    };
    let usage = if status == "completed" {
        r#"{"prompt_tokens":345,"completion_tokens":11,"total_tokens":356}"#
    } else {
        "null"
    };
    format!(
        concat!(
            r#"{{"id":{run},"object":"thread.run","created_at":{created},"assistant_id":"asst_test","#,
            r#""thread_id":{thread},"status":"{status}","started_at":{created},"#,
            r#""expires_at":{expires},"cancelled_at":null,"failed_at":{failed},"#,
            r#""completed_at":{completed},"required_action":{required},"last_error":{error},"#,
            r#""model":"gpt-4o","instructions":null,"tools":[],"metadata":{{}},"usage":{usage},"#,
            r#""temperature":1.0,"top_p":1.0,"max_completion_tokens":null,"max_prompt_tokens":null,"#,
            r#""truncation_strategy":{{"type":"auto","last_messages":null}},"#,
            r#""incomplete_details":null,"response_format":"auto","tool_choice":"auto","#,
            r#""parallel_tool_calls":true}}"#
        ),
        run = json_str(run_id),
        created = created,
        thread = json_str(thread),
        status = status,
        expires = if matches!(status, "completed" | "failed") {
            "null".to_string()
        } else {
            (created + 600).to_string()
        },
        failed = at("failed"),
        completed = at("completed"),
        required = required_action,
        error = last_error,
        usage = usage,
    )
}

/// A message object of a scripted run's text answer.
fn message_json(plan: &RunPlan, thread: &str, run_id: &str, created: u64, done: bool) -> String {
    let (status, completed, content) = if done {
        (
            "completed",
            (created + 1).to_string(),
            format!(
                r#"{{"type":"text","text":{{"value":{},"annotations":[]}}}}"#,
                json_str(&plan.text)
            ),
        )
    } else {
        ("in_progress", "null".to_string(), String::new())
    };
    format!(
        concat!(
            r#"{{"id":{id},"object":"thread.message","created_at":{created},"assistant_id":"asst_test","#,
            r#""thread_id":{thread},"run_id":{run},"status":"{status}","incomplete_details":null,"#,
            r#""incomplete_at":null,"completed_at":{completed},"role":"assistant","#,
            r#""content":[{content}],"attachments":[],"metadata":{{}}}}"#
        ),
        id = json_str(&plan.msg_id),
        created = created,
        thread = json_str(thread),
        run = json_str(run_id),
        status = status,
        completed = completed,
        content = content,
    )
}

/// Answers a submission to a scripted run.
pub(crate) async fn respond_assistants(
    ex: &mut Exchange<'_>,
    shared: &Shared,
    script: Script,
    thread: &str,
    run_id: &str,
    stream: bool,
    body: &Value,
) -> io::Result<After> {
    let plan = match plan_run(shared, script, thread, run_id, body) {
        Ok(plan) => plan,
        Err(message) => {
            let param = (!message.starts_with("Runs ")).then_some("tool_outputs");
            ex.error(400, &message, "invalid_request_error", param, None, &[])
                .await?;
            return Ok(After::KeepAlive);
        }
    };
    let created = now();
    let run = |status: &str, required: &str, error: &str| {
        run_json(thread, run_id, created, status, required, error)
    };
    let required = if plan.calls.is_empty() {
        "null".to_string()
    } else {
        let calls: Vec<String> = plan
            .calls
            .iter()
            .map(|(id, name, arguments)| {
                format!(
                    r#"{{"id":{},"type":"function","function":{{"name":{},"arguments":{}}}}}"#,
                    json_str(id),
                    json_str(name),
                    json_str(arguments)
                )
            })
            .collect();
        format!(
            r#"{{"type":"submit_tool_outputs","submit_tool_outputs":{{"tool_calls":[{}]}}}}"#,
            calls.join(",")
        )
    };
    let last_error = format!(
        r#"{{"code":"server_error","message":{}}}"#,
        json_str(FAILED_MESSAGE)
    );
    let (status, required_action, error) = match plan.turn {
        Turn::Calls(_) => ("requires_action", required.as_str(), "null"),
        Turn::Text => ("completed", "null", "null"),
        Turn::Failed => ("failed", "null", last_error.as_str()),
        Turn::Error => {
            if !stream {
                ex.error(500, ERROR_MESSAGE, "server_error", None, None, &[])
                    .await?;
                return Ok(After::KeepAlive);
            }
            ("failed", "null", "null")
        }
    };
    if !stream {
        let json = run(status, required_action, error);
        ex.send(200, "application/json", json.as_bytes(), &[])
            .await?;
        return Ok(After::KeepAlive);
    }
    let mut events = vec![
        ("thread.run.queued", run("queued", "null", "null")),
        ("thread.run.in_progress", run("in_progress", "null", "null")),
    ];
    match plan.turn {
        Turn::Calls(_) => {
            events.push((
                "thread.run.requires_action",
                run(status, required_action, error),
            ));
        }
        Turn::Text => {
            events.push((
                "thread.message.created",
                message_json(&plan, thread, run_id, created, false),
            ));
            for piece in responses::pieces(&plan.text, 12) {
                events.push((
                    "thread.message.delta",
                    format!(
                        r#"{{"id":{},"object":"thread.message.delta","delta":{{"content":[{{"index":0,"type":"text","text":{{"value":{}}}}}]}}}}"#,
                        json_str(&plan.msg_id),
                        json_str(piece)
                    ),
                ));
            }
            events.push((
                "thread.message.completed",
                message_json(&plan, thread, run_id, created, true),
            ));
            events.push(("thread.run.completed", run(status, "null", "null")));
        }
        Turn::Failed => events.push(("thread.run.failed", run(status, "null", error))),
        Turn::Error => {
            let data = format!(
                r#"{{"error":{{"message":{},"type":"server_error","param":null,"code":"server_error"}}}}"#,
                json_str(ERROR_MESSAGE)
            );
            events.push(("error", data));
        }
    }
    if !matches!(plan.turn, Turn::Error) {
        events.push(("done", "[DONE]".to_string()));
    }
    ex.start_stream().await?;
    for (name, data) in &events {
        ex.chunk(sse_block(name, data, true).as_bytes()).await?;
    }
    ex.end_stream().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_checked_missing_first() {
        let pending = vec!["a".to_string(), "b".to_string()];
        let out = |ids: &[&str]| -> Vec<(String, String)> {
            ids.iter().map(|i| (i.to_string(), String::new())).collect()
        };
        assert!(check_outputs(&pending, &out(&["b", "a"])).is_ok());
        assert_eq!(
            check_outputs(&pending, &out(&["a", "x"])).unwrap_err(),
            "No tool output found for function call b."
        );
        assert_eq!(
            check_outputs(&pending, &out(&["a", "b", "a"])).unwrap_err(),
            "No tool call found for function call output with call_id a."
        );
    }

    #[test]
    fn loop_text_format() {
        assert_eq!(
            loop_text(&[("call_1", "x"), ("call_2", "\"y\"\n")]),
            "Outputs: call_1=x; call_2=\"y\"\n."
        );
    }
}
