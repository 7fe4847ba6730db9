/* tools/exitc, the exit-script compiler: scripts in, packs decoded record by record. Field paths are
 * checked against the real WHV_RUN_VP_EXIT_CONTEXT (offsetof for whole fields; for bitfields, setting
 * the field through the struct and reading it back with the resolved offset, size and bits). The tests
 * run NASM, like exitc itself. */
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/whv_platform.h"
#include "tools/exitc_api.h"

/* ------------------------------------------------------------------------------------------------
 * Decoding a pack
 * ---------------------------------------------------------------------------------------------- */

#define MAX_RECORDS 64

struct record {
    uint16_t op;
    uint32_t length;
    const uint8_t *data;
};

struct decoded {
    struct exitc_buffer image;
    uint32_t test_count;
    int n;
    struct record r[MAX_RECORDS];
};

/* Checks the header and every record's framing (reserved 0, zero padding to 8 bytes). */
static void decode(struct decoded *d)
{
    struct pack_header h;
    CHECK(d->image.size >= sizeof h);
    memcpy(&h, d->image.bytes, sizeof h);
    CHECK(memcmp(h.magic, PACK_MAGIC, sizeof h.magic) == 0);
    CHECK_EQ(h.version, PACK_VERSION);
    d->test_count = h.test_count;
    d->n = 0;
    for (size_t at = sizeof h; at < d->image.size && d->n < MAX_RECORDS;) {
        struct pack_record rec;
        memcpy(&rec, d->image.bytes + at, sizeof rec);
        CHECK_EQ(rec.reserved, 0);
        size_t end = at + sizeof rec + rec.length, padded = (end + 7) & ~(size_t)7;
        CHECK(padded <= d->image.size);
        for (size_t i = end; i < padded && i < d->image.size; i++)
            CHECK_EQ(d->image.bytes[i], 0);
        d->r[d->n++] = (struct record){ rec.op, rec.length, d->image.bytes + at + sizeof rec };
        at = padded;
    }
}

static void compile_text(struct decoded *d, const char *file, const char *script)
{
    struct exitc_pack pack = { 0 };
    memset(d, 0, sizeof *d);
    exitc_compile_script(&pack, file, script, NULL);
    CHECK(pack.fatal[0] == 0);
    exitc_pack_image(&pack, &d->image);
    exitc_pack_free(&pack);
    decode(d);
}

static void decoded_free(struct decoded *d) { exitc_buffer_free(&d->image); }

static uint32_t u32_at(const struct record *r, uint32_t at)
{
    uint32_t v;
    memcpy(&v, r->data + at, sizeof v);
    return v;
}

static uint64_t u64_at(const struct record *r, uint32_t at)
{
    uint64_t v;
    memcpy(&v, r->data + at, sizeof v);
    return v;
}

static const char *string_at(const struct record *r, uint32_t at) { return (const char *)r->data + at; }

static struct pack_expect expect_of(const struct record *r)
{
    struct pack_expect e;
    memcpy(&e, r->data, sizeof e);
    return e;
}

/* The first record with `op` at or after index *from (moved past it); NULL when none. */
static const struct record *find_op(const struct decoded *d, uint16_t op, int *from)
{
    for (; *from < d->n; (*from)++)
        if (d->r[*from].op == op)
            return &d->r[(*from)++];
    return NULL;
}

/* The only PACK_ERROR message of a one-test pack, "" when it has none. */
static const char *error_of(const struct decoded *d)
{
    int at = 0;
    const struct record *e = find_op(d, PACK_ERROR, &at);
    return e ? string_at(e, 0) : "";
}

/* ------------------------------------------------------------------------------------------------
 * The public doc's example
 * ---------------------------------------------------------------------------------------------- */

static const char doc_example[] =
    "test io-out-imm8\n"
    "mode real\n"
    "map 0x0 0x10000 rwx\n"
    "code 0x1000\n"
    "    mov al, 0x42\n"
    "    out 0x80, al\n"
    "    hlt\n"
    "end\n"
    "run\n"
    "expect ExitReason X64IoPortAccess\n"
    "expect IoPortAccess.PortNumber 0x80\n"
    "expect IoPortAccess.AccessInfo.IsWrite 1\n"
    "expect IoPortAccess.AccessInfo.AccessSize 1\n"
    "expect IoPortAccess.Rax 0x42\n"
    "expect VpContext.Rip 0x1002\n"
    "expect VpContext.InstructionLength 2\n"
    "advance\n"
    "run\n"
    "expect ExitReason X64Halt\n";

static void check_expect_record(const struct record *r, uint32_t offset, uint16_t size, uint8_t bit_offset,
                                uint8_t bit_width, uint64_t value, const char *text)
{
    struct pack_expect e = expect_of(r);
    CHECK_EQ(r->op, PACK_EXPECT);
    CHECK_EQ(e.offset, offset);
    CHECK_EQ(e.size, size);
    CHECK_EQ(e.bit_offset, bit_offset);
    CHECK_EQ(e.bit_width, bit_width);
    CHECK_EQ(e.value, value);
    CHECK(strcmp(string_at(r, sizeof e), text) == 0);
    CHECK_EQ(r->length, sizeof e + strlen(text) + 1);
}

static void check_run_record(const struct record *r, uint32_t size, uint32_t line)
{
    CHECK_EQ(r->op, PACK_RUN);
    CHECK_EQ(r->length, 8);
    CHECK_EQ(u32_at(r, 0), size);
    CHECK_EQ(u32_at(r, 4), line);
}

TEST(exitc_doc_example_compiles_to_the_expected_records)
{
    struct decoded d;
    compile_text(&d, "doc.exits", doc_example);
    const uint32_t io = offsetof(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess);
    CHECK_EQ(d.test_count, 1);
    CHECK_EQ(d.n, 17);
    CHECK_EQ(d.r[0].op, PACK_TEST_BEGIN);
    CHECK(strcmp(string_at(&d.r[0], 0), "io-out-imm8") == 0);
    CHECK(strcmp(string_at(&d.r[0], 12), "doc.exits:1") == 0);
    CHECK_EQ(d.r[1].op, PACK_MODE);
    CHECK_EQ(u32_at(&d.r[1], 0), PACK_MODE_REAL);
    CHECK_EQ(d.r[2].op, PACK_MAP);
    CHECK_EQ(d.r[2].length, 24);
    CHECK_EQ(u64_at(&d.r[2], 0), 0);
    CHECK_EQ(u64_at(&d.r[2], 8), 0x10000);
    CHECK_EQ(u32_at(&d.r[2], 16), WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite | WHvMapGpaRangeFlagExecute);
    CHECK_EQ(u32_at(&d.r[2], 20), 0);
    static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x80, 0xf4 };   /* mov al,0x42; out 0x80,al; hlt */
    CHECK_EQ(d.r[3].op, PACK_BYTES);
    CHECK_EQ(d.r[3].length, 8 + sizeof code);
    CHECK_EQ(u64_at(&d.r[3], 0), 0x1000);
    CHECK(memcmp(d.r[3].data + 8, code, sizeof code) == 0);
    CHECK_EQ(d.r[4].op, PACK_START_RIP);
    CHECK_EQ(d.r[4].length, 8);
    CHECK_EQ(u64_at(&d.r[4], 0), 0x1000);
    check_run_record(&d.r[5], sizeof(WHV_RUN_VP_EXIT_CONTEXT), 9);
    check_expect_record(&d.r[6], 0, 4, 0, 0, WHvRunVpExitReasonX64IoPortAccess, "doc.exits:10: ExitReason");
    check_expect_record(&d.r[7], io + offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, PortNumber), 2, 0, 0, 0x80,
                        "doc.exits:11: IoPortAccess.PortNumber");
    check_expect_record(&d.r[8], io + offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, AccessInfo), 1, 0, 1, 1,
                        "doc.exits:12: IoPortAccess.AccessInfo.IsWrite");
    check_expect_record(&d.r[9], io + offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, AccessInfo), 1, 1, 3, 1,
                        "doc.exits:13: IoPortAccess.AccessInfo.AccessSize");
    check_expect_record(&d.r[10], io + offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rax), 8, 0, 0, 0x42,
                        "doc.exits:14: IoPortAccess.Rax");
    check_expect_record(&d.r[11], offsetof(WHV_RUN_VP_EXIT_CONTEXT, VpContext.Rip), 8, 0, 0, 0x1002,
                        "doc.exits:15: VpContext.Rip");
    /* InstructionLength: the low nibble of byte 2 of VpContext. */
    check_expect_record(&d.r[12], offsetof(WHV_RUN_VP_EXIT_CONTEXT, VpContext) + 2, 1, 0, 4, 2,
                        "doc.exits:16: VpContext.InstructionLength");
    CHECK_EQ(d.r[13].op, PACK_ADVANCE);
    CHECK_EQ(d.r[13].length, 0);
    check_run_record(&d.r[14], sizeof(WHV_RUN_VP_EXIT_CONTEXT), 18);
    check_expect_record(&d.r[15], 0, 4, 0, 0, WHvRunVpExitReasonX64Halt, "doc.exits:19: ExitReason");
    CHECK_EQ(d.r[16].op, PACK_TEST_END);
    CHECK_EQ(d.r[16].length, 0);
    decoded_free(&d);
}

/* ------------------------------------------------------------------------------------------------
 * Script errors: each one fails its own test with "file:line: reason"
 * ---------------------------------------------------------------------------------------------- */

#define MAPPED "test t\nmap 0x0 0x10000 rwx\n"

static const struct bad_script {
    const char *script;
    const char *message_start;   /* "bad.exits:LINE: " and the start of the reason */
    const char *also;            /* a further part of the message, or NULL */
} bad_scripts[] = {
    { "# preamble\nmap 0x0 0x1000 rwx\n", "bad.exits:2: `map` is outside a test", NULL },
    { MAPPED "frob 1\nrun\n", "bad.exits:3: unknown statement `frob`", NULL },
    { MAPPED "map 0x1g 0x1000 rwx\nrun\n", "bad.exits:3: bad number `0x1g`", NULL },
    { MAPPED "run 08\n", "bad.exits:3: bad number `08`", NULL },
    { MAPPED "map -0x10000 0x1000 rwx\nrun\n", "bad.exits:3: bad number `-0x10000`", NULL },
    { MAPPED "set Rxx 1\nrun\n", "bad.exits:3: unknown register `Rxx`", NULL },
    { MAPPED "run\nexpect IoPortAccess.Port 1\n", "bad.exits:4: unknown field `IoPortAccess.Port`", NULL },
    { MAPPED "run\nexpect ExitReason X64Hlt\n", "bad.exits:4: unknown exit reason `X64Hlt`", NULL },
    { MAPPED "property ExtendedVmExit 1\nrun\n", "bad.exits:3: unknown property `ExtendedVmExit`", NULL },
    { MAPPED "property ExtendedVmExits X64CpuidExit+Bogus\nrun\n",
      "bad.exits:3: unknown ExtendedVmExits bit `Bogus`", NULL },
    { MAPPED "code 0x1000\n  hlt\nrun\n", "bad.exits:3: `code` block has no `end`", NULL },
    /* `orphan` alone draws a NASM warning first: the error line is the one reported. */
    { MAPPED "code 0x1000\norphan\n  movx al, 1\nend\nrun\n", "bad.exits:5: nasm: error: ",
      "instruction expected" },
    { MAPPED "map 0x10800 0x1000 rw\nrun\n", "bad.exits:3: map: GPA 0x10800 is not a multiple of 4 KiB", NULL },
    { MAPPED "map 0x20000 0x800 rw\nrun\n", "bad.exits:3: map: SIZE 0x800 is not a non-zero multiple of 4 KiB",
      NULL },
    { MAPPED "unmap 0x1000 0x10\nrun\n", "bad.exits:3: unmap: SIZE 0x10 is not a non-zero multiple of 4 KiB", NULL },
    { MAPPED "map 0x20000 0x1000 rq\nrun\n", "bad.exits:3: map: bad FLAGS `rq`", NULL },
    { MAPPED "map 0xf0000 0x1000 rw\nrun\n", "bad.exits:3: map: 0xf0000-0xf0fff overlaps the runner's own area",
      NULL },
    { MAPPED "map 0x8000 0x10000 rw\nrun\n", "bad.exits:3: map: 0x8000-0x17fff overlaps the range mapped at line 2",
      NULL },
    { "test Bad_Name\nrun\n", "bad.exits:1: test name `Bad_Name` is not [a-z0-9-]+", NULL },
    { "test\nrun\n", "bad.exits:1: usage: test NAME", NULL },
    { MAPPED "code 0x20000\n  hlt\nend\nrun\n", "bad.exits:3: code at 0x20000 (1 byte) lies outside every mapped range",
      NULL },
    { MAPPED "code 0xfff0\n  times 32 nop\nend\nrun\n",
      "bad.exits:3: code at 0xfff0 (32 bytes) lies outside every mapped range", NULL },
    { MAPPED "unmap 0x3000 0x1000\ndata 0x3000 48\nrun\n",
      "bad.exits:4: data at 0x3000 (1 byte) lies outside every mapped range", NULL },
    { MAPPED "data 0x3000 4865f\nrun\n", "bad.exits:3: bad hex bytes `4865f`", NULL },
    { MAPPED "code 0x1000\n  hlt\nend\n", "bad.exits:1: test `t` has no `run`", NULL },
    { MAPPED "set Cs 0x8\nrun\n", "bad.exits:3: Cs is a segment register: set Cs SELECTOR BASE LIMIT ATTRIBUTES",
      NULL },
    { MAPPED "set Gdtr 0x1000\nrun\n", "bad.exits:3: Gdtr is a descriptor-table register: set Gdtr BASE LIMIT",
      NULL },
    { MAPPED "set Xmm0 0x112233445566778899aabbccddeeff0011\nrun\n", "bad.exits:3: bad 128-bit value", NULL },
    { MAPPED "expect-reg Ds 0\nrun\n", "bad.exits:3: expect-reg compares 64-bit or 128-bit values", NULL },
    { MAPPED "run\nexpect VpContext.InstructionLength 16\n",
      "bad.exits:4: VpContext.InstructionLength is 4 bits wide: `16` does not fit", NULL },
    { MAPPED "expect ExitReason X64Halt\nrun\n", "bad.exits:3: `expect` before the first `run`", NULL },
    { MAPPED "advance\nrun\n", "bad.exits:3: `advance` before the first `run`", NULL },
    { MAPPED "run\nexpect IoPortAccess.InstructionBytes 00112233445566778899aabbccddeeff00\n",
      "bad.exits:4: IoPortAccess.InstructionBytes holds 16 bytes, not 17", NULL },
    { MAPPED "run\nexpect VpContext.Cs 0\n", "bad.exits:4: field `VpContext.Cs` is a 16-byte structure", NULL },
    { MAPPED "run\nexpect IoPortAccess.Reserved 0\n", "bad.exits:4: field `IoPortAccess.Reserved` is an array", NULL },
    { MAPPED "map 0x20000 0x1000\nrun\n", "bad.exits:3: usage: map GPA SIZE FLAGS", NULL },
    { MAPPED "mode long\nmode real\nrun\n", "bad.exits:4: a second `mode` (the first is at line 3)", NULL },
    { MAPPED "mode flat\nrun\n", "bad.exits:3: unknown mode `flat`", NULL },
    { MAPPED "property ProcessorCount 0x100000000\nrun\n", "bad.exits:3: ProcessorCount is 4 bytes", NULL },
    { MAPPED "property CpuidExitList 0x1,,0x2\nrun\n", "bad.exits:3: bad CPUID leaf ``", NULL },
    { MAPPED "property CpuidResultList 0011\nrun\n", "bad.exits:3: CpuidResultList takes a multiple of 32 bytes",
      NULL },
};

TEST(exitc_each_script_error_fails_its_test_with_file_line_and_reason)
{
    for (size_t i = 0; i < sizeof bad_scripts / sizeof bad_scripts[0]; i++) {
        const struct bad_script *b = &bad_scripts[i];
        struct decoded d;
        compile_text(&d, "bad.exits", b->script);
        const char *message = error_of(&d);
        int ok = d.test_count == 1 && d.n == 3 && d.r[0].op == PACK_TEST_BEGIN && d.r[1].op == PACK_ERROR &&
                 d.r[2].op == PACK_TEST_END && strncmp(message, b->message_start, strlen(b->message_start)) == 0 &&
                 (!b->also || strstr(message, b->also));
        CHECK(ok);
        if (!ok)
            printf("#   script %zu: got %u tests, %d records, message \"%s\"\n#   want \"%s...\"\n", i, d.test_count,
                   d.n, message, b->message_start);
        decoded_free(&d);
    }
}

TEST(exitc_a_script_error_leaves_the_other_tests_compiled)
{
    struct decoded d;
    compile_text(&d, "dir/mixed.exits",
                 "test good-one\nmap 0 0x1000 rwx\nrun\n"
                 "test bad\nmap 0 0x1000 rwx\ncode 0x100\n  hlt\n"           /* no `end` */
                 "test good-two\nmap 0 0x1000 rwx\nrun\ncancel\n"
                 "test good-one\nrun\n");                                  /* duplicate name */
    CHECK_EQ(d.test_count, 4);
    int at = 0, begins = 0;
    const struct record *r;
    while ((r = find_op(&d, PACK_TEST_BEGIN, &at)))
        begins++;
    CHECK_EQ(begins, 4);
    at = 0;
    r = find_op(&d, PACK_ERROR, &at);
    CHECK(r && strcmp(string_at(r, 0), "dir/mixed.exits:6: `code` block has no `end`") == 0);
    r = find_op(&d, PACK_CANCEL, &at);
    CHECK(r != NULL);
    r = find_op(&d, PACK_ERROR, &at);
    CHECK(r && strcmp(string_at(r, 0), "dir/mixed.exits:12: duplicate test name `good-one` (first at "
                                       "dir/mixed.exits:1)") == 0);
    CHECK(find_op(&d, PACK_ERROR, &at) == NULL);
    decoded_free(&d);
}

TEST(exitc_test_names_are_unique_per_directory)
{
    struct exitc_pack pack = { 0 };
    const char *script = "test same\nrun\n";
    exitc_compile_script(&pack, "one/a.exits", script, NULL);
    exitc_compile_script(&pack, "two/a.exits", script, NULL);
    CHECK_EQ(pack.error_count, 0);
    exitc_compile_script(&pack, "one/b.exits", script, NULL);
    CHECK_EQ(pack.error_count, 1);
    CHECK_EQ(pack.test_count, 3);
    exitc_pack_free(&pack);
}

/* ------------------------------------------------------------------------------------------------
 * Field paths against the real struct
 * ---------------------------------------------------------------------------------------------- */

/* Reads a resolved field from a context the way the runner does. */
static uint64_t field_read(const WHV_RUN_VP_EXIT_CONTEXT *x, const struct pack_expect *e)
{
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)x + e->offset, e->size);
    if (e->bit_width)
        v = v >> e->bit_offset & (e->bit_width == 64 ? ~0ull : (1ull << e->bit_width) - 1);
    return v;
}

static int bits_set(const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    int n = 0;
    for (size_t i = 0; i < sizeof *x; i++)
        n += __builtin_popcount(((const uint8_t *)x)[i]);
    return n;
}

static struct pack_expect resolve(const char *path)
{
    struct exitc_field f;
    char why[128];
    int ok = exitc_field_resolve(path, &f, why, sizeof why);
    CHECK(ok);
    if (!ok)
        printf("#   %s: %s\n", path, why);
    return f.expect;
}

/* A whole field: offset and size are offsetof and sizeof. */
#define CHECK_WHOLE_FIELD(path, member)                                                                \
    do {                                                                                               \
        WHV_RUN_VP_EXIT_CONTEXT x_;                                                                    \
        struct pack_expect e_ = resolve(#path);                                                        \
        CHECK_EQ(e_.offset, (const uint8_t *)&x_.member - (const uint8_t *)&x_);                       \
        CHECK_EQ(e_.size, sizeof x_.member);                                                           \
        CHECK_EQ(e_.bit_width, 0);                                                                     \
    } while (0)

/* A bitfield: set to all ones in a zeroed context, the resolved bits read all ones and are the only
 * bits set; cleared in a context of all ones, they read 0. */
#define CHECK_BITFIELD(path, member)                                                                   \
    do {                                                                                               \
        WHV_RUN_VP_EXIT_CONTEXT x_;                                                                    \
        volatile uint64_t ones_ = ~0ull;                                                               \
        struct pack_expect e_ = resolve(#path);                                                        \
        memset(&x_, 0, sizeof x_);                                                                     \
        x_.member = ones_;                                                                             \
        CHECK(e_.bit_width > 0);                                                                       \
        CHECK_EQ(field_read(&x_, &e_), (1ull << e_.bit_width) - 1);                                    \
        CHECK_EQ(bits_set(&x_), e_.bit_width);                                                         \
        memset(&x_, 0xff, sizeof x_);                                                                  \
        x_.member = 0;                                                                                 \
        CHECK_EQ(field_read(&x_, &e_), 0);                                                             \
    } while (0)

TEST(exitc_field_paths_match_the_whv_struct_in_every_payload)
{
    CHECK_WHOLE_FIELD(ExitReason, ExitReason);
    CHECK_WHOLE_FIELD(Reserved, Reserved);
    CHECK_WHOLE_FIELD(AsUINT64[21], AsUINT64[21]);
    CHECK_BITFIELD(VpContext.ExecutionState.Cpl, VpContext.ExecutionState.Cpl);
    CHECK_BITFIELD(VpContext.ExecutionState.Cr0Am, VpContext.ExecutionState.Cr0Am);
    CHECK_BITFIELD(VpContext.ExecutionState.InterruptShadow, VpContext.ExecutionState.InterruptShadow);
    CHECK_BITFIELD(VpContext.ExecutionState.Reserved0, VpContext.ExecutionState.Reserved0);
    CHECK_WHOLE_FIELD(VpContext.ExecutionState.AsUINT16, VpContext.ExecutionState.AsUINT16);
    CHECK_BITFIELD(VpContext.InstructionLength, VpContext.InstructionLength);
    CHECK_BITFIELD(VpContext.Cr8, VpContext.Cr8);
    CHECK_WHOLE_FIELD(VpContext.Reserved2, VpContext.Reserved2);
    CHECK_WHOLE_FIELD(VpContext.Cs.Selector, VpContext.Cs.Selector);
    CHECK_WHOLE_FIELD(VpContext.Cs.Base, VpContext.Cs.Base);
    CHECK_BITFIELD(VpContext.Cs.Long, VpContext.Cs.Long);
    CHECK_BITFIELD(VpContext.Cs.DescriptorPrivilegeLevel, VpContext.Cs.DescriptorPrivilegeLevel);
    CHECK_WHOLE_FIELD(VpContext.Rflags, VpContext.Rflags);
    CHECK_WHOLE_FIELD(MemoryAccess.InstructionByteCount, MemoryAccess.InstructionByteCount);
    CHECK_BITFIELD(MemoryAccess.AccessInfo.AccessType, MemoryAccess.AccessInfo.AccessType);
    CHECK_BITFIELD(MemoryAccess.AccessInfo.GpaUnmapped, MemoryAccess.AccessInfo.GpaUnmapped);
    CHECK_BITFIELD(MemoryAccess.AccessInfo.GvaValid, MemoryAccess.AccessInfo.GvaValid);
    CHECK_WHOLE_FIELD(MemoryAccess.Gpa, MemoryAccess.Gpa);
    CHECK_WHOLE_FIELD(MemoryAccess.Gva, MemoryAccess.Gva);
    CHECK_WHOLE_FIELD(MemoryAccess.Reserved[2], MemoryAccess.Reserved[2]);
    CHECK_BITFIELD(IoPortAccess.AccessInfo.StringOp, IoPortAccess.AccessInfo.StringOp);
    CHECK_BITFIELD(IoPortAccess.AccessInfo.RepPrefix, IoPortAccess.AccessInfo.RepPrefix);
    CHECK_BITFIELD(IoPortAccess.AccessInfo.Reserved, IoPortAccess.AccessInfo.Reserved);
    CHECK_WHOLE_FIELD(IoPortAccess.AccessInfo.AsUINT32, IoPortAccess.AccessInfo.AsUINT32);
    CHECK_WHOLE_FIELD(IoPortAccess.Reserved2[1], IoPortAccess.Reserved2[1]);
    CHECK_WHOLE_FIELD(IoPortAccess.Rdi, IoPortAccess.Rdi);
    CHECK_WHOLE_FIELD(IoPortAccess.Ds.Selector, IoPortAccess.Ds.Selector);
    CHECK_WHOLE_FIELD(IoPortAccess.Es.Limit, IoPortAccess.Es.Limit);
    CHECK_BITFIELD(IoPortAccess.Es.Granularity, IoPortAccess.Es.Granularity);
    CHECK_WHOLE_FIELD(IoPortAccess.InstructionBytes[15], IoPortAccess.InstructionBytes[15]);
    CHECK_BITFIELD(MsrAccess.AccessInfo.IsWrite, MsrAccess.AccessInfo.IsWrite);
    CHECK_WHOLE_FIELD(MsrAccess.MsrNumber, MsrAccess.MsrNumber);
    CHECK_WHOLE_FIELD(MsrAccess.Rdx, MsrAccess.Rdx);
    CHECK_WHOLE_FIELD(CpuidAccess.Rbx, CpuidAccess.Rbx);
    CHECK_WHOLE_FIELD(CpuidAccess.DefaultResultRcx, CpuidAccess.DefaultResultRcx);
    CHECK_BITFIELD(VpException.ExceptionInfo.ErrorCodeValid, VpException.ExceptionInfo.ErrorCodeValid);
    CHECK_BITFIELD(VpException.ExceptionInfo.SoftwareException, VpException.ExceptionInfo.SoftwareException);
    CHECK_WHOLE_FIELD(VpException.ExceptionType, VpException.ExceptionType);
    CHECK_WHOLE_FIELD(VpException.ErrorCode, VpException.ErrorCode);
    CHECK_WHOLE_FIELD(VpException.ExceptionParameter, VpException.ExceptionParameter);
    CHECK_WHOLE_FIELD(InterruptWindow.DeliverableType, InterruptWindow.DeliverableType);
    CHECK_WHOLE_FIELD(UnsupportedFeature.FeatureCode, UnsupportedFeature.FeatureCode);
    CHECK_WHOLE_FIELD(UnsupportedFeature.FeatureParameter, UnsupportedFeature.FeatureParameter);
    CHECK_WHOLE_FIELD(CancelReason.CancelReason, CancelReason.CancelReason);
    CHECK_WHOLE_FIELD(ApicEoi.InterruptVector, ApicEoi.InterruptVector);
    CHECK_WHOLE_FIELD(ReadTsc.TscAux, ReadTsc.TscAux);
    CHECK_WHOLE_FIELD(ReadTsc.ReferenceTime, ReadTsc.ReferenceTime);
    CHECK_BITFIELD(ReadTsc.RdtscInfo.IsRdtscp, ReadTsc.RdtscInfo.IsRdtscp);
    CHECK_BITFIELD(ReadTsc.RdtscInfo.Reserved, ReadTsc.RdtscInfo.Reserved);
    CHECK_WHOLE_FIELD(ApicSmi.ApicIcr, ApicSmi.ApicIcr);
    CHECK_WHOLE_FIELD(Hypercall.R8, Hypercall.R8);
    CHECK_WHOLE_FIELD(Hypercall.Rdi, Hypercall.Rdi);
    CHECK_WHOLE_FIELD(Hypercall.XmmRegisters[5].High64, Hypercall.XmmRegisters[5].High64);
    CHECK_WHOLE_FIELD(Hypercall.XmmRegisters[2].Dword[3], Hypercall.XmmRegisters[2].Dword[3]);
    CHECK_WHOLE_FIELD(Hypercall.Reserved1[1], Hypercall.Reserved1[1]);
    CHECK_WHOLE_FIELD(ApicInitSipi.ApicIcr, ApicInitSipi.ApicIcr);
    CHECK_WHOLE_FIELD(ApicWrite.Type, ApicWrite.Type);
    CHECK_WHOLE_FIELD(ApicWrite.WriteValue, ApicWrite.WriteValue);
    CHECK_WHOLE_FIELD(SynicSintDeliverable.DeliverableSints, SynicSintDeliverable.DeliverableSints);
    CHECK_WHOLE_FIELD(SynicSintDeliverable.Reserved2, SynicSintDeliverable.Reserved2);
}

TEST(exitc_instruction_bytes_fields_take_hex_prefixes)
{
    static const struct { const char *path; size_t offset; } paths[] = {
        { "MemoryAccess.InstructionBytes", offsetof(WHV_RUN_VP_EXIT_CONTEXT, MemoryAccess.InstructionBytes) },
        { "IoPortAccess.InstructionBytes", offsetof(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess.InstructionBytes) },
        { "VpException.InstructionBytes", offsetof(WHV_RUN_VP_EXIT_CONTEXT, VpException.InstructionBytes) },
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct exitc_field f;
        char why[128];
        CHECK(exitc_field_resolve(paths[i].path, &f, why, sizeof why));
        CHECK(f.instruction_bytes);
        CHECK_EQ(f.byte_capacity, 16);
        CHECK_EQ(f.expect.offset, paths[i].offset);
    }
    struct decoded d;
    compile_text(&d, "b.exits", MAPPED "run\nexpect IoPortAccess.InstructionBytes 66 ed\n");
    int at = 0;
    const struct record *r = find_op(&d, PACK_EXPECT_BYTES, &at);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(u32_at(r, 0), offsetof(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess.InstructionBytes));
        CHECK_EQ(u32_at(r, 4), 2);
        CHECK(memcmp(r->data + 8, "\x66\xed", 2) == 0);
        CHECK(strcmp(string_at(r, 10), "b.exits:4: IoPortAccess.InstructionBytes") == 0);
    }
    decoded_free(&d);
}

TEST(exitc_bad_field_paths_say_why)
{
    static const struct { const char *path, *why; } bad[] = {
        { "IoPortAccess.Foo", "unknown field `IoPortAccess.Foo`" },
        { "Hypercall.XmmRegisters[6].Low64", "field `Hypercall.XmmRegisters[6].Low64`: index out of range 0..5" },
        { "Hypercall.XmmRegisters.Low64",
          "field `Hypercall.XmmRegisters.Low64`: index the array before naming a member" },
        { "IoPortAccess.AccessInfo.IsWrite.X",
          "bad field path `IoPortAccess.AccessInfo.IsWrite.X`: a bitfield has no parts" },
        { "VpContext..Rip", "bad field path `VpContext..Rip`" },
        { "VpContext.Rip[0]", "field `VpContext.Rip[0]`: `Rip` is not an array" },
        { "Hypercall", "field `Hypercall` is a 176-byte structure: name one of its fields" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct exitc_field f;
        char why[160];
        CHECK(!exitc_field_resolve(bad[i].path, &f, why, sizeof why));
        CHECK(strcmp(why, bad[i].why) == 0);
        if (strcmp(why, bad[i].why) != 0)
            printf("#   got \"%s\"\n", why);
    }
}

TEST(exitc_enum_fields_take_their_value_names)
{
    struct decoded d;
    compile_text(&d, "n.exits",
                 MAPPED "run\nexpect VpException.ExceptionType PageFault\n"
                        "expect MemoryAccess.AccessInfo.AccessType Write\n"
                        "expect UnsupportedFeature.FeatureCode TaskSwitchTss\nexpect ExitReason 0x8\n");
    int at = 0;
    const struct record *r;
    static const uint64_t want[] = { WHvX64ExceptionTypePageFault, WHvMemoryAccessWrite,
                                     WHvUnsupportedFeatureTaskSwitchTss, WHvRunVpExitReasonX64Halt };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        r = find_op(&d, PACK_EXPECT, &at);
        CHECK(r && expect_of(r).value == want[i]);
    }
    decoded_free(&d);
}

/* ------------------------------------------------------------------------------------------------
 * Properties
 * ---------------------------------------------------------------------------------------------- */

/* The single PACK_PROPERTY of `property LINE`: code, size, and the value's low 8 bytes. */
static int property_compile(const char *line, uint32_t *code, uint32_t *size, uint64_t *value)
{
    char script[256];
    snprintf(script, sizeof script, "test p\n%s\nrun\n", line);
    struct decoded d;
    compile_text(&d, "p.exits", script);
    int at = 0;
    const struct record *r = find_op(&d, PACK_PROPERTY, &at);
    if (r) {
        *code = u32_at(r, 0);
        *size = u32_at(r, 4);
        *value = 0;
        memcpy(value, r->data + 8, *size < 8 ? *size : 8);
        CHECK_EQ(r->length, 8 + *size);
    }
    decoded_free(&d);
    return r != NULL;
}

TEST(exitc_extended_vm_exits_takes_plus_joined_bit_names)
{
    static const char *const names[] = { "X64CpuidExit", "X64MsrExit", "ExceptionExit", "X64RdtscExit",
                                         "X64ApicSmiExitTrap", "HypercallExit", "X64ApicInitSipiExitTrap" };
    uint32_t code, size;
    uint64_t value;
    for (unsigned bit = 0; bit < sizeof names / sizeof names[0]; bit++) {
        char line[96];
        snprintf(line, sizeof line, "property ExtendedVmExits %s", names[bit]);
        CHECK(property_compile(line, &code, &size, &value));
        CHECK_EQ(code, WHvPartitionPropertyCodeExtendedVmExits);
        CHECK_EQ(size, sizeof(UINT64));
        CHECK_EQ(value, 1ull << bit);
    }
    WHV_EXTENDED_VM_EXITS want = { .AsUINT64 = 0 };
    want.X64CpuidExit = 1;
    want.X64MsrExit = 1;
    want.HypercallExit = 1;
    CHECK(property_compile("property ExtendedVmExits X64CpuidExit+X64MsrExit+HypercallExit", &code, &size, &value));
    CHECK_EQ(value, want.AsUINT64);
    CHECK(property_compile("property ExtendedVmExits 0x24", &code, &size, &value));
    CHECK_EQ(value, 0x24);
    CHECK(property_compile("property ExtendedVmExits ExceptionExit+0x1", &code, &size, &value));
    CHECK_EQ(value, 0x5);
    CHECK(property_compile("property X64MsrExitBitmap UnhandledMsrs+TscMsrRead", &code, &size, &value));
    CHECK_EQ(code, WHvPartitionPropertyCodeX64MsrExitBitmap);
    CHECK_EQ(value, 0x5);
}

TEST(exitc_cpuid_exit_list_takes_comma_separated_leaves)
{
    struct decoded d;
    compile_text(&d, "c.exits",
                 "test c\nproperty CpuidExitList 0x40000000,0x0,1\nproperty CpuidExitList 7, 0xd\nrun\n");
    int at = 0;
    const struct record *r = find_op(&d, PACK_PROPERTY, &at);
    CHECK(r && u32_at(r, 0) == WHvPartitionPropertyCodeCpuidExitList && u32_at(r, 4) == 12);
    CHECK(r && u32_at(r, 8) == 0x40000000 && u32_at(r, 12) == 0 && u32_at(r, 16) == 1);
    r = find_op(&d, PACK_PROPERTY, &at);
    CHECK(r && u32_at(r, 4) == 8 && u32_at(r, 8) == 7 && u32_at(r, 12) == 0xd);
    decoded_free(&d);
}

TEST(exitc_properties_have_their_natural_sizes)
{
    static const struct { const char *line; uint32_t code, size; uint64_t value; } cases[] = {
        { "property ExceptionExitBitmap 0x4048", WHvPartitionPropertyCodeExceptionExitBitmap, 8, 0x4048 },
        { "property ProcessorCount 2", WHvPartitionPropertyCodeProcessorCount, 4, 2 },
        { "property X64MsrExitBitmap 0x1", WHvPartitionPropertyCodeX64MsrExitBitmap, 8, 1 },
        { "property LocalApicEmulationMode 0", WHvPartitionPropertyCodeLocalApicEmulationMode, 4, 0 },
        { "property ProcessorClFlushSize 8", WHvPartitionPropertyCodeProcessorClFlushSize, 1, 8 },
        { "property PrimaryNumaNode 1", WHvPartitionPropertyCodePrimaryNumaNode, 2, 1 },
        { "property ApicRemoteReadSupport 1", WHvPartitionPropertyCodeApicRemoteReadSupport, 4, 1 },
        { "property MsrActionList 7400000002020000", WHvPartitionPropertyCodeMsrActionList, 8, 0x20200000074 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t code = 0, size = 0;
        uint64_t value = 0;
        CHECK(property_compile(cases[i].line, &code, &size, &value));
        CHECK_EQ(code, cases[i].code);
        CHECK_EQ(size, cases[i].size);
        CHECK_EQ(value, cases[i].value);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Registers, code, runner-side records
 * ---------------------------------------------------------------------------------------------- */

static WHV_REGISTER_VALUE register_value(const struct record *r)
{
    WHV_REGISTER_VALUE v;
    memcpy(&v, r->data + 8, sizeof v);
    return v;
}

TEST(exitc_set_and_expect_reg_fill_whv_register_values)
{
    struct decoded d;
    compile_text(&d, "r.exits",
                 "test r\nset Rax 0x1122334455667788\nset Cs 0x10 0x20000 0xffff 0x9b\nset Gdtr 0xf0000 0x17\n"
                 "set Xmm3 0x00112233445566778899aabbccddeeff\nset DeliverabilityNotifications 2\nrun\n"
                 "expect-reg Xmm3 5\nexpect-reg KernelGsBase 0xffff800089abcdef\n");
    int at = 0;
    const struct record *r = find_op(&d, PACK_SET_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterRax && u32_at(r, 4) == 0 && r->length == 24);
    CHECK(r && register_value(r).Reg64 == 0x1122334455667788);
    r = find_op(&d, PACK_SET_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterCs);
    if (r) {
        WHV_REGISTER_VALUE v = register_value(r);
        CHECK_EQ(v.Segment.Selector, 0x10);
        CHECK_EQ(v.Segment.Base, 0x20000);
        CHECK_EQ(v.Segment.Limit, 0xffff);
        CHECK_EQ(v.Segment.Attributes, 0x9b);
    }
    r = find_op(&d, PACK_SET_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterGdtr && register_value(r).Table.Base == 0xf0000 &&
          register_value(r).Table.Limit == 0x17);
    r = find_op(&d, PACK_SET_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterXmm3 && register_value(r).Reg128.Low64 == 0x8899aabbccddeeff &&
          register_value(r).Reg128.High64 == 0x0011223344556677);
    r = find_op(&d, PACK_SET_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterDeliverabilityNotifications && register_value(r).Reg64 == 2);
    r = find_op(&d, PACK_EXPECT_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterXmm3 && register_value(r).Reg128.Low64 == 5 &&
          register_value(r).Reg128.High64 == 0 && strcmp(string_at(r, 24), "r.exits:8: Xmm3") == 0);
    r = find_op(&d, PACK_EXPECT_REG, &at);
    CHECK(r && u32_at(r, 0) == WHvX64RegisterKernelGsBase && register_value(r).Reg64 == 0xffff800089abcdef);
    decoded_free(&d);
}

/* The bytes of the only code block of a test in `mode`. */
static int code_bytes(const char *mode_line, const char *instruction, uint8_t *out, size_t *n)
{
    char script[256];
    snprintf(script, sizeof script, "test m\nmap 0 0x10000 rwx\ncode 0x1000\n  %s\nend\n%s\nrun\n", instruction,
             mode_line);
    struct decoded d;
    compile_text(&d, "m.exits", script);
    int at = 0;
    const struct record *r = find_op(&d, PACK_BYTES, &at);
    *n = r ? r->length - 8 : 0;
    if (r)
        memcpy(out, r->data + 8, *n);
    decoded_free(&d);
    return r != NULL;
}

TEST(exitc_code_is_assembled_for_the_tests_mode)
{
    uint8_t b[16];
    size_t n;
    CHECK(code_bytes("mode real", "mov ax, 1", b, &n) && n == 3 && memcmp(b, "\xb8\x01\x00", 3) == 0);
    CHECK(code_bytes("mode protected", "mov ax, 1", b, &n) && n == 4 && memcmp(b, "\x66\xb8\x01\x00", 4) == 0);
    CHECK(code_bytes("", "mov rax, [rel $]", b, &n) && n == 7 && memcmp(b, "\x48\x8b\x05\xf9\xff\xff\xff", 7) == 0);
    /* org GPA: an absolute address is the block's own. */
    CHECK(code_bytes("mode protected", "dd $", b, &n) && n == 4 && memcmp(b, "\x00\x10\x00\x00", 4) == 0);
    /* `#` ends a code line except inside a string. */
    CHECK(code_bytes("mode real", "db '#', 1 # two", b, &n) && n == 2 && memcmp(b, "#\x01", 2) == 0);
}

TEST(exitc_start_rip_follows_the_first_code_block_only)
{
    struct decoded d;
    compile_text(&d, "s.exits",
                 "test s\nmap 0 0x10000 rwx\ndata 0x3000 48 65\n"
                 "code 0x2000\n  hlt\nend\ncode 0x1000\n  nop\nend\nrun\n");
    CHECK_EQ(d.n, 8);
    CHECK(d.r[2].op == PACK_BYTES && u64_at(&d.r[2], 0) == 0x3000 && d.r[2].length == 10);
    CHECK(d.r[3].op == PACK_BYTES && u64_at(&d.r[3], 0) == 0x2000);
    CHECK(d.r[4].op == PACK_START_RIP && u64_at(&d.r[4], 0) == 0x2000);
    CHECK(d.r[5].op == PACK_BYTES && u64_at(&d.r[5], 0) == 0x1000);
    CHECK_EQ(d.r[6].op, PACK_RUN);
    decoded_free(&d);
}

TEST(exitc_runner_side_records_advance_cancel_run_size_unmap)
{
    struct decoded d;
    compile_text(&d, "x.exits",
                 "test x\nmap 0 0x10000 rwx\ncancel\nrun 144\nadvance\nunmap 0x3000 0x2000\nrun 0x400\n"
                 "data 0x2000 90\n");
    CHECK_EQ(d.n, 9);
    CHECK(d.r[2].op == PACK_CANCEL && d.r[2].length == 0);
    check_run_record(&d.r[3], WHV_RUN_VP_EXIT_CONTEXT_LEGACY_SIZE, 4);
    CHECK(d.r[4].op == PACK_ADVANCE && d.r[4].length == 0);
    CHECK(d.r[5].op == PACK_UNMAP && d.r[5].length == 16 && u64_at(&d.r[5], 0) == 0x3000 &&
          u64_at(&d.r[5], 8) == 0x2000);
    check_run_record(&d.r[6], 0x400, 7);
    /* 0x2000 is still mapped: the unmap took 0x3000-0x4fff only. */
    CHECK(d.r[7].op == PACK_BYTES && u64_at(&d.r[7], 0) == 0x2000);
    decoded_free(&d);
}

/* ------------------------------------------------------------------------------------------------
 * The tool: directories, determinism, exit status
 * ---------------------------------------------------------------------------------------------- */

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void file_get(const char *path, struct exitc_buffer *out)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        exitc_buffer_append(out, chunk, n);
    fclose(f);
}

struct scratch_dir {
    char dir[64], scripts[96], out1[96], out2[96], a[128], b[128], other[128];
};

static int scratch_create(struct scratch_dir *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/test-exitc-XXXXXX");
    if (!mkdtemp(s->dir))
        return 0;
    snprintf(s->scripts, sizeof s->scripts, "%s/scripts", s->dir);
    snprintf(s->out1, sizeof s->out1, "%s/one.pack", s->dir);
    snprintf(s->out2, sizeof s->out2, "%s/two.pack", s->dir);
    snprintf(s->a, sizeof s->a, "%s/a.exits", s->scripts);
    snprintf(s->b, sizeof s->b, "%s/b.exits", s->scripts);
    snprintf(s->other, sizeof s->other, "%s/notes.txt", s->scripts);
    return mkdir(s->scripts, 0700) == 0;
}

static void scratch_remove(const struct scratch_dir *s)
{
    unlink(s->a);
    unlink(s->b);
    unlink(s->other);
    unlink(s->out1);
    unlink(s->out2);
    rmdir(s->scripts);
    rmdir(s->dir);
}

TEST(exitc_compiles_a_directory_in_name_order_deterministically)
{
    struct scratch_dir s;
    CHECK(scratch_create(&s));
    file_put(s.b, doc_example);
    file_put(s.a, "test first\nmap 0 0x1000 rwx\ncode 0x0\n  hlt\nend\nrun\ntest dup\nrun\ntest dup\nrun\n");
    file_put(s.other, "not a script\n");
    FILE *diag = tmpfile();
    const char *inputs[] = { s.scripts };
    CHECK_EQ(exitc_compile(inputs, 1, s.out1, diag), 0);
    CHECK_EQ(exitc_compile(inputs, 1, s.out2, diag), 0);
    struct decoded one = { 0 }, two = { 0 };
    file_get(s.out1, &one.image);
    file_get(s.out2, &two.image);
    CHECK(one.image.size > 0 && one.image.size == two.image.size &&
          memcmp(one.image.bytes, two.image.bytes, one.image.size) == 0);
    decode(&one);
    CHECK_EQ(one.test_count, 4);
    CHECK(one.n > 0 && strcmp(string_at(&one.r[0], 0), "first") == 0);
    int at = 0;
    const struct record *e = find_op(&one, PACK_ERROR, &at);
    char want[320];
    snprintf(want, sizeof want, "%s:9: duplicate test name `dup` (first at %s:7)", s.a, s.a);
    CHECK(e && strcmp(string_at(e, 0), want) == 0);
    decoded_free(&one);
    decoded_free(&two);
    fclose(diag);
    scratch_remove(&s);
}

TEST(exitc_exit_status_is_2_only_for_usage_and_io_errors)
{
    struct scratch_dir s;
    CHECK(scratch_create(&s));
    FILE *diag = tmpfile();
    const char *missing[] = { "/nonexistent/dir/x.exits" };
    CHECK_EQ(exitc_compile(missing, 1, s.out1, diag), 2);
    const char *empty[] = { s.scripts };
    CHECK_EQ(exitc_compile(empty, 1, s.out1, diag), 2);
    file_put(s.a, "map 0 0x1000 rwx\n");   /* a script error only: the pack is still written */
    const char *script[] = { s.a };
    CHECK_EQ(exitc_compile(script, 1, "/nonexistent/dir/out.pack", diag), 2);
    CHECK_EQ(exitc_compile(script, 1, s.out1, diag), 0);
    struct decoded d = { 0 };
    file_get(s.out1, &d.image);
    decode(&d);
    CHECK_EQ(d.test_count, 1);
    char want[192];
    snprintf(want, sizeof want, "%s:1: `map` is outside a test", s.a);
    CHECK(strncmp(error_of(&d), want, strlen(want)) == 0);
    decoded_free(&d);
    fclose(diag);
    scratch_remove(&s);
}
