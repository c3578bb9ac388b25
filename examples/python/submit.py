"""Submit tool outputs to a run and print the Run object that comes back.

    python3 submit.py THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT

The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL (default
https://api.openai.com/v1), exactly as with the official SDK.
"""

import json
import sys
from pathlib import Path

try:
    import oairun
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import oairun


def main() -> int:
    if len(sys.argv) != 5:
        print(f"usage: {sys.argv[0]} THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT", file=sys.stderr)
        return 2
    thread_id, run_id, tool_call_id, output = sys.argv[1:]
    try:
        with oairun.Client() as client:
            run = client.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=[{"tool_call_id": tool_call_id, "output": output}],
            )
    except oairun.OairunError as e:
        print(f"submit_tool_outputs failed: {e.message}", file=sys.stderr)
        if e.http_status:
            print(f"  http status: {e.http_status}\n  type: {e.type}\n  code: {e.code}\n  request id: {e.request_id}", file=sys.stderr)
        return 1
    except ValueError as e:  # a bad argument (e.g. an empty tool call id), refused before any request
        print(f"invalid argument: {e}", file=sys.stderr)
        return 2
    print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
