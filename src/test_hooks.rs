//! Deliberate panics for the tests that prove no panic crosses the C ABI. Compiled only into
//! the crate's own unit tests (`cfg(test)`): a thread id naming a point panics there.

/// Panics when `text` (a thread id or a request path) names `point`: `test_panic_<point>`.
pub(crate) fn panic_at(point: &str, text: &str) {
    if text.contains(&format!("test_panic_{point}")) {
        panic!("deliberate test panic at {point}");
    }
}

/// A deterministic xorshift generator, for the tests that build random inputs.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next number, below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    //! Deliberate panics on each side of a submission reach C as `OAIRUN_INTERNAL`, and
    //! oairun goes on working afterwards. (Here, not in src/ffi/, whose every extern fn must
    //! run behind the panic boundary: the callback below is test code.)

    use std::ffi::{c_int, c_void, CStr, CString};
    use std::ptr::null_mut;

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
                oairun_client_options_set_api_key(options.as_mut(), key.as_ptr());
                oairun_client_options_set_base_url(options.as_mut(), base.as_ptr());
                let mut client = null_mut();
                let status = oairun_client_new(options.as_ref(), Some(&mut client), null_mut());
                assert_eq!(status, oairun_status::OAIRUN_OK);
                oairun_client_options_free(own(options));
                let outputs = oairun_tool_outputs_new();
                let (id, out) = (CString::new("call_1").unwrap(), CString::new("x").unwrap());
                oairun_tool_outputs_add(outputs.as_mut(), id.as_ptr(), out.as_ptr());
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
                    self.client.as_ref(),
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs.as_ref(),
                    Some(&mut json),
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
                    self.client.as_ref(),
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs.as_ref(),
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
                    self.client.as_ref(),
                    thread.as_ptr(),
                    run.as_ptr(),
                    self.outputs.as_ref(),
                    Some(go_on),
                    null_mut(),
                    Some(&mut stream),
                    null_mut(),
                );
                assert_eq!(status, oairun_status::OAIRUN_OK);
                let status = oairun_stream_wait(stream.as_ref(), &mut err);
                oairun_stream_free(own(stream));
                (status, take(err))
            }
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            unsafe {
                oairun_tool_outputs_free(own(self.outputs));
                oairun_client_free(own(self.client));
            }
        }
    }

    fn take(err: *mut oairun_error) -> String {
        if err.is_null() {
            return String::new();
        }
        let message = unsafe { CStr::from_ptr(oairun_error_message(err.as_ref())) };
        let message = message.to_string_lossy().into_owned();
        unsafe { oairun_error_free(own(err)) };
        message
    }

    /// Takes back what oairun handed out, as its `_free` functions take it.
    unsafe fn own<T>(ptr: *mut T) -> Option<Box<T>> {
        (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
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

        // In the network half of a blocking stream, which runs on the caller's thread.
        let (status, message) = setup.stream("test_panic_network");
        assert_eq!(status, internal);
        assert!(
            message.contains("deliberate test panic at network"),
            "{message}"
        );

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
