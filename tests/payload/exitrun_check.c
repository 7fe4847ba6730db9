/* What every exit must keep (the invariants of the public exit-script doc, checked after each run), and
 * the scripts' own expectations (expect, expect InstructionBytes, expect-reg). Every failure names the
 * script line and reads "FIELD: expected X, got Y". */
#include <stdarg.h>
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "tests/payload/exitrun.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Every WHV exit reason, in numeric order: the coverage line lists them all. 3 (an early preview's
 * X64LegacyFpError) is reserved, never reported, so it is not here. */
const struct exit_reason_name exit_reason_names[EXIT_REASON_COUNT] = {
    { WHvRunVpExitReasonNone, "None" },
    { WHvRunVpExitReasonMemoryAccess, "MemoryAccess" },
    { WHvRunVpExitReasonX64IoPortAccess, "X64IoPortAccess" },
    { WHvRunVpExitReasonUnrecoverableException, "UnrecoverableException" },
    { WHvRunVpExitReasonInvalidVpRegisterValue, "InvalidVpRegisterValue" },
    { WHvRunVpExitReasonUnsupportedFeature, "UnsupportedFeature" },
    { WHvRunVpExitReasonX64InterruptWindow, "X64InterruptWindow" },
    { WHvRunVpExitReasonX64Halt, "X64Halt" },
    { WHvRunVpExitReasonX64ApicEoi, "X64ApicEoi" },
    { WHvRunVpExitReasonSynicSintDeliverable, "SynicSintDeliverable" },
    { WHvRunVpExitReasonX64MsrAccess, "X64MsrAccess" },
    { WHvRunVpExitReasonX64Cpuid, "X64Cpuid" },
    { WHvRunVpExitReasonException, "Exception" },
    { WHvRunVpExitReasonX64Rdtsc, "X64Rdtsc" },
    { WHvRunVpExitReasonX64ApicSmiTrap, "X64ApicSmiTrap" },
    { WHvRunVpExitReasonHypercall, "Hypercall" },
    { WHvRunVpExitReasonX64ApicInitSipiTrap, "X64ApicInitSipiTrap" },
    { WHvRunVpExitReasonX64ApicWriteTrap, "X64ApicWriteTrap" },
    { WHvRunVpExitReasonCanceled, "Canceled" },
};

uint64_t exit_reason_seen[EXIT_REASON_COUNT];

static int exit_reason_index(uint32_t reason)
{
    for (int i = 0; i < EXIT_REASON_COUNT; i++)
        if (exit_reason_names[i].reason == reason)
            return i;
    return -1;
}

static const char *exit_reason_name(uint32_t reason)
{
    int i = exit_reason_index(reason);
    return i < 0 ? "not a WHV exit reason" : exit_reason_names[i].name;
}

/* ---- invariants */

static void broken(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(struct test *t, const char *fmt, ...)
{
    char what[TEST_PROBLEM_BYTES];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    problem(t, "%s:%u: invariant %s", t->file, t->run_line, what);
}

/* Exits an instruction causes carry its length (1..15; the 4-bit field cannot say more). */
static int instruction_exit(const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    switch (x->ExitReason) {
    case WHvRunVpExitReasonX64IoPortAccess:
    case WHvRunVpExitReasonX64MsrAccess:
    case WHvRunVpExitReasonX64Cpuid:
    case WHvRunVpExitReasonX64Rdtsc:
    case WHvRunVpExitReasonHypercall: return 1;
    case WHvRunVpExitReasonException: return x->VpException.ExceptionInfo.SoftwareException;
    default: return 0;
    }
}

static void check_instruction_length(struct test *t, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    if (instruction_exit(x) && x->VpContext.InstructionLength == 0)
        broken(t, "VpContext.InstructionLength: expected 1..15 on a %s exit, got 0", exit_reason_name(x->ExitReason));
}

/* Reserved bits: `mask` of the `size`-byte little-endian value at `offset`, for one exit reason (or all). */
struct reserved_bits {
    uint32_t reason;
    uint16_t offset;
    uint8_t size;
    uint64_t mask;
    const char *name;
};

#define ANY_REASON 0xFFFFFFFFu
#define PAYLOAD 48

static const struct reserved_bits reserved_bits[] = {
    { ANY_REASON, 4, 4, ~0ull, "Reserved" },
    { ANY_REASON, 8, 2, 0x0F80 | 0xE000, "VpContext.ExecutionState.Reserved0/Reserved1" },
    { ANY_REASON, 11, 1, ~0ull, "VpContext.Reserved" },
    { ANY_REASON, 12, 4, ~0ull, "VpContext.Reserved2" },
    { WHvRunVpExitReasonMemoryAccess, PAYLOAD + 1, 3, ~0ull, "MemoryAccess.Reserved" },
    { WHvRunVpExitReasonMemoryAccess, PAYLOAD + 20, 4, ~0xFull, "MemoryAccess.AccessInfo.Reserved" },
    { WHvRunVpExitReasonX64IoPortAccess, PAYLOAD + 1, 3, ~0ull, "IoPortAccess.Reserved" },
    { WHvRunVpExitReasonX64IoPortAccess, PAYLOAD + 20, 4, ~0x3Full, "IoPortAccess.AccessInfo.Reserved" },
    { WHvRunVpExitReasonX64IoPortAccess, PAYLOAD + 26, 6, ~0ull, "IoPortAccess.Reserved2" },
    { WHvRunVpExitReasonX64MsrAccess, PAYLOAD + 0, 4, ~0x1ull, "MsrAccess.AccessInfo.Reserved" },
    { WHvRunVpExitReasonException, PAYLOAD + 1, 3, ~0ull, "VpException.Reserved" },
    { WHvRunVpExitReasonException, PAYLOAD + 20, 4, ~0x3ull, "VpException.ExceptionInfo.Reserved" },
    { WHvRunVpExitReasonException, PAYLOAD + 25, 3, ~0ull, "VpException.Reserved2" },
    { WHvRunVpExitReasonUnsupportedFeature, PAYLOAD + 4, 4, ~0ull, "UnsupportedFeature.Reserved" },
    { WHvRunVpExitReasonX64Rdtsc, PAYLOAD + 32, 8, ~0x1ull, "ReadTsc.RdtscInfo.Reserved" },
    { WHvRunVpExitReasonHypercall, PAYLOAD + 56, 8, ~0ull, "Hypercall.Reserved0" },
    { WHvRunVpExitReasonHypercall, PAYLOAD + 160, 8, ~0ull, "Hypercall.Reserved1[0]" },
    { WHvRunVpExitReasonHypercall, PAYLOAD + 168, 8, ~0ull, "Hypercall.Reserved1[1]" },
    { WHvRunVpExitReasonX64ApicWriteTrap, PAYLOAD + 4, 4, ~0ull, "ApicWrite.Reserved" },
    { WHvRunVpExitReasonSynicSintDeliverable, PAYLOAD + 2, 6, ~0ull, "SynicSintDeliverable.Reserved1/Reserved2" },
};

static uint64_t context_bytes(const WHV_RUN_VP_EXIT_CONTEXT *x, uint32_t offset, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)x + offset, size);
    return v;
}

static void check_reserved(struct test *t, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    for (size_t i = 0; i < sizeof reserved_bits / sizeof reserved_bits[0]; i++) {
        const struct reserved_bits *r = &reserved_bits[i];
        uint64_t bits = context_bytes(x, r->offset, r->size) & r->mask;
        if ((r->reason == ANY_REASON || r->reason == x->ExitReason) && bits)
            broken(t, "%s: expected 0, got 0x%llx", r->name, (unsigned long long)bits);
    }
}

static void check_payload(struct test *t, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    unsigned size = x->IoPortAccess.AccessInfo.AccessSize, type = x->MemoryAccess.AccessInfo.AccessType;
    unsigned vector = x->VpException.ExceptionType;
    switch (x->ExitReason) {
    case WHvRunVpExitReasonX64IoPortAccess:
        if (size != 1 && size != 2 && size != 4)
            broken(t, "IoPortAccess.AccessInfo.AccessSize: expected 1, 2 or 4, got %u", size);
        break;
    case WHvRunVpExitReasonMemoryAccess:
        if (type == 3)
            broken(t, "MemoryAccess.AccessInfo.AccessType: expected 0, 1 or 2, got 3");
        break;
    case WHvRunVpExitReasonException:
        if (vector >= 64 || !(t->exception_bitmap >> vector & 1))
            broken(t, "VpException.ExceptionType: expected a vector of ExceptionExitBitmap 0x%llx, got %u",
                   (unsigned long long)t->exception_bitmap, vector);
        break;
    default: break;
    }
}

enum { REG_RIP, REG_RFLAGS, REG_CS, REG_SS, REG_CR0, REG_EFER, REG_DR7, REG_COUNT };

static void expect_state_bit(struct test *t, const char *field, unsigned got, unsigned want, const char *source)
{
    if (got != want)
        broken(t, "VpContext.ExecutionState.%s: expected %u (%s), got %u", field, want, source, got);
}

static void check_segment(struct test *t, const WHV_X64_SEGMENT_REGISTER *got, const WHV_X64_SEGMENT_REGISTER *reg)
{
    if (got->Base != reg->Base || got->Limit != reg->Limit || got->Selector != reg->Selector ||
        got->Attributes != reg->Attributes)
        broken(t, "VpContext.Cs: expected selector 0x%x base 0x%llx limit 0x%x attributes 0x%x (the Cs register), "
                  "got selector 0x%x base 0x%llx limit 0x%x attributes 0x%x",
               reg->Selector, (unsigned long long)reg->Base, reg->Limit, reg->Attributes, got->Selector,
               (unsigned long long)got->Base, got->Limit, got->Attributes);
}

/* VpContext mirrors the VP's registers as WHvGetVirtualProcessorRegisters returns them. The CPL is
 * SS.DPL: VMX keeps it there (CS.DPL differs from the CPL in a conforming code segment). */
static void check_against_registers(struct test *t, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    static const WHV_REGISTER_NAME names[REG_COUNT] = {
        WHvX64RegisterRip, WHvX64RegisterRflags, WHvX64RegisterCs, WHvX64RegisterSs,
        WHvX64RegisterCr0, WHvX64RegisterEfer, WHvX64RegisterDr7,
    };
    WHV_REGISTER_VALUE r[REG_COUNT];
    if (!guest_get_regs(t, names, REG_COUNT, r, "invariants after the run"))
        return;
    const WHV_X64_VP_EXECUTION_STATE *s = &x->VpContext.ExecutionState;
    expect_state_bit(t, "Cpl", s->Cpl, r[REG_SS].Segment.DescriptorPrivilegeLevel, "SS.DPL");
    expect_state_bit(t, "Cr0Pe", s->Cr0Pe, r[REG_CR0].Reg64 & 1, "CR0.PE");
    expect_state_bit(t, "Cr0Am", s->Cr0Am, r[REG_CR0].Reg64 >> 18 & 1, "CR0.AM");
    expect_state_bit(t, "EferLma", s->EferLma, r[REG_EFER].Reg64 >> 10 & 1, "EFER.LMA");
    expect_state_bit(t, "DebugActive", s->DebugActive, (r[REG_DR7].Reg64 & 0xFF) != 0, "DR7 bits 0-7");
    if (x->VpContext.Rip != r[REG_RIP].Reg64)
        broken(t, "VpContext.Rip: expected 0x%llx (the Rip register), got 0x%llx",
               (unsigned long long)r[REG_RIP].Reg64, (unsigned long long)x->VpContext.Rip);
    if (x->VpContext.Rflags != r[REG_RFLAGS].Reg64)
        broken(t, "VpContext.Rflags: expected 0x%llx (the Rflags register), got 0x%llx",
               (unsigned long long)r[REG_RFLAGS].Reg64, (unsigned long long)x->VpContext.Rflags);
    check_segment(t, &x->VpContext.Cs, &r[REG_CS].Segment);
}

void check_exit(struct test *t)
{
    const WHV_RUN_VP_EXIT_CONTEXT *x = &t->last;
    int i = exit_reason_index(x->ExitReason);
    if (i < 0)
        broken(t, "ExitReason: expected a WHV exit reason, got 0x%x", x->ExitReason);
    else
        exit_reason_seen[i]++;
    check_instruction_length(t, x);
    check_reserved(t, x);
    check_payload(t, x);
    check_against_registers(t, x);
}

/* ---- expectations */

static int before_first_run(struct test *t, const char *text)
{
    if (!t->have_exit)
        problem(t, "%s: no exit to compare: the script expects before its first run", text);
    return !t->have_exit;
}

static uint64_t field_value(const WHV_RUN_VP_EXIT_CONTEXT *x, const struct pack_expect *e)
{
    uint64_t v = context_bytes(x, e->offset, e->size);
    if (e->bit_width == 0)
        return v;
    v >>= e->bit_offset;
    return e->bit_width == 64 ? v : v & ((1ull << e->bit_width) - 1);
}

void check_expect(struct test *t, const struct record *r)
{
    struct pack_expect e;
    record_read(r, &e, sizeof e);
    const char *text = record_string(r, sizeof e);
    if (before_first_run(t, text))
        return;
    uint64_t got = field_value(&t->last, &e);
    if (got == e.value)
        return;
    if (e.offset == offsetof(WHV_RUN_VP_EXIT_CONTEXT, ExitReason) && e.size == 4 && e.bit_width == 0)
        problem(t, "%s: expected %s (0x%llx), got %s (0x%llx)", text, exit_reason_name((uint32_t)e.value),
                (unsigned long long)e.value, exit_reason_name((uint32_t)got), (unsigned long long)got);
    else
        problem(t, "%s: expected 0x%llx, got 0x%llx", text, (unsigned long long)e.value, (unsigned long long)got);
}

static void hex_bytes(char *out, size_t out_size, const uint8_t *bytes, unsigned n)
{
    size_t at = 0;
    out[0] = 0;
    for (unsigned i = 0; i < n && at + 3 <= out_size; i++)
        at += fmt_snprintf(out + at, out_size - at, "%02x", bytes[i]);
}

/* InstructionBytes: the expected bytes must be a prefix of the bytes the exit reports, i.e. of the first
 * InstructionByteCount bytes (the count sits 4 bytes before InstructionBytes in every payload). */
void check_expect_bytes(struct test *t, const struct record *r)
{
    struct pack_expect_bytes e;
    record_read(r, &e, sizeof e);
    const uint8_t *want = r->data + sizeof e;
    const char *text = record_string(r, sizeof e + e.count);
    if (before_first_run(t, text))
        return;
    const uint8_t *got = (const uint8_t *)&t->last + e.offset;
    unsigned reported = MIN(got[-4], 16);
    if (reported >= e.count && memcmp(got, want, e.count) == 0)
        return;
    char want_hex[40], got_hex[40];
    hex_bytes(want_hex, sizeof want_hex, want, e.count);
    hex_bytes(got_hex, sizeof got_hex, got, reported);
    problem(t, "%s: expected %s..., got %s (InstructionByteCount %u)", text, want_hex, reported ? got_hex : "no bytes",
            got[-4]);
}

/* The 128-bit registers, compared whole; every other register by its Reg64. */
static int register_is_128_bit(uint32_t name)
{
    return (name >= WHvX64RegisterXmm0 && name <= WHvX64RegisterXmmControlStatus) ||
           name == WHvRegisterPendingEvent || name == WHvRegisterPendingEvent1 ||
           name == WHvRegisterPendingEvent2 || name == WHvRegisterPendingEvent3;
}

void check_expect_reg(struct test *t, const struct record *r)
{
    struct pack_set_reg e;
    record_read(r, &e, sizeof e);
    const char *text = record_string(r, sizeof e);
    WHV_REGISTER_NAME name = e.name;
    WHV_REGISTER_VALUE got, want;
    memcpy(&want, e.value, sizeof want);
    if (!guest_vp(t) || !guest_get_regs(t, &name, 1, &got, text))
        return;
    if (!register_is_128_bit(e.name)) {
        if (got.Reg64 != want.Reg64)
            problem(t, "%s: expected 0x%llx, got 0x%llx", text, (unsigned long long)want.Reg64,
                    (unsigned long long)got.Reg64);
    } else if (memcmp(&got, &want, sizeof got) != 0) {
        problem(t, "%s: expected 0x%016llx%016llx, got 0x%016llx%016llx", text,
                (unsigned long long)want.Reg128.High64, (unsigned long long)want.Reg128.Low64,
                (unsigned long long)got.Reg128.High64, (unsigned long long)got.Reg128.Low64);
    }
}
