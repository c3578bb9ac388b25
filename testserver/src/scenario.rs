//! The answers, chosen by the thread id of the request.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::{After, Exchange};
use crate::server::Shared;
use crate::tools;
use crate::{odd, REFERENCE_RUN_JSON, REFERENCE_STREAM};

/// How long `stall` and `stall_headers` keep quiet when the client stays.
pub(crate) const STALL: Duration = Duration::from_secs(30);
/// Long streams are written in chunks of about this size: flushing each of thousands of small
/// events would make the scenario slow for no benefit.
const BATCH: usize = 16 * 1024;
/// Big bodies are written in pieces of this size.
const PIECE: usize = 64 * 1024;

/// One answer behaviour; see the table on [`crate::TestServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Reference,
    Status(u16),
    StatusPlain(u16),
    RateLimitOnce,
    Truncated,
    Reset,
    PartialEvent,
    Stall,
    StallHeaders,
    CloseBeforeHeaders,
    ErrorEvent,
    Long(usize),
    Slow {
        ms: u64,
        n: usize,
    },
    OddFraming,
    NotJson,
    WrongContentType,
    Big(usize),
    Echo,
    /// `cut_at_<N>`: the reference stream's first N bytes, then a clean end of body.
    CutAt(usize),
    /// `reset_at_<N>`: the reference stream's first N bytes, then a reset.
    ResetAt(usize),
    Tools(tools::Script),
}

/// Digits only (no sign, no spaces), as `parse` alone would accept `+5`.
pub(crate) fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An error status the `status_` scenarios accept: only 4xx and 5xx carry an error body.
pub(crate) fn error_status(s: &str) -> Option<u16> {
    number::<u16>(s).filter(|n| (400..=599).contains(n) && s.len() == 3)
}

impl Scenario {
    /// The scenario for a decoded thread id; anything unknown is the reference.
    pub(crate) fn parse(thread_id: &str) -> Scenario {
        use Scenario::*;
        let fixed = match thread_id {
            "ratelimit_once" => Some(RateLimitOnce),
            "truncated" => Some(Truncated),
            "reset" => Some(Reset),
            "partial_event" => Some(PartialEvent),
            "stall" => Some(Stall),
            "stall_headers" => Some(StallHeaders),
            "close_before_headers" => Some(CloseBeforeHeaders),
            "error_event" => Some(ErrorEvent),
            "odd_framing" => Some(OddFraming),
            "not_json" => Some(NotJson),
            "wrong_content_type" => Some(WrongContentType),
            "echo" => Some(Echo),
            _ => None,
        };
        if let Some(fixed) = fixed {
            return fixed;
        }
        if let Some(script) = tools::Script::parse(thread_id) {
            return Tools(script);
        }
        let parsed = if let Some(rest) = thread_id.strip_prefix("status_") {
            match rest.strip_suffix("_plain") {
                Some(code) => error_status(code).map(StatusPlain),
                None => error_status(rest).map(Status),
            }
        } else if let Some(n) = thread_id.strip_prefix("long_") {
            number(n).map(Long)
        } else if let Some(rest) = thread_id.strip_prefix("slow_") {
            rest.split_once('_').and_then(|(ms, n)| {
                Some(Slow {
                    ms: number(ms)?,
                    n: number(n)?,
                })
            })
        } else if let Some(mib) = thread_id.strip_prefix("big_") {
            number(mib).map(Big)
        } else if let Some(n) = thread_id.strip_prefix("cut_at_") {
            number(n).map(CutAt)
        } else if let Some(n) = thread_id.strip_prefix("reset_at_") {
            number(n).map(ResetAt)
        } else {
            None
        };
        parsed.unwrap_or(Reference)
    }
}

/// The reference stream cut into its events, each with its trailing blank line: the exact
/// bytes of each event on the wire.
pub(crate) fn reference_blocks() -> Vec<&'static str> {
    REFERENCE_STREAM.split_inclusive("\n\n").collect()
}

/// The first reference event named `name`, as wire bytes.
fn reference_block(name: &str) -> &'static str {
    let line = format!("event: {name}\n");
    reference_blocks()
        .into_iter()
        .find(|block| block.starts_with(&line))
        .expect("the reference stream has this event")
}

/// The words the long streams' deltas cycle through: some non-ASCII, some needing JSON
/// escapes (`"`, `\`, tab, newline), so a client's unescaping is exercised.
const LONG_WORDS: &[&str] = &[
    "The",
    " quick",
    " \"brown\"",
    " fox",
    " jumps",
    " over",
    " the",
    " lazy",
    " dog",
    " \u{2014}",
    " caf\u{e9}",
    " na\u{ef}ve",
    " \u{65e5}\u{672c}",
    " back\\slash",
    " tab\there",
    " \u{1f980}",
    ".",
    "\n",
];

/// The value of delta `i` in a long stream.
pub(crate) fn long_value(i: usize) -> &'static str {
    LONG_WORDS[i % LONG_WORDS.len()]
}

/// A delta's data, shaped exactly like the reference's deltas; with `sent_ns`, that field is
/// appended to the top-level object.
fn delta_data(value: &str, sent_ns: Option<u64>) -> String {
    let value = serde_json::Value::from(value).to_string();
    let start = format!(
        r#"{{"id":"msg_002","object":"thread.message.delta","delta":{{"content":[{{"index":0,"type":"text","text":{{"value":{value}}}}}]}}"#
    );
    match sent_ns {
        None => format!("{start}}}"),
        Some(ns) => format!(r#"{start},"sent_ns":{ns}}}"#),
    }
}

fn event_bytes(name: &str, data: &str) -> Vec<u8> {
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The `error`, `type`, `param` and `code` of a `status_<NNN>` answer, as OpenAI sends them.
fn status_fields(status: u16) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match status {
        400 => ("invalid_request_error", Some("tool_outputs"), None),
        401 => ("invalid_request_error", None, Some("invalid_api_key")),
        429 => ("requests", None, Some("rate_limit_exceeded")),
        500..=599 => ("server_error", None, None),
        _ => ("invalid_request_error", None, None),
    }
}

/// Answers a valid submission according to `scenario`.
pub(crate) async fn respond(
    ex: &mut Exchange<'_>,
    shared: &Shared,
    scenario: Scenario,
    thread_id: &str,
    run_id: &str,
    stream: bool,
    body: &serde_json::Value,
) -> io::Result<After> {
    match scenario {
        Scenario::Tools(script) => {
            tools::respond_assistants(ex, shared, script, thread_id, run_id, stream, body).await
        }
        Scenario::Reference => reference(ex, stream).await,
        Scenario::Status(status) => {
            let retry: &[(&str, &str)] = if status == 429 {
                &[("retry-after", "1"), ("retry-after-ms", "50")]
            } else {
                &[]
            };
            status_error(ex, status, retry).await
        }
        Scenario::StatusPlain(status) => {
            ex.send(
                status,
                "text/plain; charset=utf-8",
                b"upstream exploded",
                &[],
            )
            .await?;
            Ok(After::KeepAlive)
        }
        Scenario::RateLimitOnce => {
            if shared.first_rate_limit(run_id) {
                status_error(ex, 429, &[("retry-after", "1"), ("retry-after-ms", "100")]).await
            } else {
                reference(ex, stream).await
            }
        }
        Scenario::Truncated => {
            ex.start_stream().await?;
            write_blocks(ex, &reference_blocks()[..5]).await?;
            ex.end_stream().await
        }
        Scenario::Reset => {
            ex.start_stream().await?;
            write_blocks(ex, &reference_blocks()[..2]).await?;
            // An RST makes the kernel discard data not yet sent: give loopback a moment to
            // deliver the two events first, so the client sees events, then the reset.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(After::Reset)
        }
        Scenario::PartialEvent => {
            ex.start_stream().await?;
            write_blocks(ex, &reference_blocks()[..3]).await?;
            ex.chunk(b"event: thread.message.delta\ndata: {\"id\":")
                .await?;
            ex.end_stream().await
        }
        Scenario::Stall => {
            ex.start_stream().await?;
            write_blocks(ex, &reference_blocks()[..2]).await?;
            if !ex.conn.pause(STALL).await {
                return Ok(After::Drop);
            }
            ex.end_stream().await
        }
        Scenario::StallHeaders => {
            if !ex.conn.pause(STALL).await {
                return Ok(After::Drop);
            }
            Ok(After::Close)
        }
        Scenario::CloseBeforeHeaders => Ok(After::Close),
        Scenario::ErrorEvent => {
            ex.start_stream().await?;
            write_blocks(ex, &reference_blocks()[..3]).await?;
            ex.chunk(&event_bytes(
                "error",
                r#"{"error":{"message":"test stream error","type":"server_error","param":null,"code":"server_error"}}"#,
            ))
            .await?;
            ex.end_stream().await
        }
        Scenario::Long(n) => long(ex, n, None).await,
        Scenario::Slow { ms, n } => long(ex, n, Some(Duration::from_millis(ms))).await,
        Scenario::OddFraming => {
            ex.start_stream().await?;
            for (chunk, awkward) in odd::chunks() {
                ex.chunk(&chunk).await?;
                if awkward {
                    // Written apart in time too, so the split survives to the client's reads
                    // rather than being merged by the client's buffering.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            ex.end_stream().await
        }
        Scenario::NotJson if !stream => {
            ex.send(200, "application/json", b"this is not json", &[])
                .await?;
            Ok(After::KeepAlive)
        }
        Scenario::WrongContentType if stream => {
            ex.send(200, "application/json", REFERENCE_RUN_JSON.as_bytes(), &[])
                .await?;
            Ok(After::KeepAlive)
        }
        Scenario::NotJson | Scenario::WrongContentType => reference(ex, stream).await,
        Scenario::CutAt(_) | Scenario::ResetAt(_) if !stream => reference(ex, false).await,
        Scenario::CutAt(n) => prefix(ex, &reference_blocks(), n, Cut::End).await,
        Scenario::ResetAt(n) => prefix(ex, &reference_blocks(), n, Cut::Reset).await,
        Scenario::Big(mib) => big(ex, mib, stream).await,
        Scenario::Echo => {
            let received = body.to_string();
            let run = format!(
                r#"{{"id":"run_echo","object":"thread.run","status":"queued","received":{received}}}"#
            );
            if stream {
                ex.start_stream().await?;
                ex.chunk(&event_bytes("thread.run.queued", &run)).await?;
                ex.chunk(reference_block("done").as_bytes()).await?;
                ex.end_stream().await
            } else {
                ex.send(200, "application/json", run.as_bytes(), &[])
                    .await?;
                Ok(After::KeepAlive)
            }
        }
    }
}

async fn reference(ex: &mut Exchange<'_>, stream: bool) -> io::Result<After> {
    if stream {
        ex.start_stream().await?;
        write_blocks(ex, &reference_blocks()).await?;
        ex.end_stream().await
    } else {
        ex.send(200, "application/json", REFERENCE_RUN_JSON.as_bytes(), &[])
            .await?;
        Ok(After::KeepAlive)
    }
}

async fn status_error(
    ex: &mut Exchange<'_>,
    status: u16,
    extra: &[(&str, &str)],
) -> io::Result<After> {
    let (kind, param, code) = status_fields(status);
    let message = format!("test error {status}");
    ex.error(status, &message, kind, param, code, extra).await?;
    Ok(After::KeepAlive)
}

/// How a `cut_at_<N>` / `reset_at_<N>` answer ends once its N bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The chunked terminator: a clean end of body.
    End,
    /// An RST (SO_LINGER 0), once the bytes have left.
    Reset,
}

/// A 200 event stream whose body is exactly the first `n` bytes of `blocks` joined (all of
/// them when `n` is larger), written one chunk per block as the whole stream would be (the
/// last one cut), then ended as `cut` says.
pub(crate) async fn prefix(
    ex: &mut Exchange<'_>,
    blocks: &[&str],
    n: usize,
    cut: Cut,
) -> io::Result<After> {
    ex.start_stream().await?;
    let mut left = n;
    for block in blocks {
        if left == 0 {
            break;
        }
        let take = left.min(block.len());
        ex.chunk(&block.as_bytes()[..take]).await?;
        left -= take;
    }
    match cut {
        Cut::End => ex.end_stream().await,
        Cut::Reset => {
            settle_before_reset(ex.conn.stream.tcp()).await;
            Ok(After::Reset)
        }
    }
}

/// Waits until the kernel has sent everything written on `stream` (an RST discards what is
/// still unsent, which would cut the body short of its N bytes), then a moment more for
/// loopback to deliver it ahead of the RST. At most about a second.
async fn settle_before_reset(stream: &tokio::net::TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        extern "C" {
            fn ioctl(fd: i32, request: std::ffi::c_ulong, ...) -> i32;
        }
        /// Linux's SIOCOUTQNSD: the bytes in the send queue not yet sent.
        const SIOCOUTQNSD: std::ffi::c_ulong = 0x894B;
        let fd = stream.as_raw_fd();
        for _ in 0..1000 {
            let mut unsent: i32 = 0;
            // SAFETY: `ioctl` is the C library's; `fd` is an open TCP socket that `stream`
            // keeps open for the call, and SIOCOUTQNSD writes one int to the pointer given.
            let status = unsafe { ioctl(fd, SIOCOUTQNSD, &mut unsent as *mut i32) };
            if status != 0 || unsent == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tokio::time::sleep(RESET_GRACE).await;
}

/// How long a `reset_at_<N>` answer waits, once its bytes have left, before the RST.
const RESET_GRACE: Duration = Duration::from_millis(2);

/// Writes each block as its own chunk (one write each).
async fn write_blocks(ex: &mut Exchange<'_>, blocks: &[&str]) -> io::Result<()> {
    for block in blocks {
        ex.chunk(block.as_bytes()).await?;
    }
    Ok(())
}

/// `long_<n>` (no interval: deltas batched) and `slow_<ms>_<n>` (one delta per interval, each
/// stamped with its write time).
async fn long(ex: &mut Exchange<'_>, n: usize, interval: Option<Duration>) -> io::Result<After> {
    ex.start_stream().await?;
    let head = [
        reference_block("thread.run.step.created"),
        reference_block("thread.message.created"),
        reference_block("thread.message.in_progress"),
    ];
    write_blocks(ex, &head).await?;
    match interval {
        Some(interval) => {
            for i in 0..n {
                if !ex.conn.pause(interval).await {
                    return Ok(After::Drop);
                }
                let data = delta_data(long_value(i), Some(now_ns()));
                ex.chunk(&event_bytes("thread.message.delta", &data))
                    .await?;
            }
        }
        None => {
            let mut batch = Vec::with_capacity(BATCH + 512);
            for i in 0..n {
                let data = delta_data(long_value(i), None);
                batch.extend_from_slice(&event_bytes("thread.message.delta", &data));
                if batch.len() >= BATCH {
                    ex.chunk(&batch).await?;
                    batch.clear();
                }
            }
            ex.chunk(&batch).await?;
        }
    }
    let run_completed = repaired_block("thread.run.completed");
    let tail = [
        reference_block("thread.message.completed"),
        run_completed.as_str(),
        reference_block("done"),
    ];
    write_blocks(ex, &tail).await?;
    ex.end_stream().await
}

/// The reference event named `name` with its data made valid JSON. The reference's
/// `thread.run.queued`, `.in_progress` and `.completed` data carry one `}` too many; the long
/// streams are synthetic and must be readable by every client, the official SDK included
/// (the benchmark compares them), so they send the data with that stray `}` removed.
pub(crate) fn repaired_block(name: &str) -> String {
    let block = reference_block(name);
    let data = block
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("the reference event has data");
    if serde_json::from_str::<serde_json::Value>(data).is_ok() {
        return block.to_owned();
    }
    let repaired = data.strip_suffix('}').expect("the stray brace is last");
    serde_json::from_str::<serde_json::Value>(repaired).expect("one stray brace was all");
    format!("event: {name}\ndata: {repaired}\n\n")
}

/// `big_<mib>`: a body (or one event's data) of `mib` MiB, written in 64 KiB pieces.
async fn big(ex: &mut Exchange<'_>, mib: usize, stream: bool) -> io::Result<After> {
    let size = mib.saturating_mul(1024 * 1024);
    if stream {
        let prefix = r#"{"id":"msg_002","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":""#;
        let suffix = r#""}}]}}"#;
        let pad = size.saturating_sub(prefix.len() + suffix.len());
        ex.start_stream().await?;
        let prefix = format!("event: thread.message.delta\ndata: {prefix}");
        let suffix = format!("{suffix}\n\n");
        write_padded(ex, prefix.as_bytes(), pad, suffix.as_bytes(), true).await?;
        ex.chunk(reference_block("done").as_bytes()).await?;
        ex.end_stream().await
    } else {
        let prefix = r#"{"id":"run_big","object":"thread.run","pad":""#;
        let suffix = r#""}"#;
        let pad = size.saturating_sub(prefix.len() + suffix.len());
        let head = ex.send_head(
            200,
            "application/json",
            prefix.len() + pad + suffix.len(),
            &[],
        );
        ex.write_raw(&head).await?;
        write_padded(ex, prefix.as_bytes(), pad, suffix.as_bytes(), false).await?;
        Ok(After::KeepAlive)
    }
}

/// Writes `prefix`, `pad` bytes of `x`, then `suffix`, in pieces of [`PIECE`] bytes (the last
/// piece may be longer by the suffix), as chunks or raw.
async fn write_padded(
    ex: &mut Exchange<'_>,
    prefix: &[u8],
    pad: usize,
    suffix: &[u8],
    chunked: bool,
) -> io::Result<()> {
    let mut piece = Vec::with_capacity(PIECE + suffix.len());
    piece.extend_from_slice(prefix);
    let mut remaining = pad;
    // Bounded: the prefix is far shorter than a piece, so each round consumes at least one
    // pad byte, or writes the suffix and ends.
    loop {
        let take = PIECE.saturating_sub(piece.len()).min(remaining);
        piece.resize(piece.len() + take, b'x');
        remaining -= take;
        if remaining == 0 {
            piece.extend_from_slice(suffix);
        }
        if chunked {
            ex.chunk(&piece).await?;
        } else {
            ex.write_raw(&piece).await?;
        }
        piece.clear();
        if remaining == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenarios() {
        assert_eq!(Scenario::parse("thread_123"), Scenario::Reference);
        assert_eq!(Scenario::parse("status_429"), Scenario::Status(429));
        assert_eq!(
            Scenario::parse("status_503_plain"),
            Scenario::StatusPlain(503)
        );
        assert_eq!(Scenario::parse("status_200"), Scenario::Reference);
        assert_eq!(Scenario::parse("status_+42"), Scenario::Reference);
        assert_eq!(Scenario::parse("long_3"), Scenario::Long(3));
        assert_eq!(Scenario::parse("slow_5_7"), Scenario::Slow { ms: 5, n: 7 });
        assert_eq!(Scenario::parse("slow_5"), Scenario::Reference);
        assert_eq!(Scenario::parse("big_2"), Scenario::Big(2));
        assert_eq!(Scenario::parse("echo"), Scenario::Echo);
        assert_eq!(Scenario::parse("cut_at_0"), Scenario::CutAt(0));
        assert_eq!(Scenario::parse("cut_at_6862"), Scenario::CutAt(6862));
        assert_eq!(Scenario::parse("reset_at_17"), Scenario::ResetAt(17));
        assert_eq!(Scenario::parse("cut_at_"), Scenario::Reference);
        assert_eq!(Scenario::parse("reset_at_x"), Scenario::Reference);
    }

    #[test]
    fn repaired_blocks_are_valid_json() {
        for name in [
            "thread.run.queued",
            "thread.run.completed",
            "thread.message.completed",
        ] {
            let block = repaired_block(name);
            let data = block
                .lines()
                .nth(1)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap();
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            assert!(value["object"].as_str().is_some(), "{name}");
        }
    }

    #[test]
    fn reference_blocks_rebuild_the_stream() {
        let blocks = reference_blocks();
        assert_eq!(blocks.len(), 16);
        assert_eq!(blocks.concat(), REFERENCE_STREAM);
        let events = crate::reference_events();
        let rebuilt: String = events
            .iter()
            .map(|(n, d)| format!("event: {n}\ndata: {d}\n\n"))
            .collect();
        assert_eq!(rebuilt, REFERENCE_STREAM);
    }

    #[test]
    fn delta_matches_reference_shape() {
        let reference = crate::reference_events()
            .into_iter()
            .find(|(n, d)| n == "thread.message.delta" && d.contains(r#""value":" current""#))
            .unwrap()
            .1;
        assert_eq!(delta_data(" current", None), reference);
        let stamped: serde_json::Value =
            serde_json::from_str(&delta_data("a\"\n", Some(7))).unwrap();
        assert_eq!(stamped["sent_ns"], 7);
        assert_eq!(stamped["delta"]["content"][0]["text"]["value"], "a\"\n");
    }
}
