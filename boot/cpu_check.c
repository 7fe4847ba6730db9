#include "boot/cpu_check.h"
#include "arch/x86/string.h"

#define ECX1_VMX (1u << 5)
#define FC_LOCK (1ull << 0)
#define FC_VMX_OUTSIDE_SMX (1ull << 2)

const char *vtx_unavailable_reason(const char vendor[12], uint32_t ecx1,
                                   uint64_t (*read_feature_control)(void))
{
    if (memcmp(vendor, "GenuineIntel", 12) != 0)
        return "the CPU is not an Intel CPU (CPUID vendor is not GenuineIntel)";
    if (!(ecx1 & ECX1_VMX))
        return "CPUID.1:ECX.VMX[bit 5] is 0 (no VT-x, or hidden by an emulator or hypervisor below)";
    uint64_t fc = read_feature_control();
    if ((fc & FC_LOCK) && !(fc & FC_VMX_OUTSIDE_SMX))
        return "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX; enable it in setup)";
    return 0;
}
