#ifndef VMX_VMX_ON_H
#define VMX_VMX_ON_H
#include "vmx/percpu.h"
/* Reads the capability MSRs, checks what we require, sets IA32_FEATURE_CONTROL when it is unlocked,
 * fixes CR0/CR4 and executes VMXON. Returns enum core_status. On failure CR4 is as it was. */
int vmx_on_this_cpu(struct cpu *c);
/* Undoes vmx_on_this_cpu after a later failure: VMXOFF and CR4.VMXE cleared. */
void vmx_off_this_cpu(void);
#endif
