/* Exit handlers of the root partition, one per concern; vmx/exit_dispatch.c indexes them by the VMX
 * basic exit reason. Each runs with the root's registers in c->current_regs and its VMCS current. */
#ifndef VMX_EXITS_H
#define VMX_EXITS_H
#include "arch/x86/cpu.h"
#include "vmx/percpu.h"

typedef void exit_handler_fn(struct cpu *c);

exit_handler_fn exit_cpuid;          /* vmx/exit_cpuid.c */
/* What CPUID returns under the hypervisor: VT-x hidden, hypervisor leaves, CR4-dependent bits. */
struct cpuid_regs cpuid_answer(uint32_t leaf, uint32_t subleaf, uint64_t guest_cr4);
exit_handler_fn exit_rdmsr, exit_wrmsr;   /* vmx/exit_msr.c */
exit_handler_fn exit_cr_access;      /* vmx/exit_cr.c */
exit_handler_fn exit_init, exit_sipi;     /* vmx/exit_init_sipi.c */
exit_handler_fn exit_xsetbv, exit_invd, exit_wbinvd, exit_vmx_instruction, exit_getsec,
                exit_triple_fault;   /* vmx/exit_misc.c */
exit_handler_fn exit_ept_violation, exit_ept_misconfig;  /* vmx/exit_ept.c */
exit_handler_fn exit_vmcall;         /* vmx/hypercall.c */

/* Stops this CPU in order: the reason and a VMCS dump on COM1, then halt. */
void hv_panic(struct cpu *c, const char *why) __attribute__((noreturn, cold));
void vmcs_dump(void);                /* vmx/vmcs_dump.c */

#endif
