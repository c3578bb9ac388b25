//! The transport: one HTTP client per [`Client`](crate::Client), sending any endpoint's
//! [`Request`] with retries, turning non-2xx answers into errors with the API's fields, reading
//! answers under their size caps, and the URL and header policy. It knows nothing of events
//! beyond handing a stream's bytes to the stream engine.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE,
    TRANSFER_ENCODING, USER_AGENT,
};
use reqwest::{Response, Url};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::api::Request;
use crate::config::ClientOptions;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::log::{self, LogLevel};
use crate::retry;
use crate::stream::{Cursor, Pumped, Sink};
use crate::wire::WireConfig;

/// How much of an error answer is read to find the API's error object.
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 1 << 20;

/// The server, the key's headers, the limits and a pool of connections: everything a request
/// needs besides itself. Immutable once built.
pub(crate) struct Transport {
    http: reqwest::Client,
    /// The same client without a pool of idle connections, for streams read on the caller's
    /// thread (see `reader.rs`): their connection lives in a runtime of their own, which ends
    /// with the stream, so it must never be handed to another request.
    unpooled: reqwest::Client,
    pub(crate) base: Url,
    timeout: Duration,
    pub(crate) read_timeout: Duration,
    max_retries: u32,
    max_response_bytes: usize,
    pub(crate) max_event_bytes: usize,
    /// The names of the extra headers set in the options: they win over an endpoint's own.
    pub(crate) user_headers: Vec<HeaderName>,
    /// A stream's own connection, for the streams read on the caller's thread (see `wire.rs`):
    /// `None` when a proxy may apply, and then they use `unpooled`.
    pub(crate) wire: Option<WireConfig>,
}

impl Transport {
    /// Builds the transport from `options`, the environment and the defaults.
    ///
    /// Fails with `InvalidArgument` when there is no key, the base URL is not an absolute
    /// `http`/`https` URL, a header name or value (the key, organization and project
    /// included) is not valid in HTTP, the proxy URL is invalid, or `SSL_CERT_FILE` (or
    /// `SSL_CERT_DIR`) is set but cannot be read or holds no certificate.
    pub(crate) fn new(options: &ClientOptions) -> Result<Transport> {
        let resolved = options.resolve()?;
        let base = parse_base_url(&resolved.base_url)?;
        if base.scheme() == "http" && !options.allow_insecure_http && !is_loopback(&base) {
            return Err(Error::invalid(format!(
                "plain http:// sends the API key in clear text: it is allowed only for loopback \
                 hosts (127.0.0.0/8, ::1, localhost) unless insecure HTTP is allowed in the \
                 options, not for {:?}",
                resolved.base_url
            )));
        }

        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", resolved.api_key))
            .map_err(|_| Error::invalid("the API key has characters not allowed in a header"))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(org) = &resolved.organization {
            headers.insert(
                HeaderName::from_static("openai-organization"),
                header_value("organization", org)?,
            );
        }
        if let Some(project) = &resolved.project {
            headers.insert(
                HeaderName::from_static("openai-project"),
                header_value("project", project)?,
            );
        }
        // Before the user's headers, so that a `User-Agent` of theirs replaces it.
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("oairun/", env!("CARGO_PKG_VERSION"))),
        );
        let mut user_headers = Vec::new();
        for (name, value) in &options.headers {
            let (name, value) = validate_header(name, value)?;
            user_headers.push(name.clone());
            headers.insert(name, value);
        }

        // One TLS configuration, its roots parsed once, for both clients.
        let tls = Arc::new(tls_config(&resolved)?);
        let build = |pooled: bool| -> Result<reqwest::Client> {
            let mut builder = reqwest::Client::builder()
                .default_headers(headers.clone())
                .connect_timeout(resolved.connect_timeout)
                .tcp_nodelay(true)
                // A redirect would re-send the key to wherever a server points, and turn the
                // POST into a GET: a 3xx is reported as an HTTP status instead.
                .redirect(reqwest::redirect::Policy::none());
            if !pooled {
                builder = builder.pool_max_idle_per_host(0);
            }
            let builder = builder.use_preconfigured_tls((*tls).clone());
            let builder = with_proxy(builder, options.proxy.as_deref())?;
            builder
                .build()
                .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
        };
        let http = build(true)?;
        let unpooled = build(false)?;
        Ok(Transport {
            http,
            unpooled,
            base,
            timeout: resolved.timeout,
            read_timeout: resolved.read_timeout,
            max_retries: resolved.max_retries,
            max_response_bytes: resolved.max_response_bytes,
            max_event_bytes: resolved.max_event_bytes,
            user_headers,
            wire: (options.proxy.is_none() && !environment_proxy()).then(|| WireConfig {
                tls,
                headers,
                connect_timeout: resolved.connect_timeout,
            }),
        })
    }

    /// One attempt at `request`. The endpoint's own headers replace the client's of the same
    /// name, except that a header the user set in the options wins over them.
    fn build(&self, request: &Request, via: Via) -> reqwest::RequestBuilder {
        let accept = if request.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let http = match via {
            Via::Pool => &self.http,
            Via::OwnConnection => &self.unpooled,
        };
        let mut builder = http
            .post(request.url.clone())
            .header(ACCEPT, accept)
            .body(request.body.clone());
        for (name, value) in request.headers {
            if !self.user_headers.iter().any(|user| user == name) {
                builder = builder.header(*name, *value);
            }
        }
        builder
    }

    /// Sends a request and reads its whole answer, checked to be one JSON object, as text.
    pub(crate) async fn call(self: Arc<Self>, request: Request) -> Result<String> {
        let mut response = self.send(&request, Via::Pool).await?;
        let http = (response.status().as_u16(), request_id(&response));
        let with_http = |e: Error| e.with_http(http.0, http.1.clone());
        let body = read_capped(&mut response, self.max_response_bytes)
            .await
            .map_err(with_http)?;
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(with_http(Error::protocol(
                    "the answer is JSON but not an object",
                )))
            }
            Err(e) => {
                return Err(with_http(Error::protocol(format!(
                    "the answer is not JSON: {e}"
                ))))
            }
        }
        String::from_utf8(body).map_err(|_| with_http(Error::protocol("the answer is not UTF-8")))
    }

    /// Sends a stream's request and checks that the answer is an event stream.
    pub(crate) async fn open_stream(&self, request: &Request, via: Via) -> Result<Response> {
        #[cfg(test)]
        crate::test_hooks::panic_at("network", request.url.path());
        let response = self.send(request, via).await?;
        check_event_stream(response.status().as_u16(), response.headers())?;
        Ok(response)
    }

    /// Sends the request over reqwest's connections (see [`send_with`](Self::send_with)).
    pub(crate) async fn send(&self, request: &Request, via: Via) -> Result<Response> {
        let stream = request.stream;
        self.send_with(request, || async move {
            let mut this_try = self.build(request, via);
            if !stream {
                this_try = this_try.timeout(self.timeout);
            }
            this_try.send().await.map_err(|e| Failure {
                permanent: permanent_failure(&e).is_some(),
                error: transport_error("request failed", &e),
            })
        })
        .await
    }

    /// Sends the request, each attempt made by `attempt`, until it gets a 2xx answer or a
    /// failure not worth retrying, with up to `max_retries` retries (see `retry.rs`). Every
    /// attempt sends the same bytes. A stream is retried only here, before any of its events
    /// exists. A synchronous attempt is limited by the overall timeout (`attempt` sees to it),
    /// a stream's wait for its answer by the read timeout.
    pub(crate) async fn send_with<A, F, Fut>(&self, request: &Request, mut attempt: F) -> Result<A>
    where
        A: Answer,
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<A, Failure>>,
    {
        let stream = request.stream;
        // Built only when logging is on, so that it costs nothing otherwise.
        let url = if log::enabled(LogLevel::Error) {
            log::url_for_log(&request.url)
        } else {
            String::new()
        };
        let attempts = self.max_retries.saturating_add(1);
        let mut tried = 0;
        loop {
            tried += 1;
            log::log(LogLevel::Info, || {
                let form = if stream { "streamed" } else { "synchronous" };
                format!("POST {url} ({form}, attempt {tried} of {attempts})")
            });
            let started = Instant::now();
            let sent = if stream {
                match tokio::time::timeout(self.read_timeout, attempt()).await {
                    Ok(sent) => sent,
                    Err(_) => Err(Failure {
                        error: timeout_error("no answer", self.read_timeout),
                        permanent: false,
                    }),
                }
            } else {
                attempt().await
            };
            if let Ok(answer) = &sent {
                log::log(LogLevel::Info, || {
                    let id = request_id_in(answer.headers()).unwrap_or_else(|| "none".to_owned());
                    format!(
                        "HTTP {} from {url} after {} ms (request id {id})",
                        answer.status_code(),
                        started.elapsed().as_millis()
                    )
                });
            }
            let wait = match &sent {
                Ok(answer) if (200..300).contains(&answer.status_code()) => {
                    return sent.map_err(|f| f.error)
                }
                Ok(answer) if retry::retriable_status(answer.status_code()) => {
                    Some(retry::server_delay(answer.headers(), SystemTime::now()))
                }
                Err(failure)
                    if !failure.permanent
                        && matches!(
                            failure.error.kind(),
                            ErrorKind::Connect | ErrorKind::Timeout
                        ) =>
                {
                    Some(None)
                }
                _ => None,
            };
            match wait {
                Some(asked) if tried <= self.max_retries => {
                    let delay = retry::delay(tried, asked);
                    log::log(LogLevel::Warn, || {
                        let why = match &sent {
                            Ok(answer) => format!("HTTP {}", answer.status_code()),
                            Err(failure) => failure.error.message().to_owned(),
                        };
                        format!(
                            "attempt {tried} of {attempts} failed ({why}); retrying in {} ms",
                            delay.as_millis()
                        )
                    });
                    drop(sent);
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    let error = match sent {
                        Ok(answer) => answer.into_error().await,
                        Err(failure) => failure.error,
                    };
                    let error = error.with_attempts(tried);
                    log::log(LogLevel::Error, || {
                        format!("POST {url} failed: {}", error.message())
                    });
                    return Err(error);
                }
            }
        }
    }

    /// The network half of a stream: opens it, then forwards body chunks to `sink` until the
    /// body ends, fails, or the sink closes (then the response is dropped, which closes the
    /// connection).
    pub(crate) async fn pump(&self, request: Request, mut sink: impl Sink) {
        let mut response = match self.open_stream(&request, Via::Pool).await {
            Ok(response) => response,
            Err(error) => {
                sink.send(Pumped::Opened(Err(error))).await;
                return;
            }
        };
        let cursor = Cursor::new(&response, request.rule, self.max_event_bytes);
        if !sink.send(Pumped::Opened(Ok(Box::new(cursor)))).await {
            return;
        }
        loop {
            let chunk = tokio::select! {
                biased;
                _ = sink.closed() => return,
                chunk = tokio::time::timeout(self.read_timeout, response.chunk()) => chunk,
            };
            let message = match chunk {
                Ok(Ok(Some(bytes))) => Pumped::Data(bytes),
                Ok(Ok(None)) => Pumped::End,
                Ok(Err(e)) => Pumped::Failed(transport_error("the stream failed", &e)),
                Err(_) => Pumped::Failed(timeout_error("no data", self.read_timeout)),
            };
            let last = !matches!(message, Pumped::Data(_));
            if !sink.send(message).await || last {
                return;
            }
        }
    }
}

/// Which connections a request may use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Via {
    /// The client's pool, on oairun's runtime: connections are kept and reused.
    Pool,
    /// A connection of its own, opened on the runtime that polls the request and closed when
    /// the answer is dropped.
    OwnConnection,
}

/// Parses a base URL: absolute, `http` or `https`, able to take a path, no fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url> {
    let base =
        Url::parse(text).map_err(|e| Error::invalid(format!("invalid base URL {text:?}: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(Error::invalid(format!(
            "the base URL must be an http:// or https:// URL, not {text:?}"
        )));
    }
    if base.fragment().is_some() {
        return Err(Error::invalid("the base URL must not have a #fragment"));
    }
    Ok(base)
}

/// The TLS configuration of a client's connections: rustls with the process's default crypto
/// provider (else ring), TLS 1.3 and 1.2, HTTP/1.1 by ALPN, as reqwest builds it, trusting the
/// roots of `SSL_CERT_FILE`/`SSL_CERT_DIR` instead of the bundled (webpki) ones when set, and
/// the options' extra roots in any case.
fn tls_config(resolved: &crate::config::Resolved) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &resolved.replaced_roots {
        Some(certs) => {
            for cert in certs {
                add_root(&mut roots, cert)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    for cert in &resolved.extra_roots {
        add_root(&mut roots, cert)?;
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::internal(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

fn add_root(roots: &mut rustls::RootCertStore, der: &CertificateDer<'_>) -> Result<()> {
    roots
        .add(der.clone().into_owned())
        .map_err(|e| Error::invalid(format!("a root certificate cannot be used: {e}")))
}

/// The options' proxy for every request, or else the environment's. reqwest, built without
/// its `system-proxy` feature, reads exactly `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` and
/// `NO_PROXY` (upper case first, then lower case; `HTTP_PROXY` not in a CGI program, where
/// `REQUEST_METHOD` is set) once, when the client is built; `.proxy` turns that off.
/// `NO_PROXY` entries are host names (matching their subdomains too), IP addresses, CIDR
/// blocks, or `*` for every host.
fn with_proxy(
    builder: reqwest::ClientBuilder,
    proxy: Option<&str>,
) -> Result<reqwest::ClientBuilder> {
    let Some(text) = proxy else {
        // hyper-util's `*` bypasses host names only, not IP addresses; httpx's bypasses all.
        if no_proxy_for_all() {
            return Ok(builder.no_proxy());
        }
        return Ok(builder);
    };
    let url = parse_proxy_url(text)?;
    let proxy = reqwest::Proxy::all(url.clone()).map_err(|_| {
        Error::invalid(format!(
            "the proxy URL {:?} cannot be used",
            log::url_for_log(&url)
        ))
    })?;
    Ok(builder.proxy(proxy))
}

/// True when the environment names a proxy that reqwest would use (see [`with_proxy`]) for
/// some host: then every request goes through reqwest, which applies it.
fn environment_proxy() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let named = [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|name| set(name));
    named && !no_proxy_for_all()
}

/// True when the environment's `NO_PROXY` (else `no_proxy`) has the entry `*`: no host is
/// reached through a proxy from the environment.
fn no_proxy_for_all() -> bool {
    std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default()
        .split(',')
        .any(|entry| entry.trim() == "*")
}

/// Parses a proxy URL: `http` or `https`, with a host, optional `user:password@` and port,
/// and no path, query or fragment. Messages never repeat the password.
pub(crate) fn parse_proxy_url(text: &str) -> Result<Url> {
    let url = Url::parse(text)
        .map_err(|e| Error::invalid(format!("the proxy URL is not a valid URL: {e}")))?;
    let shown = log::url_for_log(&url);
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "the proxy URL must start with http:// or https://, not {shown:?}"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("the proxy URL has no host"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(format!(
            "the proxy URL must be scheme://[user:password@]host[:port] and nothing more, \
             not {shown:?}"
        )));
    }
    Ok(url)
}

/// The certificates of PEM text (`-----BEGIN CERTIFICATE-----` blocks; other blocks are
/// skipped), each checked to be usable as a trust anchor. `source` names the text in errors.
pub(crate) fn parse_pem_certificates(
    pem: &[u8],
    source: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    pem_certificates(pem, source, false)
}

/// Like [`parse_pem_certificates`], for a system bundle: a certificate that cannot be a trust
/// anchor is left out (as OpenSSL-based clients ignore it) instead of failing the whole file.
pub(crate) fn parse_pem_bundle(pem: &[u8], source: &str) -> Result<Vec<CertificateDer<'static>>> {
    pem_certificates(pem, source, true)
}

fn pem_certificates(
    pem: &[u8],
    source: &str,
    skip_unusable: bool,
) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = item.map_err(|e| {
            Error::invalid(format!(
                "{source} is not valid PEM after {i} certificate(s): {e}"
            ))
        })?;
        match rustls::RootCertStore::empty().add(cert.clone()) {
            Ok(()) => certs.push(cert),
            Err(_) if skip_unusable => {}
            Err(e) => {
                return Err(Error::invalid(format!(
                    "{source}: certificate {} is not a usable X.509 certificate: {e}",
                    i + 1
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "{source} holds no usable certificate (no -----BEGIN CERTIFICATE----- block)"
        )));
    }
    Ok(certs)
}

/// True for hosts that never leave the machine: localhost, 127.0.0.0/8 and ::1.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::invalid(format!("the {what} has characters not allowed in a header")))
}

/// Checks an extra header's name and value (no CR, LF or other bytes HTTP forbids), and that
/// it is not `Content-Length` or `Transfer-Encoding`: oairun frames each request's body
/// itself, and a second framing would cut the body short or leave part of it to be read as
/// the next request on the connection.
pub(crate) fn validate_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::invalid(format!("{name:?} is not a valid header name")))?;
    if header_name == CONTENT_LENGTH || header_name == TRANSFER_ENCODING {
        return Err(Error::invalid(format!(
            "header {name:?} is oairun's to send: it frames each request's body itself"
        )));
    }
    let header_value = header_value(&format!("value of header {name:?}"), value)?;
    Ok((header_name, header_value))
}

pub(crate) fn request_id(response: &Response) -> Option<String> {
    request_id_in(response.headers())
}

pub(crate) fn request_id_in(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An answer's status and headers, whichever connection brought it: what the retry loop of
/// [`Transport::send_with`] looks at.
pub(crate) trait Answer: Send {
    fn status_code(&self) -> u16;
    fn headers(&self) -> &HeaderMap;
    /// The error for this non-2xx answer, its body read (up to a cap) for the API's fields.
    fn into_error(self) -> impl Future<Output = Error> + Send;
}

impl Answer for Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    fn headers(&self) -> &HeaderMap {
        Response::headers(self)
    }

    async fn into_error(mut self) -> Error {
        let body = read_capped(&mut self, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        status_error(self.status().as_u16(), request_id(&self), &body)
    }
}

/// A failed attempt: the error, and whether no retry can mend it (see [`permanent_failure`]).
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) permanent: bool,
}

/// Checks that a stream's answer is an event stream.
pub(crate) fn check_event_stream(status: u16, headers: &HeaderMap) -> Result<()> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("text/event-stream") {
        return Ok(());
    }
    Err(Error::protocol(format!(
        "a stream was asked for but the answer's content type is {content_type:?}, not text/event-stream"
    ))
    .with_http(status, request_id_in(headers)))
}

/// An error for a failure below HTTP: the message carries reqwest's whole cause chain, after
/// a plain statement of the cause when it is one no retry mends (see [`permanent_failure`]).
pub(crate) fn transport_error(what: &str, error: &reqwest::Error) -> Error {
    let permanent = permanent_failure(error);
    let system = system_error(error).filter(|_| permanent.is_none() && !error.is_timeout());
    let mut message = match (permanent, system) {
        // Worded as a stream's own connection (wire.rs) words them, so that every form of a
        // stream fails with the same message: the place, then the system's error.
        (None, Some(io)) if error.is_connect() => {
            if let Some(url) = error.url() {
                return Error::new(
                    ErrorKind::Connect,
                    format!("{what}: {}", connect_failure(url, io)),
                );
            }
            format!("{what}: {error}")
        }
        (None, Some(io)) if error.is_body() || error.is_decode() => {
            return Error::new(ErrorKind::Connect, format!("{what}: {io}"));
        }
        (Some(cause), _) => format!("{what}: {cause}: {error}"),
        (None, _) => format!("{what}: {error}"),
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connect
    };
    Error::new(kind, message)
}

/// The system's error (an `io::Error` from the operating system) at the root of `error`'s
/// causes, if that is what it is.
fn system_error(error: &reqwest::Error) -> Option<&std::io::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.raw_os_error().is_some().then_some(io);
        }
        next = cause.source();
    }
    None
}

/// How a failed connect to `url`'s host is said, whichever connection tried.
pub(crate) fn connect_failure(url: &Url, cause: impl std::fmt::Display) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(0);
    format!("cannot connect to {host}:{port}: {cause}")
}

/// The plain statement of a connection failure that retrying cannot mend, or `None`: the TLS
/// handshake failed (above all, the server's certificate was refused), or a proxy asked for
/// credentials (407 to `CONNECT`). Such a failure is reported at once, never retried: the
/// official SDK retries every connection error, but a certificate does not fix itself within a
/// retry's delay, and retrying would only hide the cause behind more attempts.
fn permanent_failure(error: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(describe_tls_failure(tls));
        }
        // hyper-util's tunnel error type is private; this is its text for a 407.
        if cause.to_string().ends_with("proxy authorization required") {
            return Some(
                "the proxy refused the tunnel with 407 Proxy Authentication Required: it \
                 wants a user and password (in its URL: http://user:password@host:port), or \
                 refused the ones given"
                    .to_owned(),
            );
        }
        // rustls's error travels inside io::Errors (nested), whose `source` skips what they
        // wrap: look inside them instead.
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

pub(crate) fn describe_tls_failure(error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let why = match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => {
                "unknown issuer: it is not signed by a certificate authority this client \
                 trusts (add the authority's certificate to the client's root certificates, or \
                 name a bundle that holds it in SSL_CERT_FILE)"
            }
            Cert::Expired | Cert::ExpiredContext { .. } => "expired",
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => "not valid yet",
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "not valid for name: it was issued for another host than the base URL's"
            }
            Cert::Revoked => "revoked",
            _ => "refused",
        },
        _ => return "the TLS handshake failed".to_owned(),
    };
    format!("the server's TLS certificate was refused: {why}")
}

pub(crate) fn timeout_error(what: &str, limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{what} within the timeout of {} ms", limit.as_millis()),
    )
}

/// The error for a non-2xx answer of `status`, with the API's error fields when `body` has
/// them.
pub(crate) fn status_error(status: u16, request_id: Option<String>, body: &[u8]) -> Error {
    let api = ApiError::parse(body).unwrap_or_default();
    let detail = match &api.message {
        Some(message) => message.clone(),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("no body")
                    .to_owned()
            } else {
                text.chars().take(200).collect()
            }
        }
    };
    let message = match &request_id {
        Some(id) => format!("HTTP {status}: {detail} (request id {id})"),
        None => format!("HTTP {status}: {detail}"),
    };
    Error::new(ErrorKind::HttpStatus, message)
        .with_http(status, request_id)
        .with_api(api)
}

/// Reads the whole body, failing with `Protocol` as soon as it is known to exceed `cap`.
async fn read_capped(response: &mut Response, cap: usize) -> Result<Vec<u8>> {
    let too_big = || Error::protocol(format!("the answer is larger than the cap of {cap} bytes"));
    let mut body = Vec::new();
    if let Some(length) = response.content_length() {
        if length > cap as u64 {
            return Err(too_big());
        }
        body.reserve_exact(length as usize);
    }
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error("reading the answer failed", &e))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
