//! The submissions: synchronous, and streamed with a callback.

use std::ffi::{c_char, c_int, c_void, CString};

use super::{
    arg_out, arg_ref, arg_str, guard_status, oairun_client, oairun_error, oairun_event,
    oairun_status, oairun_tool_outputs,
};
use crate::error::{Error, Result};
use crate::event::Event;

/// Called for every event of a stream, in wire order, one at a time, outside any runtime: on the thread that called `oairun_submit_tool_outputs_stream`, or on an oairun
/// callback thread for `oairun_submit_tool_outputs_stream_start` (see there). It may call any
/// oairun function, including a new submission.
///
/// `event` is lent for the duration of the call only. `user_data` is the pointer given to
/// the submission, passed through untouched. Return 0 to go on; any other value stops the
/// stream (the connection is dropped and the submission ends with `OAIRUN_CANCELLED`).
pub type oairun_event_callback =
    Option<unsafe extern "C" fn(event: *const oairun_event, user_data: *mut c_void) -> c_int>;

/// Checks the arguments shared by both submissions and borrows them.
///
/// # Safety
/// Each pointer is NULL or valid for the duration of the call.
pub(super) unsafe fn submission<'a>(
    client: *const oairun_client,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: *const oairun_tool_outputs,
) -> Result<(&'a oairun_client, &'a str, &'a str, &'a oairun_tool_outputs)> {
    Ok((
        arg_ref("client", client)?,
        arg_str("thread_id", thread_id)?,
        arg_str("run_id", run_id)?,
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
    client: *const oairun_client,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: *const oairun_tool_outputs,
    run_json: *mut *mut c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let (client, thread_id, run_id, outputs) = submission(client, thread_id, run_id, outputs)?;
        arg_out("run_json", run_json)?;
        #[cfg(test)]
        crate::test_hooks::panic_at("ffi", thread_id);
        let json = client
            .inner
            .submit_tool_outputs(thread_id, run_id, &outputs.inner)?;
        // The answer was checked to be JSON, which cannot hold a raw NUL.
        let json = CString::new(json).map_err(|_| Error::protocol("the answer holds a NUL"))?;
        *run_json = json.into_raw();
        Ok(())
    })
}

/// Submits the tool outputs of a run and streams the answer: `cb` is called for every
/// server-sent event as it arrives, `done` included.
///
/// Sends `POST <base_url>/threads/<thread_id>/runs/<run_id>/submit_tool_outputs` with
/// `{"tool_outputs":[…],"stream":true}`. The callback runs on the calling thread, one event at
/// a time in wire order, outside any runtime (see `oairun_event_callback`); network I/O runs
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
    client: *const oairun_client,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: *const oairun_tool_outputs,
    cb: oairun_event_callback,
    user_data: *mut c_void,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let (client, thread_id, run_id, outputs) = submission(client, thread_id, run_id, outputs)?;
        let cb = cb.ok_or_else(|| Error::invalid("cb must not be NULL"))?;
        client.inner.submit_tool_outputs_stream(
            thread_id,
            run_id,
            &outputs.inner,
            |event: &Event| {
                let lent = oairun_event { event };
                cb(&lent, user_data) == 0
            },
        )
    })
}

#[cfg(test)]
mod tests {
    //! Deliberate panics (see `test_hooks.rs`) on each side of a submission reach C as
    //! `OAIRUN_INTERNAL`, and oairun goes on working afterwards.

    use std::ffi::{c_int, c_void, CStr, CString};
    use std::ptr::null_mut;

    use super::*;
    use crate::ffi::*;
    use oairun_testserver::TestServer;

    unsafe extern "C" fn go_on(_: *const oairun_event, _: *mut c_void) -> c_int {
        0
    }

    struct Setup {
        _server: TestServer,
        client: *mut oairun_client,
        outputs: *mut oairun_tool_outputs,
    }

    impl Setup {
        fn new() -> Setup {
            let server = TestServer::start();
            unsafe {
                let options = oairun_client_options_new();
                let key = CString::new("sk-test").unwrap();
                let base = CString::new(server.base_url()).unwrap();
                oairun_client_options_set_api_key(options, key.as_ptr());
                oairun_client_options_set_base_url(options, base.as_ptr());
                let mut client = null_mut();
                let status = oairun_client_new(options, &mut client, null_mut());
                assert_eq!(status, oairun_status::OAIRUN_OK);
                oairun_client_options_free(options);
                let outputs = oairun_tool_outputs_new();
                let (id, out) = (CString::new("call_1").unwrap(), CString::new("x").unwrap());
                oairun_tool_outputs_add(outputs, id.as_ptr(), out.as_ptr());
                Setup {
                    _server: server,
                    client,
                    outputs,
                }
            }
        }

        /// A synchronous submission's status and error message.
        fn sync(&self, thread: &str) -> (oairun_status, String) {
            let thread = CString::new(thread).unwrap();
            let run = CString::new("run_1").unwrap();
            let mut json = null_mut();
            let mut err = null_mut();
            let status = unsafe {
                oairun_submit_tool_outputs(
                    self.client,
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs,
                    &mut json,
                    &mut err,
                )
            };
            unsafe { oairun_string_free(json) };
            (status, take(err))
        }

        /// A blocking stream's status and error message.
        fn stream(&self, thread: &str) -> (oairun_status, String) {
            let thread = CString::new(thread).unwrap();
            let run = CString::new("run_1").unwrap();
            let mut err = null_mut();
            let status = unsafe {
                oairun_submit_tool_outputs_stream(
                    self.client,
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs,
                    Some(go_on),
                    null_mut(),
                    &mut err,
                )
            };
            (status, take(err))
        }

        /// A started stream's outcome and error message.
        fn started(&self, thread: &str) -> (oairun_status, String) {
            let thread = CString::new(thread).unwrap();
            let run = CString::new("run_1").unwrap();
            let mut stream = null_mut();
            let mut err = null_mut();
            unsafe {
                let status = oairun_submit_tool_outputs_stream_start(
                    self.client,
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs,
                    Some(go_on),
                    null_mut(),
                    &mut stream,
                    null_mut(),
                );
                assert_eq!(status, oairun_status::OAIRUN_OK);
                let status = oairun_stream_wait(stream, &mut err);
                oairun_stream_free(stream);
                (status, take(err))
            }
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            unsafe {
                oairun_tool_outputs_free(self.outputs);
                oairun_client_free(self.client);
            }
        }
    }

    fn take(err: *mut oairun_error) -> String {
        if err.is_null() {
            return String::new();
        }
        let message = unsafe { CStr::from_ptr(oairun_error_message(err)) };
        let message = message.to_string_lossy().into_owned();
        unsafe { oairun_error_free(err) };
        message
    }

    #[test]
    fn panics_on_every_side_become_internal_and_nothing_breaks() {
        let setup = Setup::new();
        let internal = oairun_status::OAIRUN_INTERNAL;

        // In the body of an extern "C" function, on the caller's thread.
        let (status, message) = setup.sync("test_panic_ffi");
        assert_eq!(status, internal);
        assert!(
            message.contains("deliberate test panic at ffi"),
            "{message}"
        );

        // In the network task of a blocking stream, on a runtime thread.
        let (status, message) = setup.stream("test_panic_network");
        assert_eq!(status, internal);
        assert!(message.contains("without an answer"), "{message}");

        // In the network task of a started stream: the lane learns of it.
        let (status, message) = setup.started("test_panic_network");
        assert_eq!(status, internal);
        assert!(
            message.contains("deliberate test panic at network"),
            "{message}"
        );

        // Everything still works: the runtime, the lanes, the client.
        assert_eq!(setup.sync("thread_ok").0, oairun_status::OAIRUN_OK);
        assert_eq!(setup.stream("thread_ok").0, oairun_status::OAIRUN_OK);
        for _ in 0..8 {
            assert_eq!(setup.started("thread_ok").0, oairun_status::OAIRUN_OK);
        }
    }
}
