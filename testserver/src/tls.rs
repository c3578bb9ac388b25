//! HTTPS: a certificate authority and server certificates made when a test starts (nothing
//! committed can expire), and the TLS side of a connection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::http::Conn;
use crate::server::{serve_connection, Shared};

/// A certificate authority made for one test run: its certificate is what a client must trust
/// (as PEM, [`TestCa::certificate_pem`]) to accept the certificates it issues. Valid from a day
/// before it was made to a year after.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// When a server certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From a day ago to a year from now.
    Current,
    /// From ten days ago to a day ago: expired.
    Expired,
}

/// A server certificate, its chain (the certificate alone: the CA is the trust anchor) and
/// private key, for [`TestServer::start_https`](crate::TestServer::start_https).
#[derive(Clone)]
pub struct ServerCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    pem: String,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate").finish_non_exhaustive()
    }
}

impl ServerCertificate {
    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }
}

fn days_from_now(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days)
}

impl TestCa {
    /// Makes a new authority named `name` (its common name), with a fresh key.
    ///
    /// # Panics
    /// If key generation fails (a broken crypto provider).
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.not_before = days_from_now(-1);
        params.not_after = days_from_now(365);
        let key = KeyPair::generate().expect("a fresh key");
        let cert = params.self_signed(&key).expect("a self-signed CA");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The authority's certificate as PEM: what a client adds to its roots to trust it.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses, e.g. `127.0.0.1`
    /// and `localhost`) valid as `validity` says.
    ///
    /// # Panics
    /// If a name is not a valid DNS name or IP address, or signing fails.
    pub fn issue(&self, names: &[&str], validity: Validity) -> ServerCertificate {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().map_or("server", |n| n));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (params.not_before, params.not_after) = match validity {
            Validity::Current => (days_from_now(-1), days_from_now(365)),
            Validity::Expired => (days_from_now(-10), days_from_now(-1)),
        };
        let key = KeyPair::generate().expect("a fresh key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        ServerCertificate {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
            pem: cert.pem(),
        }
    }

    /// A certificate for `127.0.0.1` and `localhost`, valid now: what a trusted test server
    /// presents.
    pub fn issue_loopback(&self) -> ServerCertificate {
        self.issue(&["127.0.0.1", "localhost"], Validity::Current)
    }
}

/// The TLS acceptor presenting `cert`.
pub(crate) fn acceptor(cert: &ServerCertificate) -> io::Result<TlsAcceptor> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(cert.chain.clone(), key)
        })
        .map_err(io::Error::other)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connection's byte stream: plain TCP, or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Stream {
        Stream::Plain(stream)
    }
}

impl Stream {
    /// SO_LINGER 0 on the TCP socket: dropping it then sends an RST (for TLS, without a
    /// close_notify first, as a cut connection would).
    pub(crate) fn set_zero_linger(&self) -> io::Result<()> {
        self.tcp().set_zero_linger()
    }

    /// The TCP socket underneath (for TLS, the one the records travel on).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            // A TLS stream buffers a record until flushed: flush so that each write leaves at
            // once, as it does over plain TCP (scenarios rely on when bytes leave).
            Stream::Tls(s) => {
                let written = Pin::new(s.as_mut()).poll_write(cx, buf);
                if let Poll::Ready(Ok(_)) = written {
                    let _ = Pin::new(s.as_mut()).poll_flush(cx);
                }
                written
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What an HTTPS server counts of its connections.
#[derive(Default)]
pub(crate) struct TlsCounts {
    /// TCP connections accepted (each a handshake begun).
    pub(crate) accepted: AtomicUsize,
    /// Handshakes that failed (the client refused the certificate, or left).
    pub(crate) failed: AtomicUsize,
}

/// Accepts connections until `shutdown` fires, completes each one's TLS handshake (bounded by
/// a time limit), then serves it as the plain server does.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    counts: Arc<TlsCounts>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    counts.accepted.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    let shared = Arc::clone(&shared);
                    let counts = Arc::clone(&counts);
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                        match handshake.await {
                            Ok(Ok(tls)) => {
                                let conn = Conn::new(Stream::Tls(Box::new(tls)));
                                serve_connection(conn, shared).await;
                            }
                            _ => {
                                counts.failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}
