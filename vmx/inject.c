#include "vmx/inject.h"
#include "arch/x86/cpu.h"
#include "vmx/vmcs.h"

void inject_hw_exception(uint8_t vector, int has_error, uint32_t error)
{
    uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector;
    /* Real mode pushes no error code; VM entry refuses one when CR0.PE is 0 (SDM 26.2.1.3). */
    if (has_error && (vmcs_readnat(VMCS_GUEST_CR0) & CR0_PE)) {
        info |= INTR_INFO_ERROR_CODE_VALID;
        vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR, error);
    }
    vmcs_write32(VMCS_ENTRY_INTR_INFO, info);
}

#define PENDING_DBG_BS (1ull << 14)   /* single-step trap pending (SDM vol. 3, 25.4.2) */

void advance_rip(void)
{
    vmcs_writenat(VMCS_GUEST_RIP, vmcs_readnat(VMCS_GUEST_RIP) + vmcs_read32(VMCS_EXIT_INSTR_LEN));
    /* An emulated instruction must still single-step under RFLAGS.TF, as the real one would. */
    if (vmcs_readnat(VMCS_GUEST_RFLAGS) & RFLAGS_TF)
        vmcs_writenat(VMCS_GUEST_PENDING_DBG, vmcs_readnat(VMCS_GUEST_PENDING_DBG) | PENDING_DBG_BS);
    uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);
    if (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
        vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, intr & ~(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

unsigned guest_cpl(void)
{
    return (vmcs_read32(VMCS_GUEST_SS_AR) >> 5) & 3;
}
