/* What the loader hands the core: the image header the core starts with, the handoff block the loader
 * fills in hypervisor memory, and the per-CPU entry arguments. Shared by boot/ and the core. */
#ifndef BOOT_HANDOFF_H
#define BOOT_HANDOFF_H

#include <stdint.h>

/* The core is linked at this address (linker.ld) and mapped there by the host page tables. */
#define CORE_LINK_BASE 0xFFFFFFFF80000000ull

#define CORE_HEADER_MAGIC "HVXCORE1"
struct core_header {
    char magic[8];
    uint64_t link_base;      /* CORE_LINK_BASE */
    uint64_t entry;          /* virtual address of core_cpu_entry */
    uint64_t file_size;      /* bytes in the flat image */
    uint64_t mem_size;       /* bytes including .bss, page aligned */
    uint64_t text_end;       /* offset where read-only/executable ends (page aligned) */
};
_Static_assert(sizeof(struct core_header) == 48, "core header layout");

struct hv_ram_range { uint64_t base, size; };

#define HV_HANDOFF_MAGIC 0x314646444e414858ull /* "HXANDFF1" little-endian */
#define HV_MAX_RAM_RANGES 128
#define HV_MAX_CPUS 64

struct hv_handoff {
    uint64_t magic;
    uint32_t log_level;      /* enum log_level */
    uint32_t cpu_count;      /* logical CPUs the loader will bring in (BSP first) */
    uint64_t hv_base, hv_size;       /* all memory the root must never reach */
    uint64_t core_base, core_size;   /* physical placement of the core image (.bss included) */
    uint64_t pool_base, pool_size;   /* free pages for the core's pool */
    uint64_t host_cr3;               /* host page tables built by the loader */
    uint64_t phys_limit;             /* the host identity map covers [0, phys_limit) */
    char build_id[48];
    uint32_t ram_count;
    uint32_t reserved;
    struct hv_ram_range ram[HV_MAX_RAM_RANGES]; /* RAM the root owns, sorted, merged */
};

struct core_entry_args {
    uint64_t handoff;        /* physical (= identity-mapped) address of struct hv_handoff */
    uint32_t cpu_index;      /* 0 = BSP, which the loader calls first */
    uint32_t apic_id;
};

/* core_cpu_entry returns only when the CPU could not be virtualized. */
enum core_status {
    CORE_OK = 0,
    CORE_ERR_BAD_HANDOFF,
    CORE_ERR_NO_VMX,
    CORE_ERR_VMX_LOCKED_OFF,
    CORE_ERR_MISSING_FEATURE,
    CORE_ERR_NO_MEMORY,
    CORE_ERR_VMXON,
    CORE_ERR_VMCS,
    CORE_ERR_VMLAUNCH,
    CORE_ERR_BAD_CPU_INDEX,
    CORE_STATUS_COUNT
};

static inline const char *core_status_name(int64_t s)
{
    switch (s) {
    case CORE_OK: return "ok";
    case CORE_ERR_BAD_HANDOFF: return "bad handoff block";
    case CORE_ERR_NO_VMX: return "VT-x not available on this CPU";
    case CORE_ERR_VMX_LOCKED_OFF: return "VMX disabled by firmware (IA32_FEATURE_CONTROL locked)";
    case CORE_ERR_MISSING_FEATURE: return "CPU lacks a required VMX feature (see COM1 log)";
    case CORE_ERR_NO_MEMORY: return "hypervisor memory exhausted";
    case CORE_ERR_VMXON: return "VMXON failed";
    case CORE_ERR_VMCS: return "VMCS setup failed";
    case CORE_ERR_VMLAUNCH: return "VMLAUNCH failed (see COM1 log)";
    case CORE_ERR_BAD_CPU_INDEX: return "CPU index out of range";
    default: return "unknown error";
    }
}

#endif
