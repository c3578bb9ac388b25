//! Non-blocking submissions: the request runs on the shared runtime, its callbacks on a lane
//! (see `lanes.rs`), and the caller keeps a [`Submission`] to cancel it or wait for it.
//!
//! Everything that decides the outcome runs on the submission's lane, in order: the network
//! task only forwards what it reads. Cancelling sets a flag that the lane checks, under the
//! same lock as the callbacks run under, before every callback; and it wakes the network task,
//! which drops the connection and sends the lane a last message so that the outcome is known
//! at once, even while the server stalls.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};

use futures::FutureExt;
use tokio::sync::{Notify, Semaphore};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::lanes::{self, Lane};
use crate::runtime;
use crate::stream::{cancelled_error, Pumped, Sink, StreamConsumer};

/// Chunks read ahead of a stream's callbacks: enough to keep the socket busy while a callback
/// runs, few enough that a slow callback slows the server instead of growing memory.
const READ_AHEAD_CHUNKS: usize = 16;

/// A submission in flight, started by
/// [`Client::submit_tool_outputs_start`](crate::Client::submit_tool_outputs_start) or
/// [`Client::submit_tool_outputs_stream_start`](crate::Client::submit_tool_outputs_stream_start).
/// Dropping it cancels the submission, unless it was [detached](Self::detach).
pub struct Submission {
    shared: Arc<Shared>,
    detached: bool,
}

pub(crate) type OnEvent = Box<dyn FnMut(&Event) -> bool + Send>;
pub(crate) type OnDone = Box<dyn FnOnce(Result<String>) + Send>;

struct Shared {
    lane: Lane,
    /// Set by a cancel call.
    cancelled: AtomicBool,
    /// Set by a cancel call or once the outcome is known: the network task should end.
    stop: AtomicBool,
    wake: Notify,
    /// The callbacks, until the outcome is known; locked while one runs.
    work: Mutex<Option<Work>>,
    outcome: Mutex<Option<Result<()>>>,
    finished: Condvar,
}

enum Work {
    Stream {
        consumer: StreamConsumer,
        on_event: OnEvent,
    },
    Call {
        on_done: Option<OnDone>,
    },
}

/// What the network task tells the lane.
enum Message {
    Stream(Pumped),
    Answer(Result<String>),
    /// The task ended because of a cancel call, or panicked.
    Ended(Error),
}

/// Locks `mutex`, ignoring poisoning: every critical section of submissions and readers leaves
/// the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl Shared {
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }

    /// Completes once the network task should end.
    async fn stopped(&self) {
        loop {
            // Created before the check, so a notify_waiters() in between is not missed.
            let notified = self.wake.notified();
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Runs on the lane: hands `message` to the callbacks, and records the outcome when it is
    /// known.
    fn deliver(&self, message: Message) {
        let mut work = lock(&self.work);
        let Some(current) = work.as_mut() else {
            return; // Finished already: what is left is ignored.
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| current.handle(message, self)))
            .unwrap_or_else(|panic| {
                Some(Err(Error::internal(format!(
                    "a callback panicked: {}",
                    panic_message(&*panic)
                ))))
            });
        if let Some(outcome) = outcome {
            self.finish(work, outcome);
        }
    }

    /// Records the outcome: the callbacks and what they hold are released first, then every
    /// waiter learns the outcome and the network task is told to end.
    fn finish(&self, mut work: MutexGuard<'_, Option<Work>>, outcome: Result<()>) {
        *work = None;
        drop(work);
        *lock(&self.outcome) = Some(outcome);
        self.finished.notify_all();
        self.stop();
    }
}

impl Work {
    fn handle(&mut self, message: Message, shared: &Shared) -> Option<Result<()>> {
        let cancelled = || shared.cancelled();
        match self {
            Work::Stream { consumer, on_event } => match message {
                _ if cancelled() => Some(Err(cancelled_error())),
                Message::Stream(pumped) => consumer.handle(pumped, on_event, &cancelled),
                Message::Ended(error) => Some(Err(error)),
                Message::Answer(_) => Some(Err(Error::internal("a stream got a whole answer"))),
            },
            Work::Call { on_done } => {
                let result = match message {
                    _ if cancelled() => Err(cancelled_error()),
                    Message::Answer(result) => result,
                    Message::Ended(error) => Err(error),
                    Message::Stream(_) => Err(Error::internal("a call got a stream")),
                };
                let outcome = result.as_ref().map(|_| ()).map_err(Error::clone);
                if let Some(on_done) = on_done.take() {
                    on_done(result);
                }
                Some(outcome)
            }
        }
    }
}

/// The sink of a non-blocking stream: each chunk becomes a job on the submission's lane, at
/// most [`READ_AHEAD_CHUNKS`] of them waiting at once.
pub(crate) struct LaneSink {
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
}

impl Sink for LaneSink {
    async fn send(&mut self, message: Pumped) -> bool {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        let shared = self.shared.clone();
        self.shared.lane.run(move || {
            shared.deliver(Message::Stream(message));
            drop(permit);
        });
        !self.shared.stop.load(Ordering::Acquire)
    }

    async fn closed(&self) {
        self.shared.stopped().await
    }
}

impl Submission {
    fn start<F>(work: Work, network: impl FnOnce(Arc<Shared>) -> F) -> Submission
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            lane: Lane::pick(),
            cancelled: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            wake: Notify::new(),
            work: Mutex::new(Some(work)),
            outcome: Mutex::new(None),
            finished: Condvar::new(),
        });
        let task = network(shared.clone());
        let watcher = shared.clone();
        runtime::get().spawn(async move {
            let ended = tokio::select! {
                biased;
                _ = watcher.stopped() => Some(cancelled_error()),
                result = AssertUnwindSafe(task).catch_unwind() => result.err().map(|panic| {
                    Error::internal(format!("the network task panicked: {}", panic_message(&*panic)))
                }),
            };
            // After a cancel call, or a panic, the lane learns of it at once; when the
            // outcome is known already, the lane ignores the message.
            if let Some(error) = ended {
                let shared = watcher.clone();
                watcher
                    .lane
                    .run(move || shared.deliver(Message::Ended(error)));
            }
        });
        Submission {
            shared,
            detached: false,
        }
    }

    /// A stream: `pump` is the network half, sending to the sink it is given; `on_event` runs
    /// on the lane for every event, as [`StreamConsumer`] decides.
    pub(crate) fn stream<F>(on_event: OnEvent, pump: impl FnOnce(LaneSink) -> F) -> Submission
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let work = Work::Stream {
            consumer: StreamConsumer::default(),
            on_event,
        };
        Submission::start(work, |shared| {
            pump(LaneSink {
                shared,
                permits: Arc::new(Semaphore::new(READ_AHEAD_CHUNKS)),
            })
        })
    }

    /// A synchronous call: `on_done` runs on the lane, once, with the answer or the error.
    pub(crate) fn call(
        on_done: OnDone,
        answer: impl Future<Output = Result<String>> + Send + 'static,
    ) -> Submission {
        let work = Work::Call {
            on_done: Some(on_done),
        };
        Submission::start(work, |shared| async move {
            let result = answer.await;
            let lane = shared.lane;
            lane.run(move || shared.deliver(Message::Answer(result)));
        })
    }

    /// Cancels the submission: no callback starts after this returns, the connection is
    /// dropped, and the outcome becomes `Cancelled` unless it was known already. Safe from any
    /// thread, any number of times.
    ///
    /// Called outside a callback, it waits for a callback of this submission that is running
    /// on its lane to return. Called from a callback (of this or any non-blocking submission)
    /// it does not wait, since the other callback might be waiting for this one: a callback of
    /// this submission already running on another lane may then still finish.
    ///
    /// A stream's outcome is settled by the call itself; a call's completion callback runs on
    /// its lane, with `Cancelled`, as soon as the lane is free.
    pub fn cancel(&self) {
        let shared = &self.shared;
        shared.cancelled.store(true, Ordering::Release);
        shared.stop();
        let work = if lanes::on_lane() {
            match shared.work.try_lock() {
                Ok(work) => Some(work),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            }
        } else {
            Some(lock(&shared.work))
        };
        // A stream's outcome is settled here, so that wait() returns at once however busy its
        // lane is; a call's completion callback must still run, on its lane.
        if let Some(work) = work {
            if matches!(*work, Some(Work::Stream { .. })) {
                shared.finish(work, Err(cancelled_error()));
            }
        }
    }

    /// Waits for the outcome: `Ok` after `done` (a stream) or the answer (a call), else the
    /// error. May be called any number of times, from any thread, each time giving the same
    /// outcome.
    ///
    /// Fails with `InvalidArgument` when called from a callback of a non-blocking submission
    /// while this one is still running (its callbacks might need the very thread that waits),
    /// or from inside a tokio runtime.
    pub fn wait(&self) -> Result<()> {
        let outcome = lock(&self.shared.outcome);
        if outcome.is_none() {
            if lanes::on_lane() {
                return Err(Error::invalid(
                    "waiting for a running submission from an oairun callback could deadlock",
                ));
            }
            if runtime::inside_runtime() {
                return Err(Error::invalid(
                    "waiting for a submission from inside a tokio runtime would block it",
                ));
            }
        }
        let outcome = self
            .shared
            .finished
            .wait_while(outcome, |outcome| outcome.is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outcome
            .clone()
            .unwrap_or_else(|| Err(Error::internal("no outcome")))
    }

    /// True once the outcome is known (then [`wait`](Self::wait) returns at once).
    pub fn is_finished(&self) -> bool {
        lock(&self.shared.outcome).is_some()
    }

    /// Lets the submission run to its end without this handle: dropping it no longer cancels.
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl Drop for Submission {
    fn drop(&mut self) {
        if !self.detached {
            self.cancel();
        }
    }
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
