//! A tiny HTTP proxy on loopback, for tests of clients that go through one: it tunnels
//! `CONNECT host:port` (HTTPS), forwards absolute-form requests (`GET http://…`, plain HTTP),
//! checks `Proxy-Authorization` when asked to, and records every request it saw.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::http::MAX_HEAD;

/// How a [`TestProxy`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyMode {
    /// Tunnels and forwards every request.
    Open,
    /// Tunnels and forwards requests whose `Proxy-Authorization` is `Basic` with this user and
    /// password; answers others `407 Proxy Authentication Required` and closes.
    Credentials {
        /// The user expected.
        user: String,
        /// The password expected.
        password: String,
    },
    /// Answers every request `407 Proxy Authentication Required` and closes.
    Refuse,
    /// Reads the request's head, then closes the connection without a word.
    Drop,
}

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// `CONNECT`, or the method of a forwarded request.
    pub method: String,
    /// The request-target: `host:port` for `CONNECT`, an absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, when sent.
    pub authorization: Option<String>,
    /// Whether the proxy let the request through (tunnelled or forwarded it).
    pub passed: bool,
}

/// A running proxy on `127.0.0.1`, on its own runtime thread like
/// [`TestServer`](crate::TestServer); dropping it stops it.
pub struct TestProxy {
    port: u16,
    requests: Arc<Mutex<Vec<ProxyRequest>>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProxy")
            .field("port", &self.port)
            .finish()
    }
}

impl TestProxy {
    /// Starts a proxy on a free port of `127.0.0.1`.
    ///
    /// # Panics
    /// If the loopback socket or the runtime cannot be created.
    pub fn start(mode: ProxyMode) -> TestProxy {
        TestProxy::start_on(0, mode).expect("oairun-testserver: cannot start the proxy")
    }

    /// Starts a proxy on `127.0.0.1:port` (`0`: a free port chosen by the system).
    pub fn start_on(port: u16, mode: ProxyMode) -> std::io::Result<TestProxy> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("oairun-testproxy-worker")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (shutdown, mut shutdown_rx) = oneshot::channel::<()>();
        let recorded = Arc::clone(&requests);
        let mode = Arc::new(mode);
        let thread = std::thread::Builder::new()
            .name(format!("oairun-testproxy-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = &mut shutdown_rx => return,
                            accepted = listener.accept() => if let Ok((client, _)) = accepted {
                                let _ = client.set_nodelay(true);
                                let mode = Arc::clone(&mode);
                                let recorded = Arc::clone(&recorded);
                                tokio::spawn(serve(client, mode, recorded));
                            },
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(TestProxy {
            port,
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The proxy's URL, `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one client connection: reads one request head, then tunnels, forwards, refuses or
/// drops. After a tunnel or forward, the two connections are spliced until either closes.
async fn serve(
    mut client: TcpStream,
    mode: Arc<ProxyMode>,
    recorded: Arc<Mutex<Vec<ProxyRequest>>>,
) {
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut words = lines.next().unwrap_or("").split(' ');
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_string());
    let passed = match &*mode {
        ProxyMode::Open => true,
        ProxyMode::Credentials { user, password } => {
            authorization.as_deref()
                == Some(
                    format!("Basic {}", base64(format!("{user}:{password}").as_bytes())).as_str(),
                )
        }
        ProxyMode::Refuse | ProxyMode::Drop => false,
    };
    recorded
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(ProxyRequest {
            method: method.clone(),
            target: target.clone(),
            authorization,
            passed,
        });
    if *mode == ProxyMode::Drop {
        return;
    }
    if !passed {
        let _ = client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"oairun-test\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        let _ = client.shutdown().await;
        return;
    }
    let connect = method.eq_ignore_ascii_case("CONNECT");
    let authority = if connect {
        target.clone()
    } else {
        // An absolute-form target: http://host:port/path. The test server takes the absolute
        // form as it is, so the request is forwarded unchanged.
        let rest = target.strip_prefix("http://").unwrap_or(&target);
        let host = rest.split('/').next().unwrap_or("");
        if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        }
    };
    let Ok(mut upstream) = TcpStream::connect(authority.as_str()).await else {
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let _ = upstream.set_nodelay(true);
    let ready = if connect {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
    } else {
        upstream.write_all(&head).await
    };
    if ready.is_err() || upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Reads up to the end of a request head; returns it (with its blank line) and any bytes read
/// past it. `None` if the client left or the head is too long.
async fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let read = tokio::time::timeout(Duration::from_secs(30), client.read(&mut tmp)).await;
        match read {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&tmp[..n]),
            _ => return None,
        }
    }
}

/// Standard base64 with padding (RFC 4648), for the expected `Proxy-Authorization`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pa ss", "dXNlcjpwYSBzcw=="),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
