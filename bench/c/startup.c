/*
 * The benchmark's start-up measurement, in a fresh process: how long dlopen takes to load the
 * library, then oairun_client_new, then the first (synchronous) submission to the loopback
 * server, which also starts oairun's runtime and opens the connection.
 *
 *   startup PATH_TO_LIBOAIRUN_SO
 *
 * The program is not linked to liboairun: it loads it with dlopen(RTLD_NOW) so the load is
 * timed alone. The server and key come from OPENAI_BASE_URL and OPENAI_API_KEY. Prints one
 * JSON line (times in milliseconds); `total_ms` is the whole start-up, from before dlopen to
 * the first answer (the dlsym look-ups in between included).
 */
#include <dlfcn.h>

#include "oairun.h"
#include "common.h"

#define LOAD(name) __typeof__(name) *p_##name = (__typeof__(name) *)dlsym(lib, #name); \
    if (!p_##name) { fprintf(stderr, "startup: %s\n", dlerror()); return 1; }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: startup PATH_TO_LIBOAIRUN_SO\n");
        return 2;
    }
    double t0 = mono_seconds();
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    double t1 = mono_seconds();
    if (!lib) {
        fprintf(stderr, "startup: %s\n", dlerror());
        return 1;
    }
    LOAD(oairun_client_new)
    LOAD(oairun_client_free)
    LOAD(oairun_tool_outputs_new)
    LOAD(oairun_tool_outputs_add)
    LOAD(oairun_tool_outputs_free)
    LOAD(oairun_submit_tool_outputs)
    LOAD(oairun_string_free)
    LOAD(oairun_error_message)
    LOAD(oairun_error_free)

    oairun_client *client = NULL;
    oairun_error *err = NULL;
    double t2 = mono_seconds();
    if (p_oairun_client_new(NULL, &client, &err) != OAIRUN_OK) {
        fprintf(stderr, "startup: %s\n", p_oairun_error_message(err));
        p_oairun_error_free(err);
        return 1;
    }
    double t3 = mono_seconds();
    oairun_tool_outputs *outputs = p_oairun_tool_outputs_new();
    p_oairun_tool_outputs_add(outputs, "call_001", "70 degrees and sunny.");
    char *run_json = NULL;
    oairun_status status = p_oairun_submit_tool_outputs(client, "thread_startup", "run_startup",
                                                        outputs, &run_json, &err);
    double t4 = mono_seconds();
    int ok = status == OAIRUN_OK && run_json && strstr(run_json, "\"object\": \"thread.run\"");
    if (status != OAIRUN_OK) {
        fprintf(stderr, "startup: %s\n", p_oairun_error_message(err));
        p_oairun_error_free(err);
    } else if (!ok) {
        fprintf(stderr, "startup: the answer is not the reference Run: %.200s\n", run_json);
    }
    printf("{\"ok\":%s,\"dlopen_ms\":%.3f,\"client_new_ms\":%.3f,\"first_submit_ms\":%.3f,"
           "\"client_new_and_first_submit_ms\":%.3f,\"total_ms\":%.3f}\n",
           ok ? "true" : "false", (t1 - t0) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3,
           (t4 - t2) * 1e3, (t4 - t0) * 1e3);
    p_oairun_string_free(run_json);
    p_oairun_tool_outputs_free(outputs);
    p_oairun_client_free(client);
    return ok ? 0 : 1;
}
