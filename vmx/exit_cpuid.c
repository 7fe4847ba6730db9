/* CPUID from the root: the real answer, with VT-x hidden (the root must not try to nest) and our
 * hypervisor leaves added, and the CR4-dependent bits made to follow the root's CR4, not ours. */
#include "api/hv_abi.h"
#include "arch/x86/cpu.h"
#include "vmx/exits.h"
#include "vmx/inject.h"
#include "vmx/vmcs.h"

static struct cpuid_regs hypervisor_leaf(uint32_t leaf)
{
    struct cpuid_regs r = { 0, 0, 0, 0 };
    if (leaf == HV_CPUID_VENDOR_LEAF) {
        const char *sig = HV_SIGNATURE;
        r.eax = HV_CPUID_MAX_LEAF;
        r.ebx = *(const uint32_t *)(const void *)(sig + 0);
        r.ecx = *(const uint32_t *)(const void *)(sig + 4);
        r.edx = *(const uint32_t *)(const void *)(sig + 8);
    } else if (leaf == HV_CPUID_VERSION_LEAF) {
        r.eax = HV_ABI_VERSION;
        r.ebx = HV_INTERFACE_ID;
    }
    return r;
}

static void set_bit_if(uint32_t *reg, uint32_t bit, int on)
{
    *reg = on ? (*reg | bit) : (*reg & ~bit);
}

struct cpuid_regs cpuid_answer(uint32_t leaf, uint32_t subleaf, uint64_t guest_cr4)
{
    if ((leaf & 0xFFFFFF00u) == 0x40000000u)
        return hypervisor_leaf(leaf);
    struct cpuid_regs r = cpuid(leaf, subleaf);
    if (leaf == 1) {
        r.ecx &= ~CPUID1_ECX_VMX;
        r.ecx |= CPUID1_ECX_HYPERVISOR;
        set_bit_if(&r.ecx, CPUID1_ECX_OSXSAVE, guest_cr4 & CR4_OSXSAVE);
    } else if (leaf == 7 && subleaf == 0) {
        set_bit_if(&r.ecx, CPUID7_ECX_OSPKE, guest_cr4 & CR4_PKE);
    }
    return r;
}

void exit_cpuid(struct cpu *c)
{
    uint64_t *g = c->current_regs->gpr;
    uint32_t leaf = (uint32_t)g[R_RAX];
    /* The guest's CR4 matters only for leaves 1 and 7: don't pay a VMREAD for the others. */
    uint64_t cr4 = (leaf == 1 || leaf == 7) ? vmcs_readnat(VMCS_GUEST_CR4) : 0;
    struct cpuid_regs r = cpuid_answer(leaf, (uint32_t)g[R_RCX], cr4);
    g[R_RAX] = r.eax;
    g[R_RBX] = r.ebx;
    g[R_RCX] = r.ecx;
    g[R_RDX] = r.edx;
    advance_rip();
}
