/* The pack (tools/exit_pack.h): validation, then walking. The runner validates the whole pack before
 * running anything, so the walk never meets a record it cannot execute: a compiler bug shows as one
 * "bad pack" line, never as a crash or a half-run suite. Pure C: no firmware, no hypervisor. */
#include <stdarg.h>
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "tests/payload/exitrun.h"

static int bad(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return 0;
}

static const char *op_name(uint16_t op)
{
    static const char *const names[] = {
        [PACK_TEST_BEGIN] = "TEST_BEGIN", [PACK_TEST_END] = "TEST_END", [PACK_ERROR] = "ERROR",
        [PACK_MODE] = "MODE", [PACK_MAP] = "MAP", [PACK_UNMAP] = "UNMAP", [PACK_PROPERTY] = "PROPERTY",
        [PACK_BYTES] = "BYTES", [PACK_START_RIP] = "START_RIP", [PACK_SET_REG] = "SET_REG", [PACK_RUN] = "RUN",
        [PACK_EXPECT] = "EXPECT", [PACK_EXPECT_BYTES] = "EXPECT_BYTES", [PACK_EXPECT_REG] = "EXPECT_REG",
        [PACK_ADVANCE] = "ADVANCE", [PACK_CANCEL] = "CANCEL",
    };
    return op < sizeof names / sizeof names[0] && names[op] ? names[op] : "unknown";
}

/* Reads the record at *cursor and moves the cursor past its padding; 0 (with the reason) when the
 * record does not lie wholly in the file. */
static int record_at(const struct pack *p, uint64_t *cursor, struct record *r, char *why, size_t why_size)
{
    uint64_t at = *cursor;
    struct pack_record h;
    if (p->size - at < sizeof h)
        return bad(why, why_size, "record header at offset 0x%llx runs past the end of the file",
                   (unsigned long long)at);
    memcpy(&h, p->bytes + at, sizeof h);
    uint64_t end = at + sizeof h + h.length, padded = (end + 7) & ~7ull;
    if (padded > p->size)
        return bad(why, why_size, "record at offset 0x%llx (op %u): length %u runs past the end of the file",
                   (unsigned long long)at, h.op, h.length);
    if (h.reserved)
        return bad(why, why_size, "record at offset 0x%llx (op %u): reserved field is 0x%x, not 0",
                   (unsigned long long)at, h.op, h.reserved);
    for (uint64_t i = end; i < padded; i++)
        if (p->bytes[i])
            return bad(why, why_size, "record at offset 0x%llx (op %u): padding is not zero",
                       (unsigned long long)at, h.op);
    *r = (struct record){ h.op, h.length, p->bytes + at + sizeof h };
    *cursor = padded;
    return 1;
}

int pack_next(const struct pack *p, uint64_t *cursor, struct record *r)
{
    char ignored[8];
    return *cursor < p->size && record_at(p, cursor, r, ignored, sizeof ignored);
}

void record_read(const struct record *r, void *out, size_t size) { memcpy(out, r->data, size); }

const char *record_string(const struct record *r, uint32_t at) { return (const char *)r->data + at; }

static uint32_t pack_test_count(const struct pack *p)
{
    struct pack_header h;
    memcpy(&h, p->bytes, sizeof h);
    return h.test_count;
}

/* The payload from byte `at` on is exactly `count` NUL-terminated strings. */
static int strings_fill(const struct record *r, uint32_t at, unsigned count)
{
    if (at >= r->length || r->data[r->length - 1] != 0)
        return 0;
    unsigned nuls = 0;
    for (uint32_t i = at; i < r->length; i++)
        nuls += r->data[i] == 0;
    return nuls == count;
}

static int expect_ok(const struct record *r)
{
    struct pack_expect e;
    if (r->length <= sizeof e)
        return 0;
    record_read(r, &e, sizeof e);
    int size_ok = e.size == 1 || e.size == 2 || e.size == 4 || e.size == 8;
    return size_ok && e.offset + e.size <= sizeof(WHV_RUN_VP_EXIT_CONTEXT) &&
           e.bit_offset + e.bit_width <= e.size * 8 && strings_fill(r, sizeof e, 1);
}

/* InstructionBytes (16 bytes, after the 4 bytes of InstructionByteCount and Reserved) of a payload. */
static int expect_bytes_ok(const struct record *r)
{
    struct pack_expect_bytes e;
    if (r->length <= sizeof e)
        return 0;
    record_read(r, &e, sizeof e);
    return e.offset >= 4 && e.count <= 16 && e.offset + e.count <= sizeof(WHV_RUN_VP_EXIT_CONTEXT) &&
           sizeof e + e.count < r->length && strings_fill(r, sizeof e + e.count, 1);
}

static uint32_t u32_at(const struct record *r, uint32_t at)
{
    uint32_t v;
    memcpy(&v, r->data + at, sizeof v);
    return v;
}

/* Whether a record's payload has the shape its op requires. */
static int payload_ok(const struct record *r)
{
    const uint32_t reg_size = sizeof(struct pack_set_reg), reg_reserved = offsetof(struct pack_set_reg, reserved);
    switch (r->op) {
    case PACK_TEST_BEGIN: return strings_fill(r, 0, 2);
    case PACK_ERROR: return strings_fill(r, 0, 1);
    case PACK_TEST_END: case PACK_ADVANCE: case PACK_CANCEL: return r->length == 0;
    case PACK_MODE: return r->length == sizeof(uint32_t) && u32_at(r, 0) <= PACK_MODE_LONG;
    case PACK_MAP:
        return r->length == sizeof(struct pack_map) && u32_at(r, offsetof(struct pack_map, reserved)) == 0;
    case PACK_UNMAP: return r->length == sizeof(struct pack_unmap);
    case PACK_PROPERTY:
        return r->length >= sizeof(struct pack_property) &&
               u32_at(r, offsetof(struct pack_property, size)) == r->length - sizeof(struct pack_property);
    case PACK_BYTES: return r->length >= sizeof(uint64_t);
    case PACK_START_RIP: return r->length == sizeof(uint64_t);
    case PACK_SET_REG: return r->length == reg_size && u32_at(r, reg_reserved) == 0;
    case PACK_RUN: return r->length == sizeof(struct pack_run);
    case PACK_EXPECT: return expect_ok(r);
    case PACK_EXPECT_BYTES: return expect_bytes_ok(r);
    case PACK_EXPECT_REG: return r->length > reg_size && u32_at(r, reg_reserved) == 0 && strings_fill(r, reg_size, 1);
    default: return 0;
    }
}

static int header_ok(const struct pack *p, char *why, size_t why_size)
{
    struct pack_header h;
    if (p->size < sizeof h)
        return bad(why, why_size, "file of %llu bytes is shorter than the %u-byte header",
                   (unsigned long long)p->size, (unsigned)sizeof h);
    memcpy(&h, p->bytes, sizeof h);
    if (memcmp(h.magic, PACK_MAGIC, sizeof h.magic) != 0)
        return bad(why, why_size, "magic is not " PACK_MAGIC);
    if (h.version != PACK_VERSION)
        return bad(why, why_size, "version %u, this runner reads version %u", h.version, PACK_VERSION);
    return 1;
}

/* Test nesting: TEST_BEGIN opens a test, TEST_END closes it, everything else lies inside one. */
static int nesting_ok(const struct record *r, int *in_test, uint32_t *tests)
{
    int begin = r->op == PACK_TEST_BEGIN, end = r->op == PACK_TEST_END;
    if (begin == *in_test)
        return 0;
    *tests += begin;
    *in_test = begin || (*in_test && !end);
    return 1;
}

int pack_validate(const struct pack *p, char *why, size_t why_size)
{
    if (!header_ok(p, why, why_size))
        return 0;
    uint64_t cursor = PACK_FIRST_RECORD;
    uint32_t tests = 0;
    int in_test = 0;
    while (cursor < p->size) {
        uint64_t at = cursor;
        struct record r;
        if (!record_at(p, &cursor, &r, why, why_size))
            return 0;
        if (!payload_ok(&r))
            return bad(why, why_size, "record at offset 0x%llx: op %u (%s) with a %u-byte payload is malformed",
                       (unsigned long long)at, r.op, op_name(r.op), r.length);
        if (!nesting_ok(&r, &in_test, &tests))
            return bad(why, why_size, "record at offset 0x%llx: op %u (%s) %s a test", (unsigned long long)at, r.op,
                       op_name(r.op), in_test ? "inside" : "outside");
    }
    if (in_test)
        return bad(why, why_size, "the last test has no end record");
    if (tests != pack_test_count(p))
        return bad(why, why_size, "header says %u tests, the records hold %u", pack_test_count(p), tests);
    return 1;
}
