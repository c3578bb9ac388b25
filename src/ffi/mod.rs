//! The C ABI, and nothing else: argument checks, the panic boundary, ownership transfer.
//!
//! Every `extern "C"` function here runs its body inside [`guard`] or [`guard_status`] (a test
//! checks this), so no panic ever unwinds into C. Pointer conversions live in the helpers
//! below, never open-coded.

#![allow(non_camel_case_types)]
// The pointer rules every function shares (NULL or a live object of the right type, strings
// NUL-terminated) are stated once at the top of the header, and what each function does with
// NULL in its own doc comment; a "# Safety" section repeating them on each would be noise.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};

// In the order the header presents them to a C reader (cbindgen follows this order).
mod client;
mod error;
mod event;
mod log;
mod options;
mod reader;
mod response_request;
mod responses;
mod stream;
mod submit;
mod tool_calls;
mod tool_loop;
mod tool_outputs;
// Last: for the Python binding only.
mod python;
mod python_events;

pub use client::*;
pub use error::*;
pub use event::*;
pub use log::*;
pub use options::*;
pub use python::*;
pub use python_events::*;
pub use reader::*;
pub use response_request::*;
pub use responses::*;
pub use stream::*;
pub use submit::*;
pub use tool_calls::*;
pub use tool_loop::*;
pub use tool_outputs::*;

/// The result of every fallible oairun function. Numbers are fixed forever: new codes are only
/// ever added at the end, and a retired code stays reserved.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oairun_status {
    /// Success.
    OAIRUN_OK = 0,
    /// A NULL, empty, non-UTF-8 or otherwise unusable argument; nothing was sent.
    OAIRUN_INVALID_ARGUMENT = 1,
    /// The connection could not be made, or failed before an answer arrived.
    OAIRUN_CONNECT = 2,
    /// A time limit ran out.
    OAIRUN_TIMEOUT = 3,
    /// The server answered with a non-2xx HTTP status; the error carries the status, the API's
    /// error fields and the request id.
    OAIRUN_HTTP_STATUS = 4,
    /// The stream carried an `error` event, flat or nested, or a `response.failed` event (it was
    /// delivered to the callback first), or, in a tool-call loop, the run ended failed,
    /// cancelled, expired or incomplete, or a response ended incomplete.
    OAIRUN_STREAM_ERROR = 5,
    /// The answer was not what the endpoint returns: not JSON, not an event stream, over the
    /// size cap, or a stream that ended or broke off before its terminal event (`done`;
    /// `response.completed`, `response.incomplete`, `response.failed` or `error`).
    OAIRUN_PROTOCOL = 6,
    /// You stopped it: an event callback (`oairun_event_callback`, a tool loop's `on_event`)
    /// or a tool handler (`oairun_tool_handler`) returned non-zero, or `oairun_stream_cancel`
    /// or `oairun_stream_free` stopped a started (`_start`) call before it ended.
    OAIRUN_CANCELLED = 7,
    /// A bug in oairun: a failed internal check (in Rust terms, a panic), caught before it
    /// reached your program; oairun goes on working.
    OAIRUN_INTERNAL = 8,
    /// A tool-call loop (`oairun_run_tool_loop`, `oairun_response_tool_loop`) made
    /// `max_turns` requests and the model still asked for calls; no further request was made.
    OAIRUN_MAX_TURNS = 9,
    /// Not a failure: `oairun_reader_next` or `oairun_reader_next_batch` found no event within
    /// its time limit; the stream goes on.
    OAIRUN_AGAIN = 10,
}

impl From<ErrorKind> for oairun_status {
    fn from(kind: ErrorKind) -> oairun_status {
        match kind {
            ErrorKind::InvalidArgument => oairun_status::OAIRUN_INVALID_ARGUMENT,
            ErrorKind::Connect => oairun_status::OAIRUN_CONNECT,
            ErrorKind::Timeout => oairun_status::OAIRUN_TIMEOUT,
            ErrorKind::HttpStatus => oairun_status::OAIRUN_HTTP_STATUS,
            ErrorKind::StreamError => oairun_status::OAIRUN_STREAM_ERROR,
            ErrorKind::Protocol => oairun_status::OAIRUN_PROTOCOL,
            ErrorKind::Cancelled => oairun_status::OAIRUN_CANCELLED,
            ErrorKind::Internal => oairun_status::OAIRUN_INTERNAL,
            ErrorKind::MaxTurns => oairun_status::OAIRUN_MAX_TURNS,
        }
    }
}

/// What an export returns when its body panicked, decided by its return type alone, so that no
/// export can name the wrong value (rustls-ffi's `PanicOrDefault`).
pub(crate) trait PanicDefault {
    fn panic_default() -> Self;
}

/// What a string-returning export gives after a panic: never NULL, so that a caller that may
/// rely on a string (`oairun_error_message`, `oairun_version`) cannot crash on it.
const PANIC_TEXT: &CStr = c"oairun internal error: a panic was caught at the C boundary";

impl PanicDefault for () {
    fn panic_default() {}
}

impl PanicDefault for oairun_status {
    fn panic_default() -> Self {
        oairun_status::OAIRUN_INTERNAL
    }
}

impl PanicDefault for oairun_kind {
    fn panic_default() -> Self {
        oairun_kind::OAIRUN_KIND_UNKNOWN
    }
}

impl PanicDefault for *const c_char {
    fn panic_default() -> Self {
        PANIC_TEXT.as_ptr()
    }
}

macro_rules! panic_default_zero {
    ($($t:ty),*) => {$(
        impl PanicDefault for $t {
            fn panic_default() -> Self {
                0
            }
        }
    )*};
}
panic_default_zero!(u16, usize, c_int);

/// The opaque types oairun hands to C: a pointer to one is NULL after a panic.
pub(crate) trait Handle {}

impl<T: Handle> PanicDefault for *mut T {
    fn panic_default() -> Self {
        std::ptr::null_mut()
    }
}

impl<T: Handle> PanicDefault for *const T {
    fn panic_default() -> Self {
        std::ptr::null()
    }
}

/// Runs `body`, turning a panic into its return type's [`PanicDefault`] so that it never
/// unwinds into C.
pub(crate) fn guard<R: PanicDefault>(body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| R::panic_default())
}

/// Runs a fallible `body`: `Ok` gives `OAIRUN_OK`; an error gives its status and, when `err`
/// is not NULL, is written to `*err` for the caller to free; a panic gives `OAIRUN_INTERNAL`.
pub(crate) fn guard_status(
    err: *mut *mut oairun_error,
    body: impl FnOnce() -> Result<()>,
) -> oairun_status {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return oairun_status::OAIRUN_OK,
        Ok(Err(error)) => error,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Error::internal(format!("oairun panicked: {what}"))
        }
    };
    let status = oairun_status::from(error.kind());
    if !err.is_null() {
        // Building the error allocates; should even that panic, the status still stands.
        if let Ok(boxed) = catch_unwind(AssertUnwindSafe(|| into_raw(oairun_error::from(error)))) {
            // SAFETY: err is non-NULL and, by the API contract, points to writable storage.
            unsafe { *err = boxed };
        }
    }
    status
}

/// Borrows a C string argument as UTF-8: NULL and invalid UTF-8 are `INVALID_ARGUMENT`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn arg_str<'a>(what: &str, ptr: *const c_char) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    // SAFETY: ptr is non-NULL, and the caller vouches that it is NUL-terminated and lives.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// Like [`arg_str`], also refusing the empty string.
///
/// # Safety
/// As for [`arg_str`].
pub(crate) unsafe fn arg_nonempty_str<'a>(what: &str, ptr: *const c_char) -> Result<&'a str> {
    // SAFETY: the same contract as ours.
    let text = unsafe { arg_str(what, ptr) }?;
    if text.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    Ok(text)
}

/// An object argument, NULL-checked by its type (`Option<&T>` has a pointer's ABI): NULL is
/// `INVALID_ARGUMENT`.
pub(crate) fn arg_ref<'a, T>(what: &str, object: Option<&'a T>) -> Result<&'a T> {
    object.ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// A mutable object argument: NULL is `INVALID_ARGUMENT`.
pub(crate) fn arg_mut<'a, T>(what: &str, object: Option<&'a mut T>) -> Result<&'a mut T> {
    object.ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// An output argument, checked before any work is done: NULL is `INVALID_ARGUMENT`.
pub(crate) fn arg_out<'a, T>(what: &str, out: Option<&'a mut *mut T>) -> Result<&'a mut *mut T> {
    out.ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// An array argument of `len` items: NULL is `INVALID_ARGUMENT` unless `len` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` initialised items that outlive `'a` and that nothing
/// writes meanwhile.
pub(crate) unsafe fn arg_slice<'a, T>(what: &str, ptr: *const T, len: usize) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    // SAFETY: ptr is non-NULL, and the caller vouches for len items that live and stay put.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An output array argument: room for `len` items, which may hold anything (only written);
/// NULL is `INVALID_ARGUMENT` unless `len` is 0.
///
/// # Safety
/// `ptr` is NULL or points to writable room for `len` items that outlives `'a` and that
/// nothing else uses meanwhile.
pub(crate) unsafe fn arg_out_slice<'a, T>(
    what: &str,
    ptr: *mut T,
    len: usize,
) -> Result<&'a mut [MaybeUninit<T>]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    // SAFETY: ptr is non-NULL, and the caller vouches for room for len items that no one else
    // uses; MaybeUninit<T> has T's layout and asks nothing of the bytes there.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<T>>(), len) })
}

/// The caller's `user_data`, carried to oairun's threads. Only ever handed back to the
/// caller's own callbacks; what it points to, and whether that may be used from another
/// thread, is the caller's business (the header says on which threads callbacks run).
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: oairun never dereferences the pointer; it only passes it to the caller's callbacks.
unsafe impl Send for UserData {}
// SAFETY: as above; sharing the pointer value between threads reads nothing through it.
unsafe impl Sync for UserData {}

impl UserData {
    /// The pointer. A method, so that closures capture the wrapper, not its field.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// Hands `value` to C; it comes back as the `Option<Box<T>>` argument of its `_free`.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// An answer's JSON text as a C string. The answer was checked to be JSON, which cannot hold
/// a raw NUL, so the error is only a safeguard.
pub(crate) fn json_c_string(json: String) -> Result<CString> {
    CString::new(json).map_err(|_| Error::protocol("the answer holds a NUL"))
}

/// A C string of `text`; an interior NUL (never produced by oairun's own messages) becomes
/// U+FFFD rather than cutting the text short.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text).unwrap_or_else(|_| {
        CString::new(text.replace('\0', "\u{FFFD}")).expect("NULs were replaced")
    })
}

/// Returns the version of oairun, e.g. `"0.1.0"`.
///
/// The string is static: do not free it.
#[no_mangle]
pub extern "C" fn oairun_version() -> *const c_char {
    guard(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// Returns a short description of a status code, like `curl_easy_strerror`.
///
/// `status` is an `oairun_status` value; it is taken as an `int` so that any number, even one
/// this version does not know, is safe to pass (it gives `"unknown status"`). The string is
/// static: do not free it.
#[no_mangle]
pub extern "C" fn oairun_status_str(status: c_int) -> *const c_char {
    guard(|| {
        let text: &'static str = match status {
            0 => "ok\0",
            1 => "invalid argument\0",
            2 => "connection failed\0",
            3 => "timed out\0",
            4 => "HTTP error status\0",
            5 => "error event in stream\0",
            6 => "protocol error\0",
            7 => "cancelled\0",
            8 => "internal error\0",
            9 => "maximum turns reached\0",
            10 => "no event yet\0",
            _ => "unknown status\0",
        };
        text.as_ptr().cast()
    })
}

/// Frees a string that oairun handed out (such as the Run JSON of
/// `oairun_submit_tool_outputs`). NULL does nothing. Never pass a string oairun did not
/// allocate, or one already freed.
#[no_mangle]
pub unsafe extern "C" fn oairun_string_free(string: *mut c_char) {
    guard(|| {
        if !string.is_null() {
            // SAFETY: the string came from CString::into_raw in oairun and was not freed before
            // (the documented contract of this function).
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_match_error_kinds() {
        let kinds = [
            ErrorKind::InvalidArgument,
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::HttpStatus,
            ErrorKind::StreamError,
            ErrorKind::Protocol,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
            ErrorKind::MaxTurns,
        ];
        for kind in kinds {
            let status = oairun_status::from(kind);
            let text = unsafe { CStr::from_ptr(oairun_status_str(status as c_int)) };
            assert_eq!(text.to_str().unwrap(), kind.as_str());
        }
        // The numbers are fixed: each kind in order from 1, MAX_TURNS the last added.
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(oairun_status::from(*kind) as c_int, i as c_int + 1);
        }
        assert_eq!(oairun_status::OAIRUN_MAX_TURNS as c_int, 9);
        assert_eq!(oairun_status::OAIRUN_AGAIN as c_int, 10);
        for number in [-5, 11] {
            let unknown = unsafe { CStr::from_ptr(oairun_status_str(number)) };
            assert_eq!(unknown.to_str().unwrap(), "unknown status");
        }
    }

    #[test]
    fn a_panic_becomes_internal_with_its_message() {
        let mut err: *mut oairun_error = std::ptr::null_mut();
        let status = guard_status(&mut err, || panic!("deliberate"));
        assert_eq!(status, oairun_status::OAIRUN_INTERNAL);
        assert!(!err.is_null());
        let message = unsafe { CStr::from_ptr(oairun_error_message(err.as_ref())) };
        assert!(message.to_str().unwrap().contains("deliberate"));
        unsafe { oairun_error_free(Some(Box::from_raw(err))) };
        assert_eq!(guard(|| -> u16 { panic!("again") }), 0);
        assert_eq!(
            guard(|| -> oairun_status { panic!("again") }),
            oairun_status::OAIRUN_INTERNAL
        );
        let text = guard(|| -> *const c_char { panic!("again") });
        let text = unsafe { CStr::from_ptr(text) };
        assert!(text.to_str().unwrap().contains("panic"));
        assert!(guard(|| -> *mut oairun_error { panic!("again") }).is_null());
    }
}
