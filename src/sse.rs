//! Incremental, sans-I/O decoder for `text/event-stream` (Server-Sent Events).
//!
//! Follows the WHATWG HTML standard, "Parsing an event stream" and "Interpreting an event
//! stream" (<https://html.spec.whatwg.org/multipage/server-sent-events.html>):
//!
//! * lines end with LF, CR or CRLF (a CRLF split across two reads is one line end);
//! * one leading UTF-8 BOM is ignored; invalid UTF-8 becomes U+FFFD;
//! * lines starting with `:` are comments; `name:value` drops one space after the colon;
//!   a line without a colon is a field name with an empty value;
//! * `event`, `data`, `id` (ignored when the value holds U+0000) and `retry` (ASCII digits
//!   only) are understood, other field names are ignored;
//! * a blank line dispatches the event, unless no `data` field was seen;
//! * an event not followed by a blank line when the stream ends is discarded.
//!
//! The decoder does no I/O: [`Decoder::feed`] takes bytes as they arrive, in pieces of any
//! size, and [`Decoder::next_event`] hands out the complete events. Consumed input is
//! dropped, so memory stays bounded by the largest single event (plus the size of one read),
//! never by the length of the stream.

use std::mem;

use crate::bytescan;

/// The UTF-8 encoding of U+FEFF BYTE ORDER MARK.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Input buffer capacity kept once a large event has been consumed; more than this is
/// returned to the allocator when the buffer is mostly empty.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// Data buffers handed back with [`Decoder::recycle`] and kept for the next events: at most
/// this many, each of at most [`RECYCLED_CAPACITY`] bytes.
const RECYCLED: usize = 256;
const RECYCLED_CAPACITY: usize = 4096;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type; "message" when the stream gave none.
    pub event: String,
    /// The data lines joined with LF (the final LF removed).
    pub data: String,
    /// The last event ID buffer at dispatch; None when it is empty (never set, or reset by an empty `id:`).
    pub id: Option<String>,
}

/// One dispatched event, lent by [`Decoder::next_parts`]: the type and the id are the
/// decoder's own buffers (until its next call), the data is handed over.
#[derive(Debug, PartialEq, Eq)]
pub struct SseParts<'a> {
    /// The event type; "message" when the stream gave none.
    pub event: &'a str,
    /// The data lines joined with LF (the final LF removed), with room for one more byte.
    pub data: String,
    /// The last event ID buffer at dispatch; None when it is empty.
    pub id: Option<&'a str>,
}

impl From<SseParts<'_>> for SseEvent {
    /// The event, its type and id copied out of the decoder's buffers.
    fn from(parts: SseParts<'_>) -> SseEvent {
        SseEvent {
            event: parts.event.to_owned(),
            data: parts.data,
            id: parts.id.map(str::to_owned),
        }
    }
}

/// Incremental event-stream decoder: [`feed`](Self::feed) bytes, take events with
/// [`next_event`](Self::next_event), and call [`finish`](Self::finish) when the stream ends.
#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
pub struct Decoder {
    lines: LineSplitter,
    fields: EventBuilder,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the network; reads may split anywhere (inside a CRLF, a multi-byte UTF-8 character, the BOM).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.push(bytes);
    }

    /// Returns the next complete event from what has been fed, or None when more bytes are needed.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.next_parts().map(SseEvent::from)
    }

    /// [`next_event`](Self::next_event), with the type and id lent instead of copied.
    pub fn next_parts(&mut self) -> Option<SseParts<'_>> {
        self.fields.settle();
        while let Some((line, ascii)) = self.lines.next_line() {
            if self.fields.process_line(line, ascii) {
                return Some(self.fields.dispatched());
            }
        }
        None
    }

    /// The event `bytes` hold when they are exactly one whole event in the usual form, and the
    /// decoder holds nothing of another (no input left, the stream's start read, no field of
    /// an event seen): an `event:` line then a `data:` line (or a `data:` line alone), each
    /// ending with LF and its value valid UTF-8, then a blank line. That is the same event,
    /// with the decoder left the same, as [`feed`](Self::feed) then
    /// [`next_parts`](Self::next_parts) would give; only the data is copied. `None`, the
    /// decoder unchanged, for anything else: such bytes go through `feed`.
    pub fn whole_event<'a>(&'a mut self, bytes: &'a [u8]) -> Option<SseParts<'a>> {
        self.fields.settle();
        let lines = &self.lines;
        let idle = lines.pos == lines.buf.len() && lines.bom_done && !lines.after_cr;
        if !idle || !self.fields.data.is_empty() || !self.fields.event_type.is_empty() {
            return None;
        }
        let (name, rest) = match bytes.strip_prefix(b"event:") {
            Some(line) => field_value(line)?,
            None => ("", bytes),
        };
        let (value, rest) = field_value(rest.strip_prefix(b"data:")?)?;
        if rest != b"\n" {
            return None;
        }
        let mut data = self.fields.spare.pop().unwrap_or_default();
        data.reserve(value.len() + 1);
        data.push_str(value);
        Some(SseParts {
            event: if name.is_empty() { "message" } else { name },
            data,
            id: (!self.fields.last_id.is_empty()).then_some(self.fields.last_id.as_str()),
        })
    }

    /// The stream ended: whatever is buffered (an unterminated line or event) is discarded, as the spec says.
    /// Returns true when something non-empty was discarded (a partial line, or fields of an event with no terminating blank line), so callers can tell a truncated stream.
    ///
    /// Precisely, it returns true when bytes of an unfinished line were buffered (including
    /// complete lines never taken with [`next_event`](Self::next_event): drain the decoder
    /// first), or when the data or event type buffer was non-empty. `id` and `retry` fields
    /// take effect when their line is read, so they are never discarded.
    ///
    /// The decoder is then ready for a new stream (a reconnection): the last event ID and the
    /// reconnection time persist, as the spec says, and a leading BOM is stripped again.
    pub fn finish(&mut self) -> bool {
        self.fields.settle();
        let partial_line = self.lines.reset();
        let partial_event = self.fields.reset();
        partial_line || partial_event
    }

    /// Takes back the data of an event given earlier, once its reader is done with it, so
    /// that a later event's data reuses its allocation instead of a new one (a small one, and
    /// a few of them: what is kept stays bounded).
    pub fn recycle(&mut self, mut data: String) {
        let spare = &mut self.fields.spare;
        if data.capacity() <= RECYCLED_CAPACITY && spare.len() < RECYCLED {
            data.clear();
            spare.push(data);
        }
    }

    /// An empty buffer of those taken back with [`recycle`](Self::recycle), if any (else a
    /// new, unallocated one), for a caller's own use; give it back the same way.
    pub fn spare_buffer(&mut self) -> String {
        self.fields.spare.pop().unwrap_or_default()
    }

    /// The reconnection time from the last valid `retry:` field (ASCII digits only), if any.
    ///
    /// A value too large for `u64` saturates to `u64::MAX`.
    pub fn retry(&self) -> Option<u64> {
        self.fields.retry
    }

    /// Bytes of the event being read so far: its unconsumed input plus its data and type. The
    /// client compares this with its event size cap after draining the complete events.
    pub fn buffered_len(&self) -> usize {
        self.lines.buf.len() - self.lines.pos + self.fields.pending_len()
    }

    /// Bytes currently held by the decoder's buffers (capacity, not length), for tests that check memory stays bounded.
    pub fn buffered_capacity(&self) -> usize {
        self.lines.buf.capacity() + self.fields.capacity()
    }
}

/// Decodes a complete stream: feeds `bytes` once, drains every event, then finishes
/// (an unterminated trailing event is discarded).
pub fn decode_all(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    let events = std::iter::from_fn(|| decoder.next_event()).collect();
    decoder.finish();
    events
}

/// Splits the raw byte stream into lines, handling the BOM and the three kinds of line end.
#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
struct LineSplitter {
    /// Input not yet handed out as lines, from `pos` on (bytes before `pos` are consumed).
    buf: Vec<u8>,
    /// Start of the unconsumed input.
    pos: usize,
    /// Where the search for the next line end resumes: `buf[pos..scan]` holds no CR or LF,
    /// so a long line arriving in small reads is scanned only once.
    scan: usize,
    /// The start of the stream has been checked for a BOM (and the BOM skipped).
    bom_done: bool,
    /// The last line ended with a CR: an LF right after it completes that CRLF.
    after_cr: bool,
    /// A byte of `buf[pos..scan]` is not ASCII.
    wide: bool,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) {
        // Callers that drain after every read find the buffer already compacted. For the
        // others, drop the consumed prefix once it is at least as long as what remains, so
        // every byte is moved O(1) times in total and the buffer stays under twice the
        // pending input.
        if self.pos > 0 && self.pos >= self.buf.len() - self.pos {
            self.compact();
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Skips what precedes a line: the BOM at the start of the stream, and the LF of a CRLF
    /// whose CR ended the previous line. Returns false when more input is needed to decide.
    fn skip_prefix(&mut self) -> bool {
        if !self.bom_done {
            let pending = &self.buf[self.pos..];
            if pending.len() < BOM.len() && BOM.starts_with(pending) {
                return false;
            }
            if pending.starts_with(BOM) {
                self.pos += BOM.len();
                self.scan = self.pos;
                self.wide = false;
            }
            self.bom_done = true;
        }
        if self.after_cr {
            match self.buf.get(self.pos) {
                None => return false,
                Some(&byte) => {
                    if byte == b'\n' {
                        self.pos += 1;
                        self.scan = self.pos;
                        self.wide = false;
                    }
                    self.after_cr = false;
                }
            }
        }
        true
    }

    /// The next complete line, without its line end, and whether it is all ASCII; None when
    /// more input is needed.
    fn next_line(&mut self) -> Option<(&[u8], bool)> {
        if self.skip_prefix() {
            let (found, wide) = bytescan::line_end_and_width(&self.buf[self.scan..]);
            if let Some(offset) = found {
                let start = self.pos;
                let end = self.scan + offset;
                let ascii = !(self.wide || wide);
                // A CR ends the line at once; an LF that follows is swallowed later, even
                // when it arrives in the next read.
                self.after_cr = self.buf[end] == b'\r';
                self.pos = end + 1;
                self.scan = self.pos;
                self.wide = false;
                return Some((&self.buf[start..end], ascii));
            }
            self.wide |= wide;
            self.scan = self.buf.len();
        }
        // Every complete line is consumed: what remains is at most one partial line. Each
        // byte is moved at most once this way, since a byte moved to the front stays there
        // until its whole line is consumed.
        self.compact();
        None
    }

    /// Drops the consumed prefix of the buffer.
    fn compact(&mut self) {
        if self.pos == 0 {
            return;
        }
        self.buf.drain(..self.pos);
        self.scan -= self.pos;
        self.pos = 0;
        self.release_excess();
    }

    /// Returns a large allocation left by a big event to the allocator.
    fn release_excess(&mut self) {
        let capacity = self.buf.capacity();
        if capacity > RETAINED_CAPACITY && self.buf.len() <= capacity / 4 {
            self.buf.shrink_to(RETAINED_CAPACITY.max(self.buf.len()));
        }
    }

    /// Discards all input and gets ready for a new stream. Returns whether non-empty input
    /// (the bytes of a line, complete or not) was discarded.
    fn reset(&mut self) -> bool {
        // A whole BOM, or the LF completing a CRLF, is not the start of a line.
        self.skip_prefix();
        let discarded = self.pos < self.buf.len();
        self.buf.clear();
        self.pos = 0;
        self.scan = 0;
        self.wide = false;
        self.bom_done = false;
        self.after_cr = false;
        self.release_excess();
        discarded
    }
}

/// Position of the first CR or LF in `bytes`.
#[cfg(test)]
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    bytescan::line_end_and_width(bytes).0
}

/// Interprets lines: the event type, data and last event ID buffers, and the reconnection time.
#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
struct EventBuilder {
    data: String,
    event_type: String,
    last_id: String,
    retry: Option<u64>,
    /// An event was dispatched and its type lent: the type buffer is cleared at the next call.
    lent: bool,
    /// Recycled data buffers, empty, for the next events' data.
    spare: Vec<String>,
}

impl EventBuilder {
    /// Processes one line (without its line end); returns true when it dispatched an event
    /// (a blank line after data), which [`dispatched`](Self::dispatched) then gives.
    /// `ascii`: the line is all ASCII (so no UTF-8 check is needed).
    fn process_line(&mut self, line: &[u8], ascii: bool) -> bool {
        // Field names and values are split on the raw bytes: ':' and ' ' are ASCII, which never
        // occurs inside a multi-byte UTF-8 sequence and always ends an invalid one, so decoding
        // the parts separately equals decoding the whole line.
        let (name, value) = match line.iter().position(|&byte| byte == b':') {
            None if line.is_empty() => return self.dispatch(),
            None => (line, &[][..]),
            Some(0) => return false, // comment
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
        };
        match name {
            b"data" => {
                self.data.reserve(value.len() + 1);
                push_lossy(&mut self.data, value, ascii);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                push_lossy(&mut self.event_type, value, ascii);
            }
            // An id holding U+0000 NULL is ignored.
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                push_lossy(&mut self.last_id, value, ascii);
            }
            b"retry" => {
                if let Some(retry) = parse_retry(value) {
                    self.retry = Some(retry);
                }
            }
            _ => {} // an unknown field, or an ignored id
        }
        false
    }

    /// A blank line: says whether it dispatches an event (data was seen).
    fn dispatch(&mut self) -> bool {
        if self.data.is_empty() {
            self.event_type.clear();
            return false;
        }
        self.data.pop(); // the LF appended after the last data line
        self.lent = true;
        true
    }

    /// The event just dispatched: the type and id lent, the data handed over.
    fn dispatched(&mut self) -> SseParts<'_> {
        SseParts {
            event: if self.event_type.is_empty() {
                "message"
            } else {
                &self.event_type
            },
            data: mem::replace(&mut self.data, self.spare.pop().unwrap_or_default()),
            id: (!self.last_id.is_empty()).then_some(self.last_id.as_str()),
        }
    }

    /// Clears the type of the event last dispatched, now that it is no longer lent.
    fn settle(&mut self) {
        if self.lent {
            self.event_type.clear();
            self.lent = false;
        }
    }

    /// Bytes of the event being read: its data and type so far.
    fn pending_len(&self) -> usize {
        let event_type = if self.lent { 0 } else { self.event_type.len() };
        self.data.len() + event_type
    }

    /// Clears the buffers of the current event; returns whether they held anything.
    fn reset(&mut self) -> bool {
        let discarded = !self.data.is_empty() || !self.event_type.is_empty();
        self.data = String::new();
        self.event_type.clear();
        discarded
    }

    fn capacity(&self) -> usize {
        self.data.capacity()
            + self.event_type.capacity()
            + self.last_id.capacity()
            + self.spare.iter().map(String::capacity).sum::<usize>()
    }
}

/// Appends `bytes` decoded as UTF-8, each invalid sequence replaced by U+FFFD.
///
/// ASCII input, nearly all of it, is told by the line splitter's scan for the line end (one
/// pass, sixteen bytes at a time); other valid input goes through `str::from_utf8`;
/// `String::from_utf8_lossy` walks every byte, and was the decoder's largest cost.
fn push_lossy(out: &mut String, bytes: &[u8], ascii: bool) {
    if ascii {
        debug_assert!(bytes.is_ascii());
        // SAFETY: the line splitter found every byte of the line ASCII, and ASCII is UTF-8.
        out.push_str(unsafe { std::str::from_utf8_unchecked(bytes) });
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// The value of a field line after its name and colon (one leading space left out), and the
/// bytes after the line; `None` when the line ends otherwise than with an LF, or not at all,
/// or its value is not UTF-8.
fn field_value(line: &[u8]) -> Option<(&str, &[u8])> {
    let (end, wide) = bytescan::line_end_and_width(line);
    let end = end.filter(|&end| line[end] == b'\n')?;
    let value = &line[..end];
    let value = value.strip_prefix(b" ").unwrap_or(value);
    let value = if wide {
        std::str::from_utf8(value).ok()?
    } else {
        // SAFETY: the scan found every byte before the line end ASCII, and ASCII is UTF-8.
        unsafe { std::str::from_utf8_unchecked(value) }
    };
    Some((value, &line[end + 1..]))
}

/// The value of a `retry` field: base-ten ASCII digits only (saturating), else None.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, &digit| {
        n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_hooks::Rng;

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    fn msg(data: &str) -> SseEvent {
        ev("message", data, None)
    }

    /// What a run over some reads produced: events, `finish()` result, reconnection time.
    type Outcome = (Vec<SseEvent>, bool, Option<u64>);

    /// Feeds `chunks` one after another, draining after each read (`drain_each`) or only at
    /// the end, then finishes.
    fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, drain_each: bool) -> Outcome {
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            if drain_each {
                events.extend(std::iter::from_fn(|| decoder.next_event()));
            }
        }
        events.extend(std::iter::from_fn(|| decoder.next_event()));
        let truncated = decoder.finish();
        (events, truncated, decoder.retry())
    }

    /// Decodes `input` whole, split in two at every byte boundary, and one byte at a time
    /// (each both draining after every read and only at the end), asserting the same events
    /// every time. Returns what `finish()` said (also asserted identical for every split).
    fn split_everywhere(input: &[u8], expected: &[SseEvent]) -> bool {
        assert_eq!(decode_all(input), expected, "decode_all");
        let whole = run([input], true);
        assert_eq!(whole.0, expected, "fed at once");
        for drain_each in [true, false] {
            for i in 0..=input.len() {
                let (head, tail) = input.split_at(i);
                assert_eq!(
                    run([head, tail], drain_each),
                    whole,
                    "split at byte {i} (drain after each read: {drain_each})"
                );
            }
            assert_eq!(
                run(input.chunks(1), drain_each),
                whole,
                "one byte at a time (drain after each read: {drain_each})"
            );
        }
        whole.1
    }

    // ----- line ends -------------------------------------------------------------------

    #[test]
    fn lines_end_with_lf() {
        split_everywhere(b"data: a\ndata: b\n\n", &[msg("a\nb")]);
    }

    #[test]
    fn lines_end_with_cr() {
        split_everywhere(b"data: a\rdata: b\r\r", &[msg("a\nb")]);
    }

    #[test]
    fn lines_end_with_crlf() {
        split_everywhere(b"data: a\r\ndata: b\r\n\r\n", &[msg("a\nb")]);
    }

    #[test]
    fn mixed_line_ends() {
        // CRLF, CR, LF, then "\n\r" is two line ends (LF then CR), and "\r\r" two CRs.
        split_everywhere(
            b"data: a\r\ndata: b\rdata: c\n\n\rdata: d\r\rdata: e\n\r\n",
            &[msg("a\nb\nc"), msg("d"), msg("e")],
        );
        // LF CR is not a CRLF: the CR is a second, empty line that dispatches.
        split_everywhere(b"data: x\n\r", &[msg("x")]);
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_end() {
        // If the LF starting the second read counted as an empty line, "a" would be
        // dispatched on its own.
        let input = b"data: a\r\ndata: b\r\n\r\n";
        assert_eq!(
            run([&input[..8], &input[8..]], true).0,
            vec![msg("a\nb")],
            "split between CR and LF"
        );
        split_everywhere(input, &[msg("a\nb")]);
        split_everywhere(b"data: a\r\n\r\ndata: b\r\n\r\n", &[msg("a"), msg("b")]);
    }

    #[test]
    fn cr_at_end_of_read_ends_the_line_at_once() {
        let mut decoder = Decoder::new();
        decoder.feed(b"data: a\n\r");
        // The CR is a complete blank line: dispatch without waiting for a possible LF.
        assert_eq!(decoder.next_event(), Some(msg("a")));
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"\n"); // completes the CRLF: swallowed, not a second blank line
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"data: b\r");
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"\n");
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"\r");
        assert_eq!(decoder.next_event(), Some(msg("b")));
        decoder.feed(b"x"); // not an LF: starts the next line
        decoder.feed(b": y\n");
        assert_eq!(decoder.next_event(), None);
        assert!(!decoder.finish());
    }

    // ----- byte order mark ---------------------------------------------------------------

    #[test]
    fn leading_bom_is_stripped() {
        split_everywhere(b"\xEF\xBB\xBFdata: a\n\n", &[msg("a")]);
        split_everywhere(b"\xEF\xBB\xBF\n", &[]);
        assert!(!split_everywhere(b"\xEF\xBB\xBF", &[]));
    }

    #[test]
    fn bom_split_at_every_byte() {
        let input = b"\xEF\xBB\xBFevent: e\ndata: a\n\n";
        for i in 0..=3 {
            for j in i..=4 {
                let chunks = [&input[..i], &input[i..j], &input[j..]];
                assert_eq!(run(chunks, true).0, vec![ev("e", "a", None)], "{i} {j}");
            }
        }
        split_everywhere(input, &[ev("e", "a", None)]);
    }

    #[test]
    fn only_one_bom_is_stripped() {
        // The second BOM becomes part of the field name "\u{FEFF}data", which is unknown.
        split_everywhere(
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
            &[msg("b")],
        );
    }

    #[test]
    fn bom_elsewhere_is_kept() {
        split_everywhere(
            b"data: \xEF\xBB\xBFa\n\ndata: a\xEF\xBB\xBF\n\n",
            &[msg("\u{FEFF}a"), msg("a\u{FEFF}")],
        );
        // A BOM at the start of a later line is not stripped: the field name is unknown.
        split_everywhere(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n", &[msg("a")]);
        // Nor after a stream starting with a blank line.
        split_everywhere(b"\n\xEF\xBB\xBFdata: b\n\n", &[]);
    }

    #[test]
    fn partial_bom_is_not_stripped() {
        // EF BB then 'd' decodes to U+FFFD followed by "data", an unknown field name.
        split_everywhere(b"\xEF\xBBdata: a\n\ndata: b\n\n", &[msg("b")]);
        split_everywhere(b"\xEFdata: a\n\ndata: b\n\n", &[msg("b")]);
        // An unfinished BOM at the end of the stream is a discarded partial line.
        assert!(split_everywhere(b"\xEF\xBB", &[]));
        assert!(split_everywhere(b"\xEF", &[]));
    }

    // ----- comments and field parsing ----------------------------------------------------

    #[test]
    fn comments_are_ignored() {
        split_everywhere(
            b": hello\n:\n:data: x\ndata: a\n: between\ndata: b\n\n",
            &[msg("a\nb")],
        );
        assert!(!split_everywhere(b": keep-alive\n\n: ping\n\n\n", &[]));
    }

    #[test]
    fn one_space_after_the_colon_is_removed() {
        split_everywhere(
            b"data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\ndata: a \n\n",
            &[msg("a"), msg("a"), msg(" a"), msg("\ta"), msg("a ")],
        );
    }

    #[test]
    fn value_runs_to_the_end_after_the_first_colon() {
        split_everywhere(
            b"data: a: b:c\n\nevent:x:y\ndata:\n\n",
            &[msg("a: b:c"), ev("x:y", "", None)],
        );
    }

    #[test]
    fn line_without_colon_is_a_name_with_empty_value() {
        split_everywhere(
            b"data\n\nevent\ndata\ndata\n\n",
            &[msg(""), ev("message", "\n", None)],
        );
        // "data " (with a space) is not the field "data".
        split_everywhere(b"data \n\n", &[]);
    }

    #[test]
    fn event_field_sets_the_type() {
        split_everywhere(
            b"event: add\ndata: 1\n\nevent: a\nevent: b\ndata: 2\n\nevent:\ndata: 3\n\n",
            &[ev("add", "1", None), ev("b", "2", None), msg("3")],
        );
    }

    #[test]
    fn event_type_is_reset_after_dispatch() {
        split_everywhere(
            b"event: add\ndata: 1\n\ndata: 2\n\n",
            &[ev("add", "1", None), msg("2")],
        );
    }

    #[test]
    fn data_lines_are_joined_with_lf() {
        split_everywhere(
            b"data: a\ndata: b\ndata:\ndata: c\n\ndata: x\ndata:\n\n",
            &[msg("a\nb\n\nc"), msg("x\n")],
        );
    }

    #[test]
    fn data_may_hold_nul() {
        split_everywhere(b"data: a\0b\n\n", &[msg("a\0b")]);
    }

    #[test]
    fn id_field_sets_the_last_event_id() {
        split_everywhere(
            b"id: 1\ndata: a\n\ndata: b\nid: 2\n\n",
            &[ev("message", "a", Some("1")), ev("message", "b", Some("2"))],
        );
    }

    #[test]
    fn last_event_id_persists_across_events() {
        split_everywhere(
            b"id: 7\ndata: a\n\ndata: b\n\nevent: e\ndata: c\n\n",
            &[
                ev("message", "a", Some("7")),
                ev("message", "b", Some("7")),
                ev("e", "c", Some("7")),
            ],
        );
        // An id in a block without data is not dispatched, but it is kept.
        split_everywhere(b"id: 3\n\ndata: a\n\n", &[ev("message", "a", Some("3"))]);
    }

    #[test]
    fn empty_id_resets_the_last_event_id() {
        split_everywhere(
            b"id: 1\ndata: a\n\nid:\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n",
            &[
                ev("message", "a", Some("1")),
                msg("b"),
                ev("message", "c", Some("2")),
                msg("d"),
            ],
        );
    }

    #[test]
    fn id_with_nul_is_ignored() {
        split_everywhere(
            b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\ndata: c\n\n",
            &[
                ev("message", "a", Some("1")),
                ev("message", "b", Some("1")),
                ev("message", "c", Some("1")),
            ],
        );
    }

    #[test]
    fn retry_with_ascii_digits_sets_the_reconnection_time() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.retry(), None);
        decoder.feed(b"retry: 3000\n");
        assert_eq!(decoder.next_event(), None);
        assert_eq!(decoder.retry(), Some(3000));
        decoder.feed(b"retry:0\n");
        assert_eq!(decoder.next_event(), None);
        assert_eq!(decoder.retry(), Some(0));
        // A retry line alone is no event.
        assert!(!split_everywhere(b"retry: 1500\n\n", &[]));
        assert_eq!(run([&b"retry: 1500\n\n"[..]], true).2, Some(1500));
        assert_eq!(run([&b"retry: 007\n"[..]], true).2, Some(7));
        assert_eq!(
            run([&b"retry: 99999999999999999999999\n"[..]], true).2,
            Some(u64::MAX),
            "saturates"
        );
    }

    #[test]
    fn retry_other_than_ascii_digits_is_ignored() {
        for value in [
            "",
            " 10",
            "10 ",
            "10a",
            "-1",
            "+1",
            "1.5",
            "1e3",
            "0x10",
            "\u{661}\u{662}",
            "١",
        ] {
            let input = format!("retry: 100\nretry: {value}\ndata: x\n\n");
            let (events, truncated, retry) = run([input.as_bytes()], true);
            assert_eq!(events, vec![msg("x")], "{value:?}");
            assert!(!truncated);
            assert_eq!(retry, Some(100), "{value:?}");
        }
        assert_eq!(run([&b"retry\n"[..]], true).2, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        split_everywhere(
            b"foo: bar\ndata: a\nretries: 5\nevents: x\nids: 9\n\nfoo: only\n\n",
            &[msg("a")],
        );
    }

    #[test]
    fn field_names_are_case_sensitive() {
        split_everywhere(
            b"Data: a\nEVENT: e\nId: 1\nRETRY: 5\n\ndata: b\nEvent: e\nID: 2\n\n",
            &[msg("b")],
        );
        assert_eq!(run([&b"Retry: 5\n"[..]], true).2, None);
    }

    // ----- dispatch ----------------------------------------------------------------------

    #[test]
    fn blank_line_dispatches() {
        let mut decoder = Decoder::new();
        decoder.feed(b"event: e\ndata: a\n");
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"\n");
        assert_eq!(decoder.next_event(), Some(ev("e", "a", None)));
        assert_eq!(decoder.next_event(), None);
    }

    #[test]
    fn blank_line_without_data_dispatches_nothing_and_resets_the_type() {
        split_everywhere(
            b"event: foo\n\ndata: a\n\n\n\n\nevent: bar\nid: 4\n\ndata: b\n\n",
            &[msg("a"), ev("message", "b", Some("4"))],
        );
    }

    #[test]
    fn only_one_trailing_lf_is_removed() {
        split_everywhere(b"data:\ndata:\n\n", &[msg("\n")]);
        split_everywhere(b"data: a\ndata:\ndata:\n\n", &[msg("a\n\n")]);
    }

    #[test]
    fn unterminated_event_is_discarded_at_end_of_stream() {
        assert!(split_everywhere(b"data: a\n\ndata: b\n", &[msg("a")]));
        assert!(split_everywhere(b"data: a\n\ndata: b", &[msg("a")]));
        assert!(split_everywhere(b"data: a\n\ndata: b\r", &[msg("a")]));
        assert!(split_everywhere(b"data: a\n\nevent: e\n", &[msg("a")]));
        assert!(split_everywhere(
            b"data: a\n\n: partial comment",
            &[msg("a")]
        ));
        assert!(!split_everywhere(b"data: a\n\n", &[msg("a")]));
        assert!(!split_everywhere(b"data: a\r\n\r\n", &[msg("a")]));
        assert!(!split_everywhere(b"data: a\n\n: comment\n", &[msg("a")]));
        // id and retry took effect when read; nothing of them is discarded.
        assert!(!split_everywhere(
            b"data: a\n\nid: 1\nretry: 5\n",
            &[msg("a")]
        ));
        assert!(!split_everywhere(b"", &[]));
    }

    #[test]
    fn finish_readies_the_decoder_for_a_new_stream() {
        let mut decoder = Decoder::new();
        decoder.feed(b"id: 5\nretry: 10\ndata: a\n\ndata: lost\n");
        assert_eq!(decoder.next_event(), Some(ev("message", "a", Some("5"))));
        assert_eq!(decoder.next_event(), None);
        assert!(decoder.finish());
        assert!(!decoder.finish());
        // A reconnection: the BOM is stripped again; last event ID and retry persist.
        decoder.feed(b"\xEF\xBB\xBFdata: b\n\n");
        assert_eq!(decoder.next_event(), Some(ev("message", "b", Some("5"))));
        assert_eq!(decoder.retry(), Some(10));
        // A CR ending the old stream does not swallow an LF starting the new one.
        decoder.feed(b"data: c\r");
        assert_eq!(decoder.next_event(), None);
        assert!(decoder.finish());
        decoder.feed(b"\ndata: d\n\n");
        assert_eq!(decoder.next_event(), Some(ev("message", "d", Some("5"))));
        assert!(!decoder.finish());
    }

    #[test]
    fn fresh_decoder_is_empty() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"");
        assert_eq!(decoder.next_event(), None);
        assert_eq!(decoder.retry(), None);
        assert_eq!(decoder.buffered_capacity(), 0);
        assert!(!decoder.finish());
        assert!(decode_all(b"").is_empty());
    }

    // ----- UTF-8 -------------------------------------------------------------------------

    #[test]
    fn invalid_utf8_becomes_replacement_character() {
        split_everywhere(
            b"data: a\xFFb\n\ndata: \xE2\x82\n\ndata: \xC3\n\nevent: \x80x\ndata: \xF0\x9F\x98\n\n",
            &[
                msg("a\u{FFFD}b"),
                msg("\u{FFFD}"),
                msg("\u{FFFD}"),
                ev("\u{FFFD}x", "\u{FFFD}", None),
            ],
        );
        split_everywhere(
            b"id: \xFF\ndata: x\n\n",
            &[ev("message", "x", Some("\u{FFFD}"))],
        );
        // An invalid byte in a field name makes it unknown.
        split_everywhere(b"dat\xE1: x\n\ndata: y\n\n", &[msg("y")]);
        // Same as decoding the whole stream lossily.
        let input = b"data: \xF0\x9F\x98\x80\xF0\x9F\xE2\x82\xAC\xED\xA0\x80\xC0\xAF\n\n";
        let expected = String::from_utf8_lossy(&input[6..input.len() - 2]).into_owned();
        split_everywhere(input, &[msg(&expected)]);
    }

    #[test]
    fn multibyte_characters_split_at_every_byte() {
        for text in ["é", "€", "😀", "aé€😀z"] {
            let input = format!("event: {text}\ndata: {text}{text}\nid: {text}\n\n");
            split_everywhere(
                input.as_bytes(),
                &[ev(text, &format!("{text}{text}"), Some(text))],
            );
        }
    }

    // ----- the specification's examples --------------------------------------------------

    #[test]
    fn spec_example_stock_ticker() {
        split_everywhere(
            b"data: YHOO\ndata: +2\ndata: 10\n\n",
            &[msg("YHOO\n+2\n10")],
        );
    }

    #[test]
    fn spec_example_comment_ids_and_leading_space() {
        let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
        let first_two = [ev("message", "first event", Some("1")), msg("second event")];
        // Without a blank line after it, the last block is discarded.
        assert!(split_everywhere(stream, &first_two));
        let mut terminated = stream.to_vec();
        terminated.push(b'\n');
        let mut all = first_two.to_vec();
        all.push(msg(" third event"));
        assert!(!split_everywhere(&terminated, &all));
    }

    #[test]
    fn spec_example_empty_data() {
        assert!(split_everywhere(
            b"data\n\ndata\ndata\n\ndata:",
            &[msg(""), msg("\n")]
        ));
    }

    #[test]
    fn spec_example_space_after_colon_is_optional() {
        split_everywhere(b"data:test\n\ndata: test\n\n", &[msg("test"), msg("test")]);
    }

    #[test]
    fn spec_example_event_types() {
        split_everywhere(
            b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
            &[
                ev("add", "73857293", None),
                ev("remove", "2153", None),
                ev("add", "113411", None),
            ],
        );
    }

    // ----- OpenAI Assistants stream ------------------------------------------------------

    #[test]
    fn openai_assistants_stream() {
        let frames: [(&str, &str); 9] = [
            (
                "thread.run.created",
                r#"{"id":"run_abc123","object":"thread.run","created_at":1710330640,"assistant_id":"asst_abc123","thread_id":"thread_abc123","status":"queued"}"#,
            ),
            (
                "thread.run.queued",
                r#"{"id":"run_abc123","object":"thread.run","status":"queued"}"#,
            ),
            (
                "thread.run.in_progress",
                r#"{"id":"run_abc123","object":"thread.run","status":"in_progress"}"#,
            ),
            (
                "thread.run.step.created",
                r#"{"id":"step_001","object":"thread.run.step","type":"message_creation","status":"in_progress"}"#,
            ),
            (
                "thread.message.created",
                r#"{"id":"msg_001","object":"thread.message","role":"assistant","content":[]}"#,
            ),
            (
                "thread.message.delta",
                r#"{"id":"msg_001","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"Hello: “world” 😀\n"}}]}}"#,
            ),
            (
                "thread.run.requires_action",
                r#"{"id":"run_abc123","object":"thread.run","status":"requires_action","required_action":{"type":"submit_tool_outputs","submit_tool_outputs":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}}"#,
            ),
            (
                "thread.run.completed",
                r#"{"id":"run_abc123","object":"thread.run","status":"completed"}"#,
            ),
            ("done", "[DONE]"),
        ];
        let mut stream = String::new();
        for (event, data) in frames {
            stream.push_str(&format!("event: {event}\ndata: {data}\n\n"));
        }
        let expected: Vec<SseEvent> = frames
            .iter()
            .map(|(event, data)| ev(event, data, None))
            .collect();
        assert!(!split_everywhere(stream.as_bytes(), &expected));
        let events = decode_all(stream.as_bytes());
        assert_eq!(events[0].event, "thread.run.created");
        assert_eq!(events[5].data, frames[5].1);
        assert!(
            events[5].data.contains("\\n"),
            "a JSON escape, not a line end"
        );
        assert_eq!(events[8].event, "done");
        assert_eq!(events[8].data, "[DONE]");
    }

    // ----- size, count and memory --------------------------------------------------------

    fn payload(len: usize) -> String {
        (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect()
    }

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Vec<SseEvent> {
        run(input.chunks(chunk), true).0
    }

    fn check_large_single_line(len: usize, one_byte_at_a_time: bool) {
        let data = payload(len);
        let input = format!("data: {data}\n\ndata: after\n\n");
        let expected = vec![msg(&data), msg("after")];
        assert_eq!(decode_all(input.as_bytes()), expected);
        assert_eq!(decode_in_chunks(input.as_bytes(), 4096), expected);
        if one_byte_at_a_time {
            assert_eq!(decode_in_chunks(input.as_bytes(), 1), expected);
        }
    }

    fn check_large_many_lines(len: usize, one_byte_at_a_time: bool) {
        let lines: Vec<String> = (0..len / 64)
            .map(|i| format!("{i:05}{}", payload(58)))
            .collect();
        let data = lines.join("\n");
        let mut input = String::new();
        for line in &lines {
            input.push_str("data: ");
            input.push_str(line);
            input.push('\n');
        }
        input.push_str("\ndata: after\n\n");
        let expected = vec![msg(&data), msg("after")];
        assert_eq!(decode_all(input.as_bytes()), expected);
        assert_eq!(decode_in_chunks(input.as_bytes(), 4096), expected);
        if one_byte_at_a_time {
            assert_eq!(decode_in_chunks(input.as_bytes(), 1), expected);
        }
    }

    #[test]
    fn one_mib_event_in_one_data_line() {
        check_large_single_line(1 << 20, false);
    }

    #[test]
    fn one_mib_event_in_many_data_lines() {
        check_large_many_lines(1 << 20, false);
    }

    #[test]
    fn sixty_four_kib_event_one_byte_at_a_time() {
        check_large_single_line(64 << 10, true);
        check_large_many_lines(64 << 10, true);
    }

    #[test]
    fn one_mib_line_one_byte_at_a_time_is_not_quadratic() {
        // Rescanning the pending line on every read would take ~5 * 10^11 steps here.
        let data = payload(1 << 20);
        let input = format!("data: {data}\r\n\r\n");
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for byte in input.as_bytes() {
            decoder.feed(std::slice::from_ref(byte));
            events.extend(decoder.next_event());
        }
        assert_eq!(events, vec![msg(&data)]);
        assert!(!decoder.finish());
    }

    #[test]
    fn hundred_thousand_events_in_order() {
        let mut input = String::new();
        for i in 0..100_000 {
            input.push_str(&format!("id: {i}\nevent: tick\ndata: event {i}\n\n"));
        }
        for chunk in [input.len(), 4096, 1000] {
            let events = decode_in_chunks(input.as_bytes(), chunk);
            assert_eq!(events.len(), 100_000);
            assert_eq!(events[0], ev("tick", "event 0", Some("0")));
            assert_eq!(events[54_321], ev("tick", "event 54321", Some("54321")));
            assert_eq!(events[99_999], ev("tick", "event 99999", Some("99999")));
            for (i, event) in events.iter().enumerate() {
                assert_eq!(event.data, format!("event {i}"));
            }
        }
    }

    /// An event of about 200 bytes, like an Assistants `thread.message.delta`.
    fn small_event(i: usize) -> String {
        format!(
            "event: thread.message.delta\nid: {i}\ndata: {{\"id\":\"msg_{i:08}\",\"object\":\"thread.message.delta\",\"delta\":{{\"content\":[{{\"index\":0,\"type\":\"text\",\"text\":{{\"value\":\"{}\"}}}}]}}}}\n\n",
            payload(40 + i % 23)
        )
    }

    #[test]
    fn buffered_capacity_stays_bounded() {
        const EVENTS: usize = 100_000;
        const CHUNKS: [usize; 8] = [1, 7, 100, 4096, 333, 1000, 2048, 64];
        const MAX_CHUNK: usize = 4096;
        let mut decoder = Decoder::new();
        let mut pending = Vec::new();
        let (mut received, mut fed, mut chunk_index) = (0, 0, 0);
        let mut peak_first_tenth = 0;
        let mut peak = 0;
        for i in 0..EVENTS {
            pending.extend_from_slice(small_event(i).as_bytes());
            loop {
                let size = CHUNKS[chunk_index % CHUNKS.len()];
                if pending.len() - fed < size {
                    break;
                }
                chunk_index += 1;
                decoder.feed(&pending[fed..fed + size]);
                fed += size;
                while let Some(event) = decoder.next_event() {
                    assert_eq!(event.id, Some(received.to_string()));
                    received += 1;
                }
                peak = peak.max(decoder.buffered_capacity());
            }
            pending.drain(..fed);
            fed = 0;
            if i == EVENTS / 10 {
                peak_first_tenth = peak;
            }
        }
        decoder.feed(&pending);
        received += std::iter::from_fn(|| decoder.next_event()).count();
        assert!(!decoder.finish());
        assert_eq!(received, EVENTS);
        // At most one partial line plus one read, in a buffer that at most doubles.
        assert!(peak <= 2 * MAX_CHUNK + 2048, "peak capacity {peak}");
        // Only the last event ID buffer may grow, by the digits of larger IDs.
        assert!(
            peak <= peak_first_tenth + 16,
            "capacity grew with the number of events: {peak_first_tenth} then {peak}"
        );
    }

    #[test]
    fn buffered_capacity_is_bounded_when_reads_are_not_drained_at_once() {
        // A caller that takes one event per read: the buffer holds the backlog, and the
        // consumed part is dropped once it is as large as what remains.
        let event = small_event(1);
        let mut decoder = Decoder::new();
        let mut peak = 0;
        for _ in 0..10_000 {
            decoder.feed(event.as_bytes());
            assert!(decoder.next_event().is_some());
            peak = peak.max(decoder.buffered_capacity());
        }
        assert!(decoder.next_event().is_none());
        assert!(peak <= 4 * event.len() + 1024, "peak capacity {peak}");
    }

    #[test]
    fn large_buffer_is_released_after_a_big_event() {
        let mut decoder = Decoder::new();
        decoder.feed(format!("data: {}\n\n", payload(1 << 20)).as_bytes());
        assert!(decoder.buffered_capacity() > 1 << 20);
        assert_eq!(decoder.next_event().map(|e| e.data.len()), Some(1 << 20));
        assert_eq!(decoder.next_event(), None);
        decoder.feed(b"data: small\n\n");
        assert_eq!(decoder.next_event(), Some(msg("small")));
        assert_eq!(decoder.next_event(), None);
        assert!(
            decoder.buffered_capacity() <= RETAINED_CAPACITY + 1024,
            "capacity {}",
            decoder.buffered_capacity()
        );
    }

    #[test]
    fn find_line_end_matches_a_plain_search() {
        let mut bytes = vec![b'x'; 100];
        assert_eq!(find_line_end(&bytes), None);
        for i in 0..100 {
            for end in [b'\n', b'\r'] {
                bytes[i] = end;
                for start in 0..=i {
                    assert_eq!(find_line_end(&bytes[start..]), Some(i - start));
                }
                bytes[i] = b'x';
            }
        }
    }

    // ----- differential test against a direct transcription of the spec -------------------

    /// The spec's algorithm on the whole stream at once: decode (lossy UTF-8, one BOM
    /// dropped), split into lines, interpret. Also says whether `finish` discards anything.
    fn reference(bytes: &[u8]) -> Outcome {
        let text = String::from_utf8_lossy(bytes);
        let mut rest = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        let (mut events, mut retry) = (Vec::new(), None);
        let (mut data, mut event_type, mut last_id) = (String::new(), String::new(), String::new());
        while let Some(end) = rest.find(['\r', '\n']) {
            let line = &rest[..end];
            rest = &rest[end
                + if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                }..];
            if line.is_empty() {
                if !data.is_empty() {
                    data.pop();
                    events.push(SseEvent {
                        event: if event_type.is_empty() {
                            "message".into()
                        } else {
                            event_type.clone()
                        },
                        data: data.clone(),
                        id: (!last_id.is_empty()).then(|| last_id.clone()),
                    });
                }
                data.clear();
                event_type.clear();
            } else if !line.starts_with(':') {
                let (name, value) = match line.split_once(':') {
                    Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
                    None => (line, ""),
                };
                match name {
                    "event" => event_type = value.to_owned(),
                    "data" => {
                        data.push_str(value);
                        data.push('\n');
                    }
                    "id" if !value.contains('\0') => last_id = value.to_owned(),
                    "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                        retry = Some(value.parse().unwrap_or(u64::MAX));
                    }
                    _ => {}
                }
            }
        }
        let truncated = !rest.is_empty() || !data.is_empty() || !event_type.is_empty();
        (events, truncated, retry)
    }

    /// `whole_event` gives what `feed` then `next_parts` give, and leaves the decoder so that
    /// it decodes the rest of the stream the same: random streams before and after, random
    /// events in the usual form with random changes, in random reads.
    #[test]
    fn a_whole_event_is_what_feed_gives() {
        const PIECES: [&[u8]; 16] = [
            b"data: v\n",
            b"event: e\n",
            b"id: 7\n",
            b"retry: 5\n",
            b"\n",
            b"\r",
            b"\r\n",
            b": c\n",
            b"x",
            b":",
            b" ",
            b"\0",
            b"\xEF\xBB\xBF",
            b"\xC3\xA9",
            b"\xC3",
            b"\xFF",
        ];
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let stream = |rng: &mut Rng, n: usize| {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(n) {
                bytes.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
            bytes
        };
        let drain =
            |decoder: &mut Decoder| std::iter::from_fn(|| decoder.next_event()).collect::<Vec<_>>();
        let mut taken = 0;
        for round in 0..20_000 {
            let before = stream(&mut rng, 12);
            let mut event = Vec::new();
            if rng.below(4) != 0 {
                event.extend_from_slice(b"event:");
                event.extend_from_slice(&b" "[..rng.below(2)]);
                event.extend_from_slice(
                    [&b"thread.message.delta"[..], b"", b"\xC3\xA9", b"a:b"][rng.below(4)],
                );
                event.push(b'\n');
            }
            event.extend_from_slice(b"data:");
            event.extend_from_slice(&b"  "[..rng.below(3)]);
            event.extend_from_slice(
                [&br#"{"delta":"hi"}"#[..], b"", b"\xF0\x9F\x98\x80", b"\0"][rng.below(4)],
            );
            event.extend_from_slice(b"\n\n");
            for _ in 0..rng.below(3) {
                let at = rng.below(event.len() + 1);
                let piece = PIECES[rng.below(PIECES.len())];
                event.splice(at..at, piece.iter().copied());
            }
            let after = stream(&mut rng, 12);
            let mut general = Decoder::new();
            general.feed(&before);
            drain(&mut general);
            let mut whole = general.clone();
            general.feed(&event);
            let fed = drain(&mut general);
            match whole.whole_event(&event) {
                Some(parts) => {
                    let parts = SseEvent::from(parts);
                    assert_eq!(vec![parts], fed, "round {round}: {before:?} then {event:?}");
                    taken += 1;
                }
                None => {
                    whole.feed(&event);
                    assert_eq!(drain(&mut whole), fed, "round {round}");
                }
            }
            // The rest of the stream, its end, and a reconnection (the last id kept).
            let mut outcomes = Vec::new();
            for decoder in [&mut general, &mut whole] {
                decoder.feed(&after);
                let rest = drain(decoder);
                let ended = (decoder.buffered_len(), decoder.finish(), decoder.retry());
                decoder.feed(b"data: again\n\n");
                outcomes.push((rest, ended, drain(decoder)));
            }
            assert_eq!(
                outcomes[0], outcomes[1],
                "round {round}: {before:?} {event:?} {after:?}"
            );
        }
        assert!(taken > 2_000, "only {taken} events were whole");
    }

    #[test]
    fn random_streams_match_the_reference() {
        const PIECES: [&[u8]; 26] = [
            b"data",
            b"event",
            b"id",
            b"retry",
            b"Data",
            b":",
            b" ",
            b"  ",
            b"\n",
            b"\r",
            b"\r\n",
            b"\n\n",
            b"x",
            b"42",
            b"\0",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB",
            b"\xC3\xA9",
            b"\xC3",
            b"\xF0\x9F\x98\x80",
            b"\xE2\x82",
            b"\xFF",
            b"data: v\n",
            b"\n\r",
            b"id:\n",
            b": c\n",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(40) {
                input.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
            let expected = reference(&input);
            assert_eq!(
                run([&input[..]], true),
                expected,
                "round {round}: {input:?}"
            );
            let mut chunks = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(rng.below(8).min(rest.len()));
                chunks.push(chunk);
                rest = tail;
            }
            let drain_each = rng.below(2) == 0;
            assert_eq!(
                run(chunks.iter().copied(), drain_each),
                expected,
                "round {round}: {chunks:?}"
            );
        }
    }
}
