#include "arch/x86/pool.h"
#include "arch/x86/log.h"
#include "arch/x86/string.h"

#define PAGE 4096ull

static int bit_get(const uint64_t *bm, uint64_t i) { return (bm[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t *bm, uint64_t i) { bm[i / 64] |= 1ull << (i % 64); }
static void bit_clear(uint64_t *bm, uint64_t i) { bm[i / 64] &= ~(1ull << (i % 64)); }

void pool_init(struct pool *p, uint64_t base, uint64_t size)
{
    uint64_t total = size / PAGE;
    uint64_t bitmap_pages = (total / 8 + PAGE - 1) / PAGE;
    memset(p, 0, sizeof *p);
    p->bitmap = (uint64_t *)(uintptr_t)base;
    memset(p->bitmap, 0, bitmap_pages * PAGE);
    p->base = base + bitmap_pages * PAGE;
    p->pages = total - bitmap_pages;
}

static int run_is_free(const struct pool *p, uint64_t start, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (bit_get(p->bitmap, start + i))
            return 0;
    return 1;
}

uint64_t pool_alloc_pages(struct pool *p, uint64_t n)
{
    if (n == 0 || n > p->pages)
        return 0;
    spin_lock(&p->lock);
    /* Next-fit from the hint, wrapping once: O(pages) worst case, O(1) when the pool is not fragmented. */
    for (uint64_t tried = 0; tried < p->pages; tried++) {
        uint64_t i = (p->next_hint + tried) % p->pages;
        if (i + n > p->pages)
            continue;
        if (!run_is_free(p, i, n))
            continue;
        for (uint64_t k = 0; k < n; k++)
            bit_set(p->bitmap, i + k);
        p->used += n;
        p->next_hint = i + n;
        spin_unlock(&p->lock);
        uint64_t pa = p->base + i * PAGE;
        memset((void *)(uintptr_t)pa, 0, n * PAGE);
        return pa;
    }
    spin_unlock(&p->lock);
    return 0;
}

void pool_free_pages(struct pool *p, uint64_t pa, uint64_t n)
{
    if (pa < p->base || (pa - p->base) % PAGE || (pa - p->base) / PAGE + n > p->pages) {
        log_error("pool: free of %llx (%llu pages) outside the pool", (unsigned long long)pa,
                  (unsigned long long)n);
        return;
    }
    uint64_t first = (pa - p->base) / PAGE;
    spin_lock(&p->lock);
    for (uint64_t k = 0; k < n; k++) {
        if (!bit_get(p->bitmap, first + k)) {
            spin_unlock(&p->lock);
            log_error("pool: double free of page %llx", (unsigned long long)(pa + k * PAGE));
            return;
        }
    }
    for (uint64_t k = 0; k < n; k++)
        bit_clear(p->bitmap, first + k);
    p->used -= n;
    spin_unlock(&p->lock);
}

static uint64_t alloc_one(void *ctx) { return pool_alloc_pages(ctx, 1); }
static void free_one(void *ctx, uint64_t pa) { pool_free_pages(ctx, pa, 1); }
static void *identity(void *ctx, uint64_t pa) { (void)ctx; return (void *)(uintptr_t)pa; }

void pool_page_allocator(struct pool *p, struct page_allocator *out)
{
    out->ctx = p;
    out->alloc = alloc_one;
    out->free = free_one;
    out->to_virt = identity;
}
