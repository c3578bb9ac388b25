//! Stream events: the name, data and id of each server-sent event, and what kind it is.

use crate::sse::SseEvent;

/// Every event name of the Assistants stream, plus `Unknown` for names added later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A name this release does not know.
    Unknown,
    ThreadCreated,
    ThreadRunCreated,
    ThreadRunQueued,
    ThreadRunInProgress,
    ThreadRunRequiresAction,
    ThreadRunCompleted,
    ThreadRunIncomplete,
    ThreadRunFailed,
    ThreadRunCancelling,
    ThreadRunCancelled,
    ThreadRunExpired,
    ThreadRunStepCreated,
    ThreadRunStepInProgress,
    ThreadRunStepDelta,
    ThreadRunStepCompleted,
    ThreadRunStepFailed,
    ThreadRunStepCancelled,
    ThreadRunStepExpired,
    ThreadMessageCreated,
    ThreadMessageInProgress,
    ThreadMessageDelta,
    ThreadMessageCompleted,
    ThreadMessageIncomplete,
    /// `error`: the server reports a failure inside the stream.
    Error,
    /// `done`: the stream is complete (data `[DONE]`).
    Done,
}

impl EventKind {
    /// The kind of the event named `name` (exact, case-sensitive match).
    pub fn from_name(name: &str) -> EventKind {
        use EventKind::*;
        match name {
            "thread.created" => ThreadCreated,
            "thread.run.created" => ThreadRunCreated,
            "thread.run.queued" => ThreadRunQueued,
            "thread.run.in_progress" => ThreadRunInProgress,
            "thread.run.requires_action" => ThreadRunRequiresAction,
            "thread.run.completed" => ThreadRunCompleted,
            "thread.run.incomplete" => ThreadRunIncomplete,
            "thread.run.failed" => ThreadRunFailed,
            "thread.run.cancelling" => ThreadRunCancelling,
            "thread.run.cancelled" => ThreadRunCancelled,
            "thread.run.expired" => ThreadRunExpired,
            "thread.run.step.created" => ThreadRunStepCreated,
            "thread.run.step.in_progress" => ThreadRunStepInProgress,
            "thread.run.step.delta" => ThreadRunStepDelta,
            "thread.run.step.completed" => ThreadRunStepCompleted,
            "thread.run.step.failed" => ThreadRunStepFailed,
            "thread.run.step.cancelled" => ThreadRunStepCancelled,
            "thread.run.step.expired" => ThreadRunStepExpired,
            "thread.message.created" => ThreadMessageCreated,
            "thread.message.in_progress" => ThreadMessageInProgress,
            "thread.message.delta" => ThreadMessageDelta,
            "thread.message.completed" => ThreadMessageCompleted,
            "thread.message.incomplete" => ThreadMessageIncomplete,
            "error" => Error,
            "done" => Done,
            _ => Unknown,
        }
    }
}

/// One event of a stream, as it came off the wire.
///
/// Each string is stored with a NUL after it, so that the C API can lend it to a callback
/// as a C string without copying; the accessors leave the NUL out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    name: String,
    data: String,
    id: Option<String>,
    kind: EventKind,
}

fn with_nul(mut text: String) -> String {
    text.push('\0');
    text
}

fn without_nul(text: &str) -> &str {
    &text[..text.len() - 1]
}

impl Event {
    /// An event with the given name, data and id.
    pub fn new(name: impl Into<String>, data: impl Into<String>, id: Option<String>) -> Event {
        let name = name.into();
        let kind = EventKind::from_name(&name);
        Event {
            name: with_nul(name),
            data: with_nul(data.into()),
            id: id.map(with_nul),
            kind,
        }
    }

    /// The event's name (`message` when the stream gave none).
    pub fn name(&self) -> &str {
        without_nul(&self.name)
    }

    /// The event's data: its `data:` lines joined with LF.
    pub fn data(&self) -> &str {
        without_nul(&self.data)
    }

    /// The last event id the stream set, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().map(without_nul)
    }

    /// The name followed by a NUL, for the C API.
    pub(crate) fn name_with_nul(&self) -> &str {
        &self.name
    }

    /// The data followed by a NUL, for the C API.
    pub(crate) fn data_with_nul(&self) -> &str {
        &self.data
    }

    /// The id followed by a NUL, for the C API.
    pub(crate) fn id_with_nul(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The kind, from the name.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Parses the data as JSON (it is not cached: call once and keep the value).
    /// `done`'s data `[DONE]` is not JSON and gives an error.
    pub fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(self.data())
    }

    /// Takes the event apart into its name, data and id, for callers that keep the strings.
    pub fn into_parts(self) -> (String, String, Option<String>) {
        let strip = |mut text: String| {
            text.pop();
            text
        };
        (strip(self.name), strip(self.data), self.id.map(strip))
    }
}

impl From<SseEvent> for Event {
    fn from(e: SseEvent) -> Event {
        Event::new(e.event, e.data, e.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_names_exactly() {
        assert_eq!(
            EventKind::from_name("thread.message.delta"),
            EventKind::ThreadMessageDelta
        );
        assert_eq!(EventKind::from_name("done"), EventKind::Done);
        assert_eq!(EventKind::from_name("Done"), EventKind::Unknown);
        assert_eq!(
            EventKind::from_name("thread.run.step.expired"),
            EventKind::ThreadRunStepExpired
        );
        assert_eq!(EventKind::from_name("message"), EventKind::Unknown);
    }

    #[test]
    fn json_view_parses_data() {
        let e = Event::new("thread.run.queued", r#"{"status":"queued"}"#, None);
        assert_eq!(e.json().unwrap()["status"], "queued");
        assert!(Event::new("done", "[DONE]", None).json().is_err());
    }

    #[test]
    fn strings_carry_a_hidden_nul_for_c() {
        let e = Event::new("done", "[DONE]", Some("7".into()));
        assert_eq!((e.name(), e.data(), e.id()), ("done", "[DONE]", Some("7")));
        assert_eq!(e.data_with_nul(), "[DONE]\0");
        assert_eq!(e.id_with_nul(), Some("7\0"));
        let (name, data, id) = e.into_parts();
        assert_eq!(
            (name.as_str(), data.as_str(), id.as_deref()),
            ("done", "[DONE]", Some("7"))
        );
    }
}
