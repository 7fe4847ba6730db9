/* Root-partition side of the hypercall: one VMCALL (see api/hv_abi.h for the convention). */
#ifndef API_HV_HYPERCALL_H
#define API_HV_HYPERCALL_H

#include <stdint.h>
#include "api/hv_abi.h"

/* RCX is in and out: a SET_REGISTERS_AND_RUN_VP that the root's interrupts made re-execute comes back
 * as RUN_VP (docs/hypercall-abi.md), so the compiler must not assume RCX still holds the code. */
static inline uint64_t hv_hypercall(uint64_t code, uint64_t input_gpa, uint64_t output_gpa)
{
    uint64_t status;
    register uint64_t r8 __asm__("r8") = output_gpa;
    __asm__ volatile("vmcall" : "=a"(status), "+c"(code) : "d"(input_gpa), "r"(r8) : "memory");
    return status;
}

#endif
