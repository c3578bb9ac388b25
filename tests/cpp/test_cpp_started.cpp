// The started (`_start`) forms through oairun.hpp: oairun::Stream owns the callable its
// callbacks use, wait() gives the outcome, cancel() stops it from any thread, and destroying
// or moving a running Stream neither leaks nor frees the callable while a callback may run.
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "check.hpp"

using oairun::Error;
using oairun::Event;

using Clock = std::chrono::steady_clock;

// Spins until `count` reaches `n` (at most 10 s); returns whether it did.
static bool wait_for(const std::atomic<int> &count, int n) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (count.load() < n) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

static oairun::ResponseRequest user_request(const std::string &model) {
    oairun::ResponseRequest request;
    request.set_model(model).add_input_json("{\"role\":\"user\",\"content\":\"hi\"}");
    return request;
}

static void started_forms_complete(const oairun::Client &client) {
    // Events run on an oairun thread, one at a time; wait() orders them before what follows.
    std::vector<std::string> names;
    std::string text;
    oairun::Stream stream = client.submit_tool_outputs_stream_start(
        "thread_123", "run_123", cpp_outputs(), [&](const Event &e) {
            names.emplace_back(e.name());
            if (auto d = e.text_delta()) text += *d;
        });
    CHECK(stream.valid() && stream.raw() != NULL);
    stream.wait();
    stream.wait(); // again: the same outcome
    CHECK(names.size() == 16 && names.back() == "done");
    CHECK_EQ_STR(text, "The current weather sunny.");

    text.clear();
    stream = client.create_response_stream_start(user_request("gpt-test"), [&](const Event &e) {
        if (auto d = e.text_delta()) text += *d;
    });
    stream.wait();
    CHECK_EQ_STR(text, "It's 15\xC2\xB0" "C and clear in Paris.");

    // Completions: called once, with the JSON; the callable may own move-only state.
    auto run = std::make_unique<std::string>();
    std::string *run_text = run.get();
    std::atomic<int> calls{0};
    stream = client.submit_tool_outputs_start(
        "thread_123", "run_123", cpp_outputs(),
        [out = std::move(run), &calls](const oairun::Completion &c) {
            calls++;
            CHECK(c.ok() && c.status() == OAIRUN_OK && c.error() == nullptr);
            *out = c.value();
        });
    stream.wait();
    CHECK(calls == 1);
    CHECK(contains(*run_text, "\"object\": \"thread.run\""));
    stream.reset(); // frees the callable, and the string with it
    CHECK(!stream.valid());

    std::string response;
    stream = client.create_response_start(user_request("gpt-test"),
                                          [&](const oairun::Completion &c) { response = c.value(); });
    stream.wait();
    CHECK(response.rfind("{\"id\":\"resp_fixed_text\"", 0) == 0);

    // A failure reaches the completion callback as an Error with its fields, and wait().
    std::optional<Error> seen;
    stream = client.submit_tool_outputs_start("status_404", "run_123", cpp_outputs(),
                                              [&](const oairun::Completion &c) {
                                                  if (c.error()) seen = *c.error();
                                              });
    auto e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_HTTP_STATUS && e->http_status() == 404);
    CHECK(seen && seen->http_status() == 404 && seen->request_id() == e->request_id());
    CHECK(seen && seen->api_type() == std::optional<std::string>("invalid_request_error"));

    // A stream error, and an event callback that returns false.
    stream = client.create_response_stream_start(user_request("error_flat"), [](const Event &) {});
    e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_STREAM_ERROR && e->api_code() == std::optional<std::string>("server_error"));
    std::atomic<int> events{0};
    stream = client.submit_tool_outputs_stream_start("slow_25_60", "run_123", cpp_outputs(),
                                                     [&](const Event &) { return ++events < 2; });
    e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    CHECK(events == 2);
}

static void cancel_from_another_thread(const oairun::Client &client) {
    // `stall`: two events, then nothing for 30 s.
    std::atomic<int> events{0};
    oairun::Stream stream = client.submit_tool_outputs_stream_start(
        "stall", "run_123", cpp_outputs(), [&](const Event &) { events++; });
    CHECK(wait_for(events, 2));
    auto start = Clock::now();
    std::thread canceller([&stream] { stream.cancel(); });
    auto e = THROWN(Error, stream.wait());
    canceller.join();
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    CHECK(ms_since(start) < 5000);
    CHECK(events == 2);
    stream.cancel(); // again, after the end: nothing happens

    // A synchronous call waiting for headers: its completion runs once, cancelled.
    std::atomic<int> calls{0};
    std::atomic<int> status{-1};
    stream = client.create_response_start(user_request("stall"), [&](const oairun::Completion &c) {
        calls++;
        status = c.status();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stream.cancel();
    e = THROWN(Error, stream.wait());
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    CHECK(calls == 1 && status == OAIRUN_CANCELLED);
}

// A callable that checks it is alive whenever it is called, and slows each event down so that
// a Stream is destroyed while a callback may be running.
struct Guarded {
    std::shared_ptr<std::atomic<int>> events;
    std::unique_ptr<int> alive = std::make_unique<int>(1);
    void operator()(const Event &) const {
        ++*events;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // Still alive after the sleep, during which the Stream may be destroyed: state freed
        // too early is a use after free here (ASan, valgrind).
        CHECK(alive && *alive == 1);
    }
};

static void destroying_or_moving_a_running_stream(const oairun::Client &client) {
    auto events = std::make_shared<std::atomic<int>>(0);
    auto start = Clock::now();
    {
        oairun::Stream stream = client.submit_tool_outputs_stream_start(
            "stall", "run_123", cpp_outputs(), Guarded{events});
        CHECK(wait_for(*events, 2));
    } // cancels the stalled stream, then frees the callable
    CHECK(ms_since(start) < 5000);
    for (int i = 0; i < 20; i++) {
        *events = 0;
        oairun::Stream stream = client.submit_tool_outputs_stream_start(
            "slow_1_60", "run_123", cpp_outputs(), Guarded{events});
        CHECK(wait_for(*events, 1 + i % 5));
    }
    int after = events->load();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(events->load() == after); // nothing runs after the destructor

    // Moving a running stream: the new owner cancels and waits; the old one is empty.
    *events = 0;
    oairun::Stream first = client.submit_tool_outputs_stream_start("stall", "run_123",
                                                                   cpp_outputs(), Guarded{events});
    const oairun_stream *raw = first.raw();
    oairun::Stream second(std::move(first));
    CHECK(!first.valid() && first.raw() == NULL && second.raw() == raw);
    oairun::Stream third = client.create_response_stream_start(user_request("gpt-test"),
                                                               [](const Event &) {});
    third.wait();
    third = std::move(second); // frees the finished stream third held
    CHECK(!second && third.raw() == raw);
    CHECK(wait_for(*events, 2));
    third.cancel();
    auto e = THROWN(Error, third.wait());
    CHECK(e && e->status() == OAIRUN_CANCELLED);
    e = THROWN(Error, first.wait());
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    first = std::move(third);
    CHECK(first.raw() == raw && !third);
    first.reset();
    first.reset(); // twice: nothing left to free
}

static void the_client_may_go_first(const std::string &base_url) {
    std::atomic<int> events{0};
    oairun::Stream stream;
    {
        oairun::Client client(
            oairun::ClientOptions().set_api_key("sk-test-cpp").set_base_url(base_url));
        stream = client.submit_tool_outputs_stream_start("slow_10_20", "run_123", cpp_outputs(),
                                                         [&](const Event &) { events++; });
    }
    stream.wait();
    CHECK(events == 20 + 6); /* 3 head events, 20 deltas, 3 tail events (`done` the last) */
}

int main() {
    oairun::Client client = cpp_client();
    started_forms_complete(client);
    cancel_from_another_thread(client);
    destroying_or_moving_a_running_stream(client);
    the_client_may_go_first(test_base_url());
    return check_report("test_cpp_started");
}
