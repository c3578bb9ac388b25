//! Reading a few fields of a JSON text without building the rest: a scanner that accepts
//! exactly what serde_json accepts when it reads an object into a map of raw values (every
//! value checked for syntax, escapes checked, control characters refused, no depth limit),
//! and decodes only what it is asked for. The text deltas of both streams are read this way,
//! in one pass over each event's data.

use std::borrow::Cow;

use crate::bytescan;

/// The raw JSON of `key`'s value in the object `text`, or `None` when `text` is not one JSON
/// object (whitespace around it aside) or has no such key. With duplicate keys, the last one
/// counts, as in a whole parse.
pub(crate) fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    // The loop of `Scanner::object`, written out: this is the reader of every Responses text
    // delta.
    let bytes = text.as_bytes();
    let mut at = ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = ws(bytes, at + 1);
    let mut found = None;
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let (end, escaped) = string_at(bytes, at)?;
            let wanted = if escaped {
                string(&text[at..end])? == key
            } else {
                &bytes[at + 1..end - 1] == key.as_bytes()
            };
            at = ws(bytes, end);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            let value = ws(bytes, at + 1);
            at = value_at(bytes, value)?;
            if wanted {
                found = Some((value, at));
            }
            at = ws(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = ws(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if ws(bytes, at) != bytes.len() {
        return None; // Trailing characters.
    }
    found.map(|(start, end)| &text[start..end])
}

/// The text of a `thread.message.delta`'s data: the `text.value` of each `delta.content[]`
/// item whose `type` is `"text"`, joined (an item with no string `text.value` adds nothing);
/// `None` when the data is not one JSON object, has no `delta` object with a `content` array,
/// or that array has no text item. Duplicate keys: the last one counts, at every level. The
/// whole data is read once. The text has room for `spare` more bytes if it has one part.
#[cfg(test)]
pub(crate) fn message_text(data: &str, spare: usize) -> Option<String> {
    let mut text = String::new();
    message_text_into(data, &mut text, spare).then_some(text)
}

/// [`message_text`], written into `out` (its contents replaced, its allocation reused):
/// whether there is a text (when not, `out` is left empty).
pub(crate) fn message_text_into(data: &str, out: &mut String, spare: usize) -> bool {
    out.clear();
    let mut found = false;
    if let Some(value) = usual_message_value(data) {
        add_text(out, &mut found, spare, Some(value));
        return true;
    }
    let mut scanner = Scanner::new(data);
    let read = scanner.object(|s, name| {
        if !name.is("delta") {
            return s.value();
        }
        found = false;
        s.object_or_skip(|s, name| {
            if !name.is("content") {
                return s.value();
            }
            found = false;
            s.array_or_skip(|s| text_part(s, out, &mut found, spare))
        })
        .map(|_| ())
    });
    if read.is_some() && scanner.end().is_some() && found {
        return true;
    }
    out.clear();
    false
}

/// One item of a message delta's `content`: its text appended to `out` when its `type` is
/// `"text"` (`out` emptied first when it is the first such item, `found` then set).
fn text_part<'a>(
    s: &mut Scanner<'a>,
    out: &mut String,
    found: &mut bool,
    spare: usize,
) -> Option<()> {
    let mut kind = None::<&'a str>;
    let mut value = None::<&'a str>;
    let is_object = s.object_or_skip(|s, name| {
        if name.is("type") {
            kind = Some(s.raw_value()?);
        } else if name.is("text") {
            value = None;
            s.object_or_skip(|s, name| {
                let raw = s.raw_value()?;
                if name.is("value") {
                    value = Some(raw);
                }
                Some(())
            })?;
        } else {
            s.value()?;
        }
        Some(())
    })?;
    // (The type as written is nearly always `"text"` itself: no decoding for that.)
    let is_text = kind.is_some_and(|kind| {
        kind == "\"text\"" || kind.contains('\\') && string(kind).is_some_and(|k| k == "text")
    });
    if is_object && is_text {
        add_text(out, found, spare, value);
    }
    Some(())
}

/// Adds a text item's raw `text.value` (if any) to `out` (`out` emptied first when it is the
/// first text item, `found` then set).
fn add_text(out: &mut String, found: &mut bool, spare: usize, value: Option<&str>) {
    if !*found {
        out.clear();
        *found = true;
        out.reserve(value.map_or(0, str::len) + spare);
    }
    // A value that is not a string, or whose escapes spell none, adds nothing.
    if let Some(value) = value {
        append_string(value, out);
    }
}

/// What a message delta holds before its id, between its id and its text's value, and after
/// that value, when it is written as OpenAI's streams write nearly every one (and as the API
/// reference shows them).
const USUAL_DELTA: [&[u8]; 3] = [
    br#"{"id":"#,
    br#","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"#,
    br#"}}]}}"#,
];

/// The raw `text.value` (a JSON string, checked) of a message delta written exactly in the
/// usual form ([`USUAL_DELTA`] around two strings, the id and the value); `None` for any other
/// text, which the scanner then reads. A delta in the usual form holds one object with one
/// text item and no other key the text depends on, so the scanner would give the same text:
/// the value's.
fn usual_message_value(data: &str) -> Option<&str> {
    let bytes = data.as_bytes();
    // The position after the string whose opening quote is at `at`.
    let string_end = |at: usize| match bytes.get(at) {
        Some(b'"') => string_at(bytes, at).map(|(end, _)| end),
        _ => None,
    };
    let [head, middle, tail] = USUAL_DELTA;
    let id = bytes.starts_with(head).then_some(head.len())?;
    let id_end = string_end(id)?;
    let value = bytes[id_end..]
        .starts_with(middle)
        .then_some(id_end + middle.len())?;
    let value_end = string_end(value)?;
    // Both ends are ASCII bytes of `data` (quotes), so character boundaries.
    (&bytes[value_end..] == tail).then(|| &data[value..value_end])
}

/// The string a raw JSON value (checked by the scanner) holds, unescaped; `None` when it is
/// not a string, or its escapes do not spell one (a lone surrogate), as serde_json decides.
pub(crate) fn string(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    match inner.find('\\') {
        // Checked by the scanner: no escape, no control character, so it is the text.
        None => Some(Cow::Borrowed(inner)),
        Some(first) => {
            let mut out = String::with_capacity(inner.len());
            unescape(inner, first, &mut out).map(|()| Cow::Owned(out))
        }
    }
}

/// [`string`], written into `out` (its contents replaced, its allocation reused) with room
/// for `spare` more bytes: whether it is a string (when not, `out` is left empty).
pub(crate) fn string_into(text: &str, out: &mut String, spare: usize) -> bool {
    out.clear();
    out.reserve(text.len() + spare);
    append_string(text, out)
}

/// Appends the string a raw JSON value holds to `out`; appends nothing and says false when it
/// is not a string.
fn append_string(text: &str, out: &mut String) -> bool {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .is_some_and(|inner| append_content(inner, out))
}

/// Appends the text of a string's content `inner` (checked by the scanner) to `out`; appends
/// nothing and says false when its escapes spell no string.
fn append_content(inner: &str, out: &mut String) -> bool {
    match inner.find('\\') {
        None => {
            out.push_str(inner);
            true
        }
        Some(first) => {
            let start = out.len();
            let decoded = unescape(inner, first, out).is_some();
            if !decoded {
                out.truncate(start);
            }
            decoded
        }
    }
}

/// Appends to `out` the text of a string's content `inner` (checked by the scanner), whose
/// first backslash is at `first`, with its escapes decoded: the rules of serde_json reading a
/// `String`, where a `\u` escape of a UTF-16 surrogate must be a leading one followed by a
/// trailing one. `None` (`out` then holding part of it) when the escapes spell no string.
fn unescape(inner: &str, first: usize, out: &mut String) -> Option<()> {
    fn hex4(digits: &[u8]) -> Option<u32> {
        digits
            .iter()
            .try_fold(0, |n, &d| Some(n << 4 | char::from(d).to_digit(16)?))
    }
    let bytes = inner.as_bytes();
    out.push_str(&inner[..first]);
    let mut at = first;
    while at < bytes.len() {
        // At a backslash.
        let kind = *bytes.get(at + 1)?;
        at += 2;
        let decoded = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(bytes.get(at..at + 4)?)?;
                at += 4;
                match unit {
                    0xD800..=0xDBFF => {
                        if bytes.get(at..at + 2)? != b"\\u" {
                            return None;
                        }
                        let low = hex4(bytes.get(at + 2..at + 6)?)?;
                        at += 6;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32((((unit - 0xD800) << 10) | (low - 0xDC00)) + 0x1_0000)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        };
        out.push(decoded);
        let next = inner[at..].find('\\').map_or(bytes.len(), |i| at + i);
        out.push_str(&inner[at..next]);
        at = next;
    }
    Some(())
}

/// An object member's key, as it was written (quotes included).
struct Key<'a> {
    raw: &'a str,
    escaped: bool,
}

impl Key<'_> {
    /// Whether the key, unescaped, is `name`.
    #[inline(always)]
    fn is(&self, name: &str) -> bool {
        if self.escaped {
            return string(self.raw).is_some_and(|key| key == name);
        }
        let inner = &self.raw.as_bytes()[1..self.raw.len() - 1];
        inner.len() == name.len() && inner == name.as_bytes()
    }
}

/// Open arrays and objects around the point being skipped, as a stack of bits (1: an array),
/// the first 64 levels in a word and deeper ones in a vector, allocated only for them.
struct Nesting {
    depth: usize,
    bits: u64,
    deeper: Vec<bool>,
}

impl Nesting {
    #[inline(always)]
    fn new() -> Nesting {
        Nesting {
            depth: 0,
            bits: 0,
            deeper: Vec::new(),
        }
    }

    fn push(&mut self, array: bool) {
        if self.depth < 64 {
            self.bits = (self.bits & !(1 << self.depth)) | (u64::from(array) << self.depth);
        } else {
            self.deeper.push(array);
        }
        self.depth += 1;
    }

    /// The innermost open level (true: an array), if any.
    fn last(&self) -> Option<bool> {
        match self.depth {
            0 => None,
            d if d <= 64 => Some(self.bits >> (d - 1) & 1 == 1),
            _ => self.deeper.last().copied(),
        }
    }

    fn pop(&mut self) {
        if self.depth > 64 {
            self.deeper.pop();
        }
        self.depth -= 1;
    }
}

// The scanner's steps are free functions of the bytes and a position, returning the position
// after what they read: the position stays in a register, and the common cases (a string, a
// number, a literal) are inlined where they are met. Nested arrays and objects are skipped by
// `nested`, out of line.

/// The position of the first byte at or after `at` that is not JSON whitespace (`len` if
/// none).
#[inline(always)]
pub(crate) fn ws(bytes: &[u8], at: usize) -> usize {
    // Compact JSON, the common case, has none: one comparison.
    match bytes.get(at) {
        Some(&b) if b > b' ' => at,
        _ => ws_run(bytes, at),
    }
}

#[inline(never)]
fn ws_run(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Reads the string whose opening quote is at `at`: the position after its closing quote, and
/// whether it has an escape.
#[inline(always)]
pub(crate) fn string_at(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut at = at + 1;
    let mut escaped = false;
    loop {
        at += bytescan::plain_string_run(bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => return Some((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                at = escape_at(bytes, at)?;
            }
            _ => return None, // A control character.
        }
    }
}

/// Reads the escape whose backslash is at `at`: the position after it.
#[inline(never)]
fn escape_at(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 2),
        b'u' => {
            let hex = bytes.get(at + 2..at + 6)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(at + 6)
        }
        _ => None,
    }
}

#[inline(always)]
fn digits(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

/// Reads the number starting at `at`.
#[inline(always)]
pub(crate) fn number_at(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at = digits(bytes, at + 1),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let end = digits(bytes, at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits(bytes, at);
        if end == at {
            return None;
        }
        at = end;
    }
    Some(at)
}

#[inline(always)]
pub(crate) fn literal_at(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(at..at + word.len())? == word).then_some(at + word.len())
}

/// Reads the value starting at `at` (no whitespace before it): the position after it.
#[inline(always)]
fn value_at(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => string_at(bytes, at).map(|(end, _)| end),
        b'-' | b'0'..=b'9' => number_at(bytes, at),
        b't' => literal_at(bytes, at, b"true"),
        b'f' => literal_at(bytes, at, b"false"),
        b'n' => literal_at(bytes, at, b"null"),
        b'[' | b'{' => nested(bytes, at),
        _ => None,
    }
}

/// Reads the member key (at its opening quote) and colon of an object being skipped: the
/// position after the colon.
#[inline(always)]
fn member_key_at(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let (end, _) = string_at(bytes, at)?;
    let colon = ws(bytes, end);
    (bytes.get(colon) == Some(&b':')).then_some(colon + 1)
}

/// Reads the array or object starting at `at`, nested ones included, without recursing.
#[inline(never)]
fn nested(bytes: &[u8], mut at: usize) -> Option<usize> {
    let mut open = Nesting::new();
    loop {
        // One value, after whitespace.
        at = ws(bytes, at);
        match *bytes.get(at)? {
            b'[' => {
                at = ws(bytes, at + 1);
                if bytes.get(at) == Some(&b']') {
                    at += 1;
                } else {
                    open.push(true);
                    continue;
                }
            }
            b'{' => {
                at = ws(bytes, at + 1);
                if bytes.get(at) == Some(&b'}') {
                    at += 1;
                } else {
                    open.push(false);
                    at = member_key_at(bytes, at)?;
                    continue;
                }
            }
            _ => at = value_at(bytes, at)?,
        }
        // After a value: a comma and the next, or the ends of what encloses it.
        loop {
            let Some(array) = open.last() else {
                return Some(at);
            };
            at = ws(bytes, at);
            match *bytes.get(at)? {
                b',' => {
                    at += 1;
                    if !array {
                        at = member_key_at(bytes, ws(bytes, at))?;
                    }
                    break;
                }
                b']' if array => {
                    at += 1;
                    open.pop();
                }
                b'}' if !array => {
                    at += 1;
                    open.pop();
                }
                _ => return None,
            }
        }
    }
}

/// A reading position in one JSON text, for the readers above that walk objects and arrays.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    /// The text from `start` to the current point. Both are token boundaries (an ASCII byte
    /// or the end), hence character boundaries.
    #[inline(always)]
    fn since(&self, start: usize) -> &'a str {
        debug_assert!(self.text.is_char_boundary(start) && self.text.is_char_boundary(self.at));
        // SAFETY: `start <= self.at <= len`, both at token boundaries, which are ASCII bytes
        // (or the end) of a `str`, so character boundaries.
        unsafe { self.text.get_unchecked(start..self.at) }
    }

    /// Skips whitespace; the byte then at the current point, if any.
    #[inline(always)]
    fn skip_ws(&mut self) -> Option<u8> {
        self.at = ws(self.bytes, self.at);
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn eat(&mut self, wanted: u8) -> Option<()> {
        (self.skip_ws()? == wanted).then(|| self.at += 1)
    }

    /// Nothing but whitespace is left.
    #[inline(always)]
    fn end(&mut self) -> Option<()> {
        self.skip_ws().is_none().then_some(())
    }

    /// Reads the object at the current point (after whitespace): `member` is called at each
    /// member's value (whitespace skipped) with its key, and must read exactly that value.
    #[inline(always)]
    fn object(&mut self, mut member: impl FnMut(&mut Self, Key<'a>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.skip_ws()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            if self.skip_ws()? != b'"' {
                return None;
            }
            let start = self.at;
            let (end, escaped) = string_at(self.bytes, start)?;
            self.at = end;
            let key = Key {
                raw: self.since(start),
                escaped,
            };
            // A key that does not decode (a lone surrogate) fails the whole object, as in a
            // whole parse into a map.
            if escaped {
                string(key.raw)?;
            }
            self.eat(b':')?;
            self.skip_ws()?;
            member(self, key)?;
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    /// After a member or an element: a comma (`Some(true)`: another follows) or `close`
    /// (`Some(false)`), each read, whitespace skipped.
    #[inline(always)]
    fn more(&mut self, close: u8) -> Option<bool> {
        let next = self.skip_ws()?;
        if next != b',' && next != close {
            return None;
        }
        self.at += 1;
        Some(next == b',')
    }

    /// Reads the value at the current point: an object as [`object`](Self::object) does
    /// (`Some(true)`), or any other value skipped (`Some(false)`).
    #[inline(always)]
    fn object_or_skip(
        &mut self,
        member: impl FnMut(&mut Self, Key<'a>) -> Option<()>,
    ) -> Option<bool> {
        if self.skip_ws()? == b'{' {
            self.object(member).map(|()| true)
        } else {
            self.value().map(|()| false)
        }
    }

    /// Reads the value at the current point: an array, `element` called at each element
    /// (whitespace skipped) and reading exactly it, or any other value skipped.
    #[inline(always)]
    fn array_or_skip(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.skip_ws()? != b'[' {
            return self.value();
        }
        self.at += 1;
        if self.skip_ws()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_ws()?;
            element(self)?;
            if !self.more(b']')? {
                return Some(());
            }
        }
    }

    /// Skips the value at the current point (after whitespace).
    #[inline(always)]
    fn value(&mut self) -> Option<()> {
        self.skip_ws()?;
        self.at = value_at(self.bytes, self.at)?;
        Some(())
    }

    /// Skips the value at the current point (after whitespace) and gives its raw text.
    #[inline(always)]
    fn raw_value(&mut self) -> Option<&'a str> {
        self.skip_ws()?;
        let start = self.at;
        self.at = value_at(self.bytes, start)?;
        Some(self.since(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of `text` read as an object of raw values: the reference the
    /// scanner must match.
    fn reference_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
        use std::collections::BTreeMap;
        let map: BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(text).ok()?;
        map.get(key).map(|raw| raw.get())
    }

    /// The text of a message delta as serde_json reads it (objects read into maps of raw
    /// values, the last of duplicate keys winning): the reference for `message_text`, as in
    /// the fuzz checks.
    fn reference_message_text(data: &str) -> Option<String> {
        use serde_json::value::RawValue;
        let string = |raw: &str| serde_json::from_str::<String>(raw).ok();
        let content = reference_field(reference_field(data, "delta")?, "content")?;
        let parts: Vec<&RawValue> = serde_json::from_str(content).ok()?;
        let mut text = None::<String>;
        for part in parts {
            if reference_field(part.get(), "type")
                .and_then(string)
                .as_deref()
                != Some("text")
            {
                continue;
            }
            let piece = reference_field(part.get(), "text")
                .and_then(|t| reference_field(t, "value"))
                .and_then(string)
                .unwrap_or_default();
            text.get_or_insert_with(String::new).push_str(&piece);
        }
        text
    }

    #[test]
    fn the_field_scanner_accepts_what_serde_json_accepts() {
        let objects = [
            r#"{"delta":"x"}"#,
            r#" {"a":1,"delta":"x"} "#,
            r#"{"delta":"x","delta":"y"}"#,
            r#"{"d\u0065lta":"x"}"#,
            r#"{"delta":"\ud800"}"#,
            r#"{"k\ud800":1,"delta":"x"}"#,
            r#"{"a":"\ud800","delta":"x"}"#,
            r#"{"a":[1,{"b":[true,false,null,"s"]},-0.5e+3],"delta":{"c":[]}}"#,
            r#"{"a":01,"delta":"x"}"#,
            r#"{"a":1.,"delta":"x"}"#,
            r#"{"a":-,"delta":"x"}"#,
            r#"{"a":1e,"delta":"x"}"#,
            r#"{"a":1e400,"delta":"x"}"#,
            r#"{"a":tru,"delta":"x"}"#,
            r#"{"a":"\q","delta":"x"}"#,
            r#"{"a":"\u12g4","delta":"x"}"#,
            "{\"a\":\"tab\there\",\"delta\":\"x\"}",
            r#"{"a":[1,],"delta":"x"}"#,
            r#"{"a":{"b":1,},"delta":"x"}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"delta":"x"} x"#,
            r#"{"delta":"x"}}"#,
            r#"["delta","x"]"#,
            r#"{"a":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]],"delta":"x"}"#,
            r#"{"a":[[[[]]],"delta":"x"}"#,
            r#"{"a":{"b":{"c":}},"delta":"x"}"#,
            r#"{"a":[{"b":[{"c":[1]}]},{"d":{}}],"delta":[{"e":[]}]}"#,
            r#"{"a":[{"b":[{"c":[1]}]]},"delta":1}"#,
            r#"{}"#,
            r#"{ }"#,
            "",
            "{",
            r#"{"delta":"x\""#,
            r#"{"delta":"x\"}"#,
            r#"{"delta":"\"é\n\u00e9\ud83e\udd80"}"#,
        ];
        for text in objects {
            assert_eq!(
                field(text, "delta"),
                reference_field(text, "delta"),
                "{text}"
            );
        }
        // Nesting deeper than the 64 levels kept in a word, balanced and not, arrays and
        // objects mixed.
        for depth in [63, 64, 65, 66, 130, 5000] {
            let open: String = (0..depth)
                .map(|i| if i % 3 == 0 { "{\"k\":" } else { "[" })
                .collect();
            let close: String = (0..depth)
                .rev()
                .map(|i| if i % 3 == 0 { "}" } else { "]" })
                .collect();
            let good = format!("{{\"a\":{open}1{close},\"delta\":1}}");
            assert_eq!(field(&good, "delta"), Some("1"), "depth {depth}");
            let bad = format!("{{\"a\":{open}1{}]}},\"delta\":1}}", &close[1..]);
            assert_eq!(
                field(&bad, "delta"),
                reference_field(&bad, "delta"),
                "depth {depth}"
            );
        }
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        let mut cases: Vec<String> = [
            r#""plain""#,
            r#""""#,
            r#""\"\\\/\b\f\n\r\t""#,
            r#""a\u0041b\u00e9\u65e5\u0000""#,
            r#""\ud83e\udd80 crab""#,
            r#""\uD83E\uDD80""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800x""#,
            r#""\ud800\n""#,
            r#""\ud800\u0041""#,
            r#""\ud800\ud800\udc00""#,
            r#""\udbff\udfff""#,
            r#""\u12""#,
            r#""\u12g4""#,
            r#""\q""#,
            r#""caf\u00e9 na\u00efve \"x\" back\\slash""#,
            r#""é\n日本""#,
            "\"tail\\\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Pseudo-random strings of escapes and plain characters.
        let pieces = [
            "a", "é", "\\n", "\\\"", "\\\\", "\\u0041", "\\ud83e", "\\udd80", "\\ud800", "\\udc00",
            "\\u00", "\\x", "\\u", "\\", "日",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed >> 20
        };
        for _ in 0..20_000 {
            let mut text = String::from("\"");
            for _ in 0..next() % 7 {
                text.push_str(pieces[next() as usize % pieces.len()]);
            }
            text.push('"');
            cases.push(text);
        }
        let mut decoded = 0;
        for raw in &cases {
            // Only what the scanner accepts reaches `string`.
            if string_at(raw.as_bytes(), 0) != Some((raw.len(), raw.contains('\\'))) {
                continue;
            }
            decoded += usize::from(raw.contains('\\'));
            let reference = serde_json::from_str::<String>(raw).ok();
            assert_eq!(string(raw).map(Cow::into_owned), reference, "{raw}");
            let mut out = String::from("old contents");
            let decoded = string_into(raw, &mut out, 3);
            assert_eq!(decoded.then_some(out.clone()), reference, "{raw}");
            assert!(decoded || out.is_empty(), "{raw}");
        }
        assert!(
            decoded > 5_000,
            "only {decoded} strings with escapes were compared"
        );
    }

    #[test]
    fn message_text_is_what_a_whole_parse_reads() {
        let cases = [
            r#"{"id":"msg_1","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"The"}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"It's \"é\"\n"}},{"type":"image_file","image_file":{}},{"type":"text","text":{"value":"!"}}]}}"#,
            r#"{"delta":{"content":[{"type":"image_file"}]}}"#,
            r#"{"delta":{"content":[{"type":"t\u0065xt","text":{"value":"a"}},7,{"text":{"value":"b"}},{"type":"text","text":{"value":"c","value":"d"}}]}}"#,
            r#"{"delta":{"content":[{"text":{"value":"late type"},"type":"text"}]}}"#,
            r#"{"delta":{"content":[{"type":"text"}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":"not an object"}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":7}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"},"text":{"other":1}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","type":"image","text":{"value":"a"}}]}}"#,
            r#"{"delta":{"content":[{"type":["text"],"text":{"value":"a"}}]}}"#,
            r#"{"delta":{"content":[]}}"#,
            r#"{"delta":{"content":{"type":"text"}}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}}],"content":[]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}}]},"delta":{}}"#,
            r#"{"delta":{},"delta":{"content":[{"type":"text","text":{"value":"b"}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}}]},"delta":"x"}"#,
            r#"{"delta":"x"}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}}]}} x"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}},]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a"}}]},"z":[1,}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"\q"}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"\ud800"}}]}}"#,
            r#"{"d\u0065lta":{"content":[{"type":"text","text":{"v\u0061lue":"esc"}}]}}"#,
            r#" {"delta" : { "content" : [ { "type" : "text" , "text" : { "value" : "ws" } } ] } } "#,
            r#"[{"delta":{}}]"#,
            "",
            // The usual form, and near misses of it.
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a\"b\u00e9"}}]}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"\ud800"}}]}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":""}}]}}"#,
            r#"{"id":"m\q","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]}}"#,
            r#"{"id":7,"object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":7}}]}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]}} "#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]}}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]},"delta":{}}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"}}]}"#,
            r#"{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"a"#,
            r#"{"id":""#,
        ];
        for data in cases {
            assert_eq!(
                message_text(data, 0),
                reference_message_text(data),
                "{data}"
            );
        }
    }
    #[test]
    fn mutated_events_read_as_a_whole_parse_reads_them() {
        // Typical events of both streams, edited at random: bytes removed, doubled or replaced
        // by JSON's structural characters, so that most results are invalid JSON and some are
        // valid JSON of another shape. Both readers must answer as serde_json does.
        let bases = [
            r#"{"id":"msg_002","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":" quick"}}]}}"#,
            r#"{"delta":{"content":[{"type":"text","text":{"value":"a\u00e9\"b"}},{"type":"image_file","image_file":{"file_id":"f"}},{"index":2,"type":"text","text":{"value":"c","annotations":[]}}]},"id":"m"}"#,
            r#"{"type":"response.output_text.delta","sequence_number":12345,"item_id":"msg_fixed_long","output_index":0,"content_index":0,"delta":" \"brown\"","logprobs":[]}"#,
            r#"{"delta":"x","nested":{"delta":[1,2.5e-3,true,false,null,{"a":"b"}]},"delta":"last"}"#,
        ];
        let specials = b"{}[]\":,\\ 0-.etu";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed >> 16
        };
        let mut valid = 0;
        let mut usual = 0;
        for round in 0..40_000 {
            let mut bytes = bases[round % bases.len()].as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = next() as usize % bytes.len();
                match next() % 3 {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, bytes[at]),
                    _ => bytes[at] = specials[next() as usize % specials.len()],
                }
            }
            let Ok(data) = std::str::from_utf8(&bytes) else {
                continue;
            };
            valid += usize::from(serde_json::from_str::<serde_json::Value>(data).is_ok());
            usual += usize::from(usual_message_value(data).is_some());
            assert_eq!(
                message_text(data, 0),
                reference_message_text(data),
                "{data}"
            );
            assert_eq!(
                field(data, "delta"),
                reference_field(data, "delta"),
                "{data}"
            );
        }
        // Some edits keep the JSON valid: those compare the readers' results, not only their
        // refusals.
        assert!(valid > 1_000, "only {valid} edited events were valid JSON");
        // Edits inside the id or the value keep a delta in the usual form: those compare its
        // shorter reading with serde_json's too.
        assert!(
            usual > 300,
            "only {usual} edited deltas were in the usual form"
        );
    }

    /// Deltas in the usual form with random ids and values (escapes good and bad, quotes,
    /// control and non-ASCII characters): the shorter reading gives serde_json's text, or
    /// leaves the delta to the scanner.
    #[test]
    fn usual_deltas_read_as_a_whole_parse_reads_them() {
        let pieces = [
            "a",
            " ",
            "é",
            "😀",
            r#"\""#,
            r#"\\"#,
            r#"\/"#,
            r#"\n"#,
            r#"\u00e9"#,
            r#"\ud83d\ude00"#,
            r#"\ud800"#,
            r#"\udc00x"#,
            r#"\q"#,
            r#"\u12"#,
            "\"",
            "\\",
            "\n",
            "\u{1}",
            "}",
            "]",
        ];
        let mut rng = crate::test_hooks::Rng(0x9e37_79b9_7f4a_7c15_u64);
        let mut next = move |below: usize| rng.below(below);
        let mut usual = 0;
        for _ in 0..20_000 {
            let string = |next: &mut dyn FnMut(usize) -> usize| {
                (0..next(5))
                    .map(|_| pieces[next(pieces.len())])
                    .collect::<String>()
            };
            let (id, value) = (string(&mut next), string(&mut next));
            let data = format!(
                r#"{{"id":"{id}","object":"thread.message.delta","delta":{{"content":[{{"index":0,"type":"text","text":{{"value":"{value}"}}}}]}}}}"#
            );
            usual += usize::from(usual_message_value(&data).is_some());
            assert_eq!(
                message_text(&data, 0),
                reference_message_text(&data),
                "{data}"
            );
        }
        assert!(
            usual > 5_000,
            "only {usual} deltas were read in the usual form"
        );
    }
}

#[cfg(test)]
mod speed {
    /// Not a test: prints the time of the text readers on typical events
    /// (`cargo test --release --lib json::speed -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn time_the_readers() {
        let responses = r#"{"type":"response.output_text.delta","sequence_number":12345,"item_id":"msg_fixed_long","output_index":0,"content_index":0,"delta":" quick","logprobs":[]}"#;
        let escaped = r#"{"type":"response.output_text.delta","sequence_number":12345,"item_id":"msg_fixed_long","output_index":0,"content_index":0,"delta":" \"brown\"","logprobs":[]}"#;
        let assistants = r#"{"id":"msg_002","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":" quick"}}]}}"#;
        let n = 200_000;
        for (name, data) in [("responses", responses), ("escaped", escaped)] {
            let start = std::time::Instant::now();
            let mut total = 0;
            for _ in 0..n {
                let text =
                    super::string(super::field(std::hint::black_box(data), "delta").unwrap())
                        .unwrap();
                total += text.len();
            }
            println!(
                "{name}: {:.1} ns ({total})",
                start.elapsed().as_nanos() as f64 / n as f64
            );
        }
        let start = std::time::Instant::now();
        let mut total = 0;
        for _ in 0..n {
            total += super::message_text(std::hint::black_box(assistants), 1)
                .unwrap()
                .len();
        }
        println!(
            "assistants: {:.1} ns ({total})",
            start.elapsed().as_nanos() as f64 / n as f64
        );
    }
}
