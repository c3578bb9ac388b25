//! The submissions: synchronous, and streamed with a callback.

use std::ffi::{c_char, c_int, c_void};

use super::{
    arg_out, arg_ref, arg_str, guard_status, json_c_string, oairun_client, oairun_error,
    oairun_event, oairun_status, oairun_tool_outputs, UserData,
};
use crate::error::{Error, Result};
use crate::event::Event;

/// Called for every event of a stream, in wire order, one at a time: on the thread that called
/// the blocking stream function (`oairun_create_response_stream`,
/// `oairun_submit_tool_outputs_stream`, a tool loop), or on an oairun callback thread for the
/// `_start` forms (see `oairun_submit_tool_outputs_stream_start`); never on oairun's network
/// threads, and holding no oairun lock, so it may call any oairun function, including a new
/// submission.
///
/// `event` is lent for the duration of the call only. `user_data` is the pointer given to
/// the submission, passed through untouched. Return 0 to go on; any other value stops the
/// stream (the connection is dropped and the submission ends with `OAIRUN_CANCELLED`).
pub type oairun_event_callback =
    Option<unsafe extern "C" fn(event: *const oairun_event, user_data: *mut c_void) -> c_int>;

/// The caller's event callback as the Rust one oairun calls, on whichever thread: each event is
/// lent to `cb` for the call; non-zero stops. A NULL `cb` (a tool loop's optional `on_event`)
/// always goes on.
pub(super) fn event_callback(
    cb: oairun_event_callback,
    user_data: UserData,
) -> impl FnMut(&Event) -> bool + Send + 'static {
    // One text buffer, reused from event to event.
    let mut room = String::new();
    move |event: &Event| match cb {
        None => true,
        Some(cb) => {
            let lent = oairun_event::lend(event, std::mem::take(&mut room));
            // SAFETY: cb is the caller's callback, called as the header documents.
            let go_on = unsafe { cb(&lent, user_data.get()) == 0 };
            room = lent.into_room();
            go_on
        }
    }
}

/// Checks the arguments shared by both submissions and borrows them.
///
/// # Safety
/// Each pointer is NULL or valid for the duration of the call.
pub(super) unsafe fn submission<'a>(
    client: Option<&'a oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&'a oairun_tool_outputs>,
) -> Result<(&'a oairun_client, &'a str, &'a str, &'a oairun_tool_outputs)> {
    Ok((
        arg_ref("client", client)?,
        // SAFETY: the caller's contract above.
        unsafe { arg_str("thread_id", thread_id) }?,
        // SAFETY: the caller's contract above.
        unsafe { arg_str("run_id", run_id) }?,
        arg_ref("outputs", outputs)?,
    ))
}

/// Submits the tool outputs of a run and waits for the answer: the Run object.
///
/// Sends `POST <base_url>/threads/<thread_id>/runs/<run_id>/submit_tool_outputs` with
/// `{"tool_outputs":[…],"stream":false}`. The ids are sent as one percent-encoded path segment
/// each, whatever they hold. The calling thread blocks until the answer is read or the timeout
/// (`oairun_client_options_set_timeout_ms`) runs out.
///
/// Every pointer argument is borrowed for the call. On success `*run_json` receives the Run
/// object's JSON text exactly as the server sent it, NUL-terminated; the caller owns it and
/// frees it with `oairun_string_free` (written only on success). On failure, when `err` is not
/// NULL, `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when a pointer is NULL, an id is empty, `.`,
/// `..` or not UTF-8, or `outputs` is empty;
/// `OAIRUN_CONNECT` when the server cannot be reached or the connection fails;
/// `OAIRUN_TIMEOUT` when the call takes longer than the timeout
/// (`oairun_client_options_set_timeout_ms`) or connecting longer than the connect timeout;
/// `OAIRUN_HTTP_STATUS` for a non-2xx answer, a redirect included (the error has the status,
/// the API's error fields and the request id);
/// `OAIRUN_PROTOCOL` when the answer is not a JSON object or is over the size cap (32 MiB by
/// default, `oairun_client_options_set_max_response_bytes`);
/// `OAIRUN_INTERNAL` for a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_submit_tool_outputs(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&oairun_tool_outputs>,
    run_json: Option<&mut *mut c_char>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, outputs) =
            unsafe { submission(client, thread_id, run_id, outputs) }?;
        let run_json = arg_out("run_json", run_json)?;
        #[cfg(test)]
        crate::test_hooks::panic_at("ffi", thread_id);
        let json = client
            .inner
            .submit_tool_outputs(thread_id, run_id, &outputs.inner)?;
        let json = json_c_string(json)?;
        *run_json = json.into_raw();
        Ok(())
    })
}

/// Submits the tool outputs of a run and streams the answer: `cb` is called for every
/// server-sent event as it arrives, `done` included.
///
/// Sends `POST <base_url>/threads/<thread_id>/runs/<run_id>/submit_tool_outputs` with
/// `{"tool_outputs":[…],"stream":true}`. The callback runs on the calling thread, one event at
/// a time in wire order (see `oairun_event_callback`); network I/O runs
/// on oairun's own threads meanwhile. The call returns when the stream ends.
///
/// Every pointer argument is borrowed for the call; `user_data` is passed to `cb` untouched
/// and may be NULL. On failure, when `err` is not NULL, `*err` receives an error the caller
/// frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK` after the `done` event;
/// `OAIRUN_INVALID_ARGUMENT`, before any request, when `client`, `thread_id`, `run_id`,
/// `outputs` or `cb` is NULL, an id is empty, `.`, `..` or not UTF-8, or `outputs` is empty;
/// `OAIRUN_CONNECT` when the server cannot be reached or the connection fails before the
/// answer;
/// `OAIRUN_TIMEOUT` when no answer, or no further byte, arrives within the read timeout
/// (`oairun_client_options_set_read_timeout_ms`), or connecting takes longer than the connect
/// timeout; a stream has no overall limit;
/// `OAIRUN_HTTP_STATUS` for a non-2xx answer, a redirect included (no event is delivered);
/// `OAIRUN_STREAM_ERROR` after an `error` event, which is delivered to `cb` first (the error
/// has its message, type, code and param);
/// `OAIRUN_PROTOCOL` when the answer is not `text/event-stream`, an event is over the size cap
/// (8 MiB by default, `oairun_client_options_set_max_event_bytes`), or the stream ends or
/// breaks off before `done`;
/// `OAIRUN_CANCELLED` when `cb` returned non-zero;
/// `OAIRUN_INTERNAL` for a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_submit_tool_outputs_stream(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&oairun_tool_outputs>,
    cb: oairun_event_callback,
    user_data: *mut c_void,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, outputs) =
            unsafe { submission(client, thread_id, run_id, outputs) }?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        client.inner.submit_tool_outputs_stream(
            thread_id,
            run_id,
            &outputs.inner,
            event_callback(Some(cb), UserData(user_data)),
        )
    })
}
