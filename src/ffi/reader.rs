//! The pull API: `oairun_reader`, a stream whose events the caller takes, one at a time or
//! in batches, on its own thread.

use std::ffi::{c_char, c_int};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use super::submit::submission;
use super::{
    arg_out, arg_ref, guard, guard_status, into_raw, oairun_client, oairun_error, oairun_event,
    oairun_response_request, oairun_status, oairun_tool_outputs,
};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::reader::{Batch, Next, Reader, Stop};
use crate::runtime;

/// A flag of `oairun_create_response_stream_open` and `oairun_submit_tool_outputs_stream_open`:
/// oairun's own threads read the stream from the moment it is opened, up to 16 reads ahead of
/// the caller, instead of the caller's thread inside `oairun_reader_next`. For event loops:
/// `oairun_reader_fd` gives a descriptor to poll, and a zero time limit never waits.
pub const OAIRUN_READER_BACKGROUND: u32 = 1;

/// A stream whose events the caller takes with `oairun_reader_next` or
/// `oairun_reader_next_batch`, opened by `oairun_create_response_stream_open` or
/// `oairun_submit_tool_outputs_stream_open`. Cancel it with `oairun_reader_cancel` (from any
/// thread) and free it with `oairun_reader_free`.
///
/// Unless opened with `OAIRUN_READER_BACKGROUND`, the stream is read on the thread that calls
/// `oairun_reader_next`, inside that call, over a connection of its own (opened by the first
/// call, closed when the stream ends): no other thread touches it, and each read of the
/// socket wakes only the caller.
///
/// One call at a time may use a reader (besides `oairun_reader_cancel`); it may move between
/// threads from one call to the next.
pub struct oairun_reader {
    stop: Arc<Stop>,
    state: Mutex<State>,
}

impl super::Handle for oairun_reader {}

struct State {
    reader: Reader,
    /// The events lent by the last call, and their C views.
    events: Vec<Event>,
    lent: Vec<oairun_event>,
}

impl oairun_reader {
    fn new(reader: Reader) -> oairun_reader {
        oairun_reader {
            stop: reader.stop().clone(),
            state: Mutex::new(State {
                reader,
                events: Vec::new(),
                lent: Vec::new(),
            }),
        }
    }

    /// Runs `body` on the reader's state, after the events lent by the last call are taken
    /// back. Refuses a second call at once, and a call that would block a tokio runtime.
    fn with<R>(&self, body: impl FnOnce(&mut State) -> Result<R>) -> Result<R> {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(Error::invalid(
                    "another call is using this reader: one call at a time may use it",
                ))
            }
        };
        let State {
            reader,
            events,
            lent,
        } = &mut *state;
        for view in lent.drain(..) {
            reader.recycle_buffer(view.into_room());
        }
        for event in events.drain(..) {
            reader.recycle(event);
        }
        if state.reader.is_direct() && runtime::inside_runtime() {
            return Err(Error::invalid(
                "a reader reads on the calling thread, which must not be inside a tokio \
                 runtime; open it with OAIRUN_READER_BACKGROUND",
            ));
        }
        body(&mut state)
    }
}

impl State {
    /// Lends the events taken: their views stay valid until the reader's next call.
    fn lend(&mut self) -> &[oairun_event] {
        let State {
            reader,
            events,
            lent,
        } = self;
        lent.clear();
        lent.extend(
            events
                .iter()
                .map(|event| oairun_event::lend(event, reader.spare_buffer())),
        );
        lent
    }
}

/// Makes the reader once `out` is known to be usable: a background reader's request starts as
/// it is made, and nothing may be sent for a call that fails.
fn open(
    out: Option<&mut *mut oairun_reader>,
    reader: impl FnOnce() -> Result<Reader>,
) -> Result<()> {
    let out = arg_out("out", out)?;
    *out = into_raw(oairun_reader::new(reader()?));
    Ok(())
}

fn background(flags: u32) -> Result<bool> {
    if flags & !OAIRUN_READER_BACKGROUND != 0 {
        return Err(Error::invalid(format!(
            "unknown flags {:#x}: the only flag is OAIRUN_READER_BACKGROUND",
            flags & !OAIRUN_READER_BACKGROUND
        )));
    }
    Ok(flags & OAIRUN_READER_BACKGROUND != 0)
}

/// [`guard_status`] for the calls that may find nothing yet: `Ok(true)` is `OAIRUN_AGAIN`.
fn guard_again(err: *mut *mut oairun_error, body: impl FnOnce() -> Result<bool>) -> oairun_status {
    let mut again = false;
    let status = guard_status(err, || {
        again = body()?;
        Ok(())
    });
    if again {
        oairun_status::OAIRUN_AGAIN
    } else {
        status
    }
}

/// The time limit of a call: -1 for none, else milliseconds.
fn time_limit(timeout_ms: c_int) -> Result<Option<Duration>> {
    match timeout_ms {
        -1 => Ok(None),
        ms if ms >= 0 => Ok(Some(Duration::from_millis(ms as u64))),
        ms => Err(Error::invalid(format!(
            "timeout_ms must be -1 (no limit) or a number of milliseconds, not {ms}"
        ))),
    }
}

/// Opens a streamed response for pulling: sends what `oairun_create_response_stream` sends,
/// and the caller takes the events with `oairun_reader_next` or `oairun_reader_next_batch`.
///
/// With `flags` 0 nothing is sent yet: the first `oairun_reader_next` connects and sends,
/// and every call reads the socket on its own thread. With `OAIRUN_READER_BACKGROUND` the
/// request starts at once on oairun's threads, which read ahead while the caller is away.
///
/// The request is copied; `client` may be freed while the reader lives. On success `*out`
/// receives a reader the caller owns and frees with `oairun_reader_free`. On failure, when
/// `err` is not NULL, `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`; or, before any request, `OAIRUN_INVALID_ARGUMENT` when `client`,
/// `request` or `out` is NULL, the request has no input item, or `flags` has a bit other
/// than `OAIRUN_READER_BACKGROUND`; `OAIRUN_INTERNAL` for a bug in oairun (or when the reader's
/// runtime cannot be started). Every other outcome comes from `oairun_reader_next`.
#[no_mangle]
pub unsafe extern "C" fn oairun_create_response_stream_open(
    client: Option<&oairun_client>,
    request: Option<&oairun_response_request>,
    flags: u32,
    out: Option<&mut *mut oairun_reader>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let client = arg_ref("client", client)?;
        let request = arg_ref("request", request)?;
        let background = background(flags)?;
        open(out, || {
            client
                .inner
                .create_response_reader(&request.inner, background)
        })
    })
}

/// Opens a streamed submission for pulling: sends what `oairun_submit_tool_outputs_stream`
/// sends, and the caller takes the events with `oairun_reader_next` or
/// `oairun_reader_next_batch`. `flags`, `out`, `err` and ownership are as for
/// `oairun_create_response_stream_open`; the ids and outputs are copied.
///
/// Returns `OAIRUN_OK`; or, before any request, `OAIRUN_INVALID_ARGUMENT` when `client`,
/// `thread_id`, `run_id`, `outputs` or `out` is NULL, an id is empty, `.`, `..` or not UTF-8,
/// `outputs` is empty, or `flags` has an unknown bit; `OAIRUN_INTERNAL` for a bug in oairun.
#[no_mangle]
pub unsafe extern "C" fn oairun_submit_tool_outputs_stream_open(
    client: Option<&oairun_client>,
    thread_id: *const c_char,
    run_id: *const c_char,
    outputs: Option<&oairun_tool_outputs>,
    flags: u32,
    out: Option<&mut *mut oairun_reader>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        // SAFETY: the ids are NULL or NUL-terminated strings valid for the call (header).
        let (client, thread_id, run_id, outputs) =
            unsafe { submission(client, thread_id, run_id, outputs) }?;
        let background = background(flags)?;
        open(out, || {
            client
                .inner
                .submit_tool_outputs_reader(thread_id, run_id, &outputs.inner, background)
        })
    })
}

/// Takes the next event of a reader's stream, waiting for it at most `timeout_ms`
/// milliseconds (-1: no limit of its own, only the client's read timeout; 0: only what has
/// arrived already).
///
/// Events come in wire order, the terminal event included, exactly as the callback forms
/// deliver them. Returns `OAIRUN_OK` with `*event` set to the event: it is lent until the
/// next call on this reader (`oairun_reader_next`, `oairun_reader_next_batch` or
/// `oairun_reader_free`); read it with the `oairun_event_*` functions, whose strings live as
/// long. Once the stream is over, every call returns its outcome, without waiting:
/// `OAIRUN_OK` with `*event` set to NULL when it ended well, otherwise the status
/// `oairun_create_response_stream` or `oairun_submit_tool_outputs_stream` would return
/// (`OAIRUN_STREAM_ERROR` after the `error` or `response.failed` event was taken,
/// `OAIRUN_PROTOCOL`, `OAIRUN_HTTP_STATUS`, `OAIRUN_CONNECT`, `OAIRUN_TIMEOUT`...) with
/// `*event` NULL and, when `err` is not NULL, a new error in `*err` that the caller frees with
/// `oairun_error_free`; `OAIRUN_CANCELLED` after `oairun_reader_cancel`.
///
/// Returns `OAIRUN_AGAIN`, with `*event` NULL, when no event came within `timeout_ms`: the
/// stream goes on, call again. Returns `OAIRUN_INVALID_ARGUMENT`, touching nothing, when
/// `reader` or `event` is NULL, `timeout_ms` is below -1, another call is using the reader
/// at that moment, or the reader reads on the calling thread and that thread is inside a
/// tokio runtime.
///
/// Threads: without `OAIRUN_READER_BACKGROUND` the socket is read here, on the calling
/// thread. No callback runs, so the caller may do anything between calls, including other
/// oairun calls.
#[no_mangle]
pub unsafe extern "C" fn oairun_reader_next(
    reader: Option<&oairun_reader>,
    timeout_ms: c_int,
    event: Option<&mut *const oairun_event>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_again(err, || {
        let reader = arg_ref("reader", reader)?;
        let event = event.ok_or_else(|| Error::invalid("event must not be NULL"))?;
        let limit = time_limit(timeout_ms)?;
        reader.with(|state| {
            // Only once the call is accepted: a refused one touches nothing.
            *event = std::ptr::null();
            match state.reader.next(limit) {
                Next::Event(taken) => {
                    state.events.push(taken);
                    *event = &state.lend()[0];
                    Ok(false)
                }
                Next::Over(outcome) => outcome.map(|()| false),
                Next::Again => Ok(true),
            }
        })
    })
}

/// Takes the next events of a reader's stream, as many as have arrived, up to `capacity`:
/// waits at most `timeout_ms` milliseconds (as for `oairun_reader_next`) for the first, then
/// takes only those already read, without waiting. One call can take every event of a
/// network read at once.
///
/// Returns `OAIRUN_OK` with `*count` events (at least one) in `events[0..*count]`, in wire
/// order, lent until the next call on this reader. When the stream's outcome is decided
/// after some of them, those come first and the next call gives the outcome, as
/// `oairun_reader_next` does: `OAIRUN_OK` with `*count` 0 once it ended well, or its failure
/// status (with `*err`). `OAIRUN_AGAIN` with `*count` 0 when nothing came within
/// `timeout_ms`. `OAIRUN_INVALID_ARGUMENT`, touching nothing but `*count` (set to 0), when
/// `reader`, `events` or `count` is NULL, `capacity` is 0, or as for `oairun_reader_next`.
#[no_mangle]
pub unsafe extern "C" fn oairun_reader_next_batch(
    reader: Option<&oairun_reader>,
    timeout_ms: c_int,
    events: *mut *const oairun_event,
    capacity: usize,
    count: Option<&mut usize>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_again(err, || {
        let count = count.ok_or_else(|| Error::invalid("count must not be NULL"))?;
        *count = 0;
        let reader = arg_ref("reader", reader)?;
        if events.is_null() || capacity == 0 {
            return Err(Error::invalid(
                "events must point to room for capacity (at least 1) event pointers",
            ));
        }
        let limit = time_limit(timeout_ms)?;
        reader.with(|state| {
            let mut taken = std::mem::take(&mut state.events);
            let batch = state.reader.next_batch(limit, capacity, &mut taken);
            state.events = taken;
            match batch {
                Batch::Events => {
                    let lent = state.lend();
                    // SAFETY: events points to room for capacity pointers (header), and
                    // lent.len() <= capacity.
                    let out = unsafe { std::slice::from_raw_parts_mut(events, lent.len()) };
                    for (slot, event) in out.iter_mut().zip(lent) {
                        *slot = event;
                    }
                    *count = lent.len();
                    Ok(false)
                }
                Batch::Over(outcome) => outcome.map(|()| false),
                Batch::Again => Ok(true),
            }
        })
    })
}

/// Gives a descriptor that is readable while the reader has something to take (an event or
/// the outcome), for `poll`, `epoll` or an event loop: when it is readable, a call with
/// `timeout_ms` 0 will not wait. Only a reader opened with `OAIRUN_READER_BACKGROUND` has one.
/// The descriptor belongs to the reader: do not read, write or close it; it closes with
/// `oairun_reader_free`. Level-triggered: it stays readable until the reader is drained.
///
/// Returns `OAIRUN_OK` with `*fd` set; `OAIRUN_INVALID_ARGUMENT` when `reader` or `fd` is
/// NULL or the reader reads on the caller's thread (no `OAIRUN_READER_BACKGROUND`);
/// `OAIRUN_INTERNAL` when the descriptor cannot be made. May be called while another thread
/// waits in `oairun_reader_next`.
#[no_mangle]
pub unsafe extern "C" fn oairun_reader_fd(
    reader: Option<&oairun_reader>,
    fd: Option<&mut c_int>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let reader = arg_ref("reader", reader)?;
        let fd = fd.ok_or_else(|| Error::invalid("fd must not be NULL"))?;
        match reader.stop.ready_fd()? {
            Some(raw) => {
                *fd = raw;
                Ok(())
            }
            None => Err(Error::invalid(
                "only a reader opened with OAIRUN_READER_BACKGROUND has a descriptor",
            )),
        }
    })
}

/// Cancels a reader's stream: a call waiting in `oairun_reader_next` returns
/// `OAIRUN_CANCELLED` at once, as does every later one (unless the stream was over already:
/// its outcome stands). With `OAIRUN_READER_BACKGROUND` the connection is dropped at once.
/// Otherwise, once the answer has begun, the socket is shut down at once (the server sees the
/// connection end) and closed by the waiting call, or by the next call or `oairun_reader_free`
/// on the reader; before the answer, or through a proxy, it is dropped by those calls.
///
/// Safe from any thread, any number of times, while another thread waits in
/// `oairun_reader_next`; NULL does nothing. `reader` must not be freed while this runs.
#[no_mangle]
pub unsafe extern "C" fn oairun_reader_cancel(reader: Option<&oairun_reader>) {
    guard(|| {
        if let Some(reader) = reader {
            reader.stop.cancel();
        }
    })
}

/// Frees a reader, dropping its connection if the stream is not over; the events it lent
/// become invalid. NULL does nothing. No other call using `reader` may be in progress.
#[no_mangle]
pub unsafe extern "C" fn oairun_reader_free(reader: Option<Box<oairun_reader>>) {
    guard(|| drop(reader))
}
