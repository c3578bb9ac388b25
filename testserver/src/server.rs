//! Accepting connections, routing requests, recording them.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::http::{After, Conn, Exchange, Head, ReadError, Request};
use crate::scenario;
use crate::tools;
use crate::RecordedRequest;

/// The path of the Responses route.
pub(crate) const RESPONSES_PATH: &str = "/v1/responses";

/// State shared by all connections of one server.
pub(crate) struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    /// Run ids that `ratelimit_once` has already refused once.
    rate_limited_runs: Mutex<HashSet<String>>,
    /// Mixed into request ids so that two servers in one process never hand out the same id.
    nonce: u64,
    /// Requests being answered right now.
    answering: AtomicUsize,
    /// The origin of [`RecordedRequest::received`].
    started: Instant,
    /// The scripted models' responses and runs.
    tools: Mutex<tools::State>,
    /// Numbers the ids the scripted models hand out (never reset, so ids never repeat).
    ids: AtomicU64,
}

/// Counts requests across every server of the process: half of each request id.
static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Locks, ignoring poisoning: a test that panicked elsewhere must not break the server.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new(port: u16) -> Shared {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Shared {
            requests: Mutex::new(Vec::new()),
            rate_limited_runs: Mutex::new(HashSet::new()),
            nonce: nanos ^ (u64::from(std::process::id()) << 32) ^ u64::from(port),
            answering: AtomicUsize::new(0),
            started: Instant::now(),
            tools: Mutex::new(tools::State::default()),
            ids: AtomicU64::new(1),
        }
    }

    /// The scripted models' state, locked.
    pub(crate) fn tools(&self) -> MutexGuard<'_, tools::State> {
        lock(&self.tools)
    }

    /// A new id `<prefix>_<16 hex digits of this server's nonce><8 hex digits of a counter>`,
    /// unique within the process.
    pub(crate) fn next_id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{:016x}{:08x}", self.nonce, n)
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn clear(&self) {
        lock(&self.requests).clear();
        lock(&self.rate_limited_runs).clear();
        *lock(&self.tools) = tools::State::default();
    }

    pub(crate) fn answering(&self) -> usize {
        self.answering.load(Ordering::SeqCst)
    }

    /// Records a request read just now.
    fn record(&self, head: &Head, body: Vec<u8>, ids: Option<(String, String)>) {
        let (thread_id, run_id) = ids.unzip();
        let model = if path_of(&head.target) == RESPONSES_PATH {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|b| b.get("model")?.as_str().map(str::to_string))
        } else {
            None
        };
        lock(&self.requests).push(RecordedRequest {
            method: head.method.clone(),
            target: head.target.clone(),
            headers: head.headers.clone(),
            body,
            thread_id,
            run_id,
            model,
            received: self.started.elapsed(),
        });
    }

    /// `true` the first time `run_id` is seen by `ratelimit_once`.
    pub(crate) fn first_rate_limit(&self, run_id: &str) -> bool {
        lock(&self.rate_limited_runs).insert(run_id.to_string())
    }

    fn next_request_id(&self) -> String {
        let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("req_{:016x}{:016x}", self.nonce, n)
    }
}

/// Accepts connections until `shutdown` fires (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Without this, Nagle would hold back small event chunks and tests that
                    // check events arrive as written would see them late.
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(Conn::new(stream), Arc::clone(&shared)));
                }
                // Out of descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

/// Serves requests on one connection in sequence until it closes. Bounded: every iteration
/// needs a new request, and waiting for one times out.
pub(crate) async fn serve_connection(mut conn: Conn, shared: Arc<Shared>) {
    loop {
        let after = match conn.read_request().await {
            Ok(Some(request)) => handle(&mut conn, &shared, request).await,
            Ok(None) | Err(ReadError::Gone) => return,
            Err(ReadError::Bad { message, head }) => {
                refuse(&mut conn, &shared, 400, &message, head).await;
                After::Close
            }
            Err(ReadError::TooLarge { message, head }) => {
                refuse(&mut conn, &shared, 413, &message, head).await;
                After::Close
            }
        };
        match after {
            After::KeepAlive => {}
            After::Close => return conn.close_gracefully().await,
            After::Reset => {
                // SO_LINGER 0: dropping the socket sends an RST instead of a FIN.
                let _ = conn.stream.set_zero_linger();
                return;
            }
            After::Drop => return,
        }
    }
}

/// Answers a request that could not be read whole (400/413), recording what is known of it.
async fn refuse(conn: &mut Conn, shared: &Shared, status: u16, message: &str, head: Option<Head>) {
    let mut http10 = false;
    if let Some(head) = head {
        http10 = head.http10;
        if !is_control(path_of(&head.target)) {
            shared.record(&head, Vec::new(), route_ids(path_of(&head.target)));
        }
    }
    let mut ex = Exchange::refusal(conn, http10, shared.next_request_id());
    let _ = ex
        .error(status, message, "invalid_request_error", None, None, &[])
        .await;
}

/// Answers one complete request.
async fn handle(conn: &mut Conn, shared: &Shared, request: Request) -> After {
    let mut ex = Exchange::new(conn, &request, shared.next_request_id());
    let close = ex.close;
    let result = route(&mut ex, shared, &request).await;
    match result {
        Ok(After::KeepAlive) if close => After::Close,
        Ok(after) => after,
        // A write failed: the client is gone.
        Err(_) => After::Drop,
    }
}

async fn route(ex: &mut Exchange<'_>, shared: &Shared, request: &Request) -> io::Result<After> {
    let head = &request.head;
    let path = path_of(&head.target);
    if is_control(path) {
        return control(ex, shared, &head.method, path).await;
    }
    /// Counts the answer in progress until it is dropped, however the answer ends.
    struct Answering<'a>(&'a AtomicUsize);
    impl Drop for Answering<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    shared.answering.fetch_add(1, Ordering::SeqCst);
    let _answering = Answering(&shared.answering);
    let ids = route_ids(path);
    // Recorded before answering, so a test sees the request even if the answer never comes.
    shared.record(head, request.body.clone(), ids.clone());
    if path == RESPONSES_PATH {
        if head.method != "POST" {
            return not_allowed(ex, &head.method, path).await;
        }
        return crate::responses::respond(ex, shared, &request.body).await;
    }
    let Some((thread_id, run_id)) = ids else {
        let message = format!("Invalid URL ({} {})", head.method, path);
        ex.error(404, &message, "invalid_request_error", None, None, &[])
            .await?;
        return Ok(After::KeepAlive);
    };
    if head.method != "POST" {
        return not_allowed(ex, &head.method, path).await;
    }
    let body: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request: {e}");
            return bad_body(ex, &message).await;
        }
    };
    match body.get("tool_outputs") {
        Some(outputs) if outputs.is_array() => {}
        Some(_) => {
            return bad_body(ex, "Invalid type for 'tool_outputs': expected an array.").await
        }
        None => return bad_body(ex, "Missing required parameter: 'tool_outputs'.").await,
    }
    let stream = body.get("stream") == Some(&serde_json::Value::Bool(true));
    let scenario = scenario::Scenario::parse(&thread_id);
    scenario::respond(ex, shared, scenario, &thread_id, &run_id, stream, &body).await
}

async fn not_allowed(ex: &mut Exchange<'_>, method: &str, path: &str) -> io::Result<After> {
    let message = format!("Method {method} not allowed for {path}");
    ex.error(
        405,
        &message,
        "invalid_request_error",
        None,
        Some("method_not_supported"),
        &[("Allow", "POST")],
    )
    .await?;
    Ok(After::KeepAlive)
}

async fn bad_body(ex: &mut Exchange<'_>, message: &str) -> io::Result<After> {
    ex.error(
        400,
        message,
        "invalid_request_error",
        Some("tool_outputs"),
        None,
        &[],
    )
    .await?;
    Ok(After::KeepAlive)
}

fn is_control(path: &str) -> bool {
    path.starts_with("/_test/")
}

/// `GET /_test/requests`, `GET /_test/answering` (requests being answered, control requests
/// excluded) and `POST /_test/reset`, for clients outside this process.
async fn control(
    ex: &mut Exchange<'_>,
    shared: &Shared,
    method: &str,
    path: &str,
) -> io::Result<After> {
    match (method, path) {
        ("GET", "/_test/requests") => {
            let list: Vec<serde_json::Value> = shared
                .requests()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "method": r.method,
                        "target": r.target,
                        "headers": r.headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
                        "body": String::from_utf8_lossy(&r.body),
                        "thread_id": r.thread_id,
                        "run_id": r.run_id,
                        "model": r.model,
                        "received_us": r.received.as_micros() as u64,
                    })
                })
                .collect();
            let body = serde_json::Value::Array(list).to_string();
            ex.send(200, "application/json", body.as_bytes(), &[])
                .await?;
        }
        ("GET", "/_test/answering") => {
            let body = serde_json::json!({ "answering": shared.answering() }).to_string();
            ex.send(200, "application/json", body.as_bytes(), &[])
                .await?;
        }
        ("POST", "/_test/reset") => {
            shared.clear();
            ex.send_empty(204).await?;
        }
        (_, "/_test/requests" | "/_test/reset" | "/_test/answering") => {
            let message = format!("Method {method} not allowed for {path}");
            ex.error(405, &message, "invalid_request_error", None, None, &[])
                .await?;
        }
        _ => {
            let message = format!("Invalid URL ({method} {path})");
            ex.error(404, &message, "invalid_request_error", None, None, &[])
                .await?;
        }
    }
    Ok(After::KeepAlive)
}

/// The path of a request-target: the query removed, and the scheme and authority of an
/// absolute-form target (as sent to proxies) removed.
fn path_of(target: &str) -> &str {
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |slash| &rest[slash..]);
    }
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// The decoded `(thread_id, run_id)` when `path` is exactly
/// `/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs` with non-empty, validly
/// percent-encoded UTF-8 ids.
fn route_ids(path: &str) -> Option<(String, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    let ["", "v1", "threads", thread, "runs", run, "submit_tool_outputs"] = segments[..] else {
        return None;
    };
    let thread = percent_decode(thread)?;
    let run = percent_decode(run)?;
    if thread.is_empty() || run.is_empty() {
        return None;
    }
    Some((thread, run))
}

/// Decodes `%XX` escapes (`+` stays `+`: this is a path, not a form). `None` for a malformed
/// escape or a result that is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_decodes() {
        assert_eq!(
            route_ids("/v1/threads/a%2Fb/runs/r%20%C3%A9/submit_tool_outputs"),
            Some(("a/b".to_string(), "r é".to_string()))
        );
        assert_eq!(route_ids("/v1/threads/t/runs/r/submit_tool_outputs/"), None);
        assert_eq!(route_ids("/v1/threads//runs/r/submit_tool_outputs"), None);
        assert_eq!(
            route_ids("/v1/threads/%zz/runs/r/submit_tool_outputs"),
            None
        );
        assert_eq!(
            route_ids("/v1/threads/%FF/runs/r/submit_tool_outputs"),
            None
        );
        assert_eq!(route_ids("/v1/threads/t/runs/r/submit_tool_output"), None);
    }

    #[test]
    fn path_strips_query_and_authority() {
        assert_eq!(path_of("/v1/a?b=/c"), "/v1/a");
        assert_eq!(path_of("http://127.0.0.1:1/v1/a?x"), "/v1/a");
        assert_eq!(path_of("http://127.0.0.1:1"), "/");
    }
}
