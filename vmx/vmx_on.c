/* Entering VMX operation on one CPU (SDM vol. 3, 24.7 and 24.8). */
#include "vmx/vmx_on.h"
#include "arch/x86/cpu.h"
#include "arch/x86/log.h"
#include "arch/x86/msr.h"
#include "boot/handoff.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_ops.h"

#define EPT_CAP_WALK_4          (1ull << 6)
#define EPT_CAP_WB              (1ull << 14)
#define EPT_CAP_INVEPT          (1ull << 20)
#define EPT_CAP_INVEPT_ALL      (1ull << 26)
#define VMX_BASIC_MEMTYPE_WB    6

static void read_caps(struct vmx_caps *c)
{
    c->basic = rdmsr(MSR_IA32_VMX_BASIC);
    c->pinbased = rdmsr(MSR_IA32_VMX_PINBASED_CTLS);
    c->procbased = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS);
    c->exit = rdmsr(MSR_IA32_VMX_EXIT_CTLS);
    c->entry = rdmsr(MSR_IA32_VMX_ENTRY_CTLS);
    c->misc = rdmsr(MSR_IA32_VMX_MISC);
    c->cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
    c->cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    c->cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
    c->cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    bool secondary = (c->procbased >> 32) & PROC_ACTIVATE_SECONDARY;
    c->procbased2 = secondary ? rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
    uint32_t allowed2 = (uint32_t)(c->procbased2 >> 32);
    c->ept_vpid = (allowed2 & (PROC2_ENABLE_EPT | PROC2_ENABLE_VPID)) ? rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) : 0;
    if (c->basic & VMX_BASIC_TRUE_CTLS) {
        c->true_pinbased = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS);
        c->true_procbased = rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
        c->true_exit = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS);
        c->true_entry = rdmsr(MSR_IA32_VMX_TRUE_ENTRY_CTLS);
    }
}

/* What the design cannot do without: EPT (the root must not see our memory) and unrestricted guest
 * (APs restart in real mode after SIPI). Each missing feature is named in the log. */
static bool has_required_features(const struct vmx_caps *c, unsigned cpu)
{
    uint32_t allowed2 = (uint32_t)(c->procbased2 >> 32);
    struct { bool ok; const char *what; } req[] = {
        { ((c->basic >> 50) & 0xF) == VMX_BASIC_MEMTYPE_WB, "VMCS in write-back memory" },
        { vmx_region_size(c) <= 4096, "VMCS region of at most 4 KiB" },
        { allowed2 & PROC2_ENABLE_EPT, "EPT" },
        { allowed2 & PROC2_UNRESTRICTED_GUEST, "unrestricted guest" },
        { c->ept_vpid & EPT_CAP_WALK_4, "4-level EPT" },
        { c->ept_vpid & EPT_CAP_WB, "write-back EPT structures" },
        { (c->ept_vpid & EPT_CAP_INVEPT) && (c->ept_vpid & EPT_CAP_INVEPT_ALL), "INVEPT all-context" },
        { (c->misc >> 8) & 1, "wait-for-SIPI activity state" },
    };
    bool ok = true;
    for (unsigned i = 0; i < sizeof req / sizeof req[0]; i++) {
        if (!req[i].ok) {
            log_error("cpu %u: required VMX feature missing: %s", cpu, req[i].what);
            ok = false;
        }
    }
    return ok;
}

static int enable_in_feature_control(unsigned cpu)
{
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK)) {
        /* Unlocked (OVMF leaves it so): enable VMX outside SMX and lock, as firmware would. */
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
        return CORE_OK;
    }
    if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        log_error("cpu %u: IA32_FEATURE_CONTROL is locked with VMX off (%llx): enable VT-x in setup",
                  cpu, (unsigned long long)fc);
        return CORE_ERR_VMX_LOCKED_OFF;
    }
    return CORE_OK;
}

int vmx_on_this_cpu(struct cpu *c)
{
    if (!(cpuid(1, 0).ecx & CPUID1_ECX_VMX))
        return CORE_ERR_NO_VMX;
    int st = enable_in_feature_control(c->index);
    if (st != CORE_OK)
        return st;
    read_caps(&c->caps);
    if (!has_required_features(&c->caps, c->index))
        return CORE_ERR_MISSING_FEATURE;

    uint64_t old_cr4 = read_cr4();
    write_cr0(vmx_fix_cr0(&c->caps, read_cr0(), false));
    write_cr4(vmx_fix_cr4(&c->caps, old_cr4 | CR4_VMXE));
    *(volatile uint32_t *)(uintptr_t)c->vmxon_pa = vmx_revision(&c->caps);
    if (vmxon(c->vmxon_pa) != VMX_OK) {
        write_cr4(old_cr4);
        log_error("cpu %u: VMXON failed", c->index);
        return CORE_ERR_VMXON;
    }
    /* Nothing cached from before VMXON may survive (SDM 29.4.3.1 recommends it). */
    invept(INVEPT_ALL_CONTEXT, 0);
    return CORE_OK;
}

void vmx_off_this_cpu(void)
{
    vmxoff();
    write_cr4(read_cr4() & ~CR4_VMXE);
}
