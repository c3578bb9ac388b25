// The tool-call loops through oairun.hpp, against the test server's scripted models: the
// calls the handler sees, the text the model builds from the outputs it received (so every
// output arrived intact), the final JSON, and the loops' failures as oairun::Error.
#include <functional>
#include <vector>

#include "check.hpp"

using oairun::Error;
using oairun::Event;
using oairun::ToolCall;

static const char *TOOLS =
    "[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}},{\"type\":\"function\",\"name\":"
    "\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"timezone\":"
    "{\"type\":\"string\"}}}}]";

// A tool handler with state: records each call, answers with text JSON must escape.
struct Tools {
    struct Call {
        std::string id, name, arguments, output;
    };
    std::vector<Call> calls;

    std::string operator()(const ToolCall &call) {
        std::string output = std::string(call.name()) + " \"" + std::string(call.arguments()) +
                             "\"\n\t\xE2\x86\x92 15\xC2\xB0" "C \\ \xF0\x9F\x98\x80 #" +
                             std::to_string(calls.size());
        calls.push_back({std::string(call.id()), std::string(call.name()),
                         std::string(call.arguments()), output});
        return output;
    }

    // `Outputs: <id>=<output>; ….`, as the scripted model answers.
    std::string expected_text(const std::string &first = "") const {
        std::string text = "Outputs: " + first;
        for (std::size_t i = 0; i < calls.size(); i++)
            text += calls[i].id + "=" + calls[i].output + (i + 1 < calls.size() ? "; " : ".");
        return text;
    }
};

static void check_calls_are_the_script(const Tools &tools) {
    CHECK(tools.calls.size() == 3);
    if (tools.calls.size() != 3) return;
    CHECK_EQ_STR(tools.calls[0].name, "get_weather");
    CHECK_EQ_STR(tools.calls[0].arguments, "{\"city\":\"Paris\"}");
    CHECK_EQ_STR(tools.calls[1].name, "get_time");
    CHECK_EQ_STR(tools.calls[1].arguments, "{\"timezone\":\"Europe/Paris\"}");
    CHECK_EQ_STR(tools.calls[2].name, "get_weather");
    CHECK_EQ_STR(tools.calls[2].arguments, "{\"city\":\"Tokyo\"}");
    for (std::size_t i = 0; i < 3; i++) {
        CHECK(tools.calls[i].id.rfind("call_", 0) == 0);
        for (std::size_t j = 0; j < i; j++) CHECK(tools.calls[i].id != tools.calls[j].id);
    }
}

static oairun::ResponseRequest request_for(const std::string &model, const std::string &marker) {
    oairun::ResponseRequest request;
    request.set_model(model)
        .set_instructions("Use the tools.")
        .set_tools_json(TOOLS)
        .add_input_json("{\"role\":\"user\",\"content\":\"Weather and time in Paris, then Tokyo?\"}")
        .set_field_json("metadata", "{\"test\":\"" + marker + "\"}");
    return request;
}

static void responses_loop(const oairun::Client &client) {
    const std::string marker = unique_name("responses");
    const oairun::ResponseRequest first = request_for("tool_loop", marker);
    Tools tools;
    std::string text;
    int completed = 0;
    std::string final_json = client.response_tool_loop(
        first, std::ref(tools), [&](const Event &e) {
            if (auto delta = e.text_delta()) text += *delta;
            if (e.kind() == OAIRUN_KIND_RESPONSE_COMPLETED) completed++;
        });
    check_calls_are_the_script(tools);
    CHECK(completed == 3);
    CHECK_EQ_STR(text, tools.expected_text());
    CHECK(final_json.rfind("{\"id\":\"resp_", 0) == 0);
    CHECK(contains(final_json, "\"status\":\"completed\""));
    CHECK(oairun::ToolCalls::from_json(final_json).empty());
    CHECK(recorded_count(marker.c_str()) == 3);

    // `first` is only read: the same request again, without an event callback, with
    // "store": false (every request replays the conversation), and max_turns given as an int.
    oairun::ResponseRequest replay = request_for("tool_loop", unique_name("replay"));
    replay.set_field_json("store", "false");
    Tools again;
    final_json = client.response_tool_loop(replay, std::ref(again), 5);
    check_calls_are_the_script(again);
    CHECK(contains(final_json, "\"store\":false"));
    CHECK(contains(final_json, "Outputs: "));
}

static void assistants_loop(const oairun::Client &client) {
    const std::string run = unique_name("run");
    oairun::ToolOutputs first;
    first.add("call_001", "Berlin: 9\xC2\xB0" "C, \"rain\"\nlater");
    Tools tools;
    std::string text;
    int done = 0;
    std::string final_json = client.run_tool_loop("tool_loop", run, first, std::ref(tools),
                                                  [&](const Event &e) {
                                                      if (auto d = e.text_delta()) text += *d;
                                                      if (e.kind() == OAIRUN_KIND_DONE) done++;
                                                      return true;
                                                  });
    check_calls_are_the_script(tools);
    CHECK(done == 3);
    CHECK_EQ_STR(text, tools.expected_text("call_001=Berlin: 9\xC2\xB0" "C, \"rain\"\nlater; "));
    CHECK(contains(final_json, "\"object\":\"thread.run\""));
    CHECK(contains(final_json, "\"status\":\"completed\""));
    std::string needle = "\"run_id\":\"" + run + "\"";
    CHECK(recorded_count(needle.c_str()) == 3);

    // A std::function handler returning a C string, no event callback.
    int calls = 0;
    std::function<const char *(const ToolCall &)> handler = [&calls](const ToolCall &) {
        calls++;
        return "ok";
    };
    final_json = client.run_tool_loop("tool_loop", unique_name("run_function"), first, handler);
    CHECK(calls == 3);
    CHECK(contains(final_json, "\"status\":\"completed\""));
}

static void loops_that_fail(const oairun::Client &client) {
    // max_turns bounds the requests: MAX_TURNS, and the last turn's call is not run.
    std::string marker = unique_name("forever");
    Tools tools;
    auto e = THROWN(Error, client.response_tool_loop(request_for("tool_loop_forever", marker),
                                                     std::ref(tools), 3));
    CHECK(e && e->status() == OAIRUN_MAX_TURNS && contains(e->what(), "max_turns 3"));
    CHECK(tools.calls.size() == 3);
    CHECK(recorded_count(marker.c_str()) == 3);

    oairun::ToolOutputs first;
    first.add("call_001", "Berlin");
    Tools assistants;
    e = THROWN(Error, client.run_tool_loop("tool_loop_forever", unique_name("run_forever"), first,
                                           std::ref(assistants), [](const Event &) {}, 2));
    CHECK(e && e->status() == OAIRUN_MAX_TURNS);
    CHECK(assistants.calls.size() == 2);

    // A response that fails: STREAM_ERROR with the response's error code.
    Tools failed;
    e = THROWN(Error, client.response_tool_loop(request_for("tool_loop_failed", unique_name("f")),
                                                std::ref(failed)));
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR);
    CHECK(e && e->api_code() == std::optional<std::string>("server_error"));
    CHECK(failed.calls.size() == 2);

    // A run that fails, and a stream that carries an error event.
    Tools run_failed;
    e = THROWN(Error, client.run_tool_loop("tool_loop_failed", unique_name("run_failed"), first,
                                           std::ref(run_failed)));
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR);
    CHECK(e && e->api_code() == std::optional<std::string>("server_error"));
    Tools errored;
    e = THROWN(Error, client.response_tool_loop(request_for("tool_loop_error", unique_name("e")),
                                                std::ref(errored)));
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR && e->http_status() == 200);

    // An output the server does not accept: the 400's fields.
    e = THROWN(Error, client.run_tool_loop("tool_loop", unique_name("run_wrong"),
                                           oairun::ToolOutputs().add("call_999", "x"),
                                           std::ref(tools)));
    CHECK(e && e->status() == OAIRUN_HTTP_STATUS && e->http_status() == 400);
    CHECK(e && e->api_param() == std::optional<std::string>("tool_outputs"));

    // Refused before any request: an empty first list.
    e = THROWN(Error, client.run_tool_loop("tool_loop", "run_x", oairun::ToolOutputs(),
                                           std::ref(tools)));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
}

int main() {
    oairun::Client client = cpp_client();
    responses_loop(client);
    assistants_loop(client);
    loops_that_fail(client);
    return check_report("test_cpp_tool_loop");
}
