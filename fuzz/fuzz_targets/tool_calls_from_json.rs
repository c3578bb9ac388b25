//! `ToolCall::list_from_json` and its C entry point `oairun_tool_calls_from_json` on arbitrary
//! bytes: see `checks::tool_calls_from_json`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| checks::tool_calls_from_json(input));
