/* Runs every registered host unit test; one TAP line each, then "host: N passed, N failed".
 * Exit status is 0 only when every test passed and at least one ran. */
#include "check.h"
#include <string.h>

static struct host_test *head, **tail = &head;
static int current_failures;

void host_test_register(struct host_test *t)
{
    /* Constructors run in link order; keep registration order for stable output. */
    *tail = t;
    tail = &t->next;
}

void host_check_failed(const char *file, int line, const char *expr, const char *detail)
{
    current_failures++;
    printf("#   %s:%d: CHECK(%s) failed%s%s\n", file, line, expr, detail ? ": " : "", detail ? detail : "");
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : 0;
    int n = 0, passed = 0, failed = 0;
    for (struct host_test *t = head; t; t = t->next) {
        if (only && !strstr(t->name, only))
            continue;
        current_failures = 0;
        t->fn();
        n++;
        if (current_failures) {
            failed++;
            printf("not ok %d - %s\n", n, t->name);
        } else {
            passed++;
            printf("ok %d - %s\n", n, t->name);
        }
    }
    printf("host: %d passed, %d failed\n", passed, failed);
    return (failed || !passed) ? 1 : 0;
}
