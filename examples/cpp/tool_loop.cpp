// A small agent in C++: the model may call a weather tool and a clock tool as often as it
// needs; oairun runs the loop (stream a turn, run the calls, send the outputs back, again)
// until the model answers. The answer is printed as it streams.
//
//   tool_loop [--model MODEL]
//
// The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL. The model is --model,
// else OAIRUN_MODEL, else `tool_loop`: the scripted model of oairun's test server (`make
// demo`), which answers with the outputs it received. Give a real model for a real server.
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>

#include "oairun.hpp"

static const char *TOOLS = R"([
  {"type": "function", "name": "get_weather", "description": "The current weather in a city.",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"], "additionalProperties": false}, "strict": true},
  {"type": "function", "name": "get_time", "description": "The current time (UTC).",
   "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                  "required": ["timezone"], "additionalProperties": false}, "strict": true}])";

// The tools: canned weather, and the clock. Each gets the arguments' JSON text.
static std::string get_weather(std::string_view arguments) {
    if (arguments.find("Paris") != std::string_view::npos) return "Paris: 15\xC2\xB0" "C, clear";
    if (arguments.find("Tokyo") != std::string_view::npos) return "Tokyo: 22\xC2\xB0" "C, light rain";
    return "18\xC2\xB0" "C, cloudy";
}
static std::string get_time(std::string_view) {
    char when[64];
    std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    return when;
}

int main(int argc, char **argv) try {
    const char *env = std::getenv("OAIRUN_MODEL");
    std::string model = env && *env ? env : "tool_loop";
    if (argc == 3 && std::strcmp(argv[1], "--model") == 0) model = argv[2];

    oairun::Client client;
    oairun::ResponseRequest request;
    request.set_model(model)
        .set_instructions("Answer briefly. Use the tools for weather and time; never guess them.")
        .set_tools_json(TOOLS)
        .add_input_json(R"({"role": "user", "content": "Weather in Paris and Tokyo, and the time?"})");

    std::string final_json = client.response_tool_loop(
        request,
        [](const oairun::ToolCall &call) {
            std::string output = call.name() == "get_weather" ? get_weather(call.arguments())
                                 : call.name() == "get_time"  ? get_time(call.arguments())
                                     : "error: no tool named " + std::string(call.name());
            std::cout << "[tool] " << call.name() << call.arguments() << " -> " << output << '\n';
            return output;
        },
        [](const oairun::Event &event) {
            if (auto text = event.text_delta()) std::cout << *text << std::flush;
        },
        5);
    std::cout << "\n(final response: " << final_json.substr(0, final_json.find(',')) << "})\n";
    return 0;
} catch (const oairun::Error &e) {
    std::cerr << "\nthe loop failed: " << e.what() << " (" << oairun::status_str(e.status()) << ")\n";
    return 1;
}
