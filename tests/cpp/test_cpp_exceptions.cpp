// An exception thrown from any callback reaches the caller as the same exception, after the
// C call has returned, with the C operation stopped: from an event callback (blocking and
// started, both APIs), a tool handler and a loop's event callback (both loops), and a
// completion callback. None unwinds through oairun (that would be undefined behaviour; here it
// would crash or be reported by the sanitizers).
#include <atomic>
#include <thread>

#include "check.hpp"

using oairun::Error;
using oairun::Event;

// Not derived from std::exception: any type must come through, unsliced.
struct Boom {
    int code;
    std::string where;
};
// Derived from std::exception, so that a catch of the base would also see it.
struct Fault : std::runtime_error {
    explicit Fault(int n) : std::runtime_error("fault " + std::to_string(n)), n(n) {}
    int n;
};

static oairun::ResponseRequest user_request(const std::string &model) {
    oairun::ResponseRequest request;
    request.set_model(model).add_input_json("{\"role\":\"user\",\"content\":\"hi\"}");
    return request;
}

static void from_a_blocking_event_callback(const oairun::Client &client) {
    // Assistants: 60 deltas 25 ms apart; the callback throws at the 5th event. The stream
    // stops there: no later event is delivered.
    int seen = 0;
    auto boom = THROWN(Boom, client.submit_tool_outputs_stream(
                                 "slow_25_60", "run_123", cpp_outputs(), [&](const Event &) {
                                     if (++seen == 5) throw Boom{5, "assistants"};
                                 }));
    CHECK(boom && boom->code == 5 && boom->where == "assistants");
    CHECK(seen == 5);

    // Responses: a long stream, stopped at the 3rd event.
    seen = 0;
    auto fault = THROWN(Fault, client.create_response_stream(user_request("long_2000"),
                                                             [&](const Event &) {
                                                                 if (++seen == 3) throw Fault(3);
                                                             }));
    CHECK(fault && fault->n == 3 && std::string(fault->what()) == "fault 3");
    CHECK(seen == 3);

    // A thrown oairun::Error is the callback's, not the call's (which would be CANCELLED).
    auto e = THROWN(Error, client.create_response_stream(user_request("gpt-test"),
                                                         [](const Event &ev) {
                                                             if (ev.kind() == OAIRUN_KIND_RESPONSE_COMPLETED)
                                                                 throw Error(OAIRUN_PROTOCOL, "mine");
                                                         }));
    CHECK(e && e->status() == OAIRUN_PROTOCOL && std::string(e->what()) == "mine");

    // The client is usable afterwards.
    CHECK(contains(client.create_response(user_request("gpt-test")), "resp_fixed_text"));
}

static void from_a_started_event_callback(const oairun::Client &client) {
    std::atomic<int> seen{0};
    oairun::Stream stream = client.submit_tool_outputs_stream_start(
        "slow_25_60", "run_123", cpp_outputs(), [&seen](const Event &) {
            if (++seen == 4) throw Boom{4, "started"};
        });
    auto boom = THROWN(Boom, stream.wait());
    CHECK(boom && boom->code == 4 && boom->where == "started");
    CHECK(seen == 4);
    // Waiting again: the same outcome.
    boom = THROWN(Boom, stream.wait());
    CHECK(boom && boom->code == 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(seen == 4); // stopped: nothing more arrives

    seen = 0;
    stream = client.create_response_stream_start(user_request("long_2000"), [&seen](const Event &) {
        if (++seen == 2) throw Fault(2);
    });
    auto fault = THROWN(Fault, stream.wait());
    CHECK(fault && fault->n == 2);
    CHECK(seen == 2);

    // A Stream destroyed without wait: the stored exception goes with it, nothing leaks.
    {
        oairun::Stream dropped = client.create_response_stream_start(
            user_request("gpt-test"), [](const Event &) { throw Boom{0, "dropped"}; });
    }
}

static void from_a_completion_callback(const oairun::Client &client) {
    std::atomic<int> calls{0};
    oairun::Stream stream = client.submit_tool_outputs_start(
        "thread_123", "run_123", cpp_outputs(), [&calls](const oairun::Completion &c) {
            calls++;
            CHECK(c.ok() && c.error() == nullptr && contains(c.json(), "thread.run"));
            throw Boom{7, "completion"};
        });
    auto boom = THROWN(Boom, stream.wait());
    CHECK(boom && boom->code == 7 && boom->where == "completion");
    CHECK(calls == 1);

    // Completion::value rethrows the call's failure from the callback: wait throws that Error.
    calls = 0;
    stream = client.create_response_start(user_request("status_404"),
                                          [&calls](const oairun::Completion &c) {
                                              calls++;
                                              CHECK(!c.ok() && c.json().empty() && c.error());
                                              c.value();
                                          });
    auto e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_HTTP_STATUS && e->http_status() == 404);
    CHECK(e && e->request_id().has_value());
    CHECK(calls == 1);

    // A throwing completion callback on a successful Responses call.
    stream = client.create_response_start(user_request("gpt-test"), [](const oairun::Completion &c) {
        throw Fault((int)c.value().size() > 0 ? 1 : 0);
    });
    auto fault = THROWN(Fault, stream.wait());
    CHECK(fault && fault->n == 1);
}

static const char *TOOLS =
    "[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}},{\"type\":\"function\",\"name\":"
    "\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"timezone\":"
    "{\"type\":\"string\"}}}}]";

static oairun::ResponseRequest loop_request(const std::string &marker) {
    oairun::ResponseRequest request;
    request.set_model("tool_loop")
        .set_tools_json(TOOLS)
        .add_input_json("{\"role\":\"user\",\"content\":\"Weather?\"}")
        .set_field_json("metadata", "{\"test\":\"" + marker + "\"}");
    return request;
}

static void from_a_tool_handler(const oairun::Client &client) {
    // Responses: the handler throws at the second call of the first turn; no further request.
    std::string marker = unique_name("handler_throws");
    int calls = 0;
    auto boom = THROWN(Boom, client.response_tool_loop(loop_request(marker),
                                                       [&](const oairun::ToolCall &call) {
                                                           if (++calls == 2)
                                                               throw Boom{2, std::string(call.name())};
                                                           return std::string("fine");
                                                       }));
    CHECK(boom && boom->code == 2 && boom->where == "get_time");
    CHECK(calls == 2);
    CHECK(recorded_count(marker.c_str()) == 1);

    // Assistants: the handler throws at the first call after the first submission.
    std::string run = unique_name("run_handler_throws");
    calls = 0;
    oairun::ToolOutputs first;
    first.add("call_001", "Berlin: 9 C");
    auto fault = THROWN(Fault, client.run_tool_loop("tool_loop", run, first,
                                                    [&](const oairun::ToolCall &) -> std::string {
                                                        throw Fault(++calls);
                                                    }));
    CHECK(fault && fault->n == 1);
    CHECK(calls == 1);
    std::string needle = "\"run_id\":\"" + run + "\"";
    CHECK(recorded_count(needle.c_str()) == 1);

    // An output the C API cannot take (a NUL byte inside) is an Error naming the call, thrown
    // the same way, before any further request.
    marker = unique_name("handler_nul");
    auto e = THROWN(Error, client.response_tool_loop(loop_request(marker),
                                                     [](const oairun::ToolCall &) {
                                                         return std::string("a\0b", 3);
                                                     }));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->what(), "call_"));
    CHECK(recorded_count(marker.c_str()) == 1);
    marker = unique_name("handler_utf8");
    e = THROWN(Error, client.response_tool_loop(loop_request(marker),
                                                [](const oairun::ToolCall &) { return "\xff"; }));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->what(), "refused"));
    CHECK(recorded_count(marker.c_str()) == 1);
}

static void from_a_loop_event_callback(const oairun::Client &client) {
    // The event callback throws in the second turn: the loop stops there.
    std::string marker = unique_name("loop_event_throws");
    int completed = 0, calls = 0;
    auto boom = THROWN(Boom, client.response_tool_loop(
                                 loop_request(marker),
                                 [&](const oairun::ToolCall &) {
                                     calls++;
                                     return "out";
                                 },
                                 [&](const Event &e) {
                                     if (completed == 1 && e.kind() == OAIRUN_KIND_RESPONSE_CREATED)
                                         throw Boom{1, "turn 2"};
                                     if (e.kind() == OAIRUN_KIND_RESPONSE_COMPLETED) completed++;
                                 }));
    CHECK(boom && boom->where == "turn 2");
    CHECK(calls == 2);
    CHECK(recorded_count(marker.c_str()) == 2);

    std::string run = unique_name("run_event_throws");
    oairun::ToolOutputs first;
    first.add("call_001", "Berlin");
    int events = 0;
    auto fault = THROWN(Fault, client.run_tool_loop(
                                   "tool_loop", run, first,
                                   [](const oairun::ToolCall &) { return "out"; },
                                   [&](const Event &) {
                                       if (++events == 2) throw Fault(events);
                                   }));
    CHECK(fault && fault->n == 2);
    CHECK(events == 2);
}

int main() {
    oairun::Client client = cpp_client();
    from_a_blocking_event_callback(client);
    from_a_started_event_callback(client);
    from_a_completion_callback(client);
    from_a_tool_handler(client);
    from_a_loop_event_callback(client);
    return check_report("test_cpp_exceptions");
}
