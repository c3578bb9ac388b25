//! The tool-call loops: `oairun_run_tool_loop` (Assistants) and `oairun_response_tool_loop`
//! (Responses), with the handler that runs each call and the `oairun_tool_result` it fills.

use std::ffi::{c_char, c_int, c_void};

use super::submit::submission;
use super::{
    arg_mut, arg_ref, arg_str, event_callback, guard_status, json_c_string, oairun_client,
    oairun_error, oairun_event_callback, oairun_response_request, oairun_status, oairun_tool_call,
    oairun_tool_outputs, UserData,
};
use crate::error::{Error, ErrorKind, Result};
use crate::tool_calls::ToolCall;

/// Where an `oairun_tool_handler` puts the output of the call it ran. Lent to the handler for
/// the duration of the call only; never created or freed by the caller.
pub struct oairun_tool_result {
    output: Option<String>,
}

impl super::Handle for oairun_tool_result {}

/// Sets the output of the call the handler is running: any text (quotes, newlines,
/// non-ASCII), sent as a JSON string and received intact; it may be empty. Setting it again
/// replaces it.
///
/// `output` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `result` or `output` is NULL or `output` is not UTF-8 (the
/// output is then left as it was).
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_result_set_output(
    result: Option<&mut oairun_tool_result>,
    output: *const c_char,
) -> oairun_status {
    guard_status(std::ptr::null_mut(), || {
        let result = arg_mut("result", result)?;
        // SAFETY: `output`: NULL or a NUL-terminated string valid for the call (header).
        let output = unsafe { arg_str("output", output) }?;
        result.output = Some(output.to_owned());
        Ok(())
    })
}

/// Runs one call of a tool-call loop and sets its output with `oairun_tool_result_set_output`.
/// Called on the thread that called the loop, once per call, in the order the model listed
/// the calls, between two requests (never while a stream is open).
///
/// `call` and `result` are lent for the duration of the call only: copy what you need to
/// keep, and never free them. `user_data` is the pointer given to the loop, passed through
/// untouched. The handler may call any oairun function, including other submissions.
///
/// Return 0 to go on (an output must then have been set: if not, the loop stops with
/// `OAIRUN_INVALID_ARGUMENT`, naming the call); any other value stops the loop with
/// `OAIRUN_CANCELLED`, and no further request is made. A C++ handler must not let an
/// exception escape.
pub type oairun_tool_handler = Option<
    unsafe extern "C" fn(
        call: *const oairun_tool_call,
        result: *mut oairun_tool_result,
        user_data: *mut c_void,
    ) -> c_int,
>;

/// The Rust handler over a C one.
fn handler(
    handler: unsafe extern "C" fn(
        *const oairun_tool_call,
        *mut oairun_tool_result,
        *mut c_void,
    ) -> c_int,
    user_data: *mut c_void,
) -> impl FnMut(&ToolCall) -> Result<String> {
    move |call: &ToolCall| {
        let lent = oairun_tool_call::from(call);
        let mut result = oairun_tool_result { output: None };
        // SAFETY: handler is the caller's callback, called as the header documents; what it
        // is lent outlives the call.
        let go_on = unsafe { handler(&lent, &mut result, user_data) } == 0;
        if !go_on {
            return Err(Error::new(
                ErrorKind::Cancelled,
                format!(
                    "the tool handler asked to stop the loop at call {} ({})",
                    call.id, call.name
                ),
            ));
        }
        result.output.ok_or_else(|| {
            Error::invalid(format!(
                "the tool handler returned 0 without setting an output for call {} ({})",
                call.id, call.name
            ))
        })
    }
}

/// Hands the final JSON to the caller, when it asked for it.
fn give(json: String, final_json: Option<&mut *mut c_char>) -> Result<()> {
    if let Some(out) = final_json {
        let json = json_c_string(json)?;
        *out = json.into_raw();
    }
    Ok(())
}

/// Runs an Assistants run's tool calls to the end: submits `first` (the outputs of the calls
/// the run is waiting for) streamed, and each time the run stops at
/// `thread.run.requires_action`, calls `handler` once per call, in the model's order, and
/// submits all their outputs in one streamed request to the same thread and run. Every turn
/// is `oairun_submit_tool_outputs_stream`'s request.
///
/// `on_event` (may be NULL) receives every event of every turn, in order, `done` included, on
/// the calling thread (see `oairun_event_callback`; `oairun_event_text_delta` gives the text
/// as it streams); non-zero stops the loop with `OAIRUN_CANCELLED`. `handler` runs on the
/// calling thread, between requests (see `oairun_tool_handler`). Both get `user_data`,
/// untouched. `max_turns` bounds the requests, `first` included; 0 means 10.
///
/// Every pointer argument is borrowed for the call. On success, when `final_json` is not
/// NULL, `*final_json` receives the final Run's JSON text (the data of `thread.run.completed`,
/// exactly as sent), NUL-terminated; the caller owns it and frees it with
/// `oairun_string_free`. It is written only on success. On failure, when `err` is not NULL,
/// `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK` when the run ends `completed`;
/// `OAIRUN_STREAM_ERROR` when it ends `failed`, `cancelled`, `expired` or `incomplete` (the
/// message says which and why; `oairun_error_api_code` gives `last_error.code` or
/// `incomplete_details.reason`), or a turn's stream carried an `error` event;
/// `OAIRUN_MAX_TURNS` when the run still asks for calls after `max_turns` requests (no further
/// request is made, and `handler` is not called for those calls);
/// `OAIRUN_CANCELLED` when `on_event` or `handler` returned non-zero;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when `client`, `thread_id`, `run_id`,
/// `first` or `handler` is NULL, an id is empty, `.`, `..` or not UTF-8, or `first` is empty;
/// and later when `handler` returned 0 without setting an output (the message names the
/// call);
/// `OAIRUN_PROTOCOL` when a turn's stream ends without a run status that ends the turn, or a
/// Run is not what the API sends, or as for `oairun_submit_tool_outputs_stream`;
/// `OAIRUN_CONNECT`, `OAIRUN_TIMEOUT`, `OAIRUN_HTTP_STATUS` (e.g. 400 when an output was not
/// accepted) and `OAIRUN_INTERNAL` as for `oairun_submit_tool_outputs_stream`.
#[no_mangle]
pub unsafe extern "C" fn oairun_run_tool_loop(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    first: Option<&oairun_tool_outputs>,
    handler: oairun_tool_handler,
    on_event: oairun_event_callback,
    user_data: *mut c_void,
    max_turns: u32,
    final_json: Option<&mut *mut c_char>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, first) =
            unsafe { submission(client, thread_id, run_id, first) }?;
        let run_handler = handler.ok_or_else(|| Error::invalid("handler must not be NULL"))?;
        let json = client.inner.run_tool_loop(
            thread_id,
            run_id,
            &first.inner,
            max_turns,
            self::handler(run_handler, user_data),
            event_callback(on_event, UserData(user_data)),
        )?;
        give(json, final_json)
    })
}

/// Runs a response's tool calls to the end: creates `first` streamed, and each time a
/// response completes with `function_call` items, calls `handler` once per call, in the order
/// of `output`, and sends all their outputs in one new streamed request. Every turn is
/// `oairun_create_response_stream`'s request.
///
/// Each later request has `first`'s fields (model, instructions, tools, the other fields),
/// `previous_response_id` set to the response just completed, and one `function_call_output`
/// per call as its input. When `first` sets `store` to `false` (servers that keep nothing,
/// such as Ollama and llama.cpp), no `previous_response_id` of the loop's is sent: each
/// request carries `first`'s input, then every `output` item of every response so far
/// (replayed verbatim, reasoning items included) and every output so far, in order.
///
/// `on_event`, `handler`, `user_data` and `max_turns` are as for `oairun_run_tool_loop`
/// (`oairun_event_text_delta` gives the `response.output_text.delta` text). `first` is only
/// read; it may be reused afterwards.
///
/// Every pointer argument is borrowed for the call. On success, when `final_json` is not
/// NULL, `*final_json` receives the final Response's JSON text (the `response` object of the
/// last `response.completed` event, exactly as sent), NUL-terminated; the caller owns it and
/// frees it with `oairun_string_free`. It is written only on success. On failure, when `err`
/// is not NULL, `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK` when a response completes without a function call;
/// `OAIRUN_STREAM_ERROR` when a response ends `failed` (the error has `response.error`'s code
/// and message) or `incomplete` (the message and `oairun_error_api_code` give
/// `incomplete_details.reason`), or a stream carried an `error` event;
/// `OAIRUN_MAX_TURNS`, `OAIRUN_CANCELLED` as for `oairun_run_tool_loop`;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when `client`, `first` or `handler` is NULL
/// or `first` has no input item; and later when `handler` returned 0 without setting an
/// output (the message names the call);
/// `OAIRUN_PROTOCOL` when a Response is not what the API sends, or as for
/// `oairun_create_response_stream`;
/// `OAIRUN_CONNECT`, `OAIRUN_TIMEOUT`, `OAIRUN_HTTP_STATUS` (e.g. 400 `No tool output found
/// for function call …`) and `OAIRUN_INTERNAL` as for `oairun_create_response_stream`.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_tool_loop(
    client: Option<&oairun_client>,
    first: Option<&oairun_response_request>,
    handler: oairun_tool_handler,
    on_event: oairun_event_callback,
    user_data: *mut c_void,
    max_turns: u32,
    final_json: Option<&mut *mut c_char>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let first = arg_ref("first", first)?;
        let run_handler = handler.ok_or_else(|| Error::invalid("handler must not be NULL"))?;
        let json = client.inner.response_tool_loop(
            &first.inner,
            max_turns,
            self::handler(run_handler, user_data),
            event_callback(on_event, UserData(user_data)),
        )?;
        give(json, final_json)
    })
}
