//! Client options and the environment variables the official SDKs read.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::error::{Error, Result};
use crate::transport::{parse_pem_bundle, parse_pem_certificates, parse_proxy_url};

/// The base URL used when neither the options nor `OPENAI_BASE_URL` give one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The overall limit of a synchronous call when none is set (the official SDK's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The limit on connecting when none is set (the official Python SDK's).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a stream may go without a byte when none is set (the official SDK's read limit).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest synchronous answer read before failing with a protocol error.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 << 20;
/// The largest single stream event (its pending line plus data) before failing.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 << 20;

/// Settings for a [`Client`](crate::Client). Everything left unset comes from the environment
/// (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`; for TLS
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`; for proxies `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`) or the defaults.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// The API key, sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// The base URL, e.g. `https://api.openai.com/v1` or a compatible server's.
    pub base_url: Option<String>,
    /// Sent as `OpenAI-Organization`.
    pub organization: Option<String>,
    /// Sent as `OpenAI-Project`.
    pub project: Option<String>,
    /// Extra headers sent with every request, after the standard ones. `Client::new` refuses
    /// `Content-Length` and `Transfer-Encoding` (`InvalidArgument`): oairun frames each body.
    pub headers: Vec<(String, String)>,
    /// The overall limit of a synchronous call (connect, send, and read the whole answer).
    pub timeout: Option<Duration>,
    /// The limit on establishing a connection (TCP and TLS), default 5 s.
    pub connect_timeout: Option<Duration>,
    /// For a stream: the longest wait for the answer's headers and for each next byte, default
    /// 600 s. A stream has no overall limit: it may run as long as bytes keep coming.
    pub read_timeout: Option<Duration>,
    /// Allows plain `http://` base URLs whose host is not loopback. Off by default: the key
    /// would cross the network in clear text.
    pub allow_insecure_http: bool,
    /// How many times a failed request is retried (connection failures other than a refused
    /// certificate or a proxy's 407, timeouts, 408, 409, 429, 5xx), default 2; 0 disables
    /// retries.
    pub max_retries: Option<u32>,
    /// The largest synchronous answer accepted (default 32 MiB).
    pub max_response_bytes: Option<usize>,
    /// The largest single stream event accepted (default 8 MiB).
    pub max_event_bytes: Option<usize>,
    /// Extra certificate authorities to trust, each PEM text of one or more certificates, on
    /// top of the default roots (the bundled Mozilla roots, or those of `SSL_CERT_FILE` or
    /// `SSL_CERT_DIR` when set). Checked by [`ClientOptions::add_root_certificate_pem`] and
    /// again when the client is built.
    pub root_certificates_pem: Vec<String>,
    /// The proxy for every request, `http://[user:password@]host[:port]` (or `https://`). When
    /// set, the proxy environment variables (`NO_PROXY` included) are ignored, as the official
    /// SDK ignores them when given a proxy. Never logged, nor shown by `{:?}` with its password.
    pub proxy: Option<String>,
}

impl std::fmt::Debug for ClientOptions {
    // Hand-written so that the key can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("max_retries", &self.max_retries)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("root_certificates_pem", &self.root_certificates_pem.len())
            .field(
                "proxy",
                &self.proxy.as_ref().map(|p| match parse_proxy_url(p) {
                    Ok(url) => crate::log::url_for_log(&url),
                    Err(_) => "<invalid>".to_owned(),
                }),
            )
            .finish()
    }
}

/// Options with the environment and defaults applied: what a client is built from.
pub(crate) struct Resolved {
    pub api_key: String,
    pub base_url: String,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_retries: u32,
    pub max_response_bytes: usize,
    pub max_event_bytes: usize,
    /// The roots that replace the bundled ones (`SSL_CERT_FILE`, `SSL_CERT_DIR`), if any.
    pub replaced_roots: Option<Vec<CertificateDer<'static>>>,
    /// The extra roots of the options.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// Reads an environment variable, treating unset, empty and non-UTF-8 alike as absent.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ClientOptions {
    /// Adds certificate authorities to trust besides the default roots: `pem` holds one or
    /// more `-----BEGIN CERTIFICATE-----` blocks (other blocks, such as keys, are skipped).
    ///
    /// Fails with `InvalidArgument`, naming the problem, when `pem` holds no certificate, a
    /// block is malformed, or a certificate cannot be used as a trust anchor.
    pub fn add_root_certificate_pem(&mut self, pem: &str) -> Result<()> {
        parse_pem_certificates(pem.as_bytes(), "the PEM text")?;
        self.root_certificates_pem.push(pem.to_owned());
        Ok(())
    }

    /// Sets the proxy every request goes through (see [`ClientOptions::proxy`]).
    ///
    /// Fails with `InvalidArgument` when `url` is not an `http://` or `https://` URL with a
    /// host and nothing after it but an optional `/`; the message never repeats the password.
    pub fn set_proxy(&mut self, url: &str) -> Result<()> {
        parse_proxy_url(url)?;
        self.proxy = Some(url.to_owned());
        Ok(())
    }

    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let api_key = self
            .api_key
            .clone()
            .or_else(|| env_var("OPENAI_API_KEY"))
            .ok_or_else(|| {
                Error::invalid("no API key: set one in the client options or in OPENAI_API_KEY")
            })?;
        let base_url = self
            .base_url
            .clone()
            .or_else(|| env_var("OPENAI_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let positive = |value: Option<Duration>, default: Duration, what: &str| {
            let value = value.unwrap_or(default);
            if value.is_zero() {
                return Err(Error::invalid(format!(
                    "the {what} must be greater than zero"
                )));
            }
            Ok(value)
        };
        let timeout = positive(self.timeout, DEFAULT_TIMEOUT, "timeout")?;
        let connect_timeout = positive(
            self.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
            "connect timeout",
        )?;
        let read_timeout = positive(self.read_timeout, DEFAULT_READ_TIMEOUT, "read timeout")?;
        let max_response_bytes = self
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let max_event_bytes = self.max_event_bytes.unwrap_or(DEFAULT_MAX_EVENT_BYTES);
        if max_response_bytes == 0 || max_event_bytes == 0 {
            return Err(Error::invalid("the size caps must be greater than zero"));
        }
        Ok(Resolved {
            api_key,
            base_url,
            organization: self
                .organization
                .clone()
                .or_else(|| env_var("OPENAI_ORG_ID")),
            project: self
                .project
                .clone()
                .or_else(|| env_var("OPENAI_PROJECT_ID")),
            timeout,
            connect_timeout,
            read_timeout,
            max_retries: self
                .max_retries
                .unwrap_or(crate::retry::DEFAULT_MAX_RETRIES),
            max_response_bytes,
            max_event_bytes,
            replaced_roots: environment_roots(env_var)?,
            extra_roots: self
                .root_certificates_pem
                .iter()
                .map(|pem| parse_pem_certificates(pem.as_bytes(), "a root certificate's PEM text"))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect(),
        })
    }
}

/// The roots `SSL_CERT_FILE`, else `SSL_CERT_DIR`, name, which then replace the bundled roots
/// as they replace certifi's in the official Python SDK (httpx): `None` when neither is set.
/// A file that cannot be read or holds no certificate is an error, not a silent fallback.
fn environment_roots(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<CertificateDer<'static>>>> {
    if let Some(file) = var("SSL_CERT_FILE") {
        let pem = std::fs::read(&file)
            .map_err(|e| Error::invalid(format!("cannot read SSL_CERT_FILE {file:?}: {e}")))?;
        return parse_pem_bundle(&pem, &format!("SSL_CERT_FILE {file:?}")).map(Some);
    }
    if let Some(dir) = var("SSL_CERT_DIR") {
        return directory_roots(Path::new(&dir)).map(Some);
    }
    Ok(None)
}

/// Every certificate of the PEM files directly in `dir` (OpenSSL's hashed links included);
/// files that hold none (CRLs, keys, anything else) are skipped.
fn directory_roots(dir: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid(format!("cannot read SSL_CERT_DIR {dir:?}: {e}")))?;
    let mut roots = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in entries.flatten() {
        let Ok(pem) = std::fs::read(entry.path()) else {
            continue;
        };
        for cert in parse_pem_bundle(&pem, "").unwrap_or_default() {
            if seen.insert(cert.clone()) {
                roots.push(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(Error::invalid(format!(
            "SSL_CERT_DIR {dir:?} holds no PEM certificate"
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let options = ClientOptions {
            api_key: Some("sk-secret-123".into()),
            ..Default::default()
        };
        let text = format!("{options:?}");
        assert!(!text.contains("sk-secret-123"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn explicit_options_win_and_zero_timeout_is_refused() {
        let options = ClientOptions {
            api_key: Some("k".into()),
            base_url: Some("http://127.0.0.1:1/v1".into()),
            ..Default::default()
        };
        let resolved = options.resolve().unwrap();
        assert_eq!(resolved.api_key, "k");
        assert_eq!(resolved.base_url, "http://127.0.0.1:1/v1");
        assert_eq!(resolved.timeout, DEFAULT_TIMEOUT);

        let zero = ClientOptions {
            timeout: Some(Duration::ZERO),
            ..options
        };
        assert_eq!(
            zero.resolve().err().unwrap().kind(),
            crate::ErrorKind::InvalidArgument
        );
    }

    /// Writes `text` to `dir/name`; returns the path.
    fn write(dir: &Path, name: &str, text: &str) -> String {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn ssl_cert_file_then_ssl_cert_dir_replace_the_bundled_roots() {
        let dir = std::env::temp_dir().join(format!("oairun-roots-{}", std::process::id()));
        let none = |_: &str| None;
        assert!(
            environment_roots(none).unwrap().is_none(),
            "bundled by default"
        );

        let pem = include_str!("../testserver/fixtures/run.json");
        let bad = write(&dir, "bad.pem", pem);
        let var = |name: &str| (name == "SSL_CERT_FILE").then(|| bad.clone());
        let error = environment_roots(var).unwrap_err();
        assert!(error.message().contains("SSL_CERT_FILE"), "{error}");
        assert!(error.message().contains("no usable certificate"), "{error}");

        let missing = dir.join("missing.pem").to_str().unwrap().to_owned();
        let var = |name: &str| (name == "SSL_CERT_FILE").then(|| missing.clone());
        let error = environment_roots(var).unwrap_err();
        assert!(
            error.message().contains("cannot read SSL_CERT_FILE"),
            "{error}"
        );

        let empty_dir = dir.join("empty");
        std::fs::create_dir_all(&empty_dir).unwrap();
        let empty = empty_dir.to_str().unwrap().to_owned();
        let var = |name: &str| (name == "SSL_CERT_DIR").then(|| empty.clone());
        let error = environment_roots(var).unwrap_err();
        assert!(error.message().contains("SSL_CERT_DIR"), "{error}");
        // SSL_CERT_FILE wins over SSL_CERT_DIR: the bad file is reported, not the empty dir.
        let var = |name: &str| match name {
            "SSL_CERT_FILE" => Some(bad.clone()),
            _ => Some(empty.clone()),
        };
        assert!(environment_roots(var)
            .unwrap_err()
            .message()
            .contains("SSL_CERT_FILE"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
