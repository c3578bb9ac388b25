//! The transport: one HTTP client per [`Client`](crate::Client), sending any endpoint's
//! [`Request`] with retries, turning non-2xx answers into errors with the API's fields, reading
//! answers under their size caps, and the URL and header policy. It knows nothing of events
//! beyond handing a stream's bytes to the stream engine.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Response, Url};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::api::Request;
use crate::config::ClientOptions;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::log::{self, LogLevel};
use crate::retry;
use crate::stream::{Cursor, Pumped, Sink};

/// How much of an error answer is read to find the API's error object.
const MAX_ERROR_BODY_BYTES: usize = 1 << 20;

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
    user_headers: Vec<HeaderName>,
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
        let mut user_headers = Vec::new();
        for (name, value) in &options.headers {
            let (name, value) = validate_header(name, value)?;
            user_headers.push(name.clone());
            headers.insert(name, value);
        }

        // One TLS configuration, its roots parsed once, for both clients.
        let tls = tls_config(&resolved)?;
        let build = |pooled: bool| -> Result<reqwest::Client> {
            let mut builder = reqwest::Client::builder()
                .default_headers(headers.clone())
                .user_agent(concat!("oairun/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(resolved.connect_timeout)
                .tcp_nodelay(true)
                // A redirect would re-send the key to wherever a server points, and turn the
                // POST into a GET: a 3xx is reported as an HTTP status instead.
                .redirect(reqwest::redirect::Policy::none());
            if !pooled {
                builder = builder.pool_max_idle_per_host(0);
            }
            let builder = builder.use_preconfigured_tls(tls.clone());
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
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("text/event-stream") {
            return Err(Error::protocol(format!(
                "a stream was asked for but the answer's content type is {content_type:?}, not text/event-stream"
            ))
            .with_http(response.status().as_u16(), request_id(&response)));
        }
        Ok(response)
    }

    /// Sends the request until it gets a 2xx answer or a failure not worth retrying, with up
    /// to `max_retries` retries (see `retry.rs`). Every attempt sends the same bytes. A
    /// stream is retried only here, before any of its events exists. A synchronous attempt
    /// is limited by the overall timeout, a stream's wait for its answer by the read timeout.
    pub(crate) async fn send(&self, request: &Request, via: Via) -> Result<Response> {
        let stream = request.stream;
        // Built only when logging is on, so that it costs nothing otherwise.
        let url = if log::enabled(LogLevel::Error) {
            log::url_for_log(&request.url)
        } else {
            String::new()
        };
        let attempts = self.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let this_try = self.build(request, via);
            log::log(LogLevel::Info, || {
                let form = if stream { "streamed" } else { "synchronous" };
                format!("POST {url} ({form}, attempt {attempt} of {attempts})")
            });
            let started = Instant::now();
            // Set for a failure no retry can mend: a refused certificate, a proxy's 407.
            let mut permanent = false;
            let mut failed = |e: reqwest::Error| {
                permanent = permanent_failure(&e).is_some();
                transport_error("request failed", &e)
            };
            let sent = if stream {
                match tokio::time::timeout(self.read_timeout, this_try.send()).await {
                    Ok(sent) => sent.map_err(&mut failed),
                    Err(_) => Err(timeout_error("no answer", self.read_timeout)),
                }
            } else {
                this_try
                    .timeout(self.timeout)
                    .send()
                    .await
                    .map_err(&mut failed)
            };
            if let Ok(response) = &sent {
                log::log(LogLevel::Info, || {
                    let id = request_id(response).unwrap_or_else(|| "none".to_owned());
                    format!(
                        "HTTP {} from {url} after {} ms (request id {id})",
                        response.status().as_u16(),
                        started.elapsed().as_millis()
                    )
                });
            }
            let wait = match &sent {
                Ok(response) if response.status().is_success() => return sent,
                Ok(response) if retry::retriable_status(response.status()) => {
                    Some(retry::server_delay(response.headers(), SystemTime::now()))
                }
                Err(e)
                    if !permanent
                        && matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout) =>
                {
                    Some(None)
                }
                _ => None,
            };
            match wait {
                Some(asked) if attempt <= self.max_retries => {
                    let delay = retry::delay(attempt, asked);
                    log::log(LogLevel::Warn, || {
                        let why = match &sent {
                            Ok(response) => format!("HTTP {}", response.status().as_u16()),
                            Err(error) => error.message().to_owned(),
                        };
                        format!(
                            "attempt {attempt} of {attempts} failed ({why}); retrying in {} ms",
                            delay.as_millis()
                        )
                    });
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    let error = match sent {
                        Ok(response) => status_error(response).await,
                        Err(error) => error,
                    };
                    let error = error.with_attempts(attempt);
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
        let no_proxy = std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default();
        if no_proxy.split(',').any(|entry| entry.trim() == "*") {
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

/// Checks an extra header's name and value (no CR, LF or other bytes HTTP forbids).
pub(crate) fn validate_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::invalid(format!("{name:?} is not a valid header name")))?;
    let header_value = header_value(&format!("value of header {name:?}"), value)?;
    Ok((header_name, header_value))
}

pub(crate) fn request_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An error for a failure below HTTP: the message carries reqwest's whole cause chain, after
/// a plain statement of the cause when it is one no retry mends (see [`permanent_failure`]).
pub(crate) fn transport_error(what: &str, error: &reqwest::Error) -> Error {
    let mut message = match permanent_failure(error) {
        Some(cause) => format!("{what}: {cause}: {error}"),
        None => format!("{what}: {error}"),
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

fn describe_tls_failure(error: &rustls::Error) -> String {
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

/// The error for a non-2xx answer, with the API's error fields when the body has them.
async fn status_error(mut response: Response) -> Error {
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let body = read_capped(&mut response, MAX_ERROR_BODY_BYTES)
        .await
        .unwrap_or_default();
    let api = ApiError::parse(&body).unwrap_or_default();
    let detail = match &api.message {
        Some(message) => message.clone(),
        None => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                response
                    .status()
                    .canonical_reason()
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
