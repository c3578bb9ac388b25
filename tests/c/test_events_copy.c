/* oairun_events_copy: a batch of lent events copied in one call. For every batch of every
 * scenario of both endpoints (taken with oairun_reader_next_batch, 1, 3 and 64 at a time), and
 * of a stream written here byte for byte (data holding a NUL, non-ASCII data, ids set, reset
 * and empty, events of unknown kinds and without a name, empty data), the copy is exactly what
 * oairun_event_kind, _data, _id and _name give, laid out as the header says; a buffer too small
 * by any amount is refused with the size needed, writing nothing else. */
#include <pthread.h>

#include "server.h"

/* Marks bytes and slots the copy must not write (compared as bytes: a kind slot holding it is
 * no valid oairun_kind). */
#define UNTOUCHED_BYTE 0xA5

static size_t batches_checked = 0, events_checked = 0, ids_seen = 0, unknown_seen = 0,
              nul_data_seen = 0, non_ascii_seen = 0;

static int untouched(const void *memory, size_t from, size_t to) {
    const unsigned char *bytes = (const unsigned char *)memory;
    for (size_t i = from; i < to; i++)
        if (bytes[i] != UNTOUCHED_BYTE) return 0;
    return 1;
}

/* Marks `count` kinds and spans as untouched. */
static void mark(oairun_kind *kinds, oairun_event_span *spans, size_t count) {
    memset(kinds, UNTOUCHED_BYTE, count * sizeof *kinds);
    memset(spans, UNTOUCHED_BYTE, count * sizeof *spans);
}

/* The span of one string: it sits at the expected offset `*at`, holds `want` (`want_len`
 * bytes, may hold a NUL), and is followed by a NUL; moves `*at` past it. */
static int string_at(const char *buffer, size_t *at, size_t offset, size_t len, const char *want,
                     size_t want_len) {
    int ok = offset == *at && len == want_len && memcmp(buffer + offset, want, want_len) == 0 &&
             buffer[offset + len] == '\0';
    *at += want_len + 1;
    return ok;
}

/* Copies the batch every way and compares each copy with the accessors. */
static void check_batch(const oairun_event *const *events, size_t count, const char *what) {
    /* The size the copy must need: every string the header says is copied, plus a NUL each. */
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        CHECK(oairun_event_data(events[i], &len) != NULL);
        size += len + 1;
        const char *id = oairun_event_id(events[i]);
        if (id) size += strlen(id) + 1;
        if (oairun_event_kind(events[i]) == OAIRUN_KIND_UNKNOWN)
            size += strlen(oairun_event_name(events[i])) + 1;
    }
    const size_t slack = 16;
    char *buffer = (char *)malloc(size + slack);
    oairun_kind *kinds = (oairun_kind *)malloc((count + 1) * sizeof *kinds);
    oairun_event_span *spans = (oairun_event_span *)malloc((count + 1) * sizeof *spans);

    /* Too small, by every amount up to 3 bytes short, and by all of it: only *needed. */
    size_t shorts[] = {size, 3, 2, 1};
    for (size_t s = 0; s < sizeof shorts / sizeof shorts[0]; s++) {
        if (shorts[s] > size || (s > 0 && shorts[s] == size)) continue;
        size_t capacity = size - shorts[s];
        memset(buffer, UNTOUCHED_BYTE, size + slack);
        mark(kinds, spans, count + 1);
        size_t needed = 7;
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_events_copy(events, count, kinds, spans, capacity ? buffer : NULL,
                                        capacity, &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK(needed == size);
        CHECK(err != NULL && oairun_error_status(err) == OAIRUN_INVALID_ARGUMENT);
        CHECK(err != NULL && strstr(oairun_error_message(err), "room") != NULL);
        oairun_error_free(err);
        CHECK(untouched(buffer, 0, size + slack));
        CHECK(untouched(kinds, 0, (count + 1) * sizeof *kinds));
        CHECK(untouched(spans, 0, (count + 1) * sizeof *spans));
    }

    /* Room enough (exactly, and more): the copy. */
    for (int exact = 0; exact < 2; exact++) {
        memset(buffer, UNTOUCHED_BYTE, size + slack);
        mark(kinds, spans, count + 1);
        size_t needed = 7;
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_events_copy(events, count, kinds, spans, buffer,
                                        exact ? size : size + slack, &needed, &err),
                     OAIRUN_OK);
        CHECK(err == NULL);
        oairun_error_free(err);
        CHECK(needed == size);
        CHECK(untouched(buffer, size, size + slack));
        CHECK(untouched(&kinds[count], 0, sizeof *kinds));
        CHECK(untouched(&spans[count], 0, sizeof *spans));
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            const oairun_event *e = events[i];
            const oairun_event_span *span = &spans[i];
            int ok = kinds[i] == oairun_event_kind(e);
            size_t len = 0;
            const char *data = oairun_event_data(e, &len);
            ok &= string_at(buffer, &at, span->data, span->data_len, data, len);
            const char *id = oairun_event_id(e);
            if (id)
                ok &= string_at(buffer, &at, span->id, span->id_len, id, strlen(id));
            else
                ok &= span->id == SIZE_MAX && span->id_len == 0;
            if (kinds[i] == OAIRUN_KIND_UNKNOWN) {
                const char *name = oairun_event_name(e);
                ok &= string_at(buffer, &at, span->name, span->name_len, name, strlen(name));
            } else {
                ok &= span->name == SIZE_MAX && span->name_len == 0;
            }
            if (!ok) {
                fprintf(stderr, "%s: event %zu (%s) copied wrong\n", what, i, oairun_event_name(e));
                check_failures++;
            }
            if (!exact) {
                events_checked++;
                ids_seen += id != NULL;
                unknown_seen += kinds[i] == OAIRUN_KIND_UNKNOWN;
                nul_data_seen += memchr(data, '\0', len) != NULL;
                for (size_t b = 0; b < len; b++)
                    if ((unsigned char)data[b] >= 0x80) {
                        non_ascii_seen++;
                        break;
                    }
            }
        }
        CHECK(at == size);
    }
    batches_checked++;
    free(buffer);
    free(kinds);
    free(spans);
}

/* Takes every event of `reader`, `capacity` at a time, checking each batch; returns the
 * outcome. */
static oairun_status check_reader(oairun_reader *reader, size_t capacity, const char *what) {
    const oairun_event *batch[64];
    for (;;) {
        size_t count = 0;
        oairun_error *err = NULL;
        oairun_status status = oairun_reader_next_batch(reader, -1, batch, capacity, &count, &err);
        oairun_error_free(err);
        if (status != OAIRUN_OK || count == 0) return status;
        check_batch(batch, count, what);
    }
}

struct scenario {
    int responses;
    const char *name;
    oairun_status status;
};

static const struct scenario scenarios[] = {
    {0, "thread_123", OAIRUN_OK},        {0, "long_300", OAIRUN_OK},
    {0, "odd_framing", OAIRUN_OK},       {0, "error_event", OAIRUN_STREAM_ERROR},
    {0, "truncated", OAIRUN_PROTOCOL},   {0, "partial_event", OAIRUN_PROTOCOL},
    {0, "cut_at_3000", OAIRUN_PROTOCOL}, {0, "echo", OAIRUN_OK},
    {1, "gpt-test", OAIRUN_OK},          {1, "done_style", OAIRUN_OK},
    {1, "no_event_lines", OAIRUN_OK},    {1, "function_call", OAIRUN_OK},
    {1, "incomplete", OAIRUN_OK},        {1, "long_2000", OAIRUN_OK},
    {1, "error_flat", OAIRUN_STREAM_ERROR}, {1, "error_nested", OAIRUN_STREAM_ERROR},
    {1, "failed", OAIRUN_STREAM_ERROR},  {1, "cut", OAIRUN_PROTOCOL},
};

static oairun_reader *open_reader(oairun_client *client, int responses, const char *scenario) {
    oairun_reader *reader = NULL;
    if (responses) {
        oairun_response_request *request = oairun_response_request_new();
        CHECK_STATUS(oairun_response_request_set_model(request, scenario), OAIRUN_OK);
        CHECK_STATUS(oairun_response_request_add_function_call_output(
                         request, "call_fixed_get_weather", "{\"temp_c\":15}"),
                     OAIRUN_OK);
        CHECK_STATUS(oairun_create_response_stream_open(client, request, 0, &reader, NULL),
                     OAIRUN_OK);
        oairun_response_request_free(request);
    } else {
        oairun_tool_outputs *outputs = test_outputs();
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, scenario, "run_copy", outputs,
                                                            0, &reader, NULL),
                     OAIRUN_OK);
        oairun_tool_outputs_free(outputs);
    }
    if (!reader) exit(1);
    return reader;
}

static void every_scenario(oairun_client *client) {
    const size_t capacities[] = {1, 3, 64};
    for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
        for (size_t c = 0; c < 3; c++) {
            char what[128];
            snprintf(what, sizeof what, "%s, %zu at a time", scenarios[s].name, capacities[c]);
            oairun_reader *reader = open_reader(client, scenarios[s].responses, scenarios[s].name);
            CHECK_STATUS(check_reader(reader, capacities[c], what), scenarios[s].status);
            oairun_reader_free(reader);
        }
    }
}

/* ---- A stream written here byte for byte ---- */

/* Every field this test needs, none of which the test server writes: a NUL inside data, an id
 * set then reset to empty, events of unknown kinds and one without a name (so "message"),
 * empty data, non-ASCII data; ends with done. */
static const char odd_body[] =
    "event: thread.run.created\ndata: {\"id\":\"run_1\",\"object\":\"thread.run\"}\n\n"
    "event: brand.new.kind\nid: evt_7\ndata: {\"x\":\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\xa6\x80\"}\n\n"
    "event: thread.message.delta\ndata: before\0after\ndata: second line\n\n"
    "data: {\"no\":\"name\"}\n\n"
    "id:\nevent: another.unknown\ndata:\n\n"
    "id: \xc3\xa9v\xc3\xa9nement\nevent: thread.message.delta\ndata: \0\n\n"
    "event: done\ndata: [DONE]\n\n";

struct raw_server {
    int fd;
    int port;
};

/* Answers one request on the listening socket with odd_body, then closes. */
static void *serve_once(void *arg) {
    struct raw_server *server = (struct raw_server *)arg;
    int conn = accept(server->fd, NULL, NULL);
    if (conn < 0) return NULL;
    /* The request: headers, then Content-Length bytes of body. */
    char request[1 << 14];
    size_t len = 0;
    const char *end = NULL;
    while (!end && len + 1 < sizeof request) {
        ssize_t got = recv(conn, request + len, sizeof request - len - 1, 0);
        if (got <= 0) break;
        len += (size_t)got;
        request[len] = '\0';
        end = strstr(request, "\r\n\r\n");
    }
    if (end) {
        const char *cl = strstr(request, "content-length:");
        if (!cl) cl = strstr(request, "Content-Length:");
        size_t body = cl ? (size_t)atol(cl + 15) : 0;
        size_t have = len - (size_t)(end + 4 - request);
        while (have < body) {
            ssize_t got = recv(conn, request, sizeof request, 0);
            if (got <= 0) break;
            have += (size_t)got;
        }
    }
    char head[256];
    size_t body_len = sizeof odd_body - 1;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     body_len);
    if (send(conn, head, (size_t)n, 0) != n ||
        send(conn, odd_body, body_len, 0) != (ssize_t)body_len)
        perror("writing the stream");
    shutdown(conn, SHUT_WR);
    while (recv(conn, request, sizeof request, 0) > 0) {
    }
    close(conn);
    return NULL;
}

static void a_stream_written_here(void) {
    const size_t capacities[] = {1, 3, 64};
    for (size_t c = 0; c < 3; c++) {
        struct raw_server server;
        struct sockaddr_in addr;
        server.fd = loopback_socket(0, &addr);
        socklen_t addr_len = sizeof addr;
        if (server.fd < 0 || bind(server.fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
            listen(server.fd, 1) != 0 ||
            getsockname(server.fd, (struct sockaddr *)&addr, &addr_len) != 0) {
            perror("listening on loopback");
            exit(2);
        }
        server.port = ntohs(addr.sin_port);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, serve_once, &server) == 0);

        char base_url[64];
        snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d/v1", server.port);
        oairun_client_options *options = oairun_client_options_new();
        CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
        CHECK_STATUS(oairun_client_options_set_base_url(options, base_url), OAIRUN_OK);
        CHECK_STATUS(oairun_client_options_set_max_retries(options, 0), OAIRUN_OK);
        oairun_client *client = NULL;
        CHECK_STATUS(oairun_client_new(options, &client, NULL), OAIRUN_OK);
        oairun_client_options_free(options);
        if (!client) exit(1);

        size_t before = events_checked;
        char what[64];
        snprintf(what, sizeof what, "the stream written here, %zu at a time", capacities[c]);
        oairun_reader *reader = open_reader(client, 0, "thread_raw");
        CHECK_STATUS(check_reader(reader, capacities[c], what), OAIRUN_OK);
        CHECK(events_checked - before == 7);
        oairun_reader_free(reader);
        oairun_client_free(client);
        pthread_join(t, NULL);
        close(server.fd);
    }
}

/* ---- The arguments ---- */

static void arguments(oairun_client *client) {
    oairun_reader *reader = open_reader(client, 0, "thread_123");
    const oairun_event *batch[4];
    size_t count = 0;
    CHECK_STATUS(oairun_reader_next_batch(reader, -1, batch, 4, &count, NULL), OAIRUN_OK);
    CHECK(count > 0);
    oairun_kind kinds[4];
    oairun_event_span spans[4];
    char buffer[1 << 14];
    size_t needed = 7;
    oairun_error *err = NULL;

    /* No events: nothing to do, with or without room. */
    CHECK_STATUS(oairun_events_copy(NULL, 0, NULL, NULL, NULL, 0, &needed, &err), OAIRUN_OK);
    CHECK(needed == 0 && err == NULL);
    needed = 7;
    CHECK_STATUS(oairun_events_copy(batch, 0, kinds, spans, buffer, sizeof buffer, &needed, &err),
                 OAIRUN_OK);
    CHECK(needed == 0 && err == NULL);

    /* NULL where something is needed: refused, *needed 0, with a message. */
    struct {
        const oairun_event *const *events;
        oairun_kind *kinds;
        oairun_event_span *spans;
        char *buffer;
        size_t capacity;
        const char *says;
    } refused[] = {
        {NULL, kinds, spans, buffer, sizeof buffer, "events"},
        {batch, NULL, spans, buffer, sizeof buffer, "kinds"},
        {batch, kinds, NULL, buffer, sizeof buffer, "spans"},
        {batch, kinds, spans, NULL, sizeof buffer, "buffer"},
    };
    for (size_t r = 0; r < sizeof refused / sizeof refused[0]; r++) {
        needed = 7;
        err = NULL;
        mark(kinds, spans, 1);
        CHECK_STATUS(oairun_events_copy(refused[r].events, count, refused[r].kinds,
                                        refused[r].spans, refused[r].buffer, refused[r].capacity,
                                        &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK(needed == 0);
        CHECK(untouched(kinds, 0, sizeof kinds[0]) && untouched(spans, 0, sizeof spans[0]));
        CHECK(err != NULL && strstr(oairun_error_message(err), refused[r].says) != NULL);
        oairun_error_free(err);
    }
    /* A NULL event among them. */
    const oairun_event *with_null[2] = {batch[0], NULL};
    err = NULL;
    needed = 7;
    CHECK_STATUS(oairun_events_copy(with_null, 2, kinds, spans, buffer, sizeof buffer, &needed, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(needed == 0);
    CHECK(err != NULL && strstr(oairun_error_message(err), "events[1]") != NULL);
    oairun_error_free(err);
    /* No needed: refused, and without err too. */
    err = NULL;
    CHECK_STATUS(oairun_events_copy(batch, count, kinds, spans, buffer, sizeof buffer, NULL, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(oairun_error_message(err), "needed") != NULL);
    oairun_error_free(err);
    CHECK_STATUS(oairun_events_copy(batch, count, kinds, spans, buffer, sizeof buffer, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    /* Too small, without err: *needed alone says how much. */
    needed = 0;
    CHECK_STATUS(oairun_events_copy(batch, count, kinds, spans, NULL, 0, &needed, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(needed > 0);
    size_t size = needed;
    CHECK_STATUS(oairun_events_copy(batch, count, kinds, spans, buffer, size, &needed, NULL),
                 OAIRUN_OK);
    CHECK(needed == size);
    oairun_reader_free(reader);
}

int main(void) {
    oairun_client *client = test_client();
    every_scenario(client);
    a_stream_written_here();
    arguments(client);
    oairun_client_free(client);
    printf("%zu batches, %zu events copied and compared (%zu with an id, %zu of an unknown kind, "
           "%zu with a NUL in their data, %zu with non-ASCII data)\n",
           batches_checked, events_checked, ids_seen, unknown_seen, nul_data_seen, non_ascii_seen);
    CHECK(ids_seen > 0 && unknown_seen > 0 && nul_data_seen > 0 && non_ascii_seen > 0);
    return check_report("test_events_copy");
}
