//! The tool-call loop, for either endpoint: stream a turn, read the calls the model asked for
//! out of the Run or Response that ended it, run them through the caller's handler, send every
//! output in one request, and go on until the model answers without calls.
//!
//! What the endpoints differ in is one [`Conversation`] each: how a turn is sent and how its
//! end is read ([`RunConversation`] for Assistants, [`ResponseConversation`] for Responses);
//! the loop itself ([`drive`]) is shared.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::api::responses::ResponseRequest;
use crate::client::Client;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::event::{Event, EventKind};
use crate::tool_calls::ToolCall;
use crate::tool_outputs::ToolOutputs;

/// The most requests a loop makes when `max_turns` is 0 (the Agents SDK's default too).
pub const DEFAULT_MAX_TURNS: u32 = 10;

/// The tool-call loops.
impl Client {
    /// Runs an Assistants run's tool calls to the end: submits `first` (the outputs of the
    /// calls the run is waiting for) to `thread_id` / `run_id` streamed, and, each time the
    /// run stops at `thread.run.requires_action`, calls `handler` once per call, in the order
    /// the model listed them, and submits all their outputs in one streamed request to the
    /// same run.
    ///
    /// `on_event` receives every event of every turn, in order, `done` included; returning
    /// `false` stops the loop with `Cancelled`. `handler` returns a call's output, or an error
    /// that stops the loop and is returned as it is. Both run on this thread, between
    /// requests for `handler`. `max_turns` bounds the requests, `first` included (0 means
    /// [`DEFAULT_MAX_TURNS`]).
    ///
    /// Returns the JSON text of the Run once it ends `completed` (the data of its
    /// `thread.run.completed` event, exactly as sent); `StreamError` when it ends `failed`,
    /// `cancelled`, `expired` or `incomplete` (the message gives the reason, and the error
    /// the `last_error` code), or after an `error` event; `MaxTurns` when the run still asks
    /// for calls after `max_turns` requests (no further request is made, and `handler` is not
    /// called for those calls); `Protocol` when a turn's stream ends without a run status
    /// that ends it, or the Run is not what the API sends; otherwise the errors of
    /// [`submit_tool_outputs_stream`](Self::submit_tool_outputs_stream), `InvalidArgument`
    /// for bad ids or an empty `first` before any request.
    pub fn run_tool_loop<H, E>(
        &self,
        thread_id: &str,
        run_id: &str,
        first: &ToolOutputs,
        max_turns: u32,
        mut handler: H,
        mut on_event: E,
    ) -> Result<String>
    where
        H: FnMut(&ToolCall) -> Result<String>,
        E: FnMut(&Event) -> bool,
    {
        let mut conversation = RunConversation {
            thread_id,
            run_id,
            outputs: first.clone(),
        };
        drive(
            self,
            &mut conversation,
            max_turns,
            &mut handler,
            &mut on_event,
        )
    }

    /// Runs a response's tool calls to the end: creates `first` streamed and, each time the
    /// response completes with `function_call` items, calls `handler` once per call, in the
    /// order of `output`, and sends all their outputs in one new streamed request.
    ///
    /// Each later request has `first`'s fields (model, instructions, tools, the other fields)
    /// and, as input, one `function_call_output` per call; it names the response just
    /// completed in `previous_response_id`. When `first` sets `store` to `false`
    /// ([`ResponseRequest::store_disabled`]: servers that keep nothing, such as Ollama and
    /// llama.cpp) it names none and carries the whole conversation instead: `first`'s input,
    /// then every `output` item of every response so far (replayed verbatim) and every
    /// output so far, in order (`first`'s own `previous_response_id`, if it has one, is kept).
    ///
    /// `on_event`, `handler` and `max_turns` are as for
    /// [`run_tool_loop`](Self::run_tool_loop).
    ///
    /// Returns the JSON text of the final Response (the `response` object of the last
    /// `response.completed` event, exactly as sent) once a response completes without a
    /// function call; `StreamError` when a response ends `incomplete` (the message gives
    /// `incomplete_details.reason`, also the error's code) or `failed`, or after an `error`
    /// event; `MaxTurns` as for the run loop; `Protocol` when a Response is not what the API
    /// sends; otherwise the errors of
    /// [`create_response_stream`](Self::create_response_stream), `InvalidArgument` for a
    /// `first` without input before any request.
    pub fn response_tool_loop<H, E>(
        &self,
        first: &ResponseRequest,
        max_turns: u32,
        mut handler: H,
        mut on_event: E,
    ) -> Result<String>
    where
        H: FnMut(&ToolCall) -> Result<String>,
        E: FnMut(&Event) -> bool,
    {
        let mut conversation = ResponseConversation {
            first,
            next: first.clone(),
            replay: first.store_disabled(),
            last: None,
        };
        drive(
            self,
            &mut conversation,
            max_turns,
            &mut handler,
            &mut on_event,
        )
    }
}

/// How a turn ended.
enum TurnEnd {
    /// The model asks for these calls (never empty).
    Calls(Vec<ToolCall>),
    /// The model is done: the final Run or Response, as JSON text.
    Done(String),
}

/// One endpoint's side of the loop.
trait Conversation {
    /// Sends the next request streamed, giving every event to `on_event`, and reads how the
    /// turn ended.
    fn turn(
        &mut self,
        client: &Client,
        on_event: &mut dyn FnMut(&Event) -> bool,
    ) -> Result<TurnEnd>;

    /// Makes the next request carry `outputs`, one per call of the turn just ended, in order.
    fn answer(&mut self, calls: &[ToolCall], outputs: Vec<String>) -> Result<()>;
}

/// The loop itself.
fn drive(
    client: &Client,
    conversation: &mut dyn Conversation,
    max_turns: u32,
    handler: &mut dyn FnMut(&ToolCall) -> Result<String>,
    on_event: &mut dyn FnMut(&Event) -> bool,
) -> Result<String> {
    let max_turns = if max_turns == 0 {
        DEFAULT_MAX_TURNS
    } else {
        max_turns
    };
    let mut requests = 0;
    loop {
        requests += 1;
        let calls = match conversation.turn(client, on_event)? {
            TurnEnd::Done(json) => return Ok(json),
            TurnEnd::Calls(calls) => calls,
        };
        if requests >= max_turns {
            return Err(Error::new(
                ErrorKind::MaxTurns,
                format!(
                    "the model still asked for {} tool call(s) after {requests} requests \
                     (max_turns {max_turns}); no further request was made",
                    calls.len()
                ),
            ));
        }
        let outputs = calls
            .iter()
            .map(&mut *handler)
            .collect::<Result<Vec<String>>>()?;
        conversation.answer(&calls, outputs)?;
    }
}

/// Checks the calls a turn asked for: at least one, each with an id an output can name.
fn asked(calls: Vec<ToolCall>, what: &str) -> Result<TurnEnd> {
    if calls.is_empty() {
        return Err(Error::protocol(format!(
            "{what} asks for tool outputs but lists no call"
        )));
    }
    if let Some(i) = calls.iter().position(|c| c.id.is_empty()) {
        return Err(Error::protocol(format!("{what}: call {i} has an empty id")));
    }
    Ok(TurnEnd::Calls(calls))
}

// ---------------------------------------------------------------------------------------------
// Assistants.

/// An Assistants run: every turn is a streamed submission to the same thread and run.
struct RunConversation<'a> {
    thread_id: &'a str,
    run_id: &'a str,
    /// What the next submission carries.
    outputs: ToolOutputs,
}

/// Whether an event's kind is a run status that ends a submission's stream.
fn ends_a_run_turn(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ThreadRunRequiresAction
            | EventKind::ThreadRunCompleted
            | EventKind::ThreadRunFailed
            | EventKind::ThreadRunCancelled
            | EventKind::ThreadRunExpired
            | EventKind::ThreadRunIncomplete
    )
}

impl Conversation for RunConversation<'_> {
    fn turn(
        &mut self,
        client: &Client,
        on_event: &mut dyn FnMut(&Event) -> bool,
    ) -> Result<TurnEnd> {
        let mut last: Option<Event> = None;
        client.submit_tool_outputs_stream(self.thread_id, self.run_id, &self.outputs, |event| {
            if !on_event(event) {
                return false;
            }
            if ends_a_run_turn(event.kind()) {
                last = Some(event.clone());
            }
            true
        })?;
        let Some(last) = last else {
            return Err(Error::protocol(
                "the run's stream reached `done` without a status that ends the turn \
                 (requires_action, completed, failed, cancelled, expired or incomplete)",
            ));
        };
        match last.kind() {
            EventKind::ThreadRunCompleted => Ok(TurnEnd::Done(last.data().to_owned())),
            EventKind::ThreadRunRequiresAction => {
                let calls = ToolCall::list_from_json(last.data())
                    .map_err(|e| Error::protocol(format!("the run: {}", e.message())))?;
                asked(calls, "the run")
            }
            _ => Err(run_ended(&last)),
        }
    }

    fn answer(&mut self, calls: &[ToolCall], outputs: Vec<String>) -> Result<()> {
        let mut next = ToolOutputs::new();
        for (call, output) in calls.iter().zip(outputs) {
            next.push(call.id.as_str(), output)?;
        }
        self.outputs = next;
        Ok(())
    }
}

/// The error of a run that ended `failed`, `cancelled`, `expired` or `incomplete`.
fn run_ended(event: &Event) -> Error {
    let status = event
        .name()
        .strip_prefix("thread.run.")
        .unwrap_or(event.name());
    let run = event.json().unwrap_or_default();
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let api = ApiError {
        message: text(&run["last_error"]["message"]),
        kind: None,
        code: text(&run["last_error"]["code"])
            .or_else(|| text(&run["incomplete_details"]["reason"])),
        param: None,
    };
    let reason = api
        .message
        .clone()
        .or_else(|| api.code.clone())
        .unwrap_or_else(|| "no reason given".to_owned());
    Error::new(
        ErrorKind::StreamError,
        format!("the run ended {status}: {reason}"),
    )
    .with_api(api)
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// A chain of responses: every turn is a new streamed response.
struct ResponseConversation<'a> {
    first: &'a ResponseRequest,
    /// What the next request is.
    next: ResponseRequest,
    /// `store` is false: each request replays the conversation instead of naming the last
    /// response.
    replay: bool,
    /// The id and `output` items (JSON texts) of the response that asked for calls.
    last: Option<(String, Vec<Box<RawValue>>)>,
}

/// A JSON object's members, each kept as the exact text sent.
fn raw_members(text: &str, what: &str) -> Result<BTreeMap<String, Box<RawValue>>> {
    serde_json::from_str(text)
        .map_err(|e| Error::protocol(format!("{what} is not a JSON object: {e}")))
}

impl Conversation for ResponseConversation<'_> {
    fn turn(
        &mut self,
        client: &Client,
        on_event: &mut dyn FnMut(&Event) -> bool,
    ) -> Result<TurnEnd> {
        let mut last: Option<Event> = None;
        client.create_response_stream(&self.next, |event| {
            if !on_event(event) {
                return false;
            }
            if matches!(
                event.kind(),
                EventKind::ResponseCompleted | EventKind::ResponseIncomplete
            ) {
                last = Some(event.clone());
            }
            true
        })?;
        let last = last.ok_or_else(|| {
            Error::internal("the response stream ended well without a terminal event")
        })?;
        let mut members = raw_members(last.data(), "the event's data")?;
        let response = members.remove("response").ok_or_else(|| {
            Error::protocol(format!("the {} event has no `response`", last.name()))
        })?;
        if last.kind() == EventKind::ResponseIncomplete {
            return Err(incomplete(response.get()));
        }
        let calls = ToolCall::list_from_json(response.get())
            .map_err(|e| Error::protocol(format!("the response: {}", e.message())))?;
        if calls.is_empty() {
            return Ok(TurnEnd::Done(response.get().to_owned()));
        }
        let mut members = raw_members(response.get(), "the response")?;
        let id = members
            .get("id")
            .and_then(|id| serde_json::from_str::<String>(id.get()).ok())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::protocol("the response has no string `id`"))?;
        let output = members.remove("output").map_or(Ok(Vec::new()), |raw| {
            serde_json::from_str::<Vec<Box<RawValue>>>(raw.get())
                .map_err(|e| Error::protocol(format!("the response's output: {e}")))
        })?;
        self.last = Some((id, output));
        asked(calls, "the response")
    }

    fn answer(&mut self, calls: &[ToolCall], outputs: Vec<String>) -> Result<()> {
        let (id, items) = self
            .last
            .take()
            .ok_or_else(|| Error::internal("no response to answer"))?;
        if self.replay {
            for item in &items {
                self.next
                    .add_input_json(item.get())
                    .map_err(|e| Error::protocol(format!("an output item: {}", e.message())))?;
            }
        } else {
            self.next = self.first.clone();
            self.next.clear_input();
            self.next.set_previous_response_id(&id)?;
        }
        for (call, output) in calls.iter().zip(outputs) {
            self.next.add_function_call_output(&call.id, &output)?;
        }
        Ok(())
    }
}

/// The error of a response that ended `incomplete`.
fn incomplete(response: &str) -> Error {
    let value: Value = serde_json::from_str(response).unwrap_or_default();
    let reason = match &value["incomplete_details"]["reason"] {
        Value::String(reason) => Some(reason.clone()),
        _ => None,
    };
    let message = format!(
        "the response is incomplete: {}",
        reason.as_deref().unwrap_or("no reason given")
    );
    Error::new(ErrorKind::StreamError, message).with_api(ApiError {
        code: reason,
        ..ApiError::default()
    })
}
