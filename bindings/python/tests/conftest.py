"""Fixtures: the loopback test server (started once per session) and a client for it."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bindings" / "python"))

import oairun  # noqa: E402

FIXTURES = REPO / "testserver" / "fixtures"


class Server:
    """The running test server: its base URL and its record of requests."""

    def __init__(self, base_url: str, pid: int = 0) -> None:
        self.base_url = base_url
        self.root = base_url.rsplit("/v1", 1)[0]
        self.pid = pid  # the server's process

    def requests(self) -> List[Dict[str, Any]]:
        with urllib.request.urlopen(self.root + "/_test/requests", timeout=10) as answer:
            return json.loads(answer.read())

    def answering(self) -> int:
        """How many requests the server is answering right now: a stalled answer counts until
        the client drops its connection."""
        with urllib.request.urlopen(self.root + "/_test/answering", timeout=10) as answer:
            return int(json.load(answer)["answering"])

    def reset(self) -> None:
        request = urllib.request.Request(self.root + "/_test/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = REPO / "target" / "debug" / "oairun-testserver"
    if not binary.exists():
        pytest.fail(f"{binary} is not built: run `cargo build --workspace` (make test does)")
    process = subprocess.Popen(
        [str(binary), "--max-seconds", "600"], stdout=subprocess.PIPE, text=True
    )
    try:
        # The first line is the base URL; wait for it 10 s at most.
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=10):
                pytest.fail("the test server printed no URL within 10 s")
        line = process.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), f"the test server printed {line!r}"
        yield Server(line, process.pid)
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def client(server: Server) -> Iterator[oairun.Client]:
    server.reset()
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, timeout=30) as c:
        yield c


OUTPUTS = [{"tool_call_id": "call_001", "output": "70 degrees and sunny."}]


def reference_events() -> List[tuple]:
    """The reference stream's (name, data) pairs, from the fixture the server sends."""
    events, name = [], None
    for line in (FIXTURES / "stream.sse").read_text(encoding="utf-8").splitlines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, line[len("data: "):]))
    return events
