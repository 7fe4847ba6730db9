/* The transport of api/hv_transport.h: VMCALL and identity translation unless something else is
 * installed. Freestanding; links into GNU-EFI applications and the host tests alike. */
#include "api/hv_transport.h"

#include "api/hv_abi.h"
#include "api/hv_hypercall.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"

/* HVCALL_SET_REGISTERS_AND_RUN_VP arrived in ABI 1.3; a later 1.x keeps it, a 2.x may not. */
#define MIN_ABI_VERSION ((1u << 16) | 3u)

/* NULL stands for the default, so no pointer here needs a load-time relocation in a -fpic EFI image. */
static hv_transport_fn installed_transport;
static hv_address_to_gpa_fn installed_translation;

void hv_set_transport(hv_transport_fn transport)
{
    installed_transport = transport;
}

void hv_set_address_to_gpa(hv_address_to_gpa_fn translate)
{
    installed_translation = translate;
}

static bool abi_is_compatible(uint32_t version)
{
    return (version >> 16) == (MIN_ABI_VERSION >> 16) && version >= MIN_ABI_VERSION;
}

bool hv_is_present(void)
{
    if (!(cpuid(1, 0).ecx & CPUID1_ECX_HYPERVISOR))
        return false;
    struct cpuid_regs vendor = cpuid(HV_CPUID_VENDOR_LEAF, 0);
    char signature[12];
    memcpy(signature, &vendor.ebx, 4);
    memcpy(signature + 4, &vendor.ecx, 4);
    memcpy(signature + 8, &vendor.edx, 4);
    if (vendor.eax < HV_CPUID_VERSION_LEAF || memcmp(signature, HV_SIGNATURE, sizeof signature) != 0)
        return false;
    struct cpuid_regs version = cpuid(HV_CPUID_VERSION_LEAF, 0);
    return version.ebx == HV_INTERFACE_ID && abi_is_compatible(version.eax);
}

/* CPUID exits to the hypervisor, so once it has answered, the answer is kept: a loaded hypervisor stays
 * for the root's lifetime. Several CPUs may store at once; they store the same value. */
static bool hypervisor_confirmed(void)
{
    static bool confirmed;
    if (__atomic_load_n(&confirmed, __ATOMIC_RELAXED))
        return true;
    bool present = hv_is_present();
    __atomic_store_n(&confirmed, present, __ATOMIC_RELAXED);
    return present;
}

static uint64_t vmcall_transport(uint64_t code, const void *in, uint64_t in_gpa, void *out, uint64_t out_gpa)
{
    (void)in;
    (void)out;
    if (!hypervisor_confirmed())
        return HV_TRANSPORT_STATUS_NOT_PRESENT; /* VMCALL without a hypervisor raises #UD */
    return hv_hypercall(code, in_gpa, out_gpa);
}

uint64_t hv_address_to_gpa(const void *address)
{
    return installed_translation ? installed_translation(address) : (uint64_t)(uintptr_t)address;
}

static uint64_t block_gpa(const void *block)
{
    return block ? hv_address_to_gpa(block) : 0;
}

uint64_t hv_call(uint64_t code, const void *in, void *out)
{
    uint64_t in_gpa = block_gpa(in), out_gpa = block_gpa(out);
    if (in_gpa == HV_GPA_INVALID || out_gpa == HV_GPA_INVALID)
        return HV_STATUS_ACCESS_DENIED;
    /* A direct call for the default, which then inlines: the Run path pays one call less. */
    if (installed_transport)
        return installed_transport(code, in, in_gpa, out, out_gpa);
    return vmcall_transport(code, in, in_gpa, out, out_gpa);
}
