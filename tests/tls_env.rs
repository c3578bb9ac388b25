//! The environment variables for TLS and proxies, as the official SDK (httpx) reads them:
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` replace the bundled roots; `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` (and lower-case forms) choose a proxy, `NO_PROXY` bypasses it; a proxy set in
//! the options wins over all of them. A client reads them when it is built.
//!
//! The environment is the whole process's: this binary holds this one test, so that nothing
//! else runs while it changes the environment, and no other test binary sees the changes.

use std::path::PathBuf;

use oairun::{Client, ClientOptions, ErrorKind, ToolOutputs};
use oairun_testserver::{ProxyMode, TestCa, TestProxy, TestServer, REFERENCE_RUN_JSON};

const VARIABLES: [&str; 10] = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Sets exactly `vars` among [`VARIABLES`], removing the others.
fn environment(vars: &[(&str, &str)]) {
    for name in VARIABLES {
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

fn options(base_url: &str) -> ClientOptions {
    ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(base_url.to_owned()),
        max_retries: Some(0),
        ..Default::default()
    }
}

fn submit(options: &ClientOptions) -> oairun::Result<String> {
    let mut outputs = ToolOutputs::new();
    outputs.push("call_001", "70 degrees and sunny.").unwrap();
    Client::new(options)?.submit_tool_outputs("thread_abc", "run_123", &outputs)
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oairun-tls-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn environment_variables_as_the_official_sdk_reads_them() {
    let ca = TestCa::new("oairun test CA");
    let other = TestCa::new("oairun other CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    let https = server.base_url();
    let dir = temp_dir();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.certificate_pem()).unwrap();
    let other_file = dir.join("other.pem");
    std::fs::write(&other_file, other.certificate_pem()).unwrap();
    let ca_file = ca_file.to_str().unwrap();
    let other_file = other_file.to_str().unwrap();

    // The bundled roots by default: they do not hold the test CA; an extra root does.
    environment(&[]);
    let error = submit(&options(&https)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert!(error.message().contains("unknown issuer"), "{error}");
    let mut trusting = options(&https);
    trusting
        .add_root_certificate_pem(ca.certificate_pem())
        .unwrap();
    assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON);

    // SSL_CERT_FILE: its certificates are the roots.
    environment(&[("SSL_CERT_FILE", ca_file)]);
    assert_eq!(submit(&options(&https)).unwrap(), REFERENCE_RUN_JSON);
    // Another CA's file: refused; the options' extra roots still add to it.
    environment(&[("SSL_CERT_FILE", other_file)]);
    let error = submit(&options(&https)).unwrap_err();
    assert!(error.message().contains("unknown issuer"), "{error}");
    assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON);
    // A file that is not there: the client cannot be built, and says why.
    environment(&[("SSL_CERT_FILE", "/nonexistent/oairun-ca.pem")]);
    let error = Client::new(&options(&https)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(error.message().contains("SSL_CERT_FILE"), "{error}");
    // An empty value counts as unset.
    environment(&[("SSL_CERT_FILE", "")]);
    assert!(submit(&options(&https)).is_err());

    // SSL_CERT_DIR, when SSL_CERT_FILE is not set: the certificates of its files.
    environment(&[("SSL_CERT_DIR", dir.to_str().unwrap())]);
    assert_eq!(submit(&options(&https)).unwrap(), REFERENCE_RUN_JSON);
    environment(&[
        ("SSL_CERT_DIR", dir.to_str().unwrap()),
        ("SSL_CERT_FILE", other_file),
    ]);
    assert!(submit(&options(&https)).is_err(), "SSL_CERT_FILE wins");

    // HTTPS_PROXY (and https_proxy) for https:// URLs, credentials from its URL.
    let proxy = TestProxy::start(ProxyMode::Credentials {
        user: "bob".into(),
        password: "pw".into(),
    });
    let with_credentials = format!("http://bob:pw@127.0.0.1:{}", proxy.port());
    for name in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let before = proxy.requests().len();
        environment(&[(name, &with_credentials)]);
        assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON, "{name}");
        let seen = proxy.requests();
        assert_eq!(seen.len(), before + 1, "{name} was not used");
        assert_eq!(seen[before].method, "CONNECT");
        assert!(seen[before].passed);
    }
    // HTTP_PROXY is for http:// URLs only.
    let before = proxy.requests().len();
    environment(&[("HTTP_PROXY", &with_credentials)]);
    assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON);
    assert_eq!(
        proxy.requests().len(),
        before,
        "HTTP_PROXY used for https://"
    );
    let plain = TestServer::start();
    assert_eq!(
        submit(&options(&plain.base_url())).unwrap(),
        REFERENCE_RUN_JSON
    );
    let seen = proxy.requests();
    assert_eq!(seen.len(), before + 1, "HTTP_PROXY not used for http://");
    assert_eq!(seen[before].method, "POST");
    assert_eq!(plain.requests().len(), 1);

    // NO_PROXY bypasses the proxy for the hosts it names.
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.1", "127.0.0.0/8", "*"] {
        for (variable, value) in [("NO_PROXY", no_proxy), ("no_proxy", no_proxy)] {
            let before = proxy.requests().len();
            environment(&[("HTTPS_PROXY", &with_credentials), (variable, value)]);
            assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON);
            assert_eq!(
                proxy.requests().len(),
                before,
                "{variable}={value} not honored"
            );
        }
    }
    environment(&[
        ("HTTPS_PROXY", &with_credentials),
        ("NO_PROXY", "example.com"),
    ]);
    let before = proxy.requests().len();
    submit(&trusting).unwrap();
    assert_eq!(
        proxy.requests().len(),
        before + 1,
        "NO_PROXY for another host"
    );

    // A proxy set in the options wins over the environment, NO_PROXY included (as httpx
    // ignores the environment when given a proxy).
    let dropping = TestProxy::start(ProxyMode::Drop);
    let open = TestProxy::start(ProxyMode::Open);
    environment(&[
        ("HTTPS_PROXY", &dropping.url()),
        ("ALL_PROXY", &dropping.url()),
        ("NO_PROXY", "127.0.0.1"),
    ]);
    let mut explicit = trusting.clone();
    explicit.set_proxy(&open.url()).unwrap();
    assert_eq!(submit(&explicit).unwrap(), REFERENCE_RUN_JSON);
    assert_eq!(open.requests().len(), 1);
    assert!(dropping.requests().is_empty());
    // Without it, the environment's dropping proxy is bypassed by NO_PROXY...
    assert_eq!(submit(&trusting).unwrap(), REFERENCE_RUN_JSON);
    // ...and used when NO_PROXY does not name the host: OAIRUN_CONNECT.
    environment(&[("HTTPS_PROXY", &dropping.url())]);
    let error = submit(&trusting).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert_eq!(dropping.requests().len(), 1);

    environment(&[]);
    std::fs::remove_dir_all(&dir).unwrap();
}
