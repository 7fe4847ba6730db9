/* The run loop. Scheduling is donated: the root's Run hypercall switches this CPU from the root's VMCS
 * to the VP's and returns to the exit stub, which launches the VP. The VP's exits come back here; those
 * the root must see end the run: the WHV exit context goes to the root's buffer, the root's VMCS becomes
 * current again and its VMCALL completes. An external interrupt or NMI belongs to the root: the run ends
 * without completing the VMCALL, so the root takes the interrupt and re-executes the Run transparently. */
#include "vmx/vp_run.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/log.h"
#include "arch/x86/msr.h"
#include "arch/x86/string.h"
#include "vmx/exit_decode.h"
#include "vmx/exits.h"
#include "vmx/guest_cr.h"
#include "vmx/guest_walk.h"
#include "vmx/hv.h"
#include "vmx/inject.h"
#include "vmx/profile.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_errors.h"
#include "vmx/vmx_ops.h"
#include "vmx/vp_registers.h"
#include "vmx/vp_switch.h"

enum vp_action { VP_RESUME, VP_REPORT, VP_RESTART_ROOT };
typedef enum vp_action vp_exit_fn(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x);

#define VMX_BASIC_INS_OUTS_INFO (1ull << 54)

static uint64_t live_read(void *ctx, uint32_t field) { (void)ctx; return vmcs_read_raw(field); }
static const struct vmcs_view live_vmcs = { live_read, 0 };

static void fxsave(uint8_t *area) { __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area)); }

static void switch_to_vp(struct cpu *c, struct partition *p, struct vp *v)
{
    c->run_vp = v;
    c->run_partition = p;
    if (v->tlb_stale) {              /* the register API changed its paging state since the last run */
        v->tlb_stale = false;
        partition_tlb_changed(c, p);
    }
    uint64_t gen = __atomic_load_n(&p->ept_gen, __ATOMIC_ACQUIRE);
    if (p->cpu_ept_gen[c->index] != gen) {   /* see struct partition: stale translations on this CPU */
        invept(INVEPT_SINGLE_CONTEXT, p->eptp);
        p->cpu_ept_gen[c->index] = gen;
    }
    prof_mark(c, PROF_TLB);
    vp_vmcs_acquire(c, p, v);          /* first: the state switch reads the VP's EFER */
    prof_mark(c, PROF_VMCS_IN);
    vp_switch_to_vp(c, v);
    prof_mark(c, PROF_STATE_IN);
    c->current_regs = &v->regs;
    c->launch_pending = 1;
}

/* Back to the root. With an exit context the root's VMCALL completes with SUCCESS; without one the
 * VMCALL is left to re-execute (an interrupt or NMI of the root's came first). */
static void switch_to_root(struct cpu *c, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    struct vp *v = c->run_vp;
    vp_switch_to_root(c, v);
    prof_mark(c, PROF_STATE_OUT);
    vp_vmcs_release(c, v);
    prof_mark(c, PROF_VMCS_OUT);
    c->current_regs = &c->root_regs;
    c->launch_pending = 0;
    c->run_vp = 0;
    c->run_partition = 0;
    vp_unclaim(v);
    if (!x) {
        /* The root's VMCALL re-executes. If it carried register writes, they are made: as a Hyper-V
         * hypercall continuation updates RCX, the call becomes a plain RUN_VP (its block's header reads
         * as hv_vp_in; RUN_VP ignores the field where the count sits), so the VP keeps its progress. */
        if (c->run_wrote_registers)
            c->root_regs.gpr[R_RCX] = HVCALL_RUN_VP;
        return;
    }
    memcpy((void *)(uintptr_t)c->run_exit_gpa, x, sizeof *x);
    c->root_regs.gpr[R_RAX] = HV_STATUS_SUCCESS;
    advance_rip();   /* the root VMCS still holds its VMCALL exit's instruction length */
    prof_mark(c, PROF_COPY);
}

/* The exit context starts all zeros. Exits that are mostly handled inside (see exits_zeroed_late) leave
 * it to the branch that reports, so a CPUID or MSR answered in the hypervisor does not pay 224 bytes of
 * stores (c in make bench). */
static void clear_context(WHV_RUN_VP_EXIT_CONTEXT *x)
{
    memset(x, 0, sizeof *x);
}

static enum vp_action canceled(struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    clear_context(x);
    v->cancel_pending = 0;
    x->ExitReason = WHvRunVpExitReasonCanceled;
    exit_decode_canceled(&x->CancelReason);
    return VP_REPORT;
}

/* VpContext, and the fields it read that the instruction fetch needs too. Exits that report bytes
 * decode it first (before the fetch); report() decodes it for the others. */
static void decode_vp_context(struct cpu *c, WHV_RUN_VP_EXIT_CONTEXT *x, struct vp_context_raw *raw)
{
    exit_decode_vp_context_raw(&live_vmcs, exit_decode_instruction_length(&live_vmcs, c->run_exit_basic),
                               (uint8_t)c->run_vp->cr8, &x->VpContext, raw);
    c->run_context_done = true;
    prof_mark(c, PROF_VP_CONTEXT);
}

static void report(struct cpu *c, WHV_RUN_VP_EXIT_CONTEXT *x, uint32_t basic)
{
    struct vp_context_raw raw;
    c->run_exit_basic = basic;
    if (!c->run_context_done)
        decode_vp_context(c, x, &raw);
    switch_to_root(c, x);
}

/* The VpContext (decoded now: the fetch reuses what it read) and up to 16 instruction bytes. */
static uint32_t fetch_instruction(struct cpu *c, const struct partition *p, WHV_RUN_VP_EXIT_CONTEXT *x,
                                  uint8_t out[16]);

/* An exception the hypervisor raises for the guest (#UD for VMCALL without HypercallExit, #GP for an
 * unknown MSR) goes where a real one would: an Exception exit when the VMM asked for that vector, else
 * into the guest. */
static enum vp_action raise_exception(struct cpu *c, struct partition *p, WHV_RUN_VP_EXIT_CONTEXT *x,
                                      uint8_t vector, int has_error)
{
    if ((p->extended_exits & EXT_EXIT_EXCEPTION) && (p->exception_bitmap & (1ull << vector))) {
        clear_context(x);
        x->ExitReason = WHvRunVpExitReasonException;
        x->VpException.ExceptionType = vector;
        x->VpException.ExceptionInfo.ErrorCodeValid = has_error;
        x->VpException.InstructionByteCount = (UINT8)fetch_instruction(c, p, x, x->VpException.InstructionBytes);
        return VP_REPORT;
    }
    inject_hw_exception(vector, has_error, 0);
    return VP_RESUME;
}

/* ---- exits */

static enum vp_action on_exception(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)v;
    uint32_t info = vmcs_read32(VMCS_EXIT_INTR_INFO);
    if (((info >> 8) & 7) == 2) {          /* an NMI of the root's arrived while the VP ran */
        c->nmi_pending = 1;
        return VP_RESTART_ROOT;
    }
    x->ExitReason = WHvRunVpExitReasonException;
    exit_decode_exception(&live_vmcs, &x->VpException);
    x->VpException.InstructionByteCount = (UINT8)fetch_instruction(c, p, x, x->VpException.InstructionBytes);
    return VP_REPORT;
}

static enum vp_action on_root_event(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p;
    return v->cancel_pending ? canceled(v, x) : VP_RESTART_ROOT;
}

static enum vp_action on_preemption_timer(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p;
    /* Back to the root at every slice, not only on a cancel: the root's timer interrupts must not wait
     * for the guest (some CPUs, and Bochs, hold them while a child runs with IF=0). The root's VMCALL
     * re-executes the Run transparently. */
    return v->cancel_pending ? canceled(v, x) : VP_RESTART_ROOT;
}

static enum vp_action on_triple_fault(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p; (void)v;
    /* The VMM repairs the state and runs again: the VP must not stay in the shutdown state. */
    vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
    x->ExitReason = WHvRunVpExitReasonUnrecoverableException;
    return VP_REPORT;
}

static enum vp_action on_interrupt_window(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p;
    bool nmi = (vmcs_read32(VMCS_EXIT_REASON) & 0xFFFF) == EXIT_NMI_WINDOW;
    v->deliverability &= nmi ? ~1ull : ~2ull;   /* one-shot, per kind */
    x->ExitReason = WHvRunVpExitReasonX64InterruptWindow;
    exit_decode_interrupt_window(nmi, &x->InterruptWindow);
    return VP_REPORT;
}

static enum vp_action on_task_switch(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p; (void)v;
    x->ExitReason = WHvRunVpExitReasonUnsupportedFeature;
    exit_decode_task_switch(&live_vmcs, &x->UnsupportedFeature);
    return VP_REPORT;
}

static enum vp_action on_cpuid(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    uint64_t *g = v->regs.gpr;
    uint32_t leaf = (uint32_t)g[R_RAX];
    struct cpuid_regs r;
    /* The list checks are calls: skip them when the lists are empty (c in make bench). */
    const struct cpuid_result *fixed = p->cpuid_result_count ? partition_cpuid_result(p, leaf) : 0;
    if (fixed)   /* CpuidResultList: the VMM's answer, for every subleaf */
        r = (struct cpuid_regs){ fixed->eax, fixed->ebx, fixed->ecx, fixed->edx };
    else         /* only leaves 1 and 7 depend on CR4: the others skip its two VMREADs (c in make bench) */
        r = cpuid_answer(leaf, (uint32_t)g[R_RCX], (leaf == 1 || leaf == 7) ? guest_cr4(c) : 0);
    if (!fixed && leaf == 0xD && (uint32_t)g[R_RCX] == 0) {   /* only the XCR0 components switched per VP */
        r.eax &= (uint32_t)vp_xcr0_allowed();
        r.edx &= (uint32_t)(vp_xcr0_allowed() >> 32);
    }
    /* The initial APIC ID is per VP, which a partition-wide list cannot say (docs/partitions.md). */
    if (leaf == 1)
        r.ebx = (r.ebx & 0x00FFFFFFu) | (v->index << 24);   /* initial APIC id = VP index */
    if ((p->extended_exits & EXT_EXIT_CPUID) && partition_cpuid_exits(p, leaf)) {
        clear_context(x);
        x->ExitReason = WHvRunVpExitReasonX64Cpuid;
        exit_decode_cpuid(&v->regs, &r, &x->CpuidAccess);
        return VP_REPORT;
    }
    g[R_RAX] = r.eax; g[R_RBX] = r.ebx; g[R_RCX] = r.ecx; g[R_RDX] = r.edx;
    advance_rip();
    return VP_RESUME;
}

static enum vp_action on_hlt(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p; (void)v;
    advance_rip();                         /* X64Halt: RIP is already past the HLT */
    x->ExitReason = WHvRunVpExitReasonX64Halt;
    return VP_REPORT;
}

static enum vp_action on_cache_flush(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p; (void)v; (void)x;
    __asm__ volatile("wbinvd" ::: "memory");
    advance_rip();
    return VP_RESUME;
}

static enum vp_action on_rdtsc(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)c; (void)p;
    uint32_t basic = vmcs_read32(VMCS_EXIT_REASON) & 0xFFFF;
    x->ExitReason = WHvRunVpExitReasonX64Rdtsc;
    exit_decode_rdtsc(basic == EXIT_RDTSCP, rdtsc(), vmcs_read64(VMCS_TSC_OFFSET), v->tsc_aux, &x->ReadTsc);
    return VP_REPORT;
}

static enum vp_action on_vmcall(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    if (!(p->extended_exits & EXT_EXIT_HYPERCALL))
        return raise_exception(c, p, x, VEC_UD, 0);
    uint8_t now[512] __attribute__((aligned(16)));
    fxsave(now);                           /* the VP's XMM registers are live in the CPU */
    x->ExitReason = WHvRunVpExitReasonHypercall;
    exit_decode_hypercall(&v->regs, (const uint8_t(*)[16])(now + 160), &x->Hypercall);
    return VP_REPORT;
}

static enum vp_action on_undefined(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)v;
    /* VMX, SMX, MONITOR/MWAIT are not offered to children: #UD, an Exception exit when the VMM asked
     * for that vector (as for a hardware #UD), else injected. */
    return raise_exception(c, p, x, VEC_UD, 0);
}

/* MOV DR while the VP's DR0-DR3 are not in the CPU: load them, stop exiting, and let the MOV run. */
static enum vp_action on_dr_access(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)p; (void)x;
    if (!c->run_drs_loaded)
        vp_switch_load_debug_registers(c, v);
    vmcs_write32(VMCS_PROC_CONTROLS, vmcs_read32(VMCS_PROC_CONTROLS) & ~PROC_MOV_DR_EXITING);
    return VP_RESUME;
}

static enum vp_action on_cr_access(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)p; (void)x;
    uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
    if ((q & 0xF) != 8) {
        exit_cr_access(c);                 /* CR0/CR4 bits the hypervisor owns, as for the root */
        partition_tlb_changed(c, p);       /* emulated, so the CPU's own flush of the MOV did not happen */
        return VP_RESUME;
    }
    /* CR8 is the VP's own TPR: the real one belongs to the root. */
    unsigned reg = (q >> 8) & 0xF;
    bool to_cr = ((q >> 4) & 3) == 0;
    if (reg == R_RSP) {
        if (to_cr) v->cr8 = vmcs_readnat(VMCS_GUEST_RSP) & 0xF;
        else vmcs_writenat(VMCS_GUEST_RSP, v->cr8);
    } else if (to_cr) {
        v->cr8 = v->regs.gpr[reg] & 0xF;
    } else {
        v->regs.gpr[reg] = v->cr8;
    }
    advance_rip();
    return VP_RESUME;
}

/* The partition's memory as the guest walker sees it: GPA -> root RAM through the GPA map. */
static int guest_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    const struct partition *p = ctx;
    uint64_t hpa;
    uint32_t flags;
    if (!gpa_map_translate(&p->map, gpa, &hpa, &flags))
        return GUEST_MEM_UNMAPPED;
    if (!(flags & WHvMapGpaRangeFlagRead))
        return GUEST_MEM_NO_READ;
    memcpy(buf, (const void *)(uintptr_t)hpa, len);
    return GUEST_MEM_OK;
}

static int guest_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    const struct partition *p = ctx;
    uint64_t hpa;
    uint32_t flags;
    if (!gpa_map_translate(&p->map, gpa, &hpa, &flags))
        return GUEST_MEM_UNMAPPED;
    if (!(flags & WHvMapGpaRangeFlagWrite))
        return GUEST_MEM_NO_WRITE;
    memcpy((void *)(uintptr_t)hpa, buf, len);
    return GUEST_MEM_OK;
}

void vp_guest_memory(const struct partition *p, struct guest_memory *m)
{
    m->ctx = (void *)p;
    m->read = guest_read;
    m->write = guest_write;
}

/* The VP's paging state from its VMCS (current on this CPU), as the guest sees CR0/CR4. */
void vp_paging_state(const struct cpu *c, struct guest_paging_state *s)
{
    s->cr0 = guest_cr0(c);
    s->cr3 = vmcs_readnat(VMCS_GUEST_CR3);
    s->cr4 = guest_cr4(c);
    s->efer = vmcs_read64(VMCS_GUEST_EFER);
    s->cpl = (vmcs_read32(VMCS_GUEST_SS_AR) >> 5) & 3;
    s->maxphyaddr = hv.mtrr.phys_bits;
}

/* Up to 16 instruction bytes from CS.base + RIP through the guest's paging and the GPA map: VMX does
 * not provide them, and VMMs need them to emulate I/O strings and MMIO. CR0, EFER, CPL, CS and RIP come
 * from the VpContext decode; CR3 and CR4 matter only with paging on. */
/* Without paging the linear address is the GPA: the 16 bytes are one copy when both ends are readable
 * and the GPA map puts them at consecutive host addresses (they span at most two pages, and ranges are
 * whole pages). Anything else (an unmapped or unreadable end, two pages apart in the root, a wrap at
 * 4 GiB) goes to the walker, which also fetches a partial instruction. */
static bool fetch_unpaged(const struct partition *p, uint64_t linear, uint8_t out[16])
{
    uint64_t first, last;
    uint32_t first_flags, last_flags;
    if (linear + 15 > 0xFFFFFFFFull || !gpa_map_translate(&p->map, linear, &first, &first_flags) ||
        !gpa_map_translate(&p->map, linear + 15, &last, &last_flags) ||
        !(first_flags & last_flags & WHvMapGpaRangeFlagRead) || last - first != 15)
        return false;
    memcpy(out, (const void *)(uintptr_t)first, 16);
    return true;
}

static uint32_t fetch_instruction(struct cpu *c, const struct partition *p, WHV_RUN_VP_EXIT_CONTEXT *x,
                                  uint8_t out[16])
{
    struct vp_context_raw raw;
    decode_vp_context(c, x, &raw);
    if (!(raw.cr0 & CR0_PG) && fetch_unpaged(p, (raw.cs_base + raw.rip) & 0xFFFFFFFFull, out))
        return 16;
    struct guest_memory mem;
    struct guest_paging_state s;
    vp_guest_memory(p, &mem);
    s.cr0 = raw.cr0;
    s.efer = raw.efer;
    s.cpl = (raw.ss_ar >> 5) & 3;
    s.maxphyaddr = hv.mtrr.phys_bits;
    s.cr3 = (s.cr0 & CR0_PG) ? vmcs_readnat(VMCS_GUEST_CR3) : 0;
    s.cr4 = (s.cr0 & CR0_PG) ? guest_cr4(c) : 0;
    bool long_mode = (s.efer & EFER_LMA) && (raw.cs_ar & (1u << 13));
    return guest_fetch_instruction(&mem, &s, raw.cs_base, raw.rip, long_mode, out);
}

static enum vp_action on_io(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    x->ExitReason = WHvRunVpExitReasonX64IoPortAccess;
    exit_decode_io(&live_vmcs, &v->regs, c->caps.basic & VMX_BASIC_INS_OUTS_INFO, &x->IoPortAccess);
    prof_mark(c, PROF_DECODE);
    x->IoPortAccess.InstructionByteCount = (UINT8)fetch_instruction(c, p, x, x->IoPortAccess.InstructionBytes);
    prof_mark(c, PROF_FETCH);
    return VP_REPORT;
}

/* MSRs the hypervisor answers itself: those that live in the VMCS or in the VP. */
static bool msr_internal(struct vp *v, uint32_t msr, bool write, uint64_t *val)
{
    uint32_t field = 0;
    uint64_t *slot = 0;
    switch (msr) {
    case MSR_IA32_EFER: field = VMCS_GUEST_EFER; break;
    case MSR_IA32_PAT: field = VMCS_GUEST_PAT; break;
    case MSR_IA32_FS_BASE: field = VMCS_GUEST_FS_BASE; break;
    case MSR_IA32_GS_BASE: field = VMCS_GUEST_GS_BASE; break;
    case MSR_IA32_SYSENTER_CS: field = VMCS_GUEST_SYSENTER_CS; break;
    case MSR_IA32_SYSENTER_ESP: field = VMCS_GUEST_SYSENTER_ESP; break;
    case MSR_IA32_SYSENTER_EIP: field = VMCS_GUEST_SYSENTER_EIP; break;
    case MSR_IA32_APIC_BASE: slot = &v->apic_base; break;
    case 0x1A0:  /* IA32_MISC_ENABLE: fast strings; BTS and PEBS unavailable. Writes are ignored. */
        if (!write) *val = 0x1801;
        return true;
    case 0x8B:   /* IA32_BIOS_SIGN_ID: no microcode update loaded. Writes (the read protocol) ignored. */
        if (!write) *val = 0;
        return true;
    case 0x10:   /* IA32_TIME_STAMP_COUNTER */
        if (write) vmcs_write64(VMCS_TSC_OFFSET, *val - rdtsc());
        else *val = rdtsc() + vmcs_read64(VMCS_TSC_OFFSET);
        return true;
    default:
        return false;
    }
    if (slot) {
        if (write) *slot = *val; else *val = *slot;
        return true;
    }
    if (field == VMCS_GUEST_EFER && write) {
        set_guest_efer(*val);
    } else if (write) {
        vmcs_write_raw(field, *val);
    } else {
        *val = vmcs_read_raw(field);
    }
    return true;
}

/* X64MsrExitBitmap: MSRs the hypervisor would answer that the VMM asked to see (with X64MsrExit). */
static bool msr_exit_requested(uint64_t bitmap, uint32_t msr, bool write)
{
    switch (msr) {
    case 0x10: return bitmap & (write ? MSR_EXIT_TSC_WRITE : MSR_EXIT_TSC_READ);
    case MSR_IA32_APIC_BASE: return write && (bitmap & MSR_EXIT_APIC_BASE_WRITE);
    case 0x1A0: return !write && (bitmap & MSR_EXIT_MISC_ENABLE_READ);
    case 0x8B: return !write && (bitmap & MSR_EXIT_PATCH_LEVEL_READ);
    default: return false;
    }
}

static enum vp_action on_msr(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    bool write = (vmcs_read32(VMCS_EXIT_REASON) & 0xFFFF) == EXIT_WRMSR;
    uint64_t *g = v->regs.gpr;
    uint32_t msr = (uint32_t)g[R_RCX];
    uint64_t val = (g[R_RDX] << 32) | (uint32_t)g[R_RAX];
    bool msr_exits = p->extended_exits & EXT_EXIT_MSR;
    int switched = vp_switched_msr_index(msr);
    bool answered;
    if (switched >= 0) {             /* the syscall MSRs: the CPU holds the VP's while it runs */
        if (write && !vp_switched_msr_write(c, v, switched, val))
            return raise_exception(c, p, x, VEC_GP, 1);   /* a value the CPU refuses: non-canonical, reserved bits */
        if (!write)
            val = vp_switched_msr_read(c, v, switched);
        answered = true;
    } else {
        answered = !(msr_exits && msr_exit_requested(p->msr_exit_bitmap, msr, write)) &&
                   msr_internal(v, msr, write, &val);
    }
    if (answered) {
        if (!write) { g[R_RAX] = (uint32_t)val; g[R_RDX] = val >> 32; }
        if (write && msr == MSR_IA32_EFER) {
            partition_tlb_changed(c, p);   /* NXE and LME change translations; no CPU flush happened */
            vp_switch_efer_written(c, v);  /* SCE: SYSCALL's MSRs now matter */
        }
        advance_rip();
        return VP_RESUME;
    }
    if (!msr_exits)
        return raise_exception(c, p, x, VEC_GP, 1);   /* unknown MSR without the MSR exit: #GP(0) */
    clear_context(x);
    x->ExitReason = WHvRunVpExitReasonX64MsrAccess;
    exit_decode_msr(&v->regs, write, &x->MsrAccess);
    return VP_REPORT;
}

static enum vp_action on_ept_violation(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    (void)v;
    uint64_t hpa;
    uint32_t flags;
    bool mapped = gpa_map_translate(&p->map, vmcs_read64(VMCS_GUEST_PHYSICAL_ADDR), &hpa, &flags);
    x->ExitReason = WHvRunVpExitReasonMemoryAccess;
    exit_decode_ept_violation(&live_vmcs, !mapped, &x->MemoryAccess);
    /* An execute fault's "instruction" is the unreachable target itself: no bytes (whv-abi-facts). */
    if (x->MemoryAccess.AccessInfo.AccessType != WHvMemoryAccessExecute)
        x->MemoryAccess.InstructionByteCount = (UINT8)fetch_instruction(c, p, x, x->MemoryAccess.InstructionBytes);
    return VP_REPORT;
}

/* XSETBV: XCR0 is the VP's own, switched at the edges of a Run (vmx/vp_switch.c); values outside the
 * components the hypervisor switches are refused as a CPU without them would refuse them. */
static enum vp_action on_xsetbv(struct cpu *c, struct partition *p, struct vp *v, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    uint64_t *g = v->regs.gpr;
    uint64_t val = (g[R_RDX] << 32) | (uint32_t)g[R_RAX];
    if ((uint32_t)g[R_RCX] != 0 || !vp_xcr0_valid(val) || xsetbv_safe(0, val) != 0)
        return raise_exception(c, p, x, VEC_GP, 1);
    v->xcr0 = val;
    advance_rip();
    return VP_RESUME;
}

static vp_exit_fn *const vp_exit_handlers[VMX_EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_NMI] = on_exception,
    [EXIT_EXTERNAL_INTERRUPT] = on_root_event,
    [EXIT_TRIPLE_FAULT] = on_triple_fault,
    [EXIT_INIT] = on_root_event,
    [EXIT_INTERRUPT_WINDOW] = on_interrupt_window,
    [EXIT_NMI_WINDOW] = on_interrupt_window,
    [EXIT_TASK_SWITCH] = on_task_switch,
    [EXIT_CPUID] = on_cpuid,
    [EXIT_GETSEC] = on_undefined,
    [EXIT_HLT] = on_hlt,
    [EXIT_INVD] = on_cache_flush,
    [EXIT_RDTSC] = on_rdtsc,
    [EXIT_VMCALL] = on_vmcall,
    [EXIT_VMCLEAR] = on_undefined, [EXIT_VMLAUNCH] = on_undefined, [EXIT_VMPTRLD] = on_undefined,
    [EXIT_VMPTRST] = on_undefined, [EXIT_VMREAD] = on_undefined, [EXIT_VMRESUME] = on_undefined,
    [EXIT_VMWRITE] = on_undefined, [EXIT_VMXOFF] = on_undefined, [EXIT_VMXON] = on_undefined,
    [EXIT_CR_ACCESS] = on_cr_access,
    [EXIT_DR_ACCESS] = on_dr_access,
    [EXIT_IO] = on_io,
    [EXIT_RDMSR] = on_msr,
    [EXIT_WRMSR] = on_msr,
    [EXIT_MWAIT] = on_undefined,
    [EXIT_MONITOR] = on_undefined,
    [EXIT_EPT_VIOLATION] = on_ept_violation,
    [EXIT_INVEPT] = on_undefined,
    [EXIT_RDTSCP] = on_rdtsc,
    [EXIT_PREEMPTION_TIMER] = on_preemption_timer,
    [EXIT_INVVPID] = on_undefined,
    [EXIT_WBINVD] = on_cache_flush,
    [EXIT_XSETBV] = on_xsetbv,
    [EXIT_VMFUNC] = on_undefined,
};

/* Handlers that clear the exit context themselves, in every branch that reports (clear_context). */
static const bool exits_zeroed_late[VMX_EXIT_REASON_COUNT] = {
    [EXIT_CPUID] = true, [EXIT_RDMSR] = true, [EXIT_WRMSR] = true, [EXIT_CR_ACCESS] = true, [EXIT_DR_ACCESS] = true,
    [EXIT_EXTERNAL_INTERRUPT] = true, [EXIT_PREEMPTION_TIMER] = true, [EXIT_INVD] = true, [EXIT_WBINVD] = true,
};

/* Inline into the dispatcher (vmx/exit_dispatch.c, through -flto): a child exit the hypervisor answers
 * itself then pays no more calls than a root exit (c in make bench: 332 -> 287 ticks, c/a 1.26). */
__attribute__((always_inline)) inline void vp_exit(struct cpu *c, uint32_t exit_reason)
{
    struct vp *v = c->run_vp;
    struct partition *p = c->run_partition;
    WHV_RUN_VP_EXIT_CONTEXT x;
    uint32_t basic = exit_reason & 0xFFFF;
    c->run_exit_basic = basic;
    c->run_context_done = false;
    if (!(basic < VMX_EXIT_REASON_COUNT && exits_zeroed_late[basic]) || (exit_reason & VMX_EXIT_REASON_ENTRY_FAILURE))
        clear_context(&x);
    if (exit_reason & VMX_EXIT_REASON_ENTRY_FAILURE) {
        /* The VMM's register values do not form a state VM entry accepts. */
        x.ExitReason = WHvRunVpExitReasonInvalidVpRegisterValue;
        report(c, &x, basic);
        return;
    }
    if (basic == EXIT_EPT_MISCONFIG)
        hv_panic(c, "EPT misconfiguration in a child partition");
    vp_exit_fn *h = basic < VMX_EXIT_REASON_COUNT ? vp_exit_handlers[basic] : 0;
    enum vp_action a;
    if (h) {
        a = h(c, p, v, &x);
    } else {
        /* An exit this version does not handle: the VMM is told which, the hypervisor carries on. */
        x.ExitReason = WHvRunVpExitReasonUnsupportedFeature;
        x.UnsupportedFeature.FeatureCode = WHvUnsupportedFeatureIntercept;
        x.UnsupportedFeature.FeatureParameter = basic;
        a = VP_REPORT;
    }
    if (a == VP_REPORT)
        report(c, &x, basic);
    else if (a == VP_RESTART_ROOT)
        switch_to_root(c, 0);
    if (a == VP_RESTART_ROOT && basic == EXIT_INIT)
        exit_init(c);                      /* the INIT was the root's: apply it to the root */
}

/* SDM 26.2.1.3, the VM-entry interruption field: a hardware exception's vector is at most 31, and it
 * delivers an error code exactly for vectors 8, 10-14, 17 and 21 with CR0.PE set (unrestricted guest);
 * other types deliver none. The register API refuses what is wrong in every mode; this catches what the
 * VP's CR0.PE makes wrong now (one VMREAD when no event is pending). */
static bool pending_event_enterable(void)
{
    uint32_t info = vmcs_read32(VMCS_ENTRY_INTR_INFO);
    if (!(info & INTR_INFO_VALID))
        return true;
    uint32_t vector = info & 0xFF;
    bool exception = (info & (7u << 8)) == INTR_TYPE_HW_EXCEPTION;
    if (exception && vector > 31)
        return false;
    bool with_error = exception && (vmcs_readnat(VMCS_GUEST_CR0) & CR0_PE) && exception_has_error_code(vector);
    return with_error == ((info & INTR_INFO_ERROR_CODE_VALID) != 0);
}

uint16_t vp_run_begin_with_registers(struct cpu *c, uint64_t partition, uint32_t index, uint64_t exit_gpa,
                                     const uint32_t *names, const WHV_REGISTER_VALUE *values, uint32_t count)
{
    struct partition *p;
    uint16_t st;
    struct vp *v = vp_claim(partition, index, &p, &st);
    if (!v)
        return st;
    prof_mark(c, PROF_CLAIM);
    c->run_exit_gpa = exit_gpa;
    c->run_wrote_registers = count != 0;
    switch_to_vp(c, p, v);
    for (uint32_t i = 0; i < count; i++)   /* GPRs and RIP: any value is valid (hv_run_register_name_ok) */
        vp_set_gpr_or_rip(v, names[i], values[i].Reg64);
    if (v->cancel_pending) {
        /* A cancel while the VP was not running is kept: this Run returns Canceled at once. */
        WHV_RUN_VP_EXIT_CONTEXT x;
        memset(&x, 0, sizeof x);
        c->run_context_done = false;
        canceled(v, &x);
        report(c, &x, EXIT_PREEMPTION_TIMER);
    } else if (!pending_event_enterable()) {
        /* The VMM's pending event and the VP's mode disagree: a VM entry would fail on its controls
         * (VMfailValid). Reported as the refused guest state it is, without trying. */
        WHV_RUN_VP_EXIT_CONTEXT x;
        memset(&x, 0, sizeof x);
        c->run_context_done = false;
        x.ExitReason = WHvRunVpExitReasonInvalidVpRegisterValue;
        report(c, &x, EXIT_PREEMPTION_TIMER);
    }
    return HV_STATUS_DEFERRED;
}

uint16_t vp_run_begin(struct cpu *c, uint64_t partition, uint32_t index, uint64_t exit_gpa)
{
    return vp_run_begin_with_registers(c, partition, index, exit_gpa, 0, 0, 0);
}

uint16_t vp_cancel(uint64_t partition, uint32_t index)
{
    struct partition *p;
    uint16_t st;
    struct vp *v = vp_lookup(partition, index, &p, &st);
    if (!v)
        return st;
    __atomic_store_n(&v->cancel_pending, 1, __ATOMIC_RELEASE);
    return HV_STATUS_SUCCESS;
}
