//! `oairun_client`: one server and key, shared by any number of threads.

use super::{
    arg_out, guard, guard_status, into_raw, oairun_client_options, oairun_error, oairun_status,
};
use crate::client::Client;
use crate::config::ClientOptions;

/// A client: the server, key and headers every submission uses, and a pool of connections.
/// Immutable once created, so one client may be used from many threads at once. Created by
/// `oairun_client_new`, freed by `oairun_client_free`.
pub struct oairun_client {
    pub(crate) inner: Client,
}

impl super::Handle for oairun_client {}

/// Creates a client from `options`, or from the environment and defaults alone when `options`
/// is NULL.
///
/// `options` is borrowed for the call: the client copies what it needs, and the options may be
/// freed or changed afterwards. On success `*out` receives a client the caller owns and frees
/// with `oairun_client_free`; `*out` is written only on success. On failure, when `err` is not
/// NULL, `*err` receives an error the caller frees with `oairun_error_free`.
///
/// Returns `OAIRUN_OK`; `OAIRUN_INVALID_ARGUMENT` when `out` is NULL, no API key is set in
/// the options or `OPENAI_API_KEY`, the base URL is not an absolute http(s) URL, the key,
/// organization or project holds characters HTTP forbids, or `SSL_CERT_FILE` (or
/// `SSL_CERT_DIR`) is set but cannot be read or holds no certificate; `OAIRUN_INTERNAL` if the
/// HTTP stack cannot start.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_new(
    options: Option<&oairun_client_options>,
    out: Option<&mut *mut oairun_client>,
    err: *mut *mut oairun_error,
) -> oairun_status {
    guard_status(err, || {
        let out = arg_out("out", out)?;
        let defaults = ClientOptions::default();
        let options = options.as_ref().map_or(&defaults, |o| &o.inner);
        let client = Client::new(options)?;
        *out = into_raw(oairun_client { inner: client });
        Ok(())
    })
}

/// Frees a client and closes its idle connections. NULL does nothing.
///
/// No blocking call using the client may be in progress on another thread. Submissions started
/// from it (the `_start` forms) may still be running: each keeps what it needs, runs to its
/// end, and can still be cancelled, waited for and freed through its `oairun_stream`.
#[no_mangle]
pub unsafe extern "C" fn oairun_client_free(client: Option<Box<oairun_client>>) {
    guard(|| drop(client))
}
