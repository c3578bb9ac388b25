//! A loopback HTTP/1.1 server that speaks the exact wire format of the Assistants
//! `submit_tool_outputs` endpoint and of the Responses API's `POST /v1/responses`, for oairun's
//! tests and demos.
//!
//! The HTTP layer is written by hand on tokio's `TcpListener` (no hyper) so that the framing of
//! every answer is controlled byte by byte: which bytes go in which chunk, when a chunk is flushed,
//! whether the body ends cleanly or the socket is reset. The answer is chosen by the thread id of
//! the request path (Assistants) or the body's `model` (Responses); see the scenario tables in
//! [`TestServer`]. Scripted tool-calling models (`tool_loop`…) keep state across requests, so a
//! client's whole tool-call loop can run against the server.
//!
//! Every request is recorded, so tests can assert on what the client sent.
#![warn(missing_docs)]

mod http;
mod odd;
mod proxy;
mod responses;
mod scenario;
mod server;
mod tls;
mod tools;

pub use proxy::{ProxyMode, ProxyRequest, TestProxy};
pub use tls::{ServerCertificate, TestCa, Validity};

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The Run object the server answers for a non-streamed submission in the reference scenario:
/// the reference's first example, byte for byte.
pub const REFERENCE_RUN_JSON: &str = include_str!("../fixtures/run.json");

/// The event stream the server answers for a streamed submission in the reference scenario:
/// every `event:`/`data:` pair of the reference, each followed by a blank line, ending with
/// `event: done` / `data: [DONE]`.
pub const REFERENCE_STREAM: &str = include_str!("../fixtures/stream.sse");

/// The scenario tables of both routes (Markdown): the documentation of [`TestServer`], and
/// what `oairun-testserver --help` prints.
pub const SCENARIOS: &str = include_str!("scenarios.md");

/// `fixtures/responses/text.sse`: the streamed answer of the OpenAI-style text scenario (any
/// `model` not otherwise listed).
pub const RESPONSES_TEXT_SSE: &str = responses::TEXT_SSE;
/// `fixtures/responses/text.json`: the non-streamed answer of the text scenario.
pub const RESPONSES_TEXT_JSON: &str = responses::TEXT_JSON;
/// `fixtures/responses/function_call.sse`: the streamed `function_call` scenario.
pub const RESPONSES_FUNCTION_CALL_SSE: &str = responses::FUNCTION_CALL_SSE;
/// `fixtures/responses/function_call.json`: the non-streamed `function_call` scenario.
pub const RESPONSES_FUNCTION_CALL_JSON: &str = responses::FUNCTION_CALL_JSON;
/// `fixtures/responses/error_flat.sse`: the `error_flat` scenario.
pub const RESPONSES_ERROR_FLAT_SSE: &str = responses::ERROR_FLAT_SSE;
/// `fixtures/responses/error_nested.sse`: the `error_nested` scenario.
pub const RESPONSES_ERROR_NESTED_SSE: &str = responses::ERROR_NESTED_SSE;
/// `fixtures/responses/failed.sse`: the streamed `failed` scenario.
pub const RESPONSES_FAILED_SSE: &str = responses::FAILED_SSE;
/// `fixtures/responses/failed.json`: the non-streamed `failed` scenario.
pub const RESPONSES_FAILED_JSON: &str = responses::FAILED_JSON;
/// `fixtures/responses/incomplete.sse`: the streamed `incomplete` scenario.
pub const RESPONSES_INCOMPLETE_SSE: &str = responses::INCOMPLETE_SSE;
/// `fixtures/responses/incomplete.json`: the non-streamed `incomplete` scenario.
pub const RESPONSES_INCOMPLETE_JSON: &str = responses::INCOMPLETE_JSON;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method, as sent (e.g. `POST`).
    pub method: String,
    /// The request-target exactly as received on the wire (raw, still percent-encoded).
    pub target: String,
    /// The header fields as received, in order, names as sent (values with surrounding
    /// whitespace trimmed, as HTTP defines them).
    pub headers: Vec<(String, String)>,
    /// The body (empty when the server refused to read it, e.g. an over-long body).
    pub body: Vec<u8>,
    /// The percent-decoded thread id, when the path matched the `submit_tool_outputs` route.
    pub thread_id: Option<String>,
    /// The percent-decoded run id, when the path matched the `submit_tool_outputs` route.
    pub run_id: Option<String>,
    /// The body's `model` string, for a request to `/v1/responses` whose body is JSON with one.
    pub model: Option<String>,
    /// When the request had been read whole, on a monotonic clock that starts with the
    /// server: the gap between two requests' values is the time between their arrivals.
    pub received: Duration,
}

impl RecordedRequest {
    /// The value of the first header named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running test server on `127.0.0.1`.
///
/// It owns a dedicated tokio runtime on a background thread, so it works the same from
/// synchronous tests and from async tests (whatever runtime they use). Dropping it stops the
/// listener and every connection promptly.
///
/// See the scenario tables below: the same text `oairun-testserver --help` prints
/// ([`SCENARIOS`]).
///
#[doc = include_str!("scenarios.md")]
pub struct TestServer {
    port: u16,
    shared: Arc<server::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Set for an HTTPS server.
    tls: Option<Arc<tls::TlsCounts>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("port", &self.port)
            .finish()
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1` on a free port chosen by the system.
    ///
    /// # Panics
    /// If the loopback socket or the runtime cannot be created (a broken test environment).
    pub fn start() -> TestServer {
        TestServer::start_on(0).expect("oairun-testserver: cannot start on 127.0.0.1:0")
    }

    /// Starts a server on `127.0.0.1:port` (`0`: a free port chosen by the system).
    pub fn start_on(port: u16) -> std::io::Result<TestServer> {
        TestServer::start_with(port, None)
    }

    /// Starts an HTTPS server on `127.0.0.1` on a free port, presenting `certificate` (see
    /// [`TestCa`]); it serves the same scenarios as the plain server.
    ///
    /// # Panics
    /// As [`TestServer::start`], or if `certificate` cannot be used.
    pub fn start_https(certificate: &ServerCertificate) -> TestServer {
        TestServer::start_https_on(0, certificate)
            .expect("oairun-testserver: cannot start HTTPS on 127.0.0.1:0")
    }

    /// Starts an HTTPS server on `127.0.0.1:port` (`0`: a free port chosen by the system).
    pub fn start_https_on(
        port: u16,
        certificate: &ServerCertificate,
    ) -> std::io::Result<TestServer> {
        TestServer::start_with(port, Some(tls::acceptor(certificate)?))
    }

    fn start_with(
        port: u16,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<TestServer> {
        // Bind on the caller's thread so that a bind error is returned here, and the port is
        // known before this function returns (no race with a client connecting early).
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("oairun-testserver-worker")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let shared = Arc::new(server::Shared::new(port));
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let task_shared = Arc::clone(&shared);
        let counts = acceptor.as_ref().map(|_| Arc::default());
        let task_counts = counts.clone();
        let thread = std::thread::Builder::new()
            .name(format!("oairun-testserver-{port}"))
            .spawn(move || {
                let accept = async move {
                    match (acceptor, task_counts) {
                        (Some(acceptor), Some(counts)) => {
                            let shutdown = shutdown_rx;
                            tls::accept_loop(listener, task_shared, acceptor, counts, shutdown)
                                .await
                        }
                        _ => server::accept_loop(listener, task_shared, shutdown_rx).await,
                    }
                };
                runtime.block_on(accept);
                // Connection tasks (a stall, a slow stream) are cancelled here rather than
                // awaited: dropping them closes their sockets, so clients see the server go.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(TestServer {
            port,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
            tls: counts,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL to give a client: `http://127.0.0.1:{port}/v1`, or `https://…` for an
    /// HTTPS server.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/v1", self.port)
    }

    /// For an HTTPS server, `(connections accepted, TLS handshakes that failed)` so far:
    /// how many times a client tried, and how many times it refused the certificate (or left
    /// during the handshake). `(0, 0)` for a plain server.
    pub fn tls_connections(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering;
        self.tls.as_ref().map_or((0, 0), |c| {
            (
                c.accepted.load(Ordering::SeqCst),
                c.failed.load(Ordering::SeqCst),
            )
        })
    }

    /// Every request received so far (control requests excluded), in arrival order. A request
    /// is recorded before it is answered; one whose head could not be parsed is not recorded,
    /// one refused for its body (413, chunked) is recorded with an empty body.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The recorded requests whose decoded thread id is `thread_id`, in arrival order.
    pub fn requests_for(&self, thread_id: &str) -> Vec<RecordedRequest> {
        self.shared
            .requests()
            .into_iter()
            .filter(|r| r.thread_id.as_deref() == Some(thread_id))
            .collect()
    }

    /// The recorded `/v1/responses` requests whose body's `model` is `model`, in arrival order.
    pub fn requests_for_model(&self, model: &str) -> Vec<RecordedRequest> {
        self.shared
            .requests()
            .into_iter()
            .filter(|r| r.model.as_deref() == Some(model))
            .collect()
    }

    /// How many requests are being answered right now (control requests excluded; also
    /// `GET /_test/answering`): a stalled answer counts until the
    /// client goes away, so this shows that a client dropped its connection.
    pub fn answers_in_progress(&self) -> usize {
        self.shared.answering()
    }

    /// Forgets the recorded requests, which runs `ratelimit_once` has already refused, and the
    /// scripted models' runs and responses (stored or not), so the server behaves as if freshly
    /// started (except that new ids never repeat old ones). `POST /_test/reset` does the same.
    pub fn clear(&self) {
        self.shared.clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error only means the accept loop is already gone.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reference stream's events as `(name, data)` pairs, in order, parsed from
/// [`REFERENCE_STREAM`] (16 events, the last `("done", "[DONE]")`).
pub fn reference_events() -> Vec<(String, String)> {
    scenario::reference_blocks()
        .into_iter()
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_string();
                }
            }
            (name, data)
        })
        .collect()
}

/// The exact assistant text that the `long_<n>` (and `slow_<ms>_<n>`) scenario's deltas
/// concatenate to.
///
/// Delta `i` carries word `i` of a fixed 18-word cycle that includes non-ASCII text and
/// characters JSON must escape (`"`, `\`, tab, newline). The scenario's events are, in order:
/// the reference's `thread.run.step.created`, `thread.message.created` and
/// `thread.message.in_progress`; the `n` `thread.message.delta` events; then the reference's
/// `thread.message.completed` (unchanged, so the largest event stays small whatever `n` is),
/// `thread.run.completed` and `done`.
pub fn long_text(n: usize) -> String {
    (0..n).map(scenario::long_value).collect()
}

/// The `(name, data)` pairs a correct SSE decoder yields for the `odd_framing` scenario.
///
/// These are the reference events with two changes: the `thread.message.created` event's JSON
/// is sent as two `data:` lines (so its data contains one LF, after a comma between members,
/// and is still valid JSON), and the `" weather"` delta's value is `" weather ☀ très 🌤"`
/// (non-ASCII, split across chunks on the wire).
pub fn odd_framing_events() -> Vec<(String, String)> {
    odd::events()
}

/// The exact body chunks (before chunked transfer coding) the `odd_framing` scenario writes,
/// in order: useful to feed an SSE decoder the same awkward splits without a network.
pub fn odd_framing_chunks() -> Vec<Vec<u8>> {
    odd::chunks().into_iter().map(|(chunk, _)| chunk).collect()
}

/// The exact body (before chunked coding) a fixed `/v1/responses` scenario sends when
/// streamed, chosen by `model` as the server chooses it; for `hold_open` and `stall`, what is
/// sent before the connection is held. `None` for `status_<NNN>` and the scripted models.
pub fn responses_stream(model: &str) -> Option<String> {
    responses::stream_body(responses::Model::parse(model))
}

/// The `(name, data)` pairs a correct SSE decoder yields for [`responses_stream`]`(model)`:
/// the name is the `event:` field, or `message` where there is none (`no_event_lines`, and
/// the `[DONE]` of `done_style`). Empty where [`responses_stream`] is `None`.
pub fn responses_events(model: &str) -> Vec<(String, String)> {
    let Some(body) = responses_stream(model) else {
        return Vec::new();
    };
    body.split_inclusive("\n\n")
        .map(|block| {
            let mut name = "message".to_string();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_string();
                }
            }
            (name, data)
        })
        .collect()
}

/// The exact non-streamed body a fixed `/v1/responses` scenario answers (a Response object),
/// chosen by `model`. `None` for `stall`, `status_<NNN>` and the scripted models.
pub fn responses_json(model: &str) -> Option<String> {
    responses::json_body(responses::Model::parse(model))
}

/// The text the `long_<n>` `/v1/responses` scenario's `response.output_text.delta` events
/// concatenate to: the same word cycle as [`long_text`] (non-ASCII, `"`, `\\`, tab, newline),
/// so equal to `long_text(n)`.
pub fn responses_long_text(n: usize) -> String {
    long_text(n)
}

/// The calls the scripted tool-calling models (`tool_loop*`, both routes) ask for in turn 1,
/// in parallel, as `(name, arguments)`.
pub const TOOL_LOOP_TURN_1: [(&str, &str); 2] = tools::TURN_1;
/// The call they ask for in turn 2 (and `tool_loop_forever` in every later turn).
pub const TOOL_LOOP_TURN_2: [(&str, &str); 1] = tools::TURN_2;
/// The one pending call `(id, name, arguments)` of an Assistants run the server has not seen:
/// the first submission to a `tool_loop*` thread answers it.
pub const TOOL_LOOP_FIRST_RUN_CALL: (&str, &str, &str) = tools::FIRST_RUN_CALL;

/// The text of a scripted model's final answer, from every `(call_id, output)` it received,
/// in order: `Outputs: <call_id>=<output>; <call_id>=<output>.` (outputs verbatim; an output
/// given as an array of content parts appears as its JSON text).
pub fn tool_loop_text(outputs: &[(&str, &str)]) -> String {
    tools::loop_text(outputs)
}
