//! The log hook: which lines come at which level, and that none holds a secret. One test
//! function, since the sink is process-wide and tests run in parallel.

use std::sync::{Arc, Mutex};

use oairun::{set_log_sink, Client, ClientOptions, ErrorKind, LogLevel, ToolOutputs};
use oairun_testserver::TestServer;

const KEY: &str = "sk-log-secret-KEY-0123456789";

type Lines = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn collect(level: LogLevel) -> Lines {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    set_log_sink(
        level,
        Some(Box::new(move |level, line: &str| {
            sink.lock().unwrap().push((level, line.to_owned()))
        })),
    )
    .unwrap();
    lines
}

fn take(lines: &Lines) -> Vec<(LogLevel, String)> {
    std::mem::take(&mut *lines.lock().unwrap())
}

fn has(lines: &[(LogLevel, String)], level: LogLevel, needle: &str) -> bool {
    lines.iter().any(|(l, t)| *l == level && t.contains(needle))
}

#[test]
fn lines_by_level_without_secrets() {
    let server = TestServer::start();
    let base = format!("{}?api-key=query-secret", server.base_url());
    let client = Client::new(&ClientOptions {
        api_key: Some(KEY.into()),
        base_url: Some(base),
        organization: Some("org-log".into()),
        ..Default::default()
    })
    .unwrap();
    let mut outputs = ToolOutputs::new();
    outputs.push("call_1", "out").unwrap();

    let lines = collect(LogLevel::Debug);
    client
        .submit_tool_outputs("thread_abc", "run_1", &outputs)
        .unwrap();
    client
        .submit_tool_outputs_stream("thread_abc", "run_1", &outputs, |_| true)
        .unwrap();
    // 429 (retry-after-ms 100), then the reference.
    client
        .submit_tool_outputs("ratelimit_once", "run_log", &outputs)
        .unwrap();
    let err = client
        .submit_tool_outputs("status_404", "run_1", &outputs)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
    let got = take(&lines);
    let url = format!(
        "{}/threads/thread_abc/runs/run_1/submit_tool_outputs",
        server.base_url()
    );
    assert!(
        has(
            &got,
            LogLevel::Info,
            &format!("POST {url} (synchronous, attempt 1 of 3)")
        ),
        "{got:#?}"
    );
    assert!(
        has(
            &got,
            LogLevel::Info,
            &format!("POST {url} (streamed, attempt 1 of 3)")
        ),
        "{got:#?}"
    );
    assert!(
        has(&got, LogLevel::Info, &format!("HTTP 200 from {url} after ")),
        "{got:#?}"
    );
    assert!(has(&got, LogLevel::Info, "(request id req_"), "{got:#?}");
    assert!(
        has(
            &got,
            LogLevel::Warn,
            "attempt 1 of 3 failed (HTTP 429); retrying in 100 ms"
        ),
        "{got:#?}"
    );
    assert!(
        has(&got, LogLevel::Error, "failed: HTTP 404: test error 404"),
        "{got:#?}"
    );
    assert!(
        has(&got, LogLevel::Debug, "stream complete after "),
        "{got:#?}"
    );
    for (_, line) in &got {
        for secret in [KEY, "query-secret", "Bearer", "org-log"] {
            assert!(!line.contains(secret), "{secret:?} in {line:?}");
        }
    }

    // A less verbose level drops the lines after it.
    let lines = collect(LogLevel::Warn);
    client
        .submit_tool_outputs("thread_abc", "run_1", &outputs)
        .unwrap();
    client
        .submit_tool_outputs("status_400", "run_1", &outputs)
        .unwrap_err();
    let got = take(&lines);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].0, LogLevel::Error);

    // Changing the sink from inside the sink is refused, not a deadlock.
    let refused: Arc<Mutex<Option<oairun::Result<()>>>> = Arc::default();
    let record = refused.clone();
    set_log_sink(
        LogLevel::Info,
        Some(Box::new(move |_, _: &str| {
            *record.lock().unwrap() = Some(set_log_sink(LogLevel::Info, None));
        })),
    )
    .unwrap();
    client
        .submit_tool_outputs("thread_abc", "run_1", &outputs)
        .unwrap();
    let result = refused.lock().unwrap().take().expect("the sink ran");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);

    // Off: nothing more arrives.
    set_log_sink(LogLevel::Debug, None).unwrap();
    client
        .submit_tool_outputs("thread_abc", "run_1", &outputs)
        .unwrap();
    assert!(take(&lines).is_empty());
}
