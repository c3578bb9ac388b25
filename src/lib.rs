//! oairun returns tool outputs to an OpenAI model and hands back its answer: the JSON text of the
//! answer object, or every server-sent event of the streamed answer as it arrives. Two
//! endpoints: the Responses API (`POST {base}/responses`, with `previous_response_id` and
//! `function_call_output` items) and the Assistants API
//! (`POST {base}/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`).
//!
//! The Rust API is [`Client`]; the C API (`oairun_*`, see `include/oairun.h`) is a thin layer
//! over it in [`ffi`]. See docs/ARCHITECTURE.md for the layers and the threading rules.

#![deny(unsafe_op_in_unsafe_fn)]

mod api;
mod bytescan;
mod client;
mod config;
mod error;
mod event;
pub mod ffi;
mod http1;
mod json;
mod lanes;
mod log;
mod reader;
mod retry;
mod runtime;
pub mod sse;
mod stream;
mod submission;
#[cfg(test)]
mod test_hooks;
mod tool_calls;
mod tool_loop;
mod tool_outputs;
mod transport;
mod wire;

pub use api::responses::ResponseRequest;
pub use client::Client;
pub use config::{
    ClientOptions, DEFAULT_BASE_URL, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
};
pub use error::{ApiError, Error, ErrorKind, Result};
pub use event::{Event, EventKind};
pub use log::{set_log_sink, LogLevel, LogSink};
pub use retry::DEFAULT_MAX_RETRIES;
#[doc(hidden)]
pub use stream::responses_stream_over_reads;
pub use stream::EventStream;
pub use submission::Submission;
pub use tool_calls::ToolCall;
pub use tool_loop::DEFAULT_MAX_TURNS;
pub use tool_outputs::{ToolOutput, ToolOutputs};
