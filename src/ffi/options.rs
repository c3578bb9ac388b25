//! `oairun_client_options`: the builder a client is created from.

use std::ffi::{c_char, c_int};
use std::ptr;
use std::time::Duration;

use super::{
    arg_mut, arg_nonempty_str, arg_str, guard, guard_status, into_raw, oairun_error, oairun_status,
};
use crate::client::{parse_base_url, validate_header};
use crate::config::ClientOptions;
use crate::error::{Error, Result};

/// Settings for `oairun_client_new`, set one by one so that new settings never change the ABI.
/// Anything left unset comes from the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
/// `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`) or the defaults. One options object may create any
/// number of clients; a client does not keep a reference to it.
pub struct oairun_client_options {
    pub(crate) inner: ClientOptions,
}

impl super::Handle for oairun_client_options {}

/// Runs a setter on a non-NULL options object.
fn set(
    options: Option<&mut oairun_client_options>,
    apply: impl FnOnce(&mut ClientOptions) -> Result<()>,
) -> oairun_status {
    guard_status(ptr::null_mut(), || {
        let options = arg_mut("options", options)?;
        apply(&mut options.inner)
    })
}

/// Creates an empty options object. The caller owns it and frees it with
/// `oairun_client_options_free`. Returns NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn oairun_client_options_new() -> *mut oairun_client_options {
    guard(|| {
        into_raw(oairun_client_options {
            inner: ClientOptions::default(),
        })
    })
}

/// Sets the API key, sent as `Authorization: Bearer <key>` (default: `OPENAI_API_KEY`).
///
/// `api_key` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `options` or `api_key` is NULL, or `api_key` is empty or not
/// UTF-8. A key with characters HTTP forbids in a header is refused by `oairun_client_new`.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_api_key(
    options: Option<&mut oairun_client_options>,
    api_key: *const c_char,
) -> oairun_status {
    set(options, |o| {
        // SAFETY: `api_key`: NULL or a NUL-terminated string valid for the call (header).
        o.api_key = Some(unsafe { arg_nonempty_str("api_key", api_key) }?.to_owned());
        Ok(())
    })
}

/// Sets the base URL, e.g. `"https://api.openai.com/v1"` or a compatible server's (default:
/// `OPENAI_BASE_URL`, then `https://api.openai.com/v1`). Requests go to
/// `<base_url>/threads/<thread_id>/runs/<run_id>/submit_tool_outputs`; a query in the base URL
/// is kept.
///
/// `base_url` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `options` or `base_url` is NULL, or `base_url` is empty,
/// not UTF-8, or not an absolute `http://` or `https://` URL.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_base_url(
    options: Option<&mut oairun_client_options>,
    base_url: *const c_char,
) -> oairun_status {
    set(options, |o| {
        // SAFETY: `base_url`: NULL or a NUL-terminated string valid for the call (header).
        let url = unsafe { arg_nonempty_str("base_url", base_url) }?;
        parse_base_url(url)?;
        o.base_url = Some(url.to_owned());
        Ok(())
    })
}

/// Sets the organization, sent as `OpenAI-Organization` (default: `OPENAI_ORG_ID`, else none).
///
/// `organization` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `options` or `organization` is NULL, or `organization` is
/// empty, not UTF-8, or holds characters HTTP forbids in a header.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_organization(
    options: Option<&mut oairun_client_options>,
    organization: *const c_char,
) -> oairun_status {
    set(options, |o| {
        // SAFETY: `organization`: NULL or a NUL-terminated string valid for the call (header).
        let value = unsafe { arg_nonempty_str("organization", organization) }?;
        validate_header("OpenAI-Organization", value)?;
        o.organization = Some(value.to_owned());
        Ok(())
    })
}

/// Sets the project, sent as `OpenAI-Project` (default: `OPENAI_PROJECT_ID`, else none).
///
/// `project` is borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `options` or `project` is NULL, or `project` is empty, not
/// UTF-8, or holds characters HTTP forbids in a header.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_project(
    options: Option<&mut oairun_client_options>,
    project: *const c_char,
) -> oairun_status {
    set(options, |o| {
        // SAFETY: `project`: NULL or a NUL-terminated string valid for the call (header).
        let value = unsafe { arg_nonempty_str("project", project) }?;
        validate_header("OpenAI-Project", value)?;
        o.project = Some(value.to_owned());
        Ok(())
    })
}

/// Adds a header sent with every request. A header of the same name as a standard one
/// (`OpenAI-Beta`, `Authorization`, `User-Agent`, …) replaces it; adding the same name twice
/// keeps the last value.
///
/// `name` and `value` are borrowed for the call (copied). Returns `OAIRUN_OK`, or
/// `OAIRUN_INVALID_ARGUMENT` when `options`, `name` or `value` is NULL, `name` is empty, either
/// is not UTF-8, either holds characters HTTP forbids (CR and LF included: no header
/// injection), or `name` is `Content-Length` or `Transfer-Encoding` (in any case): oairun
/// frames each request's body itself. An empty `value` is allowed.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_add_header(
    options: Option<&mut oairun_client_options>,
    name: *const c_char,
    value: *const c_char,
) -> oairun_status {
    set(options, |o| {
        // SAFETY: `name`: NULL or a NUL-terminated string valid for the call (header).
        let name = unsafe { arg_nonempty_str("name", name) }?;
        // SAFETY: `value`: NULL or a NUL-terminated string valid for the call (header).
        let value = unsafe { arg_str("value", value) }?;
        validate_header(name, value)?;
        o.headers.push((name.to_owned(), value.to_owned()));
        Ok(())
    })
}

/// Sets the time limit, in milliseconds, of a synchronous call, from connecting to the last
/// byte of the answer. Default 600000 (600 s, as the official SDK). Streams are not limited as
/// a whole: see `oairun_client_options_set_read_timeout_ms`.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL or
/// `timeout_ms` is 0.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_timeout_ms(
    options: Option<&mut oairun_client_options>,
    timeout_ms: u64,
) -> oairun_status {
    set(options, |o| {
        o.timeout = Some(positive_ms("timeout_ms", timeout_ms)?);
        Ok(())
    })
}

/// Sets the time limit, in milliseconds, on establishing a connection (TCP and TLS), for every
/// submission. Default 5000 (5 s, as the official Python SDK). A connection that cannot be made
/// in time fails with `OAIRUN_TIMEOUT`.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL or
/// `timeout_ms` is 0.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_connect_timeout_ms(
    options: Option<&mut oairun_client_options>,
    timeout_ms: u64,
) -> oairun_status {
    set(options, |o| {
        o.connect_timeout = Some(positive_ms("timeout_ms", timeout_ms)?);
        Ok(())
    })
}

/// Sets, for streams, the longest wait in milliseconds for the answer's headers and then for
/// each next byte: a stream that goes silent for longer ends with `OAIRUN_TIMEOUT`. A stream
/// has no overall limit while bytes keep coming. Default 600000 (600 s).
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL or
/// `timeout_ms` is 0.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_read_timeout_ms(
    options: Option<&mut oairun_client_options>,
    timeout_ms: u64,
) -> oairun_status {
    set(options, |o| {
        o.read_timeout = Some(positive_ms("timeout_ms", timeout_ms)?);
        Ok(())
    })
}

/// Allows (non-zero `allow`) or refuses (0, the default) a plain `http://` base URL whose host
/// is not loopback. Without it, `oairun_client_new` refuses such a URL with
/// `OAIRUN_INVALID_ARGUMENT`, because the key would cross the network in clear text;
/// `http://` to 127.0.0.0/8, `[::1]` or `localhost` is always allowed.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_allow_insecure_http(
    options: Option<&mut oairun_client_options>,
    allow: c_int,
) -> oairun_status {
    set(options, |o| {
        o.allow_insecure_http = allow != 0;
        Ok(())
    })
}

/// Sets the largest synchronous answer, in bytes, read before the call fails with
/// `OAIRUN_PROTOCOL` (so a hostile server cannot exhaust memory). Default 33554432 (32 MiB).
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL or `max_bytes`
/// is 0 or does not fit in memory's address space.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_max_response_bytes(
    options: Option<&mut oairun_client_options>,
    max_bytes: u64,
) -> oairun_status {
    set(options, |o| {
        o.max_response_bytes = Some(positive_size("max_bytes", max_bytes)?);
        Ok(())
    })
}

/// Sets the largest single stream event, in bytes (its name and data, or the part read so
/// far), before the stream fails with `OAIRUN_PROTOCOL`. Default 8388608 (8 MiB).
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL or `max_bytes`
/// is 0 or does not fit in memory's address space.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_max_event_bytes(
    options: Option<&mut oairun_client_options>,
    max_bytes: u64,
) -> oairun_status {
    set(options, |o| {
        o.max_event_bytes = Some(positive_size("max_bytes", max_bytes)?);
        Ok(())
    })
}

fn positive_ms(what: &str, ms: u64) -> Result<Duration> {
    if ms == 0 {
        return Err(Error::invalid(format!("{what} must be greater than 0")));
    }
    Ok(Duration::from_millis(ms))
}

fn positive_size(what: &str, bytes: u64) -> Result<usize> {
    match usize::try_from(bytes) {
        Ok(size) if size > 0 => Ok(size),
        _ => Err(Error::invalid(format!(
            "{what} must be greater than 0 and fit in memory"
        ))),
    }
}

/// Sets how many times a failed request is retried; default 2, and 0 disables retries.
/// Retried: connection failures (not a refused TLS certificate, nor a proxy's 407 to
/// `CONNECT`: those fail at once, as no retry mends them), timeouts, and answers 408, 409, 429
/// and 5xx; after waiting
/// what the answer's `retry-after-ms` or `retry-after` (seconds or HTTP date) asks when it is
/// under 60 s, else 0.5 s doubling per retry up to 8 s, less up to 25 % jitter. Every attempt
/// sends the same body; a stream is retried only before its answer has begun, never after an
/// event. The error after the last attempt says how many attempts were made.
///
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` is NULL.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_max_retries(
    options: Option<&mut oairun_client_options>,
    max_retries: u32,
) -> oairun_status {
    set(options, |o| {
        o.max_retries = Some(max_retries);
        Ok(())
    })
}

/// Trusts the certificate authorities in `pem` besides the default roots, for servers (and
/// `https://` proxies) whose certificate a private or corporate authority issued. The default
/// roots stay trusted: the bundled Mozilla roots, or, when the environment sets it, the
/// certificates of `SSL_CERT_FILE` (else of the files in `SSL_CERT_DIR`), which replace the
/// bundled ones as they replace the official SDK's. May be called several times; every call
/// adds.
///
/// `pem` is borrowed for the call (copied): PEM text holding one or more
/// `-----BEGIN CERTIFICATE-----` blocks (other blocks, such as a private key, are skipped).
/// Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT` when `options` or `pem` is NULL, `pem` is
/// not UTF-8, holds no certificate, has a malformed block (missing end line, bad base64), or a
/// certificate that is not valid X.509; the message names which. On failure, when `err` is not
/// NULL, `*err` receives an error the caller frees with `oairun_error_free`, and the options
/// are unchanged.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_add_root_certificate_pem(
    options: Option<&mut oairun_client_options>,
    pem: *const c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let options = arg_mut("options", options)?;
        // SAFETY: `pem`: NULL or a NUL-terminated string valid for the call (header).
        let pem = unsafe { arg_str("pem", pem) }?;
        options.inner.add_root_certificate_pem(pem)
    })
}

/// Sends every request through the proxy at `url`: `http://host:port`, or
/// `http://user:password@host:port` for a proxy that asks for credentials (sent as
/// `Proxy-Authorization: Basic`; percent-encode `@`, `:` and `%` in them); `https://` for a
/// proxy reached over TLS. An `https://` base URL is tunnelled with `CONNECT`, so the proxy
/// never sees the key; an `http://` one is forwarded. Once set, the proxy environment variables
/// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, and their lower-case forms) are
/// ignored, as the official SDK ignores them when given a proxy. The URL, and above all its
/// password, is never logged nor put in an error message.
///
/// A proxy that refuses the tunnel with 407 fails the call with `OAIRUN_CONNECT`, not retried,
/// with a message saying so; one that cannot be reached or drops the connection fails with
/// `OAIRUN_CONNECT` after the configured retries. (An `http://` base URL's request is forwarded,
/// so there a 407 is the answer: `OAIRUN_HTTP_STATUS` with status 407.)
///
/// `url` is borrowed for the call (copied). Returns `OAIRUN_OK`, or `OAIRUN_INVALID_ARGUMENT`
/// when `options` or `url` is NULL, or `url` is empty, not UTF-8, not an `http://` or
/// `https://` URL with a host, or has a path, query or fragment. On failure, when `err` is not
/// NULL, `*err` receives an error the caller frees with `oairun_error_free`, and the options
/// are unchanged.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_set_proxy(
    options: Option<&mut oairun_client_options>,
    url: *const c_char,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let options = arg_mut("options", options)?;
        // SAFETY: `url`: NULL or a NUL-terminated string valid for the call (header).
        let url = unsafe { arg_nonempty_str("url", url) }?;
        options.inner.set_proxy(url)
    })
}

/// Frees an options object. NULL does nothing. Clients created from it are not affected.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_options_free(options: Option<Box<oairun_client_options>>) {
    guard(|| drop(options))
}
