//! The committed fixtures are what the API reference shows: re-extracted from the reference
//! text when it is beside the repository (`../shared/api-reference/`), skipped otherwise.

use std::path::PathBuf;

use oairun_testserver::{reference_events, REFERENCE_RUN_JSON, REFERENCE_STREAM};

fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/api-reference/submit-tool-outputs.txt")
}

/// The Run object of the first example: from the `{` line right after the first curl
/// command's `}'` line to its matching `}` line, joined with LF.
fn extract_run_json(reference: &str) -> String {
    let lines: Vec<&str> = reference.lines().collect();
    let curl = lines
        .iter()
        .position(|l| l.starts_with("curl "))
        .expect("a curl example");
    let body_end = curl
        + lines[curl..]
            .iter()
            .position(|l| *l == "}'")
            .expect("the end of the curl body");
    let start = body_end + 1;
    assert_eq!(lines[start], "{", "the Run object follows the curl command");
    // Count brackets outside strings, line by line, until the object closes.
    let mut depth = 0i32;
    let (mut in_string, mut escaped) = (false, false);
    for (i, line) in lines[start..].iter().enumerate() {
        for c in line.chars() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
            } else {
                match c {
                    '"' => in_string = true,
                    '{' | '[' => depth += 1,
                    '}' | ']' => depth -= 1,
                    _ => {}
                }
            }
        }
        if depth == 0 {
            return lines[start..=start + i].join("\n");
        }
    }
    panic!("the Run object never closes");
}

/// Every `event:` line with the `data:` line after it, each pair followed by a blank line.
fn extract_stream(reference: &str) -> String {
    let lines: Vec<&str> = reference.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("event: ") {
            let data = lines[i + 1];
            assert!(data.starts_with("data: "), "data follows event at line {i}");
            out.push_str(&format!("{line}\n{data}\n\n"));
        }
    }
    out
}

#[test]
fn fixtures_match_the_api_reference() {
    let path = reference_path();
    let Ok(reference) = std::fs::read_to_string(&path) else {
        println!(
            "note: {} not found; fixtures not re-checked against the reference",
            path.display()
        );
        return;
    };
    assert_eq!(extract_run_json(&reference), REFERENCE_RUN_JSON);
    assert_eq!(extract_stream(&reference), REFERENCE_STREAM);
}

#[test]
fn fixtures_are_well_formed() {
    // The Run object is JSON, with no trailing newline.
    let run: serde_json::Value = serde_json::from_str(REFERENCE_RUN_JSON).unwrap();
    assert_eq!(run["id"], "run_123");
    assert!(REFERENCE_RUN_JSON.starts_with("{\n") && REFERENCE_RUN_JSON.ends_with("\n}"));
    // The stream is 16 events ending with done.
    assert!(REFERENCE_STREAM.ends_with("event: done\ndata: [DONE]\n\n"));
    let events = reference_events();
    assert_eq!(events.len(), 16);
    assert_eq!(events[0].0, "thread.run.step.completed");
    assert_eq!(events[15], ("done".to_string(), "[DONE]".to_string()));
    // Faithful to the reference, including its flaw: the `thread.run.*` events' data ends
    // with one `}` too many, so is not JSON. Every other event's data is.
    for (name, data) in &events[..15] {
        let parsed = serde_json::from_str::<serde_json::Value>(data);
        if name.starts_with("thread.run.") && !name.starts_with("thread.run.step.") {
            assert!(parsed.is_err(), "{name} unexpectedly valid");
            assert!(data.ends_with("}}"));
            serde_json::from_str::<serde_json::Value>(&data[..data.len() - 1]).unwrap();
        } else {
            assert!(parsed.is_ok(), "{name}: {data}");
        }
    }
}
