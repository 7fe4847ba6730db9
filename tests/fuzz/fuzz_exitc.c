/* Fuzzes the exit-script compiler (tools/exitc_script.c, exitc_names.c, exitc_buffer.c, exitc.c) with
 * arbitrary script text: the input is split at NUL bytes into up to three scripts, compiled in one pack
 * as a/one.exits, a/two.exits and b/one.exits (test names are unique per directory). `code` blocks go to
 * a fake assembler defined here instead of NASM (exitc_nasm.c is not linked): one byte per line, a line
 * holding "bad" rejected at that line, "%fatal" reported as NASM missing. Checks, for any text:
 *   - the pack image decodes: header, test_count TEST_BEGIN..TEST_END tests, every record's framing
 *     (reserved 0, zero padding to 8 bytes), every op known and its payload the size its layout says,
 *     strings NUL-terminated inside their record;
 *   - a test holds one PACK_ERROR and nothing executable, or records that make sense: a RUN before any
 *     EXPECT/ADVANCE, at least one RUN, maps page-aligned, non-empty, not wrapping, outside the runner's
 *     area and not overlapping each other, bytes only where the test mapped memory at that point,
 *     expectations inside WHV_RUN_VP_EXIT_CONTEXT with a value that fits the field;
 *   - error_count equals the PACK_ERROR records, every message starts "FILE:LINE: " with a line of that
 *     script, and fatal is set only when the fake assembler said NASM was missing;
 *   - compiling the same text again gives the same bytes. */
#include <string.h>
#include "fuzz.h"
#include "api/whv_platform.h"
#include "tools/exitc_api.h"

#define MAX_SCRIPTS 3
static const char *const files[MAX_SCRIPTS] = { "a/one.exits", "a/two.exits", "b/one.exits" };

/* ---- the fake assembler ---- */

static bool fatal_reported;

enum exitc_assembly exitc_assemble(unsigned bits, uint64_t org, const char *source, struct exitc_buffer *out,
                                   unsigned *line, char *why, size_t why_size)
{
    FUZZ_CHECK(bits == 16 || bits == 32 || bits == 64, "assembling as %u bits", bits);
    (void)org;
    *line = 0;
    if (strstr(source, "%fatal")) {
        fatal_reported = true;
        snprintf(why, why_size, "fake: nasm is not available");
        return EXITC_NASM_UNAVAILABLE;
    }
    unsigned n = 1;
    for (const char *at = source; *at; n++) {
        size_t len = strcspn(at, "\n");
        const char *bad = strstr(at, "bad");
        if (bad && bad < at + len) {
            *line = n;
            snprintf(why, why_size, "fake: line %u rejected", n);
            return EXITC_NASM_REJECTED;
        }
        if (len) {
            uint8_t byte = (uint8_t)(len ^ bits);
            exitc_buffer_append(out, &byte, 1);
        }
        at += len + (at[len] == '\n');
    }
    return EXITC_ASSEMBLED;
}

/* ---- decoding and checking the pack ---- */

struct span {
    uint64_t start, end;
};

struct test_state {
    bool open, failed, executable;
    unsigned runs;
    struct span maps[256];
    unsigned n_maps;
};

static const uint8_t *payload;
static uint32_t payload_len;

static uint64_t u64_at(uint32_t at) { uint64_t v; memcpy(&v, payload + at, 8); return v; }
static uint32_t u32_at(uint32_t at) { uint32_t v; memcpy(&v, payload + at, 4); return v; }

/* A NUL-terminated string at `at` inside the payload: its length + 1. */
static uint32_t string_at(uint32_t at, const char *what)
{
    FUZZ_CHECK(at < payload_len, "%s: no string at %u of %u", what, at, payload_len);
    const void *nul = memchr(payload + at, 0, payload_len - at);
    FUZZ_CHECK(nul, "%s: string not terminated inside its record", what);
    return (uint32_t)((const uint8_t *)nul - (payload + at)) + 1;
}

static void error_message_check(const char *message, const char *const *texts, unsigned n_scripts)
{
    for (unsigned i = 0; i < n_scripts; i++) {
        size_t n = strlen(files[i]);
        if (strncmp(message, files[i], n) != 0 || message[n] != ':')
            continue;
        char *end;
        unsigned long line = strtoul(message + n + 1, &end, 10);
        unsigned lines = 1;
        for (const char *p = texts[i]; *p; p++)
            lines += *p == '\n';
        FUZZ_CHECK(line >= 1 && line <= lines && end[0] == ':' && end[1] == ' ',
                   "message \"%s\" names line %lu of a %u-line script", message, line, lines);
        return;
    }
    FUZZ_CHECK(0, "message \"%s\" names no script", message);
}

static bool overlaps(struct span a, struct span b) { return a.start < b.end && b.start < a.end; }

static void map_remove(struct test_state *t, struct span cut)
{
    struct span old[256];
    unsigned n = t->n_maps;
    memcpy(old, t->maps, n * sizeof old[0]);
    t->n_maps = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!overlaps(old[i], cut)) {
            t->maps[t->n_maps++] = old[i];
            continue;
        }
        if (old[i].start < cut.start && t->n_maps < 256)
            t->maps[t->n_maps++] = (struct span){ old[i].start, cut.start };
        if (cut.end < old[i].end && t->n_maps < 256)
            t->maps[t->n_maps++] = (struct span){ cut.end, old[i].end };
    }
}

static bool is_mapped(const struct test_state *t, uint64_t at, uint64_t end)
{
    while (at < end) {
        unsigned i = 0;
        while (i < t->n_maps && !(at >= t->maps[i].start && at < t->maps[i].end))
            i++;
        if (i == t->n_maps)
            return false;
        at = t->maps[i].end;
    }
    return true;
}

static void record_check(struct test_state *t, uint16_t op, uint32_t *errors, const char *const *texts,
                         unsigned n_scripts)
{
    uint32_t n = payload_len;
    if (op == PACK_TEST_BEGIN) {
        FUZZ_CHECK(!t->open, "TEST_BEGIN inside a test");
        memset(t, 0, sizeof *t);
        t->open = true;
        uint32_t name = string_at(0, "test name");
        FUZZ_CHECK(name + string_at(name, "test source") == n, "TEST_BEGIN payload");
        return;
    }
    FUZZ_CHECK(t->open, "op %u outside a test", op);
    if (op == PACK_TEST_END) {
        FUZZ_CHECK(n == 0, "TEST_END with a payload");
        FUZZ_CHECK(t->failed || t->runs > 0, "a compiled test without RUN");
        t->open = false;
        return;
    }
    if (op == PACK_ERROR) {
        FUZZ_CHECK(!t->failed && !t->executable, "PACK_ERROR next to other records");
        FUZZ_CHECK(string_at(0, "error") == n, "PACK_ERROR payload");
        error_message_check((const char *)payload, texts, n_scripts);
        t->failed = true;
        (*errors)++;
        return;
    }
    FUZZ_CHECK(!t->failed, "op %u in a test that failed to compile", op);
    t->executable = true;
    switch (op) {
    case PACK_MODE:
        FUZZ_CHECK(n == 4 && u32_at(0) <= PACK_MODE_LONG, "MODE payload");
        break;
    case PACK_MAP: {
        FUZZ_CHECK(n == 24 && u32_at(20) == 0 && (u32_at(16) & ~7u) == 0, "MAP payload");
        struct span s = { u64_at(0), u64_at(0) + u64_at(8) };
        FUZZ_CHECK(s.start % 0x1000 == 0 && u64_at(8) % 0x1000 == 0 && s.end > s.start, "MAP range");
        FUZZ_CHECK(!overlaps(s, (struct span){ 0xF0000, 0x100000 }), "MAP over the runner's area");
        for (unsigned i = 0; i < t->n_maps; i++)
            FUZZ_CHECK(!overlaps(s, t->maps[i]), "MAP over a mapped range");
        FUZZ_CHECK(t->n_maps < 256, "more maps than this checker holds");
        t->maps[t->n_maps++] = s;
        break;
    }
    case PACK_UNMAP: {
        FUZZ_CHECK(n == 16, "UNMAP payload");
        struct span s = { u64_at(0), u64_at(0) + u64_at(8) };
        FUZZ_CHECK(s.start % 0x1000 == 0 && u64_at(8) % 0x1000 == 0 && s.end > s.start, "UNMAP range");
        map_remove(t, s);
        break;
    }
    case PACK_PROPERTY:
        FUZZ_CHECK(n >= 8 && u32_at(4) == n - 8, "PROPERTY payload");
        break;
    case PACK_BYTES: {
        FUZZ_CHECK(n >= 8, "BYTES payload");
        uint64_t at = u64_at(0), len = n - 8 ? n - 8 : 1;
        FUZZ_CHECK(at + len > at && is_mapped(t, at, at + len), "BYTES at 0x%llx (%u) outside the test's maps",
                   (unsigned long long)at, n - 8);
        break;
    }
    case PACK_START_RIP:
        FUZZ_CHECK(n == 8, "START_RIP payload");
        break;
    case PACK_SET_REG:
        FUZZ_CHECK(n == 24 && u32_at(4) == 0, "SET_REG payload");
        break;
    case PACK_RUN:
        FUZZ_CHECK(n == 8, "RUN payload");
        t->runs++;
        break;
    case PACK_EXPECT: {
        FUZZ_CHECK(n > 16 && string_at(16, "expect text") == n - 16, "EXPECT payload");
        struct pack_expect e;
        memcpy(&e, payload, sizeof e);
        FUZZ_CHECK(t->runs > 0, "EXPECT before RUN");
        FUZZ_CHECK((e.size == 1 || e.size == 2 || e.size == 4 || e.size == 8) &&
                       e.offset + e.size <= sizeof(WHV_RUN_VP_EXIT_CONTEXT) &&
                       e.bit_offset + e.bit_width <= 8 * e.size,
                   "EXPECT field offset %u size %u bits %u+%u", e.offset, e.size, e.bit_offset, e.bit_width);
        unsigned width = e.bit_width ? e.bit_width : 8u * e.size;
        FUZZ_CHECK(width >= 64 || e.value >> width == 0, "EXPECT value 0x%llx does not fit %u bits",
                   (unsigned long long)e.value, width);
        break;
    }
    case PACK_EXPECT_BYTES: {
        FUZZ_CHECK(n >= 8, "EXPECT_BYTES payload");
        uint32_t offset = u32_at(0), count = u32_at(4);
        FUZZ_CHECK(t->runs > 0, "EXPECT_BYTES before RUN");
        FUZZ_CHECK(count >= 1 && count <= 16 && offset + count <= sizeof(WHV_RUN_VP_EXIT_CONTEXT) && 8 + count < n &&
                       string_at(8 + count, "expect text") == n - 8 - count,
                   "EXPECT_BYTES offset %u count %u length %u", offset, count, n);
        break;
    }
    case PACK_EXPECT_REG:
        FUZZ_CHECK(n > 24 && u32_at(4) == 0 && string_at(24, "expect-reg text") == n - 24, "EXPECT_REG payload");
        break;
    case PACK_ADVANCE:
        FUZZ_CHECK(n == 0 && t->runs > 0, "ADVANCE payload or before RUN");
        break;
    case PACK_CANCEL:
        FUZZ_CHECK(n == 0, "CANCEL payload");
        break;
    default:
        FUZZ_CHECK(0, "unknown op %u", op);
    }
}

static void pack_check(const struct exitc_pack *pack, const struct exitc_buffer *image, const char *const *texts,
                       unsigned n_scripts)
{
    struct pack_header h;
    FUZZ_CHECK(image->size >= sizeof h && image->size % 8 == 0, "image of %zu bytes", image->size);
    memcpy(&h, image->bytes, sizeof h);
    FUZZ_CHECK(memcmp(h.magic, PACK_MAGIC, 8) == 0 && h.version == PACK_VERSION && h.test_count == pack->test_count,
               "header");
    static struct test_state t;
    memset(&t, 0, sizeof t);
    uint32_t tests = 0, errors = 0;
    for (size_t at = sizeof h; at < image->size;) {
        struct pack_record r;
        FUZZ_CHECK(image->size - at >= sizeof r, "truncated record header at %zu", at);
        memcpy(&r, image->bytes + at, sizeof r);
        FUZZ_CHECK(r.reserved == 0, "reserved field %u", r.reserved);
        size_t end = at + sizeof r + r.length, padded = (end + 7) & ~(size_t)7;
        FUZZ_CHECK(padded <= image->size, "record at %zu runs past the image", at);
        for (size_t i = end; i < padded; i++)
            FUZZ_CHECK(image->bytes[i] == 0, "padding byte not zero");
        payload = image->bytes + at + sizeof r;
        payload_len = r.length;
        tests += r.op == PACK_TEST_BEGIN;
        record_check(&t, r.op, &errors, texts, n_scripts);
        at = padded;
    }
    FUZZ_CHECK(!t.open, "the last test has no TEST_END");
    FUZZ_CHECK(tests == pack->test_count && errors == pack->error_count, "%u tests / %u errors, pack says %u / %u",
               tests, errors, pack->test_count, pack->error_count);
}

static void compile(const char *const *texts, unsigned n, struct exitc_pack *pack, struct exitc_buffer *image)
{
    static FILE *diag;
    if (!diag)
        diag = fopen("/dev/null", "w");
    memset(pack, 0, sizeof *pack);
    memset(image, 0, sizeof *image);
    for (unsigned i = 0; i < n && !pack->fatal[0]; i++)
        exitc_compile_script(pack, files[i], texts[i], diag);
    exitc_pack_image(pack, image);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The scripts, each NUL-terminated, from the NUL-separated input. */
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = 0;
    const char *texts[MAX_SCRIPTS];
    unsigned n = 0;
    for (char *at = copy; n < MAX_SCRIPTS && at <= copy + size; at += strlen(at) + 1)
        texts[n++] = at;

    struct exitc_pack pack, again;
    struct exitc_buffer image, image_again;
    fatal_reported = false;
    compile(texts, n, &pack, &image);
    FUZZ_CHECK(!pack.fatal[0] || fatal_reported, "fatal \"%s\" without a missing NASM", pack.fatal);
    if (!pack.fatal[0])
        pack_check(&pack, &image, texts, n);
    compile(texts, n, &again, &image_again);
    FUZZ_CHECK(image.size == image_again.size && memcmp(image.bytes, image_again.bytes, image.size) == 0,
               "the same scripts compiled twice differ");
    exitc_pack_free(&pack);
    exitc_pack_free(&again);
    exitc_buffer_free(&image);
    exitc_buffer_free(&image_again);
    free(copy);
    return 0;
}
