/* See console.h. */
#include "tests/payload/console.h"
#include <efi.h>
#include <efilib.h>
#include "arch/x86/format.h"

static unsigned n_tests, n_failed;

void console_vline(const char *fmt, va_list ap)
{
    char line[CONSOLE_LINE_BYTES];
    size_t n = fmt_vsnprintf(line, sizeof line, fmt, ap);
    if (n >= sizeof line)
        n = sizeof line - 1;
    CHAR16 wide[sizeof line + 2];
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)line[i];
        wide[i] = c < 0x20 || c == 0x7F ? L'?' : c;
    }
    wide[n] = L'\r';
    wide[n + 1] = L'\n';
    wide[n + 2] = 0;
    uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, wide);
}

void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_vline(fmt, ap);
    va_end(ap);
}

int check(int ok, const char *fmt, ...)
{
    char name[CONSOLE_LINE_BYTES - 32];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    n_tests++;
    if (!ok)
        n_failed++;
    note("%s %u - %s", ok ? "ok" : "not ok", n_tests, name);
    return ok;
}

unsigned tap_count(void) { return n_tests; }
unsigned tap_failures(void) { return n_failed; }

unsigned tap_summary(const char *what)
{
    note("%s: %u passed, %u failed", what, n_tests - n_failed, n_failed);
    return n_failed;
}
