/* WHvGet/SetVirtualProcessorRegisters on a VP whose VMCS is current on this CPU. Registers live where
 * the hardware keeps them during a run: the VMCS (RIP, RSP, RFLAGS, segments, CRs, EFER, PAT, DR7, ...),
 * the saved GPRs, the FXSAVE image (x87/SSE), or the VP struct (CR2, CR8, MSRs not in the VMCS). A value
 * invalid on its own fails here; inconsistent combinations fail at the next Run (InvalidVpRegisterValue). */
#include "vmx/vp_registers.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"
#include "vmx/guest_cr.h"
#include "vmx/inject.h"
#include "vmx/segment.h"
#include "vmx/vmcs.h"
#include "vmx/vp_switch.h"

/* Defined flags: CF, 1, PF, AF, ZF, SF, TF, IF, DF, OF, IOPL, NT, RF, VM, AC, VIF, VIP, ID. */
#define RFLAGS_RESERVED (~0x3F7FD7ull)

static void get_segment(unsigned n, WHV_X64_SEGMENT_REGISTER *s)
{
    s->Base = vmcs_readnat(VMCS_GUEST_ES_BASE + 2 * n);
    s->Limit = vmcs_read32(VMCS_GUEST_ES_LIMIT + 2 * n);
    s->Selector = vmcs_read16(VMCS_GUEST_ES_SEL + 2 * n);
    s->Attributes = segment_whv_attributes(vmcs_read32(VMCS_GUEST_ES_AR + 2 * n));
}

static void set_segment(unsigned n, const WHV_X64_SEGMENT_REGISTER *s)
{
    vmcs_writenat(VMCS_GUEST_ES_BASE + 2 * n, s->Base);
    vmcs_write32(VMCS_GUEST_ES_LIMIT + 2 * n, s->Limit);
    vmcs_write16(VMCS_GUEST_ES_SEL + 2 * n, s->Selector);
    vmcs_write32(VMCS_GUEST_ES_AR + 2 * n, segment_vmx_ar_from_whv(s->Attributes, n == 1));
}

/* PendingInterruption <-> VM-entry interruption information (whv-abi-facts.md; SDM 25.8.3). */
static uint64_t pending_interruption_get(void)
{
    uint32_t info = vmcs_read32(VMCS_ENTRY_INTR_INFO);
    if (!(info & INTR_INFO_VALID))
        return 0;
    uint64_t type = (info >> 8) & 7, v = 1 | (type == 3 ? 3 : type == 2 ? 2 : 0) << 1;
    if (info & INTR_INFO_ERROR_CODE_VALID)
        v |= 1ull << 4 | (uint64_t)vmcs_read32(VMCS_ENTRY_EXCEPTION_ERROR) << 32;
    return v | (uint64_t)(vmcs_read32(VMCS_ENTRY_INSTR_LEN) & 0xF) << 5 | (uint64_t)(info & 0xFF) << 16;
}

static uint16_t pending_interruption_set(uint64_t v)
{
    if (!(v & 1)) {
        vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
        return HV_STATUS_SUCCESS;
    }
    unsigned type = (v >> 1) & 7, vector = (v >> 16) & 0xFFFF;
    if ((v & 0xFC00) || vector > 255 || (type != 0 && type != 2 && type != 3))
        return HV_STATUS_INVALID_REGISTER_VALUE;
    /* What no mode accepts (SDM 26.2.1.3): an exception vector above 31; an error code with an interrupt,
     * an NMI or an exception that has none. Whether 8, 10-14, 17, 21 take theirs depends on CR0.PE at
     * the Run (vp_run.c checks it there). */
    bool error_code = (v >> 4) & 1;
    bool may_have_error = type == 3 && exception_has_error_code(vector);
    if ((type == 3 && vector > 31) || (error_code && !may_have_error))
        return HV_STATUS_INVALID_REGISTER_VALUE;
    uint32_t vmx_type = type == 0 ? INTR_TYPE_EXTERNAL : type == 2 ? INTR_TYPE_NMI : INTR_TYPE_HW_EXCEPTION;
    uint32_t info = INTR_INFO_VALID | vmx_type | (type == 2 ? 2 : vector);
    if (v & (1ull << 4)) {
        info |= INTR_INFO_ERROR_CODE_VALID;
        vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR, (uint32_t)(v >> 32));
    }
    vmcs_write32(VMCS_ENTRY_INSTR_LEN, (v >> 5) & 0xF);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, info);
    return HV_STATUS_SUCCESS;
}

static uint16_t set_efer(uint64_t v)
{
    if (v & ~(EFER_NXE | EFER_LMA | EFER_LME | 1ull /* SCE */))
        return HV_STATUS_INVALID_REGISTER_VALUE;
    set_guest_efer(v);
    return HV_STATUS_SUCCESS;
}

static uint32_t mxcsr_of(const WHV_REGISTER_VALUE *in)
{
    uint32_t m;
    memcpy(&m, (const uint8_t *)in + 8, 4);   /* XmmStatusControl */
    return m;
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Values kept in the VP and loaded into the CPU at the next Run (vmx/vp_switch.c): one the CPU would
 * refuse must be refused here, where the VMM can be told. */
static bool register_value_loadable(uint32_t name, uint64_t x)
{
    switch (name) {
    case WHvX64RegisterKernelGsBase: case WHvX64RegisterLstar: case WHvX64RegisterCstar: return canonical(x);
    case WHvX64RegisterSfmask: case WHvX64RegisterTscAux: case WHvX64RegisterDr6: return (x >> 32) == 0;
    case WHvX64RegisterXCr0: return vp_xcr0_valid(x);
    default: return true;
    }
}

static uint64_t *msr_slot(struct vp *v, uint32_t name)
{
    switch (name) {
    case WHvX64RegisterKernelGsBase: return &v->kernel_gs_base;
    case WHvX64RegisterStar: return &v->star;
    case WHvX64RegisterLstar: return &v->lstar;
    case WHvX64RegisterCstar: return &v->cstar;
    case WHvX64RegisterSfmask: return &v->sfmask;
    case WHvX64RegisterTscAux: return &v->tsc_aux;
    case WHvX64RegisterApicBase: return &v->apic_base;
    case WHvX64RegisterCr2: return &v->cr2;
    case WHvX64RegisterXCr0: return &v->xcr0;
    case WHvX64RegisterDr0: case WHvX64RegisterDr1: case WHvX64RegisterDr2: case WHvX64RegisterDr3:
        return &v->dr[name - WHvX64RegisterDr0];
    case WHvX64RegisterDr6: return &v->dr6;
    default: return 0;
    }
}

uint16_t vp_get_register(const struct cpu *c, struct vp *v, uint32_t name, WHV_REGISTER_VALUE *out)
{
    memset(out, 0, sizeof *out);
    if (name <= WHvX64RegisterR15 && name != WHvX64RegisterRsp) { out->Reg64 = v->regs.gpr[name]; return 0; }
    if (name >= WHvX64RegisterEs && name <= WHvX64RegisterTr) { get_segment(name - WHvX64RegisterEs, &out->Segment); return 0; }
    if (name >= WHvX64RegisterXmm0 && name <= WHvX64RegisterXmm15) { memcpy(out, vp_fpu_legacy(v) + 160 + 16 * (name - WHvX64RegisterXmm0), 16); return 0; }
    if (name >= WHvX64RegisterFpMmx0 && name <= WHvX64RegisterFpMmx7) { memcpy(out, vp_fpu_legacy(v) + 32 + 16 * (name - WHvX64RegisterFpMmx0), 16); return 0; }
    uint64_t *slot = msr_slot(v, name);
    if (slot) { out->Reg64 = *slot; return 0; }
    switch (name) {
    case WHvX64RegisterRsp: out->Reg64 = vmcs_readnat(VMCS_GUEST_RSP); return 0;
    case WHvX64RegisterRip: out->Reg64 = vmcs_readnat(VMCS_GUEST_RIP); return 0;
    case WHvX64RegisterRflags: out->Reg64 = vmcs_readnat(VMCS_GUEST_RFLAGS); return 0;
    case WHvX64RegisterIdtr: out->Table.Base = vmcs_readnat(VMCS_GUEST_IDTR_BASE); out->Table.Limit = (UINT16)vmcs_read32(VMCS_GUEST_IDTR_LIMIT); return 0;
    case WHvX64RegisterGdtr: out->Table.Base = vmcs_readnat(VMCS_GUEST_GDTR_BASE); out->Table.Limit = (UINT16)vmcs_read32(VMCS_GUEST_GDTR_LIMIT); return 0;
    case WHvX64RegisterCr0: out->Reg64 = guest_cr0(c); return 0;
    case WHvX64RegisterCr3: out->Reg64 = vmcs_readnat(VMCS_GUEST_CR3); return 0;
    case WHvX64RegisterCr4: out->Reg64 = guest_cr4(c); return 0;
    case WHvX64RegisterCr8: out->Reg64 = v->cr8; return 0;
    case WHvX64RegisterDr7: out->Reg64 = vmcs_readnat(VMCS_GUEST_DR7); return 0;
    case WHvX64RegisterFpControlStatus: memcpy(out, vp_fpu_legacy(v), 16); return 0;
    case WHvX64RegisterXmmControlStatus: memcpy(out, vp_fpu_legacy(v) + 16, 16); return 0;
    case WHvX64RegisterTsc: out->Reg64 = rdtsc() + vmcs_read64(VMCS_TSC_OFFSET); return 0;
    case WHvX64RegisterEfer: out->Reg64 = vmcs_read64(VMCS_GUEST_EFER); return 0;
    case WHvX64RegisterPat: out->Reg64 = vmcs_read64(VMCS_GUEST_PAT); return 0;
    case WHvX64RegisterSysenterCs: out->Reg64 = vmcs_read32(VMCS_GUEST_SYSENTER_CS); return 0;
    case WHvX64RegisterSysenterEip: out->Reg64 = vmcs_readnat(VMCS_GUEST_SYSENTER_EIP); return 0;
    case WHvX64RegisterSysenterEsp: out->Reg64 = vmcs_readnat(VMCS_GUEST_SYSENTER_ESP); return 0;
    case WHvRegisterPendingInterruption: out->Reg64 = pending_interruption_get(); return 0;
    case WHvRegisterInterruptState: {
        uint32_t i = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);
        out->Reg64 = ((i & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) ? 1 : 0) | ((i & INTERRUPTIBILITY_NMI) ? 2 : 0);
        return 0;
    }
    case WHvX64RegisterDeliverabilityNotifications: out->Reg64 = v->deliverability; return 0;
    default: return HVX_STATUS_UNKNOWN_REGISTER_NAME;
    }
}

void vp_set_gpr_or_rip(struct vp *v, uint32_t name, uint64_t value)
{
    if (name == WHvX64RegisterRip)
        vmcs_writenat(VMCS_GUEST_RIP, value);
    else if (name == WHvX64RegisterRsp)
        vmcs_writenat(VMCS_GUEST_RSP, value);
    else
        v->regs.gpr[name] = value;
}

uint16_t vp_set_register(const struct cpu *c, struct vp *v, uint32_t name, const WHV_REGISTER_VALUE *in)
{
    uint64_t x = in->Reg64;
    /* A MOV to these would flush the VP's TLB on a real CPU; a VM entry with a VPID does not. */
    if (name == WHvX64RegisterCr0 || name == WHvX64RegisterCr3 || name == WHvX64RegisterCr4 ||
        name == WHvX64RegisterEfer)
        v->tlb_stale = true;
    if (name <= WHvX64RegisterR15 && name != WHvX64RegisterRsp) { v->regs.gpr[name] = x; return 0; }
    if (name >= WHvX64RegisterEs && name <= WHvX64RegisterTr) { set_segment(name - WHvX64RegisterEs, &in->Segment); return 0; }
    if (name >= WHvX64RegisterXmm0 && name <= WHvX64RegisterXmm15) { memcpy(vp_fpu_legacy(v) + 160 + 16 * (name - WHvX64RegisterXmm0), in, 16); vp_fpu_legacy_written(v); return 0; }
    if (name >= WHvX64RegisterFpMmx0 && name <= WHvX64RegisterFpMmx7) { memcpy(vp_fpu_legacy(v) + 32 + 16 * (name - WHvX64RegisterFpMmx0), in, 10); vp_fpu_legacy_written(v); return 0; }
    uint64_t *slot = msr_slot(v, name);
    if (slot) {
        if (!register_value_loadable(name, x)) return HV_STATUS_INVALID_REGISTER_VALUE;
        *slot = x;
        return 0;
    }
    switch (name) {
    case WHvX64RegisterRsp: vmcs_writenat(VMCS_GUEST_RSP, x); return 0;
    case WHvX64RegisterRip: vmcs_writenat(VMCS_GUEST_RIP, x); return 0;
    case WHvX64RegisterRflags:
        if ((x & RFLAGS_RESERVED) || !(x & RFLAGS_FIXED)) return HV_STATUS_INVALID_REGISTER_VALUE;
        vmcs_writenat(VMCS_GUEST_RFLAGS, x);
        return 0;
    case WHvX64RegisterIdtr: vmcs_writenat(VMCS_GUEST_IDTR_BASE, in->Table.Base); vmcs_write32(VMCS_GUEST_IDTR_LIMIT, in->Table.Limit); return 0;
    case WHvX64RegisterGdtr: vmcs_writenat(VMCS_GUEST_GDTR_BASE, in->Table.Base); vmcs_write32(VMCS_GUEST_GDTR_LIMIT, in->Table.Limit); return 0;
    case WHvX64RegisterCr0:
        if (x >> 32) return HV_STATUS_INVALID_REGISTER_VALUE;
        vmcs_writenat(VMCS_CR0_READ_SHADOW, x);
        vmcs_writenat(VMCS_GUEST_CR0, vmx_fix_cr0(&c->caps, x, true));
        return 0;
    case WHvX64RegisterCr3: vmcs_writenat(VMCS_GUEST_CR3, x); return 0;
    case WHvX64RegisterCr4:
        if ((x & CR4_VMXE) || (x & ~c->caps.cr4_fixed1)) return HV_STATUS_INVALID_REGISTER_VALUE;
        vmcs_writenat(VMCS_CR4_READ_SHADOW, x);
        vmcs_writenat(VMCS_GUEST_CR4, vmx_fix_cr4(&c->caps, x));
        return 0;
    case WHvX64RegisterCr8:
        if (x > 15) return HV_STATUS_INVALID_REGISTER_VALUE;
        v->cr8 = x;
        return 0;
    case WHvX64RegisterDr7: vmcs_writenat(VMCS_GUEST_DR7, x); return 0;
    case WHvX64RegisterFpControlStatus: memcpy(vp_fpu_legacy(v), in, 16); vp_fpu_legacy_written(v); return 0;
    case WHvX64RegisterXmmControlStatus:
        /* MXCSR bits the CPU lacks would make FXRSTOR/XRSTOR fault in the hypervisor. */
        if (mxcsr_of(in) & ~vp_mxcsr_mask()) return HV_STATUS_INVALID_REGISTER_VALUE;
        memcpy(vp_fpu_legacy(v) + 16, in, 8);       /* XmmStatusControl; the CPU's MXCSR_MASK stays */
        memcpy(vp_fpu_legacy(v) + 24, (const uint8_t *)in + 8, 4);
        vp_fpu_legacy_written(v);
        return 0;
    case WHvX64RegisterTsc: vmcs_write64(VMCS_TSC_OFFSET, x - rdtsc()); return 0;
    case WHvX64RegisterEfer: return set_efer(x);
    case WHvX64RegisterPat: vmcs_write64(VMCS_GUEST_PAT, x); return 0;
    case WHvX64RegisterSysenterCs: vmcs_write32(VMCS_GUEST_SYSENTER_CS, (uint32_t)x); return 0;
    case WHvX64RegisterSysenterEip: vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, x); return 0;
    case WHvX64RegisterSysenterEsp: vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, x); return 0;
    case WHvRegisterPendingInterruption: return pending_interruption_set(x);
    case WHvRegisterInterruptState: {
        if (x & ~3ull) return HV_STATUS_INVALID_REGISTER_VALUE;
        uint32_t i = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & ~(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_NMI);
        vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, i | ((x & 1) ? INTERRUPTIBILITY_STI : 0) | ((x & 2) ? INTERRUPTIBILITY_NMI : 0));
        return 0;
    }
    case WHvX64RegisterDeliverabilityNotifications:
        if (x & ~0x3Full) return HV_STATUS_INVALID_REGISTER_VALUE;
        v->deliverability = x;
        return 0;
    default: return HVX_STATUS_UNKNOWN_REGISTER_NAME;
    }
}
