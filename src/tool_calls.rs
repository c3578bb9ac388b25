//! The function calls a model asks for, read out of a Run (Assistants), a Response
//! (Responses), or the stream event that carries one, so that no caller needs its own JSON
//! parser to learn them.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{Event, EventKind};

/// One function call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The id an output must name: the Assistants `tool_calls[].id`, the Responses `call_id`
    /// (`call_…`; not the item's `id`, `fc_…`).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments' JSON text exactly as the model wrote it (not checked to be JSON: models
    /// do write broken JSON, and the tool should see what was written).
    pub arguments: String,
}

impl ToolCall {
    /// The calls of a Run (`required_action.submit_tool_outputs.tool_calls[]`, each with `id`,
    /// `function.name`, `function.arguments`) or of a Response (its `output[]` items of type
    /// `function_call`, each with `call_id`, `name`, `arguments`), in the order listed. An
    /// object with no calls (a completed Run, a text-only Response) gives an empty list.
    ///
    /// `InvalidArgument` when the text is not JSON, not an object, or a call lacks one of its
    /// string fields (the error names which).
    pub fn list_from_json(run_or_response_json: &str) -> Result<Vec<ToolCall>> {
        let value: Value = serde_json::from_str(run_or_response_json)
            .map_err(|e| Error::invalid(format!("the text is not valid JSON: {e}")))?;
        calls_of(&value)
    }

    /// The calls an event carries: those of the Run in a `thread.run.requires_action` event,
    /// or of the Response in a `response.completed` event (`{"type":…,"response":{…}}`). Any
    /// other event gives an empty list.
    ///
    /// `InvalidArgument` when one of those two events' data is not what the API sends (see
    /// [`list_from_json`](Self::list_from_json)).
    pub fn list_from_event(event: &Event) -> Result<Vec<ToolCall>> {
        match event.kind() {
            EventKind::ThreadRunRequiresAction => Self::list_from_json(event.data()),
            EventKind::ResponseCompleted => {
                let value: Value = serde_json::from_str(event.data()).map_err(|e| {
                    Error::invalid(format!("the event's data is not valid JSON: {e}"))
                })?;
                match value.get("response") {
                    Some(response) => calls_of(response)
                        .map_err(|e| Error::invalid(format!("response: {}", e.message()))),
                    None => Err(Error::invalid(
                        "the response.completed event has no `response` object",
                    )),
                }
            }
            _ => Ok(Vec::new()),
        }
    }
}

impl Event {
    /// The function calls this event carries: see [`ToolCall::list_from_event`].
    pub fn tool_calls(&self) -> Result<Vec<ToolCall>> {
        ToolCall::list_from_event(self)
    }
}

/// The calls of a parsed Run or Response.
fn calls_of(value: &Value) -> Result<Vec<ToolCall>> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::invalid("a Run or a Response must be a JSON object"))?;
    let mut calls = Vec::new();
    let run_calls = object
        .get("required_action")
        .and_then(|a| a.get("submit_tool_outputs"))
        .and_then(|s| s.get("tool_calls"));
    if let Some(list) = run_calls {
        let list = list.as_array().ok_or_else(|| {
            Error::invalid("required_action.submit_tool_outputs.tool_calls is not an array")
        })?;
        for (i, call) in list.iter().enumerate() {
            let at = format!("required_action.submit_tool_outputs.tool_calls[{i}]");
            let function = call.get("function");
            calls.push(ToolCall {
                id: string(call.get("id"), &at, "id")?,
                name: string(function.and_then(|f| f.get("name")), &at, "function.name")?,
                arguments: string(
                    function.and_then(|f| f.get("arguments")),
                    &at,
                    "function.arguments",
                )?,
            });
        }
    }
    if let Some(output) = object.get("output").and_then(Value::as_array) {
        for (i, item) in output.iter().enumerate() {
            if item.get("type").and_then(Value::as_str) != Some("function_call") {
                continue;
            }
            let at = format!("output[{i}]");
            calls.push(ToolCall {
                id: string(item.get("call_id"), &at, "call_id")?,
                name: string(item.get("name"), &at, "name")?,
                arguments: string(item.get("arguments"), &at, "arguments")?,
            });
        }
    }
    Ok(calls)
}

/// A call's string field, or an error naming where it is missing.
fn string(value: Option<&Value>, at: &str, field: &str) -> Result<String> {
    match value {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(Error::invalid(format!("{at}.{field} is not a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const RUN: &str = r#"{"id":"run_1","object":"thread.run","status":"requires_action","required_action":{"type":"submit_tool_outputs","submit_tool_outputs":{"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]}}}"#;
    const RESPONSE: &str = r#"{"id":"resp_1","object":"response","status":"completed","output":[{"type":"reasoning","id":"rs_1","summary":[]},{"type":"function_call","id":"fc_1","call_id":"call_x","name":"get_weather","arguments":"{\"city\":\"Tōkyō \\\"x\\\"\"}","status":"completed"},{"type":"message","id":"msg_1","content":[]},{"type":"function_call","id":"fc_2","call_id":"call_y","name":"get_time","arguments":"{}"}]}"#;

    fn ids(calls: &[ToolCall]) -> Vec<(&str, &str, &str)> {
        calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect()
    }

    #[test]
    fn reads_a_runs_calls_in_order() {
        let calls = ToolCall::list_from_json(RUN).unwrap();
        assert_eq!(
            ids(&calls),
            [
                ("call_a", "get_weather", r#"{"city":"Paris"}"#),
                ("call_b", "get_time", "")
            ]
        );
    }

    #[test]
    fn reads_a_responses_function_call_items_only() {
        let calls = ToolCall::list_from_json(RESPONSE).unwrap();
        assert_eq!(
            ids(&calls),
            [
                ("call_x", "get_weather", r#"{"city":"Tōkyō \"x\""}"#),
                ("call_y", "get_time", "{}")
            ]
        );
    }

    #[test]
    fn objects_without_calls_give_an_empty_list() {
        for json in [
            "{}",
            r#"{"object":"thread.run","status":"completed","required_action":null}"#,
            r#"{"object":"response","output":[{"type":"message","content":[]}]}"#,
        ] {
            assert!(ToolCall::list_from_json(json).unwrap().is_empty(), "{json}");
        }
    }

    #[test]
    fn bad_input_is_an_invalid_argument_naming_what() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1]", "JSON object"),
            ("\"run\"", "JSON object"),
            (
                r#"{"required_action":{"submit_tool_outputs":{"tool_calls":{}}}}"#,
                "not an array",
            ),
            (
                r#"{"required_action":{"submit_tool_outputs":{"tool_calls":[{"id":"c","function":{"name":"f"}}]}}}"#,
                "tool_calls[0].function.arguments",
            ),
            (
                r#"{"output":[{"type":"function_call","name":"f","arguments":"{}"}]}"#,
                "output[0].call_id",
            ),
        ];
        for (json, expected) in cases {
            let err = ToolCall::list_from_json(json).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{json}");
            assert!(err.message().contains(expected), "{}", err.message());
        }
    }

    #[test]
    fn events_carry_calls_only_when_they_pause_for_them() {
        let requires = Event::new("thread.run.requires_action", RUN, None);
        assert_eq!(requires.tool_calls().unwrap().len(), 2);
        let completed = Event::new(
            "response.completed",
            format!(r#"{{"type":"response.completed","response":{RESPONSE}}}"#),
            None,
        );
        assert_eq!(ids(&completed.tool_calls().unwrap())[1].0, "call_y");
        for other in [
            Event::new("thread.run.completed", RUN, None),
            Event::new("response.output_item.done", RESPONSE, None),
            Event::new("done", "[DONE]", None),
        ] {
            assert!(other.tool_calls().unwrap().is_empty(), "{}", other.name());
        }
        let broken = Event::new(
            "response.completed",
            r#"{"type":"response.completed"}"#,
            None,
        );
        assert_eq!(
            broken.tool_calls().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
