//! `oairun-testserver [--port N] [--max-seconds S] [--tls-dir DIR]`: runs the test server for
//! clients in other processes (C and Python tests, demos).
//!
//! Prints exactly one line, the base URL, then serves until SIGTERM or SIGINT, or until S
//! seconds have passed when `--max-seconds` is given (scripts and tests give it, so that a
//! forgotten server never outlives a CI job; by hand there is no limit). Why it stops is said
//! in one line on stderr. `--help` prints the usage and the scenario tables of both routes.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use oairun_testserver::{ProxyMode, TestCa, TestProxy, TestServer, SCENARIOS};

const USAGE: &str = "usage: oairun-testserver [--port N] [--max-seconds S] [--tls-dir DIR]

Serves oairun's loopback test server on 127.0.0.1 and prints its base URL
(http://127.0.0.1:PORT/v1) as the only line on stdout.

  --port N         listen on port N (default 0: a free port chosen by the system)
  --max-seconds S  exit after S seconds (default: no limit)
  --tls-dir DIR    also make a certificate authority, write its certificate to DIR/ca.pem,
                   serve the same scenarios over HTTPS with a certificate it issued for
                   127.0.0.1 and localhost, and run a CONNECT proxy (no credentials); then
                   print two more lines: the HTTPS base URL (https://127.0.0.1:PORT/v1)
                   and the proxy's URL (http://127.0.0.1:PORT)
  -h, --help       print this help and the scenario tables

It exits on SIGTERM or SIGINT, or when --max-seconds is reached, and says which on stderr.";

struct Options {
    port: u16,
    max_seconds: Option<u64>,
    tls_dir: Option<std::path::PathBuf>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        max_seconds: None,
        tls_dir: None,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--port" => {
                options.port = value
                    .parse()
                    .map_err(|_| format!("invalid port: {value}"))?
            }
            "--max-seconds" => {
                options.max_seconds = Some(
                    value
                        .parse()
                        .map_err(|_| format!("invalid --max-seconds: {value}"))?,
                )
            }
            "--tls-dir" => options.tls_dir = Some(value.into()),
            _ => return Err(format!("unknown argument: {flag}")),
        }
    }
    Ok(options)
}

/// The help text: the usage, then the scenario tables (the crate documentation's own text,
/// with rustdoc's link brackets removed).
fn help() -> String {
    let scenarios = SCENARIOS.replace("[`", "`").replace("`]", "`");
    format!("{USAGE}\n\nScenarios\n=========\n\n{scenarios}")
}

/// SIGTERM and SIGINT, noticed without any dependency: the handler only stores the signal
/// number, and the main thread polls it.
#[cfg(unix)]
mod signals {
    use std::sync::atomic::{AtomicI32, Ordering};

    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;

    static RECEIVED: AtomicI32 = AtomicI32::new(0);

    extern "C" {
        /// From the C library std already links. Returns the previous handler.
        fn signal(signum: i32, handler: usize) -> usize;
    }

    extern "C" fn on_signal(signum: i32) {
        // Async-signal-safe: a single atomic store.
        RECEIVED.store(signum, Ordering::SeqCst);
    }

    pub(crate) fn install() {
        let handler = on_signal as extern "C" fn(i32) as usize;
        for signum in [SIGINT, SIGTERM] {
            // SAFETY: `signal` is the C library's; the handler is an `extern "C"` function that
            // lives for the whole program and does nothing but an atomic store. SIGINT and
            // SIGTERM are 2 and 15 on every Unix.
            unsafe {
                signal(signum, handler);
            }
        }
    }

    /// The name of the signal received, if any.
    pub(crate) fn received() -> Option<&'static str> {
        match RECEIVED.load(Ordering::SeqCst) {
            SIGINT => Some("SIGINT"),
            SIGTERM => Some("SIGTERM"),
            _ => None,
        }
    }
}

#[cfg(not(unix))]
mod signals {
    pub(crate) fn install() {}
    pub(crate) fn received() -> Option<&'static str> {
        None
    }
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if message.is_empty() {
                print!("{}", help());
                return ExitCode::SUCCESS;
            }
            eprintln!("oairun-testserver: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    signals::install();
    let server = match TestServer::start_on(options.port) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "oairun-testserver: exiting: cannot listen on 127.0.0.1:{}: {e}",
                options.port
            );
            return ExitCode::from(1);
        }
    };
    // The HTTPS server and the proxy, kept alive until the end.
    let mut extra_lines = Vec::new();
    let mut _https = None;
    if let Some(dir) = &options.tls_dir {
        let ca = TestCa::new("oairun-testserver CA");
        let path = dir.join("ca.pem");
        if let Err(e) = std::fs::write(&path, ca.certificate_pem()) {
            eprintln!(
                "oairun-testserver: exiting: cannot write {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
        let https = match TestServer::start_https_on(0, &ca.issue_loopback()) {
            Ok(https) => https,
            Err(e) => {
                eprintln!("oairun-testserver: exiting: cannot start HTTPS: {e}");
                return ExitCode::from(1);
            }
        };
        let proxy = match TestProxy::start_on(0, ProxyMode::Open) {
            Ok(proxy) => proxy,
            Err(e) => {
                eprintln!("oairun-testserver: exiting: cannot start the proxy: {e}");
                return ExitCode::from(1);
            }
        };
        extra_lines.push(https.base_url());
        extra_lines.push(proxy.url());
        _https = Some((https, proxy));
    }
    let mut stdout = std::io::stdout().lock();
    // A parent that reads the line and closes the pipe must not kill the server: write errors
    // are ignored.
    let _ = writeln!(stdout, "{}", server.base_url());
    for line in &extra_lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    drop(stdout);
    let deadline = options
        .max_seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    // Bounded by the deadline when there is one; otherwise it ends on a signal, as asked.
    let reason = loop {
        if let Some(signal) = signals::received() {
            break format!("{signal} received");
        }
        if let (Some(deadline), Some(s)) = (deadline, options.max_seconds) {
            if Instant::now() >= deadline {
                break format!("time limit reached (--max-seconds {s})");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    eprintln!("oairun-testserver: exiting: {reason}");
    ExitCode::SUCCESS
}
