//! HTTP/1.1 as a stream's own connection speaks it (see `wire.rs`): the request's head, the
//! answer's head, and the body's framing (chunked, by length, or up to the close). Pure
//! functions over bytes: no socket here.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// The most an answer's head (status line and headers) may take.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// An answer's status line and headers.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// How the body after this head ends.
    pub(crate) framing: Framing,
}

/// Parses the answer's head at the start of `buf`: `Ok(None)` while it is incomplete, else the
/// head and how many bytes it took. `Err` says what is wrong with it.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let Some(end) = head_end(buf) else {
        if buf.len() > MAX_HEAD_BYTES {
            return Err(format!(
                "the answer's head is larger than {MAX_HEAD_BYTES} bytes"
            ));
        }
        return Ok(None);
    };
    let mut lines = buf[..end].split(|&b| b == b'\n').map(|line| match line {
        [rest @ .., b'\r'] => rest,
        line => line,
    });
    let status_line = lines.next().unwrap_or_default();
    let (version, status) = parse_status_line(status_line).ok_or_else(|| {
        format!(
            "the answer does not start with an HTTP/1 status line: {:?}",
            String::from_utf8_lossy(&status_line[..status_line.len().min(80)])
        )
    })?;
    let mut headers = HeaderMap::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            return Err("the answer's head folds a header over lines".to_owned());
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or("the answer's head has a line that is not a header")?;
        let name = HeaderName::from_bytes(&line[..colon])
            .map_err(|_| "the answer's head has an invalid header name".to_owned())?;
        let value = trim(&line[colon + 1..]);
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| format!("the answer's header {name} has an invalid value"))?;
        headers.append(name, value);
    }
    let framing = framing(version, status, &headers)?;
    Ok(Some((
        Head {
            status,
            headers,
            framing,
        },
        end,
    )))
}

/// Where the head ends (just past its empty line), lines ending in CRLF or LF alone.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = buf[from..].iter().position(|&b| b == b'\n') {
        let lf = from + at;
        let after = lf + 1;
        match buf.get(after) {
            Some(b'\n') => return Some(after + 1),
            Some(b'\r') if buf.get(after + 1) == Some(&b'\n') => return Some(after + 2),
            Some(_) => from = after,
            None => return None,
        }
    }
    None
}

/// `HTTP/1.x NNN reason` → the minor version and the status.
fn parse_status_line(line: &[u8]) -> Option<(u8, u16)> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    if !minor.is_ascii_digit() {
        return None;
    }
    let rest = rest.strip_prefix(b" ")?;
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    let status = std::str::from_utf8(digits).ok()?.parse::<u16>().ok()?;
    (100..=999)
        .contains(&status)
        .then_some((minor - b'0', status))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// How the body after a head of `status` with `headers` ends (RFC 9112, section 6.3).
fn framing(minor: u8, status: u16, headers: &HeaderMap) -> Result<Framing, String> {
    if status < 200 || status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let codings: Vec<&[u8]> = headers
        .get_all("transfer-encoding")
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim)
        .filter(|c| !c.is_empty())
        .collect();
    if minor >= 1 && !codings.is_empty() {
        return Ok(match codings.last() {
            Some(last) if last.eq_ignore_ascii_case(b"chunked") => {
                Framing::Chunked(Chunked::fresh())
            }
            _ => Framing::Close,
        });
    }
    let mut length: Option<u64> = None;
    for value in headers.get_all("content-length") {
        for part in value.as_bytes().split(|&b| b == b',') {
            let part = trim(part);
            let parsed = std::str::from_utf8(part)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("the answer's content-length is not a number")?;
            if length.is_some_and(|l| l != parsed) {
                return Err("the answer has two different content-lengths".to_owned());
            }
            length = Some(parsed);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// The framing of a body, and how far it has been read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// `Transfer-Encoding: chunked`, in this state.
    Chunked(Chunked),
    /// The body goes on until the connection closes.
    Close,
}

/// Where a chunked body's reading is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunked {
    /// In a chunk's size line: the size so far, its digits, and how many bytes of extension
    /// came (0: none began).
    Size {
        size: u64,
        digits: u8,
        extension: usize,
    },
    /// The size line ended with CR; its LF must follow.
    SizeLf { size: u64 },
    /// In a chunk's data, with this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF (`true` once the CR is seen).
    DataEnd { cr: bool },
    /// After the last chunk: the trailer's lines; `start` at the beginning of one; `len`
    /// bytes of them so far.
    Trailer { start: bool, cr: bool, len: usize },
    /// The body is complete.
    Done,
}

/// How a body's bytes went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// All were taken; the body goes on.
    More,
    /// The body is complete (bytes after its end, if any, are not part of it).
    Done,
}

impl Framing {
    /// Takes `input`, the next bytes of the connection, handing the body's content in it to
    /// `out` (in one or more pieces). `Err` when the framing is broken.
    pub(crate) fn decode<'a>(
        &mut self,
        input: &'a [u8],
        out: &mut impl FnMut(&'a [u8]),
    ) -> Result<Decoded, String> {
        match self {
            Framing::Close => {
                if !input.is_empty() {
                    out(input);
                }
                Ok(Decoded::More)
            }
            Framing::Length(left) => {
                let take = (*left).min(input.len() as u64) as usize;
                if take > 0 {
                    out(&input[..take]);
                }
                *left -= take as u64;
                Ok(if *left == 0 {
                    Decoded::Done
                } else {
                    Decoded::More
                })
            }
            Framing::Chunked(state) => state.decode(input, out),
        }
    }

    /// The content of `input` when it is exactly one whole chunk, in the usual form (hex size,
    /// CRLF, the size's bytes, CRLF; no extension, not the last chunk) and the body is at a
    /// chunk's start; else `None`. [`decode`](Self::decode) would hand out the same content
    /// and leave the same state (the start of the next chunk), so a reader may take the
    /// content without it: a stream that sends an event at a time reads one such chunk per
    /// read.
    pub(crate) fn whole_chunk<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        if *self != Framing::Chunked(Chunked::fresh()) {
            return None;
        }
        let mut size: usize = 0;
        let mut digits = 0;
        while let Some(digit) = input.get(digits).and_then(|&b| hex_digit(b)) {
            if digits == usize::from(MAX_SIZE_DIGITS) {
                return None;
            }
            size = size.checked_mul(16)? | usize::from(digit);
            digits += 1;
        }
        let rest = input[digits..].strip_prefix(b"\r\n")?;
        if size == 0 || rest.len() != size.checked_add(2)? || !rest.ends_with(b"\r\n") {
            return None;
        }
        Some(&rest[..size])
    }

    /// True once the body is complete.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Framing::Length(0) | Framing::Chunked(Chunked::Done))
    }

    /// The connection ended (cleanly): `Ok` when that ends the body, else what is missing.
    pub(crate) fn at_close(&self) -> Result<(), String> {
        match self {
            Framing::Close => Ok(()),
            _ if self.is_done() => Ok(()),
            Framing::Length(left) => Err(format!(
                "the connection closed {left} bytes before the end of the answer's body"
            )),
            Framing::Chunked(_) => {
                Err("the connection closed before the end of the chunked body".to_owned())
            }
        }
    }
}

const MAX_SIZE_DIGITS: u8 = 15;
/// The most bytes of one chunk's extension, or of the whole trailer, read and skipped: a
/// server sending them without end would otherwise keep a stream reading with nothing to show.
const MAX_SKIPPED_BYTES: usize = 64 * 1024;

impl Chunked {
    fn decode<'a>(
        &mut self,
        input: &'a [u8],
        out: &mut impl FnMut(&'a [u8]),
    ) -> Result<Decoded, String> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            *self = match *self {
                Chunked::Data(left) => {
                    let take = left.min((input.len() - at) as u64) as usize;
                    out(&input[at..at + take]);
                    at += take;
                    let left = left - take as u64;
                    *self = if left == 0 {
                        Chunked::DataEnd { cr: false }
                    } else {
                        Chunked::Data(left)
                    };
                    continue;
                }
                Chunked::Size {
                    size,
                    digits,
                    extension,
                } => match byte {
                    b'\r' | b'\n' if digits == 0 => return Err(bad("a chunk size is missing")),
                    b'\r' => Chunked::SizeLf { size },
                    b'\n' => Chunked::after_size(size),
                    _ if extension > MAX_SKIPPED_BYTES => {
                        return Err(bad("a chunk extension is too long"))
                    }
                    _ if extension > 0 => Chunked::Size {
                        size,
                        digits,
                        extension: extension + 1,
                    },
                    b';' | b' ' | b'\t' if digits > 0 => Chunked::Size {
                        size,
                        digits,
                        extension: 1,
                    },
                    _ => {
                        let digit = hex_digit(byte)
                            .ok_or_else(|| bad("a chunk size is not hexadecimal"))?;
                        if digits == MAX_SIZE_DIGITS {
                            return Err(bad("a chunk size is too large"));
                        }
                        Chunked::Size {
                            size: size << 4 | u64::from(digit),
                            digits: digits + 1,
                            extension,
                        }
                    }
                },
                Chunked::SizeLf { size } if byte == b'\n' => Chunked::after_size(size),
                Chunked::SizeLf { .. } => return Err(bad("a chunk size line lacks its LF")),
                Chunked::DataEnd { cr: false } if byte == b'\r' => Chunked::DataEnd { cr: true },
                Chunked::DataEnd { .. } if byte == b'\n' => Chunked::fresh(),
                Chunked::DataEnd { .. } => {
                    return Err(bad("a chunk's data is not followed by CRLF"))
                }
                Chunked::Trailer { len, .. } if len > MAX_SKIPPED_BYTES => {
                    return Err(bad("the trailer is too long"))
                }
                Chunked::Trailer {
                    start,
                    cr: false,
                    len,
                } if byte == b'\r' => Chunked::Trailer {
                    start,
                    cr: true,
                    len: len + 1,
                },
                Chunked::Trailer { start: true, .. } if byte == b'\n' => Chunked::Done,
                Chunked::Trailer { len, .. } if byte == b'\n' => Chunked::Trailer {
                    start: true,
                    cr: false,
                    len: len + 1,
                },
                Chunked::Trailer { cr: true, .. } => {
                    return Err(bad("a trailer line has a bare CR"))
                }
                Chunked::Trailer { len, .. } => Chunked::Trailer {
                    start: false,
                    cr: false,
                    len: len + 1,
                },
                Chunked::Done => return Ok(Decoded::Done),
            };
            at += 1;
        }
        Ok(if *self == Chunked::Done {
            Decoded::Done
        } else {
            Decoded::More
        })
    }

    fn fresh() -> Chunked {
        Chunked::Size {
            size: 0,
            digits: 0,
            extension: 0,
        }
    }

    fn after_size(size: u64) -> Chunked {
        if size == 0 {
            Chunked::Trailer {
                start: true,
                cr: false,
                len: 0,
            }
        } else {
            Chunked::Data(size)
        }
    }
}

/// The value of a hexadecimal digit.
fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn bad(what: &str) -> String {
    format!("the answer's chunked body is broken: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_hooks::Rng;

    fn head(text: &str) -> Result<Option<(Head, usize)>, String> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn heads() {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nx-request-id:  req_1 \r\n\r\nbody";
        let (h, n) = head(text).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.headers["content-type"], "text/event-stream");
        assert_eq!(h.headers["x-request-id"], "req_1");
        assert!(matches!(h.framing, Framing::Chunked(_)));
        assert_eq!(n, text.find("body").unwrap());
        // LF alone, no reason phrase, a length.
        let text = "HTTP/1.0 404\ncontent-length: 7\n\nnot found";
        let (h, n) = head(text).unwrap().unwrap();
        let at = text.find("not").unwrap();
        assert_eq!((h.status, h.framing, n), (404, Framing::Length(7), at));
        // Incomplete, then too large.
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n")
            .unwrap()
            .is_none());
        let big = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD_BYTES));
        assert!(head(&big).unwrap_err().contains("larger"));
        // Neither length nor chunked: up to the close; no body for 204.
        let (h, _) = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.framing, Framing::Close);
        let (h, _) = head("HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.framing, Framing::Length(0));
        let (h, _) = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Close);
        for broken in [
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "garbage\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        ] {
            assert!(head(broken).is_err(), "{broken:?}");
        }
    }

    /// Decodes `wire` fed in pieces of `step` bytes: the content, and whether it ended.
    fn chunked(wire: &[u8], step: usize) -> Result<(Vec<u8>, bool), String> {
        let mut framing = Framing::Chunked(Chunked::fresh());
        let mut content = Vec::new();
        let mut done = false;
        for piece in wire.chunks(step.max(1)) {
            if framing.decode(piece, &mut |data| content.extend_from_slice(data))? == Decoded::Done
            {
                done = true;
                break;
            }
        }
        Ok((content, done))
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let wire =
            b"5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..=wire.len() {
            assert_eq!(
                chunked(wire, step).unwrap(),
                (b"hello 0123456789".to_vec(), true),
                "{step}"
            );
        }
        assert_eq!(
            chunked(b"3\nabc\n0\n\n", 1).unwrap(),
            (b"abc".to_vec(), true)
        );
        assert_eq!(
            chunked(b"3\r\nabc\r\n", 2).unwrap(),
            (b"abc".to_vec(), false)
        );
        for broken in [
            &b"x\r\n"[..],
            b"\r\n",
            b"3\r\nabcd\r\n",
            b"3\rx",
            b"1000000000000000\r\n",
            b"0\r\nx\ry",
        ] {
            assert!(chunked(broken, 1).is_err(), "{broken:?}");
        }
        let long_extension = format!("1;{}\r\n", "x".repeat(MAX_SKIPPED_BYTES + 1));
        let long_trailer = format!(
            "0\r\n{}\r\n\r\n",
            "x: y\r\n".repeat(MAX_SKIPPED_BYTES / 6 + 1)
        );
        for broken in [long_extension.as_bytes(), long_trailer.as_bytes()] {
            assert!(chunked(broken, 1).is_err(), "{broken:?}");
        }
    }

    /// Random chunked bodies (sizes, extensions, trailers, line endings), some with one byte
    /// changed: read in random pieces, each gives what it gives read whole, and an unchanged
    /// one gives its content, complete.
    #[test]
    fn random_bodies_read_the_same_in_any_pieces() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15_u64);
        let mut next = move |below: usize| rng.below(below);
        for round in 0..3000 {
            let mut wire = Vec::new();
            let mut content = Vec::new();
            let eol = |n: usize| if n % 4 == 0 { &b"\n"[..] } else { b"\r\n" };
            for _ in 0..next(5) {
                let data: Vec<u8> = (0..1 + next(40)).map(|_| next(256) as u8).collect();
                let size = if next(2) == 0 {
                    format!("{:x}", data.len())
                } else {
                    format!("{:X}", data.len())
                };
                wire.extend_from_slice(size.as_bytes());
                if next(3) == 0 {
                    wire.extend_from_slice(b";name=\"v\"");
                }
                wire.extend_from_slice(eol(next(8)));
                wire.extend_from_slice(&data);
                wire.extend_from_slice(eol(next(8)));
                content.extend_from_slice(&data);
            }
            wire.extend_from_slice(b"0");
            wire.extend_from_slice(eol(next(8)));
            if next(2) == 0 {
                wire.extend_from_slice(b"x-trailer: 1");
                wire.extend_from_slice(eol(next(8)));
            }
            wire.extend_from_slice(eol(next(8)));
            let changed = round % 3 == 0;
            if changed {
                let at = next(wire.len());
                wire[at] = next(256) as u8;
            }
            let whole = chunked(&wire, wire.len());
            if !changed {
                assert_eq!(whole, Ok((content, true)), "{wire:?}");
            }
            for _ in 0..4 {
                let step = 1 + next(wire.len());
                let pieces = chunked(&wire, step);
                match (&whole, &pieces) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{wire:?} in pieces of {step}"),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{wire:?} in pieces of {step}: {pieces:?}, whole {whole:?}"),
                }
            }
        }
    }

    /// `whole_chunk` takes only what `decode` reads the same way: the same content, and the
    /// start of the next chunk after it. Inputs: whole chunks, their pieces and variants (bare
    /// LF, extensions, the last chunk, bad sizes, extra bytes), after various states.
    #[test]
    fn a_whole_chunk_is_what_decode_reads() {
        let fresh = || Framing::Chunked(Chunked::fresh());
        assert_eq!(fresh().whole_chunk(b"5\r\nhello\r\n"), Some(&b"hello"[..]));
        assert_eq!(
            fresh().whole_chunk(b"a\r\n0123456789\r\n"),
            Some(&b"0123456789"[..])
        );
        for not_whole in [
            &b"5\r\nhell\r\n"[..],
            b"5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n5\r\nhello\r\n",
            b"5\nhello\n",
            b"5;x=y\r\nhello\r\n",
            b"0\r\n\r\n",
            b"\r\n\r\n",
            b"5\r\nhello\n\n",
            b"1000000000000000\r\nx\r\n",
            b"ffffffffffffffff\r\nx\r\n",
            b"",
        ] {
            assert_eq!(fresh().whole_chunk(not_whole), None, "{not_whole:?}");
        }
        for state in [
            Framing::Chunked(Chunked::Data(5)),
            Framing::Chunked(Chunked::DataEnd { cr: false }),
            Framing::Chunked(Chunked::Done),
            Framing::Length(10),
            Framing::Close,
        ] {
            assert_eq!(state.whole_chunk(b"5\r\nhello\r\n"), None, "{state:?}");
        }
        let mut rng = Rng(0x2545_f491_4f6c_dd1d_u64);
        let mut next = move |below: usize| rng.below(below);
        let mut taken = 0;
        for _ in 0..20_000 {
            let len = next(300);
            let mut input = format!("{len:x}\r\n").into_bytes();
            input.extend((0..len).map(|_| next(256) as u8));
            input.extend_from_slice(b"\r\n");
            for _ in 0..next(3) {
                let at = next(input.len());
                input[at] = *b"\r\n0a;Z \x00".get(next(9)).unwrap_or(&(next(256) as u8));
            }
            if next(4) == 0 {
                input.truncate(next(input.len() + 1));
            }
            let Some(content) = fresh().whole_chunk(&input) else {
                continue;
            };
            taken += 1;
            let mut framing = fresh();
            let mut decoded = Vec::new();
            let result = framing.decode(&input, &mut |d| decoded.extend_from_slice(d));
            assert_eq!(result, Ok(Decoded::More), "{input:?}");
            assert_eq!(decoded, content, "{input:?}");
            assert_eq!(framing, fresh(), "{input:?}");
        }
        assert!(taken > 5_000, "only {taken} inputs were whole chunks");
    }

    #[test]
    fn close_ends_a_body_only_where_it_may() {
        let mut length = Framing::Length(4);
        let mut seen = Vec::new();
        assert_eq!(
            length.decode(b"abcdef", &mut |d| seen.extend_from_slice(d)),
            Ok(Decoded::Done)
        );
        assert_eq!(seen, b"abcd");
        assert!(length.at_close().is_ok());
        assert!(Framing::Length(3)
            .at_close()
            .unwrap_err()
            .contains("3 bytes"));
        assert!(Framing::Close.at_close().is_ok());
        assert!(Framing::Chunked(Chunked::fresh()).at_close().is_err());
        assert!(Framing::Chunked(Chunked::Done).at_close().is_ok());
    }
}
