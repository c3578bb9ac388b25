//! `oairun_tool_outputs`: the outputs one submission carries.

use std::ffi::c_char;
use std::ptr;

use super::{
    arg_mut, arg_nonempty_str, arg_out, arg_str, guard, guard_status, into_raw, oairun_error,
    oairun_status,
};
use crate::tool_outputs::ToolOutputs;

/// A list of tool outputs, in the order they were added. Created by `oairun_tool_outputs_new`
/// or `oairun_tool_outputs_from_json`, freed by `oairun_tool_outputs_free`. Submissions only
/// read it, so one list may be submitted many times, from several threads at once, as long as
/// no thread adds to it meanwhile.
pub struct oairun_tool_outputs {
    pub(crate) inner: ToolOutputs,
}

impl super::Handle for oairun_tool_outputs {}

/// Creates an empty list. The caller owns it and frees it with `oairun_tool_outputs_free`.
/// Returns NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn oairun_tool_outputs_new() -> *mut oairun_tool_outputs {
    guard(|| {
        into_raw(oairun_tool_outputs {
            inner: ToolOutputs::new(),
        })
    })
}

/// Appends the output of one tool call.
///
/// `tool_call_id` (e.g. `"call_abc123"`) and `output` are borrowed for the call (copied). The
/// output may hold any text (quotes, backslashes, newlines, non-ASCII): it is sent as a JSON
/// string and arrives intact. Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when any
/// argument is NULL or not UTF-8, or `tool_call_id` is empty (an empty `output` is allowed).
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_outputs_add(
    outputs: Option<&mut oairun_tool_outputs>,
    tool_call_id: *const c_char,
    output: *const c_char,
) -> oairun_status {
    guard_status(ptr::null_mut(), || {
        let outputs = arg_mut("outputs", outputs)?;
        // SAFETY: `tool_call_id`: NULL or a NUL-terminated string valid for the call (header).
        let tool_call_id = unsafe { arg_nonempty_str("tool_call_id", tool_call_id) }?;
        // SAFETY: `output`: NULL or a NUL-terminated string valid for the call (header).
        let output = unsafe { arg_str("output", output) }?;
        outputs.inner.push(tool_call_id, output)
    })
}

/// Creates a list from a JSON array in the API's shape:
/// `[{"tool_call_id": "call_1", "output": "…"}, …]`.
///
/// `json_array` is borrowed for the call. On success `*out` receives a list the caller owns
/// and frees with `oairun_tool_outputs_free` (written only on success). On failure, when `err`
/// is not NULL, `*err` receives an error naming the offending element, which the caller frees
/// with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `json_array` or `out` is NULL, the
/// text is not UTF-8 or not JSON, is not an array of objects, or an element lacks a string
/// `tool_call_id` or `output`, has an empty `tool_call_id`, or has any other field.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_outputs_from_json(
    json_array: *const c_char,
    out: Option<&mut *mut oairun_tool_outputs>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: `json_array`: NULL or a NUL-terminated string valid for the call (header).
        let json = unsafe { arg_str("json_array", json_array) }?;
        let out = arg_out("out", out)?;
        let inner = ToolOutputs::from_json(json)?;
        *out = into_raw(oairun_tool_outputs { inner });
        Ok(())
    })
}

/// Frees a list. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn oairun_tool_outputs_free(outputs: Option<Box<oairun_tool_outputs>>) {
    guard(|| drop(outputs))
}
