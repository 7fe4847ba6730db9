/* Reads this CPU's MTRRs into the pure struct (arch/x86/mtrr.c computes memory types from it). */
#include "arch/x86/mtrr_read.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"
#include "arch/x86/string.h"

void mtrr_read(struct mtrr_state *m)
{
    memset(m, 0, sizeof *m);
    m->cap = rdmsr(MSR_IA32_MTRRCAP);
    m->def_type = rdmsr(MSR_IA32_MTRR_DEF_TYPE);
    if (m->cap & (1u << 8)) {
        m->fixed[0] = rdmsr(MSR_IA32_MTRR_FIX64K_00000);
        m->fixed[1] = rdmsr(MSR_IA32_MTRR_FIX16K_80000);
        m->fixed[2] = rdmsr(MSR_IA32_MTRR_FIX16K_A0000);
        for (unsigned i = 0; i < 8; i++)
            m->fixed[3 + i] = rdmsr(MSR_IA32_MTRR_FIX4K_C0000 + i);
    }
    unsigned count = m->cap & 0xFF;
    if (count > MTRR_MAX_VAR)
        count = MTRR_MAX_VAR;
    for (unsigned i = 0; i < count; i++) {
        m->var_base[i] = rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2 * i);
        m->var_mask[i] = rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2 * i + 1);
    }
    struct cpuid_regs r = cpuid(0x80000000, 0);
    m->phys_bits = r.eax >= 0x80000008 ? (cpuid(0x80000008, 0).eax & 0xFF) : 36;
}
