/* The header's version macros agree with each other and with the library's oairun_version(),
 * so a program can tell at run time whether it runs with the library it was compiled for. */
#include "check.h"

int main(void) {
    CHECK_STR(oairun_version(), OAIRUN_VERSION_STRING);

    /* MAJOR.MINOR.PATCH, then the end or a pre-release/build suffix. */
    char numbers[64];
    int n = snprintf(numbers, sizeof numbers, "%d.%d.%d", OAIRUN_VERSION_MAJOR,
                     OAIRUN_VERSION_MINOR, OAIRUN_VERSION_PATCH);
    const char *version = OAIRUN_VERSION_STRING;
    CHECK(n > 0 && strncmp(version, numbers, (size_t)n) == 0);
    CHECK(n > 0 && (version[n] == '\0' || version[n] == '-' || version[n] == '+'));

    /* Usable in #if, where version checks are written. */
#if !(OAIRUN_VERSION_MAJOR >= 0 && OAIRUN_VERSION_MINOR >= 0 && OAIRUN_VERSION_PATCH >= 0)
#error "the version macros are not integers usable in #if"
#endif
    return check_report("test_version");
}
