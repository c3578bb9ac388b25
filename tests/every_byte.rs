//! A stream cut at every byte: for every offset N from 0 to the body's length, the test server
//! sends exactly the body's first N bytes and then ends the body cleanly (`cut_at_<N>`) or
//! resets the connection (`reset_at_<N>`): the Assistants reference stream (thread id) and the
//! Responses `function_call.sse` stream (model). Through the blocking stream API, oairun must
//! deliver exactly the events complete within those N bytes (each with its terminating blank
//! line), in order, none partial and none twice, and return `Ok` when N reaches the end of the
//! terminal event, `Protocol` (saying how many events were delivered) before it. Nothing is
//! retried: one request per offset reaches the server.

use std::thread;
use std::time::Instant;

use oairun::sse::decode_all;
use oairun::{Client, ClientOptions, ErrorKind, Event, ResponseRequest, ToolOutputs};
use oairun_testserver::{responses_stream, TestServer, REFERENCE_STREAM};

/// Offsets are spread over this many threads sharing one client.
const THREADS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Assistants,
    Responses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cut_at_<N>`: a clean end of body after N bytes.
    Cut,
    /// `reset_at_<N>`: a reset after N bytes.
    Reset,
}

impl Mode {
    fn scenario(self, n: usize) -> String {
        match self {
            Mode::Cut => format!("cut_at_{n}"),
            Mode::Reset => format!("reset_at_{n}"),
        }
    }
}

/// The whole body the scenario cuts.
fn body(api: Api) -> Vec<u8> {
    match api {
        Api::Assistants => REFERENCE_STREAM.as_bytes().to_vec(),
        Api::Responses => responses_stream("function_call")
            .expect("a fixed stream")
            .into_bytes(),
    }
}

/// The events a client must deliver for `prefix`: what the SSE decoder gives for it (it
/// discards an event whose blank line is not in the prefix), named as the endpoint's rule
/// names them (Responses: an event without an `event:` line takes its JSON `type`).
fn expected(api: Api, prefix: &[u8]) -> Vec<(String, String)> {
    decode_all(prefix)
        .into_iter()
        .map(|sse| {
            let name = match (api, sse.event.as_str()) {
                (Api::Responses, "message") => serde_json::from_str::<serde_json::Value>(&sse.data)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_owned))
                    .unwrap_or(sse.event),
                _ => sse.event,
            };
            (name, sse.data)
        })
        .collect()
}

/// One submission of `scenario`: the events delivered and the outcome.
fn submit(
    client: &Client,
    api: Api,
    scenario: &str,
) -> (Vec<(String, String)>, oairun::Result<()>) {
    let mut events = Vec::new();
    let on_event = |e: &Event| {
        events.push((e.name().to_owned(), e.data().to_owned()));
        true
    };
    let result = match api {
        Api::Assistants => {
            let mut outputs = ToolOutputs::new();
            outputs.push("call_001", "70 degrees and sunny.").unwrap();
            client.submit_tool_outputs_stream(scenario, "run_every_byte", &outputs, on_event)
        }
        Api::Responses => {
            let mut request = ResponseRequest::new();
            request.set_model(scenario).unwrap();
            request
                .add_function_call_output("call_fixed_get_weather", "{\"temp_c\":15}")
                .unwrap();
            client.create_response_stream(&request, on_event)
        }
    };
    (events, result)
}

/// What is wrong with the answer to the first `n` bytes, if anything.
fn check(
    api: Api,
    mode: Mode,
    n: usize,
    whole: &[u8],
    got: &[(String, String)],
    result: &oairun::Result<()>,
) -> Option<String> {
    let want = expected(api, &whole[..n]);
    let what = format!("{api:?} {}", mode.scenario(n));
    if got != want.as_slice() {
        let first_difference = got.iter().zip(&want).position(|(g, w)| g != w);
        return Some(format!(
            "{what}: delivered {} events, expected {} (first difference at {first_difference:?}; \
             last delivered {:?})",
            got.len(),
            want.len(),
            got.last()
                .map(|(name, data)| (name, &data[..data.len().min(60)]))
        ));
    }
    // The terminal event is the body's last: N reaches its end only at the body's length.
    match result {
        Ok(()) if n >= whole.len() => None,
        Err(e) if n < whole.len() && e.kind() == ErrorKind::Protocol => {
            // A clean end and a reset are told apart, with the count of events delivered.
            let said = match mode {
                Mode::Cut => format!("the stream ended after {} events", want.len()),
                Mode::Reset => format!("the stream broke off after {} events", want.len()),
            };
            (!e.message().contains(&said))
                .then(|| format!("{what}: the message does not say {said:?}: {e}"))
        }
        other => Some(format!(
            "{what}: {} events then {other:?}, expected {}",
            got.len(),
            if n >= whole.len() { "Ok" } else { "Protocol" }
        )),
    }
}

/// Runs every offset of `api`'s body in both modes, over [`THREADS`] threads sharing one
/// client, and fails listing the offsets that went wrong.
fn every_byte(api: Api) {
    let whole = body(api);
    // The reading of the prefixes the checks rely on: every event is one block ending in a
    // blank line, the last block is the terminal event, and the decoder completes an event
    // exactly when its blank line has arrived.
    assert!(whole.ends_with(b"\n\n"));
    let ends: Vec<usize> = (1..whole.len())
        .filter(|&i| whole[i - 1] == b'\n' && whole[i] == b'\n')
        .map(|i| i + 1)
        .collect();
    let terminal = expected(api, &whole).last().cloned().expect("events");
    match api {
        Api::Assistants => assert_eq!(terminal.0, "done"),
        Api::Responses => assert_eq!(terminal.0, "response.completed"),
    }
    assert_eq!(*ends.last().unwrap(), whole.len());
    for n in 0..=whole.len() {
        let complete = ends.iter().filter(|&&end| end <= n).count();
        assert_eq!(expected(api, &whole[..n]).len(), complete, "decoder at {n}");
    }

    let server = TestServer::start();
    let client = Client::new(&ClientOptions {
        api_key: Some("sk-test-every-byte".into()),
        base_url: Some(server.base_url()),
        ..Default::default()
    })
    .unwrap();
    let started = Instant::now();
    let mut failures: Vec<String> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (client, whole) = (&client, &whole);
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for n in (t..=whole.len()).step_by(THREADS) {
                        for mode in [Mode::Cut, Mode::Reset] {
                            let (got, result) = submit(client, api, &mode.scenario(n));
                            failures.extend(check(api, mode, n, whole, &got, &result));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect()
    });
    let submissions = 2 * (whole.len() + 1);
    eprintln!(
        "{api:?}: {submissions} submissions ({} bytes, {} events, both modes) in {:.1} s",
        whole.len(),
        ends.len(),
        started.elapsed().as_secs_f64()
    );
    let requests = server.requests().len();
    if requests != submissions {
        failures.push(format!(
            "{requests} requests reached the server for {submissions} submissions (a retry?)"
        ));
    }
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} failures, the first:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn assistants_reference_stream_cut_or_reset_at_every_byte() {
    every_byte(Api::Assistants);
}

#[test]
fn responses_function_call_stream_cut_or_reset_at_every_byte() {
    every_byte(Api::Responses);
}
