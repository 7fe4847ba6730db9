#ifndef VMX_VP_REGISTERS_H
#define VMX_VP_REGISTERS_H
#include "api/whv_platform.h"
#include "vmx/partition.h"
/* One register of a VP whose VMCS is current; returns an hv_status. */
uint16_t vp_get_register(const struct cpu *c, struct vp *v, uint32_t name, WHV_REGISTER_VALUE *out);
uint16_t vp_set_register(const struct cpu *c, struct vp *v, uint32_t name, const WHV_REGISTER_VALUE *in);
#endif
