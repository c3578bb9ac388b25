//! The stream engine, for any endpoint: the network half (`Transport::pump` sends what it
//! reads to a [`Sink`]), the one pull [`Cursor`] that turns bytes into events and the outcome
//! under the endpoint's [`StreamRule`], and the callback half ([`StreamConsumer`]) that the
//! blocking and started forms share. The async form ([`EventStream`]) pulls the same cursor.
//! Every form runs its network half on oairun's own runtime: a connection is tied to the
//! runtime that opened it, so the pool must never hold one of a caller's runtime.

use bytes::Bytes;
use reqwest::Response;
use tokio::sync::mpsc;

use crate::api::StreamRule;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::log::{self, LogLevel};
use crate::sse::{Decoder, SseParts};
use crate::transport::request_id;

/// What the network half of a stream hands to the side that runs the callbacks.
pub(crate) enum Pumped {
    /// The answer's headers arrived: the stream is open, or it failed to open.
    Opened(Result<Box<Cursor>>),
    /// The next piece of the body.
    Data(Bytes),
    /// The next piece of the body went into the cursor already: a direct reader's own
    /// connection (`wire.rs`) feeds it as it reads.
    Fed,
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
pub(crate) struct ChannelSink(pub(crate) mpsc::Sender<Pumped>);

impl Sink for ChannelSink {
    async fn send(&mut self, message: Pumped) -> bool {
        self.0.send(message).await.is_ok()
    }

    async fn closed(&self) {
        self.0.closed().await
    }
}

/// One step of a stream, as the cursor sees it.
pub(crate) enum Step {
    /// The next event, to deliver.
    Event(Event),
    /// The stream is over, with this outcome; nothing follows.
    Over(Result<()>),
    /// More bytes are needed.
    More,
}

/// The one reading of a stream's bytes, shared by every form: decodes events, enforces the
/// event size cap, names events and decides the outcome by the endpoint's rule. Bytes go in
/// with [`feed`](Self::feed), [`end`](Self::end) or [`fail`](Self::fail); steps come out of
/// [`next`](Self::next).
pub(crate) struct Cursor {
    decoder: Decoder,
    rule: &'static dyn StreamRule,
    max_event_bytes: usize,
    http_status: u16,
    request_id: Option<String>,
    delivered: u64,
    /// The outcome decided by the last event handed out, given at the next step.
    decided: Option<Result<()>>,
    over: bool,
}

impl Cursor {
    pub(crate) fn new(
        response: &Response,
        rule: &'static dyn StreamRule,
        max_event_bytes: usize,
    ) -> Cursor {
        Cursor::with_status(
            rule,
            max_event_bytes,
            response.status().as_u16(),
            request_id(response),
        )
    }

    pub(crate) fn with_status(
        rule: &'static dyn StreamRule,
        max_event_bytes: usize,
        http_status: u16,
        request_id: Option<String>,
    ) -> Cursor {
        Cursor {
            decoder: Decoder::new(),
            rule,
            max_event_bytes,
            http_status,
            request_id,
            delivered: 0,
            decided: None,
            over: false,
        }
    }

    fn with_http(&self, error: Error) -> Error {
        error.with_http(self.http_status, self.request_id.clone())
    }

    /// Takes back a buffer of an event handed out (its data, or the text read from it) once
    /// its reader is done with it, for a later event's data or text.
    pub(crate) fn recycle(&mut self, buffer: String) {
        self.decoder.recycle(buffer);
    }

    /// An empty buffer of those taken back, if any (else a new, unallocated one).
    pub(crate) fn spare_buffer(&mut self) -> String {
        self.decoder.spare_buffer()
    }

    /// How many events were handed out.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Takes the next piece of the body.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if !self.over {
            self.decoder.feed(bytes);
        }
    }

    /// Whether [`next`](Self::next) may give an event or the outcome without more bytes:
    /// false once every byte fed is taken (the usual case after each read of a slow stream),
    /// which is cheaper to tell than a `next` that says `More`.
    pub(crate) fn may_step(&self) -> bool {
        !self.over && (self.decided.is_some() || self.decoder.buffered_len() > 0)
    }

    /// The next step. Once it has said `Over`, it says nothing more (`More` forever).
    pub(crate) fn next(&mut self) -> Step {
        if self.over {
            return Step::More;
        }
        if let Some(outcome) = self.decided.take() {
            return self.finish(outcome);
        }
        if let Some(sse) = self.decoder.next_parts() {
            let event = event_within(self.rule, self.max_event_bytes, sse);
            return self.give(event);
        }
        // Not complete yet: the part read so far must already fit.
        if self.decoder.buffered_len() > self.max_event_bytes {
            return self.give(None);
        }
        Step::More
    }

    /// The step for `bytes`, the whole of one read's content, when they are one whole event
    /// the decoder takes as it is (see [`Decoder::whole_event`]): the same step, and the same
    /// cursor after it, as [`feed`](Self::feed) then [`next`](Self::next) would give, in
    /// fewer steps. `None`, the cursor unchanged, for anything else: feed such bytes.
    pub(crate) fn whole_event(&mut self, bytes: &[u8]) -> Option<Step> {
        if self.over || self.decided.is_some() {
            return None;
        }
        let sse = self.decoder.whole_event(bytes)?;
        let event = event_within(self.rule, self.max_event_bytes, sse);
        Some(self.give(event))
    }

    /// The step for a decoded event (`None`: it was over the size cap): it is delivered,
    /// unless the rule refuses it, and decides the outcome when the rule says it does.
    fn give(&mut self, event: Option<Event>) -> Step {
        let Some(event) = event else {
            return self.too_big();
        };
        if let Some(error) = self.rule.refuse(&event) {
            return self.failed(error);
        }
        self.delivered += 1;
        if let Some(outcome) = self.rule.outcome_after(&event) {
            self.decided = Some(outcome.map_err(|e| self.with_http(e)));
        }
        Step::Event(event)
    }

    /// The outcome of an event over the size cap (kept out of the way of every other event's
    /// steps, as [`failed`](Self::failed)).
    #[cold]
    #[inline(never)]
    fn too_big(&mut self) -> Step {
        let error = Error::protocol(format!(
            "an event is larger than the cap of {} bytes",
            self.max_event_bytes
        ));
        self.failed(error)
    }

    /// The outcome of a stream that failed with `error`.
    #[cold]
    #[inline(never)]
    fn failed(&mut self, error: Error) -> Step {
        let error = self.with_http(error);
        self.finish(Err(error))
    }

    fn finish(&mut self, outcome: Result<()>) -> Step {
        self.over = true;
        Step::Over(outcome)
    }

    /// The outcome of a body that ended cleanly, once every step before has been taken: an
    /// event that decided the outcome still decides it; otherwise the stream ended early.
    pub(crate) fn end(&mut self) -> Result<()> {
        if let Some(outcome) = self.decided.take() {
            self.over = true;
            return outcome;
        }
        let partial = if self.decoder.finish() {
            " (an unterminated event was discarded)"
        } else {
            ""
        };
        self.over = true;
        Err(self.with_http(Error::protocol(format!(
            "the stream ended after {} events without {}{partial}",
            self.delivered,
            self.rule.terminal()
        ))))
    }

    /// The outcome of a body that failed part-way (a transport error or the read timeout).
    pub(crate) fn fail(&mut self, error: Error) -> Error {
        self.over = true;
        let kind = match error.kind() {
            ErrorKind::Timeout => ErrorKind::Timeout,
            _ => ErrorKind::Protocol,
        };
        self.with_http(Error::new(
            kind,
            format!(
                "the stream broke off after {} events without {}: {}",
                self.delivered,
                self.rule.terminal(),
                error.message()
            ),
        ))
    }
}

/// The event of `sse` under `rule`, or `None` when its type and data are over `max_bytes`.
fn event_within(rule: &dyn StreamRule, max_bytes: usize, sse: SseParts<'_>) -> Option<Event> {
    (sse.event.len() + sse.data.len() <= max_bytes).then(|| rule.event(sse))
}

/// What one message from the network half did to a stream's cursor ([`apply`]).
pub(crate) enum Applied<'a> {
    /// The stream opened, or more of its body went into the cursor: take its events.
    Fed(&'a mut Cursor),
    /// The stream is over, with this outcome.
    Over(Result<()>),
}

/// Applies `message` to a stream's cursor (`None` until the stream opens): the one rule of
/// every form of stream, readers and callback streams alike. A message out of order (a body
/// before the stream opened, a second opening) or a network half lost is an internal error.
pub(crate) fn apply(slot: &mut Option<Box<Cursor>>, message: Pumped) -> Applied<'_> {
    let lost = || {
        Applied::Over(Err(Error::internal(
            "the stream task ended without an answer",
        )))
    };
    if let Pumped::Opened(opened) = message {
        return match (opened, slot.is_none()) {
            (Ok(cursor), true) => Applied::Fed(slot.insert(cursor)),
            (Err(error), true) => Applied::Over(Err(error)),
            (_, false) => lost(),
        };
    }
    let Some(cursor) = slot.as_deref_mut() else {
        return lost();
    };
    match message {
        Pumped::Data(bytes) => {
            cursor.feed(&bytes);
            Applied::Fed(cursor)
        }
        Pumped::Fed => Applied::Fed(cursor),
        Pumped::End => Applied::Over(cursor.end()),
        Pumped::Failed(error) => Applied::Over(Err(cursor.fail(error))),
        Pumped::Opened(_) | Pumped::Lost => lost(),
    }
}

/// Logs how a stream ended (at debug level), after the events its cursor delivered.
pub(crate) fn log_end(cursor: Option<&Cursor>, outcome: &Result<()>) {
    log::log(LogLevel::Debug, || {
        let events = cursor.map_or(0, |cursor| cursor.delivered());
        match outcome {
            Ok(()) => format!("stream complete after {events} events"),
            Err(error) => format!("stream ended after {events} events: {}", error.message()),
        }
    });
}

/// The callback side of a stream, shared by the blocking form (on the caller's thread) and
/// the non-blocking one (on an oairun callback thread): feeds what the network half sends to
/// the cursor, and calls back for each event.
#[derive(Default)]
pub(crate) struct StreamConsumer {
    cursor: Option<Box<Cursor>>,
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
        log_end(self.cursor.as_deref(), &outcome);
        Some(outcome)
    }

    fn outcome_of(
        &mut self,
        message: Pumped,
        on_event: &mut dyn FnMut(&Event) -> bool,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Result<()>> {
        let cursor = match apply(&mut self.cursor, message) {
            Applied::Fed(cursor) => cursor,
            Applied::Over(outcome) => return Some(outcome),
        };
        loop {
            match cursor.next() {
                Step::Event(event) => {
                    if cancelled() {
                        return Some(Err(cancelled_error()));
                    }
                    if !on_event(&event) {
                        return Some(Err(Error::new(
                            ErrorKind::Cancelled,
                            "the event callback asked to stop the stream",
                        )));
                    }
                }
                Step::Over(outcome) => return Some(outcome),
                Step::More => return None,
            }
        }
    }
}

/// Not part of oairun's API (hidden from its documentation; it may change in any release):
/// the fuzz targets' way in. Runs a stream body that arrives as `reads` through one [`Cursor`]
/// under the Responses endpoint's rule and the event size cap `max_event_bytes`, the body then
/// ending cleanly, or failing as a reset connection does when `broken`. Returns every event
/// delivered, in order, and the outcome, as the blocking stream call gives them: the same
/// [`StreamConsumer`], for an answer with status 200 and no request id.
#[doc(hidden)]
pub fn responses_stream_over_reads(
    reads: &[&[u8]],
    broken: bool,
    max_event_bytes: usize,
) -> (Vec<Event>, Result<()>) {
    let cursor = Cursor::with_status(&crate::api::responses::Rule, max_event_bytes, 200, None);
    let last = if broken {
        Pumped::Failed(Error::new(
            ErrorKind::Connect,
            "connection reset by peer (os error 104)",
        ))
    } else {
        Pumped::End
    };
    let messages = std::iter::once(Pumped::Opened(Ok(Box::new(cursor))))
        .chain(
            reads
                .iter()
                .map(|read| Pumped::Data(Bytes::copy_from_slice(read))),
        )
        .chain(std::iter::once(last));
    let mut consumer = StreamConsumer::default();
    let mut events = Vec::new();
    let mut outcome = Err(Error::internal("the body gave no outcome"));
    for message in messages {
        let on_event = &mut |event: &Event| {
            events.push(event.clone());
            true
        };
        if let Some(over) = consumer.handle(message, on_event, &|| false) {
            outcome = over;
            break;
        }
    }
    (events, outcome)
}

/// The error of a submission stopped by a cancel call.
pub(crate) fn cancelled_error() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the submission was cancelled by a cancel call",
    )
}

/// The events of a stream, for async callers: call [`next`](Self::next) until it returns
/// `None`. The network half runs on oairun's own runtime, so any executor may poll it.
/// Dropping it closes the connection.
pub struct EventStream {
    rx: mpsc::Receiver<Pumped>,
    cursor: Box<Cursor>,
    finished: bool,
}

impl EventStream {
    /// Waits for the stream to open: the first message of the network half.
    pub(crate) async fn open(mut rx: mpsc::Receiver<Pumped>) -> Result<EventStream> {
        match rx.recv().await {
            Some(Pumped::Opened(Ok(cursor))) => Ok(EventStream {
                rx,
                cursor,
                finished: false,
            }),
            Some(Pumped::Opened(Err(error))) => Err(error),
            _ => Err(Error::internal("the stream task ended without an answer")),
        }
    }

    /// The next event, in wire order, the terminal event included (`done` for Assistants;
    /// `response.completed`, `response.incomplete`, `response.failed` or `error` for
    /// Responses); then, when the stream did not end well, one `Err` saying why
    /// (`StreamError` after an `error` or failed event, `Protocol` for a stream that ends
    /// early, `Timeout` for a read gap over the timeout); then `None`. Nothing after the
    /// terminal event is read: the connection may stay open.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        if self.finished {
            return None;
        }
        loop {
            match self.cursor.next() {
                Step::Event(event) => return Some(Ok(event)),
                Step::Over(outcome) => return self.finish(outcome),
                Step::More => {}
            }
            let outcome = match self.rx.recv().await {
                Some(Pumped::Data(bytes)) => {
                    self.cursor.feed(&bytes);
                    continue;
                }
                Some(Pumped::End) => self.cursor.end(),
                Some(Pumped::Failed(error)) => Err(self.cursor.fail(error)),
                _ => Err(Error::internal("the stream task ended without an answer")),
            };
            return self.finish(outcome);
        }
    }

    /// The same events as a [`futures::Stream`], for use with stream combinators.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event>> + Send {
        futures::stream::unfold(self, |mut events| async move {
            events.next().await.map(|item| (item, events))
        })
    }

    fn finish(&mut self, outcome: Result<()>) -> Option<Result<Event>> {
        self.finished = true;
        outcome.err().map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor::with_status(&crate::api::responses::Rule, 1 << 20, 200, None)
    }

    const DELTA: &str = "event: response.output_text.delta\n\
                         data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n";
    const COMPLETED: &str = "event: response.completed\n\
                             data: {\"type\":\"response.completed\",\"response\":{}}\n\n";

    #[test]
    fn may_step_says_whether_fed_bytes_are_left() {
        let mut cursor = cursor();
        assert!(!cursor.may_step(), "nothing fed yet");
        let (head, tail) = DELTA.split_at(20);
        cursor.feed(head.as_bytes());
        assert!(cursor.may_step(), "part of an event is buffered");
        assert!(matches!(cursor.next(), Step::More));
        cursor.feed(tail.as_bytes());
        assert!(matches!(cursor.next(), Step::Event(_)));
        assert!(!cursor.may_step(), "every byte fed was taken");

        cursor.feed(format!("{DELTA}{DELTA}").as_bytes());
        assert!(matches!(cursor.next(), Step::Event(_)));
        assert!(cursor.may_step(), "a second event is buffered");
        assert!(matches!(cursor.next(), Step::Event(_)));
        assert!(!cursor.may_step());
    }

    #[test]
    fn may_step_counts_an_outcome_decided_by_the_last_event() {
        let mut cursor = cursor();
        cursor.feed(COMPLETED.as_bytes());
        assert!(matches!(cursor.next(), Step::Event(_)));
        assert!(cursor.may_step(), "the outcome is the next step");
        assert!(matches!(cursor.next(), Step::Over(Ok(()))));
        assert!(!cursor.may_step(), "nothing follows the outcome");
    }
}
