"""A small agent: the model may call a weather tool and a clock tool, as often as it needs, and
`client.responses.run_tools` runs the loop (stream a turn, run the calls it asked for, send
every output back, again) until the model answers. The answer is printed as it streams, then
the final Response's text.

    python3 tool_loop.py [--model MODEL] [--no-store] [-v] [QUESTION]

The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL, exactly as with the
official SDK. The model is --model, else OAIRUN_MODEL, else `tool_loop`: the scripted model of
oairun's test server (`make demo` starts it), which asks for the weather and the time in Paris,
then the weather in Tokyo, then answers with the outputs it received. Give a real model (e.g.
--model gpt-5-mini) for a real server. --no-store sends `"store": false`: nothing is kept on
the server and every request carries the whole conversation, as servers without stored
responses (Ollama, llama.cpp) need. -v shows oairun's log lines (each request and answer) on
stderr, through the logging module.
"""

import argparse
import datetime
import functools
import json
import logging
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    import oairun
except ImportError:  # not installed: use the package in this repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import oairun

WEATHER = {"Paris": "15°C, clear", "Tokyo": "22°C, light rain", "Berlin": "9°C, windy"}


def get_weather(city: str) -> str:
    """The current weather in a city."""
    # Canned answers, as a real tool would ask a weather service.
    for name, weather in WEATHER.items():
        if name.lower() in city.lower():
            return f"{city}: {weather}"
    return f"{city}: 18°C, cloudy"


def get_time(timezone: str) -> dict:
    """The current local time in an IANA time zone, e.g. Europe/Paris."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        # A tool's failure is news for the model too: say so in the output.
        return {"error": f"unknown time zone {timezone!r}"}
    now = datetime.datetime.now(zone)
    return {"timezone": timezone, "local_time": now.strftime("%Y-%m-%d %H:%M %Z")}  # sent as JSON


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("OAIRUN_MODEL") or "tool_loop")
    parser.add_argument("--no-store", action="store_true", help='send "store": false (replay mode)')
    parser.add_argument("-v", "--verbose", action="store_true", help="show oairun's log lines")
    parser.add_argument(
        "question", nargs="?", default="What's the weather in Paris and in Tokyo, and what time is it in Paris?"
    )
    args = parser.parse_args()
    if args.verbose:
        # Before the client is created: it reads the "oairun" logger's level.
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("oairun").setLevel(logging.INFO)

    calls = 0
    streaming = False  # text printed on the current line

    def shown(tool):
        """``tool``, printing each call and its output (functools.wraps keeps its signature
        and docstring, from which run_tools builds the definition the model sees)."""

        @functools.wraps(tool)
        def run(**arguments):
            nonlocal calls, streaming
            output = tool(**arguments)
            if streaming:
                print()
                streaming = False
            shown_output = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            print(f"[tool] {tool.__name__}({json.dumps(arguments, ensure_ascii=False)}) -> {shown_output}")
            calls += 1
            return output

        return run

    def on_event(event):
        nonlocal streaming
        if event.text_delta:
            print(event.text_delta, end="", flush=True)  # each piece as it arrives
            streaming = True

    print(f"Q: {args.question} (model {args.model})")
    extra = {"store": False} if args.no_store else {}
    try:
        with oairun.Client() as client:
            response = client.responses.run_tools(
                model=args.model,
                instructions="Answer briefly. Use the tools for weather and time; never guess them.",
                input=args.question,
                tools={"get_weather": shown(get_weather), "get_time": shown(get_time)},
                on_event=on_event,
                max_turns=5,
                **extra,
            )
    except oairun.OairunError as exc:
        if streaming:
            print()
        print(f"the loop failed: {exc} ({type(exc).__name__})", file=sys.stderr)
        return 1
    if streaming:
        print()
    print(f"final answer: {response.output_text}")
    print(f"({calls} tool calls; final response {response.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
