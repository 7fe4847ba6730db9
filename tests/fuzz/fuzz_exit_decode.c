/* Fuzzes the VM-exit decoders (vmx/exit_decode.c) with a fake VMCS whose every field comes from the
 * input (masked to the field's width, as VMREAD zero-extends), random guest registers and XMM values.
 * For each decoder it checks, for any input:
 *   - the whole output struct equals one built here from the SDM formats the header documents, so
 *     every reserved field and bit is zero and no poison (0xAA prefill) survives;
 *   - the decoder read only the VMCS fields the header lists for it, under the conditions it lists
 *     (a field the SDM leaves undefined for the exit is never read);
 *   - VpContext.InstructionLength <= 15, Cr8 <= 15, I/O address sizes in {0, 2, 4, 8}, the length
 *     reported for an exit is EXIT_INSTR_LEN exactly where the SDM defines it, else 0. */
#include <string.h>
#include "fuzz.h"
#include "vmx/exit_decode.h"
#include "vmx/inject.h"
#include "vmx/segment.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_errors.h"

#define POISON 0xAA

/* Every field a decoder may read; the fake VMCS holds one value each. */
static const uint32_t fields[] = {
    VMCS_EXIT_QUALIFICATION, VMCS_EXIT_INTR_INFO, VMCS_EXIT_INTR_ERROR, VMCS_EXIT_INSTR_LEN,
    VMCS_EXIT_INSTR_INFO, VMCS_IDT_VECTORING_INFO, VMCS_GUEST_PHYSICAL_ADDR, VMCS_GUEST_LINEAR_ADDR,
    VMCS_GUEST_CR0, VMCS_CR0_GUEST_HOST_MASK, VMCS_CR0_READ_SHADOW, VMCS_GUEST_EFER, VMCS_GUEST_DR7,
    VMCS_GUEST_INTERRUPTIBILITY, VMCS_GUEST_RIP, VMCS_GUEST_RFLAGS,
    VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR,
    VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR,
    VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR,
    VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR,
    VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR,
    VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR,
};
#define N_FIELDS (sizeof fields / sizeof fields[0])
#define SEG_FIELDS_AT 16   /* ES, CS, SS, DS, FS, GS (SDM numbering), 4 fields each: SEL BASE LIMIT AR */

struct fake_vmcs {
    uint64_t value[N_FIELDS];
    uint64_t reads;   /* bit i: fields[i] was read */
};

static unsigned field_index(uint32_t field)
{
    for (unsigned i = 0; i < N_FIELDS; i++)
        if (fields[i] == field)
            return i;
    return N_FIELDS;
}

static uint64_t fake_read(void *ctx, uint32_t field)
{
    struct fake_vmcs *f = ctx;
    unsigned i = field_index(field);
    FUZZ_CHECK(i < N_FIELDS, "read of VMCS field 0x%x, which no decoder needs", field);
    f->reads |= 1ull << i;
    return f->value[i];
}

static uint64_t width_mask(uint32_t field)
{
    switch (VMCS_FIELD_WIDTH(field)) {
    case VMCS_W16: return 0xFFFFull;
    case VMCS_W32: return 0xFFFFFFFFull;
    default: return ~0ull;
    }
}

static uint64_t val(const struct fake_vmcs *f, uint32_t field) { return f->value[field_index(field)]; }
static uint64_t bit(uint32_t field) { return 1ull << field_index(field); }
static uint64_t seg_bits(unsigned seg) { return 0xFull << (SEG_FIELDS_AT + 4 * seg); }

/* Reads made since the last call must be a subset of `allowed`. */
static void reads_within(struct fake_vmcs *f, uint64_t allowed, const char *decoder)
{
    uint64_t extra = f->reads & ~allowed;
    FUZZ_CHECK(extra == 0, "%s read field 0x%x, which it must not read here", decoder,
               fields[__builtin_ctzll(extra ? extra : 1)]);
    f->reads = 0;
}

static WHV_X64_SEGMENT_REGISTER expected_segment(const struct fake_vmcs *f, unsigned seg)
{
    WHV_X64_SEGMENT_REGISTER s;
    const uint64_t *v = &f->value[SEG_FIELDS_AT + 4 * seg];
    memset(&s, 0, sizeof s);
    s.Selector = (UINT16)v[0];
    s.Base = v[1];
    s.Limit = (UINT32)v[2];
    s.Attributes = segment_whv_attributes((uint32_t)v[3]);
    return s;
}

static void same(const void *got, const void *want, size_t size, const char *what)
{
    if (memcmp(got, want, size) == 0)
        return;
    const uint8_t *g = got, *w = want;
    size_t i = 0;
    while (g[i] == w[i])
        i++;
    FUZZ_CHECK(0, "%s: byte %zu is 0x%02x, expected 0x%02x", what, i, g[i], w[i]);
}

static uint32_t intr_type(uint64_t info) { return (uint32_t)info & (7u << 8); }
static bool sw_exception(uint64_t info)
{
    return intr_type(info) == INTR_TYPE_SW_EXCEPTION || intr_type(info) == INTR_TYPE_PRIV_SW_EXCEPTION;
}

static void check_reason(uint32_t reason)
{
    static const struct { uint32_t basic; WHV_RUN_VP_EXIT_REASON whv; } table[] = {
        { 0, WHvRunVpExitReasonException }, { 2, WHvRunVpExitReasonUnrecoverableException },
        { 7, WHvRunVpExitReasonX64InterruptWindow }, { 8, WHvRunVpExitReasonX64InterruptWindow },
        { 9, WHvRunVpExitReasonUnsupportedFeature }, { 10, WHvRunVpExitReasonX64Cpuid },
        { 12, WHvRunVpExitReasonX64Halt }, { 16, WHvRunVpExitReasonX64Rdtsc }, { 51, WHvRunVpExitReasonX64Rdtsc },
        { 18, WHvRunVpExitReasonHypercall }, { 30, WHvRunVpExitReasonX64IoPortAccess },
        { 31, WHvRunVpExitReasonX64MsrAccess }, { 32, WHvRunVpExitReasonX64MsrAccess },
        { 33, WHvRunVpExitReasonInvalidVpRegisterValue }, { 34, WHvRunVpExitReasonInvalidVpRegisterValue },
        { 48, WHvRunVpExitReasonMemoryAccess },
    };
    WHV_RUN_VP_EXIT_REASON want = EXIT_DECODE_HYPERVISOR;
    if (reason & VMX_EXIT_REASON_ENTRY_FAILURE)
        want = WHvRunVpExitReasonInvalidVpRegisterValue;
    else
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if ((reason & 0xFFFF) == table[i].basic)
                want = table[i].whv;
    WHV_RUN_VP_EXIT_REASON got = exit_decode_reason(reason);
    FUZZ_CHECK(got == want, "exit reason 0x%x -> 0x%x, expected 0x%x", reason, got, want);
}

static uint32_t check_instruction_length(struct fake_vmcs *f, uint32_t basic)
{
    uint64_t info = val(f, VMCS_EXIT_INTR_INFO), vectoring = val(f, VMCS_IDT_VECTORING_INFO);
    uint64_t qual = val(f, VMCS_EXIT_QUALIFICATION);
    bool defined, task_gate = ((qual >> 30) & 3) == 3;
    uint64_t allowed = bit(VMCS_EXIT_INSTR_LEN);
    switch (basic) {
    case 10: case 12: case 16: case 18: case 30: case 31: case 32: case 51:
        defined = true;
        break;
    case 0:
        defined = sw_exception(info);
        allowed |= bit(VMCS_EXIT_INTR_INFO);
        break;
    case 9:
        defined = !task_gate || ((vectoring & INTR_INFO_VALID) &&
                                 (intr_type(vectoring) == INTR_TYPE_SW_INTERRUPT || sw_exception(vectoring)));
        allowed |= bit(VMCS_EXIT_QUALIFICATION) | bit(VMCS_IDT_VECTORING_INFO);
        break;
    default:
        defined = false;
    }
    if (!defined)
        allowed &= ~bit(VMCS_EXIT_INSTR_LEN);
    uint32_t got = exit_decode_instruction_length(&(struct vmcs_view){ fake_read, f }, basic);
    reads_within(f, allowed, "exit_decode_instruction_length");
    uint32_t want = defined ? (uint32_t)val(f, VMCS_EXIT_INSTR_LEN) : 0;
    FUZZ_CHECK(got == want, "basic reason %u: length %u, expected %u", basic, got, want);
    return got;
}

static void check_vp_context(struct fake_vmcs *f, uint32_t length, uint8_t cr8)
{
    WHV_VP_EXIT_CONTEXT got, want;
    memset(&got, POISON, sizeof got);
    exit_decode_vp_context(&(struct vmcs_view){ fake_read, f }, length, cr8, &got);
    reads_within(f, bit(VMCS_GUEST_SS_AR) | bit(VMCS_GUEST_CR0) | bit(VMCS_CR0_GUEST_HOST_MASK) |
                        bit(VMCS_CR0_READ_SHADOW) | bit(VMCS_GUEST_EFER) | bit(VMCS_GUEST_DR7) |
                        bit(VMCS_IDT_VECTORING_INFO) | bit(VMCS_GUEST_INTERRUPTIBILITY) | seg_bits(1) |
                        bit(VMCS_GUEST_RIP) | bit(VMCS_GUEST_RFLAGS),
                 "exit_decode_vp_context");
    uint64_t mask = val(f, VMCS_CR0_GUEST_HOST_MASK);
    uint64_t cr0 = (val(f, VMCS_GUEST_CR0) & ~mask) | (val(f, VMCS_CR0_READ_SHADOW) & mask);
    memset(&want, 0, sizeof want);
    want.ExecutionState.Cpl = (val(f, VMCS_GUEST_SS_AR) >> 5) & 3;
    want.ExecutionState.Cr0Pe = cr0 & 1;
    want.ExecutionState.Cr0Am = (cr0 >> 18) & 1;
    want.ExecutionState.EferLma = (val(f, VMCS_GUEST_EFER) >> 10) & 1;
    want.ExecutionState.DebugActive = (val(f, VMCS_GUEST_DR7) & 0xFF) != 0;
    want.ExecutionState.InterruptionPending = (val(f, VMCS_IDT_VECTORING_INFO) >> 31) & 1;
    want.ExecutionState.InterruptShadow = (val(f, VMCS_GUEST_INTERRUPTIBILITY) & 3) != 0;
    want.InstructionLength = length <= 15 ? length : 0;
    want.Cr8 = cr8 & 0xF;
    want.Cs = expected_segment(f, 1);
    want.Rip = val(f, VMCS_GUEST_RIP);
    want.Rflags = val(f, VMCS_GUEST_RFLAGS);
    same(&got, &want, sizeof got, "WHV_VP_EXIT_CONTEXT");
    FUZZ_CHECK(got.InstructionLength <= 15 && (length > 15 || got.InstructionLength == length),
               "InstructionLength %u from %u", got.InstructionLength, length);
}

static void check_io(struct fake_vmcs *f, const struct vcpu_regs *regs, bool ins_outs_info)
{
    WHV_X64_IO_PORT_ACCESS_CONTEXT got, want;
    uint32_t q = (uint32_t)val(f, VMCS_EXIT_QUALIFICATION), info = (uint32_t)val(f, VMCS_EXIT_INSTR_INFO);
    bool string = q & (1u << 4), outs = string && !(q & (1u << 3));
    unsigned source = 3;   /* DS */
    if (outs && ins_outs_info && ((info >> 15) & 7) < 6)
        source = (info >> 15) & 7;
    memset(&got, POISON, sizeof got);
    uint32_t address_size = exit_decode_io(&(struct vmcs_view){ fake_read, f }, regs, ins_outs_info, &got);
    uint64_t allowed = bit(VMCS_EXIT_QUALIFICATION);
    if (string)
        allowed |= seg_bits(0) | seg_bits(source) | (ins_outs_info ? bit(VMCS_EXIT_INSTR_INFO) : 0);
    reads_within(f, allowed, "exit_decode_io");
    memset(&want, 0, sizeof want);
    want.AccessInfo.IsWrite = !(q & (1u << 3));
    want.AccessInfo.AccessSize = (q & 7) + 1;
    want.AccessInfo.StringOp = string;
    want.AccessInfo.RepPrefix = (q >> 5) & 1;
    want.PortNumber = (UINT16)(q >> 16);
    want.Rax = regs->gpr[R_RAX];
    want.Rcx = regs->gpr[R_RCX];
    want.Rsi = regs->gpr[R_RSI];
    want.Rdi = regs->gpr[R_RDI];
    if (string) {
        want.Ds = expected_segment(f, source);
        want.Es = expected_segment(f, 0);
    }
    same(&got, &want, sizeof got, "WHV_X64_IO_PORT_ACCESS_CONTEXT");
    static const uint32_t sizes[8] = { 2, 4, 8, 0, 0, 0, 0, 0 };
    uint32_t want_size = string && ins_outs_info ? sizes[(info >> 7) & 7] : 0;
    FUZZ_CHECK(address_size == want_size, "address size %u, expected %u", address_size, want_size);
    if ((q & 7) == 0 || (q & 7) == 1 || (q & 7) == 3)   /* the encodings the SDM defines */
        FUZZ_CHECK(got.AccessInfo.AccessSize == 1 || got.AccessInfo.AccessSize == 2 || got.AccessInfo.AccessSize == 4,
                   "AccessSize %u", got.AccessInfo.AccessSize);
}

static void check_ept_violation(struct fake_vmcs *f, bool unmapped)
{
    WHV_MEMORY_ACCESS_CONTEXT got, want;
    uint64_t q = val(f, VMCS_EXIT_QUALIFICATION);
    bool gva_valid = q & (1u << 7);
    memset(&got, POISON, sizeof got);
    exit_decode_ept_violation(&(struct vmcs_view){ fake_read, f }, unmapped, &got);
    reads_within(f, bit(VMCS_EXIT_QUALIFICATION) | bit(VMCS_GUEST_PHYSICAL_ADDR) |
                        (gva_valid ? bit(VMCS_GUEST_LINEAR_ADDR) : 0),
                 "exit_decode_ept_violation");
    memset(&want, 0, sizeof want);
    want.AccessInfo.AccessType = (q & 4) ? WHvMemoryAccessExecute : (q & 2) ? WHvMemoryAccessWrite : WHvMemoryAccessRead;
    want.AccessInfo.GpaUnmapped = unmapped;
    want.AccessInfo.GvaValid = gva_valid;
    want.Gpa = val(f, VMCS_GUEST_PHYSICAL_ADDR);
    want.Gva = gva_valid ? val(f, VMCS_GUEST_LINEAR_ADDR) : 0;
    same(&got, &want, sizeof got, "WHV_MEMORY_ACCESS_CONTEXT");
}

static void check_exception(struct fake_vmcs *f)
{
    WHV_VP_EXCEPTION_CONTEXT got, want;
    uint64_t info = val(f, VMCS_EXIT_INTR_INFO), q = val(f, VMCS_EXIT_QUALIFICATION);
    uint8_t vector = (uint8_t)info;
    bool has_error = info & (1u << 11);
    memset(&got, POISON, sizeof got);
    exit_decode_exception(&(struct vmcs_view){ fake_read, f }, &got);
    reads_within(f, bit(VMCS_EXIT_INTR_INFO) | (has_error ? bit(VMCS_EXIT_INTR_ERROR) : 0) |
                        (vector == VEC_PF || vector == VEC_DB ? bit(VMCS_EXIT_QUALIFICATION) : 0),
                 "exit_decode_exception");
    memset(&want, 0, sizeof want);
    want.ExceptionType = vector;
    want.ExceptionInfo.ErrorCodeValid = has_error;
    want.ExceptionInfo.SoftwareException = sw_exception(info);
    want.ErrorCode = has_error ? (UINT32)val(f, VMCS_EXIT_INTR_ERROR) : 0;
    want.ExceptionParameter = vector == VEC_PF ? q : vector == VEC_DB ? q & (0xF | 1u << 13 | 1u << 14 | 1u << 16) : 0;
    same(&got, &want, sizeof got, "WHV_VP_EXCEPTION_CONTEXT");
}

static void check_task_switch(struct fake_vmcs *f)
{
    WHV_X64_UNSUPPORTED_FEATURE_CONTEXT got, want;
    memset(&got, POISON, sizeof got);
    exit_decode_task_switch(&(struct vmcs_view){ fake_read, f }, &got);
    reads_within(f, bit(VMCS_EXIT_QUALIFICATION), "exit_decode_task_switch");
    memset(&want, 0, sizeof want);
    want.FeatureCode = WHvUnsupportedFeatureTaskSwitchTss;
    want.FeatureParameter = val(f, VMCS_EXIT_QUALIFICATION) & 0xFFFF;
    same(&got, &want, sizeof got, "WHV_X64_UNSUPPORTED_FEATURE_CONTEXT");
}

/* The register-only decoders: no VMCS at all. */
static void check_register_exits(struct fuzz_in *in, const struct vcpu_regs *regs)
{
    const uint64_t *g = regs->gpr;
    {
        WHV_X64_MSR_ACCESS_CONTEXT got, want;
        bool write = fuzz_bool(in);
        memset(&got, POISON, sizeof got);
        exit_decode_msr(regs, write, &got);
        memset(&want, 0, sizeof want);
        want.AccessInfo.IsWrite = write;
        want.MsrNumber = (UINT32)g[R_RCX];
        want.Rax = g[R_RAX];
        want.Rdx = g[R_RDX];
        same(&got, &want, sizeof got, "WHV_X64_MSR_ACCESS_CONTEXT");
    }
    {
        WHV_X64_CPUID_ACCESS_CONTEXT got, want;
        struct cpuid_regs d = { fuzz_u32(in), fuzz_u32(in), fuzz_u32(in), fuzz_u32(in) };
        memset(&got, POISON, sizeof got);
        exit_decode_cpuid(regs, &d, &got);
        memset(&want, 0, sizeof want);
        want.Rax = g[R_RAX];
        want.Rcx = g[R_RCX];
        want.Rdx = g[R_RDX];
        want.Rbx = g[R_RBX];
        want.DefaultResultRax = d.eax;
        want.DefaultResultRcx = d.ecx;
        want.DefaultResultRdx = d.edx;
        want.DefaultResultRbx = d.ebx;
        same(&got, &want, sizeof got, "WHV_X64_CPUID_ACCESS_CONTEXT");
    }
    {
        WHV_X64_RDTSC_CONTEXT got, want;
        bool rdtscp = fuzz_bool(in);
        uint64_t tsc = fuzz_u64(in), offset = fuzz_u64(in), aux = fuzz_u64(in);
        memset(&got, POISON, sizeof got);
        exit_decode_rdtsc(rdtscp, tsc, offset, aux, &got);
        memset(&want, 0, sizeof want);
        want.TscAux = aux;
        want.VirtualOffset = offset;
        want.Tsc = tsc;
        want.RdtscInfo.IsRdtscp = rdtscp;
        same(&got, &want, sizeof got, "WHV_X64_RDTSC_CONTEXT");
    }
    {
        WHV_HYPERCALL_CONTEXT got, want;
        uint8_t xmm[WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS][16];
        for (unsigned i = 0; i < sizeof xmm; i++)
            ((uint8_t *)xmm)[i] = fuzz_u8(in);
        memset(&got, POISON, sizeof got);
        exit_decode_hypercall(regs, (const uint8_t(*)[16])xmm, &got);
        memset(&want, 0, sizeof want);
        want.Rax = g[R_RAX];
        want.Rbx = g[R_RBX];
        want.Rcx = g[R_RCX];
        want.Rdx = g[R_RDX];
        want.R8 = g[R_R8];
        want.Rsi = g[R_RSI];
        want.Rdi = g[R_RDI];
        memcpy(want.XmmRegisters, xmm, sizeof xmm);
        same(&got, &want, sizeof got, "WHV_HYPERCALL_CONTEXT");
    }
    {
        WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT got, want;
        bool nmi = fuzz_bool(in);
        memset(&got, POISON, sizeof got);
        exit_decode_interrupt_window(nmi, &got);
        memset(&want, 0, sizeof want);
        want.DeliverableType = nmi ? WHvX64PendingNmi : WHvX64PendingInterrupt;
        same(&got, &want, sizeof got, "WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT");
    }
    {
        WHV_RUN_VP_CANCELED_CONTEXT got, want;
        memset(&got, POISON, sizeof got);
        exit_decode_canceled(&got);
        memset(&want, 0, sizeof want);
        want.CancelReason = WHvRunVpCancelReasonUser;
        same(&got, &want, sizeof got, "WHV_RUN_VP_CANCELED_CONTEXT");
    }
}

/* Input: the exit reason, flags, then the VMCS fields in `fields` order, the GPRs, the rest. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = fuzz_in(data, size);
    struct fake_vmcs f = { { 0 }, 0 };
    struct vcpu_regs regs;
    uint32_t reason = fuzz_u32(&in);
    uint8_t flags = fuzz_u8(&in), cr8 = fuzz_u8(&in);
    for (unsigned i = 0; i < N_FIELDS; i++)
        f.value[i] = fuzz_u64(&in) & width_mask(fields[i]);
    for (unsigned i = 0; i < 16; i++)
        regs.gpr[i] = fuzz_u64(&in);

    check_reason(reason);
    uint32_t basic = reason & 0xFFFF;
    /* Small basic reasons are the interesting ones: fold the rest onto 0..79 half of the time. */
    if (flags & 0x80)
        basic %= 80;
    uint32_t length = check_instruction_length(&f, basic);
    check_vp_context(&f, (flags & 0x40) ? length : val(&f, VMCS_EXIT_INSTR_LEN) & 0x1F, cr8);
    check_io(&f, &regs, flags & 1);
    check_ept_violation(&f, flags & 2);
    check_exception(&f);
    check_task_switch(&f);
    check_register_exits(&in, &regs);
    return 0;
}
