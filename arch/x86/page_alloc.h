/* The page-frame allocator interface that pure code (EPT builder, GPA map, ...) is written against.
 * The core implements it over its memory pool; host tests implement it over malloc. */
#ifndef ARCH_X86_PAGE_ALLOC_H
#define ARCH_X86_PAGE_ALLOC_H

#include <stdint.h>

struct page_allocator {
    void *ctx;
    uint64_t (*alloc)(void *ctx);              /* one zeroed 4 KiB page: its physical address, 0 if none */
    void (*free)(void *ctx, uint64_t pa);
    void *(*to_virt)(void *ctx, uint64_t pa);  /* where this code can read and write that page */
};

#endif
