//! oairun submits tool outputs to an OpenAI Assistants run
//! (`POST {base}/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`) and hands back the Run
//! object's JSON text, or every server-sent event of the streamed answer as it arrives.
//!
//! The Rust API is [`Client`]; the C API (`oairun_*`, see `include/oairun.h`) is a thin layer
//! over it in [`ffi`]. See docs/ARCHITECTURE.md for the layers and the threading rules.

mod client;
mod config;
mod error;
mod event;
pub mod ffi;
mod lanes;
mod log;
mod retry;
mod runtime;
pub mod sse;
mod submission;
#[cfg(test)]
mod test_hooks;
mod tool_outputs;

pub use client::{Client, EventStream};
pub use config::{
    ClientOptions, DEFAULT_BASE_URL, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
};
pub use error::{ApiError, Error, ErrorKind, Result};
pub use event::{Event, EventKind};
pub use log::{set_log_sink, LogLevel, LogSink};
pub use retry::DEFAULT_MAX_RETRIES;
pub use submission::Submission;
pub use tool_outputs::{ToolOutput, ToolOutputs};
