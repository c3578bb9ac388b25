//! The Rust API: a [`Client`] that submits tool outputs, synchronously or streamed, in async
//! and blocking forms. It knows nothing of C.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Response, Url};
use tokio::sync::{mpsc, oneshot};

use crate::config::ClientOptions;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::event::{Event, EventKind};
use crate::log::{self, LogLevel};
use crate::retry;
use crate::runtime;
use crate::sse::Decoder;
use crate::submission::Submission;
use crate::tool_outputs::ToolOutputs;

/// How much of an error answer is read to find the API's error object.
const MAX_ERROR_BODY_BYTES: usize = 1 << 20;
/// Chunks in flight between the network task and a blocking stream's caller: enough to keep
/// the socket busy while a callback runs, small enough that a slow callback applies
/// back-pressure instead of growing memory.
const STREAM_CHANNEL_CHUNKS: usize = 16;

/// A client for one server and key. Cheap to clone (clones share the connection pool), and
/// usable from many threads at once; it never changes after creation.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    read_timeout: Duration,
    max_retries: u32,
    max_response_bytes: usize,
    max_event_bytes: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client from `options`, the environment and the defaults.
    ///
    /// Fails with `InvalidArgument` when there is no key, the base URL is not an absolute
    /// `http`/`https` URL, or a header name or value (the key, organization and project
    /// included) is not valid in HTTP.
    pub fn new(options: &ClientOptions) -> Result<Client> {
        let resolved = options.resolve()?;
        let base = parse_base_url(&resolved.base_url)?;
        if base.scheme() == "http" && !options.allow_insecure_http && !is_loopback(&base) {
            return Err(Error::invalid(format!(
                "plain http:// sends the API key in clear text: it is allowed only for loopback \
                 hosts (127.0.0.0/8, ::1, localhost) unless insecure HTTP is allowed in the \
                 options, not for {:?}",
                resolved.base_url
            )));
        }

        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", resolved.api_key))
            .map_err(|_| Error::invalid("the API key has characters not allowed in a header"))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            HeaderName::from_static("openai-beta"),
            HeaderValue::from_static("assistants=v2"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(org) = &resolved.organization {
            headers.insert(
                HeaderName::from_static("openai-organization"),
                header_value("organization", org)?,
            );
        }
        if let Some(project) = &resolved.project {
            headers.insert(
                HeaderName::from_static("openai-project"),
                header_value("project", project)?,
            );
        }
        for (name, value) in &options.headers {
            let (name, value) = validate_header(name, value)?;
            headers.insert(name, value);
        }

        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("oairun/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(resolved.connect_timeout)
            .tcp_nodelay(true)
            // A redirect would re-send the key to wherever a server points, and turn the POST
            // into a GET: a 3xx is reported as an HTTP status instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                timeout: resolved.timeout,
                read_timeout: resolved.read_timeout,
                max_retries: resolved.max_retries,
                max_response_bytes: resolved.max_response_bytes,
                max_event_bytes: resolved.max_event_bytes,
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The URL of the endpoint for these ids, each id one percent-encoded path segment.
    pub fn endpoint_url(&self, thread_id: &str, run_id: &str) -> Result<Url> {
        validate_id("thread_id", thread_id)?;
        validate_id("run_id", run_id)?;
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|_| Error::internal("the base URL cannot take a path"))?
            .pop_if_empty()
            .extend(["threads", thread_id, "runs", run_id, "submit_tool_outputs"]);
        Ok(url)
    }

    fn request(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
        stream: bool,
    ) -> Result<reqwest::RequestBuilder> {
        let url = self.endpoint_url(thread_id, run_id)?;
        if outputs.is_empty() {
            return Err(Error::invalid("tool outputs must hold at least one output"));
        }
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        Ok(self
            .inner
            .http
            .post(url)
            .header(ACCEPT, accept)
            .body(outputs.to_body(stream)))
    }

    /// Submits the outputs and returns the Run object's JSON text exactly as the server sent it.
    pub async fn submit_tool_outputs_async(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
    ) -> Result<String> {
        let request = self.request(thread_id, run_id, outputs, false)?;
        self.inner.clone().finish_sync(request).await
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
        refuse_inside_runtime()?;
        let request = self.request(thread_id, run_id, outputs, false)?;
        let inner = self.inner.clone();
        let (tx, rx) = oneshot::channel();
        runtime::get().spawn(async move {
            // The receiver only goes away if the caller's thread died; nothing to tell then.
            let _ = tx.send(inner.finish_sync(request).await);
        });
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(Error::internal("the request task ended without an answer")))
    }

    /// Submits the outputs with `"stream": true` and returns the stream of events once the
    /// server has answered with a 2xx `text/event-stream`.
    pub async fn submit_tool_outputs_stream_async(
        &self,
        thread_id: &str,
        run_id: &str,
        outputs: &ToolOutputs,
    ) -> Result<EventStream> {
        let request = self.request(thread_id, run_id, outputs, true)?;
        let response = self.inner.open_stream(request).await?;
        let state = StreamState::new(&response, self.inner.max_event_bytes);
        Ok(EventStream {
            response,
            state,
            read_timeout: self.inner.read_timeout,
            finished: false,
            pending: None,
        })
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
        mut on_event: F,
    ) -> Result<()>
    where
        F: FnMut(&Event) -> bool,
    {
        refuse_inside_runtime()?;
        let request = self.request(thread_id, run_id, outputs, true)?;
        let inner = self.inner.clone();
        let (tx, mut rx) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
        runtime::get().spawn(async move { inner.pump(request, ChannelSink(tx)).await });

        let mut consumer = StreamConsumer::default();
        let never_cancelled = || false;
        loop {
            let message = rx.blocking_recv().unwrap_or(Pumped::Lost);
            if let Some(outcome) = consumer.handle(message, &mut on_event, &never_cancelled) {
                return outcome;
            }
        }
    }
}

impl Client {
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
        let request = self.request(thread_id, run_id, outputs, false)?;
        let inner = self.inner.clone();
        Ok(Submission::call(
            Box::new(on_done),
            inner.finish_sync(request),
        ))
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
        let request = self.request(thread_id, run_id, outputs, true)?;
        let inner = self.inner.clone();
        Ok(Submission::stream(Box::new(on_event), |sink| async move {
            inner.pump(request, sink).await
        }))
    }
}

impl Inner {
    async fn finish_sync(self: Arc<Self>, request: reqwest::RequestBuilder) -> Result<String> {
        let mut response = self.send(request, false).await?;
        let http = (response.status().as_u16(), request_id(&response));
        let with_http = |e: Error| e.with_http(http.0, http.1.clone());
        let body = read_capped(&mut response, self.max_response_bytes)
            .await
            .map_err(with_http)?;
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(with_http(Error::protocol(
                    "the answer is JSON but not an object",
                )))
            }
            Err(e) => {
                return Err(with_http(Error::protocol(format!(
                    "the answer is not JSON: {e}"
                ))))
            }
        }
        String::from_utf8(body).map_err(|_| with_http(Error::protocol("the answer is not UTF-8")))
    }

    async fn open_stream(&self, request: reqwest::RequestBuilder) -> Result<Response> {
        let response = self.send(request, true).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("text/event-stream") {
            return Err(Error::protocol(format!(
                "a stream was asked for but the answer's content type is {content_type:?}, not text/event-stream"
            ))
            .with_http(response.status().as_u16(), request_id(&response)));
        }
        Ok(response)
    }

    /// Sends the request until it gets a 2xx answer or a failure not worth retrying, with up
    /// to `max_retries` retries (see `retry.rs`). Every attempt sends the same bytes. A
    /// stream is retried only here, before any of its events exists. A synchronous attempt
    /// is limited by the overall timeout, a stream's wait for its answer by the read timeout.
    async fn send(&self, request: reqwest::RequestBuilder, stream: bool) -> Result<Response> {
        let attempts = self.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let this_try = request
                .try_clone()
                .ok_or_else(|| Error::internal("the request cannot be repeated"))?;
            let url = log_url(&this_try);
            log::log(LogLevel::Info, || {
                let form = if stream { "streamed" } else { "synchronous" };
                format!("POST {url} ({form}, attempt {attempt} of {attempts})")
            });
            let started = Instant::now();
            let sent = if stream {
                match tokio::time::timeout(self.read_timeout, this_try.send()).await {
                    Ok(sent) => sent.map_err(|e| transport_error("request failed", &e)),
                    Err(_) => Err(timeout_error("no answer", self.read_timeout)),
                }
            } else {
                this_try
                    .timeout(self.timeout)
                    .send()
                    .await
                    .map_err(|e| transport_error("request failed", &e))
            };
            if let Ok(response) = &sent {
                log::log(LogLevel::Info, || {
                    let id = request_id(response).unwrap_or_else(|| "none".to_owned());
                    format!(
                        "HTTP {} from {url} after {} ms (request id {id})",
                        response.status().as_u16(),
                        started.elapsed().as_millis()
                    )
                });
            }
            let wait = match &sent {
                Ok(response) if response.status().is_success() => return sent,
                Ok(response) if retry::retriable_status(response.status()) => {
                    Some(retry::server_delay(response.headers(), SystemTime::now()))
                }
                Err(e) if matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout) => Some(None),
                _ => None,
            };
            match wait {
                Some(asked) if attempt <= self.max_retries => {
                    let delay = retry::delay(attempt, asked);
                    log::log(LogLevel::Warn, || {
                        let why = match &sent {
                            Ok(response) => format!("HTTP {}", response.status().as_u16()),
                            Err(error) => error.message().to_owned(),
                        };
                        format!(
                            "attempt {attempt} of {attempts} failed ({why}); retrying in {} ms",
                            delay.as_millis()
                        )
                    });
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    let error = match sent {
                        Ok(response) => status_error(response).await,
                        Err(error) => error,
                    };
                    let error = error.with_attempts(attempt);
                    log::log(LogLevel::Error, || {
                        format!("POST {url} failed: {}", error.message())
                    });
                    return Err(error);
                }
            }
        }
    }

    /// The network half of a stream: opens it, then forwards body chunks to `sink` until the
    /// body ends, fails, or the sink closes (then the response is dropped, which closes the
    /// connection).
    pub(crate) async fn pump(&self, request: reqwest::RequestBuilder, mut sink: impl Sink) {
        #[cfg(test)]
        if let Some(built) = request.try_clone().and_then(|r| r.build().ok()) {
            crate::test_hooks::panic_at("network", built.url().path());
        }
        let mut response = match self.open_stream(request).await {
            Ok(response) => response,
            Err(error) => {
                sink.send(Pumped::Opened(Err(error))).await;
                return;
            }
        };
        let state = StreamState::new(&response, self.max_event_bytes);
        if !sink.send(Pumped::Opened(Ok(state))).await {
            return;
        }
        loop {
            let chunk = tokio::select! {
                biased;
                _ = sink.closed() => return,
                chunk = tokio::time::timeout(self.read_timeout, response.chunk()) => chunk,
            };
            let message = match chunk {
                Ok(Ok(Some(bytes))) => Pumped::Data(bytes),
                Ok(Ok(None)) => Pumped::End,
                Ok(Err(e)) => Pumped::Failed(transport_error("the stream failed", &e)),
                Err(_) => Pumped::Failed(timeout_error("no data", self.read_timeout)),
            };
            let last = !matches!(message, Pumped::Data(_));
            if !sink.send(message).await || last {
                return;
            }
        }
    }
}

/// What the network half of a stream hands to the side that runs the callbacks.
pub(crate) enum Pumped {
    /// The answer's headers arrived: the stream is open, or it failed to open.
    Opened(Result<StreamState>),
    /// The next piece of the body.
    Data(Bytes),
    /// The body ended cleanly.
    End,
    /// The body failed part-way (a transport error or the read timeout).
    Failed(Error),
    /// The network half ended without a word (it panicked, or its channel closed).
    Lost,
}

/// Where the network half of a stream sends what it reads.
pub(crate) trait Sink: Send {
    /// Hands over `message`, waiting while the other side is behind; false when it has gone.
    fn send(&mut self, message: Pumped) -> impl std::future::Future<Output = bool> + Send;
    /// Completes when the other side no longer wants the stream.
    fn closed(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// The sink of a blocking stream: a bounded channel to the caller's thread.
struct ChannelSink(mpsc::Sender<Pumped>);

impl Sink for ChannelSink {
    async fn send(&mut self, message: Pumped) -> bool {
        self.0.send(message).await.is_ok()
    }

    async fn closed(&self) {
        self.0.closed().await
    }
}

/// The callback side of a stream, shared by the blocking form (on the caller's thread) and
/// the non-blocking one (on an oairun callback thread): turns what the network half sends into
/// events and the stream's outcome.
#[derive(Default)]
pub(crate) struct StreamConsumer {
    state: Option<StreamState>,
}

impl StreamConsumer {
    /// Handles one message, calling `on_event` for every complete event in it, unless
    /// `cancelled()` says to stop first. Returns `Some(outcome)` once the stream is over.
    pub(crate) fn handle(
        &mut self,
        message: Pumped,
        on_event: &mut dyn FnMut(&Event) -> bool,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Result<()>> {
        let outcome = self.outcome_of(message, on_event, cancelled)?;
        log::log(LogLevel::Debug, || {
            let events = self.state.as_ref().map_or(0, |state| state.delivered);
            match &outcome {
                Ok(()) => format!("stream complete after {events} events"),
                Err(error) => format!("stream ended after {events} events: {}", error.message()),
            }
        });
        Some(outcome)
    }

    fn outcome_of(
        &mut self,
        message: Pumped,
        on_event: &mut dyn FnMut(&Event) -> bool,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Result<()>> {
        let state = match (message, &mut self.state) {
            (Pumped::Opened(Ok(opened)), None) => {
                self.state = Some(opened);
                return None;
            }
            (Pumped::Opened(Err(error)), None) => return Some(Err(error)),
            (Pumped::Data(bytes), Some(state)) => {
                state.feed(&bytes);
                state
            }
            (Pumped::End, Some(state)) => return Some(Err(state.ended_early())),
            (Pumped::Failed(error), Some(state)) => return Some(Err(state.failed(error))),
            _ => {
                return Some(Err(Error::internal(
                    "the stream task ended without an answer",
                )))
            }
        };
        while let Some(event) = state.next_event() {
            let event = match event {
                Ok(event) => event,
                Err(error) => return Some(Err(error)),
            };
            if cancelled() {
                return Some(Err(cancelled_error()));
            }
            if !on_event(&event) {
                return Some(Err(Error::new(
                    ErrorKind::Cancelled,
                    "the event callback asked to stop the stream",
                )));
            }
            if let Some(outcome) = state.outcome_after(&event) {
                return Some(outcome);
            }
        }
        None
    }
}

/// The error of a submission stopped by a cancel call.
pub(crate) fn cancelled_error() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the submission was cancelled by a cancel call",
    )
}

/// The interpretation of a stream's bytes, shared by the async and blocking forms: decodes
/// events, enforces the event size cap, and says what each event means for the outcome.
pub(crate) struct StreamState {
    decoder: Decoder,
    max_event_bytes: usize,
    http_status: u16,
    request_id: Option<String>,
    delivered: u64,
}

impl StreamState {
    fn new(response: &Response, max_event_bytes: usize) -> StreamState {
        StreamState {
            decoder: Decoder::new(),
            max_event_bytes,
            http_status: response.status().as_u16(),
            request_id: request_id(response),
            delivered: 0,
        }
    }

    fn with_http(&self, error: Error) -> Error {
        error.with_http(self.http_status, self.request_id.clone())
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.decoder.feed(bytes);
    }

    /// The next complete event, or an error when the event being read is over the cap.
    fn next_event(&mut self) -> Option<Result<Event>> {
        let too_big = match self.decoder.next_event() {
            Some(event) if event.event.len() + event.data.len() <= self.max_event_bytes => {
                self.delivered += 1;
                return Some(Ok(Event::from(event)));
            }
            Some(_) => true,
            // Not complete yet: the part read so far must already fit.
            None => self.decoder.buffered_len() > self.max_event_bytes,
        };
        too_big.then(|| {
            Err(self.with_http(Error::protocol(format!(
                "an event is larger than the cap of {} bytes",
                self.max_event_bytes
            ))))
        })
    }

    /// What the stream's outcome is once `event` has been delivered: `Some` ends the stream.
    fn outcome_after(&self, event: &Event) -> Option<Result<()>> {
        match event.kind() {
            EventKind::Done => Some(Ok(())),
            EventKind::Error => {
                let api = ApiError::parse(event.data().as_bytes()).unwrap_or_default();
                let message = format!(
                    "the stream reported an error: {}",
                    api.message.as_deref().unwrap_or(event.data())
                );
                Some(Err(self.with_http(
                    Error::new(ErrorKind::StreamError, message).with_api(api),
                )))
            }
            _ => None,
        }
    }

    /// The error for a body that ended cleanly before `done`.
    fn ended_early(&mut self) -> Error {
        let partial = if self.decoder.finish() {
            " (an unterminated event was discarded)"
        } else {
            ""
        };
        self.with_http(Error::protocol(format!(
            "the stream ended after {} events without `done`{partial}",
            self.delivered
        )))
    }

    /// The error for a body that failed part-way (a transport error or the read timeout).
    fn failed(&self, error: Error) -> Error {
        let kind = match error.kind() {
            ErrorKind::Timeout => ErrorKind::Timeout,
            _ => ErrorKind::Protocol,
        };
        self.with_http(Error::new(
            kind,
            format!(
                "the stream broke off after {} events without `done`: {}",
                self.delivered,
                error.message()
            ),
        ))
    }
}

/// The events of a streamed submission, for async callers: call [`next`](Self::next) until it
/// returns `None`. Dropping it closes the connection.
pub struct EventStream {
    response: Response,
    state: StreamState,
    read_timeout: Duration,
    finished: bool,
    pending: Option<Error>,
}

impl EventStream {
    /// The next event, in wire order, `done` and `error` included; then, when the stream did
    /// not end with `done`, one `Err` saying why (`StreamError` after an `error` event,
    /// `Protocol` for a stream that ends early, `Timeout` for a read gap over the timeout);
    /// then `None`.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        if self.finished {
            return self.pending.take().map(Err);
        }
        loop {
            match self.state.next_event() {
                Some(Ok(event)) => {
                    if let Some(outcome) = self.state.outcome_after(&event) {
                        // The event is delivered now; an `error` event's outcome on the next call.
                        self.finished = true;
                        self.pending = outcome.err();
                    }
                    return Some(Ok(event));
                }
                Some(Err(error)) => return self.finish_with(error),
                None => {}
            }
            let chunk = tokio::time::timeout(self.read_timeout, self.response.chunk()).await;
            let error = match chunk {
                Ok(Ok(Some(bytes))) => {
                    self.state.feed(&bytes);
                    continue;
                }
                Ok(Ok(None)) => self.state.ended_early(),
                Ok(Err(e)) => self.state.failed(transport_error("the stream failed", &e)),
                Err(_) => self
                    .state
                    .failed(timeout_error("no data", self.read_timeout)),
            };
            return self.finish_with(error);
        }
    }

    /// The same events as a [`futures::Stream`], for use with stream combinators.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event>> + Send {
        futures::stream::unfold(self, |mut events| async move {
            events.next().await.map(|item| (item, events))
        })
    }

    fn finish_with(&mut self, error: Error) -> Option<Result<Event>> {
        self.finished = true;
        Some(Err(error))
    }
}

fn refuse_inside_runtime() -> Result<()> {
    if runtime::inside_runtime() {
        return Err(Error::invalid(
            "a blocking oairun call was made from inside a tokio runtime; use the _async form",
        ));
    }
    Ok(())
}

/// Parses a base URL: absolute, `http` or `https`, able to take a path, no fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url> {
    let base =
        Url::parse(text).map_err(|e| Error::invalid(format!("invalid base URL {text:?}: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(Error::invalid(format!(
            "the base URL must be an http:// or https:// URL, not {text:?}"
        )));
    }
    if base.fragment().is_some() {
        return Err(Error::invalid("the base URL must not have a #fragment"));
    }
    Ok(base)
}

/// True for hosts that never leave the machine: localhost, 127.0.0.0/8 and ::1.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn validate_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    // URL parsers resolve these as "this folder" and "parent folder" even percent-encoded,
    // so they can never reach a server as the one path segment they are.
    if id == "." || id == ".." {
        return Err(Error::invalid(format!("{what} must not be {id:?}")));
    }
    Ok(())
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::invalid(format!("the {what} has characters not allowed in a header")))
}

/// Checks an extra header's name and value (no CR, LF or other bytes HTTP forbids).
pub(crate) fn validate_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::invalid(format!("{name:?} is not a valid header name")))?;
    let header_value = header_value(&format!("value of header {name:?}"), value)?;
    Ok((header_name, header_value))
}

/// The URL a request goes to, as logged; empty when logging is off, so that building it
/// costs nothing then.
fn log_url(request: &reqwest::RequestBuilder) -> String {
    if !log::enabled(LogLevel::Error) {
        return String::new();
    }
    request
        .try_clone()
        .and_then(|r| r.build().ok())
        .map(|r| log::url_for_log(r.url()))
        .unwrap_or_default()
}

fn request_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An error for a failure below HTTP: the message carries reqwest's whole cause chain.
fn transport_error(what: &str, error: &reqwest::Error) -> Error {
    let mut message = format!("{what}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connect
    };
    Error::new(kind, message)
}

fn timeout_error(what: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{what} within the timeout of {} ms", limit.as_millis()),
    )
}

/// The error for a non-2xx answer, with the API's error fields when the body has them.
async fn status_error(mut response: Response) -> Error {
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let body = read_capped(&mut response, MAX_ERROR_BODY_BYTES)
        .await
        .unwrap_or_default();
    let api = ApiError::parse(&body).unwrap_or_default();
    let detail = match &api.message {
        Some(message) => message.clone(),
        None => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                response
                    .status()
                    .canonical_reason()
                    .unwrap_or("no body")
                    .to_owned()
            } else {
                text.chars().take(200).collect()
            }
        }
    };
    let message = match &request_id {
        Some(id) => format!("HTTP {status}: {detail} (request id {id})"),
        None => format!("HTTP {status}: {detail}"),
    };
    Error::new(ErrorKind::HttpStatus, message)
        .with_http(status, request_id)
        .with_api(api)
}

/// Reads the whole body, failing with `Protocol` as soon as it is known to exceed `cap`.
async fn read_capped(response: &mut Response, cap: usize) -> Result<Vec<u8>> {
    let too_big = || Error::protocol(format!("the answer is larger than the cap of {cap} bytes"));
    let mut body = Vec::new();
    if let Some(length) = response.content_length() {
        if length > cap as u64 {
            return Err(too_big());
        }
        body.reserve_exact(length as usize);
    }
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error("reading the answer failed", &e))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let cases: [(Change, &str); 5] = [
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
        ];
        for (change, expected) in cases {
            let err = with(change);
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains(expected), "{}", err.message());
            assert!(!err.message().contains("secret"), "{}", err.message());
        }
    }
}
