/* VMX capability MSRs, read once per CPU into a struct; control adjustment and CR fixing are pure. */
#ifndef VMX_VMX_CAPS_H
#define VMX_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

struct vmx_caps {
    uint64_t basic;                               /* 0x480 */
    uint64_t pinbased, procbased, exit, entry;    /* 0x481..0x484 */
    uint64_t misc;                                /* 0x485 */
    uint64_t cr0_fixed0, cr0_fixed1;              /* 0x486, 0x487 */
    uint64_t cr4_fixed0, cr4_fixed1;              /* 0x488, 0x489 */
    uint64_t procbased2;                          /* 0x48B (0 when secondary controls unsupported) */
    uint64_t ept_vpid;                            /* 0x48C (0 when neither EPT nor VPID) */
    uint64_t true_pinbased, true_procbased;       /* 0x48D, 0x48E (only when basic bit 55) */
    uint64_t true_exit, true_entry;               /* 0x48F, 0x490 */
    uint64_t vmfunc;                              /* 0x491 */
};

#define VMX_BASIC_TRUE_CTLS (1ull << 55)

enum vmx_ctl { VMX_CTL_PIN, VMX_CTL_PROC, VMX_CTL_PROC2, VMX_CTL_EXIT, VMX_CTL_ENTRY };

/* Computes the value of one control field: every allowed-0 bit (must be 1) set, then the wanted bits
 * that allowed-1 permits. Uses the TRUE_* MSR when IA32_VMX_BASIC bit 55 is set (not for PROC2).
 * PROC2 is all-zero-allowed only when "activate secondary controls" (proc bit 31) may be 1.
 * Returns 0, or -1 when a bit of `need` may not be 1 (then *out is still the best value). */
int vmx_adjust_controls(const struct vmx_caps *c, enum vmx_ctl which, uint32_t want, uint32_t need,
                        uint32_t *out);

/* CR values made legal for VMX operation: (v | fixed0) & fixed1. For an unrestricted guest, CR0.PE and
 * CR0.PG are exempt from fixed0. */
uint64_t vmx_fix_cr0(const struct vmx_caps *c, uint64_t v, bool unrestricted_guest);
uint64_t vmx_fix_cr4(const struct vmx_caps *c, uint64_t v);

/* Revision id (bits 30:0 of IA32_VMX_BASIC) and the VMXON/VMCS region size (bits 44:32). */
uint32_t vmx_revision(const struct vmx_caps *c);
uint32_t vmx_region_size(const struct vmx_caps *c);

#endif
