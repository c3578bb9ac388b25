// oairun::Reader, the pull API through oairun.hpp: opened from the Client for both endpoints,
// in both modes; next() and next_batch() give the callback form's events and then nothing
// (done()), or throw the stream's Error at every call; nothing within a time limit leaves
// done() false; cancel() from another thread; fd() for poll(); the move-only owner; a Reader
// outliving its Client.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <type_traits>
#include <vector>

#include "check.hpp"

using oairun::Error;
using oairun::Event;
using oairun::Reader;
using std::chrono::milliseconds;

static_assert(!std::is_copy_constructible_v<Reader>);
static_assert(!std::is_copy_assignable_v<Reader>);
static_assert(std::is_nothrow_move_constructible_v<Reader>);
static_assert(std::is_nothrow_move_assignable_v<Reader>);

static const std::uint32_t modes[] = {0, OAIRUN_READER_BACKGROUND};

// What a stream gave: each event's name and data.
struct Seen {
    std::vector<std::string> names, data;
    std::string text;
    void add(const Event &e) {
        names.emplace_back(e.name());
        data.emplace_back(e.data());
        if (auto delta = e.text_delta()) text += *delta;
    }
    bool operator==(const Seen &o) const {
        return names == o.names && data == o.data && text == o.text;
    }
};

static oairun::ResponseRequest request_for(const std::string &model) {
    oairun::ResponseRequest request;
    request.set_model(model).add_function_call_output("call_fixed_get_weather", "{\"temp_c\":15}");
    return request;
}

static Seen by_callback(const oairun::Client &client, bool responses, const std::string &scenario) {
    Seen seen;
    if (responses)
        client.create_response_stream(request_for(scenario), [&](const Event &e) { seen.add(e); });
    else
        client.submit_tool_outputs_stream(scenario, "run_123", cpp_outputs(),
                                          [&](const Event &e) { seen.add(e); });
    return seen;
}

static Reader open(const oairun::Client &client, bool responses, const std::string &scenario,
                   std::uint32_t flags) {
    if (responses) return client.create_response_stream_open(request_for(scenario), flags);
    return client.submit_tool_outputs_stream_open(scenario, "run_123", cpp_outputs(), flags);
}

static void events_as_the_callback_form(const oairun::Client &client) {
    for (int responses = 0; responses < 2; responses++) {
        const std::string scenario = responses ? "function_call" : "long_100";
        const Seen want = by_callback(client, responses, scenario);
        CHECK(want.names.size() > 6);
        for (std::uint32_t flags : modes) {
            // One at a time.
            Reader reader = open(client, responses, scenario, flags);
            CHECK(reader.valid() && reader.raw() != NULL && !reader.done());
            Seen got;
            while (auto event = reader.next()) got.add(*event);
            CHECK(got == want);
            CHECK(reader.done());
            CHECK(!reader.next(milliseconds(0)) && reader.done()); // the end, again
            CHECK(reader.next_batch(8).empty());

            // In batches, with a limit never reached.
            reader = open(client, responses, scenario, flags);
            CHECK(!reader.done()); // a new reader
            got = Seen();
            std::size_t largest = 0;
            for (;;) {
                std::vector<Event> batch = reader.next_batch(64, milliseconds(20000));
                if (batch.empty()) break;
                largest = std::max(largest, batch.size());
                for (const Event &e : batch) got.add(e);
            }
            CHECK(got == want);
            CHECK(reader.done());
            if (!responses) CHECK(largest > 1); // long_100's deltas come in one read
            auto e = THROWN(Error, reader.next_batch(0));
            CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
        }
    }
}

static void failures_are_thrown(const oairun::Client &client) {
    for (std::uint32_t flags : modes) {
        // A stream error, after its event was taken; again at every call.
        Reader reader = open(client, true, "error_flat", flags);
        std::vector<std::string> names;
        auto e = THROWN(Error, for (;;) {
            auto event = reader.next();
            if (!event) break;
            names.emplace_back(event->name());
        });
        CHECK(e && e->status() == OAIRUN_STREAM_ERROR);
        CHECK(e && e->api_code() == std::optional<std::string>("server_error"));
        CHECK(e && e->http_status() == 200);
        CHECK(!names.empty() && names.back() == "error");
        auto again = THROWN(Error, reader.next(milliseconds(0)));
        CHECK(again && e && again->status() == e->status() && again->message() == e->message());
        again = THROWN(Error, reader.next_batch(4));
        CHECK(again && again->status() == OAIRUN_STREAM_ERROR);
        CHECK(!reader.done());

        // An HTTP status, with its fields.
        reader = open(client, false, "status_404", flags);
        e = THROWN(Error, reader.next());
        CHECK(e && e->status() == OAIRUN_HTTP_STATUS && e->http_status() == 404);
        CHECK(e && e->request_id() && e->request_id()->rfind("req_", 0) == 0);
        CHECK(e && e->api_type() == std::optional<std::string>("invalid_request_error"));

        // An early end.
        reader = open(client, true, "cut", flags);
        e = THROWN(Error, while (reader.next()) {});
        CHECK(e && e->status() == OAIRUN_PROTOCOL && contains(e->message(), "response.completed"));
    }

    // Refused at the open: nothing to read.
    oairun::ResponseRequest no_input;
    no_input.set_model("gpt-test");
    auto e = THROWN(Error, client.create_response_stream_open(no_input));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->message(), "no input item"));
    e = THROWN(Error, client.create_response_stream_open(request_for("gpt-test"), 2));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->message(), "unknown flags"));
    e = THROWN(Error, client.submit_tool_outputs_stream_open("", "run_1", cpp_outputs()));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT && contains(e->message(), "thread_id"));
    e = THROWN(Error, client.submit_tool_outputs_stream_open("thread_1", "run_1", oairun::ToolOutputs()));
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
}

static void time_limits_and_cancel(const oairun::Client &client) {
    for (std::uint32_t flags : modes) {
        // `stall`: response.created, then 30 s of nothing.
        Reader reader = open(client, true, "stall", flags);
        auto first = reader.next();
        CHECK(first && first->kind() == OAIRUN_KIND_RESPONSE_CREATED);
        CHECK(!reader.next(milliseconds(0)) && !reader.done());
        CHECK(!reader.next(milliseconds(50)) && !reader.done());
        CHECK(reader.next_batch(4, milliseconds(0)).empty() && !reader.done());
        // A timeout too long for an int is the longest the C API takes, not a negative one.
        std::atomic<bool> returned{false};
        std::thread canceller([&] {
            std::this_thread::sleep_for(milliseconds(100));
            CHECK(!returned.load()); // still waiting: the limit was not taken for none
            reader.cancel();
        });
        auto start = std::chrono::steady_clock::now();
        auto e = THROWN(Error, reader.next(std::chrono::hours(24 * 365)));
        returned = true;
        canceller.join();
        CHECK(e && e->status() == OAIRUN_CANCELLED);
        CHECK(ms_since(start) < 5000);
        e = THROWN(Error, reader.next());
        CHECK(e && e->status() == OAIRUN_CANCELLED);
        reader.cancel(); // again: nothing happens
    }
}

static bool readable(int fd, int timeout_ms) {
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void descriptor(const oairun::Client &client) {
    Reader direct = open(client, true, "gpt-test", 0);
    auto e = THROWN(Error, direct.fd());
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);

    // An event loop: poll, then take what is there without waiting.
    const Seen want = by_callback(client, false, "slow_50_5");
    Reader reader = open(client, false, "slow_50_5", OAIRUN_READER_BACKGROUND);
    int fd = reader.fd();
    CHECK(fd >= 0 && reader.fd() == fd);
    std::vector<std::string> names;
    int wakeups = 0;
    while (!reader.done() && wakeups < 1000) {
        CHECK(readable(fd, 10000));
        wakeups++;
        for (;;) {
            std::vector<Event> batch = reader.next_batch(16, milliseconds(0));
            if (batch.empty()) break;
            for (const Event &event : batch) names.emplace_back(event.name());
        }
    }
    CHECK(reader.done());
    CHECK(names == want.names); // the deltas' data carry their write time: names only
    CHECK(wakeups > 1);
}

static void owner(const oairun::Client &client, const std::string &base_url) {
    Reader empty;
    CHECK(!empty.valid() && !empty && empty.raw() == NULL && !empty.done());
    auto e = THROWN(Error, empty.next());
    CHECK(e && e->status() == OAIRUN_INVALID_ARGUMENT);
    empty.cancel();
    empty.reset();

    // Moving: the new owner reads on, the old one is empty.
    Reader first = open(client, false, "thread_123", 0);
    const oairun_reader *raw = first.raw();
    CHECK(first.next().has_value());
    Reader second(std::move(first));
    CHECK(!first.valid() && second.raw() == raw);
    int count = 1;
    while (second.next()) count++;
    CHECK(count == 16 && second.done());
    first = std::move(second);
    CHECK(first.raw() == raw && first.done() && !second.valid() && !second.done());
    first = open(client, true, "stall", OAIRUN_READER_BACKGROUND); // frees the finished one
    CHECK(first.raw() != raw && !first.done());
    first.reset(); // mid-stream
    first.reset();

    // Read on another thread.
    Reader moved = open(client, true, "gpt-test", OAIRUN_READER_BACKGROUND);
    Seen got;
    std::thread([&] {
        while (auto event = moved.next()) got.add(*event);
    }).join();
    CHECK(got == by_callback(client, true, "gpt-test"));

    // The Client may go first.
    for (std::uint32_t flags : modes) {
        Reader reader;
        {
            oairun::Client gone(
                oairun::ClientOptions().set_api_key("sk-test-cpp").set_base_url(base_url));
            reader = open(gone, false, "long_100", flags);
        }
        int n = 0;
        while (reader.next()) n++;
        CHECK(n == 100 + 6 && reader.done());
    }
}

int main() {
    oairun::Client client = cpp_client();
    events_as_the_callback_form(client);
    failures_are_thrown(client);
    time_limits_and_cancel(client);
    descriptor(client);
    owner(client, test_base_url());
    return check_report("test_cpp_reader");
}
