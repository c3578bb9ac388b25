//! `oairun_tool_call` and `oairun_tool_calls`: the function calls a model asked for, read out
//! of a Run, a Response or a stream event, without a JSON parser on the C side.

use std::ffi::{c_char, CString};

use super::event::event_of;
use super::{
    arg_out, arg_ref, arg_str, c_string, guard, guard_status, into_raw, oairun_error, oairun_event,
    oairun_status,
};
use crate::tool_calls::ToolCall;

/// One function call the model asked for: its id, the function's name and the arguments' JSON
/// text. Only ever lent: by an `oairun_tool_calls` list (valid until the list is freed) or to
/// an `oairun_tool_handler` (valid until the handler returns). Never freed on its own.
pub struct oairun_tool_call {
    id: CString,
    name: CString,
    arguments: CString,
}

impl super::Handle for oairun_tool_call {}

impl From<&ToolCall> for oairun_tool_call {
    fn from(call: &ToolCall) -> oairun_tool_call {
        oairun_tool_call {
            id: c_string(&call.id),
            name: c_string(&call.name),
            arguments: c_string(&call.arguments),
        }
    }
}

/// A list of function calls, in the order the model listed them. Created by
/// `oairun_tool_calls_from_json` or `oairun_event_tool_calls`; the caller owns it and frees it
/// with `oairun_tool_calls_free`. Read-only: it may be read from several threads at once.
pub struct oairun_tool_calls {
    calls: Vec<oairun_tool_call>,
}

impl super::Handle for oairun_tool_calls {}

impl oairun_tool_calls {
    fn new(calls: &[ToolCall]) -> oairun_tool_calls {
        oairun_tool_calls {
            calls: calls.iter().map(oairun_tool_call::from).collect(),
        }
    }
}

/// Reads the function calls of a Run or a Response, given as its JSON text: a Run's
/// `required_action.submit_tool_outputs.tool_calls[]` (each `id`, `function.name`,
/// `function.arguments`), or a Response's `output[]` items of type `function_call` (each
/// `call_id`, `name`, `arguments`; other items are skipped). An object with no calls (a
/// completed Run, a Response with text only) gives an empty list.
///
/// `run_or_response_json` is borrowed for the call. On success `*out` receives a list the
/// caller owns and frees with `oairun_tool_calls_free` (written only on success). On failure,
/// when `err` is not NULL, `*err` receives an error saying what is wrong, which the caller
/// frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `run_or_response_json` or `out` is
/// NULL, or the text is not UTF-8, not JSON, not an object, or lists a call without one of
/// its string fields.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_calls_from_json(
    run_or_response_json: *const c_char,
    out: Option<&mut *mut oairun_tool_calls>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: `run_or_response_json`: NULL or a NUL-terminated string valid for the call.
        let json = unsafe { arg_str("run_or_response_json", run_or_response_json) }?;
        let out = arg_out("out", out)?;
        let calls = ToolCall::list_from_json(json)?;
        *out = into_raw(oairun_tool_calls::new(&calls));
        Ok(())
    })
}

/// Reads the function calls an event carries: those of the Run in a
/// `thread.run.requires_action` event, or of the Response in a `response.completed` event.
/// Any other event gives an empty list. Meant for an `oairun_event_callback`.
///
/// `event` is borrowed for the call; the list does not refer to it, so it outlives the
/// callback. On success `*out` receives a list the caller owns and frees with
/// `oairun_tool_calls_free` (written only on success). On failure, when `err` is not NULL,
/// `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `event` or `out` is NULL, or one of
/// those two events carries data that is not what the API sends.
#[no_mangle]
pub unsafe extern "C" fn oairun_event_tool_calls(
    event: Option<&oairun_event>,
    out: Option<&mut *mut oairun_tool_calls>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let event = arg_ref("event", event_of(event))?;
        let out = arg_out("out", out)?;
        let calls = event.tool_calls()?;
        *out = into_raw(oairun_tool_calls::new(&calls));
        Ok(())
    })
}

/// Returns how many calls the list holds; 0 when `calls` is NULL.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_calls_count(calls: Option<&oairun_tool_calls>) -> usize {
    guard(|| calls.map_or(0, |list| list.calls.len()))
}

/// Returns the call at `index` (from 0, in the model's order), or NULL when `index` is past
/// the end or `calls` is NULL. Borrowed: valid until `oairun_tool_calls_free(calls)`.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_calls_get(
    calls: Option<&oairun_tool_calls>,
    index: usize,
) -> *const oairun_tool_call {
    guard(|| {
        calls
            .and_then(|list| list.calls.get(index))
            .map_or(std::ptr::null(), |call| call as *const oairun_tool_call)
    })
}

/// Frees a list and every call it lent. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_calls_free(calls: Option<Box<oairun_tool_calls>>) {
    guard(|| drop(calls))
}

/// Returns the call's id, the one its output must name (`call_…`): the Assistants
/// `tool_calls[].id`, the Responses `call_id` (not the item's `fc_…` id). NULL when `call` is
/// NULL. Borrowed: valid as long as `call`.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_call_id(call: Option<&oairun_tool_call>) -> *const c_char {
    guard(|| call.map_or(std::ptr::null(), |c| c.id.as_ptr()))
}

/// Returns the name of the function to call, e.g. `"get_weather"`. NULL when `call` is NULL.
/// Borrowed: valid as long as `call`.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_call_name(call: Option<&oairun_tool_call>) -> *const c_char {
    guard(|| call.map_or(std::ptr::null(), |c| c.name.as_ptr()))
}

/// Returns the arguments' JSON text as the model wrote it, e.g. `{"city":"Paris"}` (not
/// checked to be JSON; may be empty). NULL when `call` is NULL. Borrowed: valid as long as
/// `call`.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_call_arguments(
    call: Option<&oairun_tool_call>,
) -> *const c_char {
    guard(|| call.map_or(std::ptr::null(), |c| c.arguments.as_ptr()))
}
