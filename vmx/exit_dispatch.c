/* The one VM-exit dispatcher: a table indexed by the basic exit reason, bounds-checked, with VM-entry
 * failures (bit 31 of the exit reason) handled before any indexing. */
#include "arch/x86/log.h"
#include "arch/x86/serial.h"
#include "arch/x86/cpu.h"
#include "vmx/exits.h"
#include "vmx/inject.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_errors.h"
#include "vmx/profile.h"
#include "vmx/vp_run.h"

void vmx_exit_resume(void) __attribute__((noreturn));

static exit_handler_fn *const root_exit_handlers[VMX_EXIT_REASON_COUNT] = {
    [EXIT_TRIPLE_FAULT] = exit_triple_fault,
    [EXIT_INIT] = exit_init,
    [EXIT_SIPI] = exit_sipi,
    [EXIT_CPUID] = exit_cpuid,
    [EXIT_GETSEC] = exit_getsec,
    [EXIT_INVD] = exit_invd,
    [EXIT_VMCALL] = exit_vmcall,
    [EXIT_VMCLEAR] = exit_vmx_instruction,
    [EXIT_VMLAUNCH] = exit_vmx_instruction,
    [EXIT_VMPTRLD] = exit_vmx_instruction,
    [EXIT_VMPTRST] = exit_vmx_instruction,
    [EXIT_VMREAD] = exit_vmx_instruction,
    [EXIT_VMRESUME] = exit_vmx_instruction,
    [EXIT_VMWRITE] = exit_vmx_instruction,
    [EXIT_VMXOFF] = exit_vmx_instruction,
    [EXIT_VMXON] = exit_vmx_instruction,
    [EXIT_CR_ACCESS] = exit_cr_access,
    [EXIT_RDMSR] = exit_rdmsr,
    [EXIT_WRMSR] = exit_wrmsr,
    [EXIT_EPT_VIOLATION] = exit_ept_violation,
    [EXIT_EPT_MISCONFIG] = exit_ept_misconfig,
    [EXIT_INVEPT] = exit_vmx_instruction,
    [EXIT_INVVPID] = exit_vmx_instruction,
    [EXIT_VMFUNC] = exit_vmx_instruction,
    [EXIT_WBINVD] = exit_wbinvd,
    [EXIT_XSETBV] = exit_xsetbv,
};

void hv_panic(struct cpu *c, const char *why)
{
    log_error("HV PANIC: cpu %u: %s", c->index, why);
    vmcs_dump();
    log_error("HV PANIC: cpu %u stopped", c->index);
    serial_drain();
    cpu_halt_forever();
}

/* An NMI that hit while this CPU was in VMX root belongs to the root: inject it when the root can take
 * it now; otherwise it stays pending for the next exit. */
static void deliver_pending_nmi(struct cpu *c)
{
    if (vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID)
        return;
    uint32_t blocking = INTERRUPTIBILITY_NMI | INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_STI;
    if (vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & blocking)
        return;
    vmcs_write32(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | VEC_NMI);
    c->nmi_pending = 0;
}

void vmx_exit_handler(struct cpu *c)
{
    uint32_t reason = vmcs_read32(VMCS_EXIT_REASON);
    uint32_t basic = reason & 0xFFFF;
    c->exits[basic < HV_STATS_EXIT_REASONS ? basic : HV_STATS_EXIT_REASONS - 1]++;
    if (c->run_vp) {
        prof_mark(c, PROF_TRANSIT);
        vp_exit(c, reason);
        if (c->nmi_pending && !c->run_vp)
            deliver_pending_nmi(c);
        return;
    }
    prof_mark(c, PROF_ROOT);
    if (reason & VMX_EXIT_REASON_ENTRY_FAILURE)
        hv_panic(c, "VM entry of the root partition failed (guest state or MSR loading)");
    exit_handler_fn *h = basic < VMX_EXIT_REASON_COUNT ? root_exit_handlers[basic] : 0;
    if (!h) {
        log_error("unexpected VM exit %u (%s) from the root partition", basic, vmx_exit_reason_name(basic));
        hv_panic(c, "unexpected VM exit");
    }
    h(c);
    if (c->nmi_pending)
        deliver_pending_nmi(c);
}

void vmx_resume_failed(struct cpu *c, uint64_t rflags)
{
    if (c->run_vp && !(rflags & 1)) {
        /* A child's state the VMM set that VM entry refuses outright (e.g. MOV-SS blocking with an
         * injected event): report it as an invalid register value, never stop the hypervisor. */
        uint32_t err = vmcs_read32(VMCS_VM_INSTR_ERROR);
        log_warn("cpu %u: VM entry of a child failed: VM-instruction error %u: %s", c->index, err,
                 vm_instruction_error_name(err));
        vp_exit(c, VMX_EXIT_REASON_ENTRY_FAILURE | EXIT_ENTRY_FAIL_GUEST_STATE);
        vmx_exit_resume();
    }
    if (rflags & 1)
        hv_panic(c, "VMRESUME failed: VMfailInvalid (no current VMCS)");
    uint32_t err = vmcs_read32(VMCS_VM_INSTR_ERROR);
    log_error("VMRESUME failed: VM-instruction error %u: %s", err, vm_instruction_error_name(err));
    hv_panic(c, "VMRESUME failed");
}
