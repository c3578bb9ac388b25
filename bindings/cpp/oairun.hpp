/*
 * oairun.hpp: the C++17 face of oairun, header-only, over the C API of oairun.h.
 *
 * What it adds to the C API, and nothing else:
 * - Ownership: every oairun_x_new / oairun_x_free pair is a move-only class that frees in its
 *   destructor (ClientOptions, Client, ToolOutputs, ResponseRequest, ToolCalls, Stream,
 *   Reader); a
 *   moved-from object is empty (`raw()` is NULL) and its destructor does nothing. Strings
 *   oairun hands out are copied into std::string and freed with oairun_string_free at once.
 * - Errors: a failed call throws oairun::Error, which carries every field of oairun_error
 *   (status, message, HTTP status, request id, the API's type, code and param).
 * - Callbacks: any callable (a lambda, a function object, a std::function). The C callbacks
 *   are noexcept trampolines: an exception thrown by your callable is caught, the C operation
 *   is stopped (the trampoline returns non-zero), and the same exception is rethrown once the
 *   C call has returned (for a started Stream: by Stream::wait). No exception ever unwinds
 *   through oairun's C functions: that would be undefined behaviour, as they are Rust code.
 *
 * Callables, by role:
 * - Event callback: `void(const oairun::Event&)`, or `bool(const oairun::Event&)` where
 *   `false` stops the stream (the call then fails with OAIRUN_CANCELLED). Throwing stops it
 *   too, and the exception reaches the caller instead.
 * - Completion callback (Client::submit_tool_outputs_start, Client::create_response_start):
 *   `void(const oairun::Completion&)`, called once on an oairun callback thread.
 * - Tool handler (the tool-call loops): takes `const oairun::ToolCall&` and returns the call's
 *   output as anything convertible to std::string. Throwing stops the loop (no further
 *   request is made) and the exception reaches the caller.
 * - Log callback: `void(oairun_log_level, std::string_view)` (oairun::set_log_callback).
 *
 * Strings passed in are `const std::string&` (so a literal works); they must be UTF-8, and the
 * C API reads them up to their first NUL. Views returned (std::string_view) borrow from the
 * object they came from and live exactly as long as the C documentation says for it.
 *
 * Threads: as in oairun.h. A Client may be used from many threads at once; the callbacks of a
 * blocking call run on the calling thread; those of a started Stream on an oairun callback
 * thread, one at a time. A Reader has no callbacks: its events are taken by the thread that
 * calls Reader::next, one call at a time.
 *
 * Build: `-I<dir of oairun.h> -I<dir of oairun.hpp>` (both are installed in the same include
 * folder), link with -loairun, -std=c++17 or later.
 */

#ifndef OAIRUN_HPP
#define OAIRUN_HPP

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "oairun.h"

namespace oairun {

/// The version of the loaded library, e.g. "0.1.0" (OAIRUN_VERSION_STRING when it matches
/// the header).
inline std::string_view version() noexcept { return oairun_version(); }

/// A short description of a status, e.g. "maximum turns reached".
inline std::string_view status_str(oairun_status status) noexcept {
    return oairun_status_str(static_cast<int>(status));
}

/// The error every failed call throws: the fields of an oairun_error, copied (so an Error
/// outlives the C error and copies cheaply). `what()` is the message.
class Error : public std::runtime_error {
public:
    /// Copies every field of `error` (which stays the caller's to free).
    explicit Error(const oairun_error &error)
        : std::runtime_error(oairun_error_message(&error)),
          details_(std::make_shared<Details>(Details{
              oairun_error_status(&error), oairun_error_http_status(&error),
              optional_string(oairun_error_request_id(&error)),
              optional_string(oairun_error_api_type(&error)),
              optional_string(oairun_error_api_code(&error)),
              optional_string(oairun_error_api_param(&error))})) {}

    /// An error made on the C++ side (a refused setter, an output with a NUL byte): no HTTP
    /// status and no API fields.
    Error(oairun_status status, const std::string &message)
        : std::runtime_error(message),
          details_(std::make_shared<Details>(
              Details{status, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt})) {}

    /// The status (never OAIRUN_OK).
    oairun_status status() const noexcept { return details_->status; }
    /// The message for people (for an HTTP error: the status, the API's message, the request
    /// id); the same text as what().
    std::string_view message() const noexcept { return what(); }
    /// The HTTP status of the answer the error came from; 0 when there was none.
    std::uint16_t http_status() const noexcept { return details_->http_status; }
    /// The answer's x-request-id header, when there was one.
    const std::optional<std::string> &request_id() const noexcept { return details_->request_id; }
    /// The API's error.type, e.g. "invalid_request_error", when the server sent one.
    const std::optional<std::string> &api_type() const noexcept { return details_->api_type; }
    /// The API's error.code, e.g. "rate_limit_exceeded", when the server sent one.
    const std::optional<std::string> &api_code() const noexcept { return details_->api_code; }
    /// The API's error.param (the request field at fault), when the server sent one.
    const std::optional<std::string> &api_param() const noexcept { return details_->api_param; }

private:
    struct Details {
        oairun_status status;
        std::uint16_t http_status;
        std::optional<std::string> request_id, api_type, api_code, api_param;
    };
    static std::optional<std::string> optional_string(const char *s) {
        if (!s) return std::nullopt;
        return std::string(s);
    }
    std::shared_ptr<const Details> details_;
};

namespace detail {

struct ErrorFree {
    void operator()(oairun_error *e) const noexcept { oairun_error_free(e); }
};
struct StringFree {
    void operator()(char *s) const noexcept { oairun_string_free(s); }
};
using OwnedError = std::unique_ptr<oairun_error, ErrorFree>;
/// A string oairun handed out, freed with oairun_string_free.
using OwnedString = std::unique_ptr<char, StringFree>;

/// Throws the Error of a failed call; takes ownership of `err` (freed in any case). `err` is
/// taken by reference so that `check(oairun_x(…, &err), err)` reads it after the call wrote
/// it (the order in which function arguments are evaluated is unspecified).
inline void check(oairun_status status, oairun_error *&err) {
    OwnedError owned(std::exchange(err, nullptr));
    if (status == OAIRUN_OK) return;
    if (owned) throw Error(*owned);
    throw Error(status, std::string(oairun_status_str(static_cast<int>(status))));
}

/// For the setters that give no oairun_error: the status and which setter refused.
inline void check_setter(oairun_status status, const char *what) {
    if (status != OAIRUN_OK)
        throw Error(status, std::string(what) + ": " +
                                oairun_status_str(static_cast<int>(status)));
}

/// Copies a string oairun handed out and frees it.
inline std::string take_string(char *s) {
    OwnedString owned(s);
    return owned ? std::string(owned.get()) : std::string();
}

template <class T>
T *not_null(T *p) {
    if (!p) throw std::bad_alloc();
    return p;
}

/// Exchanges a raw owning pointer with another's, for the move operations.
template <class T>
T *take(T *&p) noexcept {
    return std::exchange(p, nullptr);
}

} // namespace detail

class ToolCalls;

/// One function call the model asked for: a view, valid as long as what lent it (the
/// ToolCalls list, or the tool handler's call).
class ToolCall {
public:
    explicit ToolCall(const oairun_tool_call *call) noexcept : call_(call) {}
    /// The id its output must name (`call_…`).
    std::string_view id() const noexcept { return view(oairun_tool_call_id(call_)); }
    /// The function's name, e.g. "get_weather".
    std::string_view name() const noexcept { return view(oairun_tool_call_name(call_)); }
    /// The arguments' JSON text as the model wrote it (may be empty).
    std::string_view arguments() const noexcept {
        return view(oairun_tool_call_arguments(call_));
    }
    const oairun_tool_call *raw() const noexcept { return call_; }

private:
    static std::string_view view(const char *s) noexcept {
        return s ? std::string_view(s) : std::string_view();
    }
    const oairun_tool_call *call_;
};

/// An owned list of function calls, in the model's order (oairun_tool_calls).
class ToolCalls {
public:
    /// The calls of a Run's or a Response's JSON text (an empty list when it has none).
    static ToolCalls from_json(const std::string &run_or_response_json) {
        oairun_tool_calls *out = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_tool_calls_from_json(run_or_response_json.c_str(), &out, &err), err);
        return ToolCalls(out);
    }
    /// Takes ownership of a list from the C API (may be NULL: an empty object).
    explicit ToolCalls(oairun_tool_calls *calls) noexcept : calls_(calls) {}
    ToolCalls(ToolCalls &&other) noexcept : calls_(detail::take(other.calls_)) {}
    ToolCalls &operator=(ToolCalls &&other) noexcept {
        if (this != &other) {
            oairun_tool_calls_free(calls_);
            calls_ = detail::take(other.calls_);
        }
        return *this;
    }
    ToolCalls(const ToolCalls &) = delete;
    ToolCalls &operator=(const ToolCalls &) = delete;
    ~ToolCalls() { oairun_tool_calls_free(calls_); }

    std::size_t size() const noexcept { return oairun_tool_calls_count(calls_); }
    bool empty() const noexcept { return size() == 0; }
    /// The call at `index`; throws std::out_of_range past the end.
    ToolCall at(std::size_t index) const {
        const oairun_tool_call *call = oairun_tool_calls_get(calls_, index);
        if (!call) throw std::out_of_range("oairun::ToolCalls::at: index past the end");
        return ToolCall(call);
    }
    ToolCall operator[](std::size_t index) const noexcept {
        return ToolCall(oairun_tool_calls_get(calls_, index));
    }

    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = ToolCall;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = ToolCall;
        iterator(const oairun_tool_calls *calls, std::size_t i) noexcept : calls_(calls), i_(i) {}
        ToolCall operator*() const noexcept { return ToolCall(oairun_tool_calls_get(calls_, i_)); }
        iterator &operator++() noexcept {
            ++i_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator before = *this;
            ++i_;
            return before;
        }
        bool operator==(const iterator &o) const noexcept { return i_ == o.i_ && calls_ == o.calls_; }
        bool operator!=(const iterator &o) const noexcept { return !(*this == o); }

    private:
        const oairun_tool_calls *calls_;
        std::size_t i_;
    };
    iterator begin() const noexcept { return iterator(calls_, 0); }
    iterator end() const noexcept { return iterator(calls_, size()); }

    const oairun_tool_calls *raw() const noexcept { return calls_; }
    /// Gives up ownership: the caller frees the list with oairun_tool_calls_free.
    oairun_tool_calls *release() noexcept { return detail::take(calls_); }

private:
    oairun_tool_calls *calls_;
};

/// One event of a stream: a view lent to an event callback, valid only until it returns
/// (copy what you keep, e.g. `std::string(event.data())`).
class Event {
public:
    explicit Event(const oairun_event *event) noexcept : event_(event) {}
    /// The event's name, e.g. "thread.message.delta" or "response.output_text.delta".
    std::string_view name() const noexcept {
        const char *s = oairun_event_name(event_);
        return s ? std::string_view(s) : std::string_view();
    }
    /// The event's data (its data lines joined with LF; may hold NUL bytes).
    std::string_view data() const noexcept {
        std::size_t len = 0;
        const char *s = oairun_event_data(event_, &len);
        return s ? std::string_view(s, len) : std::string_view();
    }
    /// The last event id the stream set, when it set one.
    std::optional<std::string_view> id() const noexcept {
        const char *s = oairun_event_id(event_);
        if (!s) return std::nullopt;
        return std::string_view(s);
    }
    /// The kind, from the name (OAIRUN_KIND_UNKNOWN for names this version does not know).
    oairun_kind kind() const noexcept { return oairun_event_kind(event_); }
    /// The text this event adds to the model's answer (a thread.message.delta's text parts, a
    /// response.output_text.delta's delta), or nothing for any other event.
    std::optional<std::string_view> text_delta() const noexcept {
        std::size_t len = 0;
        const char *s = oairun_event_text_delta(event_, &len);
        if (!s) return std::nullopt;
        return std::string_view(s, len);
    }
    /// The function calls of a thread.run.requires_action or response.completed event (an
    /// empty list for any other); the list outlives the event.
    ToolCalls tool_calls() const {
        oairun_tool_calls *out = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_event_tool_calls(event_, &out, &err), err);
        return ToolCalls(out);
    }
    const oairun_event *raw() const noexcept { return event_; }

private:
    const oairun_event *event_;
};

/// The outcome of a started synchronous call, lent to a completion callback for the duration
/// of the call.
class Completion {
public:
    Completion(oairun_status status, const char *json, const oairun_error *error)
        : status_(status), json_(json ? std::string_view(json) : std::string_view()) {
        if (status != OAIRUN_OK) {
            if (error) error_.emplace(*error);
            else error_.emplace(status, oairun_status_str(static_cast<int>(status)));
        }
    }
    oairun_status status() const noexcept { return status_; }
    bool ok() const noexcept { return status_ == OAIRUN_OK; }
    /// The Run's or Response's JSON text on success; empty otherwise.
    std::string_view json() const noexcept { return json_; }
    /// The failure, or nullptr on success.
    const Error *error() const noexcept { return error_ ? &*error_ : nullptr; }
    /// The JSON text, or throws the failure (from a completion callback, Stream::wait then
    /// rethrows it).
    std::string value() const {
        if (error_) throw *error_;
        return std::string(json_);
    }

private:
    oairun_status status_;
    std::string_view json_;
    std::optional<Error> error_;
};

/// Settings for a Client (oairun_client_options), set one by one; each setter returns *this
/// and throws Error (OAIRUN_INVALID_ARGUMENT) when the C setter refuses the value. Unset
/// settings come from the environment (OPENAI_API_KEY, OPENAI_BASE_URL, …) and the defaults.
class ClientOptions {
public:
    ClientOptions() : options_(detail::not_null(oairun_client_options_new())) {}
    ClientOptions(ClientOptions &&other) noexcept : options_(detail::take(other.options_)) {}
    ClientOptions &operator=(ClientOptions &&other) noexcept {
        if (this != &other) {
            oairun_client_options_free(options_);
            options_ = detail::take(other.options_);
        }
        return *this;
    }
    ClientOptions(const ClientOptions &) = delete;
    ClientOptions &operator=(const ClientOptions &) = delete;
    ~ClientOptions() { oairun_client_options_free(options_); }

    ClientOptions &set_api_key(const std::string &api_key) {
        detail::check_setter(oairun_client_options_set_api_key(options_, api_key.c_str()),
                             "oairun_client_options_set_api_key");
        return *this;
    }
    ClientOptions &set_base_url(const std::string &base_url) {
        detail::check_setter(oairun_client_options_set_base_url(options_, base_url.c_str()),
                             "oairun_client_options_set_base_url");
        return *this;
    }
    ClientOptions &set_organization(const std::string &organization) {
        detail::check_setter(
            oairun_client_options_set_organization(options_, organization.c_str()),
            "oairun_client_options_set_organization");
        return *this;
    }
    ClientOptions &set_project(const std::string &project) {
        detail::check_setter(oairun_client_options_set_project(options_, project.c_str()),
                             "oairun_client_options_set_project");
        return *this;
    }
    ClientOptions &add_header(const std::string &name, const std::string &value) {
        detail::check_setter(
            oairun_client_options_add_header(options_, name.c_str(), value.c_str()),
            "oairun_client_options_add_header");
        return *this;
    }
    ClientOptions &set_timeout_ms(std::uint64_t timeout_ms) {
        detail::check_setter(oairun_client_options_set_timeout_ms(options_, timeout_ms),
                             "oairun_client_options_set_timeout_ms");
        return *this;
    }
    ClientOptions &set_connect_timeout_ms(std::uint64_t timeout_ms) {
        detail::check_setter(oairun_client_options_set_connect_timeout_ms(options_, timeout_ms),
                             "oairun_client_options_set_connect_timeout_ms");
        return *this;
    }
    ClientOptions &set_read_timeout_ms(std::uint64_t timeout_ms) {
        detail::check_setter(oairun_client_options_set_read_timeout_ms(options_, timeout_ms),
                             "oairun_client_options_set_read_timeout_ms");
        return *this;
    }
    ClientOptions &allow_insecure_http(bool allow = true) {
        detail::check_setter(oairun_client_options_allow_insecure_http(options_, allow ? 1 : 0),
                             "oairun_client_options_allow_insecure_http");
        return *this;
    }
    ClientOptions &set_max_response_bytes(std::uint64_t max_bytes) {
        detail::check_setter(oairun_client_options_set_max_response_bytes(options_, max_bytes),
                             "oairun_client_options_set_max_response_bytes");
        return *this;
    }
    ClientOptions &set_max_event_bytes(std::uint64_t max_bytes) {
        detail::check_setter(oairun_client_options_set_max_event_bytes(options_, max_bytes),
                             "oairun_client_options_set_max_event_bytes");
        return *this;
    }
    ClientOptions &set_max_retries(std::uint32_t max_retries) {
        detail::check_setter(oairun_client_options_set_max_retries(options_, max_retries),
                             "oairun_client_options_set_max_retries");
        return *this;
    }
    /// Trusts the certificate authorities in `pem` (one or more PEM certificates) on top of
    /// the default roots; throws Error naming the problem when the text is not usable PEM.
    ClientOptions &add_root_certificate_pem(const std::string &pem) {
        oairun_error *err = nullptr;
        detail::check(oairun_client_options_add_root_certificate_pem(options_, pem.c_str(), &err),
                      err);
        return *this;
    }
    /// Sends every request through the proxy `url` (`http://[user:password@]host:port`),
    /// whatever HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY say.
    ClientOptions &set_proxy(const std::string &url) {
        oairun_error *err = nullptr;
        detail::check(oairun_client_options_set_proxy(options_, url.c_str(), &err), err);
        return *this;
    }

    const oairun_client_options *raw() const noexcept { return options_; }
    oairun_client_options *raw() noexcept { return options_; }

private:
    oairun_client_options *options_;
};

/// An owned list of tool outputs for an Assistants submission (oairun_tool_outputs).
class ToolOutputs {
public:
    ToolOutputs() : outputs_(detail::not_null(oairun_tool_outputs_new())) {}
    /// A list from the API's JSON shape, `[{"tool_call_id": "call_1", "output": "…"}, …]`.
    static ToolOutputs from_json(const std::string &json_array) {
        oairun_tool_outputs *out = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_tool_outputs_from_json(json_array.c_str(), &out, &err), err);
        return ToolOutputs(out);
    }
    /// Takes ownership of a list from the C API.
    explicit ToolOutputs(oairun_tool_outputs *outputs) noexcept : outputs_(outputs) {}
    ToolOutputs(ToolOutputs &&other) noexcept : outputs_(detail::take(other.outputs_)) {}
    ToolOutputs &operator=(ToolOutputs &&other) noexcept {
        if (this != &other) {
            oairun_tool_outputs_free(outputs_);
            outputs_ = detail::take(other.outputs_);
        }
        return *this;
    }
    ToolOutputs(const ToolOutputs &) = delete;
    ToolOutputs &operator=(const ToolOutputs &) = delete;
    ~ToolOutputs() { oairun_tool_outputs_free(outputs_); }

    /// Appends the output of one call (any text; empty allowed).
    ToolOutputs &add(const std::string &tool_call_id, const std::string &output) {
        detail::check_setter(
            oairun_tool_outputs_add(outputs_, tool_call_id.c_str(), output.c_str()),
            "oairun_tool_outputs_add");
        return *this;
    }

    const oairun_tool_outputs *raw() const noexcept { return outputs_; }
    oairun_tool_outputs *raw() noexcept { return outputs_; }

private:
    oairun_tool_outputs *outputs_;
};

/// The body of one POST /responses (oairun_response_request), built field by field; each
/// setter returns *this and throws Error when the value is refused.
class ResponseRequest {
public:
    ResponseRequest() : request_(detail::not_null(oairun_response_request_new())) {}
    ResponseRequest(ResponseRequest &&other) noexcept : request_(detail::take(other.request_)) {}
    ResponseRequest &operator=(ResponseRequest &&other) noexcept {
        if (this != &other) {
            oairun_response_request_free(request_);
            request_ = detail::take(other.request_);
        }
        return *this;
    }
    ResponseRequest(const ResponseRequest &) = delete;
    ResponseRequest &operator=(const ResponseRequest &) = delete;
    ~ResponseRequest() { oairun_response_request_free(request_); }

    ResponseRequest &set_model(const std::string &model) {
        detail::check_setter(oairun_response_request_set_model(request_, model.c_str()),
                             "oairun_response_request_set_model");
        return *this;
    }
    ResponseRequest &set_previous_response_id(const std::string &response_id) {
        detail::check_setter(
            oairun_response_request_set_previous_response_id(request_, response_id.c_str()),
            "oairun_response_request_set_previous_response_id");
        return *this;
    }
    ResponseRequest &set_instructions(const std::string &text) {
        detail::check_setter(oairun_response_request_set_instructions(request_, text.c_str()),
                             "oairun_response_request_set_instructions");
        return *this;
    }
    /// `tools` from the text of a JSON array (sent as given).
    ResponseRequest &set_tools_json(const std::string &json_array) {
        oairun_error *err = nullptr;
        detail::check(oairun_response_request_set_tools_json(request_, json_array.c_str(), &err),
                      err);
        return *this;
    }
    /// Appends a function_call_output item answering `call_id`.
    ResponseRequest &add_function_call_output(const std::string &call_id,
                                              const std::string &output) {
        detail::check_setter(oairun_response_request_add_function_call_output(
                                 request_, call_id.c_str(), output.c_str()),
                             "oairun_response_request_add_function_call_output");
        return *this;
    }
    /// Appends any input item given as the text of a JSON object, e.g.
    /// `{"role":"user","content":"…"}`.
    ResponseRequest &add_input_json(const std::string &item_json) {
        oairun_error *err = nullptr;
        detail::check(oairun_response_request_add_input_json(request_, item_json.c_str(), &err),
                      err);
        return *this;
    }
    /// Sets any other top-level field to the text of a JSON value, e.g. ("store", "false").
    ResponseRequest &set_field_json(const std::string &name, const std::string &json_value) {
        oairun_error *err = nullptr;
        detail::check(oairun_response_request_set_field_json(request_, name.c_str(),
                                                             json_value.c_str(), &err),
                      err);
        return *this;
    }

    const oairun_response_request *raw() const noexcept { return request_; }
    oairun_response_request *raw() noexcept { return request_; }

private:
    oairun_response_request *request_;
};

namespace detail {

/// What a started call's callbacks use, owned by its Stream: the callable and the exception
/// it threw, if any.
struct StartedState {
    virtual ~StartedState() = default;
    std::exception_ptr exception;
};

/// Calls an event callable; returns the C callback's answer (0 go on, 1 stop).
template <class F>
int deliver_event(F &f, const oairun_event *event) {
    using R = std::invoke_result_t<F &, const Event &>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, bool>,
                  "an oairun event callback returns void, or bool (false stops the stream)");
    Event view(event);
    if constexpr (std::is_void_v<R>) {
        std::invoke(f, view);
        return 0;
    } else {
        return std::invoke(f, view) ? 0 : 1;
    }
}

/// A blocking call's event callback: lives on the caller's stack for the call.
template <class F>
struct BlockingEvents {
    F &f;
    std::exception_ptr exception;

    static int trampoline(const oairun_event *event, void *user_data) noexcept {
        auto *self = static_cast<BlockingEvents *>(user_data);
        try {
            return deliver_event(self->f, event);
        } catch (...) {
            self->exception = std::current_exception();
            return 1;
        }
    }
};

template <class F>
struct StartedEvents final : StartedState {
    F f;
    template <class G>
    explicit StartedEvents(G &&callable) : f(std::forward<G>(callable)) {}

    static int trampoline(const oairun_event *event, void *user_data) noexcept {
        auto *self = static_cast<StartedEvents *>(user_data);
        try {
            return deliver_event(self->f, event);
        } catch (...) {
            self->exception = std::current_exception();
            return 1;
        }
    }
};

template <class F>
struct StartedCompletion final : StartedState {
    F f;
    template <class G>
    explicit StartedCompletion(G &&callable) : f(std::forward<G>(callable)) {}

    static void trampoline(oairun_status status, const char *json, const oairun_error *error,
                           void *user_data) noexcept {
        auto *self = static_cast<StartedCompletion *>(user_data);
        try {
            const Completion completion(status, json, error);
            std::invoke(self->f, completion);
        } catch (...) {
            self->exception = std::current_exception();
        }
    }
};

/// A tool-call loop's handler and event callback, on the caller's stack for the call.
template <class H, class E>
struct Loop {
    H &handler;
    E *on_event; // nullptr when the caller gave none
    std::exception_ptr exception;

    static int handle(const oairun_tool_call *call, oairun_tool_result *result,
                      void *user_data) noexcept {
        auto *self = static_cast<Loop *>(user_data);
        try {
            const ToolCall view(call);
            const std::string output(std::invoke(self->handler, view));
            if (output.find('\0') != std::string::npos)
                throw Error(OAIRUN_INVALID_ARGUMENT,
                            "the output of tool call " + std::string(view.id()) +
                                " holds a NUL byte");
            oairun_status status = oairun_tool_result_set_output(result, output.c_str());
            if (status != OAIRUN_OK)
                throw Error(status, "the output of tool call " + std::string(view.id()) +
                                        " was refused (not UTF-8?)");
            return 0;
        } catch (...) {
            self->exception = std::current_exception();
            return 1;
        }
    }

    static int event(const oairun_event *event, void *user_data) noexcept {
        if constexpr (std::is_same_v<E, std::nullptr_t>) {
            (void)event;
            (void)user_data;
            return 0; // never called: the loop gets a NULL event callback
        } else {
            auto *self = static_cast<Loop *>(user_data);
            try {
                return deliver_event(*self->on_event, event);
            } catch (...) {
                self->exception = std::current_exception();
                return 1;
            }
        }
    }
};

/// After a C call with callbacks: the callbacks' exception first, else the call's error.
inline void finish(std::exception_ptr &exception, oairun_status status, oairun_error *&err) {
    OwnedError owned(std::exchange(err, nullptr));
    if (exception) std::rethrow_exception(exception);
    oairun_error *e = owned.release();
    check(status, e);
}

} // namespace detail

/// A started call (oairun_stream), from one of Client's `_start` methods: move-only. It owns
/// the callable its callbacks use; the destructor frees the C handle first (which cancels the
/// call if it is still running and waits for a running callback to return), then the
/// callable. Destroy a Stream outside oairun callbacks: from a callback, freeing does not
/// wait for the stream's own callbacks.
class Stream {
public:
    /// An empty stream (raw() is NULL).
    Stream() noexcept = default;
    Stream(Stream &&other) noexcept
        : stream_(detail::take(other.stream_)), state_(std::move(other.state_)) {}
    Stream &operator=(Stream &&other) noexcept {
        if (this != &other) {
            reset();
            stream_ = detail::take(other.stream_);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;
    ~Stream() { reset(); }

    /// Stops the call from any thread: no callback of it starts after this returns (from
    /// outside a callback), and its outcome becomes OAIRUN_CANCELLED unless it had ended.
    void cancel() const noexcept { oairun_stream_cancel(stream_); }

    /// Waits until the call has ended; then rethrows the exception a callback threw, if any,
    /// else throws Error when the call failed (OAIRUN_CANCELLED after cancel()). May be
    /// called again, with the same outcome. Not from one of this stream's own callbacks
    /// (that throws Error, OAIRUN_INVALID_ARGUMENT).
    void wait() const {
        oairun_error *err = nullptr;
        oairun_status status = oairun_stream_wait(stream_, &err);
        detail::OwnedError owned(err);
        // Any outcome but INVALID_ARGUMENT (a NULL stream, or a wait from inside a callback
        // of a call still running) means the call has ended: no callback runs any more, so
        // the exception a callback stored is settled.
        if (status != OAIRUN_INVALID_ARGUMENT && state_ && state_->exception)
            std::rethrow_exception(state_->exception);
        err = owned.release();
        detail::check(status, err);
    }

    /// Frees the call (cancelling it if running) and its state; the Stream is then empty.
    void reset() noexcept {
        oairun_stream_free(detail::take(stream_));
        state_.reset();
    }

    bool valid() const noexcept { return stream_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    const oairun_stream *raw() const noexcept { return stream_; }

private:
    friend class Client;
    Stream(oairun_stream *stream, std::unique_ptr<detail::StartedState> state) noexcept
        : stream_(stream), state_(std::move(state)) {}

    oairun_stream *stream_ = nullptr;
    std::unique_ptr<detail::StartedState> state_;
};

/// A stream whose events the caller takes (oairun_reader, the pull API), from
/// Client::create_response_stream_open or Client::submit_tool_outputs_stream_open: move-only,
/// freed (and its connection dropped, if the stream is not over) by the destructor.
///
/// next() and next_batch() give the events in wire order, the terminal one included, as the
/// callback forms deliver them; once the stream is over they give its outcome at every call:
/// nothing (done() is then true) when it ended well, else they throw its Error. Each call
/// waits at most `timeout` (negative, the default: no limit of its own, only the client's read
/// timeout); when nothing came in time it returns nothing and done() stays false: call again.
/// The events are views valid until the next call on this Reader (or its destruction).
///
/// Without OAIRUN_READER_BACKGROUND the stream is read on the thread that calls next(), inside
/// the call; with it, oairun's threads read ahead and fd() gives a descriptor to poll. One call
/// at a time (cancel() excepted, from any thread); the Reader may move between threads from
/// one call to the next.
class Reader {
public:
    /// No limit of the call's own: the client's read timeout only.
    static constexpr std::chrono::milliseconds no_limit{-1};

    /// An empty reader (raw() is NULL).
    Reader() noexcept = default;
    /// Takes ownership of a reader from the C API.
    explicit Reader(oairun_reader *reader) noexcept : reader_(reader) {}
    Reader(Reader &&other) noexcept
        : reader_(detail::take(other.reader_)), done_(std::exchange(other.done_, false)),
          batch_(std::move(other.batch_)) {}
    Reader &operator=(Reader &&other) noexcept {
        if (this != &other) {
            reset();
            reader_ = detail::take(other.reader_);
            done_ = std::exchange(other.done_, false);
            batch_ = std::move(other.batch_);
        }
        return *this;
    }
    Reader(const Reader &) = delete;
    Reader &operator=(const Reader &) = delete;
    ~Reader() { reset(); }

    /// The next event, waiting for it at most `timeout`; nothing when the stream has ended
    /// well (done() is true) or nothing came in time (done() is false). Throws the stream's
    /// Error when it failed (OAIRUN_CANCELLED after cancel()), again at every later call.
    std::optional<Event> next(std::chrono::milliseconds timeout = no_limit) {
        const oairun_event *event = nullptr;
        oairun_error *err = nullptr;
        oairun_status status = oairun_reader_next(reader_, limit(timeout), &event, &err);
        if (status == OAIRUN_AGAIN) return std::nullopt;
        detail::check(status, err);
        if (!event) {
            done_ = true;
            return std::nullopt;
        }
        return Event(event);
    }

    /// The next events, as many as have arrived, up to `max` (at least 1): waits at most
    /// `timeout` for the first, then takes only those already read. Empty when the stream has
    /// ended well (done() is true) or nothing came in time (done() is false); throws as next()
    /// does.
    std::vector<Event> next_batch(std::size_t max, std::chrono::milliseconds timeout = no_limit) {
        if (max == 0)
            throw Error(OAIRUN_INVALID_ARGUMENT, "oairun::Reader::next_batch: max must be at least 1");
        batch_.resize(max);
        std::size_t count = 0;
        oairun_error *err = nullptr;
        oairun_status status = oairun_reader_next_batch(reader_, limit(timeout), batch_.data(), max,
                                                        &count, &err);
        std::vector<Event> events;
        if (status == OAIRUN_AGAIN) return events;
        detail::check(status, err);
        if (count == 0) done_ = true;
        events.reserve(count);
        for (std::size_t i = 0; i < count; i++) events.emplace_back(batch_[i]);
        return events;
    }

    /// True once the stream has ended well and its end was taken (next() or next_batch() gave
    /// nothing for it).
    bool done() const noexcept { return done_; }

    /// Cancels the stream from any thread: a call waiting in next() throws Error
    /// (OAIRUN_CANCELLED) at once, as does every later one, unless the stream was over already.
    void cancel() const noexcept { oairun_reader_cancel(reader_); }

    /// A descriptor that is readable while the reader has something to take, for poll(),
    /// epoll or an event loop (then a call with a zero timeout will not wait); it belongs to
    /// the Reader. Throws Error (OAIRUN_INVALID_ARGUMENT) for a reader opened without
    /// OAIRUN_READER_BACKGROUND.
    int fd() const {
        int fd = -1;
        oairun_error *err = nullptr;
        detail::check(oairun_reader_fd(reader_, &fd, &err), err);
        return fd;
    }

    /// Frees the reader (dropping its connection if the stream is not over); it is then
    /// empty.
    void reset() noexcept {
        oairun_reader_free(detail::take(reader_));
        done_ = false;
    }

    bool valid() const noexcept { return reader_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    const oairun_reader *raw() const noexcept { return reader_; }

private:
    static int limit(std::chrono::milliseconds timeout) noexcept {
        if (timeout.count() < 0) return -1;
        if (timeout.count() > INT_MAX) return INT_MAX;
        return static_cast<int>(timeout.count());
    }

    oairun_reader *reader_ = nullptr;
    bool done_ = false;
    std::vector<const oairun_event *> batch_;
};

/// A client (oairun_client): server, key, headers and a connection pool. Move-only; const
/// methods may be called from many threads at once. Each call throws Error on failure.
class Client {
public:
    /// From the environment (OPENAI_API_KEY, OPENAI_BASE_URL, …) and the defaults.
    Client() : client_(make(nullptr)) {}
    explicit Client(const ClientOptions &options) : client_(make(options.raw())) {}
    Client(Client &&other) noexcept : client_(detail::take(other.client_)) {}
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            oairun_client_free(client_);
            client_ = detail::take(other.client_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    /// No call using the client may be in progress (started Streams may outlive it).
    ~Client() { oairun_client_free(client_); }

    // --- Assistants: POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs

    /// Submits the outputs and returns the Run object's JSON text.
    std::string submit_tool_outputs(const std::string &thread_id, const std::string &run_id,
                                    const ToolOutputs &outputs) const {
        char *json = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_submit_tool_outputs(client_, thread_id.c_str(), run_id.c_str(),
                                                 outputs.raw(), &json, &err),
                      err);
        return detail::take_string(json);
    }

    /// Submits the outputs and streams the answer: `on_event` sees every event on this thread;
    /// returns after `done`.
    template <class F>
    void submit_tool_outputs_stream(const std::string &thread_id, const std::string &run_id,
                                    const ToolOutputs &outputs, F &&on_event) const {
        detail::BlockingEvents<std::remove_reference_t<F>> state{on_event, nullptr};
        oairun_error *err = nullptr;
        oairun_status status = oairun_submit_tool_outputs_stream(
            client_, thread_id.c_str(), run_id.c_str(), outputs.raw(), state.trampoline, &state,
            &err);
        detail::finish(state.exception, status, err);
    }

    /// Starts a streamed submission: `on_event` (kept by the Stream) runs on an oairun
    /// callback thread; Stream::wait gives the outcome.
    template <class F>
    Stream submit_tool_outputs_stream_start(const std::string &thread_id,
                                            const std::string &run_id, const ToolOutputs &outputs,
                                            F &&on_event) const {
        using State = detail::StartedEvents<std::decay_t<F>>;
        auto state = std::make_unique<State>(std::forward<F>(on_event));
        oairun_stream *stream = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_submit_tool_outputs_stream_start(client_, thread_id.c_str(),
                                                              run_id.c_str(), outputs.raw(),
                                                              State::trampoline, state.get(),
                                                              &stream, &err),
                      err);
        return Stream(stream, std::move(state));
    }

    /// Starts a synchronous submission: `on_complete` (kept by the Stream) is called once, on
    /// an oairun callback thread, with the Run or the error.
    template <class F>
    Stream submit_tool_outputs_start(const std::string &thread_id, const std::string &run_id,
                                     const ToolOutputs &outputs, F &&on_complete) const {
        using State = detail::StartedCompletion<std::decay_t<F>>;
        auto state = std::make_unique<State>(std::forward<F>(on_complete));
        oairun_stream *stream = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_submit_tool_outputs_start(client_, thread_id.c_str(),
                                                       run_id.c_str(), outputs.raw(),
                                                       State::trampoline, state.get(), &stream,
                                                       &err),
                      err);
        return Stream(stream, std::move(state));
    }

    /// Opens the streamed submission for pulling its events (oairun_reader): see Reader.
    /// `flags` 0 sends nothing before the first Reader::next; OAIRUN_READER_BACKGROUND starts
    /// at once on oairun's threads, which read ahead.
    Reader submit_tool_outputs_stream_open(const std::string &thread_id, const std::string &run_id,
                                           const ToolOutputs &outputs,
                                           std::uint32_t flags = 0) const {
        oairun_reader *reader = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_submit_tool_outputs_stream_open(client_, thread_id.c_str(),
                                                             run_id.c_str(), outputs.raw(), flags,
                                                             &reader, &err),
                      err);
        return Reader(reader);
    }

    // --- Responses: POST /responses

    /// Creates a response and returns the Response object's JSON text.
    std::string create_response(const ResponseRequest &request) const {
        char *json = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_create_response(client_, request.raw(), &json, &err), err);
        return detail::take_string(json);
    }

    /// Creates a response and streams it: `on_event` sees every event on this thread; returns
    /// after the terminal event.
    template <class F>
    void create_response_stream(const ResponseRequest &request, F &&on_event) const {
        detail::BlockingEvents<std::remove_reference_t<F>> state{on_event, nullptr};
        oairun_error *err = nullptr;
        oairun_status status = oairun_create_response_stream(client_, request.raw(),
                                                             state.trampoline, &state, &err);
        detail::finish(state.exception, status, err);
    }

    /// Starts create_response_stream: `on_event` (kept by the Stream) runs on an oairun
    /// callback thread.
    template <class F>
    Stream create_response_stream_start(const ResponseRequest &request, F &&on_event) const {
        using State = detail::StartedEvents<std::decay_t<F>>;
        auto state = std::make_unique<State>(std::forward<F>(on_event));
        oairun_stream *stream = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_create_response_stream_start(client_, request.raw(),
                                                          State::trampoline, state.get(),
                                                          &stream, &err),
                      err);
        return Stream(stream, std::move(state));
    }

    /// Opens the streamed response for pulling its events (oairun_reader): see Reader.
    /// `flags` as for submit_tool_outputs_stream_open.
    Reader create_response_stream_open(const ResponseRequest &request,
                                       std::uint32_t flags = 0) const {
        oairun_reader *reader = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_create_response_stream_open(client_, request.raw(), flags, &reader,
                                                         &err),
                      err);
        return Reader(reader);
    }

    /// Starts create_response: `on_complete` (kept by the Stream) is called once, on an
    /// oairun callback thread, with the Response or the error.
    template <class F>
    Stream create_response_start(const ResponseRequest &request, F &&on_complete) const {
        using State = detail::StartedCompletion<std::decay_t<F>>;
        auto state = std::make_unique<State>(std::forward<F>(on_complete));
        oairun_stream *stream = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_create_response_start(client_, request.raw(), State::trampoline,
                                                   state.get(), &stream, &err),
                      err);
        return Stream(stream, std::move(state));
    }

    // --- The tool-call loops

    /// Runs an Assistants run's tool calls to the end (oairun_run_tool_loop): submits `first`,
    /// then calls `handler` for each call the run asks for and submits the outputs, until the
    /// run completes. Returns the final Run's JSON text. `max_turns` 0 means 10.
    template <class H>
    std::string run_tool_loop(const std::string &thread_id, const std::string &run_id,
                              const ToolOutputs &first, H &&handler,
                              std::uint32_t max_turns = 0) const {
        return run_tool_loop_impl(thread_id, run_id, first, handler,
                                  static_cast<std::nullptr_t *>(nullptr), max_turns);
    }
    /// The same, with `on_event` seeing every event of every turn.
    template <class H, class E,
              std::enable_if_t<std::is_invocable_v<E &, const Event &>, int> = 0>
    std::string run_tool_loop(const std::string &thread_id, const std::string &run_id,
                              const ToolOutputs &first, H &&handler, E &&on_event,
                              std::uint32_t max_turns = 0) const {
        return run_tool_loop_impl(thread_id, run_id, first, handler, &on_event, max_turns);
    }

    /// Runs a response's tool calls to the end (oairun_response_tool_loop): creates `first`,
    /// then calls `handler` for each function call and sends the outputs, until a response
    /// completes without calls. Returns the final Response's JSON text. `max_turns` 0 means 10.
    template <class H>
    std::string response_tool_loop(const ResponseRequest &first, H &&handler,
                                   std::uint32_t max_turns = 0) const {
        return response_tool_loop_impl(first, handler, static_cast<std::nullptr_t *>(nullptr),
                                       max_turns);
    }
    /// The same, with `on_event` seeing every event of every turn.
    template <class H, class E,
              std::enable_if_t<std::is_invocable_v<E &, const Event &>, int> = 0>
    std::string response_tool_loop(const ResponseRequest &first, H &&handler, E &&on_event,
                                   std::uint32_t max_turns = 0) const {
        return response_tool_loop_impl(first, handler, &on_event, max_turns);
    }

    const oairun_client *raw() const noexcept { return client_; }

private:
    static oairun_client *make(const oairun_client_options *options) {
        oairun_client *client = nullptr;
        oairun_error *err = nullptr;
        detail::check(oairun_client_new(options, &client, &err), err);
        return client;
    }

    template <class H, class E>
    std::string run_tool_loop_impl(const std::string &thread_id, const std::string &run_id,
                                   const ToolOutputs &first, H &handler, E *on_event,
                                   std::uint32_t max_turns) const {
        using L = detail::Loop<H, E>;
        L loop{handler, on_event, nullptr};
        char *json = nullptr;
        oairun_error *err = nullptr;
        oairun_status status = oairun_run_tool_loop(
            client_, thread_id.c_str(), run_id.c_str(), first.raw(), L::handle,
            std::is_same_v<E, std::nullptr_t> ? nullptr : L::event, &loop, max_turns, &json,
            &err);
        detail::OwnedString owned(json);
        detail::finish(loop.exception, status, err);
        return detail::take_string(owned.release());
    }

    template <class H, class E>
    std::string response_tool_loop_impl(const ResponseRequest &first, H &handler, E *on_event,
                                        std::uint32_t max_turns) const {
        using L = detail::Loop<H, E>;
        L loop{handler, on_event, nullptr};
        char *json = nullptr;
        oairun_error *err = nullptr;
        oairun_status status = oairun_response_tool_loop(
            client_, first.raw(), L::handle,
            std::is_same_v<E, std::nullptr_t> ? nullptr : L::event, &loop, max_turns, &json,
            &err);
        detail::OwnedString owned(json);
        detail::finish(loop.exception, status, err);
        return detail::take_string(owned.release());
    }

    oairun_client *client_;
};

namespace detail {

using LogFunction = std::function<void(oairun_log_level, std::string_view)>;

/// The process-wide log callback. Never destroyed: oairun's network threads may log while
/// the program exits, after static destructors have run.
struct LogState {
    std::mutex mutex;
    std::unique_ptr<LogFunction> current;
};
inline LogState &log_state() {
    static LogState *state = new LogState();
    return *state;
}
inline bool &in_log_callback() {
    static thread_local bool inside = false;
    return inside;
}
inline void log_trampoline(oairun_log_level level, const char *message,
                           void *user_data) noexcept {
    in_log_callback() = true;
    try {
        (*static_cast<LogFunction *>(user_data))(level, message ? message : "");
    } catch (...) {
        // A log line has nowhere to report a failure to: the exception is dropped.
    }
    in_log_callback() = false;
}

} // namespace detail

/// Sends oairun's log lines of `level` and below (OAIRUN_LOG_ERROR … OAIRUN_LOG_DEBUG) to
/// `callback`, called as `callback(level, line)` on oairun's network threads, possibly
/// several at once: it must be thread-safe and quick. An exception it throws is dropped.
/// Replaces the previous callback, which is destroyed once it can no longer be called.
/// Throws Error (OAIRUN_INVALID_ARGUMENT) for a bad level or when called from a log callback.
template <class F>
void set_log_callback(oairun_log_level level, F &&callback) {
    if (detail::in_log_callback())
        throw Error(OAIRUN_INVALID_ARGUMENT, "oairun::set_log_callback: called from a log callback");
    auto next = std::make_unique<detail::LogFunction>(std::forward<F>(callback));
    detail::LogState &state = detail::log_state();
    std::lock_guard<std::mutex> lock(state.mutex);
    detail::check_setter(oairun_set_log_callback(static_cast<int>(level), detail::log_trampoline,
                                                 next.get()),
                         "oairun_set_log_callback");
    // The previous callback has returned from every call and will not be called again.
    state.current = std::move(next);
}

/// Turns logging off (the default) and destroys the callback.
inline void clear_log_callback() {
    if (detail::in_log_callback())
        throw Error(OAIRUN_INVALID_ARGUMENT,
                    "oairun::clear_log_callback: called from a log callback");
    detail::LogState &state = detail::log_state();
    std::lock_guard<std::mutex> lock(state.mutex);
    detail::check_setter(oairun_set_log_callback(OAIRUN_LOG_OFF, nullptr, nullptr),
                         "oairun_set_log_callback");
    state.current.reset();
}

} // namespace oairun

#endif // OAIRUN_HPP
