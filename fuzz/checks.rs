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
    oairun_tool_call_arguments, oairun_tool_call_id, oairun_tool_call_name, oairun_tool_calls,
    oairun_tool_calls_count, oairun_tool_calls_free, oairun_tool_calls_from_json,
    oairun_tool_calls_get, oairun_tool_outputs, oairun_tool_outputs_free,
    oairun_tool_outputs_from_json,
};
use oairun::sse::{decode_all, Decoder, SseEvent};
use oairun::{
    responses_stream_over_reads, ErrorKind, Event, EventKind, ToolCall, ToolOutputs,
    DEFAULT_MAX_EVENT_BYTES,
};

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
    /// Each read offered to `whole_event` first, and fed only when it is not one whole event
    /// the decoder takes as it is; every event then taken (what a direct reader does).
    WholeFirst,
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
            if let Drain::WholeFirst = drain {
                if let Some(parts) = decoder.whole_event(read) {
                    events.push(SseEvent::from(parts));
                    continue;
                }
            }
            decoder.feed(read);
            match drain {
                Drain::AfterEachRead | Drain::WholeFirst => {
                    events.extend(std::iter::from_fn(|| decoder.next_event()))
                }
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
    let drains = [
        Drain::AfterEachRead,
        Drain::OnePerRead,
        Drain::AtEnd,
        Drain::WholeFirst,
    ];
    for drain in drains {
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

// ----- Responses stream rule --------------------------------------------------------------

/// In the first byte of a `responses_stream` input (which also gives the split plan's length,
/// as for `sse_decoder`), this bit makes the event size cap [`SMALL_EVENT_CAP`] instead of the
/// default.
pub const SMALL_CAP_BIT: u8 = 0x40;
/// The event size cap of inputs that set [`SMALL_CAP_BIT`]: small enough for short inputs to
/// reach it.
pub const SMALL_EVENT_CAP: usize = 64;

/// Builds a `responses_stream` input from a split plan, whether the cap is small, and a stream
/// body, for hand-made seeds.
pub fn responses_input(plan: &[u8], small_cap: bool, stream: &[u8]) -> Vec<u8> {
    let mut input = sse_input(plan, stream);
    if small_cap {
        input[0] |= SMALL_CAP_BIT;
    }
    input
}

/// How a stream ends under the Responses rule, as the rule is documented.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// `response.completed` or `response.incomplete` was delivered.
    Complete,
    /// `response.failed` or `error` was delivered.
    Failed,
    /// `[DONE]` came before a terminal event (and is not delivered).
    DoneTooEarly,
    /// The body ended (or broke off) before a terminal event.
    Early,
}

/// The name the Responses rule gives a decoded event: its `event:` field, or, when there was
/// none (`message`), its data's JSON `type` when that is a non-empty string.
fn responses_name(sse: &SseEvent) -> String {
    if sse.event == "message" {
        if let Ok(serde_json::Value::Object(object)) =
            serde_json::from_str::<serde_json::Value>(&sse.data)
        {
            if let Some(serde_json::Value::String(kind)) = object.get("type") {
                if !kind.is_empty() {
                    return kind.clone();
                }
            }
        }
    }
    sse.event.clone()
}

/// What the documented rule makes of `stream` (decoded with the SSE decoder), without a cap:
/// the `(name, data, id)` of each event delivered and how the stream ends.
fn responses_model(stream: &[u8]) -> (Vec<(String, String, Option<String>)>, Expected) {
    let mut delivered = Vec::new();
    for sse in decode_all(stream) {
        let name = responses_name(&sse);
        if name == "message" && sse.data.trim() == "[DONE]" {
            return (delivered, Expected::DoneTooEarly);
        }
        delivered.push((name.clone(), sse.data, sse.id));
        match name.as_str() {
            "response.completed" | "response.incomplete" => return (delivered, Expected::Complete),
            "response.failed" | "error" => return (delivered, Expected::Failed),
            _ => {}
        }
    }
    (delivered, Expected::Early)
}

fn triple(event: &Event) -> (String, String, Option<String>) {
    (
        event.name().to_owned(),
        event.data().to_owned(),
        event.id().map(str::to_owned),
    )
}

fn is_terminal(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ResponseCompleted
            | EventKind::ResponseIncomplete
            | EventKind::ResponseFailed
            | EventKind::Error
    )
}

/// What holds for any run, cap or not: nothing follows the terminal event, `[DONE]` is never
/// delivered, names are never empty, and the outcome agrees with the last event delivered.
fn check_consistent(events: &[Event], outcome: &oairun::Result<()>) {
    let (last, before) = match events.split_last() {
        Some((last, before)) => (Some(last), before),
        None => (None, events),
    };
    for event in before {
        assert!(
            !is_terminal(event.kind()),
            "{} delivered, then more events",
            event.name()
        );
    }
    for event in events {
        assert!(!event.name().is_empty(), "an event with an empty name");
        assert!(
            !(event.name() == "message" && event.data().trim() == "[DONE]"),
            "[DONE] was delivered"
        );
    }
    let last_kind = last.map(Event::kind);
    match outcome {
        Ok(()) => assert!(
            matches!(
                last_kind,
                Some(EventKind::ResponseCompleted | EventKind::ResponseIncomplete)
            ),
            "Ok after {:?}",
            last.map(Event::name)
        ),
        Err(error) => {
            assert_eq!(error.http_status(), Some(200), "{error}");
            match error.kind() {
                ErrorKind::StreamError => assert!(
                    matches!(
                        last_kind,
                        Some(EventKind::ResponseFailed | EventKind::Error)
                    ),
                    "StreamError after {:?}",
                    last.map(Event::name)
                ),
                ErrorKind::Protocol => assert!(
                    !last_kind.is_some_and(is_terminal),
                    "Protocol after the terminal {:?}",
                    last.map(Event::name)
                ),
                other => panic!("outcome {other:?}: {error}"),
            }
        }
    }
}

/// The outcome as comparable text.
fn outcome_text(outcome: &oairun::Result<()>) -> String {
    match outcome {
        Ok(()) => "Ok".to_owned(),
        Err(error) => format!("{:?}: {}", error.kind(), error.message()),
    }
}

/// The `responses_stream` property, on any bytes (laid out as for `sse_decoder`, plus
/// [`SMALL_CAP_BIT`]): the stream body goes through oairun's stream engine under the
/// Responses rule (`responses_stream_over_reads`) in one read and in the plan's reads (an
/// empty plan: byte by byte), ending cleanly and broken off. It never panics; nothing is
/// delivered after the terminal event, nor `[DONE]`; the outcome agrees with what was
/// delivered. Unless the event size cap stopped it, every split gives the same events and
/// outcome, which are what the documented rule makes of the SSE decoder's events (a terminal
/// event ends the stream whatever follows; an event sent without a name takes its JSON
/// `type`; `[DONE]` first is `Protocol`; a body that ends first is `Protocol` saying how many
/// events came and whether it ended or broke off). The default cap is never reached by these
/// short inputs; with the small one, what is delivered is a start of that, each event within
/// the cap. (Where the cap stops a stream may depend on the split: an unfinished line counts
/// towards it while it is unfinished, so this is not compared between splits.)
pub fn responses_stream(input: &[u8]) {
    let (plan, stream) = split_sse_input(input);
    let small_cap = input
        .first()
        .is_some_and(|&first| first & SMALL_CAP_BIT != 0);
    let cap = if small_cap {
        SMALL_EVENT_CAP
    } else {
        DEFAULT_MAX_EVENT_BYTES
    };
    let (model, expected) = responses_model(stream);
    let decoded = decode_all(stream);
    let splits = [vec![stream], sse_reads(plan, stream)];
    for broken in [false, true] {
        let mut uncapped: Option<(Vec<Event>, String)> = None;
        for reads in &splits {
            let (events, outcome) = responses_stream_over_reads(reads, broken, cap);
            check_consistent(&events, &outcome);
            for event in &events {
                assert_eq!(
                    event.text_delta(),
                    reference_text_delta(event),
                    "text delta of {:?}",
                    event.data()
                );
            }
            let got: Vec<_> = events.iter().map(triple).collect();
            let text = outcome_text(&outcome);
            let what = format!("{} reads, broken {broken}, cap {cap}", reads.len());
            let capped = matches!(&outcome, Err(e) if e.kind() == ErrorKind::Protocol
                && e.message().contains("larger than the cap"));
            if capped {
                assert!(
                    small_cap,
                    "{what}: a short input met the default cap: {text}"
                );
                assert!(
                    got.len() <= model.len() && got[..] == model[..got.len()],
                    "{what}: not a start of the uncapped events"
                );
                for sse in &decoded[..got.len()] {
                    assert!(
                        sse.event.len() + sse.data.len() <= cap,
                        "{what}: over the cap"
                    );
                }
                continue;
            }
            assert_eq!(got, model, "{what}");
            let count = model.len();
            match (&expected, &outcome) {
                (Expected::Complete, Ok(())) => {}
                (Expected::Failed, Err(e)) if e.kind() == ErrorKind::StreamError => {}
                (Expected::DoneTooEarly, Err(e))
                    if e.kind() == ErrorKind::Protocol && e.message().contains("[DONE]") => {}
                (Expected::Early, Err(e)) if e.kind() == ErrorKind::Protocol => {
                    let said = if broken {
                        format!("the stream broke off after {count} events without")
                    } else {
                        format!("the stream ended after {count} events without")
                    };
                    assert!(e.message().starts_with(&said), "{what}: {e}");
                }
                _ => panic!("{what}: expected {expected:?}, got {text}"),
            }
            // However the body is split, the same run.
            match &uncapped {
                None => uncapped = Some((events, text)),
                Some((events0, text0)) => {
                    assert_eq!(&events, events0, "{what}");
                    assert_eq!(&text, text0, "{what}");
                }
            }
        }
    }
}

/// `Event::text_delta` as serde_json reads it (objects read into maps of raw values, the last
/// of duplicate keys winning), the reference for oairun's own scanner.
fn reference_text_delta(event: &Event) -> Option<String> {
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;
    fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
        let map: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
        map.get(key).map(|raw| raw.get())
    }
    let string = |raw: &str| serde_json::from_str::<String>(raw).ok();
    match event.kind() {
        EventKind::ThreadMessageDelta => {
            let content = field(field(event.data(), "delta")?, "content")?;
            let parts: Vec<&RawValue> = serde_json::from_str(content).ok()?;
            let mut text = None::<String>;
            for part in parts {
                if field(part.get(), "type").and_then(string).as_deref() != Some("text") {
                    continue;
                }
                let piece = field(part.get(), "text")
                    .and_then(|t| field(t, "value"))
                    .and_then(string)
                    .unwrap_or_default();
                text.get_or_insert_with(String::new).push_str(&piece);
            }
            text
        }
        EventKind::ResponseOutputTextDelta => string(field(event.data(), "delta")?),
        _ => None,
    }
}

// ----- tool calls from JSON ---------------------------------------------------------------

/// The `tool_calls_from_json` property, on any bytes:
/// - `ToolCall::list_from_json` never panics; an error is `InvalidArgument` with a message;
/// - what it accepts is a JSON object, and its calls are exactly the Run's
///   `required_action.submit_tool_outputs.tool_calls[]` then the Response's `function_call`
///   items of `output[]`, read here on their own from the parsed value;
/// - the C entry point `oairun_tool_calls_from_json`, given the bytes as a C string (up to the
///   first NUL, as C sees them), agrees with it (status, error message, every call's strings,
///   a NUL inside a string shown as U+FFFD) and everything it hands out is freed by the
///   matching `_free`.
pub fn tool_calls_from_json(input: &[u8]) {
    if let Ok(json) = std::str::from_utf8(input) {
        check_calls_from_json(json);
    }
    let c_input = input.split(|&byte| byte == 0).next().unwrap_or_default();
    check_c_calls_from_json(c_input);
}

/// The calls of a parsed Run or Response, read as the API documents them; `None` where a call
/// lacks a string field or the Run's list is not an array.
fn calls_model(value: &serde_json::Value) -> Option<Vec<ToolCall>> {
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let mut calls = Vec::new();
    let run_calls = value
        .get("required_action")
        .and_then(|a| a.get("submit_tool_outputs"))
        .and_then(|s| s.get("tool_calls"));
    if let Some(list) = run_calls {
        for call in list.as_array()? {
            calls.push(ToolCall {
                id: text(call.get("id"))?,
                name: text(call.pointer("/function/name"))?,
                arguments: text(call.pointer("/function/arguments"))?,
            });
        }
    }
    if let Some(items) = value.get("output").and_then(|o| o.as_array()) {
        for item in items {
            if item.get("type").and_then(|t| t.as_str()) == Some("function_call") {
                calls.push(ToolCall {
                    id: text(item.get("call_id"))?,
                    name: text(item.get("name"))?,
                    arguments: text(item.get("arguments"))?,
                });
            }
        }
    }
    Some(calls)
}

fn check_calls_from_json(json: &str) {
    let parsed = serde_json::from_str::<serde_json::Value>(json).ok();
    let model = parsed
        .as_ref()
        .filter(|v| v.is_object())
        .and_then(calls_model);
    match ToolCall::list_from_json(json) {
        Ok(calls) => assert_eq!(Some(calls), model, "accepted {json:?}"),
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
            assert!(!error.message().is_empty());
            assert_eq!(model, None, "refused {json:?}: {error}");
        }
    }
}

/// A C string the library lent, as Rust text.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that lives for the call.
unsafe fn lent(ptr: *const std::ffi::c_char) -> String {
    assert!(!ptr.is_null(), "a NULL string from a live call");
    // SAFETY: the caller's promise.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .expect("the library lends UTF-8")
        .to_owned()
}

fn check_c_calls_from_json(c_input: &[u8]) {
    let expected = std::str::from_utf8(c_input)
        .map_err(|_| None)
        .and_then(|json| ToolCall::list_from_json(json).map_err(|e| Some(e.message().to_owned())));
    let c_json = CString::new(c_input).expect("cut at the first NUL");
    let mut out: *mut oairun_tool_calls = ptr::null_mut();
    let mut err: *mut oairun_error = ptr::null_mut();
    let live = heap_growth(|| {
        // SAFETY: c_json is a C string; out and err point to writable NULL pointers.
        let status =
            unsafe { oairun_tool_calls_from_json(c_json.as_ptr(), Some(&mut out), &mut err) };
        match &expected {
            Ok(calls) => {
                assert_eq!(status, oairun_status::OAIRUN_OK);
                assert!(!out.is_null() && err.is_null());
                // SAFETY: out is the live list handed out above; each call and its strings
                // are lent until oairun_tool_calls_free.
                unsafe {
                    let list = out.as_ref();
                    assert_eq!(oairun_tool_calls_count(list), calls.len());
                    assert!(oairun_tool_calls_get(list, calls.len()).is_null());
                    for (i, call) in calls.iter().enumerate() {
                        let c_call = oairun_tool_calls_get(list, i).as_ref();
                        assert!(c_call.is_some());
                        let shown = |s: &str| s.replace('\0', "\u{FFFD}");
                        assert_eq!(lent(oairun_tool_call_id(c_call)), shown(&call.id));
                        assert_eq!(lent(oairun_tool_call_name(c_call)), shown(&call.name));
                        assert_eq!(
                            lent(oairun_tool_call_arguments(c_call)),
                            shown(&call.arguments)
                        );
                    }
                }
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
                        lent(oairun_error_message(err.as_ref())),
                    )
                };
                assert_eq!(err_status, status);
                assert!(!c_message.is_empty());
                if let Some(message) = message {
                    assert_eq!(c_message, message.replace('\0', "\u{FFFD}"));
                }
            }
        }
        // SAFETY: each is NULL or was handed out by the call above and is freed once.
        unsafe {
            oairun_tool_calls_free((!out.is_null()).then(|| Box::from_raw(out)));
            oairun_error_free((!err.is_null()).then(|| Box::from_raw(err)));
        }
    });
    assert_eq!(live, 0, "bytes left allocated by the C call and its _free");
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
