/* UEFI memory map -> the RAM ranges the root partition owns (pure; loader and host tests). */
#ifndef BOOT_MEMMAP_H
#define BOOT_MEMMAP_H

#include <stdint.h>
#include "boot/handoff.h"

/* The leading fields of EFI_MEMORY_DESCRIPTOR (UEFI 2.x, 7.2); the firmware's stride may be larger. */
struct memmap_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys_start;
    uint64_t virt_start;
    uint64_t pages;
    uint64_t attribute;
};

/* UEFI memory types we treat as RAM: loader/boot/runtime code and data, conventional, ACPI reclaim and
 * NVS, persistent. Not RAM: reserved, unusable, MMIO, MMIO port space, PAL code. */
int memmap_type_is_ram(uint32_t type);

struct memmap_summary {
    uint32_t ram_count;
    uint64_t top_of_ram;    /* end of the highest RAM range */
    uint64_t top_of_map;    /* end of the highest descriptor of any type (MMIO included) */
};

/* Walks map_size bytes of descriptors of desc_size bytes each; writes the RAM ranges sorted by base and
 * merged when adjacent or overlapping into out[0..max). Returns 0, or -1 when desc_size is smaller than
 * struct memmap_desc, a descriptor overflows 64 bits, or more than max ranges remain after merging. */
int memmap_ram_ranges(const void *map, uint64_t map_size, uint64_t desc_size, struct hv_ram_range *out,
                      uint32_t max, struct memmap_summary *sum);

#endif
