/* Instructions whose exits are unconditional: emulate them for the root or refuse them as a CPU without
 * VT-x would. */
#include "arch/x86/idt.h"
#include "vmx/exits.h"
#include "vmx/inject.h"

void exit_xsetbv(struct cpu *c)
{
    uint64_t *g = c->current_regs->gpr;
    uint64_t v = (g[R_RDX] << 32) | (uint32_t)g[R_RAX];
    if (xsetbv_safe((uint32_t)g[R_RCX], v) != 0) {
        inject_gp0();
        return;
    }
    advance_rip();
}

void exit_invd(struct cpu *c)
{
    (void)c;
    /* INVD would drop dirty lines the hypervisor owns too: write them back instead. */
    __asm__ volatile("wbinvd" ::: "memory");
    advance_rip();
}

void exit_wbinvd(struct cpu *c)
{
    exit_invd(c);
}

void exit_vmx_instruction(struct cpu *c)
{
    (void)c;
    inject_ud();    /* VT-x is hidden: VMX instructions are undefined for the root */
}

void exit_getsec(struct cpu *c)
{
    (void)c;
    inject_ud();    /* SMX is not offered to the root */
}

void exit_triple_fault(struct cpu *c)
{
    hv_panic(c, "the root partition triple-faulted");
}
