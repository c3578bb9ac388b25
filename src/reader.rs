//! Pull readers: a stream's events taken by the caller, one at a time or in batches, with a
//! time limit, and cancellable from any thread. Two sources feed a reader's [`Cursor`]:
//!
//! - [`Reader::direct`]: the caller's own thread reads the socket, inside `next`, over a
//!   connection of its own: opened on a current-thread runtime the reader owns, then read with
//!   one blocking `recv` per read (`wire.rs`); through a proxy, reqwest's (`Via::OwnConnection`)
//!   on that runtime. One wake-up per read, none per event: the blocking stream calls use it
//!   too.
//! - [`Reader::background`]: oairun's runtime reads ahead (up to [`READ_AHEAD_CHUNKS`] reads)
//!   into a queue the caller drains; an optional eventfd tells an event loop when to look.
//!
//! Either way the bytes become events, and the outcome is decided, by the one [`Cursor`], on
//! the caller's thread: the same rules as every other form.

use std::collections::VecDeque;
use std::future::Future;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;
use reqwest::Response;
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::api::Request;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::runtime;
use crate::stream::{self, cancelled_error, Applied, Cursor, Pumped, Sink, Step};
use crate::submission::{lock, panic_message};
use crate::transport::{timeout_error, transport_error, Transport, Via};
use crate::wire::{self, Read, Wire};

/// Reads a background reader's network half may be ahead of its caller: enough to keep the
/// socket busy between two calls, few enough that a slow caller slows the server instead of
/// growing memory.
const READ_AHEAD_CHUNKS: usize = 16;

/// What [`Reader::next`] gives.
pub(crate) enum Next {
    /// The next event.
    Event(Event),
    /// The stream is over, with this outcome (given again by every later call).
    Over(Result<()>),
    /// Nothing within the time limit; the stream goes on.
    Again,
}

/// What a reader shares with the threads that may cancel it, and with its network half.
pub(crate) struct Stop {
    /// Set by a cancel call.
    cancelled: AtomicBool,
    /// Set by a cancel call or once the outcome is known: the network half should end.
    ended: AtomicBool,
    wake: Notify,
    /// The task of a direct reader's waiting call (cheaper per read than a `Notify` waiter).
    waiting: AtomicWaker,
    /// A background reader's queue, whose waiting caller a cancel call wakes.
    queue: Option<Arc<Queue>>,
    /// A direct reader's own connection once it is open (`wire.rs`), shut down by a cancel
    /// call to end a waiting `recv`. Held here until then, so that the descriptor cannot be
    /// closed and reused under a cancel call.
    socket: Mutex<Option<Arc<TcpStream>>>,
}

impl Stop {
    fn new(queue: Option<Arc<Queue>>) -> Stop {
        Stop {
            cancelled: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            wake: Notify::new(),
            waiting: AtomicWaker::new(),
            queue,
            socket: Mutex::new(None),
        }
    }

    /// Hands over the socket that [`end`](Self::end) shuts down; shut down at once when the
    /// reader has ended already.
    fn attach(&self, socket: Arc<TcpStream>) {
        *lock(&self.socket) = Some(socket);
        if self.is_ended() {
            self.shut_down();
        }
    }

    fn shut_down(&self) {
        if let Some(socket) = lock(&self.socket).take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Cancels the reader: a waiting `next` returns at once, and the network half ends.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.end();
    }

    /// A descriptor that is readable while `next` would not wait (an event or the outcome is
    /// ready), for a background reader; `None` for a direct one. Made on the first call.
    pub(crate) fn ready_fd(&self) -> Result<Option<RawFd>> {
        self.queue.as_ref().map(|queue| queue.fd()).transpose()
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        // The queue first: once the network half is told, it may drop its end of the queue at
        // once, and a waiting caller must not find it abandoned before it is woken (see
        // Queue::pop).
        if let Some(queue) = &self.queue {
            queue.wake();
        }
        self.wake.notify_waiters();
        self.waiting.wake();
        self.shut_down();
    }

    fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Completes once the network half should end.
    async fn stopped(&self) {
        loop {
            // Created before the check, so a notify_waiters() in between is not missed.
            let notified = self.wake.notified();
            if self.is_ended() {
                return;
            }
            notified.await;
        }
    }
}

/// The pull reader of one stream (see the module's documentation).
pub(crate) struct Reader {
    stop: Arc<Stop>,
    /// Gone once the outcome is known: that drops the connection.
    source: Option<Source>,
    cursor: Option<Box<Cursor>>,
    /// A step the cursor gave ahead of its time, so that a background reader's descriptor can
    /// tell an event loop that events already read are waiting (see `look_ahead`).
    peeked: Option<Step>,
    outcome: Option<Result<()>>,
}

enum Source {
    Direct(Box<Direct>),
    Queued(Arc<Queue>),
}

impl Reader {
    /// A reader whose caller reads the socket (inside [`next`](Self::next)); nothing is sent
    /// before the first call. Its connection is its own: opened and read by `wire.rs` when no
    /// proxy applies, else by reqwest (`Via::OwnConnection`). Fails with `Internal` when the
    /// runtime cannot be built.
    pub(crate) fn direct(transport: Arc<Transport>, request: Request) -> Result<Reader> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::internal(format!("cannot start a stream's runtime: {e}")))?;
        let read_timeout = transport.read_timeout;
        let opening: Opening = Box::pin(async move {
            let max_event_bytes = transport.max_event_bytes;
            if let Some(config) = &transport.wire {
                let (wire, status, request_id) = wire::open(&transport, config, &request).await?;
                let cursor = Cursor::with_status(request.rule, max_event_bytes, status, request_id);
                return Ok((Body::Wire(Box::new(wire)), Box::new(cursor)));
            }
            let response = transport.open_stream(&request, Via::OwnConnection).await?;
            let cursor = Cursor::new(&response, request.rule, max_event_bytes);
            Ok((Body::Hyper(response), Box::new(cursor)))
        });
        Ok(Reader::with(
            Arc::new(Stop::new(None)),
            Source::Direct(Box::new(Direct {
                runtime: Some(runtime),
                opening: Some(opening),
                body: None,
                read_timeout,
                last_read: Instant::now(),
                timer: None,
            })),
        ))
    }

    /// A reader whose network half starts at once on oairun's runtime, reading ahead into a
    /// queue.
    pub(crate) fn background(transport: Arc<Transport>, request: Request) -> Reader {
        let queue = Arc::new(Queue::default());
        let stop = Arc::new(Stop::new(Some(queue.clone())));
        let sink = QueueSink {
            queue: queue.clone(),
            stop: stop.clone(),
        };
        let ended = stop.clone();
        runtime::get().spawn(async move {
            // Ends as soon as the reader no longer wants the stream (a cancel call, the
            // outcome, the reader freed), dropping the connection, whatever the network half is
            // doing: `pump` itself watches for it only once the answer has begun, not while it
            // connects, waits for the answer's headers or between two attempts.
            tokio::select! {
                biased;
                _ = ended.stopped() => {}
                _ = transport.pump(request, sink) => {}
            }
        });
        Reader::with(stop, Source::Queued(queue))
    }

    fn with(stop: Arc<Stop>, source: Source) -> Reader {
        Reader {
            stop,
            source: Some(source),
            cursor: None,
            peeked: None,
            outcome: None,
        }
    }

    /// What cancels this reader from any thread.
    pub(crate) fn stop(&self) -> &Arc<Stop> {
        &self.stop
    }

    /// True when [`next`](Self::next) reads the socket on the calling thread (and so must
    /// not be called inside a tokio runtime).
    pub(crate) fn is_direct(&self) -> bool {
        matches!(self.source, Some(Source::Direct(_)))
    }

    /// The next event, waiting for it at most `timeout` (`None`: as long as the read timeout
    /// allows); `Over` once the stream is over, with the same outcome at every later call.
    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> Next {
        let next = self.next_now(timeout);
        self.look_ahead();
        next
    }

    fn next_now(&mut self, timeout: Option<Duration>) -> Next {
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if let Some(next) = self.step() {
                return next;
            }
            let Some(source) = self.source.as_mut() else {
                return self.finish(Err(Error::internal("a stream went on after its end")));
            };
            let stop = &self.stop;
            let cursor = self.cursor.as_deref_mut();
            let message = catch_unwind(AssertUnwindSafe(|| source.message(until, stop, cursor)));
            let message = match message {
                Ok(message) => message,
                Err(panic) => {
                    return self.finish(Err(Error::internal(format!(
                        "the network half panicked: {}",
                        panic_message(&*panic)
                    ))))
                }
            };
            match message {
                Some(Took::Message(message)) => self.take(message),
                Some(Took::Step(step)) => {
                    if let Some(next) = self.next_of(step) {
                        return next;
                    }
                }
                // A cancel call: the next step says so.
                None if self.stop.is_cancelled() => {}
                None => return Next::Again,
            }
        }
    }

    /// Takes back an event this reader gave, once the caller is done with it (see
    /// [`Cursor::recycle`]).
    pub(crate) fn recycle(&mut self, event: Event) {
        self.recycle_buffer(event.into_data());
    }

    /// Takes back a buffer for reuse (see [`Cursor::recycle`]).
    pub(crate) fn recycle_buffer(&mut self, buffer: String) {
        if let Some(cursor) = self.cursor.as_mut() {
            cursor.recycle(buffer);
        }
    }

    /// A buffer to write into: an empty one of those taken back, if any.
    pub(crate) fn spare_buffer(&mut self) -> String {
        self.cursor
            .as_mut()
            .map_or_else(String::new, |cursor| cursor.spare_buffer())
    }

    /// Adds to `events` the next events, up to `max` of them: waits at most `timeout` for the
    /// first, then takes only those whose bytes are read already (see [`Batch`]). When the
    /// outcome is decided after some of them, the next call gives it.
    pub(crate) fn next_batch(
        &mut self,
        timeout: Option<Duration>,
        max: usize,
        events: &mut Vec<Event>,
    ) -> Batch {
        if max == 0 {
            return Batch::Events;
        }
        match self.next_now(timeout) {
            Next::Event(event) => events.push(event),
            Next::Over(outcome) => return Batch::Over(outcome),
            Next::Again => {
                self.look_ahead();
                return Batch::Again;
            }
        }
        while events.len() < max {
            // A reader on the caller's thread has nothing more without another read: when the
            // cursor holds nothing either, the batch is complete, and the caller gets it
            // without the cost of a step that finds nothing.
            if self.is_direct() && !self.cursor.as_ref().is_some_and(|c| c.may_step()) {
                break;
            }
            match self.step() {
                Some(Next::Event(event)) => events.push(event),
                Some(_) => break, // The outcome: given by the next call.
                None => match self.source.as_ref().and_then(Source::try_message) {
                    Some(message) => self.take(message),
                    None => break,
                },
            }
        }
        self.look_ahead();
        Batch::Events
    }

    /// For a background reader: takes the cursor's next step ahead of time, and keeps the
    /// descriptor readable while that step is an event or the outcome. Without it, the
    /// descriptor would say "nothing" while events of a read already taken wait in the
    /// cursor, and an event loop taking one event per wake-up would stall until more bytes
    /// came.
    fn look_ahead(&mut self) {
        let Some(Source::Queued(queue)) = &self.source else {
            return;
        };
        let queue = queue.clone();
        if self.peeked.is_none() && self.outcome.is_none() {
            if let Some(cursor) = self.cursor.as_mut() {
                match cursor.next() {
                    Step::More => {}
                    step => self.peeked = Some(step),
                }
            }
        }
        queue.set_pending(self.peeked.is_some());
    }

    /// The step the reader can take without more bytes: an event, the outcome, or `None`.
    fn step(&mut self) -> Option<Next> {
        if let Some(outcome) = &self.outcome {
            return Some(Next::Over(outcome.clone()));
        }
        if self.stop.is_cancelled() {
            return Some(self.finish(Err(cancelled_error())));
        }
        let step = match self.peeked.take() {
            Some(step) => step,
            None => self.cursor.as_mut()?.next(),
        };
        self.next_of(step)
    }

    /// What the cursor's `step` gives the caller: an event, the outcome, or `None` (more
    /// bytes are needed).
    fn next_of(&mut self, step: Step) -> Option<Next> {
        match step {
            Step::Event(event) => Some(Next::Event(event)),
            Step::Over(outcome) => Some(self.finish(outcome)),
            Step::More => None,
        }
    }

    /// Takes what the network half read.
    fn take(&mut self, message: Pumped) {
        if let Applied::Over(outcome) = stream::apply(&mut self.cursor, message) {
            self.finish(outcome);
        }
    }

    /// Records the outcome and drops the connection.
    fn finish(&mut self, outcome: Result<()>) -> Next {
        stream::log_end(self.cursor.as_deref(), &outcome);
        self.outcome = Some(outcome.clone());
        self.source = None;
        self.stop.end();
        Next::Over(outcome)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // A background reader's network half ends, dropping its connection.
        self.stop.end();
    }
}

/// What [`Reader::next_batch`] did.
pub(crate) enum Batch {
    /// Events were added (at least one, unless `max` was 0).
    Events,
    /// The stream is over, with this outcome; nothing was added.
    Over(Result<()>),
    /// Nothing within the time limit.
    Again,
}

impl Source {
    /// The next thing the network half read (or, for a direct reader, the step its cursor
    /// took already), waiting at most until `until`; `None` when that came first. Returns
    /// early, with `None`, on a cancel call (the caller checks for one).
    fn message(
        &mut self,
        until: Option<Instant>,
        stop: &Stop,
        cursor: Option<&mut Cursor>,
    ) -> Option<Took> {
        match self {
            Source::Direct(direct) => direct.message(until, stop, cursor),
            Source::Queued(queue) => queue.take(until, stop).map(Took::Message),
        }
    }

    /// What the network half has read already, without waiting.
    fn try_message(&self) -> Option<Pumped> {
        match self {
            Source::Direct(_) => None,
            Source::Queued(queue) => queue.try_take(),
        }
    }
}

/// What a reader's source gave.
enum Took {
    /// What the network half read, for the cursor.
    Message(Pumped),
    /// The step of a whole event that the cursor took as it was read (`Read::Event`).
    Step(Step),
}

type Opening = Pin<Box<dyn Future<Output = Result<(Body, Box<Cursor>)>> + Send>>;

/// A direct reader's answer, once its head is read.
enum Body {
    /// Read by reqwest, on the reader's runtime.
    Hyper(Response),
    /// Read by blocking calls on the caller's thread (`wire.rs`).
    Wire(Box<Wire>),
}

/// A stream read on its caller's thread: the runtime that polls its connection (until it is
/// open, for a `Body::Wire`), the request until it is answered, then the answer's body.
struct Direct {
    /// `Some` until dropped, or until a `Body::Wire` is open.
    runtime: Option<tokio::runtime::Runtime>,
    opening: Option<Opening>,
    body: Option<Body>,
    read_timeout: Duration,
    /// When the last byte arrived: the read timeout counts from there, across calls.
    last_read: Instant,
    /// The one timer of the waiting calls, moved only when it must be (see `Direct::wait`).
    timer: Option<Pin<Box<Sleep>>>,
}

enum Waited<T> {
    Done(T),
    Deadline,
    Stopped,
}

/// How far past a wait's limit the timer may be left rather than moved: a timer that fires
/// early is moved then, so each read need not move it.
const TIMER_SLACK: Duration = Duration::from_secs(1);

impl Direct {
    fn message(
        &mut self,
        until: Option<Instant>,
        stop: &Stop,
        cursor: Option<&mut Cursor>,
    ) -> Option<Took> {
        if let Some(mut opening) = self.opening.take() {
            let opened = match self.wait(opening.as_mut(), until, stop) {
                Waited::Done(Ok((body, cursor))) => {
                    if let Body::Wire(wire) = &body {
                        stop.attach(wire.socket());
                        // The socket has left it: nothing more for it to do. The timer goes
                        // first: it holds the runtime's driver (and its descriptors).
                        self.timer = None;
                        if let Some(runtime) = self.runtime.take() {
                            runtime.shutdown_background();
                        }
                    }
                    self.body = Some(body);
                    self.last_read = Instant::now();
                    Some(Pumped::Opened(Ok(cursor)))
                }
                Waited::Done(Err(error)) => Some(Pumped::Opened(Err(error))),
                Waited::Deadline | Waited::Stopped => {
                    self.opening = Some(opening);
                    None
                }
            };
            return opened.map(Took::Message);
        }
        // The read timeout runs from the last byte, whatever the calls' own limits.
        let read_until = self.last_read.checked_add(self.read_timeout);
        let limit = match (until, read_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut response = match self.body.take()? {
            Body::Hyper(response) => response,
            Body::Wire(mut wire) => {
                let read = match cursor {
                    Some(cursor) => wire.read(cursor, limit, &|| stop.is_ended()),
                    None => Read::Failed(Error::internal("a stream was read before it opened")),
                };
                self.body = Some(Body::Wire(wire));
                let pumped = match read {
                    Read::Event(step) => {
                        self.last_read = Instant::now();
                        return Some(Took::Step(step));
                    }
                    Read::Fed => {
                        self.last_read = Instant::now();
                        Some(Pumped::Fed)
                    }
                    Read::End => Some(Pumped::End),
                    Read::Failed(error) => Some(Pumped::Failed(error)),
                    Read::Deadline if read_until.is_some_and(|t| Instant::now() >= t) => {
                        Some(Pumped::Failed(timeout_error("no data", self.read_timeout)))
                    }
                    Read::Deadline | Read::Stopped => None,
                };
                return pumped.map(Took::Message);
            }
        };
        let waited = self.wait(response.chunk(), limit, stop);
        self.body = Some(Body::Hyper(response));
        let pumped = match waited {
            Waited::Done(Ok(Some(bytes))) => {
                self.last_read = Instant::now();
                Some(Pumped::Data(bytes))
            }
            Waited::Done(Ok(None)) => Some(Pumped::End),
            Waited::Done(Err(e)) => Some(Pumped::Failed(transport_error("the stream failed", &e))),
            Waited::Deadline if read_until.is_some_and(|t| Instant::now() >= t) => {
                Some(Pumped::Failed(timeout_error("no data", self.read_timeout)))
            }
            Waited::Deadline | Waited::Stopped => None,
        };
        pumped.map(Took::Message)
    }

    /// Runs the reader's runtime on this thread until `future` completes, `until` passes or
    /// the reader is stopped. When `until` has passed already, the runtime still gets two
    /// turns, so that bytes already in the socket are read: a zero time limit takes what is
    /// there.
    fn wait<F: Future>(
        &mut self,
        future: F,
        until: Option<Instant>,
        stop: &Stop,
    ) -> Waited<F::Output> {
        let Some(runtime) = self.runtime.as_ref() else {
            return Waited::Stopped;
        };
        let timer = &mut self.timer;
        runtime.block_on(async move {
            let stopped = std::future::poll_fn(|cx| {
                stop.waiting.register(cx.waker());
                if stop.is_ended() {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            });
            let deadline = async {
                let Some(until) = until else {
                    return std::future::pending().await;
                };
                if until <= Instant::now() {
                    // Each yield lets the runtime poll the socket once without blocking.
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                    return;
                }
                let until = tokio::time::Instant::from_std(until);
                let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                loop {
                    let set = timer.deadline();
                    if set > until || until - set > TIMER_SLACK {
                        timer.as_mut().reset(until);
                    }
                    timer.as_mut().await;
                    if tokio::time::Instant::now() >= until {
                        return;
                    }
                    // The timer was left early on purpose: it is moved to the limit now.
                    timer.as_mut().reset(until);
                }
            };
            tokio::select! {
                biased;
                _ = stopped => Waited::Stopped,
                output = future => Waited::Done(output),
                _ = deadline => Waited::Deadline,
            }
        })
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // The answer goes first, then the runtime with the connection's task, without waiting
        // for a name lookup that may still be running on one of its threads.
        self.body = None;
        self.opening = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A background reader's queue: what the network half read, waiting for the caller.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    /// Room in the queue, for the network half.
    space: Notify,
}

#[derive(Default)]
struct QueueState {
    items: VecDeque<Pumped>,
    /// The network half has ended (its sink is gone).
    sender_gone: bool,
    /// A cancel call or the outcome: nothing more will be taken.
    woken: bool,
    /// The reader holds a step it took ahead (see `Reader::look_ahead`).
    pending: bool,
    /// The eventfd, once asked for, and whether it is set.
    fd: Option<OwnedFd>,
    signalled: bool,
}

impl QueueState {
    /// Something for the caller in the queue itself.
    fn ready(&self) -> bool {
        !self.items.is_empty() || self.sender_gone || self.woken
    }

    /// Sets or clears the eventfd: set while the queue or the reader has something to take.
    fn update_fd(&mut self) {
        let want = self.ready() || self.pending;
        let Some(fd) = &self.fd else { return };
        if want == self.signalled {
            return;
        }
        let raw = fd.as_raw_fd();
        // SAFETY: raw is our open eventfd; the buffer is 8 bytes, as eventfd requires.
        unsafe {
            if want {
                let one: u64 = 1;
                libc::write(raw, (&one as *const u64).cast(), 8);
            } else {
                let mut value: u64 = 0;
                libc::read(raw, (&mut value as *mut u64).cast(), 8);
            }
        }
        self.signalled = want;
    }
}

impl Queue {
    fn push(&self, message: &mut Option<Pumped>) -> bool {
        let mut state = lock(&self.state);
        if state.items.len() >= READ_AHEAD_CHUNKS {
            return false;
        }
        if let Some(message) = message.take() {
            state.items.push_back(message);
        }
        state.update_fd();
        self.ready.notify_one();
        true
    }

    fn set_pending(&self, pending: bool) {
        let mut state = lock(&self.state);
        if state.pending != pending {
            state.pending = pending;
            state.update_fd();
        }
    }

    fn sender_gone(&self) {
        let mut state = lock(&self.state);
        state.sender_gone = true;
        state.update_fd();
        self.ready.notify_all();
    }

    fn wake(&self) {
        let mut state = lock(&self.state);
        state.woken = true;
        state.update_fd();
        self.ready.notify_all();
    }

    fn pop(&self, mut state: MutexGuard<'_, QueueState>) -> Option<Pumped> {
        let message = state.items.pop_front();
        if message.is_some() {
            self.space.notify_one();
        } else if state.sender_gone && !state.woken {
            // The network half ended without its last word (it panicked). Not so once woken:
            // a cancel call told it to end, and the caller finds the cancel.
            return Some(Pumped::Lost);
        }
        state.update_fd();
        message
    }

    fn take(&self, until: Option<Instant>, stop: &Stop) -> Option<Pumped> {
        let mut state = lock(&self.state);
        while !(state.ready() || stop.is_cancelled()) {
            state = match until {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
        self.pop(state)
    }

    fn try_take(&self) -> Option<Pumped> {
        self.pop(lock(&self.state))
    }

    /// The eventfd, made on the first call and set when something is ready already.
    fn fd(&self) -> Result<RawFd> {
        let mut state = lock(&self.state);
        if state.fd.is_none() {
            // SAFETY: eventfd takes no pointer; a non-negative result is a new descriptor we
            // then own.
            let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if raw < 0 {
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!(
                        "cannot make an eventfd: {}",
                        std::io::Error::last_os_error()
                    ),
                ));
            }
            // SAFETY: raw is a new descriptor nothing else owns.
            state.fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
            state.signalled = false;
            state.update_fd();
        }
        Ok(state.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd))
    }
}

/// The sink of a background reader: the queue, at most [`READ_AHEAD_CHUNKS`] reads deep.
struct QueueSink {
    queue: Arc<Queue>,
    stop: Arc<Stop>,
}

impl Sink for QueueSink {
    async fn send(&mut self, message: Pumped) -> bool {
        let mut message = Some(message);
        loop {
            // Made before the check: a pop's notify_one() in between leaves a permit.
            let space = self.queue.space.notified();
            if self.stop.is_ended() {
                return false;
            }
            if self.queue.push(&mut message) {
                return true;
            }
            tokio::select! {
                _ = space => {}
                _ = self.stop.stopped() => return false,
            }
        }
    }

    async fn closed(&self) {
        self.stop.stopped().await
    }
}

impl Drop for QueueSink {
    fn drop(&mut self) {
        self.queue.sender_gone();
    }
}
