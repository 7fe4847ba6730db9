/* Root-partition side of the hypercall: one VMCALL (see api/hv_abi.h for the convention). */
#ifndef API_HV_HYPERCALL_H
#define API_HV_HYPERCALL_H

#include <stdint.h>
#include "api/hv_abi.h"

static inline uint64_t hv_hypercall(uint64_t code, uint64_t input_gpa, uint64_t output_gpa)
{
    uint64_t status;
    register uint64_t r8 __asm__("r8") = output_gpa;
    __asm__ volatile("vmcall" : "=a"(status) : "c"(code), "d"(input_gpa), "r"(r8) : "memory");
    return status;
}

#endif
