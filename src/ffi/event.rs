//! `oairun_event`: one server-sent event, lent to a callback.

use std::ffi::c_char;

use super::guard;
use crate::event::{Event, EventKind};

/// One event of a stream, lent to an `oairun_event_callback`: it and every string it lends are
/// valid only until the callback returns. Copy what you need to keep.
pub struct oairun_event {
    pub(crate) event: *const Event,
}

/// What kind an event is, from its name. Numbers are fixed forever; new names are added at the
/// end, and until then arrive as `OAIRUN_KIND_UNKNOWN`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oairun_kind {
    /// A name this version does not know (read it with `oairun_event_name`).
    OAIRUN_KIND_UNKNOWN = 0,
    OAIRUN_KIND_THREAD_CREATED = 1,
    OAIRUN_KIND_THREAD_RUN_CREATED = 2,
    OAIRUN_KIND_THREAD_RUN_QUEUED = 3,
    OAIRUN_KIND_THREAD_RUN_IN_PROGRESS = 4,
    OAIRUN_KIND_THREAD_RUN_REQUIRES_ACTION = 5,
    OAIRUN_KIND_THREAD_RUN_COMPLETED = 6,
    OAIRUN_KIND_THREAD_RUN_INCOMPLETE = 7,
    OAIRUN_KIND_THREAD_RUN_FAILED = 8,
    OAIRUN_KIND_THREAD_RUN_CANCELLING = 9,
    OAIRUN_KIND_THREAD_RUN_CANCELLED = 10,
    OAIRUN_KIND_THREAD_RUN_EXPIRED = 11,
    OAIRUN_KIND_THREAD_RUN_STEP_CREATED = 12,
    OAIRUN_KIND_THREAD_RUN_STEP_IN_PROGRESS = 13,
    OAIRUN_KIND_THREAD_RUN_STEP_DELTA = 14,
    OAIRUN_KIND_THREAD_RUN_STEP_COMPLETED = 15,
    OAIRUN_KIND_THREAD_RUN_STEP_FAILED = 16,
    OAIRUN_KIND_THREAD_RUN_STEP_CANCELLED = 17,
    OAIRUN_KIND_THREAD_RUN_STEP_EXPIRED = 18,
    OAIRUN_KIND_THREAD_MESSAGE_CREATED = 19,
    OAIRUN_KIND_THREAD_MESSAGE_IN_PROGRESS = 20,
    OAIRUN_KIND_THREAD_MESSAGE_DELTA = 21,
    OAIRUN_KIND_THREAD_MESSAGE_COMPLETED = 22,
    OAIRUN_KIND_THREAD_MESSAGE_INCOMPLETE = 23,
    /// `error`: the server reports a failure; the call will return `OAIRUN_STREAM_ERROR`.
    OAIRUN_KIND_ERROR = 24,
    /// `done`: the last event, data `[DONE]`; the call will return `OAIRUN_OK`.
    OAIRUN_KIND_DONE = 25,
}

impl From<EventKind> for oairun_kind {
    fn from(kind: EventKind) -> oairun_kind {
        use oairun_kind::*;
        match kind {
            EventKind::Unknown => OAIRUN_KIND_UNKNOWN,
            EventKind::ThreadCreated => OAIRUN_KIND_THREAD_CREATED,
            EventKind::ThreadRunCreated => OAIRUN_KIND_THREAD_RUN_CREATED,
            EventKind::ThreadRunQueued => OAIRUN_KIND_THREAD_RUN_QUEUED,
            EventKind::ThreadRunInProgress => OAIRUN_KIND_THREAD_RUN_IN_PROGRESS,
            EventKind::ThreadRunRequiresAction => OAIRUN_KIND_THREAD_RUN_REQUIRES_ACTION,
            EventKind::ThreadRunCompleted => OAIRUN_KIND_THREAD_RUN_COMPLETED,
            EventKind::ThreadRunIncomplete => OAIRUN_KIND_THREAD_RUN_INCOMPLETE,
            EventKind::ThreadRunFailed => OAIRUN_KIND_THREAD_RUN_FAILED,
            EventKind::ThreadRunCancelling => OAIRUN_KIND_THREAD_RUN_CANCELLING,
            EventKind::ThreadRunCancelled => OAIRUN_KIND_THREAD_RUN_CANCELLED,
            EventKind::ThreadRunExpired => OAIRUN_KIND_THREAD_RUN_EXPIRED,
            EventKind::ThreadRunStepCreated => OAIRUN_KIND_THREAD_RUN_STEP_CREATED,
            EventKind::ThreadRunStepInProgress => OAIRUN_KIND_THREAD_RUN_STEP_IN_PROGRESS,
            EventKind::ThreadRunStepDelta => OAIRUN_KIND_THREAD_RUN_STEP_DELTA,
            EventKind::ThreadRunStepCompleted => OAIRUN_KIND_THREAD_RUN_STEP_COMPLETED,
            EventKind::ThreadRunStepFailed => OAIRUN_KIND_THREAD_RUN_STEP_FAILED,
            EventKind::ThreadRunStepCancelled => OAIRUN_KIND_THREAD_RUN_STEP_CANCELLED,
            EventKind::ThreadRunStepExpired => OAIRUN_KIND_THREAD_RUN_STEP_EXPIRED,
            EventKind::ThreadMessageCreated => OAIRUN_KIND_THREAD_MESSAGE_CREATED,
            EventKind::ThreadMessageInProgress => OAIRUN_KIND_THREAD_MESSAGE_IN_PROGRESS,
            EventKind::ThreadMessageDelta => OAIRUN_KIND_THREAD_MESSAGE_DELTA,
            EventKind::ThreadMessageCompleted => OAIRUN_KIND_THREAD_MESSAGE_COMPLETED,
            EventKind::ThreadMessageIncomplete => OAIRUN_KIND_THREAD_MESSAGE_INCOMPLETE,
            EventKind::Error => OAIRUN_KIND_ERROR,
            EventKind::Done => OAIRUN_KIND_DONE,
        }
    }
}

/// The Rust event behind a C event pointer, or None for NULL.
///
/// # Safety
/// `event` is NULL or the pointer oairun passed to the running callback.
unsafe fn event_of<'a>(event: *const oairun_event) -> Option<&'a Event> {
    event.as_ref().and_then(|e| e.event.as_ref())
}

/// Returns the event's name, e.g. `"thread.message.delta"` (`"message"` when the stream gave
/// none). NULL when `event` is NULL. Borrowed: valid until the callback returns.
#[no_mangle]
pub unsafe extern "C" fn oairun_event_name(event: *const oairun_event) -> *const c_char {
    guard(std::ptr::null(), || {
        event_of(event).map_or(std::ptr::null(), |e| e.name_with_nul().as_ptr().cast())
    })
}

/// Returns the event's data (its `data:` lines joined with LF; `[DONE]` for `done`), always
/// NUL-terminated; when `len` is not NULL, `*len` receives its exact length in bytes (the data
/// may itself hold NUL characters). NULL, with `*len` set to 0, when `event` is NULL.
/// Borrowed: valid until the callback returns.
#[no_mangle]
pub unsafe extern "C" fn oairun_event_data(
    event: *const oairun_event,
    len: *mut usize,
) -> *const c_char {
    guard(std::ptr::null(), || {
        let (ptr, length) = match event_of(event) {
            Some(e) => (e.data_with_nul().as_ptr().cast(), e.data().len()),
            None => (std::ptr::null(), 0),
        };
        if !len.is_null() {
            *len = length;
        }
        ptr
    })
}

/// Returns the last event id the stream set (`id:` field), or NULL when it set none or
/// `event` is NULL. Borrowed: valid until the callback returns.
#[no_mangle]
pub unsafe extern "C" fn oairun_event_id(event: *const oairun_event) -> *const c_char {
    guard(std::ptr::null(), || {
        event_of(event)
            .and_then(|e| e.id_with_nul())
            .map_or(std::ptr::null(), |id| id.as_ptr().cast())
    })
}

/// Returns the event's kind, from its name: `OAIRUN_KIND_UNKNOWN` for names this version does
/// not know, and when `event` is NULL.
#[no_mangle]
pub unsafe extern "C" fn oairun_event_kind(event: *const oairun_event) -> oairun_kind {
    guard(oairun_kind::OAIRUN_KIND_UNKNOWN, || {
        event_of(event).map_or(oairun_kind::OAIRUN_KIND_UNKNOWN, |e| e.kind().into())
    })
}
