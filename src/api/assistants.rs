//! The Assistants endpoint, `POST {base}/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`:
//! the URL from the ids, the `OpenAI-Beta` header, and the `done` / `error` end of its stream.

use reqwest::Url;

use super::{Request, StreamRule};
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::event::{Event, EventKind};
use crate::tool_outputs::ToolOutputs;

/// The header every Assistants request carries, and no other.
const BETA: &[(&str, &str)] = &[("openai-beta", "assistants=v2")];

/// The stream of a submission ends at `done` (complete) or `error` (failed).
pub(crate) struct Rule;

impl StreamRule for Rule {
    fn outcome_after(&self, event: &Event) -> Option<Result<()>> {
        match event.kind() {
            EventKind::Done => Some(Ok(())),
            EventKind::Error => Some(Err(stream_error(event))),
            _ => None,
        }
    }

    fn terminal(&self) -> &'static str {
        "`done`"
    }
}

/// The error of an `error` event, with the API's fields from its data (flat, or nested under
/// `error`).
pub(crate) fn stream_error(event: &Event) -> Error {
    let api = ApiError::parse(event.data().as_bytes()).unwrap_or_default();
    let message = format!(
        "the stream reported an error: {}",
        api.message.as_deref().unwrap_or(event.data())
    );
    Error::new(ErrorKind::StreamError, message).with_api(api)
}

/// The URL for these ids, each one percent-encoded path segment.
pub(crate) fn url(base: &Url, thread_id: &str, run_id: &str) -> Result<Url> {
    validate_id("thread_id", thread_id)?;
    validate_id("run_id", run_id)?;
    super::url(
        base,
        &["threads", thread_id, "runs", run_id, "submit_tool_outputs"],
    )
}

/// The request submitting `outputs` to the run.
pub(crate) fn request(
    base: &Url,
    thread_id: &str,
    run_id: &str,
    outputs: &ToolOutputs,
    stream: bool,
) -> Result<Request> {
    let url = url(base, thread_id, run_id)?;
    if outputs.is_empty() {
        return Err(Error::invalid("tool outputs must hold at least one output"));
    }
    Ok(Request {
        url,
        headers: BETA,
        body: outputs.to_body(stream).into(),
        stream,
        rule: &Rule,
    })
}

fn validate_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    // URL parsers resolve these as "this folder" and "parent folder" even percent-encoded,
    // so they can never reach a server as the one path segment they are.
    if id == "." || id == ".." {
        return Err(Error::invalid(format!("{what} must not be {id:?}")));
    }
    Ok(())
}
