/* RDMSR/WRMSR from the root. The MSR bitmap sends only these here: the VMX capability MSRs and
 * IA32_FEATURE_CONTROL (VT-x is hidden), writes of the syscall MSRs a Run keeps (vmx/vp_switch.h), and MSRs outside the bitmap's ranges, which are passed to the
 * hardware with a fault-safe access (a #GP there becomes the root's #GP, as without us). */
#include "arch/x86/idt.h"
#include "arch/x86/msr.h"
#include "vmx/exits.h"
#include "vmx/inject.h"
#include "vmx/vp_switch.h"

static int is_vmx_capability(uint32_t msr) { return msr >= MSR_IA32_VMX_FIRST && msr <= MSR_IA32_VMX_LAST; }

void exit_rdmsr(struct cpu *c)
{
    uint64_t *g = c->current_regs->gpr;
    uint32_t msr = (uint32_t)g[R_RCX];
    uint64_t v;
    if (is_vmx_capability(msr) || rdmsr_safe(msr, &v) != 0) {
        inject_gp0();
        return;
    }
    if (msr == MSR_IA32_FEATURE_CONTROL)
        v &= ~(FEATURE_CONTROL_VMX_IN_SMX | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    g[R_RAX] = (uint32_t)v;
    g[R_RDX] = v >> 32;
    advance_rip();
}

void exit_wrmsr(struct cpu *c)
{
    uint64_t *g = c->current_regs->gpr;
    uint32_t msr = (uint32_t)g[R_RCX];
    uint64_t v = (g[R_RDX] << 32) | (uint32_t)g[R_RAX];
    /* FEATURE_CONTROL is locked by now: the hardware would #GP too. */
    if (msr == MSR_IA32_FEATURE_CONTROL || is_vmx_capability(msr) || wrmsr_safe(msr, v) != 0) {
        inject_gp0();
        return;
    }
    vp_switch_root_msr_written(c, msr);   /* a syscall MSR whose value a Run had kept */
    advance_rip();
}
