//! The Rust API: a [`Client`] that sends any endpoint's request, synchronously or streamed, in
//! blocking, async and started (non-blocking) forms, with thin named wrappers for each
//! endpoint. It knows nothing of C.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::api::{assistants, responses, Request};
use crate::config::ClientOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::reader::{Next, Reader};
use crate::runtime;
use crate::stream::{ChannelSink, EventStream, Pumped};
use crate::submission::Submission;
use crate::tool_outputs::ToolOutputs;
use crate::transport::Transport;
use crate::ResponseRequest;

pub(crate) use crate::transport::{parse_base_url, validate_header};

/// Chunks in flight between the network task and an async stream's caller: enough to keep
/// the socket busy while a callback runs, small enough that a slow callback applies
/// back-pressure instead of growing memory.
const STREAM_CHANNEL_CHUNKS: usize = 16;

/// A client for one server and key. Cheap to clone (clones share the connection pool), and
/// usable from many threads at once; it never changes after creation.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

/// The generic forms, for any endpoint's request.
impl Client {
    /// Builds a client from `options`, the environment and the defaults.
    ///
    /// Fails with `InvalidArgument` when there is no key, the base URL is not an absolute
    /// `http`/`https` URL, a header name or value (the key, organization and project
    /// included) is not valid in HTTP, the proxy URL is invalid, or `SSL_CERT_FILE` (or
    /// `SSL_CERT_DIR`) is set but cannot be read or holds no certificate.
    pub fn new(options: &ClientOptions) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(Transport::new(options)?),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Runs the request on oairun's runtime (whatever runtime the caller is in: connections
    /// are tied to the runtime that opened them) and hands back the answer's receiver.
    fn spawn_call(&self, request: Request) -> oneshot::Receiver<Result<String>> {
        let inner = self.inner.clone();
        let (tx, rx) = oneshot::channel();
        runtime::get().spawn(async move {
            // The receiver only goes away if the caller gave up; nothing to tell then.
            let _ = tx.send(inner.call(request).await);
        });
        rx
    }

    async fn call_async(&self, request: Request) -> Result<String> {
        self.spawn_call(request)
            .await
            .unwrap_or_else(|_| Err(Error::internal("the request task ended without an answer")))
    }

    fn call(&self, request: Result<Request>) -> Result<String> {
        refuse_inside_runtime()?;
        self.spawn_call(request?)
            .blocking_recv()
            .unwrap_or_else(|_| Err(Error::internal("the request task ended without an answer")))
    }

    fn call_start(
        &self,
        request: Request,
        on_done: impl FnOnce(Result<String>) + Send + 'static,
    ) -> Submission {
        Submission::call(Box::new(on_done), self.inner.clone().call(request))
    }

    /// Starts the network half of a stream on oairun's runtime, pumping into a channel.
    fn spawn_pump(&self, request: Request) -> mpsc::Receiver<Pumped> {
        let inner = self.inner.clone();
        let (tx, rx) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
        runtime::get().spawn(async move { inner.pump(request, ChannelSink(tx)).await });
        rx
    }

    async fn stream_async(&self, request: Request) -> Result<EventStream> {
        EventStream::open(self.spawn_pump(request)).await
    }

    /// The blocking stream: this thread reads the socket (see `reader.rs`) and runs the
    /// callbacks, outside any runtime, between reads.
    fn stream<F>(&self, request: Result<Request>, mut on_event: F) -> Result<()>
    where
        F: FnMut(&Event) -> bool,
    {
        refuse_inside_runtime()?;
        let mut reader = Reader::direct(self.inner.clone(), request?)?;
        loop {
            match reader.next(None) {
                Next::Event(event) => {
                    if !on_event(&event) {
                        return Err(Error::new(
                            ErrorKind::Cancelled,
                            "the event callback asked to stop the stream",
                        ));
                    }
                    reader.recycle(event);
                }
                Next::Over(outcome) => return outcome,
                Next::Again => {}
            }
        }
    }

    /// A pull reader of the stream `request` asks for: read on the caller's thread, or, when
    /// `background`, on oairun's runtime.
    fn reader(&self, request: Request, background: bool) -> Result<Reader> {
        if background {
            Ok(Reader::background(self.inner.clone(), request))
        } else {
            Reader::direct(self.inner.clone(), request)
        }
    }

    fn stream_start(
        &self,
        request: Request,
        on_event: impl FnMut(&Event) -> bool + Send + 'static,
    ) -> Submission {
        let inner = self.inner.clone();
        Submission::stream(Box::new(on_event), |sink| async move {
            inner.pump(request, sink).await
        })
    }

    fn assistants(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        stream: bool,
    ) -> Result<Request> {
        assistants::request(&self.inner.base, thread_id, run_id, outputs, stream)
    }

    fn responses(&self, request: &ResponseRequest, stream: bool) -> Result<Request> {
        responses::request(&self.inner.base, request, stream)
    }
}

/// The Assistants endpoint: `POST {base}/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`.
impl Client {
    /// The URL of the endpoint for these ids, each id one percent-encoded path segment.
    pub fn endpoint_url(&self, thread_id: &str, run_id: &str) -> Result<reqwest::Url> {
        assistants::url(&self.inner.base, thread_id, run_id)
    }

    /// Submits the outputs and returns the Run object's JSON text exactly as the server sent it.
    pub async fn submit_tool_outputs_async(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
    ) -> Result<String> {
        self.call_async(self.assistants(thread_id, run_id, outputs, false)?)
            .await
    }

    /// The blocking form of [`submit_tool_outputs_async`](Self::submit_tool_outputs_async):
    /// the request runs on the shared runtime while this thread waits. Must not be called from
    /// inside a tokio runtime (that is an `InvalidArgument` error, not a deadlock).
    pub fn submit_tool_outputs(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
    ) -> Result<String> {
        self.call(self.assistants(thread_id, run_id, outputs, false))
    }

    /// Submits the outputs with `"stream": true` and returns the stream of events once the
    /// server has answered with a 2xx `text/event-stream`.
    pub async fn submit_tool_outputs_stream_async(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
    ) -> Result<EventStream> {
        self.stream_async(self.assistants(thread_id, run_id, outputs, true)?)
            .await
    }

    /// Submits the outputs with `"stream": true` and calls `on_event` on this thread for every
    /// event as it arrives, in wire order, `done` included. `on_event` returns `true` to go on
    /// and `false` to stop (the connection is dropped and the call returns `Cancelled`).
    ///
    /// Returns `Ok(())` after `done`; `StreamError` after delivering an `error` event;
    /// `Protocol` when the stream ends before `done`; `HttpStatus` for a non-2xx answer.
    /// Must not be called from inside a tokio runtime; `on_event` itself runs outside any
    /// runtime and may make other oairun calls, including new submissions.
    pub fn submit_tool_outputs_stream<F>(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        on_event: F,
    ) -> Result<()>
    where
        F: FnMut(&Event) -> bool,
    {
        self.stream(self.assistants(thread_id, run_id, outputs, true), on_event)
    }

    /// Starts [`submit_tool_outputs`](Self::submit_tool_outputs) without waiting: `on_done` is
    /// called once, on an oairun callback thread, with the Run object's JSON text or the
    /// error (`Cancelled` when [`Submission::cancel`] came first). The arguments are copied;
    /// the returned [`Submission`] cancels or waits for the call, and dropping it cancels.
    ///
    /// Fails at once, calling nothing, with `InvalidArgument` for bad ids or empty outputs.
    pub fn submit_tool_outputs_start(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        on_done: impl FnOnce(Result<String>) + Send + 'static,
    ) -> Result<Submission> {
        let request = self.assistants(thread_id, run_id, outputs, false)?;
        Ok(self.call_start(request, on_done))
    }

    /// Starts [`submit_tool_outputs_stream`](Self::submit_tool_outputs_stream) without
    /// waiting: `on_event` is called for every event, in wire order and one at a time, on an
    /// oairun callback thread (the same one for every event of this stream), `done` included;
    /// returning `false` stops the stream with `Cancelled`. The arguments are copied; the
    /// returned [`Submission`] cancels or waits for the stream, and dropping it cancels.
    ///
    /// Fails at once, calling nothing, with `InvalidArgument` for bad ids or empty outputs.
    pub fn submit_tool_outputs_stream_start(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        on_event: impl FnMut(&Event) -> bool + Send + 'static,
    ) -> Result<Submission> {
        let request = self.assistants(thread_id, run_id, outputs, true)?;
        Ok(self.stream_start(request, on_event))
    }
}

/// Assistants: the pull reader.
impl Client {
    /// A pull reader of [`submit_tool_outputs_stream`](Self::submit_tool_outputs_stream)'s
    /// events (the C API's `oairun_submit_tool_outputs_stream_open`).
    pub(crate) fn submit_tool_outputs_reader(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        background: bool,
    ) -> Result<Reader> {
        self.reader(
            self.assistants(thread_id, run_id, outputs, true)?,
            background,
        )
    }
}

/// The Responses endpoint: `POST {base}/responses`.
impl Client {
    /// Creates a response and returns the Response object's JSON text exactly as the server
    /// sent it. Fails at once with `InvalidArgument` when `request` has no input item.
    pub async fn create_response_async(&self, request: &ResponseRequest) -> Result<String> {
        self.call_async(self.responses(request, false)?).await
    }

    /// The blocking form of [`create_response_async`](Self::create_response_async); must not be
    /// called from inside a tokio runtime.
    pub fn create_response(&self, request: &ResponseRequest) -> Result<String> {
        self.call(self.responses(request, false))
    }

    /// Creates a response with `"stream": true` and returns its events once the server has
    /// answered with a 2xx `text/event-stream`.
    pub async fn create_response_stream_async(
        &self,
        request: &ResponseRequest,
    ) -> Result<EventStream> {
        self.stream_async(self.responses(request, true)?).await
    }

    /// Creates a response with `"stream": true` and calls `on_event` on this thread for every
    /// event as it arrives (events sent without an `event:` line are named by their JSON
    /// `type`). Returns as soon as the terminal event has been delivered, whatever the
    /// connection does next: `Ok(())` after `response.completed` or `response.incomplete`;
    /// `StreamError` after `response.failed` or an `error` event (flat or nested); `Protocol`
    /// when the stream ends, or sends `[DONE]`, before any of them; `Cancelled` when
    /// `on_event` returned `false`.
    pub fn create_response_stream<F>(&self, request: &ResponseRequest, on_event: F) -> Result<()>
    where
        F: FnMut(&Event) -> bool,
    {
        self.stream(self.responses(request, true), on_event)
    }

    /// A pull reader of [`create_response_stream`](Self::create_response_stream)'s events
    /// (the C API's `oairun_create_response_stream_open`).
    pub(crate) fn create_response_reader(
        &self,
        request: &ResponseRequest,
        background: bool,
    ) -> Result<Reader> {
        self.reader(self.responses(request, true)?, background)
    }

    /// Starts [`create_response`](Self::create_response) without waiting, as
    /// [`submit_tool_outputs_start`](Self::submit_tool_outputs_start) does.
    pub fn create_response_start(
        &self,
        request: &ResponseRequest,
        on_done: impl FnOnce(Result<String>) + Send + 'static,
    ) -> Result<Submission> {
        Ok(self.call_start(self.responses(request, false)?, on_done))
    }

    /// Starts [`create_response_stream`](Self::create_response_stream) without waiting, as
    /// [`submit_tool_outputs_stream_start`](Self::submit_tool_outputs_stream_start) does.
    pub fn create_response_stream_start(
        &self,
        request: &ResponseRequest,
        on_event: impl FnMut(&Event) -> bool + Send + 'static,
    ) -> Result<Submission> {
        Ok(self.stream_start(self.responses(request, true)?, on_event))
    }
}

pub(crate) fn refuse_inside_runtime() -> Result<()> {
    if runtime::inside_runtime() {
        return Err(Error::invalid(
            "a blocking oairun call was made from inside a tokio runtime; use the _async form",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn client(base: &str) -> Client {
        Client::new(&ClientOptions {
            api_key: Some("k".into()),
            base_url: Some(base.into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn ids_are_single_percent_encoded_segments() {
        let c = client("http://127.0.0.1:9/v1/");
        let url = c.endpoint_url("a/../b?c#d e", "é").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/v1/threads/a%2F..%2Fb%3Fc%23d%20e/runs/%C3%A9/submit_tool_outputs"
        );
        for bad in ["", ".", ".."] {
            let err = c.endpoint_url(bad, "r").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
        assert!(c.endpoint_url("...", "%").is_ok());
    }

    #[test]
    fn plain_http_only_for_loopback_unless_allowed() {
        for ok in [
            "http://127.0.0.1:9/v1",
            "http://127.9.9.9/v1",
            "http://[::1]:9/v1",
            "http://LOCALHOST/v1",
            "https://api.example.test/v1",
        ] {
            assert!(
                Client::new(&ClientOptions {
                    api_key: Some("k".into()),
                    base_url: Some(ok.into()),
                    ..Default::default()
                })
                .is_ok(),
                "{ok}"
            );
        }
        for refused in [
            "http://10.0.0.1/v1",
            "http://api.example.test/v1",
            "http://localhost.example.test/v1",
            "http://[::2]/v1",
        ] {
            let mut options = ClientOptions {
                api_key: Some("k".into()),
                base_url: Some(refused.into()),
                ..Default::default()
            };
            let err = Client::new(&options).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{refused}");
            assert!(err.message().contains("clear text"), "{}", err.message());
            options.allow_insecure_http = true;
            assert!(Client::new(&options).is_ok(), "{refused}");
        }
    }

    #[test]
    fn base_url_query_is_kept_after_the_path() {
        let c = client("https://example.test/openai?api-version=1");
        let url = c.endpoint_url("t", "r").unwrap();
        assert_eq!(
            url.as_str(),
            "https://example.test/openai/threads/t/runs/r/submit_tool_outputs?api-version=1"
        );
    }

    #[test]
    fn bad_options_are_invalid_arguments() {
        let with = |f: &dyn Fn(&mut ClientOptions)| {
            let mut options = ClientOptions {
                api_key: Some("k".into()),
                base_url: Some("http://127.0.0.1:9/v1".into()),
                ..Default::default()
            };
            f(&mut options);
            Client::new(&options).unwrap_err()
        };
        type Change<'a> = &'a dyn Fn(&mut ClientOptions);
        let cases: [(Change, &str); 7] = [
            (
                &|o| o.base_url = Some("ftp://x/v1".into()),
                "http:// or https://",
            ),
            (
                &|o| o.base_url = Some("not a url".into()),
                "invalid base URL",
            ),
            (&|o| o.api_key = Some("sk-\nsecret".into()), "API key"),
            (
                &|o| o.headers.push(("X-Ok".into(), "a\r\nInjected: 1".into())),
                "X-Ok",
            ),
            (
                &|o| o.headers.push(("Bad Name".into(), "v".into())),
                "not a valid header name",
            ),
            (
                &|o| o.headers.push(("Content-Length".into(), "3".into())),
                "\"Content-Length\" is oairun's to send",
            ),
            (
                &|o| {
                    o.headers
                        .push(("transfer-ENCODING".into(), "chunked".into()))
                },
                "\"transfer-ENCODING\" is oairun's to send",
            ),
        ];
        for (change, expected) in cases {
            let err = with(change);
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains(expected), "{}", err.message());
            assert!(!err.message().contains("secret"), "{}", err.message());
        }
    }
}
