#include "boot/host_paging.h"

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)
#define ADDR_MASK 0x000FFFFFFFFFF000ull
#define GIB (1ull << 30)

static uint64_t *table(const struct page_allocator *a, uint64_t pa) { return a->to_virt(a->ctx, pa); }

/* The next-level table under entry e of t, allocating it when absent. */
static uint64_t next_table(const struct page_allocator *a, uint64_t *t, unsigned e)
{
    if (!(t[e] & PTE_P)) {
        uint64_t pa = a->alloc(a->ctx);
        if (!pa)
            return 0;
        t[e] = pa | PTE_P | PTE_RW;
    }
    return t[e] & ADDR_MASK;
}

static int map_identity(const struct page_allocator *a, uint64_t *pml4, const struct host_paging_params *p)
{
    uint64_t pdpt = next_table(a, pml4, 0);
    if (!pdpt)
        return -1;
    for (uint64_t g = 0; g < p->phys_limit / GIB; g++) {
        if (p->use_1g_pages) {
            table(a, pdpt)[g] = (g * GIB) | PTE_P | PTE_RW | PTE_PS;
            continue;
        }
        uint64_t pd = next_table(a, table(a, pdpt), (unsigned)g);
        if (!pd)
            return -1;
        for (unsigned i = 0; i < 512; i++)
            table(a, pd)[i] = (g * GIB + ((uint64_t)i << 21)) | PTE_P | PTE_RW | PTE_PS;
    }
    return 0;
}

static int map_core(const struct page_allocator *a, uint64_t *pml4, const struct host_paging_params *p)
{
    for (uint64_t off = 0; off < p->core_size; off += 4096) {
        uint64_t va = p->core_va + off;
        uint64_t *level = pml4;
        for (int shift = 39; shift > 12; shift -= 9) {
            uint64_t t = next_table(a, level, (va >> shift) & 511);
            if (!t)
                return -1;
            level = table(a, t);
        }
        uint64_t flags = PTE_P;
        if (off >= p->core_text_size)
            flags |= PTE_RW | (p->use_nx ? PTE_XD : 0);
        level[(va >> 12) & 511] = (p->core_pa + off) | flags;
    }
    return 0;
}

uint64_t host_paging_build(const struct page_allocator *a, const struct host_paging_params *p)
{
    if (p->phys_limit == 0 || p->phys_limit % GIB || p->phys_limit > 512 * GIB || p->core_pa % 4096 ||
        p->core_size % 4096 || p->core_text_size > p->core_size || (p->core_va >> 39) == 0)
        return 0;
    uint64_t root = a->alloc(a->ctx);
    if (!root)
        return 0;
    uint64_t *pml4 = table(a, root);
    if (map_identity(a, pml4, p) != 0 || map_core(a, pml4, p) != 0)
        return 0;
    return root;
}
