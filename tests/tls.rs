//! TLS and proxies end to end, through the Rust API: an HTTPS test server with a certificate
//! from a certificate authority made when the test starts, certificates the client must refuse
//! (unknown issuer, expired, another host's) without retrying, extra roots, and a CONNECT
//! proxy on loopback (open, asking for credentials, refusing, dropping the connection).
//!
//! The environment variables (SSL_CERT_FILE, HTTPS_PROXY, NO_PROXY…) are tested in
//! tests/tls_env.rs, a binary of its own, since the environment is the whole process's.

use std::time::Duration;

use oairun::{Client, ClientOptions, ErrorKind, Event, ResponseRequest, ToolOutputs};
use oairun_testserver::{
    reference_events, responses_events, ProxyMode, TestCa, TestProxy, TestServer, Validity,
    REFERENCE_RUN_JSON, RESPONSES_TEXT_JSON,
};

/// Options for `server` trusting `ca`, with a quick retry so that a retried failure would show
/// as extra connections without slowing the tests.
fn options(server: &TestServer, ca: Option<&TestCa>) -> ClientOptions {
    let mut options = ClientOptions {
        api_key: Some("sk-test-key-123".into()),
        base_url: Some(server.base_url()),
        max_retries: Some(2),
        ..Default::default()
    };
    if let Some(ca) = ca {
        options
            .add_root_certificate_pem(ca.certificate_pem())
            .unwrap();
    }
    options
}

fn outputs() -> ToolOutputs {
    let mut outputs = ToolOutputs::new();
    outputs.push("call_001", "70 degrees and sunny.").unwrap();
    outputs
}

fn response_request() -> ResponseRequest {
    let mut request = ResponseRequest::new();
    request.set_model("gpt-test").unwrap();
    request
        .add_function_call_output("call_fixed_get_weather", "{\"temp_c\":15}")
        .unwrap();
    request
}

/// Runs all four calls (Assistants and Responses, synchronous and streamed) and checks each
/// answer is the scenario's, byte for byte.
fn all_four_work(client: &Client) {
    let run = client
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap();
    assert_eq!(run, REFERENCE_RUN_JSON);
    let mut events = Vec::new();
    client
        .submit_tool_outputs_stream("thread_abc", "run_123", &outputs(), |e: &Event| {
            events.push((e.name().to_owned(), e.data().to_owned()));
            true
        })
        .unwrap();
    assert_eq!(events, reference_events());
    let response = client.create_response(&response_request()).unwrap();
    assert_eq!(response, RESPONSES_TEXT_JSON);
    let mut events = Vec::new();
    client
        .create_response_stream(&response_request(), |e: &Event| {
            events.push((e.name().to_owned(), e.data().to_owned()));
            true
        })
        .unwrap();
    assert_eq!(events, responses_events("gpt-test"));
}

#[test]
fn a_trusted_server_works_for_both_apis_synchronous_and_streamed() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    let client = Client::new(&options(&server, Some(&ca))).unwrap();
    all_four_work(&client);
    // Over TLS too, the four calls share pooled connections.
    let (accepted, failed) = server.tls_connections();
    assert_eq!(failed, 0);
    assert!((1..=4).contains(&accepted), "{accepted} connections");
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn localhost_works_too() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    let mut options = options(&server, Some(&ca));
    options.base_url = Some(format!("https://localhost:{}/v1", server.port()));
    let client = Client::new(&options).unwrap();
    let run = client
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap();
    assert_eq!(run, REFERENCE_RUN_JSON);
}

/// One call form, named, as a closure.
type Call<'a> = (&'static str, Box<dyn Fn() -> oairun::Result<()> + 'a>);

/// Checks that every call form fails with `Connect`, a message naming `problem`, and a single
/// connection attempt each (no retry), and that the server never got a request.
fn refused(server: &TestServer, client: &Client, problem: &str) {
    let calls: [Call<'_>; 4] = [
        (
            "submit",
            Box::new(|| {
                client
                    .submit_tool_outputs("thread_abc", "run_123", &outputs())
                    .map(drop)
            }),
        ),
        (
            "submit stream",
            Box::new(|| {
                client.submit_tool_outputs_stream("thread_abc", "run_123", &outputs(), |_| true)
            }),
        ),
        (
            "create",
            Box::new(|| client.create_response(&response_request()).map(drop)),
        ),
        (
            "create stream",
            Box::new(|| client.create_response_stream(&response_request(), |_| true)),
        ),
    ];
    for (i, (what, call)) in calls.iter().enumerate() {
        let error = call().expect_err(what);
        assert_eq!(error.kind(), ErrorKind::Connect, "{what}: {error}");
        let message = error.message();
        assert!(message.contains(problem), "{what}: {message}");
        assert!(
            !message.contains("attempts"),
            "{what} was retried: {message}"
        );
        assert!(!message.contains("sk-test-key-123"), "{message}");
        // One connection per call: refused, never retried. The server counts the failed
        // handshake just after the client gives up: wait for it.
        let expected = i + 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.tls_connections().1 < expected && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(server.tls_connections(), (expected, expected), "{what}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn an_unknown_issuer_is_refused_at_once_with_a_clear_message() {
    let trusted = TestCa::new("oairun trusted CA");
    let stranger = TestCa::new("oairun stranger CA");
    let server = TestServer::start_https(&stranger.issue_loopback());
    let client = Client::new(&options(&server, Some(&trusted))).unwrap();
    refused(&server, &client, "certificate was refused: unknown issuer");
    // Without any extra root (the bundled roots or SSL_CERT_FILE's): the same.
    let server = TestServer::start_https(&stranger.issue_loopback());
    let client = Client::new(&options(&server, None)).unwrap();
    refused(&server, &client, "unknown issuer");
}

#[test]
fn an_expired_certificate_is_refused_at_once_with_a_clear_message() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue(&["127.0.0.1", "localhost"], Validity::Expired));
    let client = Client::new(&options(&server, Some(&ca))).unwrap();
    refused(&server, &client, "certificate was refused: expired");
}

#[test]
fn another_hosts_certificate_is_refused_at_once_with_a_clear_message() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue(&["api.example.com"], Validity::Current));
    let client = Client::new(&options(&server, Some(&ca))).unwrap();
    refused(
        &server,
        &client,
        "certificate was refused: not valid for name",
    );
}

#[test]
fn root_certificates_add_up_and_bad_pem_is_refused_naming_the_problem() {
    let first = TestCa::new("oairun first CA");
    let second = TestCa::new("oairun second CA");
    let server_a = TestServer::start_https(&first.issue_loopback());
    let server_b = TestServer::start_https(&second.issue_loopback());
    // Two certificates in one PEM text, with a comment and a key block around them.
    let both = format!(
        "our CAs\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{}",
        first.certificate_pem(),
        second.certificate_pem()
    );
    for server in [&server_a, &server_b] {
        let mut options = options(server, None);
        options.add_root_certificate_pem(&both).unwrap();
        let run = Client::new(&options)
            .unwrap()
            .submit_tool_outputs("thread_abc", "run_123", &outputs())
            .unwrap();
        assert_eq!(run, REFERENCE_RUN_JSON);
    }
    // Added in two calls: both trusted.
    let mut options = options(&server_b, Some(&first));
    options
        .add_root_certificate_pem(second.certificate_pem())
        .unwrap();
    Client::new(&options)
        .unwrap()
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap();

    let pem = first.certificate_pem();
    let body_start = pem.find('\n').unwrap() + 1;
    let cases = [
        ("".to_owned(), "holds no usable certificate"),
        ("not PEM at all".to_owned(), "holds no usable certificate"),
        (
            pem.replace("-----END CERTIFICATE-----", ""),
            "missing section end marker",
        ),
        (
            format!("{}!!!!{}", &pem[..body_start], &pem[body_start..]),
            "base64",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "not a usable X.509 certificate",
        ),
    ];
    for (text, problem) in cases {
        let mut options = ClientOptions::default();
        let error = options.add_root_certificate_pem(&text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert!(
            error.message().contains(problem),
            "{text:?}: {}",
            error.message()
        );
        assert!(
            options.root_certificates_pem.is_empty(),
            "unchanged on failure"
        );
    }
}

#[test]
fn a_connect_proxy_carries_the_requests_with_its_credentials() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    let proxy = TestProxy::start(ProxyMode::Credentials {
        user: "alice".into(),
        password: "s3cr:t pw".into(),
    });
    let mut options = options(&server, Some(&ca));
    options
        .set_proxy(&format!(
            "http://alice:s3cr%3At%20pw@127.0.0.1:{}",
            proxy.port()
        ))
        .unwrap();
    assert!(!format!("{options:?}").contains("s3cr"), "{options:?}");
    let client = Client::new(&options).unwrap();
    all_four_work(&client);
    let seen = proxy.requests();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(request.method, "CONNECT");
        assert_eq!(request.target, format!("127.0.0.1:{}", server.port()));
        assert!(request.passed, "{request:?}");
    }
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn a_proxy_refusing_with_407_fails_with_connect_at_once() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    for mode in [
        ProxyMode::Refuse,
        ProxyMode::Credentials {
            user: "alice".into(),
            password: "right".into(),
        },
    ] {
        let proxy = TestProxy::start(mode);
        let mut options = options(&server, Some(&ca));
        options
            .set_proxy(&format!("http://alice:wrong-pw@127.0.0.1:{}", proxy.port()))
            .unwrap();
        let client = Client::new(&options).unwrap();
        let error = client
            .submit_tool_outputs("thread_abc", "run_123", &outputs())
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
        let message = error.message();
        assert!(
            message.contains("407 Proxy Authentication Required"),
            "{message}"
        );
        assert!(!message.contains("attempts"), "retried: {message}");
        assert!(!message.contains("wrong-pw"), "{message}");
        assert_eq!(proxy.requests().len(), 1, "one CONNECT, not retried");
        let error = client
            .create_response_stream(&response_request(), |_| true)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
        assert_eq!(proxy.requests().len(), 2);
    }
    assert!(server.requests().is_empty());
}

#[test]
fn a_proxy_dropping_the_connection_fails_with_connect_after_the_retries() {
    let ca = TestCa::new("oairun test CA");
    let server = TestServer::start_https(&ca.issue_loopback());
    let proxy = TestProxy::start(ProxyMode::Drop);
    let mut options = options(&server, Some(&ca));
    options.max_retries = Some(1);
    options
        .set_proxy(&format!("http://user:hidden-pw@127.0.0.1:{}", proxy.port()))
        .unwrap();
    let client = Client::new(&options).unwrap();
    let error = client
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(error.message().contains("after 2 attempts"), "{error}");
    assert!(!error.message().contains("hidden-pw"), "{error}");
    assert_eq!(
        proxy.requests().len(),
        2,
        "a dropped connection may be transient: retried"
    );
    let error = client
        .submit_tool_outputs_stream("thread_abc", "run_123", &outputs(), |_| true)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_forward_proxy_carries_plain_http_and_a_407_there_is_the_answer() {
    let server = TestServer::start();
    let proxy = TestProxy::start(ProxyMode::Open);
    let mut options = options(&server, None);
    options.set_proxy(&proxy.url()).unwrap();
    let run = Client::new(&options)
        .unwrap()
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap();
    assert_eq!(run, REFERENCE_RUN_JSON);
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert!(seen[0].target.starts_with(&server.base_url()), "{seen:?}");

    // Forwarded plain HTTP: the proxy's 407 is the answer to the request itself.
    let refusing = TestProxy::start(ProxyMode::Refuse);
    options.set_proxy(&refusing.url()).unwrap();
    let error = Client::new(&options)
        .unwrap()
        .submit_tool_outputs("thread_abc", "run_123", &outputs())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::HttpStatus, "{error}");
    assert_eq!(error.http_status(), Some(407));
}

#[test]
fn invalid_proxy_urls_are_refused_without_echoing_the_password() {
    for (url, problem) in [
        ("127.0.0.1:8080", "not a valid URL"),
        ("socks5://u:topsecret@127.0.0.1:1080", "http:// or https://"),
        ("http://u:topsecret@127.0.0.1:8080/path", "nothing more"),
        ("http://u:topsecret@127.0.0.1:8080?x=1", "nothing more"),
        ("http://", "not a valid URL"),
        ("not a url", "not a valid URL"),
    ] {
        let mut options = ClientOptions::default();
        let error = options.set_proxy(url).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{url}");
        assert!(
            error.message().contains(problem),
            "{url}: {}",
            error.message()
        );
        assert!(
            !error.message().contains("topsecret"),
            "{}",
            error.message()
        );
        assert!(options.proxy.is_none());
    }
    let mut options = ClientOptions::default();
    options.set_proxy("http://proxy.internal:3128").unwrap();
    options.set_proxy("https://u:p@proxy.internal/").unwrap();
}
