// Ask a question through the Responses API and print the answer as it streams, pulling the
// events from an event loop instead of receiving callbacks: oairun reads the stream on its own
// threads (OAIRUN_READER_BACKGROUND), poll() says when there is something to take, and the
// loop takes it without waiting. A real program would poll its other descriptors too.
//
//   reader [--model MODEL] [QUESTION]
//
// The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL (default
// https://api.openai.com/v1); the model from --model, else OAIRUN_MODEL, else gpt-5-mini (the
// test server of `make demo` answers any model it does not script with a fixed text).
#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "oairun.hpp"

// A user message item: the question as a JSON string (a real program would use a JSON library).
static std::string user_message(const std::string &text) {
    std::string json = "{\"role\":\"user\",\"content\":\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') json += '\\';
        if (c < 0x20) json += ' ';
        else json += static_cast<char>(c);
    }
    return json + "\"}";
}

int main(int argc, char **argv) try {
    const char *env = std::getenv("OAIRUN_MODEL");
    std::string model = env && *env ? env : "gpt-5-mini";
    std::string question = "What's the weather like in Paris today?";
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else question = argv[i];
    }

    oairun::Client client; // OPENAI_API_KEY, OPENAI_BASE_URL
    oairun::ResponseRequest request;
    request.set_model(model).add_input_json(user_message(question));
    oairun::Reader reader = client.create_response_stream_open(request, OAIRUN_READER_BACKGROUND);

    std::cout << "Q: " << question << " (model " << model << ")\nA: ";
    pollfd ready{reader.fd(), POLLIN, 0};
    int events = 0;
    while (!reader.done()) {
        if (poll(&ready, 1, -1) < 0) throw std::runtime_error("poll failed");
        // Everything that is there, without waiting; nothing left: back to poll.
        while (auto event = reader.next(std::chrono::milliseconds(0))) {
            events++;
            if (auto text = event->text_delta()) std::cout << *text << std::flush;
        }
    }
    std::cout << "\n(" << events << " events)\n";
    return 0;
} catch (const oairun::Error &e) {
    std::cerr << "\nfailed: " << e.what() << " (" << oairun::status_str(e.status()) << ")\n";
    return 1;
} catch (const std::exception &e) {
    std::cerr << "\nfailed: " << e.what() << '\n';
    return 1;
}
