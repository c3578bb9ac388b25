//! The non-blocking API against the loopback test server: callbacks on oairun's threads, in
//! order; cancel from another thread while the server stalls; wait, drop and detach.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oairun::{Client, ClientOptions, ErrorKind, Event, ToolOutputs};
use oairun_testserver::{reference_events, TestServer, REFERENCE_RUN_JSON};

fn client(server: &TestServer) -> Client {
    Client::new(&ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(server.base_url()),
        ..Default::default()
    })
    .unwrap()
}

fn outputs() -> ToolOutputs {
    let mut outputs = ToolOutputs::new();
    outputs.push("call_001", "70 degrees and sunny.").unwrap();
    outputs
}

type Seen = Arc<Mutex<Vec<(Event, String)>>>;

/// Starts a stream whose callback records each event and the name of the thread it ran on.
fn start_recording(client: &Client, thread: &str) -> (oairun::Submission, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let submission = client
        .submit_tool_outputs_stream_start(thread, "run_123", &outputs(), move |event| {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            sink.lock().unwrap().push((event.clone(), name));
            true
        })
        .unwrap();
    (submission, seen)
}

#[test]
fn a_started_stream_delivers_the_reference_in_order_on_an_oairun_thread() {
    let server = TestServer::start();
    let client = client(&server);
    let (submission, seen) = start_recording(&client, "thread_abc");
    submission.wait().unwrap();
    assert!(submission.is_finished());
    // wait() again gives the same outcome.
    submission.wait().unwrap();

    let seen = seen.lock().unwrap();
    let got: Vec<(String, String)> = seen
        .iter()
        .map(|(e, _)| (e.name().to_owned(), e.data().to_owned()))
        .collect();
    let expected: Vec<(String, String)> = reference_events()
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.to_owned()))
        .collect();
    assert_eq!(got, expected);
    let threads: std::collections::HashSet<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        threads.len(),
        1,
        "one stream, one callback thread: {threads:?}"
    );
    let thread = threads.into_iter().next().unwrap();
    assert!(thread.starts_with("oairun-callback-"), "{thread}");
}

#[test]
fn a_started_call_completes_once_with_the_run_json() {
    let server = TestServer::start();
    let client = client(&server);
    let (tx, rx) = mpsc::channel();
    let submission = client
        .submit_tool_outputs_start("thread_abc", "run_123", &outputs(), move |result| {
            tx.send(result).unwrap();
        })
        .unwrap();
    submission.wait().unwrap();
    let result = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(result.unwrap(), REFERENCE_RUN_JSON);
    assert!(rx.try_recv().is_err(), "the completion is called once");

    let (tx, rx) = mpsc::channel();
    let failing = client
        .submit_tool_outputs_start("status_404", "run_123", &outputs(), move |result| {
            tx.send(result).unwrap();
        })
        .unwrap();
    let err = failing.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
    assert_eq!(err.http_status(), Some(404));
    let told = rx.recv().unwrap().unwrap_err();
    assert_eq!(told, err, "the callback and wait() see the same error");
}

#[test]
fn cancel_from_another_thread_during_a_stall_is_prompt() {
    let server = TestServer::start();
    let client = client(&server);
    let (submission, seen) = start_recording(&client, "stall");
    // The stall scenario sends two events, then nothing for 30 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the first events never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    let submission = Arc::new(submission);
    let other = submission.clone();
    let started = Instant::now();
    std::thread::spawn(move || other.cancel()).join().unwrap();
    let err = submission.wait().unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(took < Duration::from_millis(100), "cancel took {took:?}");
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Cancelling again, and after the end, changes nothing.
    submission.cancel();
    submission.cancel();
    assert_eq!(submission.wait().unwrap_err().kind(), ErrorKind::Cancelled);
    // The server sees the connection go.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.answers_in_progress() > 0 {
        assert!(Instant::now() < deadline, "the connection was not dropped");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cancel_while_waiting_for_headers_and_for_a_call() {
    let server = TestServer::start();
    let client = client(&server);
    let (stream, seen) = start_recording(&client, "stall_headers");
    let (tx, rx) = mpsc::channel();
    let call = client
        .submit_tool_outputs_start("stall_headers", "run_123", &outputs(), move |r| {
            tx.send(r).unwrap();
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    stream.cancel();
    assert_eq!(stream.wait().unwrap_err().kind(), ErrorKind::Cancelled);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100), "{took:?}");
    // A call's cancellation goes through its lane, to run the completion callback there.
    call.cancel();
    assert_eq!(call.wait().unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(seen.lock().unwrap().is_empty());
    // The completion callback still runs, once, with the cancellation.
    assert_eq!(rx.recv().unwrap().unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(rx.try_recv().is_err());
}

#[test]
fn no_callback_starts_after_cancel_returns() {
    let server = TestServer::start();
    let client = client(&server);
    let cancelled = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(AtomicUsize::new(0));
    let (flag, late_calls, counter) = (cancelled.clone(), late.clone(), count.clone());
    let submission = client
        .submit_tool_outputs_stream_start("slow_2_500", "run_123", &outputs(), move |_| {
            if flag.load(Ordering::SeqCst) {
                late_calls.fetch_add(1, Ordering::SeqCst);
            }
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3));
            true
        })
        .unwrap();
    while count.load(Ordering::SeqCst) < 10 {
        std::thread::sleep(Duration::from_millis(1));
    }
    submission.cancel();
    cancelled.store(true, Ordering::SeqCst);
    assert_eq!(submission.wait().unwrap_err().kind(), ErrorKind::Cancelled);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(late.load(Ordering::SeqCst), 0);
}

#[test]
fn dropping_cancels_and_detaching_runs_to_the_end() {
    let server = TestServer::start();
    let client = client(&server);
    let (submission, seen) = start_recording(&client, "stall");
    while seen.lock().unwrap().len() < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(submission);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.answers_in_progress() > 0 {
        assert!(
            Instant::now() < deadline,
            "dropping did not close the connection"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let (tx, rx) = mpsc::channel();
    client
        .submit_tool_outputs_start("thread_abc", "run_123", &outputs(), move |r| {
            tx.send(r).unwrap();
        })
        .unwrap()
        .detach();
    let result = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(result.unwrap(), REFERENCE_RUN_JSON);
}

#[test]
fn callbacks_may_submit_and_cancel_but_not_wait_for_running_ones() {
    let server = TestServer::start();
    let client = client(&server);
    let inner_client = client.clone();
    let (tx, rx) = mpsc::channel();
    let submission = client
        .submit_tool_outputs_stream_start("thread_abc", "run_123", &outputs(), move |event| {
            if event.name() == "thread.run.queued" {
                // A blocking submission from the callback thread works.
                let json = inner_client.submit_tool_outputs("thread_x", "run_123", &outputs());
                // Waiting for a running non-blocking one is refused, not a deadlock.
                let other = inner_client
                    .submit_tool_outputs_stream_start("stall", "run_123", &outputs(), |_| true)
                    .unwrap();
                let waited = other.wait();
                other.cancel();
                tx.send((json, waited)).unwrap();
            }
            true
        })
        .unwrap();
    submission.wait().unwrap();
    let (json, waited) = rx.recv().unwrap();
    assert_eq!(json.unwrap(), REFERENCE_RUN_JSON);
    assert_eq!(waited.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn stream_outcomes_match_the_blocking_form() {
    let server = TestServer::start();
    let client = client(&server);
    for (thread, kind) in [
        ("status_500", ErrorKind::HttpStatus),
        ("truncated", ErrorKind::Protocol),
        ("error_event", ErrorKind::StreamError),
        ("wrong_content_type", ErrorKind::Protocol),
        ("reset", ErrorKind::Protocol),
    ] {
        let blocking = client
            .submit_tool_outputs_stream(thread, "run_123", &outputs(), |_| true)
            .unwrap_err();
        let (submission, _) = start_recording(&client, thread);
        let started = submission.wait().unwrap_err();
        assert_eq!(started.kind(), kind, "{thread}: {started}");
        assert_eq!(blocking.kind(), kind, "{thread}: {blocking}");
        assert_eq!(started.http_status(), blocking.http_status(), "{thread}");
    }
    // A callback that returns false cancels.
    let submission = client
        .submit_tool_outputs_stream_start("thread_abc", "run_123", &outputs(), |_| false)
        .unwrap();
    let err = submission.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(err.message().contains("callback"), "{err}");
    // Bad arguments fail at once.
    let err = client
        .submit_tool_outputs_stream_start("", "run_123", &outputs(), |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn many_streams_at_once_on_few_threads() {
    let server = TestServer::start();
    let client = client(&server);
    let mut expected = 0;
    client
        .submit_tool_outputs_stream("long_200", "run_123", &outputs(), |_| {
            expected += 1;
            true
        })
        .unwrap();
    let submissions: Vec<_> = (0..200)
        .map(|_| start_recording(&client, "long_200"))
        .collect();
    for (submission, seen) in &submissions {
        submission.wait().unwrap();
        assert_eq!(seen.lock().unwrap().len(), expected);
    }
    let threads: std::collections::HashSet<String> = submissions
        .iter()
        .flat_map(|(_, seen)| {
            seen.lock()
                .unwrap()
                .iter()
                .map(|(_, t)| t.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(threads.len() <= 4, "{threads:?}");
}

#[test]
fn a_panicking_callback_ends_its_stream_with_internal_and_the_lanes_go_on() {
    let server = TestServer::start();
    let client = client(&server);
    let submission = client
        .submit_tool_outputs_stream_start("thread_abc", "run_123", &outputs(), |event| {
            if event.name() == "thread.message.created" {
                panic!("deliberate panic in a callback");
            }
            true
        })
        .unwrap();
    let err = submission.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(
        err.message().contains("deliberate panic in a callback"),
        "{err}"
    );
    // Every lane still runs callbacks.
    for _ in 0..8 {
        let (submission, _) = start_recording(&client, "thread_abc");
        submission.wait().unwrap();
    }
}
