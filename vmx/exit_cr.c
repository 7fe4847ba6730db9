/* MOV to CR0/CR4 that touch bits the hypervisor owns (CR0.NE, CR4.VMXE, reserved bits), CLTS/LMSW on
 * those, and CR3 accesses where the CPU forces CR3 exiting. Qualification: SDM vol. 3, Table 28-3. */
#include "arch/x86/cpu.h"
#include "vmx/exits.h"
#include "vmx/guest_cr.h"
#include "vmx/inject.h"
#include "vmx/vmcs.h"

enum { CR_MOV_TO = 0, CR_MOV_FROM = 1, CR_CLTS = 2, CR_LMSW = 3 };

/* Paging turned on or off with EFER.LME: IA-32e mode follows (SDM vol. 3, 11.8.5), as the CPU would do
 * it for a MOV that did not exit. Returns 0 on #GP. */
static int update_long_mode(uint64_t old_cr0, uint64_t new_cr0)
{
    uint64_t efer = vmcs_read64(VMCS_GUEST_EFER);
    if (!(old_cr0 & CR0_PG) && (new_cr0 & CR0_PG) && (efer & EFER_LME)) {
        if (!(vmcs_readnat(VMCS_GUEST_CR4) & CR4_PAE))
            return 0;
        set_guest_efer(efer | EFER_LMA);
    } else if ((old_cr0 & CR0_PG) && !(new_cr0 & CR0_PG)) {
        set_guest_efer(efer & ~EFER_LMA);
    }
    return 1;
}

static int set_cr0(struct cpu *c, uint64_t v)
{
    if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
        return 0;
    uint64_t old = guest_cr0(c);
    if (!update_long_mode(old, v))
        return 0;
    vmcs_writenat(VMCS_CR0_READ_SHADOW, v);
    vmcs_writenat(VMCS_GUEST_CR0, vmx_fix_cr0(&c->caps, v, true));
    return 1;
}

static int set_cr4(struct cpu *c, uint64_t v)
{
    /* VT-x is hidden from the root: CR4.VMXE behaves as a reserved bit. */
    if ((v & CR4_VMXE) || (v & ~c->caps.cr4_fixed1))
        return 0;
    vmcs_writenat(VMCS_CR4_READ_SHADOW, v);
    vmcs_writenat(VMCS_GUEST_CR4, vmx_fix_cr4(&c->caps, v));
    return 1;
}

static int mov_to_cr(struct cpu *c, unsigned cr, uint64_t v)
{
    switch (cr) {
    case 0: return set_cr0(c, v);
    case 3: vmcs_writenat(VMCS_GUEST_CR3, v & ~(1ull << 63)); return 1;  /* bit 63: PCID no-flush */
    case 4: return set_cr4(c, v);
    default: return 0;
    }
}

void exit_cr_access(struct cpu *c)
{
    uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
    unsigned cr = q & 0xF, type = (q >> 4) & 3, reg = (q >> 8) & 0xF;
    uint64_t *g = c->current_regs->gpr;
    int ok = 1;
    uint64_t cr0 = guest_cr0(c);
    switch (type) {
    case CR_MOV_TO:
        ok = mov_to_cr(c, cr, reg == R_RSP ? vmcs_readnat(VMCS_GUEST_RSP) : g[reg]);
        break;
    case CR_MOV_FROM:
        if (cr != 3) { ok = 0; break; }
        if (reg == R_RSP) vmcs_writenat(VMCS_GUEST_RSP, vmcs_readnat(VMCS_GUEST_CR3));
        else g[reg] = vmcs_readnat(VMCS_GUEST_CR3);
        break;
    case CR_CLTS:
        ok = set_cr0(c, cr0 & ~CR0_TS);
        break;
    case CR_LMSW: {
        /* LMSW loads PE, MP, EM, TS but can never clear PE. */
        uint64_t src = (q >> 16) & 0xF;
        ok = set_cr0(c, (cr0 & ~0xEull) | src | (cr0 & CR0_PE));
        break;
    }
    }
    if (!ok) {
        inject_gp0();
        return;
    }
    advance_rip();
}
