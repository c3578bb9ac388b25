//! The Responses endpoint, `POST {base}/responses`: the request builder, the names of events
//! sent without an `event:` line, and the end of its stream (`response.completed`,
//! `response.incomplete`, `response.failed` or `error`, whatever the connection does next).
//! No `OpenAI-Beta` header.

use reqwest::Url;

use super::{Request, StreamRule};
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::event::{Event, EventKind};
use crate::sse::SseParts;
use crate::tool_outputs::write_json_string;

/// The body of one `POST /responses`, built field by field. Fields are sent in the order:
/// `model`, `previous_response_id`, `instructions`, `tools`, `input`, the other fields in the
/// order they were first set, `stream`. Every value is kept as the JSON text given (checked to
/// be JSON), so numbers and key order arrive exactly as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseRequest {
    model: Option<String>,
    previous_response_id: Option<String>,
    instructions: Option<String>,
    tools: Option<String>,
    input: Vec<String>,
    fields: Vec<(String, String)>,
}

/// Parses `text` as JSON, naming `what` when it is not.
fn json(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("{what} is not valid JSON: {e}")))
}

fn json_string(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_json_string(&mut out, text);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

impl ResponseRequest {
    /// An empty request (no model, no input).
    pub fn new() -> ResponseRequest {
        ResponseRequest::default()
    }

    /// Sets `model` (not empty).
    pub fn set_model(&mut self, model: &str) -> Result<()> {
        if model.is_empty() {
            return Err(Error::invalid("model must not be empty"));
        }
        self.model = Some(json_string(model));
        Ok(())
    }

    /// Sets `previous_response_id` (not empty).
    pub fn set_previous_response_id(&mut self, response_id: &str) -> Result<()> {
        if response_id.is_empty() {
            return Err(Error::invalid("previous_response_id must not be empty"));
        }
        self.previous_response_id = Some(json_string(response_id));
        Ok(())
    }

    /// Removes `previous_response_id`.
    pub fn clear_previous_response_id(&mut self) {
        self.previous_response_id = None;
    }

    /// Sets `instructions`.
    pub fn set_instructions(&mut self, text: &str) {
        self.instructions = Some(json_string(text));
    }

    /// Sets `tools` from a JSON array's text.
    pub fn set_tools_json(&mut self, json_array: &str) -> Result<()> {
        if !json("tools", json_array)?.is_array() {
            return Err(Error::invalid("tools must be a JSON array"));
        }
        self.tools = Some(json_array.trim().to_owned());
        Ok(())
    }

    /// Appends `{"type":"function_call_output","call_id":…,"output":…}` to `input`. The call
    /// id must not be empty; the output may be.
    pub fn add_function_call_output(&mut self, call_id: &str, output: &str) -> Result<()> {
        if call_id.is_empty() {
            return Err(Error::invalid("call_id must not be empty"));
        }
        let mut item = Vec::with_capacity(call_id.len() + output.len() + 64);
        item.extend_from_slice(b"{\"type\":\"function_call_output\",\"call_id\":");
        write_json_string(&mut item, call_id);
        item.extend_from_slice(b",\"output\":");
        write_json_string(&mut item, output);
        item.push(b'}');
        self.input
            .push(String::from_utf8(item).expect("built from UTF-8"));
        Ok(())
    }

    /// Appends any input item given as a JSON object's text (a user message, an output item
    /// of an earlier response).
    pub fn add_input_json(&mut self, item_json: &str) -> Result<()> {
        if !json("the input item", item_json)?.is_object() {
            return Err(Error::invalid("an input item must be a JSON object"));
        }
        self.input.push(item_json.trim().to_owned());
        Ok(())
    }

    /// Removes every input item.
    pub fn clear_input(&mut self) {
        self.input.clear();
    }

    /// Sets any other top-level field to a JSON value's text (`store`, `include`,
    /// `temperature`, `tool_choice`, …); setting a name again replaces its value in place.
    /// `stream` and `input` are refused (oairun sets them); `model`, `previous_response_id`,
    /// `instructions` and `tools` must be strings (an array for `tools`) and are the same as
    /// their own setters.
    pub fn set_field_json(&mut self, name: &str, json_value: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid("the field name must not be empty"));
        }
        if name == "stream" || name == "input" {
            return Err(Error::invalid(format!(
                "the field {name:?} cannot be set with set_field_json: oairun sets `stream` \
                 itself, and input items are added with add_input_json or \
                 add_function_call_output"
            )));
        }
        let value = json(&format!("the value of field {name:?}"), json_value)?;
        let as_str = || {
            value
                .as_str()
                .ok_or_else(|| Error::invalid(format!("the field {name:?} must be a JSON string")))
        };
        match name {
            "model" => return self.set_model(as_str()?),
            "previous_response_id" => return self.set_previous_response_id(as_str()?),
            "instructions" => {
                self.set_instructions(as_str()?);
                return Ok(());
            }
            "tools" => return self.set_tools_json(json_value),
            _ => {}
        }
        let text = json_value.trim().to_owned();
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some((_, old)) => *old = text,
            None => self.fields.push((name.to_owned(), text)),
        }
        Ok(())
    }

    /// How many input items there are.
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// The input items' JSON texts, in order.
    pub fn input_items(&self) -> impl Iterator<Item = &str> {
        self.input.iter().map(String::as_str)
    }

    /// True when the request sets `store` to `false` (the server keeps no copy: later turns
    /// cannot refer to this response by id).
    pub fn store_disabled(&self) -> bool {
        self.fields
            .iter()
            .any(|(name, value)| name == "store" && value == "false")
    }

    /// The JSON body.
    pub(crate) fn to_body(&self, stream: bool) -> Vec<u8> {
        let mut body = Vec::with_capacity(
            256 + self.input.iter().map(String::len).sum::<usize>()
                + self.tools.as_ref().map_or(0, String::len),
        );
        body.push(b'{');
        let mut field = |name: &str, value: &str| {
            if body.len() > 1 {
                body.push(b',');
            }
            write_json_string(&mut body, name);
            body.push(b':');
            body.extend_from_slice(value.as_bytes());
        };
        let fixed = [
            ("model", &self.model),
            ("previous_response_id", &self.previous_response_id),
            ("instructions", &self.instructions),
            ("tools", &self.tools),
        ];
        for (name, value) in fixed {
            if let Some(value) = value {
                field(name, value);
            }
        }
        field("input", &format!("[{}]", self.input.join(",")));
        for (name, value) in &self.fields {
            field(name, value);
        }
        field("stream", if stream { "true" } else { "false" });
        body.push(b'}');
        body
    }
}

/// The stream of a response ends at its first terminal event.
pub(crate) struct Rule;

impl StreamRule for Rule {
    /// Servers that send no `event:` line (the name defaults to `message`) name each event by
    /// its data's JSON `type`.
    fn event(&self, sse: SseParts<'_>) -> Event {
        if sse.event == "message" {
            if let Some(kind) = type_of(&sse.data) {
                return Event::from_parts(&kind, sse.data, sse.id);
            }
        }
        Event::from(sse)
    }

    fn refuse(&self, event: &Event) -> Option<Error> {
        (event.name() == "message" && event.data().trim() == "[DONE]")
            .then(|| Error::protocol(format!("the stream sent [DONE] before {}", self.terminal())))
    }

    fn outcome_after(&self, event: &Event) -> Option<Result<()>> {
        match event.kind() {
            EventKind::ResponseCompleted | EventKind::ResponseIncomplete => Some(Ok(())),
            EventKind::ResponseFailed => Some(Err(failed_error(event))),
            EventKind::Error => Some(Err(error_event(event))),
            _ => None,
        }
    }

    fn terminal(&self) -> &'static str {
        "`response.completed`, `response.incomplete`, `response.failed` or `error`"
    }
}

/// The JSON `type` of an event's data, when it is an object that has one (not empty: an
/// event's name never is).
fn type_of(data: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(data).ok()? {
        serde_json::Value::Object(mut object) => match object.remove("type")? {
            serde_json::Value::String(kind) if !kind.is_empty() => Some(kind),
            _ => None,
        },
        _ => None,
    }
}

/// The error of an `error` event, flat (`{"type":"error","code","message","param"}`) or
/// nested (`{"type":"error","error":{"type","code","message","param"}}`).
fn error_event(event: &Event) -> Error {
    let mut api = ApiError::parse(event.data().as_bytes()).unwrap_or_default();
    let nested = event
        .json()
        .ok()
        .is_some_and(|v| v.get("error").is_some_and(|e| e.is_object()));
    if !nested {
        // The flat shape's `type` is the event's type, not the error's.
        api.kind = None;
    }
    let message = format!(
        "the stream reported an error: {}",
        api.message.as_deref().unwrap_or(event.data())
    );
    Error::new(ErrorKind::StreamError, message).with_api(api)
}

/// The error of a `response.failed` event: `response.error`'s code and message.
fn failed_error(event: &Event) -> Error {
    let value = event.json().unwrap_or_default();
    let error = &value["response"]["error"];
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let api = ApiError {
        message: text(&error["message"]),
        kind: None,
        code: text(&error["code"]),
        param: None,
    };
    let message = format!(
        "the response failed: {}",
        api.message.as_deref().unwrap_or("no reason given")
    );
    Error::new(ErrorKind::StreamError, message).with_api(api)
}

/// The request creating a response.
pub(crate) fn request(base: &Url, body: &ResponseRequest, stream: bool) -> Result<Request> {
    if body.input.is_empty() {
        return Err(Error::invalid(
            "the response request has no input item (add one with add_input_json or \
             add_function_call_output)",
        ));
    }
    Ok(Request {
        url: super::url(base, &["responses"])?,
        headers: &[],
        body: body.to_body(stream).into(),
        stream,
        rule: &Rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_fields_in_the_documented_order() {
        let mut r = ResponseRequest::new();
        r.set_field_json("store", "false").unwrap();
        r.add_function_call_output("call_1", "a \"quoted\"\nline é")
            .unwrap();
        r.set_tools_json(r#" [{"type":"function","name":"f"}] "#)
            .unwrap();
        r.set_instructions("be brief");
        r.set_previous_response_id("resp_1").unwrap();
        r.set_model("gpt-test").unwrap();
        r.set_field_json("temperature", "0.5").unwrap();
        r.set_field_json("store", "true").unwrap();
        let body = String::from_utf8(r.to_body(true)).unwrap();
        assert_eq!(
            body,
            r#"{"model":"gpt-test","previous_response_id":"resp_1","instructions":"be brief","tools":[{"type":"function","name":"f"}],"input":[{"type":"function_call_output","call_id":"call_1","output":"a \"quoted\"\nline é"}],"store":true,"temperature":0.5,"stream":true}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["input"][0]["output"], "a \"quoted\"\nline é");
    }

    #[test]
    fn bad_values_are_refused_naming_what() {
        let mut r = ResponseRequest::new();
        let cases: [(Result<()>, &str); 8] = [
            (r.set_tools_json("{}"), "tools must be a JSON array"),
            (r.set_tools_json("[1,"), "tools is not valid JSON"),
            (r.add_input_json("[]"), "must be a JSON object"),
            (r.set_field_json("stream", "true"), "\"stream\""),
            (r.set_field_json("input", "[]"), "\"input\""),
            (r.set_field_json("temperature", "hot"), "\"temperature\""),
            (r.add_function_call_output("", "x"), "call_id"),
            (r.set_model(""), "model"),
        ];
        for (result, expected) in cases {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains(expected), "{}", err.message());
        }
        assert!(!r.store_disabled());
        r.set_field_json("store", " false ").unwrap();
        assert!(r.store_disabled());
        let base = Url::parse("http://127.0.0.1:9/v1").unwrap();
        let err = request(&base, &r, false).err().unwrap();
        assert!(err.message().contains("no input item"), "{}", err.message());
    }

    #[test]
    fn events_without_a_name_take_their_type() {
        let sse = |event: &'static str, data: &str| SseParts {
            event,
            data: data.into(),
            id: None,
        };
        let e = Rule.event(sse(
            "message",
            r#"{"type":"response.output_text.delta","delta":"x"}"#,
        ));
        assert_eq!(e.kind(), EventKind::ResponseOutputTextDelta);
        let e = Rule.event(sse("message", "[DONE]"));
        assert_eq!(e.name(), "message");
        assert!(Rule.refuse(&e).is_some());
        let e = Rule.event(sse("response.created", r#"{"type":"other"}"#));
        assert_eq!(e.name(), "response.created");
        // An empty type names nothing: the event stays `message`.
        assert_eq!(
            Rule.event(sse("message", r#"{"type":""}"#)).name(),
            "message"
        );
    }

    #[test]
    fn terminal_events_and_both_error_shapes() {
        let ev = |name: &str, data: &str| Event::new(name, data, None);
        assert!(Rule
            .outcome_after(&ev("response.completed", "{}"))
            .unwrap()
            .is_ok());
        assert!(Rule
            .outcome_after(&ev("response.incomplete", "{}"))
            .unwrap()
            .is_ok());
        assert!(Rule
            .outcome_after(&ev("response.output_text.delta", "{}"))
            .is_none());
        let flat = Rule
            .outcome_after(&ev(
                "error",
                r#"{"type":"error","code":"server_error","message":"boom","param":null}"#,
            ))
            .unwrap()
            .unwrap_err();
        assert_eq!(flat.kind(), ErrorKind::StreamError);
        assert_eq!(flat.api().code.as_deref(), Some("server_error"));
        assert_eq!(flat.api().kind, None);
        assert!(flat.message().contains("boom"));
        let nested = Rule
            .outcome_after(&ev(
                "error",
                r#"{"type":"error","error":{"type":"too_many_requests","code":"c","message":"m","param":"p"}}"#,
            ))
            .unwrap()
            .unwrap_err();
        assert_eq!(nested.api().kind.as_deref(), Some("too_many_requests"));
        assert_eq!(nested.api().param.as_deref(), Some("p"));
        let failed = Rule
            .outcome_after(&ev(
                "response.failed",
                r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"The model failed."}}}"#,
            ))
            .unwrap()
            .unwrap_err();
        assert_eq!(failed.kind(), ErrorKind::StreamError);
        assert_eq!(failed.api().code.as_deref(), Some("server_error"));
        assert!(failed.message().contains("The model failed."));
    }
}
