//! The `oairun-testserver` binary: help, limits, and why it exits.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oairun-testserver");

/// Waits for the child to exit (5 s at most); returns its success and its stderr.
fn finish(mut child: Child) -> (bool, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server exits"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.success(), stderr)
}

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut url)
        .unwrap();
    (child, url)
}

#[test]
fn help_lists_every_scenario_of_both_routes() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.starts_with("usage: oairun-testserver [--port N] [--max-seconds S]"));
    assert!(help.contains("--max-seconds S  exit after S seconds (default: no limit)"));
    // The tables are the crate documentation's, without rustdoc's link brackets.
    assert!(help.contains(
        &oairun_testserver::SCENARIOS
            .replace("[`", "`")
            .replace("`]", "`")
    ));
    assert!(!help.contains("[`"));
    for name in [
        // Assistants
        "`status_<NNN>`",
        "`status_<NNN>_plain`",
        "`ratelimit_once`",
        "`truncated`",
        "`reset`",
        "`partial_event`",
        "`stall`",
        "`stall_headers`",
        "`close_before_headers`",
        "`error_event`",
        "`long_<N>`",
        "`slow_<MS>_<N>`",
        "`odd_framing`",
        "`not_json`",
        "`wrong_content_type`",
        "`big_<MiB>`",
        "`echo`",
        // Responses
        "`done_style`",
        "`no_event_lines`",
        "`function_call`",
        "`error_flat`",
        "`error_nested`",
        "`failed`",
        "`incomplete`",
        "`cut`",
        "`hold_open`",
        // Both
        "`tool_loop`",
        "`tool_loop_forever`",
        "`tool_loop_failed`",
        "`tool_loop_error`",
    ] {
        assert!(help.contains(&format!("| {name}")), "{name} has a row");
    }
    assert!(help.contains("# Assistants") && help.contains("# Responses"));
}

#[test]
fn says_when_the_time_limit_is_reached() {
    let (child, url) = spawn(&["--max-seconds", "1"]);
    assert!(url.starts_with("http://127.0.0.1:"));
    let (success, stderr) = finish(child);
    assert!(success);
    assert_eq!(
        stderr,
        "oairun-testserver: exiting: time limit reached (--max-seconds 1)\n"
    );
}

#[cfg(unix)]
#[test]
fn says_when_a_signal_stops_it_and_has_no_limit_by_default() {
    for signal in ["TERM", "INT"] {
        let (child, url) = spawn(&[]);
        assert!(url.starts_with("http://127.0.0.1:"));
        // No limit: still there a while later.
        std::thread::sleep(Duration::from_millis(300));
        let mut child = child;
        assert!(child.try_wait().unwrap().is_none());
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let (success, stderr) = finish(child);
        assert!(success);
        assert_eq!(
            stderr,
            format!("oairun-testserver: exiting: SIG{signal} received\n")
        );
    }
}

#[test]
fn says_when_it_cannot_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "oairun-testserver: exiting: cannot listen on 127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}
