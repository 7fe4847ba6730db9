/* The loader's text config (\EFI\BOOT\hvx.cfg). Pure parser: used by the loader and the host tests.
 *
 *   # comment
 *   next   = \EFI\BOOT\next.efi     path of the image to start after the hypervisor (same volume)
 *   log    = info                   error | warn | info | debug
 *   memory = 32M                    hypervisor memory: decimal or 0x hex, optional K/M/G; 4M .. 1G
 *   cpus   = all                    all, or the most logical CPUs to virtualize (1..256)
 *
 * Keys and values are case-sensitive except the K/M/G suffix; spaces or tabs around '=' and at line
 * ends are ignored; CRLF and LF line ends are both accepted. Defaults apply for keys not given. */
#ifndef BOOT_CONFIG_H
#define BOOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

#define CONFIG_PATH_MAX 256
#define CONFIG_MEMORY_MIN (4ull << 20)
#define CONFIG_MEMORY_MAX (1ull << 30)
#define CONFIG_MEMORY_DEFAULT (32ull << 20)

struct hv_config {
    char next[CONFIG_PATH_MAX];   /* NUL-terminated; '/' converted to '\'; "" = none given */
    enum log_level log;           /* default LOG_INFO */
    uint64_t memory;              /* bytes, a multiple of 4 KiB (rounded up); default 32 MiB */
    uint32_t cpus;                /* 0 = all (default) */
};

struct config_error {
    unsigned line;                /* 1-based line of the first error, 0 if not line-specific */
    const char *reason;           /* static English text, e.g. "unknown key", "memory out of range" */
};

void config_defaults(struct hv_config *c);
/* Parses text[0..len) over the defaults already in *c. Returns 0, or -1 with *err filled (c is then left
 * with its previous contents). Errors: unknown key, duplicate key, missing '=', empty value, bad number,
 * value out of range, unknown log level, path too long, NUL byte, line longer than 512 bytes. */
int config_parse(const char *text, size_t len, struct hv_config *c, struct config_error *err);

#endif
