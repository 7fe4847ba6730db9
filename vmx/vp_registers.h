#ifndef VMX_VP_REGISTERS_H
#define VMX_VP_REGISTERS_H
#include "api/whv_platform.h"
#include "vmx/partition.h"
/* One register of a VP whose VMCS is current; returns an hv_status. */
uint16_t vp_get_register(const struct cpu *c, struct vp *v, uint32_t name, WHV_REGISTER_VALUE *out);
uint16_t vp_set_register(const struct cpu *c, struct vp *v, uint32_t name, const WHV_REGISTER_VALUE *in);
/* vp_set_register for the names hv_run_register_name_ok accepts (RIP, the GPRs), which cannot fail and
 * touch nothing else: the short path of HVCALL_SET_REGISTERS_AND_RUN_VP. The VP's VMCS is current. */
void vp_set_gpr_or_rip(struct vp *v, uint32_t name, uint64_t value);
#endif
