//! The one error type of the crate: a status code, a message, and what the server said.

use std::fmt;

/// What kind of failure an [`Error`] is. The C API exposes the same list as `oairun_status`
/// (with `OAIRUN_OK` in front); numbers there are fixed, so this list only ever grows at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A NULL, empty, non-UTF-8 or otherwise unusable argument; nothing was sent.
    InvalidArgument,
    /// The connection could not be made, or failed before an answer or mid-transfer.
    Connect,
    /// A time limit ran out.
    Timeout,
    /// The server answered with a non-2xx status.
    HttpStatus,
    /// The stream carried an `error` event, or (tool-call loop) the run or response ended
    /// failed, cancelled, expired or incomplete.
    StreamError,
    /// The answer was not what this endpoint returns (bad JSON, wrong content type, a stream
    /// that ended before `done`, an answer over the size cap).
    Protocol,
    /// The caller asked to stop (a callback returned non-zero).
    Cancelled,
    /// A bug in oairun (for example a panic caught at the C boundary).
    Internal,
    /// A tool-call loop made as many requests as it was allowed and the model still asked
    /// for calls; no further request was made.
    MaxTurns,
}

impl ErrorKind {
    /// A short, stable, lower-case description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Connect => "connection failed",
            ErrorKind::Timeout => "timed out",
            ErrorKind::HttpStatus => "HTTP error status",
            ErrorKind::StreamError => "error event in stream",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
            ErrorKind::MaxTurns => "maximum turns reached",
        }
    }
}

/// The fields of an OpenAI error object (`{"error":{"message","type","param","code"}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// `error.message`.
    pub message: Option<String>,
    /// `error.type`.
    pub kind: Option<String>,
    /// `error.code` (numbers are given as their decimal text).
    pub code: Option<String>,
    /// `error.param`.
    pub param: Option<String>,
}

impl ApiError {
    /// Reads an OpenAI error body: `{"error":{...}}`, or the bare error object that `error`
    /// events carry. Returns None when the text is not a JSON object.
    pub fn parse(body: &[u8]) -> Option<ApiError> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        let fields = match object.get("error") {
            Some(serde_json::Value::Object(inner)) => inner,
            _ => object,
        };
        let text = |name: &str| match fields.get(name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        Some(ApiError {
            message: text("message"),
            kind: text("type"),
            code: text("code"),
            param: text("param"),
        })
    }
}

/// An oairun error: what failed, a message for people, and what the server said about it.
/// One pointer wide, so that `Result`s stay small on the success path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    request_id: Option<String>,
    api: ApiError,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                http_status: None,
                request_id: None,
                api: ApiError::default(),
            }),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    pub(crate) fn with_http(mut self, status: u16, request_id: Option<String>) -> Error {
        self.inner.http_status = Some(status);
        self.inner.request_id = request_id;
        self
    }

    /// Notes how many attempts the failure took, when there were retries.
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Error {
        if attempts > 1 {
            self.inner.message = format!("{} (after {attempts} attempts)", self.inner.message);
        }
        self
    }

    pub(crate) fn with_api(mut self, api: ApiError) -> Error {
        self.inner.api = api;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// A message for people; it never contains the API key.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The `x-request-id` header of the answer, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The API's error fields, as far as the server sent them.
    pub fn api(&self) -> &ApiError {
        &self.inner.api
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrapped_and_bare_error_objects() {
        let wrapped = br#"{"error":{"message":"No run","type":"invalid_request_error","param":null,"code":"not_found"}}"#;
        let api = ApiError::parse(wrapped).unwrap();
        assert_eq!(api.message.as_deref(), Some("No run"));
        assert_eq!(api.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(api.code.as_deref(), Some("not_found"));
        assert_eq!(api.param, None);

        let bare = br#"{"message":"boom","type":"server_error","code":500,"param":"x"}"#;
        let api = ApiError::parse(bare).unwrap();
        assert_eq!(api.message.as_deref(), Some("boom"));
        assert_eq!(api.code.as_deref(), Some("500"));
        assert_eq!(api.param.as_deref(), Some("x"));

        assert_eq!(ApiError::parse(b"upstream exploded"), None);
        assert_eq!(ApiError::parse(b"[1,2]"), None);
    }
}
