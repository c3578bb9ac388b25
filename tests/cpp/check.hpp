// What the C++ tests share: the C tests' checks and test-server helpers (tests/c/check.h and
// tests/c/server.h compile as C++), a client for the test server, and a check that a call
// throws a given exception type and hands it back for the fields to be checked.
#ifndef OAIRUN_TEST_CHECK_HPP
#define OAIRUN_TEST_CHECK_HPP

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../c/check.h"
#include "../c/server.h"
#include "oairun.hpp"

// The loopback test server's client, built through the C++ options builder.
[[maybe_unused]] static oairun::Client cpp_client() {
    return oairun::Client(
        oairun::ClientOptions().set_api_key("sk-test-cpp").set_base_url(test_base_url()));
}

// One output for call_001, as the reference run expects.
[[maybe_unused]] static oairun::ToolOutputs cpp_outputs() {
    oairun::ToolOutputs outputs;
    outputs.add("call_001", "70 degrees and sunny.");
    return outputs;
}

[[maybe_unused]] static bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// Runs `f`, which must throw an `Ex`: returns a copy of it, or nothing (a failed check, with
// the line) when `f` returned or threw something else.
template <class Ex, class F>
std::optional<Ex> thrown(int line, F &&f) {
    try {
        f();
        fprintf(stderr, "%s:%d: nothing was thrown\n", __FILE__, line);
    } catch (const Ex &e) {
        return e;
    } catch (const std::exception &e) {
        fprintf(stderr, "%s:%d: another exception was thrown: %s\n", __FILE__, line, e.what());
    } catch (...) {
        fprintf(stderr, "%s:%d: an exception of another type was thrown\n", __FILE__, line);
    }
    check_failures++;
    return std::nullopt;
}
#define THROWN(Ex, ...) thrown<Ex>(__LINE__, [&] { __VA_ARGS__; })

// CHECK_STR for C++ strings and views.
#define CHECK_EQ_STR(got, want)                                                            \
    do {                                                                                   \
        std::string got_(got), want_(want);                                                \
        if (got_ != want_) {                                                               \
            fprintf(stderr, "%s:%d: got \"%s\", expected \"%s\"\n", __FILE__, __LINE__,   \
                    got_.c_str(), want_.c_str());                                          \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

[[maybe_unused]] static double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

#endif
