/* A child VP's VMCS. Controls make every event the root must see exit: external interrupts and NMIs
 * (they belong to the root), HLT, all I/O, all MSRs (no bitmap), CR8 (the child must never reach the real
 * TPR), MONITOR/MWAIT; the preemption timer bounds a slice so cancels are seen. Each VP has its own VPID
 * where the CPU offers VPIDs. The VMCS is VMCLEARed
 * after every use, so a VP may run on any CPU; host state is written for the CPU that acquires it. */
#include "arch/x86/cpu.h"
#include "arch/x86/log.h"
#include "vmx/hv.h"
#include "vmx/partition.h"
#include "vmx/root_vmcs.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_ops.h"

#define SLICE_TIMER 0x100000u        /* preemption-timer units per slice (TSC >> IA32_VMX_MISC[4:0]) */

struct child_controls { uint32_t pin, proc, proc2, exit, entry; bool ready; };
static struct child_controls ctl;

static int compute_controls(const struct vmx_caps *k)
{
    uint32_t need_proc = PROC_HLT_EXITING | PROC_UNCONDITIONAL_IO_EXITING | PROC_CR8_LOAD_EXITING |
                         PROC_CR8_STORE_EXITING | PROC_ACTIVATE_SECONDARY;
    uint32_t need_pin = PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_PREEMPTION_TIMER;
    uint32_t need_exit = EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_EFER | EXIT_LOAD_EFER;
    uint32_t need_entry = ENTRY_LOAD_EFER;
    int bad = 0;
    bad |= vmx_adjust_controls(k, VMX_CTL_PIN, need_pin | PIN_VIRTUAL_NMIS, need_pin, &ctl.pin);
    bad |= vmx_adjust_controls(k, VMX_CTL_PROC, need_proc | PROC_MWAIT_EXITING | PROC_MONITOR_EXITING |
                               PROC_USE_TSC_OFFSETTING, need_proc, &ctl.proc);
    bad |= vmx_adjust_controls(k, VMX_CTL_PROC2,
                               PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST | PROC2_ENABLE_RDTSCP | PROC2_ENABLE_VPID,
                               PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST, &ctl.proc2);
    bad |= vmx_adjust_controls(k, VMX_CTL_EXIT, need_exit | EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_DEBUG_CONTROLS,
                               need_exit, &ctl.exit);
    bad |= vmx_adjust_controls(k, VMX_CTL_ENTRY, need_entry | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG_CONTROLS,
                               need_entry, &ctl.entry);
    ctl.ready = !bad;
    return bad ? -1 : 0;
}

#define DR7_BREAKPOINT_ENABLES 0xFFu   /* L0, G0 .. L3, G3 */

/* Property-driven controls, refreshed at every acquire so property changes apply at the next run. */
static void write_partition_controls(struct cpu *c, const struct partition *p, const struct vp *v)
{
    uint32_t proc = ctl.proc;
    /* DR0-DR3 go into the CPU for a Run only if DR7 enables a breakpoint; else MOV DR exits until the
     * VP touches them (vmx/vp_switch.c). */
    c->run_drs_loaded = (vmcs_readnat(VMCS_GUEST_DR7) & DR7_BREAKPOINT_ENABLES) != 0;
    if (!c->run_drs_loaded)
        proc |= PROC_MOV_DR_EXITING;
    if (p->extended_exits & EXT_EXIT_RDTSC)
        proc |= PROC_RDTSC_EXITING;
    if (v->deliverability & 2)      /* InterruptNotification */
        proc |= PROC_INTERRUPT_WINDOW_EXITING;
    if ((v->deliverability & 1) && (ctl.pin & PIN_VIRTUAL_NMIS))   /* NmiNotification */
        proc |= PROC_NMI_WINDOW_EXITING;
    vmcs_write32(VMCS_PROC_CONTROLS, proc);
    vmcs_write32(VMCS_EXCEPTION_BITMAP, (p->extended_exits & EXT_EXIT_EXCEPTION) ? (uint32_t)p->exception_bitmap : 0);
    vmcs_write32(VMCS_PREEMPTION_TIMER, SLICE_TIMER);
}

int vp_vmcs_init(struct cpu *c, struct partition *p, struct vp *v)
{
    if (!ctl.ready && compute_controls(&c->caps) != 0) {
        log_error("child partitions need VMX controls this CPU lacks");
        return -1;
    }
    *(volatile uint32_t *)(uintptr_t)v->vmcs_pa = vmx_revision(&c->caps);
    if (vmclear(v->vmcs_pa) != VMX_OK || vmptrld(v->vmcs_pa) != VMX_OK) {
        vmptrld(c->root_vmcs_pa);
        return -1;
    }
    vmcs_write32(VMCS_PIN_CONTROLS, ctl.pin);
    vmcs_write32(VMCS_PROC_CONTROLS, ctl.proc);
    vmcs_write32(VMCS_PROC_CONTROLS2, ctl.proc2);
    vmcs_write32(VMCS_EXIT_CONTROLS, ctl.exit);
    vmcs_write32(VMCS_ENTRY_CONTROLS, ctl.entry);
    vmcs_write_unused_controls();
    vmcs_write64(VMCS_TSC_OFFSET, 0);
    vmcs_write64(VMCS_EPT_POINTER, p->eptp);
    /* With a VPID, VM entries and exits keep the VP's translations: every event that must drop them
     * moves the partition's ept_gen instead (vmx/partition.h). */
    if (ctl.proc2 & PROC2_ENABLE_VPID)
        vmcs_write16(VMCS_VPID, v->vpid);
    vmcs_write64(VMCS_LINK_POINTER, ~0ull);
    vmcs_writenat(VMCS_CR0_GUEST_HOST_MASK, c->cr0_mask);
    vmcs_writenat(VMCS_CR4_GUEST_HOST_MASK, c->cr4_mask);
    vmcs_write_host_state(c);
    v->host_cpu = c->index;
    write_partition_controls(c, p, v);
    vmcs_load_real_mode_state(&c->caps, 0xF000, 0xFFFF0000ull, 0xFFF0);
    vmclear(v->vmcs_pa);
    vmptrld(c->root_vmcs_pa);
    return 0;
}

void vp_vmcs_acquire(struct cpu *c, struct partition *p, struct vp *v)
{
    vmptrld(v->vmcs_pa);
    /* Host state differs per CPU (stack, GS, TR, GDT) and survives VMCLEAR: rewrite it only on a move. */
    if (v->host_cpu != c->index) {
        vmcs_write_host_state(c);
        v->host_cpu = c->index;
    }
    write_partition_controls(c, p, v);
}

void vp_vmcs_release(struct cpu *c, struct vp *v)
{
    vmclear(v->vmcs_pa);
    vmptrld(c->root_vmcs_pa);
}
