/* The core's page tables, walked the way the MMU would. */
#include "check.h"
#include "fake_alloc.h"
#include "boot/host_paging.h"

#define GIB (1ull << 30)
#define VA 0xFFFFFFFF80000000ull

/* Walks 4-level paging: returns the physical address and the leaf's flags, or ~0 when not mapped. */
static uint64_t walk(struct fake_alloc *f, uint64_t cr3, uint64_t va, uint64_t *flags)
{
    uint64_t t = cr3;
    for (int shift = 39; shift >= 12; shift -= 9) {
        uint64_t e = ((uint64_t *)f->api.to_virt(f->api.ctx, t))[(va >> shift) & 511];
        if (!(e & 1))
            return ~0ull;
        if (shift == 12 || (e & 0x80)) {
            uint64_t size_mask = (1ull << shift) - 1;
            *flags = e;
            return (e & 0x000FFFFFFFFFF000ull & ~size_mask) | (va & size_mask);
        }
        t = e & 0x000FFFFFFFFFF000ull;
    }
    return ~0ull;
}

TEST(host_paging_identity_and_core_mapping)
{
    for (int big = 0; big < 2; big++) {
        struct fake_alloc f;
        fake_alloc_init(&f, 64);
        struct host_paging_params p = { 8 * GIB, big, true, 0x7000000, 0x5000, 0x2000, VA };
        uint64_t cr3 = host_paging_build(&f.api, &p), fl = 0;
        CHECK(cr3 != 0);
        CHECK_EQ(walk(&f, cr3, 0x0, &fl), 0x0);
        CHECK_EQ(walk(&f, cr3, 0x123456789ull, &fl), 0x123456789ull);
        CHECK(fl & 2);                                         /* identity is writable */
        CHECK_EQ(walk(&f, cr3, 8 * GIB - 1, &fl), 8 * GIB - 1);
        CHECK_EQ(walk(&f, cr3, 8 * GIB, &fl), ~0ull);           /* the limit is exclusive */
        CHECK_EQ(walk(&f, cr3, VA + 0x1234, &fl), 0x7001234);
        CHECK(!(fl & 2) && !(fl >> 63));                       /* text: read/execute */
        CHECK_EQ(walk(&f, cr3, VA + 0x4ff8, &fl), 0x7004ff8);
        CHECK((fl & 2) && (fl >> 63));                         /* data: read/write, no-execute */
        CHECK_EQ(walk(&f, cr3, VA + 0x5000, &fl), ~0ull);      /* nothing after the image */
        /* 1 GiB pages: PML4 + PDPT + 3 tables for the core; 2 MiB: 8 PDs more. */
        CHECK_EQ(f.in_use, big ? 5 : 13);
        fake_alloc_fini(&f);
    }
}

TEST(host_paging_rejects_bad_parameters_and_oom)
{
    struct fake_alloc f;
    fake_alloc_init(&f, 64);
    struct host_paging_params p = { 3 * GIB + 4096, true, true, 0x7000000, 0x5000, 0x2000, VA };
    CHECK_EQ(host_paging_build(&f.api, &p), 0);       /* limit not a GiB multiple */
    p.phys_limit = 4 * GIB;
    p.core_pa = 0x7000800;
    CHECK_EQ(host_paging_build(&f.api, &p), 0);       /* unaligned image */
    p.core_pa = 0x7000000;
    f.fail_after = 2;
    CHECK_EQ(host_paging_build(&f.api, &p), 0);       /* out of pages */
    fake_alloc_fini(&f);
}
