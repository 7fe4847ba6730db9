/* The guest's control registers as the guest sees them, and EFER kept in step with the VM-entry
 * controls: one place for rules that every exit handler and the register API share. Works on the
 * current VMCS. */
#ifndef VMX_GUEST_CR_H
#define VMX_GUEST_CR_H

#include <stdint.h>
#include "arch/x86/cpu.h"
#include "vmx/percpu.h"
#include "vmx/vmcs.h"

/* Bits the hypervisor owns (guest/host mask) read from the read shadow, the rest from the real CR. */
static inline uint64_t guest_cr0(const struct cpu *c)
{
    return (vmcs_readnat(VMCS_GUEST_CR0) & ~c->cr0_mask) | (vmcs_readnat(VMCS_CR0_READ_SHADOW) & c->cr0_mask);
}

static inline uint64_t guest_cr4(const struct cpu *c)
{
    return (vmcs_readnat(VMCS_GUEST_CR4) & ~c->cr4_mask) | (vmcs_readnat(VMCS_CR4_READ_SHADOW) & c->cr4_mask);
}

/* EFER.LMA and the "IA-32e mode guest" entry control must agree at VM entry (SDM 26.3.1.1). */
static inline void set_guest_efer(uint64_t efer)
{
    vmcs_write64(VMCS_GUEST_EFER, efer);
    uint32_t entry = vmcs_read32(VMCS_ENTRY_CONTROLS) & ~ENTRY_IA32E_MODE_GUEST;
    vmcs_write32(VMCS_ENTRY_CONTROLS, entry | ((efer & EFER_LMA) ? ENTRY_IA32E_MODE_GUEST : 0));
}

#endif
