#ifndef VMX_VP_RUN_H
#define VMX_VP_RUN_H
#include "vmx/guest_walk.h"
#include "vmx/partition.h"
/* Internal status: the Run hypercall switched this CPU to the VP; the root's VMCALL completes (RAX,
 * RIP) when the run ends, not now. */
#define HV_STATUS_DEFERRED 0xFFFFu
/* Root's Run hypercall: donate this CPU to the VP until an exit the root must see. */
uint16_t vp_run_begin(struct cpu *c, uint64_t partition, uint32_t vp, uint64_t exit_gpa);
/* The same, after writing `count` registers the caller checked with hv_run_register_name_ok (writes
 * that cannot fail): HVCALL_SET_REGISTERS_AND_RUN_VP. */
uint16_t vp_run_begin_with_registers(struct cpu *c, uint64_t partition, uint32_t vp, uint64_t exit_gpa,
                                     const uint32_t *names, const WHV_REGISTER_VALUE *values, uint32_t count);
/* Any VM exit while c->run_vp is set. */
void vp_exit(struct cpu *c, uint32_t exit_reason);
/* Marks the VP canceled: its current or next Run returns Canceled. */
uint16_t vp_cancel(uint64_t partition, uint32_t vp);
/* The partition's memory and the VP's paging state for vmx/guest_walk.c (the VP's VMCS is current). */
void vp_guest_memory(const struct partition *p, struct guest_memory *m);
void vp_paging_state(const struct cpu *c, struct guest_paging_state *s);
#endif
