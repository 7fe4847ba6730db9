/* One script: its lines become tests of statements (scan), and each test becomes either its records
 * or, at its first error, a test holding only a PACK_ERROR "file:line: reason" (compile). The pack
 * then reports the error as that test's failure, and the other tests still run. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "api/whv_platform.h"
#include "tools/exitc_api.h"

#define WORDS_MAX 64
#define PAGE 0x1000ull
#define DEFAULT_RUN_SIZE ((uint32_t)sizeof(WHV_RUN_VP_EXIT_CONTEXT))
/* The runner's own GDT and page tables (the public doc): no script maps this range. */
#define RUNNER_AREA_START 0xF0000ull
#define RUNNER_AREA_END 0x100000ull

/* ------------------------------------------------------------------------------------------------
 * Scanning: lines -> tests -> statements
 * ---------------------------------------------------------------------------------------------- */

struct statement {
    unsigned line;
    char *text;                 /* the line without its comment, split in place into words */
    char *words[WORDS_MAX];
    int n_words, too_many_words;
    struct exitc_buffer code;   /* `code`: the block's lines, newline-terminated, then a NUL (none: empty) */
    int code_ended;
};

struct test {
    char *name;                 /* NULL when the `test` line has none */
    unsigned line;
    int name_words;             /* words after `test`: exactly 1 is right */
    int outside;                /* not a test: the statements before the file's first `test` line */
    struct statement *statements;
    size_t n_statements, capacity;
};

struct scanner {
    struct exitc_pack *pack;
    const char *file;
    FILE *diag;
    struct test *test;
    long open_code;             /* index of the statement whose block is being read, -1 if none */
};

static void test_compile(struct exitc_pack *pack, const char *file, const struct test *t, FILE *diag);

static void comment_strip(char *line)
{
    line[strcspn(line, "#")] = 0;
}

/* `#` starts a comment in code lines too, except inside NASM's '...', "..." and `...` strings and
 * NASM's own `;` comments. */
static void code_comment_strip(char *line)
{
    char quote = 0;
    for (char *p = line; *p; p++) {
        if (quote && *p == quote)
            quote = 0;
        else if (!quote && (*p == '\'' || *p == '"' || *p == '`'))
            quote = *p;
        else if (!quote && *p == ';')
            return;
        else if (!quote && *p == '#') {
            *p = 0;
            return;
        }
    }
}

/* Splits `text` in place into at most `max` words; *too_many when there were more. */
static int words_split(char *text, char **words, int max, int *too_many)
{
    int n = 0;
    *too_many = 0;
    for (char *w = strtok(text, " \t"); w; w = strtok(NULL, " \t")) {
        if (n == max) {
            *too_many = 1;
            break;
        }
        words[n++] = w;
    }
    return n;
}

/* The line that closes a code block: `end`, alone but for a comment. */
static int is_end_line(const char *line)
{
    char *copy = exitc_string_copy(line, strlen(line));
    copy[strcspn(copy, "#;")] = 0;
    char *words[2];
    int too_many, n = words_split(copy, words, 2, &too_many);
    int end = n == 1 && strcmp(words[0], "end") == 0;
    free(copy);
    return end;
}

/* `test NAME` inside a code block means its `end` is missing: NASM's TEST always has two operands
 * (a comma), so the line cannot be code, and reading it as a new test keeps the following tests. */
static int is_test_line(const char *line)
{
    char *copy = exitc_string_copy(line, strlen(line));
    comment_strip(copy);
    char *words[2];
    int too_many, n = words_split(copy, words, 2, &too_many);
    int test = n == 2 && !too_many && strcmp(words[0], "test") == 0 && !strchr(words[1], ',');
    free(copy);
    return test;
}

static void test_free(struct test *t)
{
    for (size_t i = 0; i < t->n_statements; i++) {
        free(t->statements[i].text);
        exitc_buffer_free(&t->statements[i].code);
    }
    free(t->statements);
    free(t->name);
    free(t);
}

static void test_finish(struct scanner *sc)
{
    if (!sc->test)
        return;
    test_compile(sc->pack, sc->file, sc->test, sc->diag);
    test_free(sc->test);
    sc->test = NULL;
    sc->open_code = -1;
}

static struct test *test_new(unsigned line)
{
    struct test *t = exitc_realloc(NULL, sizeof *t);
    *t = (struct test){ .line = line };
    return t;
}

static void test_start(struct scanner *sc, const struct statement *s)
{
    test_finish(sc);
    sc->test = test_new(s->line);
    sc->test->name_words = s->too_many_words ? WORDS_MAX : s->n_words - 1;
    if (s->n_words > 1)
        sc->test->name = exitc_string_copy(s->words[1], strlen(s->words[1]));
}

static void statement_push(struct test *t, const struct statement *s)
{
    if (t->n_statements == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 16;
        t->statements = exitc_realloc(t->statements, t->capacity * sizeof *t->statements);
    }
    t->statements[t->n_statements++] = *s;
}

static void code_line_add(struct statement *code, const char *line)
{
    char *copy = exitc_string_copy(line, strlen(line));
    code_comment_strip(copy);
    exitc_buffer_append(&code->code, copy, strlen(copy));
    /* Kept NUL-terminated for NASM; the next line overwrites the NUL. */
    exitc_buffer_append(&code->code, "\n", 2);
    code->code.size--;
    free(copy);
}

static void statement_line(struct scanner *sc, unsigned number, const char *line)
{
    struct statement s = { .line = number, .text = exitc_string_copy(line, strlen(line)) };
    comment_strip(s.text);
    s.n_words = words_split(s.text, s.words, WORDS_MAX, &s.too_many_words);
    if (s.n_words == 0 || strcmp(s.words[0], "test") == 0) {
        if (s.n_words)
            test_start(sc, &s);
        free(s.text);
        return;
    }
    if (!sc->test) {
        sc->test = test_new(number);
        sc->test->outside = 1;
    }
    statement_push(sc->test, &s);
    if (strcmp(s.words[0], "code") == 0)
        sc->open_code = (long)sc->test->n_statements - 1;
}

static void line_scan(struct scanner *sc, unsigned number, const char *line)
{
    if (sc->open_code >= 0) {
        struct statement *code = &sc->test->statements[sc->open_code];
        if (is_end_line(line)) {
            code->code_ended = 1;
            sc->open_code = -1;
            return;
        }
        if (!is_test_line(line)) {
            code_line_add(code, line);
            return;
        }
        sc->open_code = -1;
    }
    statement_line(sc, number, line);
}

void exitc_compile_script(struct exitc_pack *pack, const char *file, const char *text, FILE *diag)
{
    struct scanner sc = { pack, file, diag, NULL, -1 };
    unsigned number = 0;
    for (const char *at = text; *at;) {
        size_t n = strcspn(at, "\n");
        char *line = exitc_string_copy(at, n > 0 && at[n - 1] == '\r' ? n - 1 : n);
        line_scan(&sc, ++number, line);
        free(line);
        at += n + (at[n] == '\n');
    }
    test_finish(&sc);
}

/* ------------------------------------------------------------------------------------------------
 * Compiling one test
 * ---------------------------------------------------------------------------------------------- */

struct range {
    uint64_t start, end;   /* [start, end) */
    unsigned line;         /* of its `map` */
};

struct compiler {
    struct exitc_pack *pack;
    const char *file;
    const struct test *test;
    FILE *diag;
    struct exitc_buffer records;
    char error[768];
    int failed;
    unsigned bits;          /* of the test's mode, for NASM */
    unsigned mode_line;     /* of the `mode` statement, 0 before it */
    unsigned runs;
    int have_code;
    struct range *maps;     /* what is mapped at this point of the test */
    size_t n_maps;
};

static int fail(struct compiler *c, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct compiler *c, unsigned line, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    size_t at = (size_t)snprintf(c->error, sizeof c->error, "%s:%u: ", c->file, line);
    if (at >= sizeof c->error)
        at = sizeof c->error - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error + at, sizeof c->error - at, fmt, ap);
    va_end(ap);
    c->failed = 1;
    if (c->diag)
        fprintf(c->diag, "%s\n", c->error);
    return 0;
}

/* ---- values */

/* C-style unsigned numbers: 31, 0x1f, 037. */
static int number_parse(const char *text, uint64_t *value)
{
    if (!isdigit((unsigned char)text[0]))
        return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 0);
    if (*end || errno)
        return 0;
    *value = v;
    return 1;
}

static int fits(uint64_t value, unsigned bits) { return bits >= 64 || value >> bits == 0; }

static int number_arg(struct compiler *c, const struct statement *s, int i, unsigned bits, uint64_t *value)
{
    if (!number_parse(s->words[i], value))
        return fail(c, s->line, "bad number `%s`", s->words[i]);
    if (!fits(*value, bits))
        return fail(c, s->line, "`%s` does not fit in %u bits", s->words[i], bits);
    return 1;
}

static int hex_digit(char ch) { return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10; }

static uint64_t hex_value(const char *digits, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 4 | (uint64_t)hex_digit(digits[i]);
    return v;
}

/* A 128-bit register's value: a number, or 0x and up to 32 hex digits. */
static int number128_parse(const char *text, WHV_UINT128 *value)
{
    int hex_prefix = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    size_t n = hex_prefix ? strlen(text + 2) : 0;
    if (n <= 16)
        return number_parse(text, &value->Low64);
    if (n > 32 || strspn(text + 2, "0123456789abcdefABCDEF") != n)
        return 0;
    value->High64 = hex_value(text + 2, n - 16);
    value->Low64 = hex_value(text + 2 + n - 16, 16);
    return 1;
}

/* The words from `first` on, joined: hex bytes and lists may be written with spaces. */
static void words_join(const struct statement *s, int first, struct exitc_buffer *out)
{
    for (int i = first; i < s->n_words; i++)
        exitc_buffer_append(out, s->words[i], strlen(s->words[i]));
    exitc_buffer_append(out, "", 1);
}

/* Hex bytes ("48656c6c6f") from the words at `first` on. */
static int hex_bytes_arg(struct compiler *c, const struct statement *s, int first, struct exitc_buffer *bytes)
{
    struct exitc_buffer text = { 0 };
    words_join(s, first, &text);
    const char *hex = (const char *)text.bytes;
    size_t n = strlen(hex);
    int ok = n > 0 && n % 2 == 0 && strspn(hex, "0123456789abcdefABCDEF") == n;
    for (size_t i = 0; ok && i < n; i += 2) {
        uint8_t byte = (uint8_t)hex_value(hex + i, 2);
        exitc_buffer_append(bytes, &byte, 1);
    }
    if (!ok)
        fail(c, s->line, "bad hex bytes `%s`: an even number of hex digits", hex);
    exitc_buffer_free(&text);
    return ok;
}

/* ---- mapped ranges, as the test's map and unmap statements leave them */

static int overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end) { return a < b_end && b < a_end; }

static void range_add(struct compiler *c, struct range r)
{
    c->maps = exitc_realloc(c->maps, (c->n_maps + 1) * sizeof *c->maps);
    c->maps[c->n_maps++] = r;
}

/* Removes [start, end) from the mapped ranges; a range it cuts keeps its parts outside. */
static void ranges_remove(struct compiler *c, uint64_t start, uint64_t end)
{
    struct range *old = c->maps;
    size_t n = c->n_maps;
    c->maps = NULL;
    c->n_maps = 0;
    for (size_t i = 0; i < n; i++) {
        struct range r = old[i];
        if (!overlaps(r.start, r.end, start, end)) {
            range_add(c, r);
            continue;
        }
        if (r.start < start)
            range_add(c, (struct range){ r.start, start, r.line });
        if (end < r.end)
            range_add(c, (struct range){ end, r.end, r.line });
    }
    free(old);
}

static const struct range *range_containing(const struct compiler *c, uint64_t gpa)
{
    for (size_t i = 0; i < c->n_maps; i++)
        if (gpa >= c->maps[i].start && gpa < c->maps[i].end)
            return &c->maps[i];
    return NULL;
}

/* Every byte of [gpa, gpa + size) is mapped (possibly across adjacent maps). */
static int mapped(const struct compiler *c, uint64_t gpa, uint64_t size)
{
    if (gpa + size < gpa)
        return 0;
    for (uint64_t end = gpa + size; gpa < end;) {
        const struct range *r = range_containing(c, gpa);
        if (!r)
            return 0;
        gpa = r->end;
    }
    return 1;
}

static int page_args(struct compiler *c, const struct statement *s, uint64_t *gpa, uint64_t *size)
{
    if (!number_arg(c, s, 1, 64, gpa) || !number_arg(c, s, 2, 64, size))
        return 0;
    if (*gpa % PAGE)
        return fail(c, s->line, "%s: GPA 0x%llx is not a multiple of 4 KiB", s->words[0], (unsigned long long)*gpa);
    if (*size % PAGE || *size == 0)
        return fail(c, s->line, "%s: SIZE 0x%llx is not a non-zero multiple of 4 KiB", s->words[0],
                    (unsigned long long)*size);
    if (*gpa + *size < *gpa)
        return fail(c, s->line, "%s: GPA + SIZE wraps around", s->words[0]);
    return 1;
}

/* ---- records */

static void record_empty(struct compiler *c, uint16_t op)
{
    exitc_record_end(&c->records, exitc_record_begin(&c->records, op));
}

static void record_bytes(struct compiler *c, uint64_t gpa, const struct exitc_buffer *bytes)
{
    size_t r = exitc_record_begin(&c->records, PACK_BYTES);
    exitc_buffer_append(&c->records, &gpa, sizeof gpa);
    exitc_buffer_append(&c->records, bytes->bytes, bytes->size);
    exitc_record_end(&c->records, r);
}

/* "file:line: WHAT", the text the runner prints with a failed expectation. */
static void append_source_text(struct compiler *c, unsigned line, const char *what)
{
    char text[512];
    snprintf(text, sizeof text, "%s:%u: %s", c->file, line, what);
    exitc_buffer_append_string(&c->records, text);
}

static void record_register(struct compiler *c, uint16_t op, uint32_t name, const WHV_REGISTER_VALUE *value,
                            const struct statement *s)
{
    size_t r = exitc_record_begin(&c->records, op);
    uint32_t reserved = 0;
    exitc_buffer_append(&c->records, &name, sizeof name);
    exitc_buffer_append(&c->records, &reserved, sizeof reserved);
    exitc_buffer_append(&c->records, value, sizeof *value);
    if (op == PACK_EXPECT_REG)
        append_source_text(c, s->line, s->words[1]);
    exitc_record_end(&c->records, r);
}

/* ---- statements */

static const struct mode {
    const char *name;
    uint32_t mode;   /* enum pack_mode */
    unsigned bits;   /* NASM's */
} modes[] = {
    { "real", PACK_MODE_REAL, 16 }, { "protected", PACK_MODE_PROTECTED, 32 }, { "long", PACK_MODE_LONG, 64 },
};

static const struct mode *mode_find(const char *name)
{
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(name, modes[i].name) == 0)
            return &modes[i];
    return NULL;
}

static int compile_mode(struct compiler *c, const struct statement *s)
{
    const struct mode *m = mode_find(s->words[1]);
    if (c->mode_line)
        return fail(c, s->line, "a second `mode` (the first is at line %u)", c->mode_line);
    if (!m)
        return fail(c, s->line, "unknown mode `%s`: real, protected or long", s->words[1]);
    c->mode_line = s->line;
    size_t r = exitc_record_begin(&c->records, PACK_MODE);
    exitc_buffer_append(&c->records, &m->mode, sizeof m->mode);
    exitc_record_end(&c->records, r);
    return 1;
}

static int map_flags(struct compiler *c, const struct statement *s, uint32_t *flags)
{
    *flags = WHvMapGpaRangeFlagNone;
    for (const char *f = s->words[3]; *f; f++) {
        if (*f == 'r')
            *flags |= WHvMapGpaRangeFlagRead;
        else if (*f == 'w')
            *flags |= WHvMapGpaRangeFlagWrite;
        else if (*f == 'x')
            *flags |= WHvMapGpaRangeFlagExecute;
        else
            return fail(c, s->line, "map: bad FLAGS `%s`: a combination of r, w and x", s->words[3]);
    }
    return 1;
}

static int compile_map(struct compiler *c, const struct statement *s)
{
    uint64_t gpa, size;
    uint32_t flags, reserved = 0;
    if (!page_args(c, s, &gpa, &size) || !map_flags(c, s, &flags))
        return 0;
    if (overlaps(gpa, gpa + size, RUNNER_AREA_START, RUNNER_AREA_END))
        return fail(c, s->line, "map: 0x%llx-0x%llx overlaps the runner's own area 0xf0000-0xfffff",
                    (unsigned long long)gpa, (unsigned long long)(gpa + size - 1));
    for (size_t i = 0; i < c->n_maps; i++)
        if (overlaps(gpa, gpa + size, c->maps[i].start, c->maps[i].end))
            return fail(c, s->line, "map: 0x%llx-0x%llx overlaps the range mapped at line %u",
                        (unsigned long long)gpa, (unsigned long long)(gpa + size - 1), c->maps[i].line);
    range_add(c, (struct range){ gpa, gpa + size, s->line });
    size_t r = exitc_record_begin(&c->records, PACK_MAP);
    exitc_buffer_append(&c->records, &gpa, sizeof gpa);
    exitc_buffer_append(&c->records, &size, sizeof size);
    exitc_buffer_append(&c->records, &flags, sizeof flags);
    exitc_buffer_append(&c->records, &reserved, sizeof reserved);
    exitc_record_end(&c->records, r);
    return 1;
}

static int compile_unmap(struct compiler *c, const struct statement *s)
{
    uint64_t gpa, size;
    if (!page_args(c, s, &gpa, &size))
        return 0;
    ranges_remove(c, gpa, gpa + size);
    size_t r = exitc_record_begin(&c->records, PACK_UNMAP);
    exitc_buffer_append(&c->records, &gpa, sizeof gpa);
    exitc_buffer_append(&c->records, &size, sizeof size);
    exitc_record_end(&c->records, r);
    return 1;
}

/* `+`-joined bit names and numbers, OR-ed. */
static int property_bits(struct compiler *c, const struct statement *s, const struct exitc_property *p,
                         char *text, uint64_t *value)
{
    *value = 0;
    for (char *term = text, *next; term; term = next) {
        next = strchr(term, '+');
        if (next)
            *next++ = 0;
        uint64_t v;
        if (isdigit((unsigned char)term[0]) && !number_parse(term, &v))
            return fail(c, s->line, "bad number `%s`", term);
        if (!isdigit((unsigned char)term[0]) && !exitc_name_lookup(p->bit_names, term, &v))
            return fail(c, s->line, "unknown %s bit `%s`", p->name, term);
        *value |= v;
    }
    return 1;
}

/* Comma-separated u32 values (CpuidExitList). */
static int property_leaves(struct compiler *c, const struct statement *s, char *text, struct exitc_buffer *value)
{
    for (char *term = text, *next; term; term = next) {
        next = strchr(term, ',');
        if (next)
            *next++ = 0;
        uint64_t leaf;
        if (!number_parse(term, &leaf) || !fits(leaf, 32))
            return fail(c, s->line, "bad CPUID leaf `%s`: a number of at most 32 bits", term);
        uint32_t leaf32 = (uint32_t)leaf;
        exitc_buffer_append(value, &leaf32, sizeof leaf32);
    }
    return 1;
}

static int property_raw(struct compiler *c, const struct statement *s, const struct exitc_property *p,
                        struct exitc_buffer *value)
{
    if (!hex_bytes_arg(c, s, 2, value))
        return 0;
    if (p->list ? value->size % p->size != 0 : value->size != p->size)
        return fail(c, s->line, "%s takes %s%u bytes, not %zu", p->name, p->list ? "a multiple of " : "", p->size,
                    value->size);
    return 1;
}

static int property_value(struct compiler *c, const struct statement *s, const struct exitc_property *p,
                          struct exitc_buffer *value)
{
    if (p->form == EXITC_PROPERTY_RAW_BYTES)
        return property_raw(c, s, p, value);
    struct exitc_buffer joined = { 0 };
    words_join(s, 2, &joined);
    char *text = (char *)joined.bytes;
    uint64_t number = 0;
    int ok;
    if (p->form == EXITC_PROPERTY_LEAF_LIST)
        ok = property_leaves(c, s, text, value);
    else if (p->form == EXITC_PROPERTY_BIT_NAMES)
        ok = property_bits(c, s, p, text, &number);
    else
        ok = number_parse(text, &number) || fail(c, s->line, "bad number `%s`", text);
    if (ok && p->form != EXITC_PROPERTY_LEAF_LIST) {
        ok = fits(number, 8 * p->size) || fail(c, s->line, "%s is %u bytes: 0x%llx does not fit", p->name, p->size,
                                                (unsigned long long)number);
        exitc_buffer_append(value, &number, p->size);   /* little-endian: the low bytes */
    }
    exitc_buffer_free(&joined);
    return ok;
}

static int compile_property(struct compiler *c, const struct statement *s)
{
    const struct exitc_property *p = exitc_property_lookup(s->words[1]);
    if (!p)
        return fail(c, s->line, "unknown property `%s`", s->words[1]);
    struct exitc_buffer value = { 0 };
    int ok = property_value(c, s, p, &value);
    if (ok) {
        uint32_t size = (uint32_t)value.size;
        size_t r = exitc_record_begin(&c->records, PACK_PROPERTY);
        exitc_buffer_append(&c->records, &p->code, sizeof p->code);
        exitc_buffer_append(&c->records, &size, sizeof size);
        exitc_buffer_append(&c->records, value.bytes, value.size);
        exitc_record_end(&c->records, r);
    }
    exitc_buffer_free(&value);
    return ok;
}

static int bytes_place(struct compiler *c, const struct statement *s, uint64_t gpa, const struct exitc_buffer *bytes)
{
    if (!mapped(c, gpa, bytes->size ? bytes->size : 1))
        return fail(c, s->line, "%s at 0x%llx (%zu byte%s) lies outside every mapped range", s->words[0],
                    (unsigned long long)gpa, bytes->size, bytes->size == 1 ? "" : "s");
    record_bytes(c, gpa, bytes);
    return 1;
}

static int assemble(struct compiler *c, const struct statement *s, uint64_t gpa, struct exitc_buffer *bytes)
{
    char why[512];
    unsigned line;
    if (!s->code_ended)
        return fail(c, s->line, "`code` block has no `end`");
    if (c->pack->fatal[0])   /* NASM could not run before: do not try again for every block */
        return fail(c, s->line, "%s", c->pack->fatal);
    const char *source = s->code.bytes ? (const char *)s->code.bytes : "";
    switch (exitc_assemble(c->bits, gpa, source, bytes, &line, why, sizeof why)) {
    case EXITC_ASSEMBLED: return 1;
    case EXITC_NASM_REJECTED: return fail(c, s->line + line, "%s", why);
    case EXITC_NASM_UNAVAILABLE: break;
    }
    if (!c->pack->fatal[0])
        snprintf(c->pack->fatal, sizeof c->pack->fatal, "%s", why);
    return fail(c, s->line, "%s", why);
}

static int compile_code(struct compiler *c, const struct statement *s)
{
    uint64_t gpa;
    struct exitc_buffer bytes = { 0 };
    int ok = number_arg(c, s, 1, 64, &gpa) && assemble(c, s, gpa, &bytes) && bytes_place(c, s, gpa, &bytes);
    exitc_buffer_free(&bytes);
    if (ok && !c->have_code) {
        c->have_code = 1;
        size_t r = exitc_record_begin(&c->records, PACK_START_RIP);
        exitc_buffer_append(&c->records, &gpa, sizeof gpa);
        exitc_record_end(&c->records, r);
    }
    return ok;
}

static int compile_data(struct compiler *c, const struct statement *s)
{
    uint64_t gpa;
    struct exitc_buffer bytes = { 0 };
    int ok = number_arg(c, s, 1, 64, &gpa) && hex_bytes_arg(c, s, 2, &bytes) && bytes_place(c, s, gpa, &bytes);
    exitc_buffer_free(&bytes);
    return ok;
}

static int register_arg(struct compiler *c, const struct statement *s, uint32_t *name, enum exitc_register_kind *kind)
{
    return exitc_register_lookup(s->words[1], name, kind) ||
           fail(c, s->line, "unknown register `%s`", s->words[1]);
}

/* REG VALUE for the 64- and 128-bit registers (set and expect-reg). */
static int plain_value(struct compiler *c, const struct statement *s, enum exitc_register_kind kind,
                       WHV_REGISTER_VALUE *v)
{
    if (s->n_words != 3)
        return fail(c, s->line, "usage: %s %s VALUE", s->words[0], s->words[1]);
    if (kind == EXITC_REG_128)
        return number128_parse(s->words[2], &v->Reg128) ||
               fail(c, s->line, "bad 128-bit value `%s`: a number, or 0x and up to 32 hex digits", s->words[2]);
    return number_arg(c, s, 2, 64, &v->Reg64);
}

static int segment_value(struct compiler *c, const struct statement *s, WHV_REGISTER_VALUE *v)
{
    uint64_t selector, base, limit, attributes;
    if (s->n_words != 6)
        return fail(c, s->line, "%s is a segment register: set %s SELECTOR BASE LIMIT ATTRIBUTES", s->words[1],
                    s->words[1]);
    if (!number_arg(c, s, 2, 16, &selector) || !number_arg(c, s, 3, 64, &base) || !number_arg(c, s, 4, 32, &limit) ||
        !number_arg(c, s, 5, 16, &attributes))
        return 0;
    v->Segment.Selector = (UINT16)selector;
    v->Segment.Base = base;
    v->Segment.Limit = (UINT32)limit;
    v->Segment.Attributes = (UINT16)attributes;
    return 1;
}

static int table_value(struct compiler *c, const struct statement *s, WHV_REGISTER_VALUE *v)
{
    uint64_t base, limit;
    if (s->n_words != 4)
        return fail(c, s->line, "%s is a descriptor-table register: set %s BASE LIMIT", s->words[1], s->words[1]);
    if (!number_arg(c, s, 2, 64, &base) || !number_arg(c, s, 3, 16, &limit))
        return 0;
    v->Table.Base = base;
    v->Table.Limit = (UINT16)limit;
    return 1;
}

static int compile_set(struct compiler *c, const struct statement *s)
{
    uint32_t name;
    enum exitc_register_kind kind;
    WHV_REGISTER_VALUE v;
    memset(&v, 0, sizeof v);
    if (!register_arg(c, s, &name, &kind))
        return 0;
    int ok = kind == EXITC_REG_SEGMENT ? segment_value(c, s, &v)
             : kind == EXITC_REG_TABLE ? table_value(c, s, &v)
                                       : plain_value(c, s, kind, &v);
    if (ok)
        record_register(c, PACK_SET_REG, name, &v, s);
    return ok;
}

/* The runner compares Reg64 (or 16 bytes for the 128-bit registers): a segment's or table register's
 * Reg64 is only its base, so those are refused rather than half-checked. */
static int compile_expect_reg(struct compiler *c, const struct statement *s)
{
    uint32_t name;
    enum exitc_register_kind kind;
    WHV_REGISTER_VALUE v;
    memset(&v, 0, sizeof v);
    if (!register_arg(c, s, &name, &kind))
        return 0;
    if (kind == EXITC_REG_SEGMENT || kind == EXITC_REG_TABLE)
        return fail(c, s->line, "expect-reg compares 64-bit or 128-bit values, not the %s register %s",
                    kind == EXITC_REG_SEGMENT ? "segment" : "descriptor-table", s->words[1]);
    if (!plain_value(c, s, kind, &v))
        return 0;
    record_register(c, PACK_EXPECT_REG, name, &v, s);
    return 1;
}

static int expect_bytes(struct compiler *c, const struct statement *s, const struct exitc_field *f)
{
    struct exitc_buffer bytes = { 0 };
    int ok = hex_bytes_arg(c, s, 2, &bytes);
    if (ok && bytes.size > f->byte_capacity)
        ok = fail(c, s->line, "%s holds %u bytes, not %zu", s->words[1], f->byte_capacity, bytes.size);
    if (ok) {
        uint32_t count = (uint32_t)bytes.size;
        size_t r = exitc_record_begin(&c->records, PACK_EXPECT_BYTES);
        exitc_buffer_append(&c->records, &f->expect.offset, sizeof f->expect.offset);
        exitc_buffer_append(&c->records, &count, sizeof count);
        exitc_buffer_append(&c->records, bytes.bytes, bytes.size);
        append_source_text(c, s->line, s->words[1]);
        exitc_record_end(&c->records, r);
    }
    exitc_buffer_free(&bytes);
    return ok;
}

/* A field's value: a number, or one of the names of its values (ExitReason X64Halt). */
static int field_value(struct compiler *c, const struct statement *s, const struct exitc_field *f, uint64_t *value)
{
    const char *text = s->words[2];
    unsigned bits = f->expect.bit_width ? f->expect.bit_width : 8u * f->expect.size;
    if (s->n_words != 3)
        return fail(c, s->line, "usage: expect %s VALUE", s->words[1]);
    if (exitc_name_lookup(f->value_names, text, value))
        return 1;
    if (!number_parse(text, value))
        return f->value_names && !isdigit((unsigned char)text[0])
                   ? fail(c, s->line, "unknown %s `%s`", f->value_kind, text)
                   : fail(c, s->line, "bad number `%s`", text);
    return fits(*value, bits) || fail(c, s->line, "%s is %u bits wide: `%s` does not fit", s->words[1], bits, text);
}

static int compile_expect(struct compiler *c, const struct statement *s)
{
    struct exitc_field f;
    char why[256];
    if (!exitc_field_resolve(s->words[1], &f, why, sizeof why))
        return fail(c, s->line, "%s", why);
    if (c->runs == 0)
        return fail(c, s->line, "`expect` before the first `run`: there is no exit to compare yet");
    if (f.instruction_bytes)
        return expect_bytes(c, s, &f);
    if (!field_value(c, s, &f, &f.expect.value))
        return 0;
    size_t r = exitc_record_begin(&c->records, PACK_EXPECT);
    exitc_buffer_append(&c->records, &f.expect, sizeof f.expect);
    append_source_text(c, s->line, s->words[1]);
    exitc_record_end(&c->records, r);
    return 1;
}

static int compile_run(struct compiler *c, const struct statement *s)
{
    uint64_t size = DEFAULT_RUN_SIZE;
    if (s->n_words == 2 && !number_arg(c, s, 1, 32, &size))
        return 0;
    uint32_t payload[2] = { (uint32_t)size, s->line };
    size_t r = exitc_record_begin(&c->records, PACK_RUN);
    exitc_buffer_append(&c->records, payload, sizeof payload);
    exitc_record_end(&c->records, r);
    c->runs++;
    return 1;
}

static int compile_advance(struct compiler *c, const struct statement *s)
{
    if (c->runs == 0)
        return fail(c, s->line, "`advance` before the first `run`: there is no exit to advance past");
    record_empty(c, PACK_ADVANCE);
    return 1;
}

static int compile_cancel(struct compiler *c, const struct statement *s)
{
    (void)s;
    record_empty(c, PACK_CANCEL);
    return 1;
}

struct statement_kind {
    const char *word, *usage;
    int min_args, max_args;
    int (*compile)(struct compiler *c, const struct statement *s);
};

static const struct statement_kind statement_kinds[] = {
    { "mode", "mode real|protected|long", 1, 1, compile_mode },
    { "map", "map GPA SIZE FLAGS", 3, 3, compile_map },
    { "unmap", "unmap GPA SIZE", 2, 2, compile_unmap },
    { "property", "property NAME VALUE", 2, WORDS_MAX, compile_property },
    { "code", "code GPA ... end", 1, 1, compile_code },
    { "data", "data GPA HEXBYTES", 2, WORDS_MAX, compile_data },
    { "set", "set REG VALUE", 2, 5, compile_set },
    { "run", "run [SIZE]", 0, 1, compile_run },
    { "expect", "expect FIELD VALUE", 2, WORDS_MAX, compile_expect },
    { "expect-reg", "expect-reg REG VALUE", 2, 2, compile_expect_reg },
    { "advance", "advance", 0, 0, compile_advance },
    { "cancel", "cancel", 0, 0, compile_cancel },
};

static int statement_compile(struct compiler *c, const struct statement *s)
{
    for (size_t i = 0; i < sizeof statement_kinds / sizeof statement_kinds[0]; i++) {
        const struct statement_kind *k = &statement_kinds[i];
        if (strcmp(s->words[0], k->word) != 0)
            continue;
        int args = s->n_words - 1;
        if (s->too_many_words || args < k->min_args || args > k->max_args)
            return fail(c, s->line, "usage: %s", k->usage);
        return k->compile(c, s);
    }
    return fail(c, s->line, "unknown statement `%s`", s->words[0]);
}

/* ---- the test as a whole */

struct exitc_test_name {
    char *directory, *name, *source;
    struct exitc_test_name *next;
};

/* Test names are unique per directory: the part of the path before its last `/`. */
static const struct exitc_test_name *name_find(const struct exitc_pack *pack, const char *directory,
                                               const char *name)
{
    for (const struct exitc_test_name *n = pack->names; n; n = n->next)
        if (strcmp(n->directory, directory) == 0 && strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

static int name_register(struct compiler *c, const char *name)
{
    const char *slash = strrchr(c->file, '/');
    char *directory = slash ? exitc_string_copy(c->file, (size_t)(slash - c->file)) : exitc_string_copy(".", 1);
    const struct exitc_test_name *seen = name_find(c->pack, directory, name);
    if (seen) {
        free(directory);
        return fail(c, c->test->line, "duplicate test name `%s` (first at %s)", name, seen->source);
    }
    struct exitc_test_name *n = exitc_realloc(NULL, sizeof *n);
    char source[512];
    snprintf(source, sizeof source, "%s:%u", c->file, c->test->line);
    *n = (struct exitc_test_name){ directory, exitc_string_copy(name, strlen(name)),
                                   exitc_string_copy(source, strlen(source)), c->pack->names };
    c->pack->names = n;
    return 1;
}

static int name_valid(const char *name)
{
    return *name && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(name);
}

static int test_line_check(struct compiler *c)
{
    const struct test *t = c->test;
    if (t->outside)
        return fail(c, t->line, "`%s` is outside a test: statements follow a `test NAME` line",
                    t->statements[0].words[0]);
    if (t->name_words != 1)
        return fail(c, t->line, "usage: test NAME");
    if (!name_valid(t->name))
        return fail(c, t->line, "test name `%s` is not [a-z0-9-]+", t->name);
    return name_register(c, t->name);
}

/* NASM needs the mode before the first code block, wherever `mode` stands in the test (default long). */
static unsigned test_bits(const struct test *t)
{
    for (size_t i = 0; i < t->n_statements; i++) {
        const struct statement *s = &t->statements[i];
        const struct mode *m = s->n_words == 2 && strcmp(s->words[0], "mode") == 0 ? mode_find(s->words[1]) : NULL;
        if (m)
            return m->bits;
    }
    return 64;
}

static void test_emit(struct exitc_pack *pack, struct compiler *c)
{
    const struct test *t = c->test;
    char source[512];
    snprintf(source, sizeof source, "%s:%u", c->file, t->line);
    size_t r = exitc_record_begin(&pack->records, PACK_TEST_BEGIN);
    exitc_buffer_append_string(&pack->records, t->outside ? c->file : t->name ? t->name : "(unnamed)");
    exitc_buffer_append_string(&pack->records, source);
    exitc_record_end(&pack->records, r);
    if (c->failed) {
        r = exitc_record_begin(&pack->records, PACK_ERROR);
        exitc_buffer_append_string(&pack->records, c->error);
        exitc_record_end(&pack->records, r);
        pack->error_count++;
    } else {
        exitc_buffer_append(&pack->records, c->records.bytes, c->records.size);
    }
    exitc_record_end(&pack->records, exitc_record_begin(&pack->records, PACK_TEST_END));
    pack->test_count++;
}

static void test_compile(struct exitc_pack *pack, const char *file, const struct test *t, FILE *diag)
{
    struct compiler c = { .pack = pack, .file = file, .test = t, .diag = diag, .bits = test_bits(t) };
    if (test_line_check(&c)) {
        for (size_t i = 0; i < t->n_statements && statement_compile(&c, &t->statements[i]); i++)
            ;
        if (c.runs == 0)
            fail(&c, t->line, "test `%s` has no `run`", t->name);
    }
    test_emit(pack, &c);
    exitc_buffer_free(&c.records);
    free(c.maps);
}

void exitc_pack_free(struct exitc_pack *pack)
{
    while (pack->names) {
        struct exitc_test_name *n = pack->names;
        pack->names = n->next;
        free(n->directory);
        free(n->name);
        free(n->source);
        free(n);
    }
    exitc_buffer_free(&pack->records);
}
