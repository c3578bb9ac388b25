"""Submit tool outputs to a run and stream the answer: the assistant's text is printed as it
arrives, then the run's final status.

    python3 stream.py THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT

The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL.
"""

import re
import sys
from pathlib import Path

try:
    import oairun
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import oairun


def run_status(event: "oairun.Event") -> str:
    try:
        return event.data["status"]
    except oairun.ProtocolError:
        # Some servers (and the API reference's own example) send run payloads that are not
        # quite JSON; the status is still readable.
        found = re.search(r'"status"\s*:\s*"([^"]*)"', event.raw)
        return found.group(1) if found else "unknown"


def main() -> int:
    if len(sys.argv) != 5:
        print(f"usage: {sys.argv[0]} THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT", file=sys.stderr)
        return 2
    thread_id, run_id, tool_call_id, output = sys.argv[1:]
    status, printed = "unknown", False
    try:
        with oairun.Client() as client:
            for event in client.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=[{"tool_call_id": tool_call_id, "output": output}],
                stream=True,
            ):
                if event.event == "thread.message.delta":
                    for part in event.data["delta"].get("content", []):
                        if part.get("type") == "text":
                            print(part["text"]["value"], end="", flush=True)
                            printed = True
                elif event.event.startswith("thread.run.") and not event.event.startswith("thread.run.step."):
                    status = run_status(event)
    except oairun.OairunError as e:
        if printed:
            print()
        print(f"stream failed: {e.message}", file=sys.stderr)
        return 1
    except ValueError as e:  # a bad argument (e.g. an empty tool call id), refused before any request
        print(f"invalid argument: {e}", file=sys.stderr)
        return 2
    if printed:
        print()
    print(f"run status: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
