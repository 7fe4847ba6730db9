/* VMX capability MSRs -> legal control fields and CR values (SDM vol. 3, Appendix A). Pure. */
#include "vmx/vmx_caps.h"

#define PROC_ACTIVATE_SECONDARY (1u << 31)
#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define BASIC_REVISION_MASK 0x7fffffffull      /* bits 30:0 (A.1) */
#define BASIC_REGION_SIZE_SHIFT 32
#define BASIC_REGION_SIZE_MASK 0x1fffull       /* bits 44:32 (A.1) */

static bool has_true_controls(const struct vmx_caps *c)
{
    return (c->basic & VMX_BASIC_TRUE_CTLS) != 0;
}

/* A.3.2: when bit 55 is set, the TRUE MSR alone describes every primary control, default1 class
 * included, so it is the one to consult. */
static uint64_t primary_procbased_msr(const struct vmx_caps *c)
{
    return has_true_controls(c) ? c->true_procbased : c->procbased;
}

static uint32_t allowed1(uint64_t msr)
{
    return (uint32_t)(msr >> 32);
}

/* A.3.3: IA32_VMX_PROCBASED_CTLS2 exists only when "activate secondary controls" may be 1; without it
 * no secondary control may be 1, which an all-zero MSR expresses. */
static uint64_t secondary_procbased_msr(const struct vmx_caps *c)
{
    if (!(allowed1(primary_procbased_msr(c)) & PROC_ACTIVATE_SECONDARY))
        return 0;
    return c->procbased2;
}

/* A.3-A.5: the TRUE_* MSRs replace the plain ones when IA32_VMX_BASIC bit 55 is set. */
static uint64_t control_msr(const struct vmx_caps *c, enum vmx_ctl which)
{
    bool t = has_true_controls(c);
    switch (which) {
    case VMX_CTL_PIN:   return t ? c->true_pinbased : c->pinbased;
    case VMX_CTL_PROC:  return primary_procbased_msr(c);
    case VMX_CTL_PROC2: return secondary_procbased_msr(c);
    case VMX_CTL_EXIT:  return t ? c->true_exit : c->exit;
    case VMX_CTL_ENTRY: return t ? c->true_entry : c->entry;
    }
    return 0;
}

/* Bits 31:0 are the allowed-0 settings (1 = must be 1), bits 63:32 the allowed-1 settings
 * (0 = must be 0). A needed bit is also wanted, so the best value carries every permitted one. */
int vmx_adjust_controls(const struct vmx_caps *c, enum vmx_ctl which, uint32_t want, uint32_t need,
                        uint32_t *out)
{
    uint64_t msr = control_msr(c, which);
    uint32_t must_be_1 = (uint32_t)msr, may_be_1 = allowed1(msr);

    *out = must_be_1 | ((want | need) & may_be_1);
    return (need & ~may_be_1) ? -1 : 0;
}

/* A.7: bits set in FIXED0 must be 1, bits clear in FIXED1 must be 0. With "unrestricted guest",
 * CR0.PE and CR0.PG may be 0 (SDM vol. 3, 26.3.1.1). */
uint64_t vmx_fix_cr0(const struct vmx_caps *c, uint64_t v, bool unrestricted_guest)
{
    uint64_t fixed0 = c->cr0_fixed0;
    if (unrestricted_guest)
        fixed0 &= ~(CR0_PE | CR0_PG);
    return (v | fixed0) & c->cr0_fixed1;
}

/* A.8: same rule as CR0; FIXED0 includes CR4.VMXE, which VMXON requires. */
uint64_t vmx_fix_cr4(const struct vmx_caps *c, uint64_t v)
{
    return (v | c->cr4_fixed0) & c->cr4_fixed1;
}

uint32_t vmx_revision(const struct vmx_caps *c)
{
    return (uint32_t)(c->basic & BASIC_REVISION_MASK);
}

uint32_t vmx_region_size(const struct vmx_caps *c)
{
    return (uint32_t)((c->basic >> BASIC_REGION_SIZE_SHIFT) & BASIC_REGION_SIZE_MASK);
}
