//! The stream engine under the Responses rule (end of stream, type fallback, `[DONE]`, the
//! event size cap) on arbitrary bytes split arbitrarily: see `checks::responses_stream`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| checks::responses_stream(input));
