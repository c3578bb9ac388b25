//! The non-blocking (`_start`) forms of both endpoints and their `oairun_stream` handles:
//! cancel, wait and free.

use std::ffi::{c_char, c_void};

use super::submit::submission;
use super::{
    arg_out, arg_ref, event_callback, guard, guard_status, into_raw, json_c_string, oairun_client,
    oairun_error, oairun_event_callback, oairun_response_request, oairun_status,
    oairun_tool_outputs, UserData,
};
use crate::error::{Error, Result};
use crate::submission::Submission;

/// A submission in flight, started by `oairun_submit_tool_outputs_stream_start` or
/// `oairun_submit_tool_outputs_start`. Cancel it with `oairun_stream_cancel` (from any
/// thread), wait for its outcome with `oairun_stream_wait`, and free it with
/// `oairun_stream_free`, which cancels it if it is still running.
pub struct oairun_stream {
    pub(super) inner: Submission,
}

impl super::Handle for oairun_stream {}

/// Called once when a submission started by `oairun_submit_tool_outputs_start` ends, on an
/// oairun callback thread (see `oairun_submit_tool_outputs_stream_start` for what runs
/// there).
///
/// `status` is the outcome. On `OAIRUN_OK`, `run_json` is the Run object's JSON text exactly as
/// the server sent it and `error` is NULL; otherwise `run_json` is NULL and `error` describes
/// the failure (`OAIRUN_CANCELLED` after `oairun_stream_cancel`). Both are lent for the
/// duration of the call only: copy what you need, and never free them. `user_data` is the
/// pointer given to the submission, passed through untouched.
pub type oairun_completion_callback = Option<
    unsafe extern "C" fn(
        status: oairun_status,
        run_json: *const c_char,
        error: *const oairun_error,
        user_data: *mut c_void,
    ),
>;

/// Starts a streamed submission and returns at once: `cb` is then called for every event on
/// an oairun callback thread.
///
/// Sends the same request as `oairun_submit_tool_outputs_stream` (`"stream":true`) and has the
/// same outcomes, but does not wait: on success `*out` receives a handle the caller owns and
/// frees with `oairun_stream_free`; `oairun_stream_wait` gives the outcome and
/// `oairun_stream_cancel` stops the stream from any thread.
///
/// Threads: the callbacks of one stream run one at a time, in wire order, all on the same
/// oairun callback thread (never a network thread). oairun has a few such threads (one per core,
/// 2 to 4) shared by every non-blocking submission, so a callback should return quickly: while
/// it runs, other submissions' callbacks on that thread wait. A callback may call any oairun
/// function, including new submissions (blocking or not) and `oairun_stream_cancel` or
/// `oairun_stream_free` on its own stream, but not `oairun_stream_wait` on a submission still
/// running (that returns `OAIRUN_INVALID_ARGUMENT` rather than deadlock). Returning non-zero
/// from `cb` stops the stream with `OAIRUN_CANCELLED`.
///
/// Every pointer argument is borrowed for the call only (ids and outputs are copied), and the
/// client may be freed while the stream runs. `user_data` is passed to `cb` untouched and must
/// stay valid until `oairun_stream_wait` has returned or `oairun_stream_free` was called.
/// `*out` is written only on success. On failure, when `err` is not NULL, `*err` receives an
/// error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK` when the stream has started, or, before any request and without
/// calling `cb`: `OAIRUN_INVALID_ARGUMENT` when `client`, `thread_id`, `run_id`, `outputs`,
/// `cb` or `out` is NULL, an id is empty, `.`, `..` or not UTF-8, or `outputs` is empty;
/// `OAIRUN_INTERNAL` for a bug in oairun (or when a callback thread cannot be started).
/// Every other outcome comes from `oairun_stream_wait`.
#[no_mangle]
pub unsafe extern "C" fn oairun_submit_tool_outputs_stream_start(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&oairun_tool_outputs>,
    cb: oairun_event_callback,
    user_data: *mut c_void,
    out: Option<&mut *mut oairun_stream>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, outputs) =
            unsafe { submission(client, thread_id, run_id, outputs) }?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        let out = arg_out("out", out)?;
        let user_data = UserData(user_data);
        let inner = client.inner.submit_tool_outputs_stream_start(
            thread_id,
            run_id,
            &outputs.inner,
            event_callback(Some(cb), user_data),
        )?;
        *out = into_raw(oairun_stream { inner });
        Ok(())
    })
}

/// Starts a synchronous submission and returns at once: `cb` is called once, on an oairun
/// callback thread, with the Run object or the error.
///
/// Sends the same request as `oairun_submit_tool_outputs` (`"stream":false`) and has the same
/// outcomes (`OAIRUN_CANCELLED` too, after `oairun_stream_cancel`), delivered to `cb` (see
/// `oairun_completion_callback`) and by `oairun_stream_wait`. `cb` runs on an oairun callback
/// thread under the rules of `oairun_submit_tool_outputs_stream_start`; it is called exactly
/// once for every submission that started, even when cancelled.
///
/// `out` may be NULL: the submission then runs to its end on its own, and `cb` is the only way
/// to learn the outcome. When `out` is not NULL, on success `*out` receives a handle the caller
/// owns and frees with `oairun_stream_free` (which cancels the call if `cb` has not run yet).
///
/// Every pointer argument is borrowed for the call only (ids and outputs are copied), and the
/// client may be freed while the call runs. `user_data` is passed to `cb` untouched and must
/// stay valid until `cb` has run. On failure, when `err` is not NULL, `*err` receives an error
/// the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK` when the call has started, or, before any request and without calling
/// `cb`: `OAIRUN_INVALID_ARGUMENT` when `client`, `thread_id`, `run_id`, `outputs` or `cb` is
/// NULL, an id is empty, `.`, `..` or not UTF-8, or `outputs` is empty; `OAIRUN_INTERNAL` for
/// a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_submit_tool_outputs_start(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&oairun_tool_outputs>,
    cb: oairun_completion_callback,
    user_data: *mut c_void,
    out: Option<&mut *mut oairun_stream>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, outputs) =
            unsafe { submission(client, thread_id, run_id, outputs) }?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        let user_data = UserData(user_data);
        let inner = client.inner.submit_tool_outputs_start(
            thread_id,
            run_id,
            &outputs.inner,
            move |result: Result<String>| {
                complete(cb, result, user_data.get());
            },
        )?;
        hand_out(inner, out);
        Ok(())
    })
}

/// Calls a completion callback with `result`, lending the JSON text or the error.
pub(super) fn complete(
    cb: unsafe extern "C" fn(oairun_status, *const c_char, *const oairun_error, *mut c_void),
    result: Result<String>,
    user_data: *mut c_void,
) {
    let ok_status = oairun_status::OAIRUN_OK;
    // The answer was checked to be JSON, which cannot hold a raw NUL.
    let result = result.and_then(json_c_string);
    match result {
        // SAFETY: cb is the caller's callback, called as the header documents; what it is
        // lent outlives the call.
        Ok(json) => unsafe { cb(ok_status, json.as_ptr(), std::ptr::null(), user_data) },
        Err(error) => {
            let status = oairun_status::from(error.kind());
            let error = oairun_error::from(error);
            unsafe { cb(status, std::ptr::null(), &error, user_data) }
        }
    }
}

/// Cancels a started submission: the connection is dropped, no callback of it starts after
/// this returns, and its outcome becomes `OAIRUN_CANCELLED` unless it had ended already.
///
/// Safe to call from any thread, any number of times, before or after the submission ended;
/// NULL does nothing. It returns promptly, even while the server stalls: it does not wait for
/// the network. Called from outside oairun's callbacks, it does wait for a callback of this
/// submission that is already running to return; called from a callback, it does not (so that
/// two callbacks cancelling each other's submissions cannot deadlock), and a callback of this
/// submission running on another oairun thread at that moment may still finish. A
/// synchronous submission's completion callback still runs, once, with `OAIRUN_CANCELLED`.
/// `stream` must not be freed while this runs.
#[no_mangle]
pub unsafe extern "C" fn oairun_stream_cancel(stream: Option<&oairun_stream>) {
    guard(|| {
        if let Some(stream) = stream.as_ref() {
            stream.inner.cancel();
        }
    })
}

/// Waits until a started submission has ended, and returns its outcome.
///
/// When it returns, no callback of the submission is running or will run. May be called any
/// number of times, from any thread (`stream` must not be freed meanwhile), each time
/// returning the same status, and, when `err` is not NULL and the outcome is a failure,
/// writing to `*err` a new error the caller frees with `oairun_error_free`.
///
/// Returns the outcome: for a stream, those of `oairun_submit_tool_outputs_stream` (`OAIRUN_OK`
/// after `done`); for a synchronous submission, those of `oairun_submit_tool_outputs`; in
/// both, `OAIRUN_CANCELLED` after `oairun_stream_cancel`. Returns `OAIRUN_INVALID_ARGUMENT`,
/// without waiting, when `stream` is NULL, or when called from an oairun callback while the
/// submission is still running (it could deadlock: that callback's thread may be the one the
/// submission needs).
#[no_mangle]
pub unsafe extern "C" fn oairun_stream_wait(
    stream: Option<&oairun_stream>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || arg_ref("stream", stream)?.inner.wait())
}

/// Frees a started submission's handle, cancelling the submission first if it is still
/// running (as `oairun_stream_cancel` does). NULL does nothing. No other call using `stream`
/// may be in progress on any thread. May be called from the submission's own callback.
#[no_mangle]
pub unsafe extern "C" fn oairun_stream_free(stream: Option<Box<oairun_stream>>) {
    guard(|| drop(stream))
}

/// Starts `oairun_create_response` and returns at once: `cb` is called once, on an oairun
/// callback thread, with the Response object or the error (see `oairun_completion_callback`,
/// whose `run_json` is here the Response's JSON). Threads, `out`, `user_data` and the handle
/// are as for `oairun_submit_tool_outputs_start`.
///
/// Returns `OAIRUN_OK` when the call has started, or, before any request and without calling
/// `cb`: `OAIRUN_INVALID_ARGUMENT` when `client`, `request` or `cb` is NULL or the request has
/// no input item; `OAIRUN_INTERNAL` for a bug in oairun. Every other outcome reaches `cb` and
/// `oairun_stream_wait`.
#[no_mangle]
pub unsafe extern "C" fn oairun_create_response_start(
    client: Option<&oairun_client>,
    request: Option<&oairun_response_request>,
    cb: oairun_completion_callback,
    user_data: *mut c_void,
    out: Option<&mut *mut oairun_stream>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let request = arg_ref("request", request)?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        let user_data = UserData(user_data);
        let inner =
            client
                .inner
                .create_response_start(&request.inner, move |result: Result<String>| {
                    complete(cb, result, user_data.get());
                })?;
        hand_out(inner, out);
        Ok(())
    })
}

/// Starts `oairun_create_response_stream` and returns at once: `cb` is then called for every
/// event on an oairun callback thread, under the rules of
/// `oairun_submit_tool_outputs_stream_start`; the outcome (those of
/// `oairun_create_response_stream`) comes from `oairun_stream_wait`. On success `*out`
/// receives a handle the caller owns and frees with `oairun_stream_free`.
///
/// Returns `OAIRUN_OK` when the stream has started, or, before any request and without calling
/// `cb`: `OAIRUN_INVALID_ARGUMENT` when `client`, `request`, `cb` or `out` is NULL or the
/// request has no input item; `OAIRUN_INTERNAL` for a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_create_response_stream_start(
    client: Option<&oairun_client>,
    request: Option<&oairun_response_request>,
    cb: oairun_event_callback,
    user_data: *mut c_void,
    out: Option<&mut *mut oairun_stream>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let request = arg_ref("request", request)?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        let out = arg_out("out", out)?;
        let user_data = UserData(user_data);
        let inner = client
            .inner
            .create_response_stream_start(&request.inner, event_callback(Some(cb), user_data))?;
        *out = into_raw(oairun_stream { inner });
        Ok(())
    })
}

/// Hands a started call's handle to the caller, or, when `out` is NULL, lets it run detached.
fn hand_out(inner: Submission, out: Option<&mut *mut oairun_stream>) {
    match out {
        None => inner.detach(),
        Some(out) => *out = into_raw(oairun_stream { inner }),
    }
}
