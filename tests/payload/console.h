/* Output of the root-partition test apps (rootcheck, exits, bench, fuzz, hostile): one line on the
 * firmware's console, which OVMF mirrors to COM1, where the test drivers read it. */
#ifndef TESTS_PAYLOAD_CONSOLE_H
#define TESTS_PAYLOAD_CONSOLE_H

#include <stdarg.h>

#define CONSOLE_LINE_BYTES 1024  /* longer lines are cut */

/* One line: control characters become '?', so a stray byte cannot break the TAP stream. */
void console_vline(const char *fmt, va_list ap);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* TAP: "ok N - name" or "not ok N - name"; returns ok. tap_summary prints "WHAT: N passed, N failed"
 * and returns the number failed. */
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned tap_summary(const char *what);
unsigned tap_count(void);
unsigned tap_failures(void);

#endif
