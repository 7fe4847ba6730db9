/* Parser for the loader's text config; the format is documented in boot/config.h. Pure. */
#include "boot/config.h"
#include <stdbool.h>
#include "arch/x86/string.h"

#define CONFIG_LINE_MAX 512   /* bytes of a line, its LF or CRLF not counted */

/* A piece of the text; never NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

typedef const char *(*value_parser)(struct span value, struct hv_config *c);

/* Zeroing gives next = "" (none) and cpus = 0 (all). */
void config_defaults(struct hv_config *c)
{
    memset(c, 0, sizeof *c);
    c->log = LOG_INFO;
    c->memory = CONFIG_MEMORY_DEFAULT;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static struct span trim(struct span s)
{
    while (s.n && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool span_is(struct span s, const char *word)
{
    size_t n = strlen(word);
    return s.n == n && memcmp(s.p, word, n) == 0;
}

/* Index of the first `ch` in s, or s.n when there is none. */
static size_t find(struct span s, char ch)
{
    size_t i = 0;
    while (i < s.n && s.p[i] != ch)
        i++;
    return i;
}

static unsigned digit_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return (unsigned)(ch - '0');
    if (ch >= 'a' && ch <= 'f')
        return (unsigned)(ch - 'a') + 10;
    if (ch >= 'A' && ch <= 'F')
        return (unsigned)(ch - 'A') + 10;
    return 16;   /* not a digit in any base used here */
}

/* Decimal, or hex after "0x"; at least one digit; false on overflow or any other character. */
static bool parse_unsigned(struct span s, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;

    if (s.n > 2 && s.p[0] == '0' && s.p[1] == 'x') {
        base = 16;
        s.p += 2;
        s.n -= 2;
    }
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        unsigned d = digit_value(s.p[i]);
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* Binary power of a K/M/G suffix (either case), or 0 when the last character is no suffix. */
static unsigned suffix_shift(char ch)
{
    switch (ch) {
    case 'k': case 'K': return 10;
    case 'm': case 'M': return 20;
    case 'g': case 'G': return 30;
    }
    return 0;
}

static bool parse_size(struct span s, uint64_t *out)
{
    unsigned shift = s.n ? suffix_shift(s.p[s.n - 1]) : 0;
    uint64_t v;

    if (shift)
        s.n--;
    if (!parse_unsigned(s, &v) || v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

static const char *parse_memory(struct span value, struct hv_config *c)
{
    const uint64_t page_mask = 0xfff;
    uint64_t bytes;

    if (!parse_size(value, &bytes))
        return "bad number";
    /* The range applies to the rounded size; checking the top first keeps the rounding from wrapping. */
    if (bytes > CONFIG_MEMORY_MAX)
        return "memory out of range";
    bytes = (bytes + page_mask) & ~page_mask;
    if (bytes < CONFIG_MEMORY_MIN)
        return "memory out of range";
    c->memory = bytes;
    return NULL;
}

static const char *parse_cpus(struct span value, struct hv_config *c)
{
    const uint64_t cpus_max = 256;
    uint64_t n;

    if (span_is(value, "all")) {
        c->cpus = 0;
        return NULL;
    }
    if (!parse_unsigned(value, &n))
        return "bad number";
    if (n < 1 || n > cpus_max)
        return "cpus out of range";
    c->cpus = (uint32_t)n;
    return NULL;
}

static const char *parse_log(struct span value, struct hv_config *c)
{
    static const char *const names[] = {
        [LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (span_is(value, names[i])) {
            c->log = (enum log_level)i;
            return NULL;
        }
    }
    return "unknown log level";
}

/* UEFI file paths use '\'; '/' is accepted for convenience. The path is on the loader's volume, so it
 * must be absolute. */
static const char *parse_next(struct span value, struct hv_config *c)
{
    if (value.n > CONFIG_PATH_MAX - 1)
        return "path too long";
    for (size_t i = 0; i < value.n; i++)
        c->next[i] = value.p[i] == '/' ? '\\' : value.p[i];
    c->next[value.n] = '\0';
    if (c->next[0] != '\\')
        return "path must be absolute";
    return NULL;
}

static const struct {
    const char *name;
    value_parser parse;
} keys[] = {
    { "next", parse_next },
    { "log", parse_log },
    { "memory", parse_memory },
    { "cpus", parse_cpus },
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

static size_t key_index(struct span key)
{
    size_t i = 0;
    while (i < KEY_COUNT && !span_is(key, keys[i].name))
        i++;
    return i;
}

/* One line without its line end. `seen` has a bit per key already given. */
static const char *parse_line(struct span line, struct hv_config *c, unsigned *seen)
{
    line = trim(line);
    if (line.n == 0 || line.p[0] == '#')
        return NULL;
    size_t eq = find(line, '=');
    if (eq == line.n)
        return "missing '='";
    size_t k = key_index(trim((struct span){ line.p, eq }));
    if (k == KEY_COUNT)
        return "unknown key";
    if (*seen & (1u << k))
        return "duplicate key";
    *seen |= 1u << k;
    struct span value = trim((struct span){ line.p + eq + 1, line.n - eq - 1 });
    if (value.n == 0)
        return "empty value";
    return keys[k].parse(value, c);
}

/* Checks the raw line (up to its LF) and strips a CR before the LF. */
static const char *take_line(struct span raw, struct span *line)
{
    if (find(raw, '\0') != raw.n)
        return "NUL byte";
    if (raw.n && raw.p[raw.n - 1] == '\r')
        raw.n--;
    if (raw.n > CONFIG_LINE_MAX)
        return "line longer than 512 bytes";
    *line = raw;
    return NULL;
}

/* Works on a copy so that *c stays as it was when any line is wrong. */
int config_parse(const char *text, size_t len, struct hv_config *c, struct config_error *err)
{
    struct hv_config work = *c;
    struct span rest = { text, len };
    unsigned seen = 0;

    for (unsigned line_no = 1; rest.n; line_no++) {
        size_t end = find(rest, '\n');
        struct span line;
        const char *reason = take_line((struct span){ rest.p, end }, &line);
        if (!reason)
            reason = parse_line(line, &work, &seen);
        if (reason) {
            *err = (struct config_error){ line_no, reason };
            return -1;
        }
        size_t consumed = end < rest.n ? end + 1 : end;
        rest.p += consumed;
        rest.n -= consumed;
    }
    *c = work;
    return 0;
}
