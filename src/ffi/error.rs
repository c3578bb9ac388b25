//! `oairun_error`: what a failed call tells its caller.

use std::ffi::{c_char, CString};

use super::{c_string, guard, oairun_status};
use crate::error::Error;

/// An error from a failed call: its status, a message, and what the server said.
///
/// Created by oairun and handed to the caller through an `oairun_error **err` argument; the
/// caller owns it and frees it with `oairun_error_free`. The strings it lends stay valid until
/// then.
pub struct oairun_error {
    status: oairun_status,
    message: CString,
    http_status: u16,
    request_id: Option<CString>,
    api_type: Option<CString>,
    api_code: Option<CString>,
    api_param: Option<CString>,
}

impl super::Handle for oairun_error {}

impl From<Error> for oairun_error {
    fn from(error: Error) -> oairun_error {
        let api = error.api();
        let owned = |text: &Option<String>| text.as_deref().map(c_string);
        oairun_error {
            status: error.kind().into(),
            message: c_string(error.message()),
            http_status: error.http_status().unwrap_or(0),
            request_id: error.request_id().map(c_string),
            api_type: owned(&api.kind),
            api_code: owned(&api.code),
            api_param: owned(&api.param),
        }
    }
}

fn optional(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// Returns the error's status (never `OAIRUN_OK`). A NULL `error` gives
/// `OAIRUN_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_status(error: Option<&oairun_error>) -> oairun_status {
    guard(|| {
        error
            .as_ref()
            .map_or(oairun_status::OAIRUN_INVALID_ARGUMENT, |e| e.status)
    })
}

/// Returns a message for people describing the failure (for an HTTP error it includes the
/// status, the API's `error.message` and the request id). Never NULL: a NULL `error` gives a
/// static message saying so. Borrowed: valid until `oairun_error_free(error)`. The API key
/// never appears in it.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_message(error: Option<&oairun_error>) -> *const c_char {
    guard(|| match error.as_ref() {
        Some(e) => e.message.as_ptr(),
        None => c"invalid argument: the oairun_error is NULL".as_ptr(),
    })
}

/// Returns the HTTP status of the answer the error came from, or 0 when there was none (a
/// connection failure, a bad argument) or `error` is NULL. For `OAIRUN_STREAM_ERROR` and
/// stream `OAIRUN_PROTOCOL` errors it is the stream's (2xx) status.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_http_status(error: Option<&oairun_error>) -> u16 {
    guard(|| error.as_ref().map_or(0, |e| e.http_status))
}

/// Returns the answer's `x-request-id` header, or NULL when there was none or `error` is NULL.
/// Borrowed: valid until `oairun_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_request_id(error: Option<&oairun_error>) -> *const c_char {
    guard(|| {
        error
            .as_ref()
            .map_or(std::ptr::null(), |e| optional(&e.request_id))
    })
}

/// Returns the API's `error.type` (e.g. `"invalid_request_error"`), or NULL when the server
/// sent none or `error` is NULL. Borrowed: valid until `oairun_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_api_type(error: Option<&oairun_error>) -> *const c_char {
    guard(|| {
        error
            .as_ref()
            .map_or(std::ptr::null(), |e| optional(&e.api_type))
    })
}

/// Returns the API's `error.code` (e.g. `"rate_limit_exceeded"`; a numeric code as its decimal
/// text), or NULL when the server sent none or `error` is NULL. Borrowed: valid until
/// `oairun_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_api_code(error: Option<&oairun_error>) -> *const c_char {
    guard(|| {
        error
            .as_ref()
            .map_or(std::ptr::null(), |e| optional(&e.api_code))
    })
}

/// Returns the API's `error.param` (the request field at fault), or NULL when the server sent
/// none or `error` is NULL. Borrowed: valid until `oairun_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_api_param(error: Option<&oairun_error>) -> *const c_char {
    guard(|| {
        error
            .as_ref()
            .map_or(std::ptr::null(), |e| optional(&e.api_param))
    })
}

/// Frees an error and every string it lent. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn oairun_error_free(error: Option<Box<oairun_error>>) {
    guard(|| drop(error))
}
