//! Raw HTTP client helpers shared by the test server's integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use oairun_testserver::TestServer;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Each chunk's data and when it was read (chunked bodies only).
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// The body ended as its framing says (terminating chunk, or Content-Length reached).
    pub complete: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub fn connect(server: &TestServer) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

pub fn send(conn: &mut BufReader<TcpStream>, method: &str, target: &str, body: &str, extra: &str) {
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(request.as_bytes()).unwrap();
}

pub fn submit_path(thread: &str, run: &str) -> String {
    format!("/v1/threads/{thread}/runs/{run}/submit_tool_outputs")
}

pub fn line(conn: &mut BufReader<TcpStream>) -> Option<String> {
    let mut buf = Vec::new();
    match conn.read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8(buf)
                .unwrap()
                .trim_end_matches("\r\n")
                .to_string(),
        ),
    }
}

pub fn read_response(conn: &mut BufReader<TcpStream>) -> Response {
    let status_line = line(conn).expect("a status line");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let header = line(conn).expect("a header line");
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
        chunks: Vec::new(),
        complete: false,
    };
    if response.header("transfer-encoding") == Some("chunked") {
        while let Some(size) = line(conn) {
            let size = usize::from_str_radix(&size, 16).expect("a chunk size");
            if size == 0 {
                assert_eq!(line(conn).as_deref(), Some(""), "no trailers");
                response.complete = true;
                break;
            }
            let mut data = vec![0; size + 2];
            if conn.read_exact(&mut data).is_err() {
                break;
            }
            assert_eq!(&data[size..], b"\r\n");
            data.truncate(size);
            response.body.extend_from_slice(&data);
            response.chunks.push((Instant::now(), data));
        }
    } else {
        let length: usize = response
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        response.complete = conn.read_exact(&mut body).is_ok();
        response.body = body;
    }
    response
}

pub fn request(server: &TestServer, thread: &str, body: &str) -> Response {
    let mut conn = connect(server);
    send(&mut conn, "POST", &submit_path(thread, "run_123"), body, "");
    read_response(&mut conn)
}

/// A WHATWG "Parsing an event stream" decoder, enough to check what the server sends:
/// BOM, CR/LF/CRLF line ends, comments, optional space, multi-line data, default type.
pub fn parse_sse(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut events = Vec::new();
    let (mut name, mut data) = (String::new(), String::new());
    let mut process = |line: &str| {
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                let event = if name.is_empty() {
                    "message"
                } else {
                    name.as_str()
                };
                events.push((event.to_string(), std::mem::take(&mut data)));
            }
            name.clear();
            data.clear();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    };
    let bytes = text.as_bytes();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\r' || bytes[i] == b'\n' {
            process(&text[start..i]);
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            i += 1;
            start = i;
        } else {
            i += 1;
        }
    }
    // Whatever follows the last line end is an incomplete line: discarded.
    events
}

/// One `POST /v1/responses` on a new connection.
pub fn post_responses(server: &TestServer, body: &str) -> Response {
    let mut conn = connect(server);
    send(&mut conn, "POST", "/v1/responses", body, "");
    read_response(&mut conn)
}

/// The exact OpenAI error body the server sends (pretty-printed, members in the API's order).
pub fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> String {
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
