//! The list of tool outputs a submission carries, and its JSON request body.

use crate::error::{Error, Result};

/// One tool call's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The id of the tool call this output answers (`call_…`).
    pub tool_call_id: String,
    /// The output, any text (sent as a JSON string, escaped by serde_json).
    pub output: String,
}

/// The tool outputs of one submission, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOutputs {
    items: Vec<ToolOutput>,
}

impl ToolOutputs {
    /// An empty list.
    pub fn new() -> ToolOutputs {
        ToolOutputs::default()
    }

    /// Appends one output. The tool call id must not be empty; the output may be.
    pub fn push(
        &mut self,
        tool_call_id: impl Into<String>,
        output: impl Into<String>,
    ) -> Result<()> {
        let tool_call_id = tool_call_id.into();
        if tool_call_id.is_empty() {
            return Err(Error::invalid("tool_call_id must not be empty"));
        }
        self.items.push(ToolOutput {
            tool_call_id,
            output: output.into(),
        });
        Ok(())
    }

    /// Reads a JSON array of `{"tool_call_id": "…", "output": "…"}` objects, the shape the API
    /// takes. Any other shape, a missing or non-string field, or an unknown field is an
    /// `InvalidArgument` error naming the offending element.
    pub fn from_json(json: &str) -> Result<ToolOutputs> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("tool outputs are not valid JSON: {e}")))?;
        let array = value
            .as_array()
            .ok_or_else(|| Error::invalid("tool outputs must be a JSON array"))?;
        let mut outputs = ToolOutputs::new();
        for (i, item) in array.iter().enumerate() {
            let object = item
                .as_object()
                .ok_or_else(|| Error::invalid(format!("tool_outputs[{i}] is not an object")))?;
            if let Some(unknown) = object
                .keys()
                .find(|k| *k != "tool_call_id" && *k != "output")
            {
                return Err(Error::invalid(format!(
                    "tool_outputs[{i}] has an unknown field \"{unknown}\""
                )));
            }
            let field = |name: &str| {
                object.get(name).and_then(|v| v.as_str()).ok_or_else(|| {
                    Error::invalid(format!("tool_outputs[{i}].{name} must be a string"))
                })
            };
            outputs
                .push(field("tool_call_id")?, field("output")?)
                .map_err(|e| Error::invalid(format!("tool_outputs[{i}]: {}", e.message())))?;
        }
        Ok(outputs)
    }

    /// The outputs, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ToolOutput> {
        self.items.iter()
    }

    /// How many outputs there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The request body: `{"tool_outputs":[{"tool_call_id":…,"output":…},…],"stream":…}`.
    pub(crate) fn to_body(&self, stream: bool) -> Vec<u8> {
        let text_len: usize = self
            .items
            .iter()
            .map(|o| o.tool_call_id.len() + o.output.len() + 40)
            .sum();
        let mut body = Vec::with_capacity(text_len + 40);
        body.extend_from_slice(b"{\"tool_outputs\":[");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"tool_call_id\":");
            write_json_string(&mut body, &item.tool_call_id);
            body.extend_from_slice(b",\"output\":");
            write_json_string(&mut body, &item.output);
            body.push(b'}');
        }
        body.extend_from_slice(if stream {
            b"],\"stream\":true}"
        } else {
            b"],\"stream\":false}"
        });
        body
    }
}

/// Appends `text` as a JSON string literal (quotes, escapes).
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("serialising a str into a Vec cannot fail");
}

impl<'a> IntoIterator for &'a ToolOutputs {
    type Item = &'a ToolOutput;
    type IntoIter = std::slice::Iter<'a, ToolOutput>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_any_text_intact() {
        let mut outputs = ToolOutputs::new();
        let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} é 😀 \u{2028}";
        outputs.push("call_1", tricky).unwrap();
        outputs.push("call_2", "").unwrap();
        let body = outputs.to_body(true);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["tool_outputs"][0]["tool_call_id"], "call_1");
        assert_eq!(parsed["tool_outputs"][0]["output"], tricky);
        assert_eq!(parsed["tool_outputs"][1]["output"], "");
        assert_eq!(parsed["stream"], true);
        assert!(body.starts_with(b"{\"tool_outputs\":[{\"tool_call_id\":\"call_1\""));
        assert!(body.ends_with(b"],\"stream\":true}"));
    }

    #[test]
    fn from_json_accepts_the_api_shape_and_names_bad_elements() {
        let ok = ToolOutputs::from_json(
            r#"[{"tool_call_id":"call_a","output":"x"},{"output":"y","tool_call_id":"call_b"}]"#,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.iter().nth(1).unwrap().tool_call_id, "call_b");
        let cases = [
            ("{}", "must be a JSON array"),
            ("[1]", "tool_outputs[0] is not an object"),
            (
                r#"[{"tool_call_id":"a"}]"#,
                "tool_outputs[0].output must be a string",
            ),
            (
                r#"[{"tool_call_id":"a","output":"b"},{"tool_call_id":7,"output":"b"}]"#,
                "tool_outputs[1].tool_call_id",
            ),
            (
                r#"[{"tool_call_id":"a","output":"b","extra":1}]"#,
                "unknown field \"extra\"",
            ),
            (r#"[{"tool_call_id":"","output":"b"}]"#, "must not be empty"),
            ("[", "not valid JSON"),
        ];
        for (json, expected) in cases {
            let err = ToolOutputs::from_json(json).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{json}");
            assert!(
                err.message().contains(expected),
                "{json}: {}",
                err.message()
            );
        }
    }
}
