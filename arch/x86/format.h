/* A small vsnprintf for freestanding code: %s %c %d %i %u %x %X %p %%, with l/ll/z, width, '0', '-'. */
#ifndef ARCH_X86_FORMAT_H
#define ARCH_X86_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Always NUL-terminates when size > 0; returns the length written (truncated output is cut). */
size_t fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
