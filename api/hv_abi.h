/* The hypercall ABI between the root partition and the hypervisor. Documented in docs/hypercall-abi.md;
 * this header is its machine-readable half and is versioned with it.
 *
 * Calling convention (TLFS style): VMCALL at CPL 0 in the root partition with
 *   RCX = call code, RDX = GPA of the input block (0 if none), R8 = GPA of the output block;
 *   on return RAX = status; every other register is preserved. */
#ifndef API_HV_ABI_H
#define API_HV_ABI_H

#include <stddef.h>
#include <stdint.h>

#define HV_ABI_VERSION_MAJOR 1
#define HV_ABI_VERSION_MINOR 0
#define HV_ABI_VERSION ((HV_ABI_VERSION_MAJOR << 16) | HV_ABI_VERSION_MINOR)

/* CPUID leaves the hypervisor adds (CPUID.1:ECX bit 31 tells they exist). */
#define HV_CPUID_VENDOR_LEAF   0x40000000u  /* EAX = max leaf; EBX:ECX:EDX = "HVXmicrovisr" */
#define HV_CPUID_VERSION_LEAF  0x40000001u  /* EAX = HV_ABI_VERSION; EBX = HV_INTERFACE_ID */
#define HV_CPUID_MAX_LEAF      HV_CPUID_VERSION_LEAF
#define HV_SIGNATURE           "HVXmicrovisr"
#define HV_INTERFACE_ID        0x31585648u  /* "HVX1" */

enum hv_call_code {
    HVCALL_GET_VERSION = 0x0001,  /* out: struct hv_version_out */
    HVCALL_GET_STATS   = 0x0002,  /* out: struct hv_stats_out */
};

/* Hyper-V status numbering (TLFS); the management library reports them as 0xC0350000 | status. */
enum hv_status {
    HV_STATUS_SUCCESS = 0,
    HV_STATUS_INVALID_HYPERCALL_CODE = 2,
    HV_STATUS_INVALID_HYPERCALL_INPUT = 3,
    HV_STATUS_INVALID_ALIGNMENT = 4,
    HV_STATUS_INVALID_PARAMETER = 5,
    HV_STATUS_ACCESS_DENIED = 6,
    HV_STATUS_INVALID_PARTITION_STATE = 7,
    HV_STATUS_OPERATION_DENIED = 8,
    HV_STATUS_UNKNOWN_PROPERTY = 9,
    HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE = 0xA,
    HV_STATUS_INSUFFICIENT_MEMORY = 0xB,
};

/* Blocks are 8-byte aligned, lie wholly in RAM the root owns, and never exceed HV_MAX_BLOCK_BYTES. */
#define HV_BLOCK_ALIGN 8
#define HV_MAX_BLOCK_BYTES 4096

#define HV_VERSION_MAGIC 0x31585648u /* "HVX1" */
struct hv_version_out {
    uint32_t magic;             /* HV_VERSION_MAGIC */
    uint32_t abi_version;       /* HV_ABI_VERSION */
    char build_id[48];          /* NUL-terminated, e.g. "hvx 0.1.0 (git 1a2b3c4)" */
    uint64_t hv_base;           /* the hypervisor's physical memory: hidden from the root */
    uint64_t hv_size;
    uint32_t cpus_virtualized;  /* logical CPUs now running under the hypervisor */
    uint32_t cpus_total;        /* logical CPUs the loader found */
    uint64_t features;          /* reserved, 0 */
};
_Static_assert(sizeof(struct hv_version_out) == 88, "hv_version_out layout");
_Static_assert(offsetof(struct hv_version_out, hv_base) == 56, "hv_version_out layout");

#define HV_STATS_EXIT_REASONS 80
struct hv_stats_out {
    uint64_t exits[HV_STATS_EXIT_REASONS]; /* per VMX basic exit reason, all CPUs */
    uint64_t pool_pages_total;
    uint64_t pool_pages_used;
    uint64_t pool_pages_free;
    uint64_t root_ept_pages;       /* paging-structure pages of the root partition's EPT */
    uint64_t hidden_access_faults; /* root accesses to hypervisor memory answered with #GP */
    uint64_t hypercalls;           /* hypercalls served, all CPUs */
    uint32_t cpus_virtualized;
    uint32_t reserved;
};
_Static_assert(sizeof(struct hv_stats_out) == 80 * 8 + 7 * 8, "hv_stats_out layout");
_Static_assert(offsetof(struct hv_stats_out, pool_pages_total) == 640, "hv_stats_out layout");

#endif
