"""Submit a function's output to a previous response (the Responses API) and print the text as
it streams, then the response's final status.

    python3 responses.py [MODEL]

The first request asks a question with a `get_weather` tool; the model answers with a function
call, which this program runs; the second request sends its output back
(`previous_response_id` and a `function_call_output` item) and streams the answer.

The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL, exactly as with the
official SDK. MODEL is used for both requests (e.g. `gpt-5.4`); without it, the models are those
of oairun's loopback test server (`make demo` starts it): `function_call`, which asks for
`get_weather`, then `gpt-test`, which answers.
"""

import json
import sys
from pathlib import Path

try:
    import oairun
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import oairun

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The current weather at a place.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City and country"}},
            "required": ["location"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


def get_weather(location: str) -> str:
    return json.dumps({"location": location, "temperature_c": 15, "sky": "clear"})


def main() -> int:
    if len(sys.argv) > 2:
        print(f"usage: {sys.argv[0]} [MODEL]", file=sys.stderr)
        return 2
    ask_model, answer_model = (sys.argv[1], sys.argv[1]) if len(sys.argv) == 2 else ("function_call", "gpt-test")
    printed = False
    try:
        with oairun.Client() as client:
            response = client.responses.create(
                model=ask_model, input="What is the weather like in Paris today?", tools=TOOLS
            )
            outputs = []
            for item in response.output:
                if item.type == "function_call" and item.name == "get_weather":
                    output = get_weather(**json.loads(item.arguments))
                    print(f"function call {item.call_id}: get_weather({item.arguments}) -> {output}")
                    outputs.append({"type": "function_call_output", "call_id": item.call_id, "output": output})
            if not outputs:  # the model answered at once
                print(response.output_text)
                print(f"response status: {response.status}")
                return 0
            status = "unknown"
            for event in client.responses.create(
                model=answer_model,
                previous_response_id=response.id,
                input=outputs,
                tools=TOOLS,
                stream=True,
            ):
                if event.event == "response.output_text.delta":
                    print(event.data.delta, end="", flush=True)
                    printed = True
                elif event.event in ("response.completed", "response.incomplete"):
                    status = event.data.response.status
    except oairun.OairunError as e:
        if printed:
            print()
        print(f"request failed: {e.message}", file=sys.stderr)
        return 1
    if printed:
        print()
    print(f"response status: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
