/* INIT and SIPI to a virtualized CPU. OVMF's MP services send INIT-SIPI-SIPI on every StartupAllAPs,
 * and an OS does when it starts its processors: the hypervisor plays the part of the CPU's reset logic.
 * In VMX non-root INIT always exits and is otherwise ignored; a SIPI exits only in wait-for-SIPI. */
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "vmx/exits.h"
#include "vmx/root_vmcs.h"
#include "vmx/vmcs.h"

void exit_init(struct cpu *c)
{
    c->root_msrs_cached = false;   /* whatever the reset does to them, the next Run reads them again */
    if (c->is_bsp) {
        /* The BSP does not wait for a SIPI: it restarts at the reset vector (SDM vol. 3, 10.4.2). */
        root_vmcs_load_reset_state(c);
        return;
    }
    vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_WAIT_SIPI);
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
}

void exit_sipi(struct cpu *c)
{
    uint8_t vector = (uint8_t)vmcs_readnat(VMCS_EXIT_QUALIFICATION);
    root_vmcs_load_sipi_state(c, vector);
    /* XCR0 is not part of the VMCS; INIT puts it back to x87-only. */
    if (cpuid(1, 0).ecx & CPUID1_ECX_XSAVE)
        xsetbv_safe(0, 1);
}
