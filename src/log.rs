//! The log hook: one process-wide sink for request, response and retry lines. Off until set;
//! costs one atomic load per line while off. Lines never hold the API key or any header value.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::RwLock;

use crate::error::{Error, Result};

/// How much is logged, from least to most; a sink set at one level gets the lines of that
/// level and every level before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Failures: a submission that ended in an error.
    Error = 1,
    /// Retries: an attempt failed and another follows.
    Warn = 2,
    /// One line per request sent and per answer received.
    Info = 3,
    /// Stream detail: when a stream opens and ends, and how many events it had.
    Debug = 4,
}

impl LogLevel {
    /// The level for a number 1 to 4, as the C API numbers them.
    pub fn from_number(n: i32) -> Option<LogLevel> {
        Some(match n {
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            _ => return None,
        })
    }
}

/// A log sink: called with each line's level and text, possibly from several threads at once.
pub type LogSink = Box<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The most verbose level wanted, 0 when logging is off: read without a lock on every line.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<LogSink>> = RwLock::new(None);

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sets the sink for lines up to `level`, or turns logging off with `None`. When this
/// returns, the previous sink is no longer running and will not be called again.
///
/// Fails with `InvalidArgument` when called from inside a sink (it would wait for itself).
pub fn set_log_sink(level: LogLevel, sink: Option<LogSink>) -> Result<()> {
    if IN_SINK.with(Cell::get) {
        return Err(Error::invalid(
            "the log callback cannot be changed from inside the log callback",
        ));
    }
    let mut slot = SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let max = if sink.is_some() { level as u8 } else { 0 };
    *slot = sink;
    MAX_LEVEL.store(max, Ordering::Release);
    Ok(())
}

/// True when lines of `level` are wanted, so that building them is worth it.
pub(crate) fn enabled(level: LogLevel) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Acquire)
}

/// Sends the line `message()` builds to the sink, when one wants `level`.
pub(crate) fn log(level: LogLevel, message: impl FnOnce() -> String) {
    if !enabled(level) || IN_SINK.with(Cell::get) {
        return;
    }
    let slot = SINK.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Checked again under the lock: the level may have changed meanwhile.
    if let (Some(sink), true) = (slot.as_ref(), enabled(level)) {
        let line = message();
        IN_SINK.with(|flag| flag.set(true));
        // A panicking sink must not take a request down with it.
        let _ = catch_unwind(AssertUnwindSafe(|| sink(level, &line)));
        IN_SINK.with(|flag| flag.set(false));
    }
}

/// A URL as logged: without its query, which some gateways use for credentials.
pub(crate) fn url_for_log(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}
