#ifndef VMX_ROOT_VMCS_H
#define VMX_ROOT_VMCS_H
#include <stdint.h>
#include "vmx/percpu.h"

/* The firmware context that continues as the root partition once VMLAUNCH succeeds. */
struct root_entry_state {
    uint64_t rip, rsp, rflags, cr3;     /* from the loader's trampoline */
    uint64_t cr0, cr4;                  /* as the firmware had them: the read shadows */
    uint64_t fs_base, gs_base;          /* captured before the core takes GS for itself */
};

/* VMCLEAR + VMPTRLD the CPU's root VMCS and fill every field (controls, host state, guest state = the
 * CPU's current state). Returns enum core_status. */
int root_vmcs_setup(struct cpu *c, const struct root_entry_state *s);

/* Host state for this CPU in the current VMCS: every VMCS that runs on c exits to the same stub. */
void vmcs_write_host_state(const struct cpu *c);
/* The controls neither VMCS uses (#PF error filter, CR3 targets, MSR load/store areas): all zero. */
void vmcs_write_unused_controls(void);

/* Guest state of a processor that got SIPI with `vector` (SDM vol. 3, 9.4 and 10.5 of the MP init). */
void root_vmcs_load_sipi_state(struct cpu *c, uint8_t vector);
/* Guest state after INIT on the BSP: the reset vector, real mode (SDM vol. 3, 10.1.4). */
void root_vmcs_load_reset_state(struct cpu *c);

#endif
