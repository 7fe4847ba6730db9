/* Can this CPU run the hypervisor at all? Decided before any memory is taken, so the machine boots on
 * without us when it cannot. The decision is pure (host-tested); the loader feeds it CPUID and MSRs. */
#ifndef BOOT_CPU_CHECK_H
#define BOOT_CPU_CHECK_H

#include <stdint.h>

/* vendor: the 12 bytes of CPUID.0 EBX:EDX:ECX. ecx1: CPUID.1:ECX. read_feature_control is called only
 * once VT-x is known to exist (the MSR does not exist otherwise). Returns NULL when VT-x can be used,
 * else the reason, to follow "VT-x not available: ". */
const char *vtx_unavailable_reason(const char vendor[12], uint32_t ecx1,
                                   uint64_t (*read_feature_control)(void));

#endif
