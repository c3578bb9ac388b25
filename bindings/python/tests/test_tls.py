"""TLS and a proxy through the Python binding: the test server's HTTPS twin (its certificate
authority made when it starts, written to a file), refused until trusted, then both APIs
through a CONNECT proxy; bad PEM and proxy URLs raise with the library's message."""

from __future__ import annotations

import os
import selectors
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

import oairun
from conftest import OUTPUTS, REPO


class Tls:
    def __init__(self, https_url: str, proxy_url: str, ca_pem: str) -> None:
        self.https_url = https_url
        self.proxy_url = proxy_url
        self.ca_pem = ca_pem


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    binary = REPO / "target" / "debug" / "oairun-testserver"
    directory: Path = tmp_path_factory.mktemp("tls")
    process = subprocess.Popen(
        [str(binary), "--max-seconds", "600", "--tls-dir", str(directory)],
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    try:
        # Three lines: the plain, HTTPS and proxy URLs. Read unbuffered, so that the selector
        # sees every byte that has not been read yet; 10 s at most.
        assert process.stdout is not None
        output = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while output.count(b"\n") < 3:
                if not selector.select(timeout=10):
                    pytest.fail("the test server printed no HTTPS and proxy URLs within 10 s")
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    pytest.fail(f"the test server exited after printing {output!r}")
                output += chunk
        lines: List[str] = output.decode("ascii").splitlines()
        assert lines[1].startswith("https://127.0.0.1:"), lines
        ca_pem = (directory / "ca.pem").read_text(encoding="ascii")
        yield Tls(lines[1], lines[2], ca_pem)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_an_untrusted_certificate_raises_at_once_naming_the_problem(tls: Tls) -> None:
    with oairun.Client(api_key="sk-test-py", base_url=tls.https_url, max_retries=2) as client:
        with pytest.raises(oairun.APIConnectionError) as caught:
            client.submit_tool_outputs("run_123", thread_id="thread_abc", tool_outputs=OUTPUTS)
    assert "unknown issuer" in str(caught.value)
    assert "attempts" not in str(caught.value)


@pytest.mark.parametrize("through_proxy", [False, True])
def test_a_trusted_server_works_directly_and_through_a_proxy(tls: Tls, through_proxy: bool) -> None:
    proxy = tls.proxy_url if through_proxy else None
    with oairun.Client(
        api_key="sk-test-py", base_url=tls.https_url, root_certificates_pem=tls.ca_pem, proxy=proxy
    ) as client:
        run = client.submit_tool_outputs("run_123", thread_id="thread_abc", tool_outputs=OUTPUTS)
        assert run.id == "run_123"
        events = list(
            client.submit_tool_outputs("run_123", thread_id="thread_abc", tool_outputs=OUTPUTS, stream=True)
        )
        assert len(events) == 16
        response = client.responses.create(model="gpt-test", input="hi")
        assert response.status == "completed"
        streamed = list(client.responses.create(model="gpt-test", input="hi", stream=True))
        assert streamed[-1].type == "response.completed"


def test_bad_pem_and_proxy_urls_raise_with_the_librarys_message() -> None:
    with pytest.raises(oairun.InvalidArgumentError, match="no usable certificate"):
        oairun.Client(api_key="k", root_certificates_pem="not PEM")
    with pytest.raises(oairun.InvalidArgumentError, match="http://") as caught:
        oairun.Client(api_key="k", proxy="socks5://u:hush@127.0.0.1:1")
    assert "hush" not in str(caught.value)
