//! The fuzz targets' checks (`fuzz/checks.rs`, shared with `fuzz/fuzz_targets/`) replayed on
//! hand-made cases, the committed seeds (`fuzz/seeds/<target>/`) and every crash case kept in
//! `fuzz/regressions/<target>/`, so that `make test` runs them without cargo-fuzz or nightly.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::fs;
use std::path::Path;

use checks::{responses_input, split_sse_input, sse_input, sse_reads};

/// The files of `fuzz/<kind>/<target>/`, each with its contents; none when the folder is absent.
fn cases(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut cases: Vec<_> = entries
        .map(|entry| {
            let path = entry.expect("a readable folder").path();
            let bytes = fs::read(&path).expect("a readable file");
            (path.display().to_string(), bytes)
        })
        .collect();
    cases.sort();
    cases
}

/// Runs `check` on every seed and kept crash case of `target`; there must be seeds.
fn replay(target: &str, check: fn(&[u8])) {
    let seeds = cases("seeds", target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/seeds/{target}");
    for (path, bytes) in seeds.iter().chain(&cases("regressions", target)) {
        eprintln!("{path}");
        check(bytes);
    }
}

#[test]
fn sse_decoder_seeds_and_regressions() {
    replay("sse_decoder", checks::sse_decoder);
}

#[test]
fn tool_outputs_from_json_seeds_and_regressions() {
    replay("tool_outputs_from_json", checks::tool_outputs_from_json);
}

#[test]
fn responses_stream_seeds_and_regressions() {
    replay("responses_stream", checks::responses_stream);
}

#[test]
fn tool_calls_from_json_seeds_and_regressions() {
    replay("tool_calls_from_json", checks::tool_calls_from_json);
}

#[test]
fn sse_input_plans_split_the_stream_as_documented() {
    let input = sse_input(&[2, 0, 3], b"abcdefghij");
    assert_eq!(
        split_sse_input(&input),
        (&[2, 0, 3][..], &b"abcdefghij"[..])
    );
    let (plan, stream) = split_sse_input(&input);
    let expected: [&[u8]; 6] = [b"ab", b"", b"cde", b"fg", b"", b"hij"];
    assert_eq!(sse_reads(plan, stream), expected);
    // An empty plan, or zeros only, feeds one byte at a time.
    let bytewise: [&[u8]; 3] = [b"x", b"y", b"z"];
    assert_eq!(sse_reads(&[], b"xyz"), bytewise);
    assert_eq!(sse_reads(&[0, 0], b"xyz"), bytewise);
    // The plan is never longer than what follows its length byte.
    assert_eq!(split_sse_input(&[5, b'a']), (&b"a"[..], &b""[..]));
    assert_eq!(split_sse_input(&[]), (&b""[..], &b""[..]));
}

#[test]
fn sse_decoder_hand_made_cases() {
    let cases: [(&str, &[u8], &[u8]); 9] = [
        ("empty input", &[], b""),
        (
            "CRLF split between CR and LF",
            &[8],
            b"data: a\r\ndata: b\r\n\r\n",
        ),
        (
            "CR line ends, bytewise",
            &[],
            b"event: x\rdata: 1\r\rdata: 2\r\r",
        ),
        (
            "BOM split byte by byte",
            &[1],
            b"\xEF\xBB\xBFdata: after bom\n\n",
        ),
        ("BOM prefix then not a BOM", &[2], b"\xEF\xBBdata: x\n\n"),
        (
            "two BOMs: only the first is dropped",
            &[],
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n",
        ),
        (
            "multi-byte characters split",
            &[7, 1, 2],
            "data: é “q” 😀\n\n".as_bytes(),
        ),
        (
            "[DONE] after an id and a retry",
            &[3, 5],
            b"id: 7\nretry: 1500\nevent: done\ndata: [DONE]\n\n",
        ),
        (
            "invalid UTF-8, comments, unterminated event",
            &[4, 0, 1],
            b": c\ndata: \xFF\xC3\n\n:\nid: a\0b\ndata: cut",
        ),
    ];
    for (what, plan, stream) in cases {
        eprintln!("{what}");
        checks::sse_decoder(&sse_input(plan, stream));
    }
}

#[test]
fn tool_outputs_from_json_hand_made_cases() {
    let cases: [&[u8]; 13] = [
        b"",
        b"[]",
        b"{}",
        br#"[{"tool_call_id":"call_001","output":"70 degrees and sunny."}]"#,
        br#"[{"output":"","tool_call_id":"c"},{"tool_call_id":"d","output":"\"\\\n\u0000\ud83d\ude00"}]"#,
        br#"[{"tool_call_id":"","output":"x"}]"#,
        br#"[{"tool_call_id":"a","output":"x","\u0000":1}]"#,
        br#"[{"tool_call_id":"a","tool_call_id":"b","output":"x"}]"#,
        br#"[{"tool_call_id":1,"output":"x"}]"#,
        b"[\"\xFF\"]",
        b"[{\"tool_call_id\":\"a\",\"output\":\"x\"}]\0trailing",
        b"\0",
        &[b'['; 4096],
    ];
    for case in cases {
        eprintln!("{}", String::from_utf8_lossy(case));
        checks::tool_outputs_from_json(case);
    }
}

#[test]
fn responses_stream_hand_made_cases() {
    let completed = "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
    let delta = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n";
    let cases: Vec<(&str, &[u8], bool, String)> = vec![
        ("empty body", &[], false, String::new()),
        ("empty body, small cap", &[], true, String::new()),
        (
            "a delta by its type, then completed",
            &[5],
            false,
            format!("{delta}{completed}"),
        ),
        (
            "events after the terminal one",
            &[],
            false,
            format!("{completed}{delta}{completed}"),
        ),
        (
            "[DONE] first",
            &[3],
            false,
            format!("data: [DONE]\n\n{completed}"),
        ),
        (
            "[DONE] after completed",
            &[],
            false,
            format!("{completed}data: [DONE]\n\n"),
        ),
        (
            "flat error, then more",
            &[2, 9],
            false,
            format!("data: {{\"type\":\"error\",\"code\":\"c\",\"message\":\"m\"}}\n\n{delta}"),
        ),
        (
            "failed by its type",
            &[],
            false,
            "data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"x\"}}}\n\n"
                .into(),
        ),
        (
            "an empty type stays message",
            &[1],
            false,
            format!("data: {{\"type\":\"\"}}\n\n{completed}"),
        ),
        (
            "cut in the terminal event",
            &[],
            false,
            completed[..completed.len() - 1].into(),
        ),
        (
            "a delta over the small cap",
            &[7],
            true,
            format!("{delta}data: {}\n\n{completed}", "y".repeat(100)),
        ),
        (
            "a comment over the small cap, split",
            &[10],
            true,
            format!(": {}\n{completed}", "c".repeat(100)),
        ),
    ];
    for (what, plan, small_cap, stream) in cases {
        eprintln!("{what}");
        checks::responses_stream(&responses_input(plan, small_cap, stream.as_bytes()));
    }
}

#[test]
fn tool_calls_from_json_hand_made_cases() {
    let cases: [&[u8]; 14] = [
        b"",
        b"{}",
        b"[]",
        b"null",
        br#"{"required_action":null,"output":null}"#,
        br#"{"required_action":{"submit_tool_outputs":{"tool_calls":[]}}}"#,
        br#"{"required_action":{"submit_tool_outputs":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}}}"#,
        br#"{"required_action":{"submit_tool_outputs":{"tool_calls":[{"id":1,"function":{"name":"f","arguments":""}}]}}}"#,
        br#"{"required_action":{"submit_tool_outputs":{"tool_calls":[{"id":"a","function":[]}]}}}"#,
        br#"{"output":[{"type":"function_call","call_id":"a","name":"f","arguments":"x"},{"type":"function_call"}]}"#,
        br#"{"output":{"type":"function_call"}}"#,
        br#"{"output":[{"type":"function_call","call_id":"a\u0000b","name":"\u00e9","arguments":"\ud83d\ude00"}]}"#,
        b"{\"output\":[]}\xFF",
        &[b'{'; 4096],
    ];
    for case in cases {
        eprintln!("{}", String::from_utf8_lossy(case));
        checks::tool_calls_from_json(case);
    }
}
