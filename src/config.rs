//! Client options and the environment variables the official SDKs read.

use std::time::Duration;

use crate::error::{Error, Result};

/// The base URL used when neither the options nor `OPENAI_BASE_URL` give one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The overall limit of a synchronous call when none is set (the official SDK's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The limit on connecting when none is set (the official Python SDK's).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a stream may go without a byte when none is set (the official SDK's read limit).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest synchronous answer read before failing with a protocol error.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 << 20;
/// The largest single stream event (its pending line plus data) before failing.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 << 20;

/// Settings for a [`Client`](crate::Client). Everything left unset comes from the environment
/// (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`) or the defaults.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// The API key, sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// The base URL, e.g. `https://api.openai.com/v1` or a compatible server's.
    pub base_url: Option<String>,
    /// Sent as `OpenAI-Organization`.
    pub organization: Option<String>,
    /// Sent as `OpenAI-Project`.
    pub project: Option<String>,
    /// Extra headers sent with every request, after the standard ones.
    pub headers: Vec<(String, String)>,
    /// The overall limit of a synchronous call (connect, send, and read the whole answer).
    pub timeout: Option<Duration>,
    /// The limit on establishing a connection (TCP and TLS), default 5 s.
    pub connect_timeout: Option<Duration>,
    /// For a stream: the longest wait for the answer's headers and for each next byte, default
    /// 600 s. A stream has no overall limit: it may run as long as bytes keep coming.
    pub read_timeout: Option<Duration>,
    /// Allows plain `http://` base URLs whose host is not loopback. Off by default: the key
    /// would cross the network in clear text.
    pub allow_insecure_http: bool,
    /// How many times a failed request is retried (connection failures, timeouts, 408, 409,
    /// 429, 5xx), default 2; 0 disables retries.
    pub max_retries: Option<u32>,
    /// The largest synchronous answer accepted (default 32 MiB).
    pub max_response_bytes: Option<usize>,
    /// The largest single stream event accepted (default 8 MiB).
    pub max_event_bytes: Option<usize>,
}

impl std::fmt::Debug for ClientOptions {
    // Hand-written so that the key can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("max_retries", &self.max_retries)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_event_bytes", &self.max_event_bytes)
            .finish()
    }
}

/// Options with the environment and defaults applied: what a client is built from.
pub(crate) struct Resolved {
    pub api_key: String,
    pub base_url: String,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_retries: u32,
    pub max_response_bytes: usize,
    pub max_event_bytes: usize,
}

/// Reads an environment variable, treating unset, empty and non-UTF-8 alike as absent.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ClientOptions {
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let api_key = self
            .api_key
            .clone()
            .or_else(|| env_var("OPENAI_API_KEY"))
            .ok_or_else(|| {
                Error::invalid("no API key: set one in the client options or in OPENAI_API_KEY")
            })?;
        let base_url = self
            .base_url
            .clone()
            .or_else(|| env_var("OPENAI_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let positive = |value: Option<Duration>, default: Duration, what: &str| {
            let value = value.unwrap_or(default);
            if value.is_zero() {
                return Err(Error::invalid(format!(
                    "the {what} must be greater than zero"
                )));
            }
            Ok(value)
        };
        let timeout = positive(self.timeout, DEFAULT_TIMEOUT, "timeout")?;
        let connect_timeout = positive(
            self.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
            "connect timeout",
        )?;
        let read_timeout = positive(self.read_timeout, DEFAULT_READ_TIMEOUT, "read timeout")?;
        let max_response_bytes = self
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let max_event_bytes = self.max_event_bytes.unwrap_or(DEFAULT_MAX_EVENT_BYTES);
        if max_response_bytes == 0 || max_event_bytes == 0 {
            return Err(Error::invalid("the size caps must be greater than zero"));
        }
        Ok(Resolved {
            api_key,
            base_url,
            organization: self
                .organization
                .clone()
                .or_else(|| env_var("OPENAI_ORG_ID")),
            project: self
                .project
                .clone()
                .or_else(|| env_var("OPENAI_PROJECT_ID")),
            timeout,
            connect_timeout,
            read_timeout,
            max_retries: self
                .max_retries
                .unwrap_or(crate::retry::DEFAULT_MAX_RETRIES),
            max_response_bytes,
            max_event_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let options = ClientOptions {
            api_key: Some("sk-secret-123".into()),
            ..Default::default()
        };
        let text = format!("{options:?}");
        assert!(!text.contains("sk-secret-123"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn explicit_options_win_and_zero_timeout_is_refused() {
        let options = ClientOptions {
            api_key: Some("k".into()),
            base_url: Some("http://127.0.0.1:1/v1".into()),
            ..Default::default()
        };
        let resolved = options.resolve().unwrap();
        assert_eq!(resolved.api_key, "k");
        assert_eq!(resolved.base_url, "http://127.0.0.1:1/v1");
        assert_eq!(resolved.timeout, DEFAULT_TIMEOUT);

        let zero = ClientOptions {
            timeout: Some(Duration::ZERO),
            ..options
        };
        assert_eq!(
            zero.resolve().err().unwrap().kind(),
            crate::ErrorKind::InvalidArgument
        );
    }
}
