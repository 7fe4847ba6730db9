/* The root partition's VMCS: the firmware's own CPU state becomes the guest state, so the firmware
 * carries on where it called us, now in VMX non-root operation. */
#include "vmx/root_vmcs.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/idt.h"
#include "arch/x86/log.h"
#include "arch/x86/msr.h"
#include "arch/x86/string.h"
#include "boot/handoff.h"
#include "vmx/hv.h"
#include "vmx/partition.h"
#include "vmx/segment.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_ops.h"

extern char vmx_exit_entry[];

#define AR_ACCESSED 1u
#define TR_AR_BUSY_TSS64 0x8Bu
#define LDTR_AR_LDT 0x82u

static int setup_controls(struct cpu *c, uint64_t efer)
{
    const struct vmx_caps *k = &c->caps;
    uint32_t pin, proc, proc2, exit, entry;
    bool lma = efer & EFER_LMA;
    uint32_t want_proc2 = PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST | PROC2_ENABLE_RDTSCP |
                          PROC2_ENABLE_INVPCID | PROC2_ENABLE_XSAVES;
    uint32_t need_exit = EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_EFER | EXIT_LOAD_EFER;
    uint32_t need_entry = ENTRY_LOAD_EFER | (lma ? ENTRY_IA32E_MODE_GUEST : 0);
    int bad = 0;
    bad |= vmx_adjust_controls(k, VMX_CTL_PIN, 0, 0, &pin);
    bad |= vmx_adjust_controls(k, VMX_CTL_PROC, PROC_USE_MSR_BITMAPS | PROC_ACTIVATE_SECONDARY,
                               PROC_USE_MSR_BITMAPS | PROC_ACTIVATE_SECONDARY, &proc);
    bad |= vmx_adjust_controls(k, VMX_CTL_PROC2, want_proc2,
                               PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST, &proc2);
    bad |= vmx_adjust_controls(k, VMX_CTL_EXIT, need_exit | EXIT_SAVE_DEBUG_CONTROLS | EXIT_SAVE_PAT |
                               EXIT_LOAD_PAT, need_exit, &exit);
    bad |= vmx_adjust_controls(k, VMX_CTL_ENTRY, need_entry | ENTRY_LOAD_DEBUG_CONTROLS | ENTRY_LOAD_PAT,
                               need_entry, &entry);
    if (bad) {
        log_error("cpu %u: a required VMX control is not supported", c->index);
        return CORE_ERR_MISSING_FEATURE;
    }
    vmcs_write32(VMCS_PIN_CONTROLS, pin);
    vmcs_write32(VMCS_PROC_CONTROLS, proc);
    vmcs_write32(VMCS_PROC_CONTROLS2, proc2);
    vmcs_write32(VMCS_EXIT_CONTROLS, exit);
    vmcs_write32(VMCS_ENTRY_CONTROLS, entry);
    vmcs_write32(VMCS_EXCEPTION_BITMAP, 0);
    vmcs_write_unused_controls();
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
    vmcs_write64(VMCS_MSR_BITMAP, hv.msr_bitmap_pa);
    vmcs_write64(VMCS_EPT_POINTER, hv.root_eptp);
    if (proc2 & PROC2_ENABLE_XSAVES)
        vmcs_write64(VMCS_XSS_EXIT_BITMAP, 0);
    vmcs_write64(VMCS_LINK_POINTER, ~0ull);
    return CORE_OK;
}

/* Bits the root may not own: those VMX operation fixes (CR0.NE, CR4.VMXE, reserved bits). Writes that
 * differ from the shadow there exit; the shadows show the root what it wrote. */
static void setup_cr_ownership(struct cpu *c, const struct root_entry_state *s)
{
    const struct vmx_caps *k = &c->caps;
    c->cr0_mask = (k->cr0_fixed0 | ~k->cr0_fixed1) & ~(CR0_PE | CR0_PG);
    c->cr4_mask = k->cr4_fixed0 | ~k->cr4_fixed1;
    vmcs_writenat(VMCS_CR0_GUEST_HOST_MASK, c->cr0_mask);
    vmcs_writenat(VMCS_CR4_GUEST_HOST_MASK, c->cr4_mask);
    vmcs_writenat(VMCS_CR0_READ_SHADOW, s->cr0);
    vmcs_writenat(VMCS_CR4_READ_SHADOW, s->cr4);
    vmcs_writenat(VMCS_GUEST_CR0, vmx_fix_cr0(k, s->cr0, true));
    vmcs_writenat(VMCS_GUEST_CR4, vmx_fix_cr4(k, s->cr4));
}

void vmcs_write_unused_controls(void)
{
    vmcs_write32(VMCS_PF_ERROR_MASK, 0);
    vmcs_write32(VMCS_PF_ERROR_MATCH, 0);
    vmcs_write32(VMCS_CR3_TARGET_COUNT, 0);
    vmcs_write32(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmcs_write32(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmcs_write32(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
}

void vmcs_write_host_state(const struct cpu *c)
{
    vmcs_write16(VMCS_HOST_CS_SEL, HOST_CS_SEL);
    vmcs_write16(VMCS_HOST_SS_SEL, HOST_DS_SEL);
    vmcs_write16(VMCS_HOST_DS_SEL, HOST_DS_SEL);
    vmcs_write16(VMCS_HOST_ES_SEL, HOST_DS_SEL);
    vmcs_write16(VMCS_HOST_FS_SEL, HOST_DS_SEL);
    vmcs_write16(VMCS_HOST_GS_SEL, HOST_DS_SEL);
    vmcs_write16(VMCS_HOST_TR_SEL, HOST_TR_SEL);
    vmcs_writenat(VMCS_HOST_CR0, read_cr0());
    vmcs_writenat(VMCS_HOST_CR3, hv.handoff->host_cr3);
    vmcs_writenat(VMCS_HOST_CR4, read_cr4());
    vmcs_writenat(VMCS_HOST_FS_BASE, 0);
    vmcs_writenat(VMCS_HOST_GS_BASE, (uint64_t)(uintptr_t)c);
    vmcs_writenat(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)&c->gdt.tss);
    vmcs_writenat(VMCS_HOST_GDTR_BASE, (uint64_t)(uintptr_t)c->gdt.entries);
    vmcs_writenat(VMCS_HOST_IDTR_BASE, idt_base());
    vmcs_write32(VMCS_HOST_SYSENTER_CS, 0);
    vmcs_writenat(VMCS_HOST_SYSENTER_ESP, 0);
    vmcs_writenat(VMCS_HOST_SYSENTER_EIP, 0);
    vmcs_write64(VMCS_HOST_EFER, rdmsr(MSR_IA32_EFER));
    vmcs_write64(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
    vmcs_writenat(VMCS_HOST_RSP, c->host_stack_top);
    vmcs_writenat(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_entry);
}

/* Segment register n (ES, CS, SS, DS, FS, GS, LDTR, TR order of the VMCS encodings). */
static void write_guest_segment(unsigned n, const struct vmx_segment *s)
{
    vmcs_write16(VMCS_GUEST_ES_SEL + 2 * n, s->selector);
    vmcs_write32(VMCS_GUEST_ES_LIMIT + 2 * n, s->limit);
    vmcs_write32(VMCS_GUEST_ES_AR + 2 * n, s->ar);
    vmcs_writenat(VMCS_GUEST_ES_BASE + 2 * n, s->base);
}

static void capture_segments(const struct root_entry_state *st, bool long_mode)
{
    struct desc_ptr gdtr = sgdt();
    const uint8_t *gdt = (const uint8_t *)(uintptr_t)gdtr.base;
    uint16_t sels[6] = { read_es(), read_cs(), read_ss(), read_ds(), read_fs(), read_gs() };
    for (unsigned n = 0; n < 6; n++) {
        struct vmx_segment s;
        segment_from_descriptor(gdt, gdtr.limit, 0, 0, sels[n], long_mode, &s);
        s.selector = sels[n];
        /* The CPU sets the accessed bit when it loads a segment; VM entry insists on it (26.3.1.2). */
        if (!(s.ar & VMX_AR_UNUSABLE))
            s.ar |= AR_ACCESSED;
        if (n == 4) s.base = st->fs_base;   /* in 64-bit mode the MSRs hold FS/GS bases */
        if (n == 5) s.base = st->gs_base;
        write_guest_segment(n, &s);
    }
    struct vmx_segment ldtr = { read_ldtr(), 0, 0, VMX_AR_UNUSABLE };
    if (ldtr.selector)
        segment_from_descriptor(gdt, gdtr.limit, 0, 0, ldtr.selector, long_mode, &ldtr);
    write_guest_segment(6, &ldtr);
    /* UEFI runs with TR = 0; VM entry wants a usable busy TSS, so the root gets an empty one. */
    struct vmx_segment tr = { read_tr(), 0, 0x67, TR_AR_BUSY_TSS64 };
    if (tr.selector)
        segment_from_descriptor(gdt, gdtr.limit, 0, 0, tr.selector, long_mode, &tr);
    write_guest_segment(7, &tr);
    vmcs_write32(VMCS_GUEST_GDTR_LIMIT, gdtr.limit);
    vmcs_writenat(VMCS_GUEST_GDTR_BASE, gdtr.base);
    struct desc_ptr idtr = sidt();
    vmcs_write32(VMCS_GUEST_IDTR_LIMIT, idtr.limit);
    vmcs_writenat(VMCS_GUEST_IDTR_BASE, idtr.base);
}

static void setup_guest_state(const struct root_entry_state *s)
{
    uint64_t efer = rdmsr(MSR_IA32_EFER);
    capture_segments(s, efer & EFER_LMA);
    vmcs_writenat(VMCS_GUEST_CR3, s->cr3);
    vmcs_writenat(VMCS_GUEST_DR7, read_dr7());
    vmcs_writenat(VMCS_GUEST_RSP, s->rsp);
    vmcs_writenat(VMCS_GUEST_RIP, s->rip);
    vmcs_writenat(VMCS_GUEST_RFLAGS, s->rflags);
    vmcs_writenat(VMCS_GUEST_PENDING_DBG, 0);
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
    vmcs_write64(VMCS_GUEST_DEBUGCTL, rdmsr(MSR_IA32_DEBUGCTL));
    vmcs_write64(VMCS_GUEST_EFER, efer);
    vmcs_write64(VMCS_GUEST_PAT, rdmsr(MSR_IA32_PAT));
    vmcs_write32(VMCS_GUEST_SYSENTER_CS, (uint32_t)rdmsr(MSR_IA32_SYSENTER_CS));
    vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
}

int root_vmcs_setup(struct cpu *c, const struct root_entry_state *s)
{
    *(volatile uint32_t *)(uintptr_t)c->root_vmcs_pa = vmx_revision(&c->caps);
    if (vmclear(c->root_vmcs_pa) != VMX_OK || vmptrld(c->root_vmcs_pa) != VMX_OK) {
        log_error("cpu %u: VMCLEAR/VMPTRLD of the root VMCS failed", c->index);
        return CORE_ERR_VMCS;
    }
    int st = setup_controls(c, rdmsr(MSR_IA32_EFER));
    if (st != CORE_OK)
        return st;
    setup_cr_ownership(c, s);
    vmcs_write_host_state(c);
    setup_guest_state(s);
    return CORE_OK;
}

void vmcs_load_real_mode_state(const struct vmx_caps *k, uint16_t cs_sel, uint64_t cs_base, uint64_t rip)
{
    const struct vmx_segment data = { 0, 0, 0xFFFF, 0x93 };
    const struct vmx_segment code = { cs_sel, cs_base, 0xFFFF, 0x9B };
    const struct vmx_segment ldtr = { 0, 0, 0xFFFF, LDTR_AR_LDT };
    const struct vmx_segment tr = { 0, 0, 0xFFFF, TR_AR_BUSY_TSS64 };
    for (unsigned n = 0; n < 6; n++)
        write_guest_segment(n, n == 1 ? &code : &data);
    write_guest_segment(6, &ldtr);
    write_guest_segment(7, &tr);
    vmcs_write32(VMCS_GUEST_GDTR_LIMIT, 0xFFFF);
    vmcs_writenat(VMCS_GUEST_GDTR_BASE, 0);
    vmcs_write32(VMCS_GUEST_IDTR_LIMIT, 0xFFFF);
    vmcs_writenat(VMCS_GUEST_IDTR_BASE, 0);
    /* CR0 after INIT: CD, NW and ET set (SDM vol. 3, Table 10-1). */
    const uint64_t cr0 = CR0_CD | CR0_NW | CR0_ET;
    vmcs_writenat(VMCS_CR0_READ_SHADOW, cr0);
    vmcs_writenat(VMCS_GUEST_CR0, vmx_fix_cr0(k, cr0, true));
    vmcs_writenat(VMCS_CR4_READ_SHADOW, 0);
    vmcs_writenat(VMCS_GUEST_CR4, vmx_fix_cr4(k, 0));
    vmcs_writenat(VMCS_GUEST_CR3, 0);
    vmcs_writenat(VMCS_GUEST_DR7, 0x400);
    vmcs_writenat(VMCS_GUEST_RSP, 0);
    vmcs_writenat(VMCS_GUEST_RIP, rip);
    vmcs_writenat(VMCS_GUEST_RFLAGS, RFLAGS_FIXED);
    vmcs_writenat(VMCS_GUEST_PENDING_DBG, 0);
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
    vmcs_write64(VMCS_GUEST_DEBUGCTL, 0);
    vmcs_write64(VMCS_GUEST_EFER, 0);
    vmcs_write64(VMCS_GUEST_PAT, 0x0007040600070406ull);
    vmcs_write32(VMCS_GUEST_SYSENTER_CS, 0);
    vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, 0);
    vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, 0);
    vmcs_write32(VMCS_ENTRY_CONTROLS, vmcs_read32(VMCS_ENTRY_CONTROLS) & ~ENTRY_IA32E_MODE_GUEST);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
}

static void load_real_mode_state(struct cpu *c, uint16_t cs_sel, uint64_t cs_base, uint64_t rip)
{
    vmcs_load_real_mode_state(&c->caps, cs_sel, cs_base, rip);
    memset(c->root_regs.gpr, 0, sizeof c->root_regs.gpr);
    /* EDX holds the processor signature after reset and INIT. */
    c->root_regs.gpr[R_RDX] = cpuid(1, 0).eax;
}

void root_vmcs_load_sipi_state(struct cpu *c, uint8_t vector)
{
    load_real_mode_state(c, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0);
}

void root_vmcs_load_reset_state(struct cpu *c)
{
    load_real_mode_state(c, 0xF000, 0xFFFF0000ull, 0xFFF0);
}
