/* How the WHV library (api/whv_lib.c) reaches the hypervisor: one function that issues a hypercall, and
 * one that turns a root-partition address into a root GPA. Both are replaceable: the host tests install a
 * fake hypervisor, and an OS running as the root installs its own address translation.
 * docs/whv-library.md describes when and how to replace them.
 *
 * Freestanding: needs only <stdint.h> and <stdbool.h>. */
#ifndef API_HV_TRANSPORT_H
#define API_HV_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Issues hypercall `code` (api/hv_abi.h) and returns its status. `in` / `out` are the blocks as the
 * caller sees them (NULL when the call has none), `in_gpa` / `out_gpa` the same blocks as root GPAs
 * (0 when none). The VMCALL transport uses only the GPAs; a fake hypervisor uses only the pointers. */
typedef uint64_t (*hv_transport_fn)(uint64_t code, const void *in, uint64_t in_gpa, void *out, uint64_t out_gpa);

/* Returns the root GPA of `address`, or HV_GPA_INVALID when it has none. Only the byte at `address`
 * is translated: the library asks again for every page it needs. */
typedef uint64_t (*hv_address_to_gpa_fn)(const void *address);
#define HV_GPA_INVALID UINT64_MAX

/* Install before the first WHv* call and never while one is in flight; NULL restores the default
 * (VMCALL; identity translation, right for UEFI where the root's addresses are its GPAs). */
void hv_set_transport(hv_transport_fn transport);
void hv_set_address_to_gpa(hv_address_to_gpa_fn translate);

/* A status only the VMCALL transport returns, when no compatible hypervisor is loaded (executing VMCALL
 * then would raise #UD). Above 0xFFFF, so it never collides with a hypervisor status; the library
 * reports it as ERROR_HV_NOT_PRESENT, the HRESULT Windows uses for the same case. */
#define HV_TRANSPORT_STATUS_NOT_PRESENT 0x10000u
#ifndef ERROR_HV_NOT_PRESENT
#define ERROR_HV_NOT_PRESENT ((int32_t)0xC0351000)
#endif

/* True when CPUID reports this hypervisor (signature "HVXmicrovisr") with an ABI that has the partition
 * calls (1.1 or a later 1.x). */
bool hv_is_present(void);

/* Root GPA of `address` through the installed translation. */
uint64_t hv_address_to_gpa(const void *address);

/* Issues hypercall `code` with the given blocks through the installed transport. A block whose address
 * does not translate fails with HV_STATUS_ACCESS_DENIED, as the hypervisor answers a block outside RAM. */
uint64_t hv_call(uint64_t code, const void *in, void *out);

#endif
