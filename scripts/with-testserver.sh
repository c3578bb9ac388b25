#!/usr/bin/env bash
# Runs a command with oairun's loopback test server up, and stops the server afterwards.
# The command sees the server's base URL in OAIRUN_TEST_BASE_URL and OPENAI_BASE_URL, and a
# dummy key in OPENAI_API_KEY (the test server checks none). The same scenarios are served over
# HTTPS too, with a certificate authority made at start: OAIRUN_TEST_HTTPS_BASE_URL is that
# server's base URL, OAIRUN_TEST_CA_FILE the authority's certificate (PEM), and
# OAIRUN_TEST_PROXY_URL a CONNECT proxy on loopback (no credentials).
#
#   scripts/with-testserver.sh COMMAND [ARG...]
set -euo pipefail
cd "$(dirname "$0")/.."

server=${OAIRUN_TESTSERVER:-target/debug/oairun-testserver}
if [ ! -x "$server" ]; then
    echo "with-testserver: $server is not built (run: cargo build -p oairun-testserver)" >&2
    exit 2
fi
out=$(mktemp)
tls=$(mktemp -d)
# --max-seconds: a server that is somehow left behind still ends on its own.
"$server" --max-seconds 1800 --tls-dir "$tls" >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$out" "$tls"' EXIT
for _ in $(seq 1 200); do
    [ "$(wc -l <"$out")" -ge 3 ] && break
    kill -0 "$pid" 2>/dev/null || { echo "with-testserver: the server exited" >&2; exit 1; }
    sleep 0.05
done
url=$(head -n 1 "$out")
case "$url" in
    http://127.0.0.1:*) ;;
    *) echo "with-testserver: the server printed no URL" >&2; exit 1 ;;
esac
https_url=$(sed -n 2p "$out")
proxy_url=$(sed -n 3p "$out")
case "$https_url $proxy_url" in
    https://127.0.0.1:*" "http://127.0.0.1:*) ;;
    *) echo "with-testserver: the server printed no HTTPS or proxy URL" >&2; exit 1 ;;
esac
export OAIRUN_TEST_BASE_URL="$url" OPENAI_BASE_URL="$url" OPENAI_API_KEY="sk-oairun-demo"
export OAIRUN_TEST_HTTPS_BASE_URL="$https_url" OAIRUN_TEST_CA_FILE="$tls/ca.pem"
export OAIRUN_TEST_PROXY_URL="$proxy_url"
"$@"
