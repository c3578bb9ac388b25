// oairun.hpp as a C++ program uses it: the blocking calls of both APIs, synchronous and
// streamed; events and tool calls; every field of oairun::Error on HTTP and stream errors;
// setters that refuse; the log callback; and the move-only owners (a moved-from object is
// empty, assigning frees what was held, nothing is freed twice).
#include <fstream>
#include <iterator>
#include <atomic>
#include <mutex>
#include <type_traits>
#include <vector>

#include "check.hpp"

using oairun::Error;
using oairun::Event;

static_assert(!std::is_copy_constructible_v<oairun::Client>);
static_assert(!std::is_copy_assignable_v<oairun::ClientOptions>);
static_assert(!std::is_copy_constructible_v<oairun::ToolOutputs>);
static_assert(!std::is_copy_constructible_v<oairun::ResponseRequest>);
static_assert(!std::is_copy_constructible_v<oairun::ToolCalls>);
static_assert(!std::is_copy_constructible_v<oairun::Stream>);
static_assert(std::is_nothrow_move_constructible_v<oairun::Client>);
static_assert(std::is_nothrow_move_assignable_v<oairun::Stream>);
static_assert(std::is_nothrow_copy_constructible_v<Error>);
static_assert(std::is_base_of_v<std::runtime_error, Error>);

static void version_matches_the_header() {
    CHECK_EQ_STR(oairun::version(), OAIRUN_VERSION_STRING);
    CHECK_EQ_STR(oairun::status_str(OAIRUN_MAX_TURNS), "maximum turns reached");
}

// The reference stream's events, from the fixture the server sends.
static int reference_event_count() {
    char *text = read_fixture("stream.sse", NULL);
    int n = 0;
    for (const char *p = text; (p = strstr(p, "event: ")) != NULL; p += 7) n++;
    free(text);
    return n;
}

static void assistants_sync_and_stream(const oairun::Client &client) {
    const oairun::ToolOutputs outputs = cpp_outputs();
    std::string run = client.submit_tool_outputs("thread_123", "run_123", outputs);
    CHECK(contains(run, "\"object\": \"thread.run\""));
    CHECK(contains(run, "\"id\": \"run_123\""));

    std::vector<std::string> names;
    std::string text;
    oairun_kind last = OAIRUN_KIND_UNKNOWN;
    int bad = 0;
    client.submit_tool_outputs_stream("thread_123", "run_123", outputs, [&](const Event &e) {
        names.emplace_back(e.name());
        if (auto delta = e.text_delta()) text += *delta;
        if (e.kind() == OAIRUN_KIND_UNKNOWN || e.id() || !e.raw()) bad++;
        if (e.kind() == OAIRUN_KIND_DONE && e.data() != "[DONE]") bad++;
        if (e.kind() == OAIRUN_KIND_THREAD_MESSAGE_DELTA && !e.text_delta()) bad++;
        last = e.kind();
    });
    CHECK(bad == 0);
    CHECK((int)names.size() == reference_event_count());
    CHECK(!names.empty() && names.back() == "done");
    CHECK(last == OAIRUN_KIND_DONE);
    CHECK_EQ_STR(text, "The current weather sunny.");

    // A const callable, a function pointer and a std::function are callables too.
    int count = 0;
    const auto counter = [&count](const Event &) { count++; };
    client.submit_tool_outputs_stream("thread_123", "run_123", outputs, counter);
    CHECK(count == reference_event_count());
    std::function<bool(const Event &)> f = [&count](const Event &) { return ++count > 0; };
    client.submit_tool_outputs_stream("thread_123", "run_123", outputs, f);
    CHECK(count == 2 * reference_event_count());
    static int plain_count = 0;
    client.submit_tool_outputs_stream("thread_123", "run_123", outputs,
                                      +[](const Event &) { plain_count++; });
    CHECK(plain_count == reference_event_count());

    // Ids set by the stream are seen.
    int ids = 0;
    client.submit_tool_outputs_stream("odd_framing", "run_123", outputs, [&](const Event &e) {
        if (e.id()) ids++;
    });
    CHECK(ids > 0);

    // ToolOutputs from the API's JSON shape.
    auto from_json = oairun::ToolOutputs::from_json(
        "[{\"tool_call_id\":\"call_001\",\"output\":\"70 degrees and sunny.\"}]");
    CHECK(contains(client.submit_tool_outputs("thread_123", "run_123", from_json),
                   "\"thread.run\""));
}

static void returning_false_stops_the_stream(const oairun::Client &client) {
    int seen = 0;
    auto e = THROWN(Error, client.submit_tool_outputs_stream("slow_25_60", "run_123",
                                                             cpp_outputs(), [&](const Event &) {
                                                                 return ++seen < 3;
                                                             }));
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    CHECK(seen == 3);

    oairun::ResponseRequest request;
    request.set_model("long_300").add_input_json("{\"role\":\"user\",\"content\":\"hi\"}");
    seen = 0;
    e = THROWN(Error, client.create_response_stream(request, [&](const Event &) {
        return ++seen < 5;
    }));
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    CHECK(seen == 5);
}

static oairun::ResponseRequest request_for(const std::string &model) {
    oairun::ResponseRequest request;
    request.set_model(model).add_input_json(
        "{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"}");
    return request;
}

static void responses_sync_and_stream(const oairun::Client &client) {
    std::string response = client.create_response(request_for("gpt-test"));
    CHECK(response.rfind("{\"id\":\"resp_fixed_text\"", 0) == 0);
    CHECK(oairun::ToolCalls::from_json(response).empty());

    std::string text;
    int events = 0, typed = 0;
    oairun_kind last = OAIRUN_KIND_UNKNOWN;
    client.create_response_stream(request_for("gpt-test"), [&](const Event &e) {
        events++;
        if (contains(e.data(), "\"type\":\"" + std::string(e.name()) + "\"")) typed++;
        if (auto delta = e.text_delta()) text += *delta;
        last = e.kind();
    });
    CHECK(events == 14);
    CHECK(typed == 14);
    CHECK(last == OAIRUN_KIND_RESPONSE_COMPLETED);
    CHECK_EQ_STR(text, "It's 15\xC2\xB0" "C and clear in Paris.");

    // The function calls of a Response, from its JSON and from its response.completed event.
    response = client.create_response(request_for("function_call"));
    oairun::ToolCalls calls = oairun::ToolCalls::from_json(response);
    CHECK(calls.size() == 1);
    for (const oairun::ToolCall &call : calls) {
        CHECK_EQ_STR(call.id(), "call_fixed_get_weather");
        CHECK_EQ_STR(call.name(), "get_weather");
        CHECK_EQ_STR(call.arguments(), "{\"location\":\"Paris, France\"}");
        CHECK(call.raw() == calls[0].raw());
    }
    CHECK(THROWN(std::out_of_range, calls.at(1)).has_value());
    CHECK(calls[1].raw() == NULL);

    std::vector<oairun::ToolCalls> kept; // lists outlive the event they came from
    client.create_response_stream(request_for("function_call"), [&](const Event &e) {
        oairun::ToolCalls list = e.tool_calls();
        if (e.kind() != OAIRUN_KIND_RESPONSE_COMPLETED) CHECK(list.empty());
        else kept.push_back(std::move(list));
    });
    CHECK(kept.size() == 1);
    if (kept.size() == 1) {
        CHECK(kept[0].size() == 1);
        CHECK_EQ_STR(kept[0].at(0).name(), "get_weather");
    }

    // The builder's other fields, sent as given.
    const std::string marker = unique_name("builder");
    oairun::ResponseRequest built;
    built.set_model("gpt-test")
        .set_instructions("Be brief.")
        .set_previous_response_id("resp_anything")
        .set_tools_json("[]")
        .add_input_json("{\"role\":\"user\",\"content\":\"hi\"}")
        .add_function_call_output("call_1", "out \"1\"")
        .set_field_json("metadata", "{\"test\":\"" + marker + "\"}");
    client.create_response(built);
    char *bodies[1] = {NULL};
    CHECK(recorded_bodies(marker.c_str(), bodies, 1) == 1);
    if (bodies[0]) {
        CHECK(contains(bodies[0], "{\"model\":\"gpt-test\",\"previous_response_id\":"
                                  "\"resp_anything\",\"instructions\":\"Be brief.\","
                                  "\"tools\":[],\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
                                  "{\"type\":\"function_call_output\",\"call_id\":\"call_1\","
                                  "\"output\":\"out \\\"1\\\"\"}]"));
    }
    free(bodies[0]);
}

static void error_fields(const oairun::Client &client) {
    // A 404 from the Assistants route, synchronous and streamed (no event delivered).
    for (int streamed = 0; streamed < 2; streamed++) {
        int events = 0;
        auto e = THROWN(Error, {
            if (streamed)
                client.submit_tool_outputs_stream("status_404", "run_123", cpp_outputs(),
                                                  [&](const Event &) { events++; });
            else
                client.submit_tool_outputs("status_404", "run_123", cpp_outputs());
        });
        CHECK(events == 0);
        CHECK(e.has_value());
        if (!e) continue;
        CHECK(e->status() == OAIRUN_HTTP_STATUS);
        CHECK(e->http_status() == 404);
        CHECK(contains(e->what(), "test error 404"));
        CHECK(e->message() == e->what());
        CHECK(e->request_id() && e->request_id()->rfind("req_", 0) == 0);
        CHECK(e->api_type() == std::optional<std::string>("invalid_request_error"));
        CHECK(!e->api_param());
        CHECK(!contains(e->what(), "sk-test-cpp"));
        // An Error is a std::runtime_error, and copies share the fields.
        const std::runtime_error &base = *e;
        CHECK(contains(base.what(), "404"));
        Error copy = *e;
        CHECK(copy.request_id() == e->request_id() && copy.http_status() == 404);
    }

    // Responses: the 400s carry param and code.
    auto e = THROWN(Error, client.create_response(request_for("status_400")));
    CHECK(e && e->http_status() == 400 && e->api_param() == std::optional<std::string>("input"));
    oairun::ResponseRequest no_model;
    no_model.add_input_json("{\"role\":\"user\",\"content\":\"hi\"}");
    e = THROWN(Error, client.create_response(no_model));
    CHECK(e && e->status() == OAIRUN_HTTP_STATUS);
    CHECK(e && e->api_code() == std::optional<std::string>("missing_required_parameter"));
    CHECK(e && e->api_param() == std::optional<std::string>("model"));
    CHECK(e && e->api_type() == std::optional<std::string>("invalid_request_error"));
    e = THROWN(Error, client.create_response(request_for("status_429")));
    CHECK(e && e->api_code() == std::optional<std::string>("rate_limit_exceeded"));

    // Stream errors: the error event is delivered first, then the call throws.
    int events = 0;
    oairun_kind last = OAIRUN_KIND_UNKNOWN;
    e = THROWN(Error, client.submit_tool_outputs_stream("error_event", "run_123", cpp_outputs(),
                                                        [&](const Event &ev) {
                                                            events++;
                                                            last = ev.kind();
                                                        }));
    CHECK(events == 4 && last == OAIRUN_KIND_ERROR);
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR);
    CHECK(e && e->http_status() == 200);
    CHECK(e && e->api_code() == std::optional<std::string>("server_error"));
    CHECK(e && contains(e->what(), "test stream error"));
    CHECK(e && e->request_id() && e->request_id()->rfind("req_", 0) == 0);

    e = THROWN(Error, client.create_response_stream(request_for("error_nested"),
                                                    [](const Event &) {}));
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR && e->http_status() == 200);
    CHECK(e && e->api_type() == std::optional<std::string>("too_many_requests"));
    CHECK(e && e->api_code() == std::optional<std::string>("too_many_requests"));

    e = THROWN(Error, client.create_response_stream(request_for("failed"), [](const Event &) {}));
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR);
    CHECK(e && e->api_code() == std::optional<std::string>("server_error"));
    CHECK(e && contains(e->what(), "The model failed to generate a response."));

    // A stream cut before its end.
    e = THROWN(Error, client.submit_tool_outputs_stream("truncated", "run_123", cpp_outputs(),
                                                        [](const Event &) {}));
    CHECK(e && e->status() == OAIRUN_PROTOCOL && contains(e->what(), "without `done`"));
}

static void refusals_throw(const oairun::Client &client) {
    auto e = THROWN(Error, oairun::ClientOptions().set_base_url("not a url"));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && e->http_status() == 0);
    CHECK(e && contains(e->what(), "oairun_client_options_set_base_url"));
    CHECK(e && !e->request_id() && !e->api_type() && !e->api_code() && !e->api_param());
    CHECK(THROWN(Error, oairun::ClientOptions().add_header("X-Bad", "a\r\nb")).has_value());
    CHECK(THROWN(Error, oairun::ClientOptions().set_timeout_ms(0)).has_value());
    CHECK(THROWN(Error, oairun::ToolOutputs().add("", "output")).has_value());
    CHECK(THROWN(Error, oairun::ToolOutputs::from_json("[{\"id\":1}]")).has_value());
    CHECK(THROWN(Error, oairun::ToolCalls::from_json("not json")).has_value());
    oairun::ResponseRequest request;
    e = THROWN(Error, request.set_field_json("stream", "true"));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->what(), "stream"));
    CHECK(THROWN(Error, request.set_tools_json("{}")).has_value());
    CHECK(THROWN(Error, request.add_input_json("[1]")).has_value());
    CHECK(THROWN(Error, request.set_model("")).has_value());
    // No input item: refused before any request.
    e = THROWN(Error, client.create_response(request));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    e = THROWN(Error, client.submit_tool_outputs("thread_123", "..", cpp_outputs()));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);

    // Every other setter takes a good value.
    oairun::ClientOptions options;
    options.set_api_key("sk-test-cpp")
        .set_base_url(test_base_url())
        .set_organization("org_cpp")
        .set_project("proj_cpp")
        .add_header("X-Test", "cpp")
        .set_timeout_ms(30000)
        .set_connect_timeout_ms(5000)
        .set_read_timeout_ms(30000)
        .allow_insecure_http(false)
        .set_max_response_bytes(1 << 20)
        .set_max_event_bytes(1 << 20)
        .set_max_retries(0);
    oairun::Client configured(options);
    CHECK(contains(configured.submit_tool_outputs("thread_123", "run_123", cpp_outputs()),
                   "thread.run"));
    CHECK(THROWN(Error, oairun::Client(oairun::ClientOptions().set_base_url(test_base_url())
                                           .set_max_response_bytes(16))
                            .submit_tool_outputs("thread_123", "run_123", cpp_outputs()))
              .has_value());

    // TLS and proxy settings: bad values are refused with the C error's fields; the test
    // server's HTTPS twin is trusted through the CA the runner wrote.
    e = THROWN(Error, oairun::ClientOptions().add_root_certificate_pem("not a certificate"));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    e = THROWN(Error, oairun::ClientOptions().set_proxy("ftp://proxy.invalid:21"));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    const char *https = getenv("OAIRUN_TEST_HTTPS_BASE_URL");
    const char *ca_file = getenv("OAIRUN_TEST_CA_FILE");
    CHECK(https != NULL && ca_file != NULL);
    if (https && ca_file) {
        std::ifstream in(ca_file);
        std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        oairun::Client tls(oairun::ClientOptions()
                               .set_api_key("sk-test-cpp")
                               .set_base_url(https)
                               .add_root_certificate_pem(pem)
                               .set_max_retries(0));
        CHECK(contains(tls.submit_tool_outputs("thread_123", "run_123", cpp_outputs()),
                       "thread.run"));
    }
}

static void no_key_anywhere() {
    std::string saved = getenv("OPENAI_API_KEY") ? getenv("OPENAI_API_KEY") : "";
    unsetenv("OPENAI_API_KEY");
    auto e = THROWN(Error, oairun::Client());
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->what(), "OPENAI_API_KEY"));
    setenv("OPENAI_API_KEY", "sk-from-env", 1);
    oairun::Client from_env; // key from the environment, base URL from OPENAI_BASE_URL
    CHECK(from_env.raw() != NULL);
    if (saved.empty()) unsetenv("OPENAI_API_KEY");
    else setenv("OPENAI_API_KEY", saved.c_str(), 1);
}

static void log_lines_reach_the_callback(const oairun::Client &client) {
    std::mutex mutex;
    std::vector<std::string> lines;
    std::atomic<int> refused{0};
    oairun::set_log_callback(OAIRUN_LOG_INFO, [&](oairun_log_level level, std::string_view line) {
        // Setting the callback from inside it is refused, not a deadlock.
        try {
            oairun::set_log_callback(OAIRUN_LOG_OFF, [](oairun_log_level, std::string_view) {});
        } catch (const Error &e) {
            if (e.status() == OAIRUN_INVALID_ARGUMENT) refused++;
        }
        std::lock_guard<std::mutex> lock(mutex);
        lines.push_back(std::to_string((int)level) + " " + std::string(line));
    });
    client.submit_tool_outputs("thread_123", "run_123", cpp_outputs());
    // Replacing the callback waits for the old one: afterwards `lines` is no longer written.
    oairun::set_log_callback(OAIRUN_LOG_ERROR, [](oairun_log_level, std::string_view) {
        throw std::runtime_error("dropped: a log callback's exception goes nowhere");
    });
    bool post = false;
    for (const std::string &line : lines)
        if (line.rfind("3 POST ", 0) == 0) post = true;
    CHECK(post);
    CHECK(refused > 0);
    CHECK(THROWN(Error, client.submit_tool_outputs("status_400", "run_123", cpp_outputs()))
              .has_value()); // logged at ERROR: the throwing callback runs and is contained
    oairun::clear_log_callback();
    CHECK(THROWN(Error, oairun::set_log_callback((oairun_log_level)9,
                                                 [](oairun_log_level, std::string_view) {}))
              .has_value());
}

static void moves_leave_objects_empty(oairun::Client &client) {
    oairun::ClientOptions options;
    options.set_api_key("sk-test-cpp").set_base_url(test_base_url());
    const oairun_client_options *raw_options = options.raw();
    oairun::ClientOptions moved_options(std::move(options));
    CHECK(options.raw() == NULL && moved_options.raw() == raw_options);
    CHECK(THROWN(Error, options.set_api_key("sk")).has_value()); // NULL options: refused
    options = std::move(moved_options);                           // back, into the empty one
    CHECK(options.raw() == raw_options && moved_options.raw() == NULL);
    oairun::ClientOptions other;
    other = std::move(options); // frees the one `other` held
    CHECK(other.raw() == raw_options);
    other = std::move(other); // self-move: kept
    CHECK(other.raw() == raw_options);

    const oairun_client *raw_client = client.raw();
    oairun::Client moved_client(std::move(client));
    CHECK(client.raw() == NULL && moved_client.raw() == raw_client);
    auto e = THROWN(Error, client.submit_tool_outputs("thread_123", "run_123", cpp_outputs()));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    oairun::Client second(other);
    second = std::move(moved_client); // frees second's own client
    CHECK(second.raw() == raw_client && moved_client.raw() == NULL);
    client = std::move(second); // the caller's client, back

    oairun::ToolOutputs outputs = cpp_outputs();
    oairun::ToolOutputs moved_outputs(std::move(outputs));
    CHECK(outputs.raw() == NULL && moved_outputs.raw() != NULL);
    CHECK(THROWN(Error, outputs.add("call_1", "x")).has_value());
    outputs = cpp_outputs();
    outputs = std::move(moved_outputs);
    CHECK(contains(client.submit_tool_outputs("thread_123", "run_123", outputs), "thread.run"));

    oairun::ResponseRequest request = request_for("gpt-test");
    oairun::ResponseRequest moved_request(std::move(request));
    CHECK(request.raw() == NULL && moved_request.raw() != NULL);
    e = THROWN(Error, client.create_response(request));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    request = request_for("gpt-test");
    request = std::move(moved_request);
    CHECK(contains(client.create_response(request), "resp_fixed_text"));

    oairun::ToolCalls calls = oairun::ToolCalls::from_json(client.create_response(request_for("function_call")));
    oairun::ToolCalls moved_calls(std::move(calls));
    CHECK(calls.raw() == NULL && calls.size() == 0 && calls.begin() == calls.end());
    CHECK(moved_calls.size() == 1);
    calls = oairun::ToolCalls::from_json(client.create_response(request_for("function_call")));
    calls = std::move(moved_calls);
    CHECK(calls.size() == 1 && moved_calls.raw() == NULL);
    oairun_tool_calls *released = calls.release();
    CHECK(released != NULL && calls.raw() == NULL);
    oairun_tool_calls_free(released);

    oairun::Stream stream;
    CHECK(!stream.valid() && !stream);
    stream.cancel(); // an empty stream: nothing happens
    e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    stream.reset();
}

int main() {
    oairun::Client client = cpp_client();
    version_matches_the_header();
    assistants_sync_and_stream(client);
    returning_false_stops_the_stream(client);
    responses_sync_and_stream(client);
    error_fields(client);
    refusals_throw(client);
    no_key_anywhere();
    log_lines_reach_the_callback(client);
    moves_leave_objects_empty(client);
    // The client still works after travelling through moves.
    CHECK(contains(client.submit_tool_outputs("thread_123", "run_123", cpp_outputs()),
                   "thread.run"));
    return check_report("test_cpp_api");
}
