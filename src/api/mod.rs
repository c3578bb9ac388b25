//! What an endpoint is: the request it sends (URL, headers, body), what its stream's events are
//! called, and when its stream is over. One file per endpoint beside this one; the transport
//! (`transport.rs`), the stream engine (`stream.rs`) and the client (`client.rs`) serve any
//! endpoint through [`Request`] and [`StreamRule`].

pub(crate) mod assistants;
pub(crate) mod responses;

use bytes::Bytes;
use reqwest::Url;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::sse::SseParts;

/// How one endpoint's event stream is read.
pub(crate) trait StreamRule: Send + Sync + 'static {
    /// The event for a decoded server-sent event.
    fn event(&self, sse: SseParts<'_>) -> Event {
        Event::from(sse)
    }

    /// An error that ends the stream *instead of* delivering `event` (the event is not handed
    /// to the caller), or `None` to deliver it.
    fn refuse(&self, _event: &Event) -> Option<Error> {
        None
    }

    /// The stream's outcome once `event` has been delivered: `Some` ends the stream there,
    /// whatever the connection does next.
    fn outcome_after(&self, event: &Event) -> Option<Result<()>>;

    /// What the stream must reach to be complete, for error messages (e.g. "`done`").
    fn terminal(&self) -> &'static str;
}

/// One request to an endpoint, built and checked, ready to send (any number of times: the
/// body is shared, not copied, by each attempt).
pub(crate) struct Request {
    pub(crate) url: Url,
    /// Headers this endpoint adds to the client's own.
    pub(crate) headers: &'static [(&'static str, &'static str)],
    pub(crate) body: Bytes,
    pub(crate) stream: bool,
    pub(crate) rule: &'static dyn StreamRule,
}

/// `base` with `segments` appended, each one percent-encoded path segment (the base's query,
/// if any, stays after the path).
pub(crate) fn url(base: &Url, segments: &[&str]) -> Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| Error::internal("the base URL cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}
