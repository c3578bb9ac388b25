/* Asking the loopback test server what it received (`GET /_test/requests`), for the C tests
 * that check request bodies. Written to compile as C and as C++. */
#ifndef OAIRUN_TEST_SERVER_H
#define OAIRUN_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

static int server_port(void) {
    const char *url = test_base_url();
    const char *prefix = "http://127.0.0.1:";
    if (strncmp(url, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "unexpected test server URL %s\n", url);
        exit(2);
    }
    return atoi(url + strlen(prefix));
}

/* A TCP socket and the address of 127.0.0.1:`port`. */
CHECK_MAYBE_UNUSED static int loopback_socket(int port, struct sockaddr_in *addr) {
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return socket(AF_INET, SOCK_STREAM, 0);
}

/* A loopback port nothing listens on: bound to learn a free port, then closed. */
CHECK_MAYBE_UNUSED static int free_port(void) {
    struct sockaddr_in addr;
    int fd = loopback_socket(0, &addr);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("finding a free port");
        exit(2);
    }
    close(fd);
    return ntohs(addr.sin_port);
}

/* GET `path` from the test server over a plain socket; returns the body (the caller frees it),
 * or exits when the server cannot be asked. */
CHECK_MAYBE_UNUSED static char *server_get(const char *path) {
    struct sockaddr_in addr;
    int fd = loopback_socket(server_port(), &addr);
    struct timeval limit = {10, 0};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connecting to the test server");
        exit(2);
    }
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (send(fd, request, (size_t)n, 0) != n) {
        perror("asking the test server");
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    char *answer = (char *)malloc(cap);
    for (;;) {
        if (len + 1 == cap) answer = (char *)realloc(answer, cap *= 2);
        ssize_t got = recv(fd, answer + len, cap - len - 1, 0);
        if (got < 0) {
            perror("reading the test server's answer");
            exit(2);
        }
        if (got == 0) break; /* Connection: close ends the answer */
        len += (size_t)got;
    }
    close(fd);
    answer[len] = '\0';
    char *body = strstr(answer, "\r\n\r\n");
    if (strncmp(answer, "HTTP/1.1 200 ", 13) != 0 || !body) {
        fprintf(stderr, "the test server answered %s: %.80s\n", path, answer);
        exit(2);
    }
    memmove(answer, body + 4, strlen(body + 4) + 1);
    return answer;
}

/* Decodes the JSON string literal starting at `p` (just after its opening quote) into a new
 * string the caller frees. Enough of JSON for what the server writes: the short escapes and
 * \uXXXX, surrogate pairs included. */
CHECK_MAYBE_UNUSED static char *json_unescape(const char *p) {
    char *out = (char *)malloc(strlen(p) + 1);
    size_t n = 0;
    while (*p && *p != '"') {
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        p++;
        switch (*p) {
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 'r': out[n++] = '\r'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'u': {
                unsigned cp = 0, lo = 0;
                if (sscanf(p + 1, "%4x", &cp) != 1) break;
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' &&
                    sscanf(p + 3, "%4x", &lo) == 1) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (cp < 0x80) {
                    out[n++] = (char)cp;
                } else if (cp < 0x800) {
                    out[n++] = (char)(0xC0 | cp >> 6);
                    out[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    out[n++] = (char)(0xE0 | cp >> 12);
                    out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    out[n++] = (char)(0xF0 | cp >> 18);
                    out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    out[n++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: out[n++] = *p; break; /* \" \\ \/ */
        }
        p++;
    }
    out[n] = '\0';
    return out;
}

/* Calls `each(object, index, context)` for every recorded request whose record contains
 * `needle` (a run id, or a marker the test put in the body that JSON need not escape), in
 * arrival order, `object` being that request's JSON object alone (valid for the call only);
 * returns how many there are. The record is a JSON array of flat objects whose strings are
 * escaped, so a brace outside a string delimits an object. */
CHECK_MAYBE_UNUSED static int recorded_each(const char *needle,
                                            void (*each)(const char *object, int index,
                                                         void *context),
                                            void *context) {
    char *list = server_get("/_test/requests");
    int count = 0, depth = 0, in_string = 0;
    char *start = NULL;
    for (char *p = list; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '{' && depth++ == 0) {
            start = p;
        } else if (*p == '}' && --depth == 0 && start) {
            char after = p[1];
            p[1] = '\0'; /* the object alone, for strstr */
            if (strstr(start, needle)) {
                if (each) each(start, count, context);
                count++;
            }
            p[1] = after;
        }
    }
    free(list);
    return count;
}

struct recorded_bodies_out {
    char **bodies;
    int max;
};

CHECK_MAYBE_UNUSED static void take_body(const char *object, int index, void *context) {
    struct recorded_bodies_out *out = (struct recorded_bodies_out *)context;
    const char *body = strstr(object, "\"body\":\"");
    CHECK(body != NULL);
    if (index < out->max && out->bodies) out->bodies[index] = json_unescape(body ? body + 8 : "\"");
}

/* The bodies of the recorded requests whose record contains `needle`, in arrival order: up to
 * `max` of them go to `bodies` (the caller frees each); returns how many there are. */
CHECK_MAYBE_UNUSED static int recorded_bodies(const char *needle, char **bodies, int max) {
    struct recorded_bodies_out out = {bodies, max};
    return recorded_each(needle, take_body, &out);
}

/* How many recorded requests contain `needle`. */
CHECK_MAYBE_UNUSED static int recorded_count(const char *needle) {
    return recorded_each(needle, NULL, NULL);
}

/* A name no other test process uses (the C, C++ and sanitizer builds all run against one
 * server): `<what>.<lang>.<pid>.`, the final dot ending it so that no name is a prefix of
 * another. */
CHECK_MAYBE_UNUSED static const char *unique_name(const char *what) {
    static char names[16][128];
    static int next = 0;
    char *out = names[next++ % 16];
#ifdef __cplusplus
    const char *lang = "cpp";
#else
    const char *lang = "c";
#endif
    snprintf(out, sizeof names[0], "%s.%s.%ld.", what, lang, (long)getpid());
    return out;
}

#endif
