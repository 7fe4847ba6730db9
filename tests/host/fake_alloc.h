/* A page_allocator for host tests: N pages of a malloc'ed arena at fake physical addresses
 * FAKE_ALLOC_BASE + i * 4096, with counters and an injectable failure so tests can prove that
 * out-of-memory paths change nothing and that every page comes back exactly once. */
#ifndef TESTS_HOST_FAKE_ALLOC_H
#define TESTS_HOST_FAKE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arch/x86/page_alloc.h"

#define FAKE_ALLOC_BASE 0x10000000ull
#define FAKE_PAGE       4096u

struct fake_alloc {
    struct page_allocator api;  /* pass &f.api to the code under test */
    unsigned char *arena;
    bool *in_use_map;
    size_t pages;
    size_t in_use, peak, allocs;
    long fail_after;            /* allocations that still succeed; negative: never fail */
    size_t bad_frees;           /* frees of a page not allocated (double free, foreign address) */
    size_t bad_accesses;        /* to_virt of a page not allocated */
};

void fake_alloc_init(struct fake_alloc *f, size_t pages);
void fake_alloc_fini(struct fake_alloc *f);
/* Whether pa is a page allocated now. */
bool fake_alloc_owns(const struct fake_alloc *f, uint64_t pa);

#endif
