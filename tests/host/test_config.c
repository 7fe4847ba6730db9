/* config: the loader's hvx.cfg parser, table-driven over good and bad texts. */
#include "check.h"
#include "boot/config.h"
#include <stdbool.h>
#include <string.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)

struct good_case {
    const char *text;
    const char *next;
    enum log_level log;
    uint64_t memory;
    uint32_t cpus;
};

/* Expected values start from the defaults: next "", log info, 32 MiB, all CPUs. */
#define DEFAULTS "", LOG_INFO, 32 * MIB, 0

static const struct good_case good_cases[] = {
    { "", DEFAULTS },
    { "# only a comment\n", DEFAULTS },
    { "   # indented comment = with an equals sign\n\t#\n", DEFAULTS },
    { "\n   \n\t\n\r\n", DEFAULTS },
    { "next = \\EFI\\BOOT\\next.efi\nlog = debug\nmemory = 64M\ncpus = 4\n",
      "\\EFI\\BOOT\\next.efi", LOG_DEBUG, 64 * MIB, 4 },
    { "next = \\EFI\\BOOT\\next.efi\r\nlog = warn\r\nmemory = 64M\r\ncpus = 4\r\n",
      "\\EFI\\BOOT\\next.efi", LOG_WARN, 64 * MIB, 4 },
    { "\tlog\t=\terror\t\r\n  memory=8M  \n", "", LOG_ERROR, 8 * MIB, 0 },
    { "log = debug", "", LOG_DEBUG, 32 * MIB, 0 },                  /* no final newline */
    { "log = debug\r", "", LOG_DEBUG, 32 * MIB, 0 },                /* CR at the end of the text */
    { "log = info\n", DEFAULTS },
    { "next = /efi/boot/next.efi\n", "\\efi\\boot\\next.efi", LOG_INFO, 32 * MIB, 0 },
    { "next = \\EFI\\My Tools\\a=b.efi  \n", "\\EFI\\My Tools\\a=b.efi", LOG_INFO, 32 * MIB, 0 },
    { "memory = 4m\n", "", LOG_INFO, 4 * MIB, 0 },
    { "memory = 1g\n", "", LOG_INFO, GIB, 0 },
    { "memory = 1G\n", "", LOG_INFO, GIB, 0 },
    { "memory = 65536k\n", "", LOG_INFO, 64 * MIB, 0 },
    { "memory = 65536K\n", "", LOG_INFO, 64 * MIB, 0 },
    { "memory = 0x2000000\n", "", LOG_INFO, 32 * MIB, 0 },
    { "memory = 0x10M\n", "", LOG_INFO, 16 * MIB, 0 },
    { "memory = 0x0aBcD000\n", "", LOG_INFO, 0x0abcd000, 0 },
    { "memory = 4194304\n", "", LOG_INFO, 4 * MIB, 0 },
    { "memory = 4194305\n", "", LOG_INFO, 4 * MIB + 4096, 0 },       /* rounded up to 4 KiB */
    { "memory = 0x3ff001\n", "", LOG_INFO, 4 * MIB, 0 },             /* rounds up into range */
    { "memory = 1073741823\n", "", LOG_INFO, GIB, 0 },
    { "memory = 0004M\n", "", LOG_INFO, 4 * MIB, 0 },
    { "cpus = all\n", DEFAULTS },
    { "cpus = 1\n", "", LOG_INFO, 32 * MIB, 1 },
    { "cpus = 256\n", "", LOG_INFO, 32 * MIB, 256 },
    { "cpus = 0x10\n", "", LOG_INFO, 32 * MIB, 16 },
};

struct bad_case {
    const char *text;
    unsigned line;
    const char *reason;
};

static const struct bad_case bad_cases[] = {
    { "foo = 1\n", 1, "unknown key" },
    { "Log = info\n", 1, "unknown key" },
    { "= info\n", 1, "unknown key" },
    { "log = info\nlog = info\n", 2, "duplicate key" },
    { "# c\r\n\r\nmemory = 8M\r\ncpus = 2\r\nmemory = 8M\r\n", 5, "duplicate key" },
    { "log info\n", 1, "missing '='" },
    { "log = info\n\nmemory\n", 3, "missing '='" },
    { "log =\n", 1, "empty value" },
    { "log = \t\r\n", 1, "empty value" },
    { "next=\n", 1, "empty value" },
    { "memory = 12Q\n", 1, "bad number" },
    { "memory = 0x\n", 1, "bad number" },
    { "memory = 0xM\n", 1, "bad number" },
    { "memory = 0X4M\n", 1, "bad number" },
    { "memory = -4M\n", 1, "bad number" },
    { "memory = +4M\n", 1, "bad number" },
    { "memory = M\n", 1, "bad number" },
    { "memory = 32 M\n", 1, "bad number" },
    { "memory = 32MB\n", 1, "bad number" },
    { "memory = 18446744073709551616\n", 1, "bad number" },       /* 2^64 */
    { "memory = 0x10000000000000000\n", 1, "bad number" },
    { "memory = 17179869184G\n", 1, "bad number" },               /* 2^34 GiB = 2^64 */
    { "memory = 18446744073709551615\n", 1, "memory out of range" },
    { "memory = 0\n", 1, "memory out of range" },
    { "memory = 1k\n", 1, "memory out of range" },
    { "memory = 4190208\n", 1, "memory out of range" },           /* 4 MiB - 4 KiB */
    { "memory = 1073741825\n", 1, "memory out of range" },
    { "memory = 2G\n", 1, "memory out of range" },
    { "cpus = 0\n", 1, "cpus out of range" },
    { "cpus = 257\n", 1, "cpus out of range" },
    { "cpus = All\n", 1, "bad number" },
    { "cpus = 4K\n", 1, "bad number" },
    { "cpus = -1\n", 1, "bad number" },
    { "cpus = 99999999999999999999\n", 1, "bad number" },
    { "log = INFO\n", 1, "unknown log level" },
    { "log = verbose\n", 1, "unknown log level" },
    { "log = info # trailing comments are not comments\n", 1, "unknown log level" },
    { "next = EFI\\BOOT\\next.efi\n", 1, "path must be absolute" },
    { "next = next.efi\n", 1, "path must be absolute" },
    { "log = debug\nmemory = 1\n", 2, "memory out of range" },     /* the good line 1 is not kept */
};

static struct hv_config sample_config(void)
{
    struct hv_config c;
    config_defaults(&c);
    strcpy(c.next, "\\EFI\\BOOT\\before.efi");
    c.log = LOG_WARN;
    c.memory = 128 * MIB;
    c.cpus = 3;
    return c;
}

/* Compared field by field: padding is not part of the value. */
static bool same_config(const struct hv_config *a, const struct hv_config *b)
{
    return strcmp(a->next, b->next) == 0 && a->log == b->log && a->memory == b->memory &&
           a->cpus == b->cpus;
}

/* A table row's text on one TAP comment line, so that a failure says which row it was. */
static void print_case(const char *text, size_t len)
{
    printf("#   in config text \"");
    for (size_t i = 0; i < len; i++) {
        switch (text[i]) {
        case '\n': printf("\\n"); break;
        case '\r': printf("\\r"); break;
        case '\t': printf("\\t"); break;
        case '\0': printf("\\0"); break;
        default: putchar(text[i]);
        }
    }
    printf("\"\n");
}

static void check_good(const char *text, size_t len, const struct good_case *want)
{
    struct hv_config c, expected = { .log = want->log, .memory = want->memory, .cpus = want->cpus };
    struct config_error err = { 0, NULL };
    strcpy(expected.next, want->next);
    config_defaults(&c);
    int rc = config_parse(text, len, &c, &err);
    if (rc != 0 || !same_config(&c, &expected)) {
        print_case(text, len);
        printf("#   rc %d (line %u: %s), next \"%s\", log %d, memory 0x%llx, cpus %u\n", rc, err.line,
               err.reason ? err.reason : "-", c.next, (int)c.log, (unsigned long long)c.memory, c.cpus);
    }
    CHECK_EQ(rc, 0);
    CHECK(same_config(&c, &expected));
}

/* On every error *c keeps what it held before the call. */
static void check_bad(const char *text, size_t len, unsigned line, const char *reason)
{
    struct hv_config c = sample_config(), before = c;
    struct config_error err = { 0, NULL };
    int rc = config_parse(text, len, &c, &err);
    bool reason_ok = err.reason && strcmp(err.reason, reason) == 0;
    bool unchanged = same_config(&c, &before);
    if (rc != -1 || err.line != line || !reason_ok || !unchanged) {
        print_case(text, len);
        printf("#   rc %d, line %u, reason \"%s\"\n", rc, err.line, err.reason ? err.reason : "-");
    }
    CHECK_EQ(rc, -1);
    CHECK_EQ(err.line, line);
    CHECK(reason_ok);
    CHECK(unchanged);
}

TEST(config_defaults_values)
{
    struct hv_config c;
    memset(&c, 0xa5, sizeof c);
    config_defaults(&c);
    CHECK_EQ(c.next[0], '\0');
    CHECK_EQ(c.log, LOG_INFO);
    CHECK_EQ(c.memory, CONFIG_MEMORY_DEFAULT);
    CHECK_EQ(c.cpus, 0);
}

TEST(config_good_table)
{
    for (size_t i = 0; i < sizeof good_cases / sizeof good_cases[0]; i++) {
        const struct good_case *g = &good_cases[i];
        check_good(g->text, strlen(g->text), g);
    }
}

TEST(config_bad_table)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        check_bad(b->text, strlen(b->text), b->line, b->reason);
    }
}

TEST(config_empty_text_keeps_config)
{
    struct hv_config c = sample_config(), before = c;
    struct config_error err;
    CHECK_EQ(config_parse(NULL, 0, &c, &err), 0);
    CHECK(same_config(&c, &before));
}

/* Keys not given keep the values already in *c, not the defaults. */
TEST(config_parses_over_existing_values)
{
    struct hv_config c = sample_config();
    struct config_error err;
    CHECK_EQ(config_parse("memory = 8M\n", 12, &c, &err), 0);
    CHECK_EQ(c.memory, 8 * MIB);
    CHECK_EQ(c.log, LOG_WARN);
    CHECK_EQ(c.cpus, 3);
    CHECK(strcmp(c.next, "\\EFI\\BOOT\\before.efi") == 0);
}

/* len bounds the text: bytes after it are never read, and it need not end in a NUL. */
TEST(config_length_bounds_text)
{
    static const struct good_case want = { .next = "", .log = LOG_DEBUG, .memory = 32 * MIB };
    char text[] = { 'l', 'o', 'g', '=', 'd', 'e', 'b', 'u', 'g', '\n', 'x', 'x' };
    check_good(text, 10, &want);
    check_good(text, 9, &want);
}

TEST(config_nul_byte)
{
    static const char mid[] = "log = info\nlog\0 = warn\n";
    static const char comment[] = "# a\0comment\nlog = info\n";
    static const char last[] = "log = info\n\0";
    check_bad(mid, sizeof mid - 1, 2, "NUL byte");
    check_bad(comment, sizeof comment - 1, 1, "NUL byte");
    check_bad(last, sizeof last - 1, 2, "NUL byte");
}

/* "# " plus filler up to `content` bytes on line 2, then `end`. */
static size_t long_line_text(char *buf, size_t content, const char *end)
{
    size_t n = 0;
    memcpy(buf, "log = warn\n# ", 13);
    n = 13;
    memset(buf + n, 'x', content - 2);
    n += content - 2;
    memcpy(buf + n, end, strlen(end));
    return n + strlen(end);
}

TEST(config_line_length_limit)
{
    static const struct good_case want = { .next = "", .log = LOG_WARN, .memory = 32 * MIB };
    char buf[600];
    check_good(buf, long_line_text(buf, 512, "\n"), &want);
    check_good(buf, long_line_text(buf, 512, "\r\n"), &want);
    check_good(buf, long_line_text(buf, 512, ""), &want);
    check_bad(buf, long_line_text(buf, 513, "\n"), 2, "line longer than 512 bytes");
    check_bad(buf, long_line_text(buf, 513, ""), 2, "line longer than 512 bytes");
}

/* `next` holds at most CONFIG_PATH_MAX - 1 characters and its NUL. */
static size_t next_line(char *buf, size_t path_len)
{
    memcpy(buf, "next = \\", 8);
    memset(buf + 8, 'a', path_len - 1);
    buf[7 + path_len] = '\n';
    return 8 + path_len;
}

TEST(config_next_path_length)
{
    char buf[300];
    struct hv_config c;
    struct config_error err;
    config_defaults(&c);
    CHECK_EQ(config_parse(buf, next_line(buf, CONFIG_PATH_MAX - 1), &c, &err), 0);
    CHECK_EQ(strlen(c.next), CONFIG_PATH_MAX - 1);
    CHECK_EQ(c.next[0], '\\');
    CHECK_EQ(c.next[CONFIG_PATH_MAX - 2], 'a');
    check_bad(buf, next_line(buf, CONFIG_PATH_MAX), 1, "path too long");
}
