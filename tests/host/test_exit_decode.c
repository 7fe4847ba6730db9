/* exit_decode: VMX exit information -> WHV exit structures, driven by a fake VMCS. Expected values come
 * from the SDM formats (vol. 3, chapter 28) and docs/whv-abi-facts.md. Every output is prefilled with
 * 0xAA so reserved fields that a decoder forgets to clear show up. */
#include "check.h"
#include "vmx/exit_decode.h"
#include "vmx/segment.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_errors.h"
#include <string.h>

#define POISON 0xAA
#define NO_FIELD 0xFFFFFFFFu
#define MAX_FAKE_FIELDS 40

/* ---- the fake VMCS: a table of {field, value}; reading a field the test did not provide records it
 * (first_missing) and returns garbage, and CHECK_ALL_READS_PROVIDED fails the test. */

struct fake_field {
    uint32_t field;
    uint64_t value;
};

struct fake_vmcs {
    struct fake_field fields[MAX_FAKE_FIELDS];
    unsigned count;
    uint32_t first_missing;
    unsigned missing_reads;
};

static uint64_t fake_read(void *ctx, uint32_t field)
{
    struct fake_vmcs *f = ctx;
    for (unsigned i = 0; i < f->count; i++)
        if (f->fields[i].field == field)
            return f->fields[i].value;
    if (!f->missing_reads++)
        f->first_missing = field;
    return 0x5A5A5A5A5A5A5A5Aull;
}

static void fake_init(struct fake_vmcs *f)
{
    memset(f, 0, sizeof *f);
    f->first_missing = NO_FIELD;
}

/* Adds or replaces a field. */
static void fake_set(struct fake_vmcs *f, uint32_t field, uint64_t value)
{
    for (unsigned i = 0; i < f->count; i++)
        if (f->fields[i].field == field) {
            f->fields[i].value = value;
            return;
        }
    if (f->count < MAX_FAKE_FIELDS)
        f->fields[f->count++] = (struct fake_field){ field, value };
}

static struct vmcs_view view_of(struct fake_vmcs *f)
{
    return (struct vmcs_view){ fake_read, f };
}

/* CHECK_EQ that also names the table row on failure (a and b are evaluated twice). */
#define CHECK_EQ_CASE(name, a, b)                                                    \
    do {                                                                             \
        if ((uint64_t)(a) != (uint64_t)(b))                                          \
            printf("#   case: %s\n", name);                                          \
        CHECK_EQ(a, b);                                                              \
    } while (0)

/* Prints the first unprovided field on failure. */
#define CHECK_ALL_READS_PROVIDED(f) CHECK_EQ((f)->first_missing, NO_FIELD)

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static struct vcpu_regs sample_regs(void)
{
    struct vcpu_regs r;
    for (unsigned i = 0; i < 16; i++)
        r.gpr[i] = 0x1111111111111111ull * (i + 1) ^ 0x8000000000000000ull;
    return r;
}

TEST(exit_decode_fake_vmcs_flags_unprovided_reads)
{
    struct fake_vmcs f;
    fake_init(&f);
    fake_set(&f, VMCS_GUEST_RIP, 0x1234);
    struct vmcs_view v = view_of(&f);
    CHECK_EQ(v.read(v.ctx, VMCS_GUEST_RIP), 0x1234);
    CHECK_EQ(f.first_missing, NO_FIELD);
    v.read(v.ctx, VMCS_GUEST_RFLAGS);
    v.read(v.ctx, VMCS_GUEST_CR0);
    CHECK_EQ(f.first_missing, VMCS_GUEST_RFLAGS);
    CHECK_EQ(f.missing_reads, 2);
}

/* ---- exit reason mapping: every row of the facts table, then everything else */

struct reason_row {
    uint32_t vmx;
    WHV_RUN_VP_EXIT_REASON whv;
};

static const struct reason_row facts_table[] = {
    { EXIT_EXCEPTION_NMI, WHvRunVpExitReasonException },
    { EXIT_TRIPLE_FAULT, WHvRunVpExitReasonUnrecoverableException },
    { EXIT_INTERRUPT_WINDOW, WHvRunVpExitReasonX64InterruptWindow },
    { EXIT_NMI_WINDOW, WHvRunVpExitReasonX64InterruptWindow },
    { EXIT_TASK_SWITCH, WHvRunVpExitReasonUnsupportedFeature },
    { EXIT_CPUID, WHvRunVpExitReasonX64Cpuid },
    { EXIT_HLT, WHvRunVpExitReasonX64Halt },
    { EXIT_RDTSC, WHvRunVpExitReasonX64Rdtsc },
    { EXIT_RDTSCP, WHvRunVpExitReasonX64Rdtsc },
    { EXIT_VMCALL, WHvRunVpExitReasonHypercall },
    { EXIT_IO, WHvRunVpExitReasonX64IoPortAccess },
    { EXIT_RDMSR, WHvRunVpExitReasonX64MsrAccess },
    { EXIT_WRMSR, WHvRunVpExitReasonX64MsrAccess },
    { EXIT_ENTRY_FAIL_GUEST_STATE, WHvRunVpExitReasonInvalidVpRegisterValue },
    { EXIT_ENTRY_FAIL_MSR_LOAD, WHvRunVpExitReasonInvalidVpRegisterValue },
    { EXIT_EPT_VIOLATION, WHvRunVpExitReasonMemoryAccess },
    { EXIT_EXTERNAL_INTERRUPT, EXIT_DECODE_HYPERVISOR },
    { EXIT_PREEMPTION_TIMER, EXIT_DECODE_HYPERVISOR },
};
#define FACTS_ROWS (sizeof facts_table / sizeof facts_table[0])

static WHV_RUN_VP_EXIT_REASON expected_for_basic(uint32_t basic)
{
    for (unsigned i = 0; i < FACTS_ROWS; i++)
        if (facts_table[i].vmx == basic)
            return facts_table[i].whv;
    return EXIT_DECODE_HYPERVISOR;
}

TEST(exit_decode_reason_facts_table)
{
    for (unsigned i = 0; i < FACTS_ROWS; i++)
        CHECK_EQ(exit_decode_reason(facts_table[i].vmx), facts_table[i].whv);
}

TEST(exit_decode_reason_every_basic_reason)
{
    for (uint32_t basic = 0; basic <= 0xFFFF; basic++) {
        WHV_RUN_VP_EXIT_REASON got = exit_decode_reason(basic);
        if (got != expected_for_basic(basic)) {
            CHECK_EQ(basic, ~0u);   /* names the first reason that maps wrongly */
            break;
        }
    }
    /* Internal and unknown reasons stay with the hypervisor. */
    CHECK_EQ(exit_decode_reason(EXIT_CR_ACCESS), EXIT_DECODE_HYPERVISOR);
    CHECK_EQ(exit_decode_reason(EXIT_EPT_MISCONFIG), EXIT_DECODE_HYPERVISOR);
    CHECK_EQ(exit_decode_reason(EXIT_XSETBV), EXIT_DECODE_HYPERVISOR);
    CHECK_EQ(exit_decode_reason(VMX_EXIT_REASON_COUNT - 1), EXIT_DECODE_HYPERVISOR);
    CHECK_EQ(exit_decode_reason(VMX_EXIT_REASON_COUNT), EXIT_DECODE_HYPERVISOR);
    CHECK_EQ(exit_decode_reason(0xFFFF), EXIT_DECODE_HYPERVISOR);
}

TEST(exit_decode_reason_flag_bits_ignored)
{
    /* Bits 30:16 (e.g. 27 pending MTF, 28 exit from VMX root, 29 enclave) do not change the basic reason. */
    CHECK_EQ(exit_decode_reason((1u << 27) | EXIT_HLT), WHvRunVpExitReasonX64Halt);
    CHECK_EQ(exit_decode_reason((1u << 29) | EXIT_IO), WHvRunVpExitReasonX64IoPortAccess);
    CHECK_EQ(exit_decode_reason(0x7FFF0000u | EXIT_EPT_VIOLATION), WHvRunVpExitReasonMemoryAccess);
    CHECK_EQ(exit_decode_reason(0x7FFF0000u | EXIT_EXTERNAL_INTERRUPT), EXIT_DECODE_HYPERVISOR);
}

TEST(exit_decode_reason_entry_failure_first)
{
    uint32_t fail = VMX_EXIT_REASON_ENTRY_FAILURE;
    CHECK_EQ(exit_decode_reason(fail | EXIT_ENTRY_FAIL_GUEST_STATE), WHvRunVpExitReasonInvalidVpRegisterValue);
    CHECK_EQ(exit_decode_reason(fail | EXIT_ENTRY_FAIL_MSR_LOAD), WHvRunVpExitReasonInvalidVpRegisterValue);
    CHECK_EQ(exit_decode_reason(fail | EXIT_ENTRY_FAIL_MACHINE_CHECK), WHvRunVpExitReasonInvalidVpRegisterValue);
    /* The bit wins over whatever basic reason comes with it, in range or not. */
    CHECK_EQ(exit_decode_reason(fail | EXIT_IO), WHvRunVpExitReasonInvalidVpRegisterValue);
    CHECK_EQ(exit_decode_reason(fail | 0xFFFF), WHvRunVpExitReasonInvalidVpRegisterValue);
    CHECK_EQ(exit_decode_reason(0xFFFFFFFFu), WHvRunVpExitReasonInvalidVpRegisterValue);
}

/* ---- instruction length (SDM 28.2.5) */

#define INFO(type, vector) (INTR_INFO_VALID | (type) | (vector))

struct length_case {
    const char *name;
    uint32_t basic;
    bool has_intr_info;        /* provide EXIT_INTR_INFO */
    uint32_t intr_info;
    bool has_qualification;    /* provide EXIT_QUALIFICATION */
    uint64_t qualification;
    bool has_vectoring;        /* provide IDT_VECTORING_INFO */
    uint32_t vectoring;
    bool defined;              /* provide EXIT_INSTR_LEN and expect it */
};

static const struct length_case length_cases[] = {
    { "cpuid", EXIT_CPUID, false, 0, false, 0, false, 0, true },
    { "hlt", EXIT_HLT, false, 0, false, 0, false, 0, true },
    { "rdtsc", EXIT_RDTSC, false, 0, false, 0, false, 0, true },
    { "rdtscp", EXIT_RDTSCP, false, 0, false, 0, false, 0, true },
    { "vmcall", EXIT_VMCALL, false, 0, false, 0, false, 0, true },
    { "io", EXIT_IO, false, 0, false, 0, false, 0, true },
    { "rdmsr", EXIT_RDMSR, false, 0, false, 0, false, 0, true },
    { "wrmsr", EXIT_WRMSR, false, 0, false, 0, false, 0, true },
    { "int3", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_SW_EXCEPTION, 3), false, 0, false, 0, true },
    { "into", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_SW_EXCEPTION, 4), false, 0, false, 0, true },
    { "int1", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_PRIV_SW_EXCEPTION, 1), false, 0, false, 0, true },
    { "#GP", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_HW_EXCEPTION, 13) | INTR_INFO_ERROR_CODE_VALID,
      false, 0, false, 0, false },
    { "#DB hw", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_HW_EXCEPTION, 1), false, 0, false, 0, false },
    { "nmi", EXIT_EXCEPTION_NMI, true, INFO(INTR_TYPE_NMI, 2), false, 0, false, 0, false },
    { "task call", EXIT_TASK_SWITCH, false, 0, true, 0x00000028, false, 0, true },
    { "task iret", EXIT_TASK_SWITCH, false, 0, true, 0x40000028, false, 0, true },
    { "task jmp", EXIT_TASK_SWITCH, false, 0, true, 0x80000028, false, 0, true },
    { "task gate int n", EXIT_TASK_SWITCH, false, 0, true, 0xC0000028, true, INFO(INTR_TYPE_SW_INTERRUPT, 0x80),
      true },
    { "task gate int3", EXIT_TASK_SWITCH, false, 0, true, 0xC0000028, true, INFO(INTR_TYPE_SW_EXCEPTION, 3),
      true },
    { "task gate #DF", EXIT_TASK_SWITCH, false, 0, true, 0xC0000028, true,
      INFO(INTR_TYPE_HW_EXCEPTION, 8) | INTR_INFO_ERROR_CODE_VALID, false },
    { "task gate irq", EXIT_TASK_SWITCH, false, 0, true, 0xC0000028, true, INFO(INTR_TYPE_EXTERNAL, 0x30),
      false },
    { "task gate invalid vectoring", EXIT_TASK_SWITCH, false, 0, true, 0xC0000028, true,
      (uint32_t)INTR_TYPE_SW_INTERRUPT | 0x80, false },
    { "triple fault", EXIT_TRIPLE_FAULT, false, 0, false, 0, false, 0, false },
    { "interrupt window", EXIT_INTERRUPT_WINDOW, false, 0, false, 0, false, 0, false },
    { "nmi window", EXIT_NMI_WINDOW, false, 0, false, 0, false, 0, false },
    { "ept violation", EXIT_EPT_VIOLATION, false, 0, false, 0, false, 0, false },
    { "entry failure", EXIT_ENTRY_FAIL_GUEST_STATE, false, 0, false, 0, false, 0, false },
    { "external interrupt", EXIT_EXTERNAL_INTERRUPT, false, 0, false, 0, false, 0, false },
    { "preemption timer", EXIT_PREEMPTION_TIMER, false, 0, false, 0, false, 0, false },
};

TEST(exit_decode_instruction_length_defined_only_where_sdm_says)
{
    for (unsigned i = 0; i < sizeof length_cases / sizeof length_cases[0]; i++) {
        const struct length_case *c = &length_cases[i];
        struct fake_vmcs f;
        fake_init(&f);
        if (c->has_intr_info)
            fake_set(&f, VMCS_EXIT_INTR_INFO, c->intr_info);
        if (c->has_qualification)
            fake_set(&f, VMCS_EXIT_QUALIFICATION, c->qualification);
        if (c->has_vectoring)
            fake_set(&f, VMCS_IDT_VECTORING_INFO, c->vectoring);
        if (c->defined)
            fake_set(&f, VMCS_EXIT_INSTR_LEN, 3 + i % 10);
        struct vmcs_view v = view_of(&f);
        uint32_t len = exit_decode_instruction_length(&v, c->basic);
        CHECK_EQ_CASE(c->name, len, c->defined ? 3 + i % 10 : 0);
        CHECK_EQ_CASE(c->name, f.first_missing, NO_FIELD);
    }
}

/* ---- VpContext */

struct vp_case {
    const char *name;
    uint16_t cs_sel;
    uint64_t cs_base;
    uint32_t cs_limit, cs_ar, ss_ar;
    uint64_t cr0, cr0_mask, cr0_shadow, efer, dr7;
    uint32_t vectoring, interruptibility;
    uint64_t rip, rflags;
    /* expected */
    unsigned cpl, pe, am, lma, debug, pending, shadow;
    uint16_t cs_attributes;
};

#define CR0_ET_NE_PG (CR0_ET | CR0_NE | CR0_PG)

static const struct vp_case vp_cases[] = {
    { "real mode (unrestricted guest)", 0xF000, 0xF0000, 0xFFFF, 0x9B, 0x93,
      CR0_ET, 0, 0, 0, 0x400, 0, 0, 0xFFF0, 0x2,
      0, 0, 0, 0, 0, 0, 0, 0x9B },
    { "protected mode ring 3, flat 32-bit", 0x1B, 0, 0xFFFFFFFF, 0xC0FB, 0xC0F3,
      CR0_PE | CR0_ET | CR0_NE | CR0_AM | CR0_PG, 0, 0, 0, 0x400, 0, 0, 0x401000, 0x202,
      3, 1, 1, 0, 0, 0, 0, 0xC0FB },
    { "long mode ring 0, 64-bit code", 0x10, 0, 0xFFFFFFFF, 0xA09B, 0xC093,
      CR0_PE | CR0_ET_NE_PG | CR0_WP, 0, 0, EFER_LME | EFER_LMA | EFER_NXE, 0x400, 0, 0,
      0xFFFFF80000001000ull, 0x46,
      0, 1, 0, 1, 0, 0, 0, 0xA09B },
    { "compatibility mode ring 3, 16-bit code", 0x23, 0x10000, 0xFFFF, 0x00FB, 0xF3,
      CR0_PE | CR0_ET_NE_PG, 0, 0, EFER_LME | EFER_LMA, 0x400, 0, 0, 0x100, 0x3202,
      3, 1, 0, 1, 0, 0, 0, 0x00FB },
    /* The host owns PE and AM: the guest wrote PE=0, AM=1; the real CR0 keeps PE=1, AM=0. Bits outside
     * the mask (here PG, WP) come from GUEST_CR0. */
    { "CR0 shadowed by the mask", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE | CR0_ET_NE_PG | CR0_WP, CR0_PE | CR0_AM | CR0_NE, CR0_AM, 0, 0x400, 0, 0, 0x1000, 0x2,
      0, 0, 1, 0, 0, 0, 0, 0xC09B },
    { "CR0 mask with shadow equal to the real bits", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE | CR0_AM, CR0_PE | CR0_AM, CR0_PE | CR0_AM, 0, 0x400, 0, 0, 0x1000, 0x2,
      0, 1, 1, 0, 0, 0, 0, 0xC09B },
    { "STI shadow", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, 0, INTERRUPTIBILITY_STI, 0x1000, 0x202,
      0, 1, 0, 0, 0, 0, 1, 0xC09B },
    { "MOV SS shadow", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, 0, INTERRUPTIBILITY_MOV_SS, 0x1000, 0x202,
      0, 1, 0, 0, 0, 0, 1, 0xC09B },
    { "NMI blocking is no interrupt shadow", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, 0, INTERRUPTIBILITY_NMI, 0x1000, 0x202,
      0, 1, 0, 0, 0, 0, 0, 0xC09B },
    { "DR7 L0 enables DebugActive", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x401, 0, 0, 0x1000, 0x2,
      0, 1, 0, 0, 1, 0, 0, 0xC09B },
    { "DR7 G3 enables DebugActive", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x480, 0, 0, 0x1000, 0x2,
      0, 1, 0, 0, 1, 0, 0, 0xC09B },
    { "DR7 GD/LE/GE/RW-LEN alone are not DebugActive", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0xFFFF2700ull, 0, 0, 0x1000, 0x2,
      0, 1, 0, 0, 0, 0, 0, 0xC09B },
    { "event being delivered", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, INFO(INTR_TYPE_EXTERNAL, 0x30), 0, 0x1000, 0x2,
      0, 1, 0, 0, 0, 1, 0, 0xC09B },
    { "vectoring info not valid", 0x08, 0, 0xFFFFFFFF, 0xC09B, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, INTR_TYPE_HW_EXCEPTION | 14, 0, 0x1000, 0x2,
      0, 1, 0, 0, 0, 0, 0, 0xC09B },
    /* SS.DPL is kept even when SS is unusable (a null SS in 64-bit mode), so CPL stays right. */
    { "unusable SS keeps its DPL", 0x33, 0, 0xFFFFFFFF, 0xA0FB, VMX_AR_UNUSABLE | 0x60,
      CR0_PE | CR0_ET_NE_PG, 0, 0, EFER_LME | EFER_LMA, 0x400, 0, 0, 0x400000, 0x202,
      3, 1, 0, 1, 0, 0, 0, 0xA0FB },
    /* Access-rights bits 11:8 and 31:17 never reach Attributes. */
    { "reserved access-rights bits dropped", 0x08, 0, 0xFFFFFFFF, 0xFFFEFF9Bu, 0xC093,
      CR0_PE, 0, 0, 0, 0x400, 0, 0, 0x1000, 0x2,
      0, 1, 0, 0, 0, 0, 0, 0xF09B },
};

static void fake_vp_fields(struct fake_vmcs *f, const struct vp_case *c)
{
    fake_set(f, VMCS_GUEST_CS_SEL, c->cs_sel);
    fake_set(f, VMCS_GUEST_CS_BASE, c->cs_base);
    fake_set(f, VMCS_GUEST_CS_LIMIT, c->cs_limit);
    fake_set(f, VMCS_GUEST_CS_AR, c->cs_ar);
    fake_set(f, VMCS_GUEST_SS_AR, c->ss_ar);
    fake_set(f, VMCS_GUEST_CR0, c->cr0);
    fake_set(f, VMCS_CR0_GUEST_HOST_MASK, c->cr0_mask);
    fake_set(f, VMCS_CR0_READ_SHADOW, c->cr0_shadow);
    fake_set(f, VMCS_GUEST_EFER, c->efer);
    fake_set(f, VMCS_GUEST_DR7, c->dr7);
    fake_set(f, VMCS_IDT_VECTORING_INFO, c->vectoring);
    fake_set(f, VMCS_GUEST_INTERRUPTIBILITY, c->interruptibility);
    fake_set(f, VMCS_GUEST_RIP, c->rip);
    fake_set(f, VMCS_GUEST_RFLAGS, c->rflags);
}

static void check_vp_reserved_zero(const WHV_VP_EXIT_CONTEXT *vp)
{
    CHECK_EQ(vp->ExecutionState.Reserved0, 0);
    CHECK_EQ(vp->ExecutionState.Reserved1, 0);
    CHECK_EQ(vp->Reserved, 0);
    CHECK_EQ(vp->Reserved2, 0);
    CHECK_EQ(vp->Cs.Attributes & 0x0F00, 0);
}

TEST(exit_decode_vp_context_modes)
{
    for (unsigned i = 0; i < sizeof vp_cases / sizeof vp_cases[0]; i++) {
        const struct vp_case *c = &vp_cases[i];
        struct fake_vmcs f;
        fake_init(&f);
        fake_vp_fields(&f, c);
        struct vmcs_view v = view_of(&f);
        WHV_VP_EXIT_CONTEXT vp;
        struct vp_context_raw raw;   /* what the instruction fetch reuses: the fields the decoder read */
        memset(&vp, POISON, sizeof vp);
        memset(&raw, POISON, sizeof raw);
        exit_decode_vp_context_raw(&v, 2, 0, &vp, &raw);
        CHECK_EQ_CASE(c->name, raw.rip, c->rip);
        CHECK_EQ_CASE(c->name, raw.cs_base, c->cs_base);
        CHECK_EQ_CASE(c->name, raw.cs_ar, (uint32_t)fake_read(&f, VMCS_GUEST_CS_AR));
        CHECK_EQ_CASE(c->name, raw.ss_ar, (uint32_t)fake_read(&f, VMCS_GUEST_SS_AR));
        CHECK_EQ_CASE(c->name, raw.efer, fake_read(&f, VMCS_GUEST_EFER));
        CHECK_EQ_CASE(c->name, (raw.cr0 & 1) != 0, c->pe);
        CHECK_EQ_CASE(c->name, (raw.cr0 >> 18) & 1, c->am);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.Cpl, c->cpl);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.Cr0Pe, c->pe);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.Cr0Am, c->am);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.EferLma, c->lma);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.DebugActive, c->debug);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.InterruptionPending, c->pending);
        CHECK_EQ_CASE(c->name, vp.ExecutionState.InterruptShadow, c->shadow);
        CHECK_EQ_CASE(c->name, vp.InstructionLength, 2);
        CHECK_EQ_CASE(c->name, vp.Cr8, 0);
        CHECK_EQ_CASE(c->name, vp.Cs.Base, c->cs_base);
        CHECK_EQ_CASE(c->name, vp.Cs.Limit, c->cs_limit);
        CHECK_EQ_CASE(c->name, vp.Cs.Selector, c->cs_sel);
        CHECK_EQ_CASE(c->name, vp.Cs.Attributes, c->cs_attributes);
        CHECK_EQ_CASE(c->name, vp.Rip, c->rip);
        CHECK_EQ_CASE(c->name, vp.Rflags, c->rflags);
        check_vp_reserved_zero(&vp);
        CHECK_EQ_CASE(c->name, f.first_missing, NO_FIELD);
    }
}

TEST(exit_decode_vp_context_length_and_cr8)
{
    struct fake_vmcs f;
    fake_init(&f);
    fake_vp_fields(&f, &vp_cases[1]);
    struct vmcs_view v = view_of(&f);
    WHV_VP_EXIT_CONTEXT vp;
    static const struct { uint32_t len; uint8_t cr8; unsigned want_len, want_cr8; } rows[] = {
        { 0, 0, 0, 0 }, { 1, 15, 1, 15 }, { 15, 0x1F, 15, 15 }, { 16, 5, 0, 5 }, { 0xFFFFFFFF, 0xF0, 0, 0 },
    };
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(&vp, POISON, sizeof vp);
        exit_decode_vp_context(&v, rows[i].len, rows[i].cr8, &vp);
        CHECK_EQ(vp.InstructionLength, rows[i].want_len);
        CHECK_EQ(vp.Cr8, rows[i].want_cr8);
        CHECK_EQ(vp.ExecutionState.Cpl, 3);
        check_vp_reserved_zero(&vp);
    }
    CHECK_ALL_READS_PROVIDED(&f);
}

/* ---- I/O (SDM Table 28-5 qualification, Table 28-8 instruction information) */

/* Distinct values per SDM segment number 0..5 (ES, CS, SS, DS, FS, GS). */
static uint64_t seg_base(unsigned n) { return 0x100000ull * (n + 1); }
static uint32_t seg_limit(unsigned n) { return 0xFFF0u + n; }
static uint16_t seg_selector(unsigned n) { return (uint16_t)(0x08 * (n + 1)); }
static uint32_t seg_ar(unsigned n) { return n == 1 ? 0xC09Bu : 0xC093u | (n << 5 & 0x60); }

static const uint32_t seg_sel_field[6] = { VMCS_GUEST_ES_SEL, VMCS_GUEST_CS_SEL, VMCS_GUEST_SS_SEL,
                                           VMCS_GUEST_DS_SEL, VMCS_GUEST_FS_SEL, VMCS_GUEST_GS_SEL };
static const uint32_t seg_base_field[6] = { VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE, VMCS_GUEST_SS_BASE,
                                            VMCS_GUEST_DS_BASE, VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE };
static const uint32_t seg_limit_field[6] = { VMCS_GUEST_ES_LIMIT, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_SS_LIMIT,
                                             VMCS_GUEST_DS_LIMIT, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_GS_LIMIT };
static const uint32_t seg_ar_field[6] = { VMCS_GUEST_ES_AR, VMCS_GUEST_CS_AR, VMCS_GUEST_SS_AR,
                                          VMCS_GUEST_DS_AR, VMCS_GUEST_FS_AR, VMCS_GUEST_GS_AR };

enum { SDM_ES, SDM_CS, SDM_SS, SDM_DS, SDM_FS, SDM_GS };

static void fake_segment(struct fake_vmcs *f, unsigned n)
{
    fake_set(f, seg_sel_field[n], seg_selector(n));
    fake_set(f, seg_base_field[n], seg_base(n));
    fake_set(f, seg_limit_field[n], seg_limit(n));
    fake_set(f, seg_ar_field[n], seg_ar(n));
}

static void check_segment_is(const WHV_X64_SEGMENT_REGISTER *s, unsigned n)
{
    CHECK_EQ(s->Base, seg_base(n));
    CHECK_EQ(s->Limit, seg_limit(n));
    CHECK_EQ(s->Selector, seg_selector(n));
    CHECK_EQ(s->Attributes, seg_ar(n));
}

static void check_io_reserved_zero(const WHV_X64_IO_PORT_ACCESS_CONTEXT *io)
{
    CHECK_EQ(io->InstructionByteCount, 0);
    CHECK(all_zero(io->Reserved, sizeof io->Reserved));
    CHECK(all_zero(io->InstructionBytes, sizeof io->InstructionBytes));
    CHECK_EQ(io->AccessInfo.Reserved, 0);
    CHECK(all_zero(io->Reserved2, sizeof io->Reserved2));
}

#define IO_QUAL(size, in, string, rep, imm, port) \
    ((uint64_t)((size) - 1) | (in) << 3 | (string) << 4 | (rep) << 5 | (imm) << 6 | (uint64_t)(port) << 16)

TEST(exit_decode_io_every_qualification)
{
    static const unsigned sizes[] = { 1, 2, 4 };
    static const unsigned ports[] = { 0, 0x80, 0xCF8, 0xFFFF };
    struct vcpu_regs regs = sample_regs();
    unsigned combos = 0;
    for (unsigned in = 0; in < 2; in++)
    for (unsigned s = 0; s < 3; s++)
    for (unsigned string = 0; string < 2; string++)
    for (unsigned rep = 0; rep < 2; rep++)
    for (unsigned imm = 0; imm < 2; imm++)
    for (unsigned p = 0; p < 4; p++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, IO_QUAL(sizes[s], in, string, rep, imm, ports[p]));
        if (string) {   /* the only case that may read more */
            fake_set(&f, VMCS_EXIT_INSTR_INFO, 1u << 7 | SDM_DS << 15);
            fake_segment(&f, SDM_ES);
            fake_segment(&f, SDM_DS);
        }
        struct vmcs_view v = view_of(&f);
        WHV_X64_IO_PORT_ACCESS_CONTEXT io;
        memset(&io, POISON, sizeof io);
        uint32_t address_size = exit_decode_io(&v, &regs, true, &io);
        CHECK_EQ(io.AccessInfo.IsWrite, !in);
        CHECK_EQ(io.AccessInfo.AccessSize, sizes[s]);
        CHECK_EQ(io.AccessInfo.StringOp, string);
        CHECK_EQ(io.AccessInfo.RepPrefix, rep);
        CHECK_EQ(io.PortNumber, ports[p]);
        CHECK_EQ(io.Rax, regs.gpr[R_RAX]);
        CHECK_EQ(io.Rcx, regs.gpr[R_RCX]);
        CHECK_EQ(io.Rsi, regs.gpr[R_RSI]);
        CHECK_EQ(io.Rdi, regs.gpr[R_RDI]);
        if (string) {
            CHECK_EQ(address_size, 4);
            check_segment_is(&io.Ds, SDM_DS);
            check_segment_is(&io.Es, SDM_ES);
        } else {
            CHECK_EQ(address_size, 0);
            CHECK(all_zero(&io.Ds, sizeof io.Ds));
            CHECK(all_zero(&io.Es, sizeof io.Es));
        }
        check_io_reserved_zero(&io);
        CHECK_ALL_READS_PROVIDED(&f);
        combos++;
    }
    CHECK_EQ(combos, 2 * 3 * 2 * 2 * 2 * 4);
}

static void fake_all_segments(struct fake_vmcs *f)
{
    for (unsigned n = 0; n < 6; n++)
        fake_segment(f, n);
}

TEST(exit_decode_io_outs_segment_override_and_address_size)
{
    static const unsigned address_bytes[] = { 2, 4, 8 };
    struct vcpu_regs regs = sample_regs();
    for (unsigned seg = 0; seg < 6; seg++)
    for (unsigned as = 0; as < 3; as++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, IO_QUAL(1, 0, 1, 1, 0, 0x3F8));
        /* Undefined bits 6:0, 14:10 and 31:18 set to make sure they are ignored. */
        fake_set(&f, VMCS_EXIT_INSTR_INFO, 0xFFFC7C7Fu | as << 7 | seg << 15);
        fake_all_segments(&f);
        struct vmcs_view v = view_of(&f);
        WHV_X64_IO_PORT_ACCESS_CONTEXT io;
        memset(&io, POISON, sizeof io);
        CHECK_EQ(exit_decode_io(&v, &regs, true, &io), address_bytes[as]);
        CHECK_EQ(io.AccessInfo.IsWrite, 1);
        CHECK_EQ(io.AccessInfo.StringOp, 1);
        CHECK_EQ(io.AccessInfo.RepPrefix, 1);
        check_segment_is(&io.Ds, seg);   /* the source segment, overridden or DS */
        check_segment_is(&io.Es, SDM_ES);
        check_io_reserved_zero(&io);
        CHECK_ALL_READS_PROVIDED(&f);
    }
}

TEST(exit_decode_io_string_edge_cases)
{
    struct vcpu_regs regs = sample_regs();
    static const struct {
        const char *name;
        uint64_t qualification;
        bool ins_outs_info, has_instr_info;
        uint32_t instr_info;
        uint32_t want_address_size;
        unsigned want_ds;
    } rows[] = {
        /* INS: the segment bits are undefined; Ds is DS, Es is the destination. */
        { "ins", IO_QUAL(2, 1, 1, 0, 0, 0x60), true, true, 2u << 7 | SDM_GS << 15, 8, SDM_DS },
        { "rep insd 16-bit", IO_QUAL(4, 1, 1, 1, 0, 0x1F0), true, true, 0u << 7 | SDM_FS << 15, 2, SDM_DS },
        /* Unused segment encodings 6, 7 and address size 3. */
        { "outs segment 6", IO_QUAL(1, 0, 1, 0, 0, 0x80), true, true, 1u << 7 | 6u << 15, 4, SDM_DS },
        { "outs segment 7", IO_QUAL(1, 0, 1, 0, 0, 0x80), true, true, 1u << 7 | 7u << 15, 4, SDM_DS },
        { "outs address size 3", IO_QUAL(1, 0, 1, 0, 0, 0x80), true, true, 3u << 7 | SDM_SS << 15, 0, SDM_SS },
        /* Without IA32_VMX_BASIC[54] the field is undefined: never read, DS assumed, size unknown. */
        { "outs without ins/outs info", IO_QUAL(1, 0, 1, 0, 0, 0x80), false, false, 0, 0, SDM_DS },
        { "ins without ins/outs info", IO_QUAL(1, 1, 1, 1, 0, 0x80), false, false, 0, 0, SDM_DS },
    };
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, rows[i].qualification);
        if (rows[i].has_instr_info)
            fake_set(&f, VMCS_EXIT_INSTR_INFO, rows[i].instr_info);
        fake_all_segments(&f);
        struct vmcs_view v = view_of(&f);
        WHV_X64_IO_PORT_ACCESS_CONTEXT io;
        memset(&io, POISON, sizeof io);
        CHECK_EQ_CASE(rows[i].name, exit_decode_io(&v, &regs, rows[i].ins_outs_info, &io), rows[i].want_address_size);
        check_segment_is(&io.Ds, rows[i].want_ds);
        check_segment_is(&io.Es, SDM_ES);
        check_io_reserved_zero(&io);
        CHECK_EQ_CASE(rows[i].name, f.first_missing, NO_FIELD);
    }
}

TEST(exit_decode_io_unusable_segment)
{
    struct vcpu_regs regs = sample_regs();
    struct fake_vmcs f;
    fake_init(&f);
    fake_set(&f, VMCS_EXIT_QUALIFICATION, IO_QUAL(1, 1, 1, 0, 0, 0x60));
    fake_set(&f, VMCS_EXIT_INSTR_INFO, 2u << 7);
    fake_all_segments(&f);
    fake_set(&f, VMCS_GUEST_ES_AR, VMX_AR_UNUSABLE | 0x93);
    fake_set(&f, VMCS_GUEST_ES_SEL, 0);
    struct vmcs_view v = view_of(&f);
    WHV_X64_IO_PORT_ACCESS_CONTEXT io;
    memset(&io, POISON, sizeof io);
    exit_decode_io(&v, &regs, true, &io);
    CHECK_EQ(io.Es.Attributes, 0);            /* Present = 0 (facts, "Segments") */
    CHECK_EQ(io.Es.Limit, seg_limit(SDM_ES)); /* the limit is reported as is */
    CHECK_EQ(io.Es.Selector, 0);
    CHECK_ALL_READS_PROVIDED(&f);
}

/* ---- EPT violations (SDM Table 28-7) */

#define EPT_R (1u << 0)
#define EPT_W (1u << 1)
#define EPT_X (1u << 2)
#define EPT_PERMS(r, w, x) ((r) << 3 | (w) << 4 | (x) << 5)
#define EPT_GVA_VALID (1u << 7)
#define EPT_FINAL_TRANSLATION (1u << 8)
#define EPT_NMI_UNBLOCKING (1u << 12)

TEST(exit_decode_ept_violation_access_types)
{
    static const struct {
        uint64_t qualification;
        WHV_MEMORY_ACCESS_TYPE type;
    } rows[] = {
        { EPT_R, WHvMemoryAccessRead },
        { EPT_W, WHvMemoryAccessWrite },
        { EPT_X, WHvMemoryAccessExecute },
        { EPT_R | EPT_W, WHvMemoryAccessWrite },          /* read-modify-write */
        { EPT_R | EPT_X, WHvMemoryAccessExecute },
        { EPT_R | EPT_W | EPT_X, WHvMemoryAccessExecute },
        { EPT_R | EPT_PERMS(0, 0, 1), WHvMemoryAccessRead },
        { EPT_W | EPT_PERMS(1, 0, 1), WHvMemoryAccessWrite },
        { EPT_X | EPT_PERMS(1, 1, 0), WHvMemoryAccessExecute },
        { EPT_W | EPT_NMI_UNBLOCKING, WHvMemoryAccessWrite },
        { EPT_R | 0xFFFFFFFFFFFFE000ull, WHvMemoryAccessRead },   /* undefined high bits ignored */
    };
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++)
    for (unsigned unmapped = 0; unmapped < 2; unmapped++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, rows[i].qualification);
        fake_set(&f, VMCS_GUEST_PHYSICAL_ADDR, 0xFEE00000ull + i);
        struct vmcs_view v = view_of(&f);
        WHV_MEMORY_ACCESS_CONTEXT m;
        memset(&m, POISON, sizeof m);
        exit_decode_ept_violation(&v, unmapped, &m);
        CHECK_EQ(m.AccessInfo.AccessType, rows[i].type);
        CHECK_EQ(m.AccessInfo.GpaUnmapped, unmapped);
        CHECK_EQ(m.AccessInfo.GvaValid, 0);
        CHECK_EQ(m.AccessInfo.Reserved, 0);
        CHECK_EQ(m.Gpa, 0xFEE00000ull + i);
        CHECK_EQ(m.Gva, 0);   /* and GUEST_LINEAR_ADDR not read: the fake does not have it */
        CHECK_EQ(m.InstructionByteCount, 0);
        CHECK(all_zero(m.Reserved, sizeof m.Reserved));
        CHECK(all_zero(m.InstructionBytes, sizeof m.InstructionBytes));
        CHECK_ALL_READS_PROVIDED(&f);
    }
}

TEST(exit_decode_ept_violation_gva)
{
    static const uint64_t quals[] = {
        EPT_R | EPT_GVA_VALID | EPT_FINAL_TRANSLATION,   /* access to the final GPA */
        EPT_R | EPT_W | EPT_GVA_VALID,                   /* paging-structure walk (A/D update) */
        EPT_X | EPT_GVA_VALID | EPT_FINAL_TRANSLATION | EPT_PERMS(1, 1, 0),
    };
    static const WHV_MEMORY_ACCESS_TYPE types[] = {
        WHvMemoryAccessRead, WHvMemoryAccessWrite, WHvMemoryAccessExecute,
    };
    for (unsigned i = 0; i < 3; i++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, quals[i]);
        fake_set(&f, VMCS_GUEST_PHYSICAL_ADDR, 0x12345678ull);
        fake_set(&f, VMCS_GUEST_LINEAR_ADDR, 0xFFFFF80012345678ull);
        struct vmcs_view v = view_of(&f);
        WHV_MEMORY_ACCESS_CONTEXT m;
        memset(&m, POISON, sizeof m);
        exit_decode_ept_violation(&v, false, &m);
        CHECK_EQ(m.AccessInfo.AccessType, types[i]);
        CHECK_EQ(m.AccessInfo.GvaValid, 1);
        CHECK_EQ(m.AccessInfo.GpaUnmapped, 0);
        CHECK_EQ(m.AccessInfo.Reserved, 0);
        CHECK_EQ(m.Gpa, 0x12345678ull);
        CHECK_EQ(m.Gva, 0xFFFFF80012345678ull);
        CHECK(all_zero(m.Reserved, sizeof m.Reserved));
        CHECK_ALL_READS_PROVIDED(&f);
    }
}

/* ---- exceptions (SDM 28.2.1, 28.2.2) */

struct exception_case {
    const char *name;
    uint32_t info;
    bool has_error;
    uint32_t error;
    bool has_qualification;
    uint64_t qualification;
    /* expected */
    uint8_t vector;
    unsigned error_valid, software;
    uint64_t parameter;
};

static const struct exception_case exception_cases[] = {
    { "#PF", INFO(INTR_TYPE_HW_EXCEPTION, 14) | INTR_INFO_ERROR_CODE_VALID, true, 0x6, true,
      0xFFFF800012345678ull, 14, 1, 0, 0xFFFF800012345678ull },
    { "#PF with NMI unblocking", INFO(INTR_TYPE_HW_EXCEPTION, 14) | INTR_INFO_ERROR_CODE_VALID |
      INTR_INFO_NMI_UNBLOCKING, true, 0x15, true, 0x1000, 14, 1, 0, 0x1000 },
    { "#GP", INFO(INTR_TYPE_HW_EXCEPTION, 13) | INTR_INFO_ERROR_CODE_VALID, true, 0x1234, false, 0,
      13, 1, 0, 0 },
    { "#DF error 0", INFO(INTR_TYPE_HW_EXCEPTION, 8) | INTR_INFO_ERROR_CODE_VALID, true, 0, false, 0,
      8, 1, 0, 0 },
    { "#BP (INT3)", INFO(INTR_TYPE_SW_EXCEPTION, 3), false, 0, false, 0, 3, 0, 1, 0 },
    { "#OF (INTO)", INFO(INTR_TYPE_SW_EXCEPTION, 4), false, 0, false, 0, 4, 0, 1, 0 },
    { "#DB (INT1)", INFO(INTR_TYPE_PRIV_SW_EXCEPTION, 1), false, 0, true, 0, 1, 0, 1, 0 },
    { "#DB single step", INFO(INTR_TYPE_HW_EXCEPTION, 1), false, 0, true, 1u << 14, 1, 0, 0, 1u << 14 },
    { "#DB breakpoints B0, B3, BD", INFO(INTR_TYPE_HW_EXCEPTION, 1), false, 0, true,
      0x9u | 1u << 13, 1, 0, 0, 0x9u | 1u << 13 },
    { "#DB RTM, undefined bits dropped", INFO(INTR_TYPE_HW_EXCEPTION, 1), false, 0, true,
      0xFFFFFFFFFFFF8FF2ull, 1, 0, 0, 0x2u | 1u << 16 },
    { "#UD", INFO(INTR_TYPE_HW_EXCEPTION, 6), false, 0, false, 0, 6, 0, 0, 0 },
    { "#AC", INFO(INTR_TYPE_HW_EXCEPTION, 17) | INTR_INFO_ERROR_CODE_VALID, true, 0, false, 0, 17, 1, 0, 0 },
    { "NMI", INFO(INTR_TYPE_NMI, 2), false, 0, false, 0, 2, 0, 0, 0 },
};

TEST(exit_decode_exception_info)
{
    for (unsigned i = 0; i < sizeof exception_cases / sizeof exception_cases[0]; i++) {
        const struct exception_case *c = &exception_cases[i];
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_INTR_INFO, c->info);
        if (c->has_error)
            fake_set(&f, VMCS_EXIT_INTR_ERROR, c->error);
        if (c->has_qualification)
            fake_set(&f, VMCS_EXIT_QUALIFICATION, c->qualification);
        struct vmcs_view v = view_of(&f);
        WHV_VP_EXCEPTION_CONTEXT e;
        memset(&e, POISON, sizeof e);
        exit_decode_exception(&v, &e);
        CHECK_EQ_CASE(c->name, e.ExceptionType, c->vector);
        CHECK_EQ_CASE(c->name, e.ExceptionInfo.ErrorCodeValid, c->error_valid);
        CHECK_EQ_CASE(c->name, e.ExceptionInfo.SoftwareException, c->software);
        CHECK_EQ_CASE(c->name, e.ExceptionInfo.Reserved, 0);
        CHECK_EQ_CASE(c->name, e.ErrorCode, c->error);
        CHECK_EQ_CASE(c->name, e.ExceptionParameter, c->parameter);
        CHECK_EQ_CASE(c->name, e.InstructionByteCount, 0);
        CHECK(all_zero(e.Reserved, sizeof e.Reserved));
        CHECK(all_zero(e.InstructionBytes, sizeof e.InstructionBytes));
        CHECK(all_zero(e.Reserved2, sizeof e.Reserved2));
        CHECK_EQ_CASE(c->name, f.first_missing, NO_FIELD);
    }
}

/* ---- task switch (SDM Table 28-2) */

TEST(exit_decode_task_switch_selector)
{
    static const struct { uint64_t qualification; uint64_t selector; } rows[] = {
        { 0x00000028, 0x28 },            /* CALL */
        { 0x40000030, 0x30 },            /* IRET */
        { 0x8000FFFB, 0xFFFB },          /* JMP, RPL 3, TI */
        { 0xC0000040, 0x40 },            /* IDT task gate */
        { 0xFFFFFFFF3FFF0048ull, 0x48 }, /* undefined bits ignored */
    };
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct fake_vmcs f;
        fake_init(&f);
        fake_set(&f, VMCS_EXIT_QUALIFICATION, rows[i].qualification);
        struct vmcs_view v = view_of(&f);
        WHV_X64_UNSUPPORTED_FEATURE_CONTEXT u;
        memset(&u, POISON, sizeof u);
        exit_decode_task_switch(&v, &u);
        CHECK_EQ(u.FeatureCode, WHvUnsupportedFeatureTaskSwitchTss);
        CHECK_EQ(u.FeatureCode, 2);
        CHECK_EQ(u.Reserved, 0);
        CHECK_EQ(u.FeatureParameter, rows[i].selector);
        CHECK_ALL_READS_PROVIDED(&f);
    }
}

/* ---- register-only exits */

TEST(exit_decode_msr_read_and_write)
{
    struct vcpu_regs regs = sample_regs();
    regs.gpr[R_RCX] = 0xDEADBEEFC0000080ull;   /* RDMSR/WRMSR use ECX only */
    for (unsigned write = 0; write < 2; write++) {
        WHV_X64_MSR_ACCESS_CONTEXT m;
        memset(&m, POISON, sizeof m);
        exit_decode_msr(&regs, write, &m);
        CHECK_EQ(m.AccessInfo.IsWrite, write);
        CHECK_EQ(m.AccessInfo.Reserved, 0);
        CHECK_EQ(m.MsrNumber, 0xC0000080u);
        CHECK_EQ(m.Rax, regs.gpr[R_RAX]);
        CHECK_EQ(m.Rdx, regs.gpr[R_RDX]);
    }
}

TEST(exit_decode_cpuid_inputs_and_default)
{
    struct vcpu_regs regs = sample_regs();
    struct cpuid_regs def = { 0x000306A9, 0x01100800, 0xFFFA3203, 0x1F8BFBFF };
    WHV_X64_CPUID_ACCESS_CONTEXT c;
    memset(&c, POISON, sizeof c);
    exit_decode_cpuid(&regs, &def, &c);
    CHECK_EQ(c.Rax, regs.gpr[R_RAX]);
    CHECK_EQ(c.Rcx, regs.gpr[R_RCX]);
    CHECK_EQ(c.Rdx, regs.gpr[R_RDX]);
    CHECK_EQ(c.Rbx, regs.gpr[R_RBX]);
    CHECK_EQ(c.DefaultResultRax, 0x000306A9);
    CHECK_EQ(c.DefaultResultRbx, 0x01100800);
    CHECK_EQ(c.DefaultResultRcx, 0xFFFA3203);   /* zero-extended */
    CHECK_EQ(c.DefaultResultRdx, 0x1F8BFBFF);
}

TEST(exit_decode_rdtsc_fields)
{
    for (unsigned rdtscp = 0; rdtscp < 2; rdtscp++) {
        WHV_X64_RDTSC_CONTEXT t;
        memset(&t, POISON, sizeof t);
        exit_decode_rdtsc(rdtscp, 0x123456789ABCull, 0xFFFFFFFF00000000ull, 7, &t);
        CHECK_EQ(t.Tsc, 0x123456789ABCull);
        CHECK_EQ(t.VirtualOffset, 0xFFFFFFFF00000000ull);
        CHECK_EQ(t.TscAux, 7);
        CHECK_EQ(t.ReferenceTime, 0);
        CHECK_EQ(t.RdtscInfo.IsRdtscp, rdtscp);
        CHECK_EQ(t.RdtscInfo.Reserved, 0);
    }
}

TEST(exit_decode_hypercall_registers_and_xmm)
{
    struct vcpu_regs regs = sample_regs();
    uint8_t xmm[WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS][16];
    for (unsigned r = 0; r < WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS; r++)
        for (unsigned b = 0; b < 16; b++)
            xmm[r][b] = (uint8_t)(r << 4 | b);
    WHV_HYPERCALL_CONTEXT h;
    memset(&h, POISON, sizeof h);
    exit_decode_hypercall(&regs, (const uint8_t (*)[16])xmm, &h);
    CHECK_EQ(h.Rax, regs.gpr[R_RAX]);
    CHECK_EQ(h.Rbx, regs.gpr[R_RBX]);
    CHECK_EQ(h.Rcx, regs.gpr[R_RCX]);
    CHECK_EQ(h.Rdx, regs.gpr[R_RDX]);
    CHECK_EQ(h.R8, regs.gpr[R_R8]);
    CHECK_EQ(h.Rsi, regs.gpr[R_RSI]);
    CHECK_EQ(h.Rdi, regs.gpr[R_RDI]);
    CHECK_EQ(h.Reserved0, 0);
    CHECK_EQ(h.Reserved1[0], 0);
    CHECK_EQ(h.Reserved1[1], 0);
    /* XMMn is little-endian: byte 0 is the low byte of Low64. */
    CHECK_EQ(h.XmmRegisters[0].Low64, 0x0706050403020100ull);
    CHECK_EQ(h.XmmRegisters[0].High64, 0x0F0E0D0C0B0A0908ull);
    CHECK_EQ(h.XmmRegisters[5].Low64, 0x5756555453525150ull);
    CHECK_EQ(h.XmmRegisters[5].High64, 0x5F5E5D5C5B5A5958ull);
}

TEST(exit_decode_interrupt_window_and_canceled)
{
    WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT w;
    memset(&w, POISON, sizeof w);
    exit_decode_interrupt_window(false, &w);
    CHECK_EQ(w.DeliverableType, WHvX64PendingInterrupt);
    memset(&w, POISON, sizeof w);
    exit_decode_interrupt_window(true, &w);
    CHECK_EQ(w.DeliverableType, WHvX64PendingNmi);
    CHECK_EQ(w.DeliverableType, 2);

    WHV_RUN_VP_CANCELED_CONTEXT c;
    memset(&c, POISON, sizeof c);
    exit_decode_canceled(&c);
    CHECK_EQ(c.CancelReason, 0);
}
