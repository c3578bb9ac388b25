//! A stream's own HTTP/1.1 connection, for the streams read on the caller's thread (see
//! `reader.rs`) when no proxy applies. It is opened (name lookup, connect, TLS handshake,
//! request, answer's head, retries) on the reader's current-thread runtime, with tokio and
//! tokio-rustls, through the same retry loop and error mapping as every other request
//! ([`Transport::send_with`]). Then the socket leaves the runtime: the body is read with one
//! blocking `recv` per read on the caller's thread, and decoded (chunks, TLS records) there,
//! which is what a plain `recv()` reader does, so that an event costs one wake-up and no
//! hand-off between tasks. The read timeout is the socket's `SO_RCVTIMEO`; a cancel call from
//! another thread shuts the socket down, which ends a waiting `recv` at once.

use std::io::{self, Read as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, ACCEPT, HOST};
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::Request;
use crate::error::{Error, ErrorKind, Result};
use crate::http1::{parse_head, Decoded, Framing, Head};
use crate::stream::{Cursor, Step};
use crate::transport::{
    check_event_stream, connect_failure, describe_tls_failure, request_id_in, status_error,
    timeout_error, Answer, Failure, Transport, MAX_ERROR_BODY_BYTES,
};

/// How much one read takes from the socket at most.
const READ_BYTES: usize = 64 * 1024;

/// What a stream's own connection needs besides the request: set in a [`Transport`] when no
/// proxy applies to it.
pub(crate) struct WireConfig {
    pub(crate) tls: Arc<rustls::ClientConfig>,
    /// The client's headers (key, content type, user agent, the options' own), as reqwest
    /// sends them for the other requests.
    pub(crate) headers: HeaderMap,
    pub(crate) connect_timeout: Duration,
}

/// Opens `request`'s stream on a connection of its own: sends it (with retries) and reads the
/// answer's head, checked to be an event stream's. Runs on the reader's runtime. Gives the
/// connection, ready for blocking reads, and the answer's status and request id.
pub(crate) async fn open(
    transport: &Transport,
    config: &WireConfig,
    request: &Request,
) -> Result<(Wire, u16, Option<String>)> {
    #[cfg(test)]
    crate::test_hooks::panic_at("network", request.url.path());
    let bytes = request_bytes(transport, config, request)?;
    let answer = transport
        .send_with(request, || attempt(config, &request.url, &bytes))
        .await?;
    let status = answer.head.status;
    let request_id = request_id_in(&answer.head.headers);
    check_event_stream(status, &answer.head.headers)?;
    let wire = answer.into_wire().map_err(|e| {
        Error::new(
            ErrorKind::Connect,
            format!("the stream failed: cannot read its socket: {e}"),
        )
        .with_http(status, request_id.clone())
    })?;
    Ok((wire, status, request_id))
}

/// The request's bytes: head and body. The endpoint's own headers come before the client's,
/// which fill in the names not sent yet (a header the user set in the options wins over the
/// endpoint's), as reqwest merges them.
fn request_bytes(transport: &Transport, config: &WireConfig, request: &Request) -> Result<Vec<u8>> {
    let url = &request.url;
    let mut head = Vec::with_capacity(512 + request.body.len());
    head.extend_from_slice(b"POST ");
    head.extend_from_slice(url.path().as_bytes());
    if let Some(query) = url.query() {
        head.push(b'?');
        head.extend_from_slice(query.as_bytes());
    }
    head.extend_from_slice(b" HTTP/1.1\r\n");
    // Names and values were checked when made (no CR, LF or other bytes HTTP forbids).
    let add = |head: &mut Vec<u8>, name: &HeaderName, value: &[u8]| {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    };
    match config.headers.get(HOST) {
        Some(host) => add(&mut head, &HOST, host.as_bytes()),
        None => add(&mut head, &HOST, host_header(url).as_bytes()),
    }
    let accept = if request.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    add(&mut head, &ACCEPT, accept.as_bytes());
    let mut sent = vec![HOST, ACCEPT];
    for (name, value) in request.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .zip(reqwest::header::HeaderValue::from_str(value).ok());
        let Some((name, value)) = header else {
            return Err(Error::internal(format!(
                "an endpoint's header {name:?} is not valid HTTP"
            )));
        };
        if !transport.user_headers.contains(&name) {
            add(&mut head, &name, value.as_bytes());
            sent.push(name);
        }
    }
    for (name, value) in &config.headers {
        // The body's length is ours to say: `validate_header` refused a user's
        // `Content-Length` or `Transfer-Encoding`.
        if !sent.contains(name) {
            add(&mut head, name, value.as_bytes());
        }
    }
    head.extend_from_slice(format!("content-length: {}\r\n\r\n", request.body.len()).as_bytes());
    head.extend_from_slice(&request.body);
    Ok(head)
}

/// `host[:port]`, the port only when the URL names one other than its scheme's.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The tokio side of a connection, while it is opened.
enum Io {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

impl Io {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(io) => io.read(buf).await,
            Io::Tls(io) => io.read(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(io) => io.write_all(bytes).await,
            Io::Tls(io) => {
                io.write_all(bytes).await?;
                io.flush().await
            }
        }
    }
}

/// An answer on a stream's own connection: its head read, its body not yet.
pub(crate) struct WireAnswer {
    head: Head,
    io: Io,
    /// Bytes read past the head: the body's first.
    rest: Vec<u8>,
}

impl Answer for WireAnswer {
    fn status_code(&self) -> u16 {
        self.head.status
    }

    fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    async fn into_error(self) -> Error {
        let status = self.head.status;
        let request_id = request_id_in(&self.head.headers);
        let mut body = Vec::new();
        // An error answer whose body stalls is reported with what came.
        let read = self.read_body(&mut body, MAX_ERROR_BODY_BYTES);
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
        status_error(status, request_id, &body)
    }
}

impl WireAnswer {
    /// Reads the body into `body`, up to `cap` bytes.
    async fn read_body(mut self, body: &mut Vec<u8>, cap: usize) {
        let take = |bytes: &[u8], framing: &mut Framing, body: &mut Vec<u8>| {
            framing.decode(bytes, &mut |data: &[u8]| {
                let room = cap.saturating_sub(body.len());
                body.extend_from_slice(&data[..data.len().min(room)]);
            })
        };
        let rest = std::mem::take(&mut self.rest);
        let mut framing = self.head.framing;
        if !matches!(take(&rest, &mut framing, body), Ok(Decoded::More)) {
            return;
        }
        let mut buf = vec![0; 16 * 1024];
        while body.len() < cap {
            match self.io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !matches!(take(&buf[..n], &mut framing, body), Ok(Decoded::More)) {
                        return;
                    }
                }
            }
        }
    }

    /// The connection out of tokio's hands, blocking, for [`Wire::read`].
    fn into_wire(self) -> io::Result<Wire> {
        let (tcp, tls) = match self.io {
            Io::Plain(tcp) => (tcp, None),
            Io::Tls(stream) => {
                let (tcp, tls) = stream.into_inner();
                (tcp, Some(Box::new(tls)))
            }
        };
        let socket = tcp.into_std()?;
        socket.set_nonblocking(false)?;
        Ok(Wire {
            socket: Arc::new(socket),
            tls,
            framing: self.head.framing,
            rest: self.rest,
            buf: vec![0; READ_BYTES].into_boxed_slice(),
            timeout: None,
            broken: None,
        })
    }
}

/// One attempt: connects, sends `bytes`, reads the answer's head.
async fn attempt(
    config: &WireConfig,
    url: &Url,
    bytes: &[u8],
) -> std::result::Result<WireAnswer, Failure> {
    let failed = |what: String| Failure {
        error: Error::new(ErrorKind::Connect, format!("request failed: {what}")),
        permanent: false,
    };
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = connect(url, port, config.connect_timeout).await?;
    let mut io = if url.scheme() == "https" {
        let name = match ip_of(url) {
            Some(ip) => rustls::pki_types::ServerName::from(ip),
            None => rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| failed(format!("{host:?} is not a valid TLS server name: {e}")))?,
        };
        let connector = tokio_rustls::TlsConnector::from(config.tls.clone());
        match connector.connect(name, tcp).await {
            Ok(stream) => Io::Tls(Box::new(stream)),
            Err(e) => {
                let tls = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                return Err(match tls {
                    Some(tls) => Failure {
                        error: Error::new(
                            ErrorKind::Connect,
                            format!(
                                "request failed: {}: {host}:{port}: {e}",
                                describe_tls_failure(tls)
                            ),
                        ),
                        permanent: true,
                    },
                    None => failed(format!("the TLS handshake with {host}:{port} failed: {e}")),
                });
            }
        }
    } else {
        Io::Plain(tcp)
    };
    io.write_all(bytes)
        .await
        .map_err(|e| failed(format!("sending the request to {host}:{port} failed: {e}")))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0; 8192];
    loop {
        let n = io.read(&mut chunk).await.map_err(|e| {
            failed(format!(
                "the connection to {host}:{port} failed before the answer: {e}"
            ))
        })?;
        if n == 0 {
            return Err(failed(format!(
                "{host}:{port} closed the connection before answering"
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
        // Interim (1xx) heads are skipped; the answer's head follows them.
        while let Some((head, len)) = parse_head(&buf).map_err(failed)? {
            buf.drain(..len);
            if head.status >= 200 || head.status == 101 {
                return Ok(WireAnswer {
                    head,
                    io,
                    rest: buf,
                });
            }
        }
    }
}

/// The URL's host when it is an IP address (`[...]` around an IPv6 one).
fn ip_of(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// A TCP connection to the URL's host, trying each of its addresses in turn within the connect
/// timeout.
async fn connect(
    url: &Url,
    port: u16,
    limit: Duration,
) -> std::result::Result<tokio::net::TcpStream, Failure> {
    let host = url.host_str().unwrap_or_default();
    let failed = |kind: ErrorKind, what: String| Failure {
        error: Error::new(kind, format!("request failed: {what}")),
        permanent: false,
    };
    let connecting = async {
        let addrs: Vec<SocketAddr> = match ip_of(url) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| {
                    failed(
                        ErrorKind::Connect,
                        format!("cannot find the address of {host}: {e}"),
                    )
                })?
                .collect(),
        };
        let mut last = None;
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(failed(
            ErrorKind::Connect,
            match last {
                Some(e) => connect_failure(url, e),
                None => format!("{host} has no address"),
            },
        ))
    };
    match tokio::time::timeout(limit, connecting).await {
        Ok(connected) => connected,
        Err(_) => {
            let timeout = timeout_error("no connection", limit);
            Err(failed(
                ErrorKind::Timeout,
                connect_failure(url, timeout.message()),
            ))
        }
    }
}

/// A stream's connection once its answer's head is read: blocking reads on the caller's thread.
pub(crate) struct Wire {
    /// Shared with the reader's [`Stop`](crate::reader::Stop), which shuts it down to cancel.
    socket: Arc<TcpStream>,
    tls: Option<Box<rustls::ClientConnection>>,
    framing: Framing,
    /// Bytes read with the head, not decoded yet.
    rest: Vec<u8>,
    buf: Box<[u8]>,
    /// The socket's `SO_RCVTIMEO` as last set (`None`: none).
    timeout: Option<Duration>,
    /// A break in the framing found after some of the body: given at the next read.
    broken: Option<Error>,
}

/// What [`Wire::read`] did.
pub(crate) enum Read {
    /// The read held one whole event, which the cursor took as it came: its step.
    Event(Step),
    /// Some of the body went into the cursor.
    Fed,
    /// The body is complete.
    End,
    /// The connection failed (or broke the framing).
    Failed(Error),
    /// Nothing came before the time limit.
    Deadline,
    /// The reader was stopped (a cancel call shut the socket down).
    Stopped,
}

/// What one read of the socket gave.
enum Got {
    Bytes(usize),
    Closed,
    Deadline,
    Stopped,
    Failed(io::Error),
}

impl Wire {
    /// The socket, for the reader's `Stop` to shut down.
    pub(crate) fn socket(&self) -> Arc<TcpStream> {
        self.socket.clone()
    }

    /// Reads the socket once (more often only when a read held nothing of the body, e.g. a
    /// chunk's size line alone), waiting at most until `until`, and feeds what the body holds
    /// to `cursor`; when the read is one whole chunk holding one whole event, the cursor takes
    /// it as it is and its step comes back (`Read::Event`). `ended` says whether the reader
    /// was stopped. When `until` has passed, the socket is still read once without waiting: a
    /// zero time limit takes what is there.
    pub(crate) fn read(
        &mut self,
        cursor: &mut Cursor,
        until: Option<Instant>,
        ended: &dyn Fn() -> bool,
    ) -> Read {
        if let Some(error) = self.broken.take() {
            return Read::Failed(error);
        }
        if !self.rest.is_empty() {
            let rest = std::mem::take(&mut self.rest);
            if let Some(read) = feed(&mut self.framing, &rest, cursor, &mut self.broken) {
                return read;
            }
        }
        loop {
            if self.framing.is_done() {
                return Read::End;
            }
            let n = match self.fill(until, ended) {
                Got::Bytes(n) => n,
                Got::Closed => {
                    return match self.framing.at_close() {
                        Ok(()) => Read::End,
                        Err(why) => Read::Failed(stream_failed(why)),
                    }
                }
                Got::Deadline => return Read::Deadline,
                Got::Stopped => return Read::Stopped,
                Got::Failed(e) => return Read::Failed(stream_failed(e.to_string())),
            };
            let bytes = &self.buf[..n];
            // A stream that sends an event at a time gives one whole chunk holding one whole
            // event per read: the cursor takes it without the byte-at-a-time decoding below
            // (the same step and the same state after it), so there is less to run between
            // the read and the event's delivery.
            let whole = self.framing.whole_chunk(bytes);
            if let Some(step) = whole.and_then(|content| cursor.whole_event(content)) {
                return Read::Event(step);
            }
            if let Some(read) = feed(&mut self.framing, bytes, cursor, &mut self.broken) {
                return read;
            }
        }
    }

    /// One read of the body's bytes (after TLS) into `buf`.
    fn fill(&mut self, until: Option<Instant>, ended: &dyn Fn() -> bool) -> Got {
        let fd = self.socket.as_raw_fd();
        loop {
            if let Some(tls) = self.tls.as_mut() {
                match tls.reader().read(&mut self.buf) {
                    Ok(0) => return Got::Closed,
                    Ok(n) => return Got::Bytes(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Got::Closed,
                    Err(e) => return Got::Failed(e),
                }
            }
            if ended() {
                return Got::Stopped;
            }
            let flags = match self.arm(until) {
                Ok(flags) => flags,
                Err(e) => return Got::Failed(e),
            };
            let got = match self.tls.as_mut() {
                None => recv(fd, &mut self.buf, flags),
                Some(tls) => tls.read_tls(&mut Socket { fd, flags }),
            };
            match got {
                Ok(0) if ended() => return Got::Stopped,
                Ok(0) if self.tls.is_none() => return Got::Closed,
                Ok(n) => match self.tls.as_mut() {
                    None => return Got::Bytes(n),
                    Some(tls) => {
                        // After a close (n == 0) too: the reader then says how it ended.
                        if let Err(e) = tls.process_new_packets() {
                            return Got::Failed(io::Error::new(io::ErrorKind::InvalidData, e));
                        }
                        // A key update's answer, say; a failure shows at the next read.
                        while tls.wants_write() {
                            if tls.write_tls(&mut Socket { fd, flags: 0 }).is_err() {
                                break;
                            }
                        }
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if flags != 0 || until.is_some_and(|t| Instant::now() >= t) {
                        return Got::Deadline;
                    }
                }
                Err(_) if ended() => return Got::Stopped,
                Err(e) => return Got::Failed(e),
            }
        }
    }

    /// Sets the socket's receive timeout for a wait until `until`; the `recv` flags to use:
    /// `MSG_DONTWAIT` once `until` has passed. The timeout is set again only when it is off
    /// by more than a little, so that most reads cost no extra system call.
    fn arm(&mut self, until: Option<Instant>) -> io::Result<libc::c_int> {
        let want = match until {
            None => None,
            Some(until) => match until.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(libc::MSG_DONTWAIT),
            },
        };
        let close_enough = match (self.timeout, want) {
            (None, None) => true,
            (Some(set), Some(want)) => {
                let slack = (want / 8).min(Duration::from_millis(10));
                set <= want + slack && want <= set + slack
            }
            _ => false,
        };
        if !close_enough {
            // At least 1 ms: the kernel rounds a shorter one up anyway, and 0 means none.
            let set = want.map(|w| w.max(Duration::from_millis(1)));
            self.socket.set_read_timeout(set)?;
            self.timeout = set;
        }
        Ok(0)
    }
}

/// Decodes `bytes` of the body into `cursor`: `Fed` when some content went in, `Failed` when
/// the framing broke before any did, `None` when there was nothing but framing. A break after
/// some content goes to `broken`, to be given once the events before it are delivered.
fn feed(
    framing: &mut Framing,
    bytes: &[u8],
    cursor: &mut Cursor,
    broken: &mut Option<Error>,
) -> Option<Read> {
    let mut fed = false;
    let decoded = framing.decode(bytes, &mut |data| {
        fed = true;
        cursor.feed(data);
    });
    match (decoded, fed) {
        (Err(why), false) => Some(Read::Failed(stream_failed(why))),
        (Err(why), true) => {
            *broken = Some(stream_failed(why));
            Some(Read::Fed)
        }
        (Ok(_), fed) => fed.then_some(Read::Fed),
    }
}

fn stream_failed(why: String) -> Error {
    Error::new(ErrorKind::Connect, format!("the stream failed: {why}"))
}

fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; `fd` is the socket the caller owns.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The socket for rustls's record reading and writing, with `recv`'s flags.
struct Socket {
    fd: RawFd,
    flags: libc::c_int,
}

impl io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv(self.fd, buf, self.flags)
    }
}

impl io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of its length; `fd` is the socket the caller owns.
        let n = unsafe { libc::send(self.fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
