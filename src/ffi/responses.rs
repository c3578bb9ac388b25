//! The Responses calls: `oairun_create_response`, synchronous and streamed (the started forms are
//! in stream.rs, with the other non-blocking calls).

use std::ffi::{c_char, c_void};

use super::{
    arg_out, arg_ref, event_callback, guard_status, json_c_string, oairun_client, oairun_error,
    oairun_event_callback, oairun_response_request, oairun_status, UserData,
};
use crate::error::Error;

/// Creates a response and waits for it: `POST <base_url>/responses` with the request's fields
/// and `"stream":false`. No `OpenAI-Beta` header is sent. The calling thread blocks until the
/// answer is read or the timeout (`oairun_client_options_set_timeout_ms`) runs out.
///
/// Every pointer argument is borrowed for the call. On success `*response_json` receives the
/// Response object's JSON text exactly as the server sent it, NUL-terminated; the caller owns
/// it and frees it with `oairun_string_free` (written only on success). Its function calls, if
/// any, are the `output` items of type `function_call` (`oairun_tool_calls_from_json` reads
/// them). On failure, when `err` is not NULL, `*err` receives an error the caller frees with
/// `oairun_error_free`.
///
/// Returns `OAIRUN_OK`;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when a pointer is NULL or the request has no
/// input item;
/// `OAIRUN_CONNECT`, `OAIRUN_TIMEOUT`, `OAIRUN_PROTOCOL` and `OAIRUN_INTERNAL` as for
/// `oairun_submit_tool_outputs`;
/// `OAIRUN_HTTP_STATUS` for a non-2xx answer (the error has the status, the API's message,
/// type, code and param, e.g. `missing_required_parameter` / `model`, or
/// `previous_response_not_found` / `previous_response_id`, and the request id).
/// A Response whose `status` is `failed` or `incomplete` is still `OAIRUN_OK`: read its
/// `status`, `error` and `incomplete_details`.
#[no_mangle]
pub unsafe extern "C" fn oairun_create_response(
    client: Option<&oairun_client>,
    request: Option<&oairun_response_request>,
    response_json: Option<&mut *mut c_char>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let request = arg_ref("request", request)?;
        let response_json = arg_out("response_json", response_json)?;
        let json = client.inner.create_response(&request.inner)?;
        let json = json_c_string(json)?;
        *response_json = json.into_raw();
        Ok(())
    })
}

/// Creates a response and streams it: `POST <base_url>/responses` with `"stream":true`; `cb` is
/// called for every server-sent event as it arrives, on the calling thread, one at a time in
/// wire order (see `oairun_event_callback`). An event sent without an `event:` line is named
/// by its JSON `type`, so `oairun_event_name` and `oairun_event_kind` always give the type
/// (`OAIRUN_KIND_RESPONSE_*`).
///
/// The call returns as soon as the callback has returned from the stream's first terminal
/// event, without waiting for the connection to close (a server may keep it open, or send
/// `[DONE]`, which is never delivered):
/// `OAIRUN_OK` after `response.completed` or `response.incomplete`;
/// `OAIRUN_STREAM_ERROR` after `response.failed` (the error has `response.error`'s code and
/// message) or an `error` event, flat or nested (the error has its message, type, code and
/// param);
/// `OAIRUN_PROTOCOL` when the stream ends, or sends `[DONE]`, before any of these, an event is
/// over the size cap, or the answer is not `text/event-stream`;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when a pointer or `cb` is NULL or the
/// request has no input item;
/// `OAIRUN_CONNECT`, `OAIRUN_TIMEOUT`, `OAIRUN_HTTP_STATUS`, `OAIRUN_CANCELLED` (`cb` returned
/// non-zero) and `OAIRUN_INTERNAL` as for `oairun_submit_tool_outputs_stream`.
///
/// Every pointer argument is borrowed for the call; `user_data` is passed to `cb` untouched
/// and may be NULL. On failure, when `err` is not NULL, `*err` receives an error the caller
/// frees with `oairun_error_free`.
#[no_mangle]
pub unsafe extern "C" fn oairun_create_response_stream(
    client: Option<&oairun_client>,
    request: Option<&oairun_response_request>,
    cb: oairun_event_callback,
    user_data: *mut c_void,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let request = arg_ref("request", request)?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        client.inner.create_response_stream(
            &request.inner,
            event_callback(Some(cb), UserData(user_data)),
        )
    })
}
