/* The core's page tables, built by the loader: physical memory identity-mapped (the core reads and
 * writes root memory and its own pool through it) and the core image at CORE_LINK_BASE. Pure: pages
 * come from a page_allocator, so host tests can walk the result. */
#ifndef BOOT_HOST_PAGING_H
#define BOOT_HOST_PAGING_H

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/page_alloc.h"

struct host_paging_params {
    uint64_t phys_limit;    /* identity map [0, phys_limit); a multiple of 1 GiB, at most 512 GiB */
    bool use_1g_pages;      /* CPUID.80000001:EDX.Page1GB */
    bool use_nx;            /* EFER.NXE is on: data pages get XD */
    uint64_t core_pa;       /* where the core image was copied (4 KiB aligned) */
    uint64_t core_size;     /* .bss included, 4 KiB multiple */
    uint64_t core_text_size;/* [0, text) read/execute; the rest read/write (no-execute) */
    uint64_t core_va;       /* CORE_LINK_BASE */
};

/* Returns the PML4's physical address (the CR3 value), or 0 when out of pages or parameters are bad. */
uint64_t host_paging_build(const struct page_allocator *a, const struct host_paging_params *p);

#endif
