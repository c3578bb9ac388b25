//! `POST /v1/responses`: request validation, the fixed scenarios chosen by `model`, and the
//! builders of Response objects and `response.*` events (shared with the scripted models of
//! [`crate::tools`]).
//!
//! JSON is written with `format!` rather than `serde_json::json!`, so that members keep the
//! API's order (`type` first, then `sequence_number`) and the fixtures stay byte-exact.

use std::io;

use crate::http::{After, Exchange};
use crate::scenario::{self, STALL};
use crate::server::Shared;
use crate::tools;

/// The fixed scenarios' Response objects were created at this time (`created_at`); the
/// terminal ones completed a second later.
pub(crate) const FIXED_CREATED_AT: u64 = 1_741_290_958;
/// The `model` every fixed scenario's Response object names, whatever the request sent.
pub(crate) const FIXED_MODEL: &str = "gpt-test";

pub(crate) const TEXT_SSE: &str = include_str!("../fixtures/responses/text.sse");
pub(crate) const TEXT_JSON: &str = include_str!("../fixtures/responses/text.json");
pub(crate) const FUNCTION_CALL_SSE: &str = include_str!("../fixtures/responses/function_call.sse");
pub(crate) const FUNCTION_CALL_JSON: &str =
    include_str!("../fixtures/responses/function_call.json");
pub(crate) const ERROR_FLAT_SSE: &str = include_str!("../fixtures/responses/error_flat.sse");
pub(crate) const ERROR_NESTED_SSE: &str = include_str!("../fixtures/responses/error_nested.sse");
pub(crate) const FAILED_SSE: &str = include_str!("../fixtures/responses/failed.sse");
pub(crate) const FAILED_JSON: &str = include_str!("../fixtures/responses/failed.json");
pub(crate) const INCOMPLETE_SSE: &str = include_str!("../fixtures/responses/incomplete.sse");
pub(crate) const INCOMPLETE_JSON: &str = include_str!("../fixtures/responses/incomplete.json");

/// The text answer of the fixed text stream, as its deltas.
#[cfg(test)]
pub(crate) const TEXT_DELTAS: [&str; 6] =
    ["It's", " 15\u{b0}C", " and", " clear", " in", " Paris."];
/// The deltas the `incomplete` answer gets out before it is cut short.
#[cfg(test)]
const INCOMPLETE_DELTAS: [&str; 2] = ["It's", " 15\u{b0}C"];
/// The flat `error` event of `error_flat` and of the scripted `tool_loop_error`.
pub(crate) const ERROR_FLAT_DATA: &str = r#"{"type":"error","sequence_number":2,"code":"server_error","message":"The server had an error while processing your request.","param":null}"#;
/// The nested `error` event of `error_nested`.
#[cfg(test)]
pub(crate) const ERROR_NESTED_DATA: &str = r#"{"type":"error","sequence_number":2,"error":{"type":"too_many_requests","code":"too_many_requests","message":"Too Many Requests","param":null}}"#;
/// `response.error` of a failed response.
const FAILED_ERROR: &str =
    r#"{"code":"server_error","message":"The model failed to generate a response."}"#;
const USAGE: &str = r#"{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}"#;
/// Above this many deltas, `long_<N>`'s `.done` events and final Response carry
/// [`long_placeholder`] instead of the whole text, so the largest event stays small.
pub(crate) const LONG_FULL_TEXT_MAX: usize = 1000;
/// Long streams are written in chunks of about this size.
const BATCH: usize = 16 * 1024;

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), json_str)
}

/// How a Response object ends (or has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    InProgress,
    Completed,
    Failed,
    // Only the `incomplete` fixture, built by a test, has this status.
    #[cfg_attr(not(test), allow(dead_code))]
    Incomplete,
}

/// The identity of one Response object.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) created_at: u64,
    pub(crate) previous: Option<String>,
    pub(crate) store: bool,
}

impl Resp {
    fn fixed(id: &str) -> Resp {
        Resp {
            id: id.to_string(),
            model: FIXED_MODEL.to_string(),
            created_at: FIXED_CREATED_AT,
            previous: None,
            store: true,
        }
    }

    /// The Response object in `status` with `output` (the text of a JSON array).
    pub(crate) fn object(&self, status: Status, output: &str) -> String {
        let (status_name, completed_at, error, incomplete, usage) = match status {
            Status::InProgress => ("in_progress", "null".to_string(), "null", "null", "null"),
            Status::Completed => (
                "completed",
                (self.created_at + 1).to_string(),
                "null",
                "null",
                USAGE,
            ),
            Status::Failed => ("failed", "null".to_string(), FAILED_ERROR, "null", "null"),
            Status::Incomplete => (
                "incomplete",
                "null".to_string(),
                "null",
                r#"{"reason":"max_output_tokens"}"#,
                USAGE,
            ),
        };
        format!(
            concat!(
                r#"{{"id":{id},"object":"response","created_at":{created},"status":"{status}","#,
                r#""background":false,"completed_at":{completed_at},"error":{error},"#,
                r#""incomplete_details":{incomplete},"instructions":null,"max_output_tokens":null,"#,
                r#""model":{model},"output":{output},"parallel_tool_calls":true,"#,
                r#""previous_response_id":{previous},"reasoning":{{"effort":null,"summary":null}},"#,
                r#""store":{store},"temperature":1.0,"text":{{"format":{{"type":"text"}}}},"#,
                r#""tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","#,
                r#""usage":{usage},"user":null,"metadata":{{}}}}"#
            ),
            id = json_str(&self.id),
            created = self.created_at,
            status = status_name,
            completed_at = completed_at,
            error = error,
            incomplete = incomplete,
            model = json_str(&self.model),
            output = output,
            previous = json_opt(self.previous.as_deref()),
            store = self.store,
            usage = usage,
        )
    }
}

/// One function call an answer asks for.
#[derive(Debug, Clone)]
pub(crate) struct FnCall {
    pub(crate) item_id: String,
    pub(crate) call_id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

impl FnCall {
    /// The `function_call` output item; `arguments` empty and `in_progress` while added.
    pub(crate) fn item(&self, done: bool) -> String {
        let (arguments, status) = if done {
            (self.arguments.as_str(), "completed")
        } else {
            ("", "in_progress")
        };
        format!(
            r#"{{"type":"function_call","id":{},"call_id":{},"name":{},"arguments":{},"status":"{status}"}}"#,
            json_str(&self.item_id),
            json_str(&self.call_id),
            json_str(&self.name),
            json_str(arguments),
        )
    }
}

/// A `message` output item with one `output_text` part (none while `in_progress` and empty).
pub(crate) fn message_item(id: &str, status: &str, text: Option<&str>) -> String {
    let content = match text {
        None => String::new(),
        Some(text) => format!(
            r#"{{"type":"output_text","text":{},"annotations":[]}}"#,
            json_str(text)
        ),
    };
    format!(
        r#"{{"id":{},"type":"message","status":"{status}","role":"assistant","content":[{content}]}}"#,
        json_str(id)
    )
}

/// `response.*` events being built, numbered from 0 (or from where a previous part stopped).
#[derive(Debug, Default)]
pub(crate) struct Events {
    pub(crate) seq: u64,
    pub(crate) list: Vec<(String, String)>,
}

impl Events {
    /// Adds an event: `fields` are the members after `sequence_number`, each with its leading
    /// comma.
    fn push(&mut self, kind: &str, fields: &str) {
        let data = format!(
            r#"{{"type":"{kind}","sequence_number":{}{fields}}}"#,
            self.seq
        );
        self.seq += 1;
        self.list.push((kind.to_string(), data));
    }

    /// `response.created` and `response.in_progress`.
    pub(crate) fn start(&mut self, resp: &Resp) {
        let object = resp.object(Status::InProgress, "[]");
        self.push("response.created", &format!(r#","response":{object}"#));
        self.push("response.in_progress", &format!(r#","response":{object}"#));
    }

    /// The item and part announcements of a text message at `index`.
    pub(crate) fn text_head(&mut self, msg: &str, index: usize) {
        let item = message_item(msg, "in_progress", None);
        self.push(
            "response.output_item.added",
            &format!(r#","output_index":{index},"item":{item}"#),
        );
        self.push(
            "response.content_part.added",
            &format!(
                r#","item_id":{},"output_index":{index},"content_index":0,"part":{{"type":"output_text","text":"","annotations":[]}}"#,
                json_str(msg)
            ),
        );
    }

    pub(crate) fn text_delta(&mut self, msg: &str, index: usize, delta: &str) {
        self.push(
            "response.output_text.delta",
            &delta_fields(msg, index, delta),
        );
    }

    /// The `.done` events of a text message; returns the finished item.
    pub(crate) fn text_tail(
        &mut self,
        msg: &str,
        index: usize,
        text: &str,
        status: &str,
    ) -> String {
        let id = json_str(msg);
        let text_json = json_str(text);
        self.push(
            "response.output_text.done",
            &format!(
                r#","item_id":{id},"output_index":{index},"content_index":0,"text":{text_json},"logprobs":[]"#
            ),
        );
        self.push(
            "response.content_part.done",
            &format!(
                r#","item_id":{id},"output_index":{index},"content_index":0,"part":{{"type":"output_text","text":{text_json},"annotations":[]}}"#
            ),
        );
        let item = message_item(msg, status, Some(text));
        self.push(
            "response.output_item.done",
            &format!(r#","output_index":{index},"item":{item}"#),
        );
        item
    }

    /// A whole text message: head, one delta per piece, tail. Returns the finished item.
    pub(crate) fn text(
        &mut self,
        msg: &str,
        index: usize,
        deltas: &[&str],
        status: &str,
    ) -> String {
        self.text_head(msg, index);
        for delta in deltas {
            self.text_delta(msg, index, delta);
        }
        self.text_tail(msg, index, &deltas.concat(), status)
    }

    /// A function call item at `index`: added, one arguments delta per piece, done. Returns
    /// the finished item.
    pub(crate) fn function_call(&mut self, call: &FnCall, index: usize, deltas: &[&str]) -> String {
        let id = json_str(&call.item_id);
        self.push(
            "response.output_item.added",
            &format!(r#","output_index":{index},"item":{}"#, call.item(false)),
        );
        for delta in deltas {
            self.push(
                "response.function_call_arguments.delta",
                &format!(
                    r#","item_id":{id},"output_index":{index},"delta":{}"#,
                    json_str(delta)
                ),
            );
        }
        self.push(
            "response.function_call_arguments.done",
            &format!(
                r#","item_id":{id},"output_index":{index},"name":{},"arguments":{}"#,
                json_str(&call.name),
                json_str(&call.arguments)
            ),
        );
        let item = call.item(true);
        self.push(
            "response.output_item.done",
            &format!(r#","output_index":{index},"item":{item}"#),
        );
        item
    }

    /// The terminal `response.completed` / `.incomplete` / `.failed` with `items` as output.
    pub(crate) fn finish(&mut self, resp: &Resp, status: Status, items: &[String]) {
        let kind = match status {
            Status::Completed => "response.completed",
            Status::Incomplete => "response.incomplete",
            Status::Failed => "response.failed",
            Status::InProgress => "response.in_progress",
        };
        let object = resp.object(status, &format!("[{}]", items.join(",")));
        self.push(kind, &format!(r#","response":{object}"#));
    }

    /// The wire bytes: `event:` and `data:` lines (or data only), a blank line after each.
    pub(crate) fn to_sse(&self, event_lines: bool) -> String {
        self.list
            .iter()
            .map(|(kind, data)| sse_block(kind, data, event_lines))
            .collect()
    }
}

fn delta_fields(msg: &str, index: usize, delta: &str) -> String {
    format!(
        r#","item_id":{},"output_index":{index},"content_index":0,"delta":{},"logprobs":[]"#,
        json_str(msg),
        json_str(delta)
    )
}

pub(crate) fn sse_block(kind: &str, data: &str, event_lines: bool) -> String {
    if event_lines {
        format!("event: {kind}\ndata: {data}\n\n")
    } else {
        format!("data: {data}\n\n")
    }
}

/// Cuts `text` into pieces of at most `max` characters (at least one piece, maybe empty).
pub(crate) fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (count, (at, _)) in text.char_indices().enumerate() {
        if count > 0 && count % max == 0 {
            out.push(&text[start..at]);
            start = at;
        }
    }
    out.push(&text[start..]);
    out
}

// ---------------------------------------------------------------------------------------------
// The fixtures, as built (a unit test checks the committed files are exactly these, and
// writes them with `OAIRUN_WRITE_FIXTURES=1`).

#[cfg(test)]
pub(crate) fn build_text() -> (String, String) {
    let resp = Resp::fixed("resp_fixed_text");
    let mut ev = Events::default();
    ev.start(&resp);
    let item = ev.text("msg_fixed_text", 0, &TEXT_DELTAS, "completed");
    ev.finish(&resp, Status::Completed, std::slice::from_ref(&item));
    (
        ev.to_sse(true),
        resp.object(Status::Completed, &format!("[{item}]")),
    )
}

#[cfg(test)]
pub(crate) fn build_function_call() -> (String, String) {
    let resp = Resp::fixed("resp_fixed_function_call");
    let call = FnCall {
        item_id: "fc_fixed_get_weather".to_string(),
        call_id: "call_fixed_get_weather".to_string(),
        name: "get_weather".to_string(),
        arguments: r#"{"location":"Paris, France"}"#.to_string(),
    };
    let mut ev = Events::default();
    ev.start(&resp);
    let item = ev.function_call(&call, 0, &[&call.arguments]);
    ev.finish(&resp, Status::Completed, std::slice::from_ref(&item));
    (
        ev.to_sse(true),
        resp.object(Status::Completed, &format!("[{item}]")),
    )
}

#[cfg(test)]
pub(crate) fn build_error(data: &str) -> String {
    let resp = Resp::fixed("resp_fixed_error");
    let mut ev = Events::default();
    ev.start(&resp);
    let mut sse = ev.to_sse(true);
    sse.push_str(&sse_block("error", data, true));
    sse
}

#[cfg(test)]
pub(crate) fn build_failed() -> (String, String) {
    let resp = Resp::fixed("resp_fixed_failed");
    let mut ev = Events::default();
    ev.start(&resp);
    ev.finish(&resp, Status::Failed, &[]);
    (ev.to_sse(true), resp.object(Status::Failed, "[]"))
}

#[cfg(test)]
pub(crate) fn build_incomplete() -> (String, String) {
    let resp = Resp::fixed("resp_fixed_incomplete");
    let mut ev = Events::default();
    ev.start(&resp);
    let item = ev.text("msg_fixed_incomplete", 0, &INCOMPLETE_DELTAS, "incomplete");
    ev.finish(&resp, Status::Incomplete, std::slice::from_ref(&item));
    (
        ev.to_sse(true),
        resp.object(Status::Incomplete, &format!("[{item}]")),
    )
}

/// The text standing in for `long_<n>`'s whole text in its `.done` events and final Response
/// when `n` exceeds [`LONG_FULL_TEXT_MAX`].
pub(crate) fn long_placeholder(n: usize) -> String {
    format!("[the {n} deltas' text, not repeated here]")
}

/// The text `long_<n>`'s `.done` events and final Response carry.
fn long_done_text(n: usize) -> String {
    if n <= LONG_FULL_TEXT_MAX {
        crate::responses_long_text(n)
    } else {
        long_placeholder(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// A `/v1/responses` answer chosen by the request's `model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Model {
    Text,
    DoneStyle,
    NoEventLines,
    FunctionCall,
    ErrorFlat,
    ErrorNested,
    Failed,
    Incomplete,
    Cut,
    HoldOpen,
    Stall,
    /// `stall_burst`: the first four events of `text.sse` in one chunk, then as `stall`.
    StallBurst,
    Long(usize),
    /// `cut_at_<N>`: `function_call.sse`'s first N bytes, then a clean end of body.
    CutAt(usize),
    /// `reset_at_<N>`: `function_call.sse`'s first N bytes, then a reset.
    ResetAt(usize),
    Status(u16),
    Script(tools::Script),
}

impl Model {
    pub(crate) fn parse(model: &str) -> Model {
        use Model::*;
        match model {
            "done_style" => return DoneStyle,
            "no_event_lines" => return NoEventLines,
            "function_call" => return FunctionCall,
            "error_flat" => return ErrorFlat,
            "error_nested" => return ErrorNested,
            "failed" => return Failed,
            "incomplete" => return Incomplete,
            "cut" => return Cut,
            "hold_open" => return HoldOpen,
            "stall" => return Stall,
            "stall_burst" => return StallBurst,
            _ => {}
        }
        if let Some(script) = tools::Script::parse(model) {
            return Script(script);
        }
        let parsed = if let Some(n) = model.strip_prefix("long_") {
            scenario::number(n).map(Long)
        } else if let Some(code) = model.strip_prefix("status_") {
            scenario::error_status(code).map(Status)
        } else if let Some(n) = model.strip_prefix("cut_at_") {
            scenario::number(n).map(CutAt)
        } else if let Some(n) = model.strip_prefix("reset_at_") {
            scenario::number(n).map(ResetAt)
        } else {
            None
        };
        parsed.unwrap_or(Text)
    }
}

/// The exact body of a fixed streamed scenario (the bytes before chunked coding; for
/// `hold_open`, what is sent before the connection is held).
pub(crate) fn stream_body(model: Model) -> Option<String> {
    let text_blocks = || TEXT_SSE.split_inclusive("\n\n").collect::<Vec<_>>();
    Some(match model {
        Model::Text | Model::HoldOpen => TEXT_SSE.to_string(),
        Model::DoneStyle => format!("{TEXT_SSE}data: [DONE]\n\n"),
        Model::NoEventLines => TEXT_SSE
            .lines()
            .filter(|line| !line.starts_with("event: "))
            .map(|line| format!("{line}\n"))
            .collect(),
        Model::FunctionCall => FUNCTION_CALL_SSE.to_string(),
        Model::ErrorFlat => ERROR_FLAT_SSE.to_string(),
        Model::ErrorNested => ERROR_NESTED_SSE.to_string(),
        Model::Failed => FAILED_SSE.to_string(),
        Model::Incomplete => INCOMPLETE_SSE.to_string(),
        Model::Cut => {
            let blocks = text_blocks();
            blocks[..blocks.len() - 1].concat()
        }
        Model::Stall => text_blocks()[0].to_string(),
        Model::StallBurst => text_blocks()[..4].concat(),
        Model::Long(n) => long_events(n).to_sse(true),
        // The fixture is ASCII, so every prefix is a string.
        Model::CutAt(n) | Model::ResetAt(n) => {
            FUNCTION_CALL_SSE[..n.min(FUNCTION_CALL_SSE.len())].to_string()
        }
        Model::Status(_) | Model::Script(_) => return None,
    })
}

/// The exact non-streamed body of a fixed scenario.
pub(crate) fn json_body(model: Model) -> Option<String> {
    Some(match model {
        Model::FunctionCall | Model::CutAt(_) | Model::ResetAt(_) => FUNCTION_CALL_JSON.to_string(),
        Model::Failed => FAILED_JSON.to_string(),
        Model::Incomplete => INCOMPLETE_JSON.to_string(),
        Model::Long(n) => {
            let resp = Resp::fixed("resp_fixed_long");
            let text = crate::responses_long_text(n);
            let item = message_item("msg_fixed_long", "completed", Some(&text));
            resp.object(Status::Completed, &format!("[{item}]"))
        }
        Model::Stall | Model::StallBurst | Model::Status(_) | Model::Script(_) => return None,
        _ => TEXT_JSON.to_string(),
    })
}

/// Every event of `long_<n>`, built in memory (for tests; the server writes them in batches).
fn long_events(n: usize) -> Events {
    let (resp, msg) = (Resp::fixed("resp_fixed_long"), "msg_fixed_long");
    let mut ev = Events::default();
    ev.start(&resp);
    ev.text_head(msg, 0);
    for i in 0..n {
        ev.text_delta(msg, 0, scenario::long_value(i));
    }
    let item = ev.text_tail(msg, 0, &long_done_text(n), "completed");
    ev.finish(&resp, Status::Completed, &[item]);
    ev
}

/// Answers a `/v1/responses` request: validation, then the scenario of its `model`.
pub(crate) async fn respond(
    ex: &mut Exchange<'_>,
    shared: &Shared,
    body: &[u8],
) -> io::Result<After> {
    let body: serde_json::Value = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request: {e}");
            return invalid(ex, 400, &message, None, None).await;
        }
    };
    let Some(model) = body.get("model").and_then(|m| m.as_str()) else {
        return invalid(
            ex,
            400,
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        )
        .await;
    };
    if let Some(previous) = body.get("previous_response_id").and_then(|p| p.as_str()) {
        if previous == "resp_not_found" || tools::is_unstored(shared, previous) {
            let message = format!("Previous response with id '{previous}' not found.");
            return invalid(
                ex,
                400,
                &message,
                Some("previous_response_id"),
                Some("previous_response_not_found"),
            )
            .await;
        }
    }
    let stream = body.get("stream") == Some(&serde_json::Value::Bool(true));
    let model_name = model.to_string();
    match Model::parse(model) {
        Model::Script(script) => {
            tools::respond_responses(ex, shared, script, &body, &model_name, stream).await
        }
        Model::Status(status) => {
            let (kind, param, code) = match status {
                400 => ("invalid_request_error", Some("input"), None),
                401 => ("invalid_request_error", None, Some("invalid_api_key")),
                429 => ("requests", None, Some("rate_limit_exceeded")),
                500..=599 => ("server_error", None, None),
                _ => ("invalid_request_error", None, None),
            };
            let retry: &[(&str, &str)] = if status == 429 {
                &[("retry-after", "1"), ("retry-after-ms", "50")]
            } else {
                &[]
            };
            let message = format!("test error {status}");
            ex.error(status, &message, kind, param, code, retry).await?;
            Ok(After::KeepAlive)
        }
        Model::Stall | Model::StallBurst if !stream => {
            if !ex.conn.pause(STALL).await {
                return Ok(After::Drop);
            }
            Ok(After::Close)
        }
        model if !stream => {
            let json = json_body(model).expect("a fixed answer");
            ex.send(200, "application/json", json.as_bytes(), &[])
                .await?;
            Ok(After::KeepAlive)
        }
        Model::Long(n) => long(ex, n).await,
        cut_model @ (Model::CutAt(n) | Model::ResetAt(n)) => {
            let blocks: Vec<&str> = FUNCTION_CALL_SSE.split_inclusive("\n\n").collect();
            let cut = match cut_model {
                Model::CutAt(_) => scenario::Cut::End,
                _ => scenario::Cut::Reset,
            };
            scenario::prefix(ex, &blocks, n, cut).await
        }
        model => {
            let body = stream_body(model).expect("a fixed stream");
            ex.start_stream().await?;
            if model == Model::StallBurst {
                ex.chunk(body.as_bytes()).await?;
            } else {
                for block in body.split_inclusive("\n\n") {
                    ex.chunk(block.as_bytes()).await?;
                }
            }
            let stalls = matches!(model, Model::HoldOpen | Model::Stall | Model::StallBurst);
            if stalls && !ex.conn.pause(STALL).await {
                return Ok(After::Drop);
            }
            ex.end_stream().await
        }
    }
}

/// `long_<n>`: the head events one chunk each, the deltas in batches, then the tail.
async fn long(ex: &mut Exchange<'_>, n: usize) -> io::Result<After> {
    let (resp, msg) = (Resp::fixed("resp_fixed_long"), "msg_fixed_long");
    ex.start_stream().await?;
    let mut head = Events::default();
    head.start(&resp);
    head.text_head(msg, 0);
    for (kind, data) in &head.list {
        ex.chunk(sse_block(kind, data, true).as_bytes()).await?;
    }
    let mut seq = head.seq;
    let mut batch = String::with_capacity(BATCH + 512);
    for i in 0..n {
        let data = format!(
            r#"{{"type":"response.output_text.delta","sequence_number":{seq}{}}}"#,
            delta_fields(msg, 0, scenario::long_value(i))
        );
        seq += 1;
        batch.push_str(&sse_block("response.output_text.delta", &data, true));
        if batch.len() >= BATCH {
            ex.chunk(batch.as_bytes()).await?;
            batch.clear();
        }
    }
    ex.chunk(batch.as_bytes()).await?;
    let mut tail = Events {
        seq,
        list: Vec::new(),
    };
    let item = tail.text_tail(msg, 0, &long_done_text(n), "completed");
    tail.finish(&resp, Status::Completed, &[item]);
    for (kind, data) in &tail.list {
        ex.chunk(sse_block(kind, data, true).as_bytes()).await?;
    }
    ex.end_stream().await
}

/// A 4xx with an OpenAI error body of type `invalid_request_error`.
pub(crate) async fn invalid(
    ex: &mut Exchange<'_>,
    status: u16,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> io::Result<After> {
    ex.error(status, message, "invalid_request_error", param, code, &[])
        .await?;
    Ok(After::KeepAlive)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed fixtures are exactly what the builders make. With
    /// `OAIRUN_WRITE_FIXTURES=1` the files are (re)written instead.
    #[test]
    fn fixtures_are_the_builders_output() {
        let (text_sse, text_json) = build_text();
        let (fc_sse, fc_json) = build_function_call();
        let (failed_sse, failed_json) = build_failed();
        let (incomplete_sse, incomplete_json) = build_incomplete();
        let files = [
            ("text.sse", text_sse, TEXT_SSE),
            ("text.json", text_json, TEXT_JSON),
            ("function_call.sse", fc_sse, FUNCTION_CALL_SSE),
            ("function_call.json", fc_json, FUNCTION_CALL_JSON),
            (
                "error_flat.sse",
                build_error(ERROR_FLAT_DATA),
                ERROR_FLAT_SSE,
            ),
            (
                "error_nested.sse",
                build_error(ERROR_NESTED_DATA),
                ERROR_NESTED_SSE,
            ),
            ("failed.sse", failed_sse, FAILED_SSE),
            ("failed.json", failed_json, FAILED_JSON),
            ("incomplete.sse", incomplete_sse, INCOMPLETE_SSE),
            ("incomplete.json", incomplete_json, INCOMPLETE_JSON),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/responses");
        let write = std::env::var_os("OAIRUN_WRITE_FIXTURES").is_some();
        for (name, built, committed) in files {
            if write {
                std::fs::write(dir.join(name), &built).unwrap();
            } else {
                assert_eq!(built, committed, "{name}");
            }
        }
    }

    #[test]
    fn every_event_is_json_with_its_type_and_sequence() {
        for model in [
            "gpt-test",
            "function_call",
            "failed",
            "incomplete",
            "long_5",
        ] {
            let body = stream_body(Model::parse(model)).unwrap();
            for (n, block) in body.split_inclusive("\n\n").enumerate() {
                let mut lines = block.lines();
                let kind = lines.next().unwrap().strip_prefix("event: ").unwrap();
                let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
                let value: serde_json::Value = serde_json::from_str(data).unwrap();
                assert_eq!(value["type"], kind);
                assert_eq!(value["sequence_number"], n as u64);
            }
        }
        for json in [TEXT_JSON, FUNCTION_CALL_JSON, FAILED_JSON, INCOMPLETE_JSON] {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(value["object"], "response");
        }
    }

    #[test]
    fn pieces_split_on_characters() {
        assert_eq!(pieces("", 3), [""]);
        assert_eq!(pieces("abcdef", 3), ["abc", "def"]);
        assert_eq!(
            pieces("a\u{e9}\u{1f980}bc", 2),
            ["a\u{e9}", "\u{1f980}b", "c"]
        );
    }

    #[test]
    fn parses_models() {
        assert_eq!(Model::parse("gpt-test"), Model::Text);
        assert_eq!(Model::parse("long_12"), Model::Long(12));
        assert_eq!(Model::parse("long_x"), Model::Text);
        assert_eq!(Model::parse("status_503"), Model::Status(503));
        assert_eq!(Model::parse("status_200"), Model::Text);
        assert_eq!(Model::parse("cut_at_12"), Model::CutAt(12));
        assert_eq!(Model::parse("reset_at_0"), Model::ResetAt(0));
        assert_eq!(Model::parse("cut_at_-1"), Model::Text);
        let whole = stream_body(Model::FunctionCall).unwrap();
        assert!(
            whole.is_ascii(),
            "every prefix of the fixture must be a string"
        );
        assert_eq!(stream_body(Model::CutAt(10)).unwrap(), whole[..10]);
        assert_eq!(stream_body(Model::ResetAt(1 << 20)).unwrap(), whole);
    }
}
