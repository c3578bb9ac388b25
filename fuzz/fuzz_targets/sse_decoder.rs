//! The SSE decoder on arbitrary bytes split arbitrarily: see `checks::sse_decoder`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| checks::sse_decoder(input));
