"""A stream cut at a sample of byte offsets, through the Python binding's ``Stream`` iterator:
the test server sends exactly the first N bytes of a stream body, then ends it cleanly
(``cut_at_<N>``) or resets the connection (``reset_at_<N>``): the Assistants reference stream
(thread id, ``client.submit_tool_outputs(..., stream=True)``) and the Responses
``function_call.sse`` stream (model, ``client.responses.create(..., stream=True)``). The
iterator must yield exactly the events whose terminating blank line is within those N bytes,
then raise ``ProtocolError`` (saying how many events came, and whether the stream ended or broke
off) before the end of the terminal event, or end normally at it. The offsets: 0, the length,
the four around the end of each event (end - 2 ... end + 1), and every 53rd byte. Every offset
is tried by tests/every_byte.rs (Rust) and tests/c/test_every_byte.c (C and C++ under ASan)."""

from __future__ import annotations

from typing import List, Tuple

import pytest

import oairun
from oairun import _ffi
from conftest import FIXTURES, OUTPUTS

BODIES = {
    "assistants": (FIXTURES / "stream.sse").read_bytes(),
    "responses": (FIXTURES / "responses" / "function_call.sse").read_bytes(),
}


def events_of(body: bytes) -> List[Tuple[int, str, str]]:
    """Each event of a fixture as (the offset just past its blank line, name, data)."""
    events, at = [], 0
    while at < len(body):
        end = body.index(b"\n\n", at) + 2
        name_line, data_line = body[at:end].decode("ascii").split("\n")[:2]
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((end, name_line[len("event: "):], data_line[len("data: "):]))
        at = end
    return events


def offsets(body: bytes) -> List[int]:
    chosen = {0, len(body)} | set(range(0, len(body), 53))
    for end, _, _ in events_of(body):
        chosen |= {end - 2, end - 1, end, end + 1}
    return sorted(n for n in chosen if 0 <= n <= len(body))


def stream(client: oairun.Client, api: str, scenario: str):
    if api == "assistants":
        return client.submit_tool_outputs(
            "run_every_byte", thread_id=scenario, tool_outputs=OUTPUTS, stream=True
        )
    return client.responses.create(model=scenario, input="hi", stream=True)


@pytest.mark.parametrize("ending", ["cut_at", "reset_at"])
@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_a_stream_cut_at_sampled_bytes(server, client, api, ending):
    body = BODIES[api]
    events = events_of(body)
    assert events[-1][0] == len(body)
    assert events[-1][1] == ("done" if api == "assistants" else "response.completed")
    failures = []
    tried = offsets(body)
    for n in tried:
        scenario = f"{ending}_{n}"
        want = [(name, data) for end, name, data in events if end <= n]
        got: List[Tuple[str, str]] = []
        error = None
        try:
            for event in stream(client, api, scenario):
                got.append((event.event, event.raw))
        except oairun.OairunError as exc:
            error = exc
        if got != want:
            failures.append(f"{scenario}: {len(got)} events, expected {len(want)}")
        if n >= len(body):
            if error is not None:
                failures.append(f"{scenario}: raised {type(error).__name__}: {error}")
        elif type(error) is not oairun.ProtocolError:
            failures.append(f"{scenario}: {type(error).__name__ if error else 'no error'}")
        else:
            said = "ended" if ending == "cut_at" else "broke off"
            said = f"the stream {said} after {len(want)} events"
            if said not in error.message or error.status != _ffi.PROTOCOL or error.http_status != 200:
                failures.append(f"{scenario}: {error.message!r} does not say {said!r}")
    assert not failures, f"{len(failures)} of {len(tried)} offsets:\n" + "\n".join(failures[:20])
    # One request per offset: nothing was retried.
    assert len(server.requests()) == len(tried)
