//! `oairun-testserver [--port N] [--max-seconds S]`: runs the test server for clients in other
//! processes (C and Python tests, demos).
//!
//! Prints exactly one line, the base URL, then serves until killed or until S seconds (default
//! 900) have passed, so that a forgotten server never outlives a CI job.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use oairun_testserver::TestServer;

const USAGE: &str = "usage: oairun-testserver [--port N] [--max-seconds S]";

struct Options {
    port: u16,
    max_seconds: u64,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        max_seconds: 900,
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
                options.max_seconds = value
                    .parse()
                    .map_err(|_| format!("invalid --max-seconds: {value}"))?
            }
            _ => return Err(format!("unknown argument: {flag}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("oairun-testserver: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start_on(options.port) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "oairun-testserver: cannot listen on 127.0.0.1:{}: {e}",
                options.port
            );
            return ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A parent that reads the line and closes the pipe must not kill the server: write errors
    // are ignored.
    let _ = writeln!(stdout, "{}", server.base_url());
    let _ = stdout.flush();
    drop(stdout);
    std::thread::sleep(Duration::from_secs(options.max_seconds));
    drop(server);
    ExitCode::SUCCESS
}
