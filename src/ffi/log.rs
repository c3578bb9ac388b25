//! The log hook: `oairun_set_log_callback`.

use std::ffi::{c_char, c_int, c_void};

use super::{c_string, guard_status, oairun_status, UserData};
use crate::error::Error;
use crate::log::{set_log_sink, LogLevel};

/// How much oairun logs. Numbers are fixed forever.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oairun_log_level {
    /// Nothing.
    OAIRUN_LOG_OFF = 0,
    /// A submission that failed, after its last attempt: `POST <url> failed: <message>`.
    OAIRUN_LOG_ERROR = 1,
    /// A retry: `attempt N of M failed (<why>); retrying in <ms> ms`.
    OAIRUN_LOG_WARN = 2,
    /// Each request and answer: `POST <url> (streamed|synchronous, attempt N of M)` and
    /// `HTTP <status> from <url> after <ms> ms (request id <id>)`.
    OAIRUN_LOG_INFO = 3,
    /// How each stream ended: `stream complete after N events`, or `stream ended after N
    /// events: <message>`.
    OAIRUN_LOG_DEBUG = 4,
}

impl From<LogLevel> for oairun_log_level {
    fn from(level: LogLevel) -> oairun_log_level {
        match level {
            LogLevel::Error => oairun_log_level::OAIRUN_LOG_ERROR,
            LogLevel::Warn => oairun_log_level::OAIRUN_LOG_WARN,
            LogLevel::Info => oairun_log_level::OAIRUN_LOG_INFO,
            LogLevel::Debug => oairun_log_level::OAIRUN_LOG_DEBUG,
        }
    }
}

/// Receives one log line: its level, and the line, NUL-terminated, without a trailing
/// newline, lent for the duration of the call only. `user_data` is the pointer given to
/// `oairun_set_log_callback`, passed through untouched.
pub type oairun_log_callback = Option<
    unsafe extern "C" fn(level: oairun_log_level, message: *const c_char, user_data: *mut c_void),
>;

/// Sets the process-wide log callback: `cb` receives every line of `level` and the levels
/// before it (`OAIRUN_LOG_ERROR` 1 … `OAIRUN_LOG_DEBUG` 4; see `oairun_log_level` for the
/// lines). `level` 0 (`OAIRUN_LOG_OFF`) or a NULL `cb` turns logging off, which is the default.
///
/// Lines never contain the API key, any header value, or the query of a URL.
///
/// Threads: `cb` is called on oairun's network threads, possibly from several at once, so it
/// must be thread-safe and return quickly; it must not block waiting for a submission. It may
/// not call `oairun_set_log_callback` (that returns `OAIRUN_INVALID_ARGUMENT`). When this
/// function returns, the previous callback has returned from every call and will not be
/// called again, so its `user_data` may be freed; the new `user_data` must stay valid until
/// the callback is replaced or turned off.
///
/// Returns `OAIRUN_OK`; `OAIRUN_INVALID_ARGUMENT` when `level` is not 0 to 4, or when called
/// from inside the log callback; `OAIRUN_INTERNAL` for a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_set_log_callback(
    level: c_int,
    cb: oairun_log_callback,
    user_data: *mut c_void,
) -> oairun_status {
    guard_status(std::ptr::null_mut(), || {
        if level == 0 {
            return set_log_sink(LogLevel::Error, None);
        }
        let level = LogLevel::from_number(level)
            .ok_or_else(|| Error::invalid(format!("log level {level} is not 0 to 4")))?;
        let Some(cb) = cb else {
            return set_log_sink(level, None);
        };
        let user_data = UserData(user_data);
        set_log_sink(
            level,
            Some(Box::new(move |level: LogLevel, line: &str| {
                let line = c_string(line);
                // SAFETY: cb is the caller's callback, called as the header documents.
                unsafe { cb(level.into(), line.as_ptr(), user_data.get()) }
            })),
        )
    })
}
