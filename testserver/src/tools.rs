//! The scripted tool-calling models (placeholder: filled in by the next commit).

use std::io;

use crate::http::{After, Exchange};
use crate::server::Shared;

/// A scripted tool-calling model.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Loop,
}

impl Script {
    pub(crate) fn parse(_name: &str) -> Option<Script> {
        None
    }
}

/// Whether `id` is a response this server issued for a request with `"store": false`.
pub(crate) fn is_unstored(_shared: &Shared, _id: &str) -> bool {
    false
}

pub(crate) async fn respond_responses(
    _ex: &mut Exchange<'_>,
    _shared: &Shared,
    _script: Script,
    _body: &serde_json::Value,
    _model: &str,
    _stream: bool,
) -> io::Result<After> {
    unreachable!("no script yet")
}
