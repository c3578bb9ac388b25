//! The properties the fuzz targets check, in one place: the targets in `fuzz_targets/` call
//! these functions on what libFuzzer generates, and `tests/fuzz_regressions.rs` calls them on
//! the committed seeds and crash cases, so a case that once failed is replayed by `make test`.
//! Each function panics (an assertion) when a property does not hold.

// Each binary that includes this file uses only some of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::ptr;

use oairun::ffi::{
    oairun_error, oairun_error_free, oairun_error_message, oairun_error_status, oairun_status,
    oairun_tool_outputs, oairun_tool_outputs_free, oairun_tool_outputs_from_json,
};
use oairun::sse::{decode_all, Decoder, SseEvent};
use oairun::{ErrorKind, ToolOutputs};

// ----- SSE decoder ------------------------------------------------------------------------

/// Most split sizes an input can name (its first byte, modulo this plus one).
pub const MAX_SPLIT_PLAN: usize = 31;

/// The input of the `sse_decoder` target: the first byte gives the length `n` of the split
/// plan (`byte % 32`, at most what follows), the next `n` bytes are read sizes used in turn,
/// cyclically (0 is an empty read), and the rest is the stream. An empty plan, or one of
/// zeros only, feeds the stream one byte at a time.
pub fn split_sse_input(input: &[u8]) -> (&[u8], &[u8]) {
    let Some((&first, rest)) = input.split_first() else {
        return (&[], &[]);
    };
    let plan_len = (usize::from(first) % (MAX_SPLIT_PLAN + 1)).min(rest.len());
    rest.split_at(plan_len)
}

/// Builds an `sse_decoder` input from a split plan and a stream (the inverse of
/// [`split_sse_input`]), for hand-made seeds.
pub fn sse_input(plan: &[u8], stream: &[u8]) -> Vec<u8> {
    assert!(
        plan.len() <= MAX_SPLIT_PLAN,
        "a plan has at most {MAX_SPLIT_PLAN} sizes"
    );
    let mut input = vec![plan.len() as u8];
    input.extend_from_slice(plan);
    input.extend_from_slice(stream);
    input
}

/// The reads `stream` arrives in under `plan` (see [`split_sse_input`]).
pub fn sse_reads<'a>(plan: &[u8], stream: &'a [u8]) -> Vec<&'a [u8]> {
    let bytewise = plan.iter().all(|&size| size == 0);
    let mut sizes = plan.iter().cycle();
    let mut reads = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let size = match sizes.next() {
            Some(&size) if !bytewise => usize::from(size),
            _ => 1,
        };
        let (read, tail) = rest.split_at(size.min(rest.len()));
        reads.push(read);
        rest = tail;
    }
    reads
}

/// When the caller takes the events out of the decoder.
#[derive(Debug, Clone, Copy)]
enum Drain {
    /// Every complete event after every read (what the client does).
    AfterEachRead,
    /// At most one event per read, the rest once the stream has ended.
    OnePerRead,
    /// Only once the stream has ended.
    AtEnd,
}

/// What one stream gave: its events, the bytes still buffered once all were taken,
/// `finish()`'s result and the reconnection time.
#[derive(Debug, PartialEq, Eq)]
struct StreamOutcome {
    events: Vec<SseEvent>,
    buffered_len: usize,
    truncated: bool,
    retry: Option<u64>,
}

/// Decodes `reads` with one decoder twice over (the second time as the reconnection that
/// `finish` prepares for, where the last event ID and the retry time carry over).
fn decode_twice(reads: &[&[u8]], drain: Drain) -> [StreamOutcome; 2] {
    let mut decoder = Decoder::new();
    [(); 2].map(|()| {
        let mut events = Vec::new();
        for read in reads {
            decoder.feed(read);
            match drain {
                Drain::AfterEachRead => events.extend(std::iter::from_fn(|| decoder.next_event())),
                Drain::OnePerRead => events.extend(decoder.next_event()),
                Drain::AtEnd => {}
            }
        }
        events.extend(std::iter::from_fn(|| decoder.next_event()));
        let buffered_len = decoder.buffered_len();
        let truncated = decoder.finish();
        StreamOutcome {
            events,
            buffered_len,
            truncated,
            retry: decoder.retry(),
        }
    })
}

/// The `sse_decoder` property: however the stream is split into reads and whenever the
/// events are taken, the decoder gives what it gives for the stream in one read (events,
/// buffered bytes, `finish()`, retry), also on a second stream after `finish()`; it never
/// panics; and what it gives is well formed (no line end inside a name, data or id).
pub fn sse_decoder(input: &[u8]) {
    let (plan, stream) = split_sse_input(input);
    let whole = decode_twice(&[stream], Drain::AtEnd);
    assert_eq!(decode_all(stream), whole[0].events, "decode_all");
    let reads = sse_reads(plan, stream);
    for drain in [Drain::AfterEachRead, Drain::OnePerRead, Drain::AtEnd] {
        assert_eq!(
            decode_twice(&reads, drain),
            whole,
            "{drain:?} over {} reads, split plan {plan:?}",
            reads.len()
        );
    }
    for event in whole.iter().flat_map(|outcome| &outcome.events) {
        assert!(
            !event.event.is_empty() && !event.event.contains(['\r', '\n']),
            "event name {:?}",
            event.event
        );
        assert!(!event.data.contains('\r'), "data {:?}", event.data);
        if let Some(id) = &event.id {
            assert!(
                !id.is_empty() && !id.contains(['\r', '\n', '\0']),
                "id {id:?}"
            );
        }
    }
}

// ----- tool outputs from JSON -------------------------------------------------------------

/// The `tool_outputs_from_json` property, on any bytes:
/// - `ToolOutputs::from_json` never panics; an error is `InvalidArgument` with a message;
/// - what it accepts is in the API's shape (every `tool_call_id` non-empty, as many outputs as
///   array elements), and a request body re-serialised from the public items reads back as
///   the same outputs;
/// - the C entry point `oairun_tool_outputs_from_json`, given the bytes as a C string (up to
///   the first NUL, as C sees them), agrees with it (status, error message) and everything it
///   hands out is freed by the matching `_free`.
pub fn tool_outputs_from_json(input: &[u8]) {
    if let Ok(json) = std::str::from_utf8(input) {
        check_from_json(json);
    }
    let c_input = input.split(|&byte| byte == 0).next().unwrap_or_default();
    check_c_from_json(c_input);
}

fn check_from_json(json: &str) {
    let outputs = match ToolOutputs::from_json(json) {
        Ok(outputs) => outputs,
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
            assert!(!error.message().is_empty());
            return;
        }
    };
    let value: serde_json::Value = serde_json::from_str(json).expect("accepted input is JSON");
    assert_eq!(value.as_array().map(Vec::len), Some(outputs.len()));
    assert!(outputs.iter().all(|o| !o.tool_call_id.is_empty()));
    let items: Vec<serde_json::Value> = outputs
        .iter()
        .map(|o| serde_json::json!({"tool_call_id": o.tool_call_id, "output": o.output}))
        .collect();
    let body = serde_json::json!({"tool_outputs": items, "stream": true});
    let resent = body["tool_outputs"].to_string();
    let read_back = ToolOutputs::from_json(&resent).expect("a re-serialised body reads back");
    assert_eq!(read_back, outputs);
}

fn check_c_from_json(c_input: &[u8]) {
    let expected = std::str::from_utf8(c_input)
        .map_err(|_| None)
        .and_then(|json| ToolOutputs::from_json(json).map_err(|e| Some(e.message().to_owned())));
    let c_json = CString::new(c_input).expect("cut at the first NUL");
    let mut out: *mut oairun_tool_outputs = ptr::null_mut();
    let mut err: *mut oairun_error = ptr::null_mut();
    let live = heap_growth(|| {
        // SAFETY: c_json is a C string; out and err point to writable NULL pointers.
        let status =
            unsafe { oairun_tool_outputs_from_json(c_json.as_ptr(), Some(&mut out), &mut err) };
        match &expected {
            Ok(_) => {
                assert_eq!(status, oairun_status::OAIRUN_OK);
                assert!(!out.is_null() && err.is_null());
            }
            Err(message) => {
                assert_eq!(status, oairun_status::OAIRUN_INVALID_ARGUMENT);
                assert!(out.is_null(), "out is written only on success");
                assert!(!err.is_null());
                // SAFETY: err is a live error handed out by the call above; its message
                // lives until oairun_error_free.
                let (err_status, c_message) = unsafe {
                    (
                        oairun_error_status(err.as_ref()),
                        CStr::from_ptr(oairun_error_message(err.as_ref())).to_str(),
                    )
                };
                assert_eq!(err_status, status);
                let c_message = c_message.expect("error messages are UTF-8");
                assert!(!c_message.is_empty());
                if let Some(message) = message {
                    // A C string cannot hold the NUL an unknown field's name may contain.
                    assert_eq!(c_message, message.replace('\0', "\u{FFFD}"));
                }
            }
        }
        // SAFETY: each is NULL or was handed out by the call above and is freed once.
        unsafe {
            oairun_tool_outputs_free((!out.is_null()).then(|| Box::from_raw(out)));
            oairun_error_free((!err.is_null()).then(|| Box::from_raw(err)));
        }
    });
    assert_eq!(live, 0, "bytes left allocated by the C call and its _free");
}

// ----- heap accounting --------------------------------------------------------------------

/// Counts, per thread, the heap bytes allocated minus those freed, so a check can tell that
/// a C call and its `_free` release everything (without a leak checker; libFuzzer's runs
/// without a sanitizer have none). Freeing on another thread would skew the count, so it is
/// only read around single-threaded code.
struct CountingAllocator;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // A const-initialised thread local without a destructor never allocates, and try_with
    // keeps an allocation during thread teardown from panicking.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// SAFETY: every call is forwarded to System unchanged; only a counter is updated.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new_ptr
    }
}

/// Runs `body` and returns how many heap bytes it left allocated on this thread.
fn heap_growth(body: impl FnOnce()) -> isize {
    let before = LIVE_BYTES.with(Cell::get);
    body();
    LIVE_BYTES.with(Cell::get) - before
}
