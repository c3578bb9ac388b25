//! Hand-written HTTP/1.1: reading requests from a connection and writing answers to it.
//!
//! Written directly on the socket (no buffering writer) so that each `write_all` is one
//! `write(2)`: with `TCP_NODELAY` set, what a scenario writes leaves at once.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::tls::Stream;

/// Largest request head (request line and header fields) the server reads.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the server reads.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long a kept-alive connection may sit idle between requests: bounds every connection's life.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the rest of a request may take to arrive once it has started.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One accepted connection and the bytes read from it but not yet consumed (the start of a
/// pipelined next request, for instance).
pub(crate) struct Conn {
    /// Plain TCP, or TLS for an HTTPS server.
    pub(crate) stream: Stream,
    pub(crate) buf: Vec<u8>,
}

/// A request line and its header fields.
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) target: String,
    /// `true` for HTTP/1.0, which gets no chunked coding and no keep-alive.
    pub(crate) http10: bool,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first header named `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection must close after this request's answer.
    pub(crate) fn wants_close(&self) -> bool {
        let has_token = |token: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        // HTTP/1.0 keep-alive is not worth supporting: 1.0 clients always get a close.
        self.http10 || has_token("close")
    }
}

/// A complete request.
pub(crate) struct Request {
    pub(crate) head: Head,
    pub(crate) body: Vec<u8>,
    /// When the request had fully arrived: the start of `openai-processing-ms`.
    pub(crate) received_at: Instant,
}

/// Why no request could be read.
pub(crate) enum ReadError {
    /// The client left, went quiet too long, or the socket failed: nothing to answer.
    Gone,
    /// The request is malformed: answer 400 and close. `head` is set when it parsed.
    Bad { message: String, head: Option<Head> },
    /// The head or body exceeds the caps: answer 413 and close. `head` is set when it parsed.
    TooLarge { message: String, head: Option<Head> },
}

impl Conn {
    pub(crate) fn new(stream: impl Into<Stream>) -> Conn {
        Conn {
            stream: stream.into(),
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into `buf`; `Ok(0)` at end of stream. A timeout counts as an error.
    async fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        match tokio::time::timeout(timeout, self.stream.read(&mut tmp)).await {
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(n)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Reads the next request. `Ok(None)`: the client closed (or idled out) between requests.
    pub(crate) async fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let head_end = loop {
            // RFC 9112 §2.2: a server should ignore empty lines before a request-line (some
            // clients send a stray CRLF after a body).
            let blank = self
                .buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            self.buf.drain(..blank);
            if let Some(end) = find_head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(too_large("request head exceeds 64 KiB", None));
            }
            let idle = self.buf.is_empty();
            match self
                .fill(if idle { IDLE_TIMEOUT } else { READ_TIMEOUT })
                .await
            {
                Ok(0) if idle => return Ok(None),
                Ok(0) | Err(_) => return Err(ReadError::Gone),
                Ok(_) => {}
            }
        };
        if head_end > MAX_HEAD {
            return Err(too_large("request head exceeds 64 KiB", None));
        }
        let head = parse_head(&self.buf[..head_end]).map_err(|message| ReadError::Bad {
            message: message.to_string(),
            head: None,
        })?;
        if head.header("transfer-encoding").is_some() {
            return Err(ReadError::Bad {
                message: "Transfer-Encoding in requests is not supported: send Content-Length"
                    .to_string(),
                head: Some(head),
            });
        }
        let len = match content_length(&head) {
            Ok(len) if len <= MAX_BODY => len,
            Ok(_) | Err(LengthError::Huge) => {
                return Err(too_large("request body exceeds 16 MiB", Some(head)))
            }
            Err(LengthError::Invalid) => {
                return Err(ReadError::Bad {
                    message: "invalid Content-Length".to_string(),
                    head: Some(head),
                })
            }
        };
        let total = head_end + len;
        if self.buf.len() < total
            && head
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            // curl waits (up to a second) for this before sending a large body.
            if self
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
            {
                return Err(ReadError::Gone);
            }
        }
        while self.buf.len() < total {
            match self.fill(READ_TIMEOUT).await {
                Ok(0) | Err(_) => return Err(ReadError::Gone),
                Ok(_) => {}
            }
        }
        let body = self.buf[head_end..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(Request {
            head,
            body,
            received_at: Instant::now(),
        }))
    }

    /// Waits `duration` while watching for the client to leave; `false` if it left.
    ///
    /// Bytes the client sends meanwhile (a pipelined request) are kept for the next read. A
    /// client that half-closes its side counts as gone: that is what dropping a response does.
    pub(crate) async fn pause(&mut self, duration: Duration) -> bool {
        let watch = async {
            let mut tmp = [0u8; 4096];
            loop {
                match self.stream.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        // Bounded: beyond what one request may hold, the excess is dropped.
                        if self.buf.len() < MAX_HEAD + MAX_BODY {
                            self.buf.extend_from_slice(&tmp[..n]);
                        }
                    }
                }
            }
        };
        tokio::time::timeout(duration, watch).await.is_err()
    }

    /// Closes the connection after an answer: FIN first, then a short drain so that data the
    /// client is still sending (an unread body after a 413) does not make the kernel answer
    /// with an RST that could destroy the response before the client reads it.
    pub(crate) async fn close_gracefully(mut self) {
        let _ = self.stream.shutdown().await;
        let drain = async {
            let mut tmp = [0u8; 16 * 1024];
            let mut total = 0usize;
            loop {
                match self.stream.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        total += n;
                        if total > MAX_HEAD + MAX_BODY {
                            return;
                        }
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }
}

fn too_large(message: &str, head: Option<Head>) -> ReadError {
    ReadError::TooLarge {
        message: message.to_string(),
        head,
    }
}

/// The offset just past the empty line that ends the head (CRLF CRLF, or bare LFs).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = buf[from..].iter().position(|b| *b == b'\n') {
        let nl = from + offset;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => from = nl + 1,
        }
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request line and header fields (the head, including its final empty line).
fn parse_head(bytes: &[u8]) -> Result<Head, &'static str> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().ok_or("empty request")?;
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err("malformed request line");
    };
    if !is_token(method) {
        return Err("malformed method");
    }
    if target.is_empty() || target.bytes().any(|b| b.is_ascii_control()) {
        return Err("malformed request-target");
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err("unsupported HTTP version"),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            return Err("obsolete header line folding");
        }
        let (name, value) = line.split_once(':').ok_or("malformed header field")?;
        // RFC 9112 §5.1: whitespace before the colon must be rejected.
        if !is_token(name) {
            return Err("malformed header name");
        }
        headers.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        http10,
        headers,
    })
}

enum LengthError {
    Invalid,
    Huge,
}

/// The body length: every `Content-Length` must be digits and all must agree; none means 0.
fn content_length(head: &Head) -> Result<usize, LengthError> {
    let mut length = None;
    for (_, value) in head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LengthError::Invalid);
        }
        let n: usize = value.parse().map_err(|_| LengthError::Huge)?;
        if length.is_some_and(|prev| prev != n) {
            return Err(LengthError::Invalid);
        }
        length = Some(n);
    }
    Ok(length.unwrap_or(0))
}

/// What to do with the connection once an answer is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Serve the next request, unless the client asked to close.
    KeepAlive,
    /// Close with a FIN.
    Close,
    /// Reset the connection (SO_LINGER 0): an abrupt failure mid-body.
    Reset,
    /// The client is gone: just drop the socket.
    Drop,
}

/// One answer being written: adds the headers every answer carries and frames bodies.
pub(crate) struct Exchange<'a> {
    pub(crate) conn: &'a mut Conn,
    pub(crate) request_id: String,
    pub(crate) received_at: Instant,
    /// The connection closes after this answer (the client asked, or HTTP/1.0).
    pub(crate) close: bool,
    /// HTTP/1.0 cannot take chunked coding: a stream's body is then delimited by the close.
    http10: bool,
}

impl<'a> Exchange<'a> {
    /// An answer to `request`.
    pub(crate) fn new(conn: &'a mut Conn, request: &Request, request_id: String) -> Exchange<'a> {
        Exchange {
            conn,
            request_id,
            received_at: request.received_at,
            close: request.head.wants_close(),
            http10: request.head.http10,
        }
    }

    /// An answer to a request that could not be read whole: the connection closes after it,
    /// since the rest of the byte stream cannot be trusted.
    pub(crate) fn refusal(conn: &'a mut Conn, http10: bool, request_id: String) -> Exchange<'a> {
        Exchange {
            conn,
            request_id,
            received_at: Instant::now(),
            close: true,
            http10,
        }
    }

    /// The status line and headers: `headers` first, then the ones every answer carries.
    fn head(&self, status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("x-request-id: {}\r\n", self.request_id));
        out.push_str(&format!(
            "openai-processing-ms: {}\r\n",
            self.received_at.elapsed().as_millis()
        ));
        out.push_str(if self.close {
            "Connection: close\r\n"
        } else {
            "Connection: keep-alive\r\n"
        });
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// Writes raw bytes (already framed).
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.conn.stream.write_all(bytes).await
    }

    /// A complete answer with a `Content-Length` body, in one write.
    pub(crate) async fn send(
        &mut self,
        status: u16,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        let mut out = self.send_head(status, content_type, body.len(), extra);
        out.extend_from_slice(body);
        self.write_raw(&out).await
    }

    /// The head of a `Content-Length` answer whose body the caller writes.
    pub(crate) fn send_head(
        &self,
        status: u16,
        content_type: &str,
        length: usize,
        extra: &[(&str, &str)],
    ) -> Vec<u8> {
        let length = length.to_string();
        let mut headers = vec![
            ("Content-Type", content_type),
            ("Content-Length", length.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.head(status, &headers)
    }

    /// An answer without a body (204).
    pub(crate) async fn send_empty(&mut self, status: u16) -> io::Result<()> {
        let head = self.head(status, &[]);
        self.write_raw(&head).await
    }

    /// An OpenAI-style error answer: `{"error":{"message","type","param","code"}}`.
    pub(crate) async fn error(
        &mut self,
        status: u16,
        message: &str,
        kind: &str,
        param: Option<&str>,
        code: Option<&str>,
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        let body = error_body(message, kind, param, code);
        self.send(status, "application/json", body.as_bytes(), extra)
            .await
    }

    /// Starts a 200 event stream: chunked over HTTP/1.1, close-delimited over HTTP/1.0.
    pub(crate) async fn start_stream(&mut self) -> io::Result<()> {
        let mut headers = vec![
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache"),
        ];
        if !self.http10 {
            headers.push(("Transfer-Encoding", "chunked"));
        }
        let head = self.head(200, &headers);
        self.write_raw(&head).await
    }

    /// Writes `data` as one chunk, in one write. Empty data is skipped: an empty chunk would
    /// end the body.
    pub(crate) async fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.http10 {
            return self.write_raw(data).await;
        }
        let mut out = Vec::with_capacity(data.len() + 16);
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        self.write_raw(&out).await
    }

    /// Ends a stream's body cleanly; returns what the connection does next.
    pub(crate) async fn end_stream(&mut self) -> io::Result<After> {
        if self.http10 {
            // The close is the end of the body.
            return Ok(After::Close);
        }
        self.write_raw(b"0\r\n\r\n").await?;
        Ok(After::KeepAlive)
    }
}

/// An OpenAI-style error body, pretty-printed as the API does, members in the API's order.
pub(crate) fn error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> String {
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let nullable = |s: Option<&str>| s.map_or_else(|| "null".to_string(), string);
    format!(
        "{{\n  \"error\": {{\n    \"message\": {},\n    \"type\": {},\n    \"param\": {},\n    \"code\": {}\n  }}\n}}\n",
        string(message),
        string(kind),
        nullable(param),
        nullable(code)
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_accepts_crlf_and_lf() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"),
            Some(24)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nA: b\n\nrest"), Some(21));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn parses_head() {
        let head = parse_head(b"POST /v1/x?y=1 HTTP/1.1\r\nHost: h\r\nX-A:  v \r\n\r\n").unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.target, "/v1/x?y=1");
        assert_eq!(head.header("x-a"), Some("v"));
        assert!(!head.wants_close());
        assert!(parse_head(b"POST /v1/x HTTP/2\r\n\r\n").is_err());
        assert!(parse_head(b"POST  /v1/x HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_head(b"POST /v1/x HTTP/1.1\r\nBad Name: v\r\n\r\n").is_err());
        assert!(parse_head(b"POST /v1/x HTTP/1.1\r\nA: v\r\n folded\r\n\r\n").is_err());
    }

    #[test]
    fn error_body_is_json_in_api_order() {
        let body = error_body("m \"q\"", "t", None, Some("c"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["message"], "m \"q\"");
        assert!(v["error"]["param"].is_null());
        assert!(body.find("message").unwrap() < body.find("code").unwrap());
    }
}
