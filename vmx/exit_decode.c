/* Pure VM-exit decoders: VMX exit information -> WHV exit structures. See vmx/exit_decode.h. */
#include "vmx/exit_decode.h"
#include "arch/x86/string.h"
#include "vmx/inject.h"
#include "vmx/segment.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_errors.h"

/* A view reads one VMCS field. In the hypervisor every view is the current VMCS, so there the reads are
 * VMREADs in line (an indirect call per field cost about a third of a child exit's decoding in make
 * bench); the host tests drive the same code through their table-backed views. */
#ifdef HV_CORE
#include "vmx/vmcs.h"
#define VIEW_READ(v, field) ((void)(v), vmcs_read_raw(field))
#else
#define VIEW_READ(v, field) ((v)->read((v)->ctx, (field)))
#endif

/* ---- exit reason -> WHV exit (docs/whv-abi-facts.md, "VMX basic exit reason -> WHV exit") */

#define EXIT_REASON_BASIC_MASK 0xFFFFu   /* SDM 25.9.1: bits 15:0 basic reason */

/* Rows of the facts table. Zero-initialised entries (None) are "handled by the hypervisor". */
static const WHV_RUN_VP_EXIT_REASON whv_exit_for_basic_reason[VMX_EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_NMI] = WHvRunVpExitReasonException,
    [EXIT_TRIPLE_FAULT] = WHvRunVpExitReasonUnrecoverableException,
    [EXIT_INTERRUPT_WINDOW] = WHvRunVpExitReasonX64InterruptWindow,
    [EXIT_NMI_WINDOW] = WHvRunVpExitReasonX64InterruptWindow,
    [EXIT_TASK_SWITCH] = WHvRunVpExitReasonUnsupportedFeature,
    [EXIT_CPUID] = WHvRunVpExitReasonX64Cpuid,
    [EXIT_HLT] = WHvRunVpExitReasonX64Halt,
    [EXIT_RDTSC] = WHvRunVpExitReasonX64Rdtsc,
    [EXIT_VMCALL] = WHvRunVpExitReasonHypercall,
    [EXIT_IO] = WHvRunVpExitReasonX64IoPortAccess,
    [EXIT_RDMSR] = WHvRunVpExitReasonX64MsrAccess,
    [EXIT_WRMSR] = WHvRunVpExitReasonX64MsrAccess,
    [EXIT_ENTRY_FAIL_GUEST_STATE] = WHvRunVpExitReasonInvalidVpRegisterValue,
    [EXIT_ENTRY_FAIL_MSR_LOAD] = WHvRunVpExitReasonInvalidVpRegisterValue,
    [EXIT_EPT_VIOLATION] = WHvRunVpExitReasonMemoryAccess,
    [EXIT_RDTSCP] = WHvRunVpExitReasonX64Rdtsc,
};

WHV_RUN_VP_EXIT_REASON exit_decode_reason(uint32_t exit_reason)
{
    if (exit_reason & VMX_EXIT_REASON_ENTRY_FAILURE)
        return WHvRunVpExitReasonInvalidVpRegisterValue;
    uint32_t basic = exit_reason & EXIT_REASON_BASIC_MASK;
    if (basic >= VMX_EXIT_REASON_COUNT || whv_exit_for_basic_reason[basic] == WHvRunVpExitReasonNone)
        return EXIT_DECODE_HYPERVISOR;
    return whv_exit_for_basic_reason[basic];
}

/* ---- interruption information (SDM 28.2.2, 28.2.3) */

#define INTR_INFO_VECTOR_MASK 0xFFu
#define INTR_INFO_TYPE_MASK (7u << 8)

static uint32_t intr_type(uint32_t info)
{
    return info & INTR_INFO_TYPE_MASK;
}

static bool is_software_exception(uint32_t info)
{
    return intr_type(info) == INTR_TYPE_SW_EXCEPTION || intr_type(info) == INTR_TYPE_PRIV_SW_EXCEPTION;
}

/* Software interrupt (INT n), privileged software exception (INT1) or software exception (INT3, INTO). */
static bool is_software_event(uint32_t info)
{
    return intr_type(info) == INTR_TYPE_SW_INTERRUPT || is_software_exception(info);
}

/* ---- instruction length (SDM 28.2.5) */

/* Task-switch exit qualification (SDM Table 28-2): bits 15:0 TSS selector, bits 31:30 source. */
#define TASK_SWITCH_SELECTOR_MASK 0xFFFFu
#define TASK_SWITCH_SOURCE_SHIFT 30
#define TASK_SWITCH_SOURCE_IDT_GATE 3u   /* 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT */

#define MAX_INSTRUCTION_LENGTH 15u

static bool task_switch_has_length(const struct vmcs_view *v)
{
    uint64_t qualification = VIEW_READ(v, VMCS_EXIT_QUALIFICATION);
    if (((qualification >> TASK_SWITCH_SOURCE_SHIFT) & 3u) != TASK_SWITCH_SOURCE_IDT_GATE)
        return true;
    uint32_t vectoring = (uint32_t)VIEW_READ(v, VMCS_IDT_VECTORING_INFO);
    return (vectoring & INTR_INFO_VALID) && is_software_event(vectoring);
}

static bool instruction_length_defined(const struct vmcs_view *v, uint32_t basic_reason)
{
    switch (basic_reason) {
    case EXIT_CPUID: case EXIT_HLT: case EXIT_RDTSC: case EXIT_VMCALL: case EXIT_IO:
    case EXIT_RDMSR: case EXIT_WRMSR: case EXIT_RDTSCP:
        return true;
    case EXIT_EXCEPTION_NMI:
        return is_software_exception((uint32_t)VIEW_READ(v, VMCS_EXIT_INTR_INFO));
    case EXIT_TASK_SWITCH:
        return task_switch_has_length(v);
    default:
        return false;
    }
}

uint32_t exit_decode_instruction_length(const struct vmcs_view *v, uint32_t basic_reason)
{
    if (!instruction_length_defined(v, basic_reason))
        return 0;
    return (uint32_t)VIEW_READ(v, VMCS_EXIT_INSTR_LEN);
}

/* ---- segments */

/* SDM numbering of the segment registers, as in the instruction-information field (Table 28-8). */
enum sdm_segment { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

struct segment_fields {
    uint32_t selector, base, limit, access_rights;
};

static const struct segment_fields guest_segment_fields[SEG_COUNT] = {
    [SEG_ES] = { VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
    [SEG_CS] = { VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
    [SEG_SS] = { VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
    [SEG_DS] = { VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
    [SEG_FS] = { VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
    [SEG_GS] = { VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

/* The VMCS limit is already the expanded byte limit; an unusable segment gets Attributes 0
 * (docs/whv-abi-facts.md, "Segments"). */
static WHV_X64_SEGMENT_REGISTER read_guest_segment(const struct vmcs_view *v, enum sdm_segment seg)
{
    const struct segment_fields *f = &guest_segment_fields[seg];
    WHV_X64_SEGMENT_REGISTER s;
    memset(&s, 0, sizeof s);
    s.Base = VIEW_READ(v, f->base);
    s.Limit = (UINT32)VIEW_READ(v, f->limit);
    s.Selector = (UINT16)VIEW_READ(v, f->selector);
    s.Attributes = segment_whv_attributes((uint32_t)VIEW_READ(v, f->access_rights));
    return s;
}

/* ---- VpContext */

#define AR_DPL_SHIFT 5           /* VMX access rights (SDM 25.4.1, Table 25-2): DPL in bits 6:5 */
#define AR_DPL_MASK 3u
#define DR7_BREAKPOINT_ENABLES 0xFFu   /* L0, G0 .. L3, G3 */

static uint64_t guest_visible_cr0(const struct vmcs_view *v)
{
    uint64_t mask = VIEW_READ(v, VMCS_CR0_GUEST_HOST_MASK);
    uint64_t shadow = VIEW_READ(v, VMCS_CR0_READ_SHADOW);
    return (VIEW_READ(v, VMCS_GUEST_CR0) & ~mask) | (shadow & mask);
}

static WHV_X64_VP_EXECUTION_STATE execution_state(const struct vmcs_view *v, struct vp_context_raw *raw)
{
    WHV_X64_VP_EXECUTION_STATE st;
    uint64_t cr0 = raw->cr0 = guest_visible_cr0(v);
    uint32_t interruptibility = (uint32_t)VIEW_READ(v, VMCS_GUEST_INTERRUPTIBILITY);
    st.AsUINT16 = 0;
    raw->ss_ar = (uint32_t)VIEW_READ(v, VMCS_GUEST_SS_AR);
    st.Cpl = (raw->ss_ar >> AR_DPL_SHIFT) & AR_DPL_MASK;
    st.Cr0Pe = (cr0 & CR0_PE) != 0;
    st.Cr0Am = (cr0 & CR0_AM) != 0;
    raw->efer = VIEW_READ(v, VMCS_GUEST_EFER);
    st.EferLma = (raw->efer & EFER_LMA) != 0;
    st.DebugActive = (VIEW_READ(v, VMCS_GUEST_DR7) & DR7_BREAKPOINT_ENABLES) != 0;
    st.InterruptionPending = (VIEW_READ(v, VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID) != 0;
    st.InterruptShadow = (interruptibility & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) != 0;
    return st;
}

void exit_decode_vp_context_raw(const struct vmcs_view *v, uint32_t instruction_length, uint8_t cr8,
                                WHV_VP_EXIT_CONTEXT *out, struct vp_context_raw *raw)
{
    memset(out, 0, sizeof *out);
    out->ExecutionState = execution_state(v, raw);
    out->InstructionLength = instruction_length <= MAX_INSTRUCTION_LENGTH ? instruction_length : 0;
    out->Cr8 = cr8 & 0xFu;
    const struct segment_fields *cs = &guest_segment_fields[SEG_CS];
    out->Cs.Base = raw->cs_base = VIEW_READ(v, cs->base);
    out->Cs.Limit = (UINT32)VIEW_READ(v, cs->limit);
    out->Cs.Selector = (UINT16)VIEW_READ(v, cs->selector);
    raw->cs_ar = (uint32_t)VIEW_READ(v, cs->access_rights);
    out->Cs.Attributes = segment_whv_attributes(raw->cs_ar);
    out->Rip = raw->rip = VIEW_READ(v, VMCS_GUEST_RIP);
    out->Rflags = VIEW_READ(v, VMCS_GUEST_RFLAGS);
}

void exit_decode_vp_context(const struct vmcs_view *v, uint32_t instruction_length, uint8_t cr8,
                            WHV_VP_EXIT_CONTEXT *out)
{
    struct vp_context_raw raw;
    exit_decode_vp_context_raw(v, instruction_length, cr8, out, &raw);
}

/* ---- I/O instructions (SDM Table 28-5 qualification, Table 28-8 instruction information) */

#define IO_SIZE_MASK 7u          /* bits 2:0: access size - 1 (0, 1 or 3) */
#define IO_DIRECTION_IN (1u << 3)
#define IO_STRING (1u << 4)
#define IO_REP (1u << 5)
#define IO_PORT_SHIFT 16         /* bits 31:16 */

#define INSTR_INFO_ADDRESS_SIZE_SHIFT 7   /* bits 9:7: 0 16-bit, 1 32-bit, 2 64-bit */
#define INSTR_INFO_SEGMENT_SHIFT 15       /* bits 17:15: SDM segment number (OUTS only) */

static uint32_t string_address_size_bytes(uint32_t instr_info)
{
    switch ((instr_info >> INSTR_INFO_ADDRESS_SIZE_SHIFT) & 7u) {
    case 0: return 2;
    case 1: return 4;
    case 2: return 8;
    default: return 0;
    }
}

/* OUTS reads DS:rSI unless a prefix overrides DS (bits 17:15); encodings 6 and 7 are unused and
 * fall back to DS. */
static enum sdm_segment outs_source_segment(uint32_t instr_info)
{
    uint32_t seg = (instr_info >> INSTR_INFO_SEGMENT_SHIFT) & 7u;
    return seg < SEG_COUNT ? (enum sdm_segment)seg : SEG_DS;
}

static WHV_X64_IO_PORT_ACCESS_INFO io_access_info(uint32_t qualification)
{
    WHV_X64_IO_PORT_ACCESS_INFO info;
    info.AsUINT32 = 0;
    info.IsWrite = !(qualification & IO_DIRECTION_IN);
    info.AccessSize = (qualification & IO_SIZE_MASK) + 1;
    info.StringOp = (qualification & IO_STRING) != 0;
    info.RepPrefix = (qualification & IO_REP) != 0;
    return info;
}

/* INS writes ES:rDI (its instruction-information segment bits are undefined: Ds reports DS); OUTS
 * reads from the segment the instruction information names. Returns the address size in bytes. */
static uint32_t decode_string_segments(const struct vmcs_view *v, bool is_outs, bool ins_outs_info,
                                       WHV_X64_IO_PORT_ACCESS_CONTEXT *out)
{
    uint32_t instr_info = ins_outs_info ? (uint32_t)VIEW_READ(v, VMCS_EXIT_INSTR_INFO) : 0;
    enum sdm_segment source = (is_outs && ins_outs_info) ? outs_source_segment(instr_info) : SEG_DS;
    out->Ds = read_guest_segment(v, source);
    out->Es = read_guest_segment(v, SEG_ES);
    return ins_outs_info ? string_address_size_bytes(instr_info) : 0;
}

uint32_t exit_decode_io(const struct vmcs_view *v, const struct vcpu_regs *regs, bool ins_outs_info,
                        WHV_X64_IO_PORT_ACCESS_CONTEXT *out)
{
    uint32_t qualification = (uint32_t)VIEW_READ(v, VMCS_EXIT_QUALIFICATION);
    memset(out, 0, sizeof *out);
    out->AccessInfo = io_access_info(qualification);
    out->PortNumber = (UINT16)(qualification >> IO_PORT_SHIFT);
    out->Rax = regs->gpr[R_RAX];
    out->Rcx = regs->gpr[R_RCX];
    out->Rsi = regs->gpr[R_RSI];
    out->Rdi = regs->gpr[R_RDI];
    if (!(qualification & IO_STRING))
        return 0;
    return decode_string_segments(v, !(qualification & IO_DIRECTION_IN), ins_outs_info, out);
}

/* ---- EPT violations (SDM Table 28-7) */

#define EPT_QUAL_WRITE (1u << 1)
#define EPT_QUAL_FETCH (1u << 2)
#define EPT_QUAL_GVA_VALID (1u << 7)

/* A fetch is reported as execute even if the access also read; a write outranks a read. */
static WHV_MEMORY_ACCESS_TYPE ept_access_type(uint64_t qualification)
{
    if (qualification & EPT_QUAL_FETCH)
        return WHvMemoryAccessExecute;
    if (qualification & EPT_QUAL_WRITE)
        return WHvMemoryAccessWrite;
    return WHvMemoryAccessRead;
}

void exit_decode_ept_violation(const struct vmcs_view *v, bool gpa_unmapped, WHV_MEMORY_ACCESS_CONTEXT *out)
{
    uint64_t qualification = VIEW_READ(v, VMCS_EXIT_QUALIFICATION);
    bool gva_valid = (qualification & EPT_QUAL_GVA_VALID) != 0;
    memset(out, 0, sizeof *out);
    out->AccessInfo.AccessType = ept_access_type(qualification);
    out->AccessInfo.GpaUnmapped = gpa_unmapped;
    out->AccessInfo.GvaValid = gva_valid;
    out->Gpa = VIEW_READ(v, VMCS_GUEST_PHYSICAL_ADDR);
    out->Gva = gva_valid ? VIEW_READ(v, VMCS_GUEST_LINEAR_ADDR) : 0;
}

/* ---- register-only exits */

void exit_decode_msr(const struct vcpu_regs *regs, bool is_write, WHV_X64_MSR_ACCESS_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->AccessInfo.IsWrite = is_write;
    out->MsrNumber = (UINT32)regs->gpr[R_RCX];
    out->Rax = regs->gpr[R_RAX];
    out->Rdx = regs->gpr[R_RDX];
}

void exit_decode_cpuid(const struct vcpu_regs *regs, const struct cpuid_regs *default_result,
                       WHV_X64_CPUID_ACCESS_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->Rax = regs->gpr[R_RAX];
    out->Rcx = regs->gpr[R_RCX];
    out->Rdx = regs->gpr[R_RDX];
    out->Rbx = regs->gpr[R_RBX];
    out->DefaultResultRax = default_result->eax;
    out->DefaultResultRcx = default_result->ecx;
    out->DefaultResultRdx = default_result->edx;
    out->DefaultResultRbx = default_result->ebx;
}

/* ---- exceptions (SDM 28.2.1 exit qualification, 28.2.2 interruption information) */

/* Debug-exception qualification bits, at their DR6 positions: B0-B3, BD, BS, RTM. */
#define DEBUG_QUAL_DR6_BITS (0xFull | 1ull << 13 | 1ull << 14 | 1ull << 16)

static uint64_t exception_parameter(const struct vmcs_view *v, uint8_t vector)
{
    switch (vector) {
    case VEC_PF:
        return VIEW_READ(v, VMCS_EXIT_QUALIFICATION);
    case VEC_DB:
        return VIEW_READ(v, VMCS_EXIT_QUALIFICATION) & DEBUG_QUAL_DR6_BITS;
    default:
        return 0;
    }
}

void exit_decode_exception(const struct vmcs_view *v, WHV_VP_EXCEPTION_CONTEXT *out)
{
    uint32_t info = (uint32_t)VIEW_READ(v, VMCS_EXIT_INTR_INFO);
    bool has_error = (info & INTR_INFO_ERROR_CODE_VALID) != 0;
    memset(out, 0, sizeof *out);
    out->ExceptionType = (UINT8)(info & INTR_INFO_VECTOR_MASK);
    out->ExceptionInfo.ErrorCodeValid = has_error;
    out->ExceptionInfo.SoftwareException = is_software_exception(info);
    out->ErrorCode = has_error ? (UINT32)VIEW_READ(v, VMCS_EXIT_INTR_ERROR) : 0;
    out->ExceptionParameter = exception_parameter(v, out->ExceptionType);
}

/* ---- the remaining exits */

void exit_decode_task_switch(const struct vmcs_view *v, WHV_X64_UNSUPPORTED_FEATURE_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->FeatureCode = WHvUnsupportedFeatureTaskSwitchTss;
    out->FeatureParameter = VIEW_READ(v, VMCS_EXIT_QUALIFICATION) & TASK_SWITCH_SELECTOR_MASK;
}

void exit_decode_rdtsc(bool is_rdtscp, uint64_t host_tsc, uint64_t tsc_offset, uint64_t tsc_aux,
                       WHV_X64_RDTSC_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->TscAux = tsc_aux;
    out->VirtualOffset = tsc_offset;
    out->Tsc = host_tsc;
    out->RdtscInfo.IsRdtscp = is_rdtscp;
}

void exit_decode_hypercall(const struct vcpu_regs *regs,
                           const uint8_t xmm[WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS][16],
                           WHV_HYPERCALL_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->Rax = regs->gpr[R_RAX];
    out->Rbx = regs->gpr[R_RBX];
    out->Rcx = regs->gpr[R_RCX];
    out->Rdx = regs->gpr[R_RDX];
    out->R8 = regs->gpr[R_R8];
    out->Rsi = regs->gpr[R_RSI];
    out->Rdi = regs->gpr[R_RDI];
    _Static_assert(sizeof out->XmmRegisters == WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS * 16, "XMM0-5");
    memcpy(out->XmmRegisters, xmm, sizeof out->XmmRegisters);
}

void exit_decode_interrupt_window(bool is_nmi, WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->DeliverableType = is_nmi ? WHvX64PendingNmi : WHvX64PendingInterrupt;
}

void exit_decode_canceled(WHV_RUN_VP_CANCELED_CONTEXT *out)
{
    memset(out, 0, sizeof *out);
    out->CancelReason = WHvRunVpCancelReasonUser;
}
