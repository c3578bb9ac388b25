//! `ToolOutputs::from_json` and its C entry point on arbitrary bytes: see
//! `checks::tool_outputs_from_json`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| checks::tool_outputs_from_json(input));
