/* The hypervisor's page pool: every page the core allocates after boot comes from here, so usage is
 * exact and a leak shows as a number (hypercall statistics). Bitmap allocator, one lock. */
#ifndef ARCH_X86_POOL_H
#define ARCH_X86_POOL_H

#include <stdint.h>
#include "arch/x86/page_alloc.h"
#include "arch/x86/spinlock.h"

struct pool {
    struct spinlock lock;
    uint64_t base;          /* physical address of page 0 (identity-mapped) */
    uint64_t pages;         /* pages managed (the bitmap's own pages excluded) */
    uint64_t used;
    uint64_t next_hint;
    uint64_t *bitmap;       /* 1 bit per page, 1 = in use */
};

/* Takes [base, base+size): the bitmap goes at its start, the rest is allocatable. */
void pool_init(struct pool *p, uint64_t base, uint64_t size);
/* n contiguous zeroed pages: physical address, or 0 when none. */
uint64_t pool_alloc_pages(struct pool *p, uint64_t n);
void pool_free_pages(struct pool *p, uint64_t pa, uint64_t n);
/* The page_allocator view for pure code (EPT builder, ...). */
void pool_page_allocator(struct pool *p, struct page_allocator *out);

#endif
