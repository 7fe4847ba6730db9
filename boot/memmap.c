/* Reduces the firmware's memory map to what the hypervisor needs: where the root's RAM is (hypercall
 * buffers must lie there) and how far physical memory reaches (identity maps). */
#include "boot/memmap.h"

enum {
    EFI_LOADER_CODE = 1, EFI_LOADER_DATA, EFI_BOOT_SERVICES_CODE, EFI_BOOT_SERVICES_DATA,
    EFI_RUNTIME_SERVICES_CODE, EFI_RUNTIME_SERVICES_DATA, EFI_CONVENTIONAL_MEMORY,
    EFI_UNUSABLE_MEMORY, EFI_ACPI_RECLAIM_MEMORY, EFI_ACPI_MEMORY_NVS, EFI_MEMORY_MAPPED_IO,
    EFI_MEMORY_MAPPED_IO_PORT_SPACE, EFI_PAL_CODE, EFI_PERSISTENT_MEMORY,
};

int memmap_type_is_ram(uint32_t type)
{
    switch (type) {
    case EFI_LOADER_CODE: case EFI_LOADER_DATA:
    case EFI_BOOT_SERVICES_CODE: case EFI_BOOT_SERVICES_DATA:
    case EFI_RUNTIME_SERVICES_CODE: case EFI_RUNTIME_SERVICES_DATA:
    case EFI_CONVENTIONAL_MEMORY: case EFI_ACPI_RECLAIM_MEMORY: case EFI_ACPI_MEMORY_NVS:
    case EFI_PERSISTENT_MEMORY:
        return 1;
    default:
        return 0;
    }
}

/* Inserts [base, end) into the sorted, disjoint, non-adjacent list, merging neighbours. */
static int insert_range(struct hv_ram_range *r, uint32_t *n, uint32_t max, uint64_t base, uint64_t end)
{
    uint32_t i = 0;
    while (i < *n && r[i].base + r[i].size < base)
        i++;
    /* r[i] is the first range that ends at or after base: merge every range touching [base, end). */
    uint32_t j = i;
    while (j < *n && r[j].base <= end) {
        if (r[j].base < base) base = r[j].base;
        if (r[j].base + r[j].size > end) end = r[j].base + r[j].size;
        j++;
    }
    uint32_t removed = j - i;
    if (removed == 0) {
        if (*n == max)
            return -1;
        for (uint32_t k = *n; k > i; k--)
            r[k] = r[k - 1];
        (*n)++;
    } else {
        for (uint32_t k = j; k < *n; k++)
            r[k - removed + 1] = r[k];
        *n -= removed - 1;
    }
    r[i].base = base;
    r[i].size = end - base;
    return 0;
}

int memmap_ram_ranges(const void *map, uint64_t map_size, uint64_t desc_size, struct hv_ram_range *out,
                      uint32_t max, struct memmap_summary *sum)
{
    sum->ram_count = 0;
    sum->top_of_ram = 0;
    sum->top_of_map = 0;
    if (desc_size < sizeof(struct memmap_desc))
        return -1;
    uint32_t n = 0;
    for (uint64_t off = 0; off + desc_size <= map_size; off += desc_size) {
        const struct memmap_desc *d = (const struct memmap_desc *)((const uint8_t *)map + off);
        if (d->pages == 0)
            continue;
        if (d->pages > (UINT64_MAX >> 12) || d->phys_start > UINT64_MAX - (d->pages << 12))
            return -1;
        uint64_t end = d->phys_start + (d->pages << 12);
        if (end > sum->top_of_map)
            sum->top_of_map = end;
        if (!memmap_type_is_ram(d->type))
            continue;
        if (insert_range(out, &n, max, d->phys_start, end) != 0)
            return -1;
        if (end > sum->top_of_ram)
            sum->top_of_ram = end;
    }
    sum->ram_count = n;
    return 0;
}
