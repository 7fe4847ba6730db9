/* The fake page allocator of fake_alloc.h. */
#include "fake_alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Freed pages are poisoned so that a stale read through a freed table shows up as garbage. */
#define FAKE_POISON 0xa5

static bool page_index(const struct fake_alloc *f, uint64_t pa, size_t *index)
{
    if (pa < FAKE_ALLOC_BASE || (pa - FAKE_ALLOC_BASE) % FAKE_PAGE)
        return false;
    *index = (size_t)((pa - FAKE_ALLOC_BASE) / FAKE_PAGE);
    return *index < f->pages;
}

static uint64_t fake_alloc_page(void *ctx)
{
    struct fake_alloc *f = ctx;
    if (f->fail_after == 0)
        return 0;
    for (size_t i = 0; i < f->pages; i++) {
        if (f->in_use_map[i])
            continue;
        if (f->fail_after > 0)
            f->fail_after--;
        f->in_use_map[i] = true;
        memset(f->arena + i * FAKE_PAGE, 0, FAKE_PAGE);
        f->allocs++;
        if (++f->in_use > f->peak)
            f->peak = f->in_use;
        return FAKE_ALLOC_BASE + i * FAKE_PAGE;
    }
    return 0;
}

static void fake_free_page(void *ctx, uint64_t pa)
{
    struct fake_alloc *f = ctx;
    size_t i;
    if (!page_index(f, pa, &i) || !f->in_use_map[i]) {
        f->bad_frees++;
        return;
    }
    f->in_use_map[i] = false;
    f->in_use--;
    memset(f->arena + i * FAKE_PAGE, FAKE_POISON, FAKE_PAGE);
}

static void *fake_to_virt(void *ctx, uint64_t pa)
{
    struct fake_alloc *f = ctx;
    size_t i;
    if (!page_index(f, pa & ~(uint64_t)(FAKE_PAGE - 1), &i)) {
        fprintf(stderr, "fake_alloc: to_virt(0x%llx) outside the arena\n", (unsigned long long)pa);
        abort();
    }
    if (!f->in_use_map[i])
        f->bad_accesses++;
    return f->arena + i * FAKE_PAGE + pa % FAKE_PAGE;
}

void fake_alloc_init(struct fake_alloc *f, size_t pages)
{
    memset(f, 0, sizeof *f);
    f->pages = pages;
    f->arena = aligned_alloc(FAKE_PAGE, pages * FAKE_PAGE);
    f->in_use_map = calloc(pages, sizeof *f->in_use_map);
    if (!f->arena || !f->in_use_map) {
        fprintf(stderr, "fake_alloc: out of host memory\n");
        abort();
    }
    memset(f->arena, FAKE_POISON, pages * FAKE_PAGE);
    f->fail_after = -1;
    f->api = (struct page_allocator){ f, fake_alloc_page, fake_free_page, fake_to_virt };
}

void fake_alloc_fini(struct fake_alloc *f)
{
    free(f->arena);
    free(f->in_use_map);
    f->arena = 0;
    f->in_use_map = 0;
}

bool fake_alloc_owns(const struct fake_alloc *f, uint64_t pa)
{
    size_t i;
    return page_index(f, pa, &i) && f->in_use_map[i];
}
