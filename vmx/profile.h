/* Tick profile of the Run path, for `make bench-profile` (docs/bench.md). A build with -DHV_PROFILE
 * adds up, per CPU, the TSC ticks between consecutive numbered points of a root's Run: the segment a
 * point closes is charged to that point. GET_STATS logs the averages and starts over. In every other
 * build the marks compile to nothing, so the figures of `make bench` never include them. */
#ifndef VMX_PROFILE_H
#define VMX_PROFILE_H

#include "arch/x86/cpu.h"
#include "vmx/percpu.h"

enum prof_point {
    PROF_ROOT,          /* VMRESUME of the root, the root's library, its VMCALL exit and the stub */
    PROF_RUN_CHECKS,    /* hypercall dispatch and the Run's block checks */
    PROF_CLAIM,         /* partition and VP lookup, the claim */
    PROF_TLB,           /* the VP's TLB and EPT-generation checks */
    PROF_STATE_IN,      /* FPU/XSAVE, syscall MSRs, debug registers, CR2 to the VP */
    PROF_VMCS_IN,       /* VMPTRLD, host state on a move, property-driven controls */
    PROF_TRANSIT,       /* VM entry, the guest, its VM exit, the stub, the dispatcher */
    PROF_DECODE,        /* the exit reason's own payload */
    PROF_FETCH,         /* instruction bytes through the guest's paging and the GPA map */
    PROF_VP_CONTEXT,    /* WHV_VP_EXIT_CONTEXT */
    PROF_STATE_OUT,     /* the root's FPU, MSRs, debug registers, CR2 */
    PROF_VMCS_OUT,      /* VMCLEAR of the VP's VMCS, VMPTRLD of the root's */
    PROF_COPY,          /* the exit context to the root, status, RIP past the VMCALL */
    PROF_POINTS
};

_Static_assert(PROF_POINTS <= 16, "struct cpu keeps 16 profile slots");

#ifdef HV_PROFILE
static inline void prof_mark(struct cpu *c, enum prof_point p)
{
    uint64_t t = rdtsc();
    c->prof_sum[p] += t - c->prof_last;
    c->prof_count[p]++;
    c->prof_last = t;
}
void prof_report(void);
#else
static inline void prof_mark(struct cpu *c, enum prof_point p) { (void)c; (void)p; }
static inline void prof_report(void) {}
#endif

#endif
