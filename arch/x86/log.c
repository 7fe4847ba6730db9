#include "arch/x86/log.h"
#include <stdarg.h>
#include "arch/x86/format.h"
#include "arch/x86/serial.h"
#include "arch/x86/spinlock.h"

static enum log_level current_level = LOG_INFO;
static struct spinlock log_lock;

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const tags[] = { "error: ", "warn: ", "", "debug: " };
    if (level > current_level)
        return;
    char line[256];
    size_t n = fmt_snprintf(line, sizeof line, "hvx: %s", tags[level]);
    va_list ap;
    va_start(ap, fmt);
    n += fmt_vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    spin_lock(&log_lock);
    serial_write(line, n);
    serial_write("\n", 1);
    spin_unlock(&log_lock);
}
