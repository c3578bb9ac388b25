//! `oairun_response_request`: the body of one `POST /responses`, built field by field.

use std::ffi::c_char;
use std::ptr;

use super::{
    arg_mut, arg_nonempty_str, arg_str, guard, guard_status, into_raw, oairun_error, oairun_status,
};
use crate::api::responses::ResponseRequest;

/// The body of one `POST /responses` (`oairun_create_response` and the other Responses calls),
/// built field by field. Fields are sent in the order `model`, `previous_response_id`,
/// `instructions`, `tools`, `input`, the other fields in the order first set, `stream` (set by
/// oairun). Created by `oairun_response_request_new`, freed by `oairun_response_request_free`.
/// The calls only read it, so one request may be sent many times, from several threads at
/// once, as long as no thread changes it meanwhile.
pub struct oairun_response_request {
    pub(crate) inner: ResponseRequest,
}

impl super::Handle for oairun_response_request {}

/// Runs a setter on a non-NULL request.
fn set(
    request: Option<&mut oairun_response_request>,
    err: *mut *mut oairun_error,
    apply: impl FnOnce(&mut ResponseRequest) -> crate::Result<()>,
) -> oairun_status {
    guard_status(err, || apply(&mut arg_mut("request", request)?.inner))
}

/// Creates an empty request: no model, no input. The caller owns it and frees it with
/// `oairun_response_request_free`. Returns NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn oairun_response_request_new() -> *mut oairun_response_request {
    guard(|| {
        into_raw(oairun_response_request {
            inner: ResponseRequest::new(),
        })
    })
}

/// Frees a request. NULL does nothing.
#[no_mangle]
pub extern "C" fn oairun_response_request_free(request: Option<Box<oairun_response_request>>) {
    guard(|| drop(request))
}

/// Sets `model` (e.g. `"gpt-5.4"`; on Azure, the deployment name). Servers answer 400 when it
/// is missing, so every request should set it.
///
/// `model` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `request` or `model` is NULL, or `model` is empty or not
/// UTF-8.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_set_model(
    request: Option<&mut oairun_response_request>,
    model: *const c_char,
) -> oairun_status {
    set(request, ptr::null_mut(), |r| {
        // SAFETY: `model`: NULL or a NUL-terminated string valid for the call (header).
        r.set_model(unsafe { arg_nonempty_str("model", model) }?)
    })
}

/// Sets `previous_response_id`: the response this one continues (its function calls are
/// answered by the `function_call_output` items of this request). Needs a server that stores
/// responses (`store` not false; not Ollama or llama.cpp).
///
/// `response_id` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `request` or `response_id` is NULL, or `response_id` is
/// empty or not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_set_previous_response_id(
    request: Option<&mut oairun_response_request>,
    response_id: *const c_char,
) -> oairun_status {
    set(request, ptr::null_mut(), |r| {
        // SAFETY: `response_id`: NULL or a NUL-terminated string valid for the call (header).
        r.set_previous_response_id(unsafe { arg_nonempty_str("response_id", response_id) }?)
    })
}

/// Sets `instructions` (the system message; servers do not carry it over from a previous
/// response, so set it on every request that needs it).
///
/// `text` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `request` or `text` is NULL or `text` is not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_set_instructions(
    request: Option<&mut oairun_response_request>,
    text: *const c_char,
) -> oairun_status {
    set(request, ptr::null_mut(), |r| {
        // SAFETY: `text`: NULL or a NUL-terminated string valid for the call (header).
        r.set_instructions(unsafe { arg_str("text", text) }?);
        Ok(())
    })
}

/// Sets `tools` from the text of a JSON array, e.g.
/// `[{"type":"function","name":"get_weather","parameters":{…}}]` (Responses function tools are
/// flat: no nested `function` object). The text is sent as given.
///
/// `json_array` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `request` or `json_array` is NULL, or the text is not UTF-8,
/// not JSON or not an array; then, when `err` is not NULL, `*err` receives an error saying
/// which, freed by the caller with `oairun_error_free`.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_set_tools_json(
    request: Option<&mut oairun_response_request>,
    json_array: *const c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    set(request, err, |r| {
        // SAFETY: `json_array`: NULL or a NUL-terminated string valid for the call (header).
        r.set_tools_json(unsafe { arg_str("json_array", json_array) }?)
    })
}

/// Appends `{"type":"function_call_output","call_id":…,"output":…}` to `input`: the output of
/// the function call `call_id` (the `call_id` of a `function_call` item, `call_…`, not its
/// `id`). The output may hold any text; it is sent as a JSON string and arrives intact.
///
/// Both strings are borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when any argument is NULL or not UTF-8, or `call_id` is empty (an
/// empty `output` is allowed).
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_add_function_call_output(
    request: Option<&mut oairun_response_request>,
    call_id: *const c_char,
    output: *const c_char,
) -> oairun_status {
    set(request, ptr::null_mut(), |r| {
        // SAFETY: `call_id`, `output`: NULL or NUL-terminated strings valid for the call.
        let (call_id, output) = unsafe {
            (
                arg_nonempty_str("call_id", call_id)?,
                arg_str("output", output)?,
            )
        };
        r.add_function_call_output(call_id, output)
    })
}

/// Appends any input item given as the text of a JSON object: a user message
/// (`{"role":"user","content":"…"}`), an output item of an earlier response (replayed when the
/// server stores nothing), … The text is sent as given.
///
/// `item_json` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `request` or `item_json` is NULL, or the text is not UTF-8,
/// not JSON or not an object; then, when `err` is not NULL, `*err` receives an error saying
/// which, freed by the caller with `oairun_error_free`.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_add_input_json(
    request: Option<&mut oairun_response_request>,
    item_json: *const c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    set(request, err, |r| {
        // SAFETY: `item_json`: NULL or a NUL-terminated string valid for the call (header).
        r.add_input_json(unsafe { arg_str("item_json", item_json) }?)
    })
}

/// Sets any other top-level field to the text of a JSON value: `store` (`"false"` for servers
/// that keep nothing), `include`, `temperature`, `tool_choice`, `parallel_tool_calls`,
/// `max_output_tokens`, `metadata`, … Setting a name again replaces its value in place. The
/// text is sent as given. `model`, `previous_response_id`, `instructions` (JSON strings) and
/// `tools` (a JSON array) set the same fields as their own setters.
///
/// Both strings are borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when any argument is NULL or not UTF-8, `name` is empty,
/// `"stream"` (oairun sets it) or `"input"` (use the add functions), or `json_value` is not
/// JSON (or not of the type the field needs); then, when `err` is not NULL, `*err` receives an
/// error saying which, freed by the caller with `oairun_error_free`.
#[no_mangle]
pub unsafe extern "C" fn oairun_response_request_set_field_json(
    request: Option<&mut oairun_response_request>,
    name: *const c_char,
    json_value: *const c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    set(request, err, |r| {
        // SAFETY: `name`, `json_value`: NULL or NUL-terminated strings valid for the call.
        let (name, value) = unsafe { (arg_str("name", name)?, arg_str("json_value", json_value)?) };
        r.set_field_json(name, value)
    })
}
