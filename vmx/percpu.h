/* Per-CPU state of the hypervisor. The host GS base points at the CPU's struct cpu, so the exit stub
 * and C code find it with one GS-relative load. */
#ifndef VMX_PERCPU_H
#define VMX_PERCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "api/hv_abi.h"
#include "arch/x86/gdt.h"
#include "vmx/hypercall_validate.h"
#include "vmx/regs_layout.h"
#include "vmx/vmx_caps.h"

/* General registers in the SDM's numbering (exit qualifications name registers by this index).
 * gpr[4] (RSP) is never used: the guest's RSP lives in the VMCS. */
enum gpr { R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
           R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15 };
struct vcpu_regs { uint64_t gpr[16]; };
struct vp;
struct partition;

struct cpu {
    struct cpu *self;                 /* gs:CPU_SELF */
    struct vcpu_regs *current_regs;   /* gs:CPU_CURRENT_REGS: where the exit stub saves the guest */
    volatile uint32_t nmi_pending;    /* gs:CPU_NMI_PENDING: an NMI hit while in VMX root */
    uint32_t launch_pending;          /* gs:CPU_LAUNCH_PENDING: the current VMCS needs VMLAUNCH */
    uint64_t host_stack_top;          /* gs:CPU_HOST_STACK_TOP: the host RSP of every VMCS here */
    uint32_t index, apic_id;
    struct vcpu_regs root_regs;       /* the root partition's registers on this CPU */
    uint64_t vmxon_pa, root_vmcs_pa;
    uint64_t ist_stack_top;
    struct vmx_caps caps;
    uint64_t cr0_mask, cr4_mask;      /* guest/host masks: bits the root may not own */
    bool is_bsp;
    struct host_gdt gdt;
    uint64_t exits[HV_STATS_EXIT_REASONS];
    uint64_t hypercalls;
    uint64_t hidden_access_faults;
    /* A child VP donated this CPU by the root's Run hypercall (NULL while the root runs). */
    struct vp *run_vp;
    struct partition *run_partition;
    uint64_t run_exit_gpa;            /* where the exit context goes in the root */
    bool run_wrote_registers;         /* this Run came with register writes (SET_REGISTERS_AND_RUN_VP) */
    uint32_t run_root_instr_len;      /* the root's VMCALL, completed when the run ends */
    uint32_t run_exit_basic;          /* the VP's exit being handled: its basic reason */
    bool run_context_done;            /* its VpContext is decoded already (vp_run.c) */
    /* The root's state that VMX does not switch, kept here while a VP runs (vmx/vp_switch.c). */
    uint64_t root_cr2;
    uint64_t root_fpu_pa;             /* a page: the root's XSAVE (or FXSAVE) image */
    uint64_t root_xcr0;
    uint64_t root_msrs[6];            /* KERNEL_GS_BASE, STAR, LSTAR, CSTAR, SFMASK, TSC_AUX */
    bool root_msrs_cached;            /* root_msrs[1..5] still hold the root's values (vp_switch.h) */
    bool run_syscall_msrs_loaded;     /* the running VP's STAR..SFMASK are in the CPU (EFER.SCE) */
    bool run_drs_loaded;              /* the running VP's DR0-DR3 are in the CPU (vp_switch.c) */
    uint64_t root_dr[4], root_dr6;
    struct root_page_cache block_cache;   /* pages of root RAM the block checks passed (hypercall_validate.h) */
#ifdef HV_PROFILE
    uint64_t prof_last, prof_sum[16], prof_count[16];   /* vmx/profile.h */
#endif
};

#define CHECK_OFFSET(type, field, value) \
    _Static_assert(offsetof(type, field) == (value), #type "." #field " offset != " #value)
CHECK_OFFSET(struct vcpu_regs, gpr[R_RAX], REGS_RAX);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RCX], REGS_RCX);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RDX], REGS_RDX);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RBX], REGS_RBX);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RSP], REGS_RSP);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RBP], REGS_RBP);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RSI], REGS_RSI);
CHECK_OFFSET(struct vcpu_regs, gpr[R_RDI], REGS_RDI);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R8], REGS_R8);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R9], REGS_R9);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R10], REGS_R10);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R11], REGS_R11);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R12], REGS_R12);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R13], REGS_R13);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R14], REGS_R14);
CHECK_OFFSET(struct vcpu_regs, gpr[R_R15], REGS_R15);
_Static_assert(sizeof(struct vcpu_regs) == REGS_SIZE, "vcpu_regs size");
CHECK_OFFSET(struct cpu, self, CPU_SELF);
CHECK_OFFSET(struct cpu, current_regs, CPU_CURRENT_REGS);
CHECK_OFFSET(struct cpu, nmi_pending, CPU_NMI_PENDING);
CHECK_OFFSET(struct cpu, launch_pending, CPU_LAUNCH_PENDING);
CHECK_OFFSET(struct cpu, host_stack_top, CPU_HOST_STACK_TOP);

static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:%c1, %0" : "=r"(c) : "i"(CPU_SELF));
    return c;
}

#endif
