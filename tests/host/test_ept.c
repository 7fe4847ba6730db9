/* The EPT builder over the fake allocator: leaf selection, entry bits, refusals that change nothing,
 * out-of-memory at every allocation, splits, freeing, the root identity map, and a randomized run
 * against a page-by-page model. */
#include "check.h"
#include "fake_alloc.h"
#include "vmx/ept.h"
#include <stdlib.h>
#include <string.h>

#define MIB 0x100000ull
#define GIB 0x40000000ull
#define PAGE 0x1000ull
#define RW   (EPT_R | EPT_W)

#define ENTRY_ADDR   0x000ffffffffff000ull
#define ENTRY_LARGE  (1ull << 7)

/* ---- helpers ---- */

struct fixture {
    struct fake_alloc fa;
    struct ept e;
};

static void setup(struct fixture *t, size_t pages, bool leaf_2m, bool leaf_1g)
{
    fake_alloc_init(&t->fa, pages);
    CHECK_EQ(ept_init(&t->e, &t->fa.api, leaf_2m, leaf_1g), EPT_OK);
}

/* Destroys the EPT and checks that every page came back, exactly once. */
static void teardown(struct fixture *t)
{
    ept_destroy(&t->e);
    CHECK_EQ(t->fa.in_use, 0);
    CHECK_EQ(t->fa.bad_frees, 0);
    CHECK_EQ(t->fa.bad_accesses, 0);
    fake_alloc_fini(&t->fa);
}

static uint64_t *table(struct fixture *t, uint64_t pa)
{
    return t->fa.api.to_virt(t->fa.api.ctx, pa);
}

/* The raw entry that maps gpa at `level` (4 = PML4E ... 1 = PTE), or 0 if the walk stops above. */
static uint64_t raw_entry(struct fixture *t, uint64_t gpa, unsigned level)
{
    uint64_t pa = t->e.pml4_pa;
    for (unsigned l = 4;; l--) {
        uint64_t entry = table(t, pa)[(gpa >> (12 + 9 * (l - 1))) & 511];
        if (l == level)
            return entry;
        if (!(entry & 7) || (entry & ENTRY_LARGE))
            return 0;
        pa = entry & ENTRY_ADDR;
    }
}

struct mapping {
    bool mapped;
    uint64_t hpa;
    unsigned perms, memtype, level;
};

static struct mapping look(struct fixture *t, uint64_t gpa)
{
    struct mapping m = { 0 };
    m.mapped = ept_lookup(&t->e, gpa, &m.hpa, &m.perms, &m.memtype, &m.level);
    return m;
}

#define CHECK_MAPS(t, gpa, want_hpa, want_perms, want_type, want_level)  \
    do {                                                                 \
        struct mapping m_ = look(t, gpa);                                \
        CHECK(m_.mapped);                                                \
        CHECK_EQ(m_.hpa, want_hpa);                                      \
        CHECK_EQ(m_.perms, want_perms);                                  \
        CHECK_EQ(m_.memtype, want_type);                                 \
        CHECK_EQ(m_.level, want_level);                                  \
    } while (0)

#define CHECK_UNMAPPED(t, gpa) CHECK(!look(t, gpa).mapped)

/* Counts the paging-structure pages reachable from the PML4 and the non-PML4 ones that are empty. */
static uint64_t count_tables(struct fixture *t, uint64_t pa, unsigned level, uint64_t *empty)
{
    uint64_t *tab = table(t, pa), n = 1;
    bool any = false;
    for (unsigned i = 0; i < 512; i++) {
        any = any || tab[i];
        if ((tab[i] & 7) && level > 1 && !(tab[i] & ENTRY_LARGE))
            n += count_tables(t, tab[i] & ENTRY_ADDR, level - 1, empty);
    }
    *empty += !any && level < 4;
    return n;
}

/* The structure agrees with the counters: every owned page is reachable, none is empty but the PML4. */
static void check_structure(struct fixture *t)
{
    uint64_t empty = 0;
    uint64_t reachable = count_tables(t, t->e.pml4_pa, 4, &empty);
    CHECK_EQ(reachable, t->e.table_pages);
    CHECK_EQ(t->fa.in_use, t->e.table_pages);
    CHECK_EQ(empty, 0);
    CHECK_EQ(t->fa.bad_frees, 0);
    CHECK_EQ(t->fa.bad_accesses, 0);
}

/* Everything the EPT owns, byte for byte, and which pages are in use: "nothing changed" means the
 * snapshot before and after are equal. */
struct snapshot {
    bool *in_use;
    unsigned char *pages;       /* the in-use pages, in arena order */
    uint64_t table_pages;
};

static struct snapshot take_snapshot(struct fixture *t)
{
    struct snapshot s = { malloc(t->fa.pages * sizeof(bool)), malloc(t->fa.in_use * FAKE_PAGE + 1),
                          t->e.table_pages };
    unsigned char *copy = s.pages;
    for (size_t i = 0; i < t->fa.pages; i++) {
        s.in_use[i] = t->fa.in_use_map[i];
        if (s.in_use[i]) {
            memcpy(copy, t->fa.arena + i * FAKE_PAGE, FAKE_PAGE);
            copy += FAKE_PAGE;
        }
    }
    return s;
}

static bool unchanged_since(struct fixture *t, struct snapshot *s)
{
    bool same = s->table_pages == t->e.table_pages;
    const unsigned char *copy = s->pages;
    for (size_t i = 0; i < t->fa.pages && same; i++) {
        same = s->in_use[i] == t->fa.in_use_map[i];
        if (same && s->in_use[i]) {
            same = !memcmp(copy, t->fa.arena + i * FAKE_PAGE, FAKE_PAGE);
            copy += FAKE_PAGE;
        }
    }
    return same;
}

static void drop_snapshot(struct snapshot *s)
{
    free(s->in_use);
    free(s->pages);
}

/* ---- init, EPTP ---- */

TEST(ept_init_and_pointer)
{
    struct fixture t;
    setup(&t, 8, true, true);
    CHECK_EQ(t.e.table_pages, 1);
    CHECK_EQ(t.fa.in_use, 1);
    CHECK(fake_alloc_owns(&t.fa, t.e.pml4_pa));
    CHECK_EQ(t.e.pml4_pa & 0xfff, 0);
    /* 2:0 = 6 (WB), 5:3 = 3 (4-level walk), 6 = A/D enable, 51:12 = PML4 */
    CHECK_EQ(ept_pointer(&t.e, false), t.e.pml4_pa | 0x1e);
    CHECK_EQ(ept_pointer(&t.e, true), t.e.pml4_pa | 0x5e);
    CHECK_UNMAPPED(&t, 0);
    CHECK(!ept_lookup(&t.e, 1ull << 48, 0, 0, 0, 0));
    teardown(&t);
}

TEST(ept_init_out_of_memory)
{
    struct fake_alloc fa;
    struct ept e;
    fake_alloc_init(&fa, 4);
    fa.fail_after = 0;
    CHECK_EQ(ept_init(&e, &fa.api, true, true), EPT_ENOMEM);
    CHECK_EQ(fa.in_use, 0);
    fake_alloc_fini(&fa);
}

/* ---- map and lookup ---- */

TEST(ept_map_4k_entry_bits)
{
    struct fixture t;
    setup(&t, 16, true, true);
    CHECK_EQ(ept_map(&t.e, 0x1000, 0x5000, PAGE, EPT_R | EPT_W, MT_WB), EPT_OK);
    CHECK_EQ(t.e.table_pages, 4);   /* PML4, PDPT, PD, PT */
    CHECK_MAPS(&t, 0x1000, 0x5000, EPT_R | EPT_W, MT_WB, 1);
    CHECK_MAPS(&t, 0x1abc, 0x5abc, EPT_R | EPT_W, MT_WB, 1);
    CHECK_UNMAPPED(&t, 0x0000);
    CHECK_UNMAPPED(&t, 0x2000);
    /* PTE: address, R|W, type 6 in 5:3, ignore-PAT (6) and bit 7 clear */
    CHECK_EQ(raw_entry(&t, 0x1000, 1), 0x5000 | 0x3 | 6 << 3);
    /* Non-leaf entries: R|W|X and the next table, nothing else */
    for (unsigned level = 4; level >= 2; level--) {
        uint64_t entry = raw_entry(&t, 0x1000, level);
        CHECK_EQ(entry & ~ENTRY_ADDR, 7);
        CHECK(fake_alloc_owns(&t.fa, entry & ENTRY_ADDR));
    }
    check_structure(&t);
    teardown(&t);
}

TEST(ept_map_perms_and_memtypes)
{
    static const unsigned types[] = { MT_UC, MT_WC, MT_WT, MT_WP, MT_WB };
    struct fixture t;
    setup(&t, 16, true, true);
    for (unsigned perms = 1; perms <= 7; perms++) {
        for (unsigned i = 0; i < 5; i++) {
            uint64_t gpa = (perms * 8 + i) * PAGE, hpa = 0x123456000ull + gpa;
            CHECK_EQ(ept_map(&t.e, gpa, hpa, PAGE, perms, types[i]), EPT_OK);
            CHECK_MAPS(&t, gpa, hpa, perms, types[i], 1);
            CHECK_EQ(raw_entry(&t, gpa, 1), hpa | perms | (uint64_t)types[i] << 3);
        }
    }
    teardown(&t);
}

TEST(ept_map_picks_largest_leaves)
{
    /* [1 GiB - 2 MiB, 2 GiB + 2 MiB + 4 KiB) onto hpa + 4 GiB: one 2 MiB leaf, one 1 GiB leaf,
     * one 2 MiB leaf, one 4 KiB leaf. */
    struct fixture t;
    setup(&t, 16, true, true);
    uint64_t gpa = GIB - 2 * MIB, size = 2 * MIB + GIB + 2 * MIB + PAGE, off = 4 * GIB;
    CHECK_EQ(ept_map(&t.e, gpa, gpa + off, size, EPT_RWX, MT_WT), EPT_OK);
    CHECK_MAPS(&t, gpa, gpa + off, EPT_RWX, MT_WT, 2);
    CHECK_MAPS(&t, GIB - 1, GIB - 1 + off, EPT_RWX, MT_WT, 2);
    CHECK_MAPS(&t, GIB, GIB + off, EPT_RWX, MT_WT, 3);
    CHECK_MAPS(&t, 2 * GIB - 8, 2 * GIB - 8 + off, EPT_RWX, MT_WT, 3);
    CHECK_MAPS(&t, 2 * GIB, 2 * GIB + off, EPT_RWX, MT_WT, 2);
    CHECK_MAPS(&t, 2 * GIB + 2 * MIB, 2 * GIB + 2 * MIB + off, EPT_RWX, MT_WT, 1);
    CHECK_UNMAPPED(&t, 2 * GIB + 2 * MIB + PAGE);
    CHECK_UNMAPPED(&t, gpa - PAGE);
    /* PDPTE of the 1 GiB leaf: bits 51:30, bit 7, type WT; PDE of a 2 MiB leaf likewise */
    CHECK_EQ(raw_entry(&t, GIB, 3), (GIB + off) | ENTRY_LARGE | MT_WT << 3 | EPT_RWX);
    CHECK_EQ(raw_entry(&t, 2 * GIB, 2), (2 * GIB + off) | ENTRY_LARGE | MT_WT << 3 | EPT_RWX);
    /* PML4, PDPT, PD at 0, PD at 2 GiB, PT at 2 GiB + 2 MiB */
    CHECK_EQ(t.e.table_pages, 5);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_map_respects_leaf_support)
{
    struct fixture t;
    setup(&t, 1100, true, false);                   /* no 1 GiB leaves */
    CHECK_EQ(ept_map(&t.e, GIB, 3 * GIB, GIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_MAPS(&t, GIB, 3 * GIB, EPT_RWX, MT_WB, 2);
    CHECK_MAPS(&t, 2 * GIB - PAGE, 4 * GIB - PAGE, EPT_RWX, MT_WB, 2);
    CHECK_EQ(t.e.table_pages, 3);
    teardown(&t);

    setup(&t, 1100, false, true);                   /* 1 GiB but no 2 MiB: odd, but obeyed */
    CHECK_EQ(ept_map(&t.e, GIB, 3 * GIB, GIB + 2 * MIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_MAPS(&t, GIB, 3 * GIB, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 2 * GIB, 4 * GIB, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, 2 * GIB + 2 * MIB - PAGE, 4 * GIB + 2 * MIB - PAGE, EPT_RWX, MT_WB, 1);
    teardown(&t);

    setup(&t, 1100, false, false);                  /* 4 KiB only */
    CHECK_EQ(ept_map(&t.e, 0, 0, 4 * MIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_MAPS(&t, 2 * MIB, 2 * MIB, EPT_RWX, MT_WB, 1);
    CHECK_EQ(t.e.table_pages, 5);                   /* PML4, PDPT, PD, 2 PTs */
    teardown(&t);
}

TEST(ept_map_needs_both_addresses_aligned)
{
    struct fixture t;
    setup(&t, 1100, true, true);
    /* gpa 1 GiB aligned, hpa only 2 MiB aligned: 2 MiB leaves */
    CHECK_EQ(ept_map(&t.e, GIB, 5 * GIB + 2 * MIB, GIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_MAPS(&t, GIB, 5 * GIB + 2 * MIB, EPT_RWX, MT_WB, 2);
    /* gpa 2 MiB aligned, hpa only 4 KiB aligned: 4 KiB leaves */
    CHECK_EQ(ept_map(&t.e, 4 * GIB, 7 * GIB + PAGE, 2 * MIB, EPT_R, MT_UC), EPT_OK);
    CHECK_MAPS(&t, 4 * GIB + 2 * MIB - PAGE, 7 * GIB + 2 * MIB, EPT_R, MT_UC, 1);
    /* a size short of a whole leaf: 4 KiB leaves */
    CHECK_EQ(ept_map(&t.e, 8 * GIB, 8 * GIB, 2 * MIB - PAGE, EPT_R, MT_UC), EPT_OK);
    CHECK_MAPS(&t, 8 * GIB, 8 * GIB, EPT_R, MT_UC, 1);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_map_top_of_address_space)
{
    struct fixture t;
    setup(&t, 16, true, true);
    uint64_t top = 1ull << 48;
    CHECK_EQ(ept_map(&t.e, top - GIB, top - GIB, GIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_MAPS(&t, top - 1, top - 1, EPT_RWX, MT_WB, 3);
    CHECK_EQ(ept_unmap(&t.e, top - 2 * MIB, 2 * MIB), EPT_OK);
    CHECK_MAPS(&t, top - 2 * MIB - 1, top - 2 * MIB - 1, EPT_RWX, MT_WB, 2);
    CHECK_UNMAPPED(&t, top - 2 * MIB);
    check_structure(&t);
    teardown(&t);
}

/* ---- refusals ---- */

TEST(ept_map_invalid_arguments_change_nothing)
{
    struct bad { uint64_t gpa, hpa, size; unsigned perms, memtype; };
    uint64_t top = 1ull << 48;
    static const struct bad cases[] = {
        { 0x10000, 0x10000, 0, EPT_RWX, MT_WB },               /* size 0 */
        { 0x10800, 0x10000, PAGE, EPT_RWX, MT_WB },            /* gpa unaligned */
        { 0x10000, 0x10008, PAGE, EPT_RWX, MT_WB },            /* hpa unaligned */
        { 0x10000, 0x10000, PAGE + 1, EPT_RWX, MT_WB },        /* size unaligned */
        { (1ull << 48) - PAGE, 0, 2 * PAGE, EPT_RWX, MT_WB },  /* gpa + size past 2^48 */
        { 1ull << 48, 0, PAGE, EPT_RWX, MT_WB },               /* gpa past 2^48 */
        { 0, (1ull << 48) - PAGE, 2 * PAGE, EPT_RWX, MT_WB },  /* hpa + size past 2^48 */
        { PAGE, PAGE, ~0ull & ~0xfffull, EPT_RWX, MT_WB },     /* wraps past 2^64 */
        { 0x10000, 0x10000, PAGE, 0, MT_WB },                  /* no permission */
        { 0x10000, 0x10000, PAGE, 8, MT_WB },
        { 0x10000, 0x10000, PAGE, EPT_RWX, 2 },                /* reserved memory types */
        { 0x10000, 0x10000, PAGE, EPT_RWX, 3 },
        { 0x10000, 0x10000, PAGE, EPT_RWX, 7 },
        { 0x10000, 0x10000, PAGE, EPT_RWX, 8 },
    };
    struct fixture t;
    setup(&t, 16, true, true);
    CHECK_EQ(ept_map(&t.e, 0x20000, 0x80000, PAGE, EPT_R, MT_WB), EPT_OK);
    struct snapshot s = take_snapshot(&t);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad *c = &cases[i];
        CHECK_EQ(ept_map(&t.e, c->gpa, c->hpa, c->size, c->perms, c->memtype), EPT_EINVAL);
        CHECK(unchanged_since(&t, &s));
    }
    CHECK_UNMAPPED(&t, 0x10000);
    CHECK_MAPS(&t, 0x20000, 0x80000, EPT_R, MT_WB, 1);
    /* the last valid page and a whole-space unmap's arguments are fine */
    CHECK_EQ(ept_map(&t.e, top - PAGE, top - PAGE, PAGE, EPT_R, MT_WB), EPT_OK);
    CHECK_EQ(ept_unmap(&t.e, 0, 0), EPT_EINVAL);
    CHECK_EQ(ept_unmap(&t.e, 0x800, PAGE), EPT_EINVAL);
    CHECK_EQ(ept_unmap(&t.e, 0, top + PAGE), EPT_EINVAL);
    CHECK_EQ(ept_unmap(&t.e, 0, top), EPT_OK);
    CHECK_EQ(t.e.table_pages, 1);
    drop_snapshot(&s);
    teardown(&t);
}

TEST(ept_map_overlap_changes_nothing)
{
    struct fixture t;
    setup(&t, 16, true, true);
    CHECK_EQ(ept_map(&t.e, 2 * MIB, 0x40000000, 2 * MIB, EPT_RWX, MT_WB), EPT_OK);      /* 2 MiB leaf */
    CHECK_EQ(ept_map(&t.e, 3 * GIB + 5 * PAGE, 0x9000, PAGE, EPT_R, MT_UC), EPT_OK);    /* 4 KiB leaf */
    struct snapshot s = take_snapshot(&t);
    static const uint64_t overlaps[][2] = {
        { 2 * MIB, PAGE },
        { 3 * MIB, PAGE },
        { 2 * MIB - PAGE, 2 * PAGE },           /* ends inside */
        { 4 * MIB - PAGE, 4 * PAGE },           /* starts inside */
        { 0, GIB },                             /* covers it */
        { 3 * GIB, GIB },                       /* covers the 4 KiB leaf, which sits in a PT */
        { 3 * GIB + 5 * PAGE, PAGE },
        { 2 * GIB, 4 * GIB },
    };
    for (size_t i = 0; i < sizeof overlaps / sizeof overlaps[0]; i++) {
        CHECK_EQ(ept_map(&t.e, overlaps[i][0], 0, overlaps[i][1], EPT_RWX, MT_WB),
                 EPT_EEXIST);
        CHECK(unchanged_since(&t, &s));
    }
    CHECK_UNMAPPED(&t, 2 * MIB - PAGE);
    CHECK_UNMAPPED(&t, 3 * GIB);
    /* the neighbours are free */
    CHECK_EQ(ept_map(&t.e, 2 * MIB - PAGE, 0, PAGE, EPT_R, MT_WB), EPT_OK);
    CHECK_EQ(ept_map(&t.e, 4 * MIB, 0, PAGE, EPT_R, MT_WB), EPT_OK);
    CHECK_EQ(ept_map(&t.e, 3 * GIB, 0, 5 * PAGE, EPT_R, MT_WB), EPT_OK);
    CHECK_MAPS(&t, 2 * MIB + 5, 0x40000005, EPT_RWX, MT_WB, 2);
    check_structure(&t);
    drop_snapshot(&s);
    teardown(&t);
}

/* ---- out of memory ---- */

/* Fails the allocator after k = 0, 1, ... more pages until op succeeds: each failure must leave the
 * EPT exactly as it was. Returns how many pages op needed. */
static unsigned sweep_failures(struct fixture *t, int (*op)(struct ept *))
{
    for (unsigned k = 0; k < 64; k++) {
        struct snapshot s = take_snapshot(t);
        t->fa.fail_after = k;
        int rc = op(&t->e);
        t->fa.fail_after = -1;
        if (rc == EPT_OK) {
            drop_snapshot(&s);
            return k;
        }
        CHECK_EQ(rc, EPT_ENOMEM);
        CHECK(unchanged_since(t, &s));
        drop_snapshot(&s);
    }
    CHECK(!"op never succeeded");
    return 0;
}

/* 512 GiB - 4 KiB .. 512 GiB + 4 KiB: a new PD and PT under the existing PDPT, then a PDPT, PD and PT
 * under a second PML4 entry. */
static int map_across_pml4_entries(struct ept *e)
{
    return ept_map(e, 512 * GIB - PAGE, 0x200000000ull, 2 * PAGE, RW, MT_WB);
}

TEST(ept_map_out_of_memory_at_every_point)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map(&t.e, PAGE, 0x7000, PAGE, EPT_RWX, MT_WB), EPT_OK);
    CHECK_EQ(sweep_failures(&t, map_across_pml4_entries), 5);
    CHECK_MAPS(&t, 512 * GIB - PAGE, 0x200000000ull, RW, MT_WB, 1);
    CHECK_MAPS(&t, 512 * GIB, 0x200001000ull, RW, MT_WB, 1);
    CHECK_MAPS(&t, PAGE, 0x7000, EPT_RWX, MT_WB, 1);
    CHECK_EQ(t.e.table_pages, 9);
    check_structure(&t);
    teardown(&t);
}

/* 4 KiB leaves only, [2 MiB - 4 KiB, 8 MiB + 4 KiB): PDPT, PD and five PTs. */
static int map_many_page_tables(struct ept *e)
{
    return ept_map(e, 2 * MIB - PAGE, 0, 6 * MIB + 2 * PAGE, EPT_RWX, MT_UC);
}

TEST(ept_map_out_of_memory_with_many_tables)
{
    struct fixture t;
    setup(&t, 64, false, false);
    CHECK_EQ(sweep_failures(&t, map_many_page_tables), 7);
    CHECK_MAPS(&t, 8 * MIB, 6 * MIB + PAGE, EPT_RWX, MT_UC, 1);
    CHECK_EQ(t.e.table_pages, 8);
    check_structure(&t);
    teardown(&t);
}

/* ---- unmap ---- */

TEST(ept_unmap_splits_1g_leaf)
{
    struct fixture t;
    setup(&t, 16, true, true);
    uint64_t hpa = 5 * GIB, hole = GIB + 0x12345000;
    CHECK_EQ(ept_map(&t.e, GIB, hpa, GIB, RW, MT_WP), EPT_OK);
    CHECK_EQ(t.e.table_pages, 2);
    CHECK_EQ(ept_unmap(&t.e, hole, 3 * PAGE), EPT_OK);
    CHECK_EQ(t.e.table_pages, 4);                               /* + PD, + PT */
    CHECK_MAPS(&t, GIB, hpa, RW, MT_WP, 2);
    CHECK_MAPS(&t, hole - 1, hpa + hole - 1 - GIB, RW, MT_WP, 1);
    CHECK_UNMAPPED(&t, hole);
    CHECK_UNMAPPED(&t, hole + PAGE);
    CHECK_UNMAPPED(&t, hole + 3 * PAGE - 1);
    CHECK_MAPS(&t, hole + 3 * PAGE, hpa + hole + 3 * PAGE - GIB, RW, MT_WP, 1);
    CHECK_MAPS(&t, (hole | (2 * MIB - 1)) + 1, hpa + (hole | (2 * MIB - 1)) + 1 - GIB, RW,
               MT_WP, 2);
    CHECK_MAPS(&t, 2 * GIB - 1, hpa + GIB - 1, RW, MT_WP, 2);
    /* the split leaves keep the large leaf's attributes */
    CHECK_EQ(raw_entry(&t, GIB, 2), hpa | ENTRY_LARGE | MT_WP << 3 | RW);
    CHECK_EQ(raw_entry(&t, hole - PAGE, 1), (hpa + hole - PAGE - GIB) | MT_WP << 3 | RW);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_unmap_splits_2m_leaf)
{
    struct fixture t;
    setup(&t, 16, true, true);
    CHECK_EQ(ept_map(&t.e, 6 * MIB, 0x20000000, 2 * MIB, EPT_R, MT_WT), EPT_OK);
    CHECK_EQ(t.e.table_pages, 3);
    CHECK_EQ(ept_unmap(&t.e, 6 * MIB + 0x80000, 0x1000), EPT_OK);
    CHECK_EQ(t.e.table_pages, 4);
    CHECK_MAPS(&t, 6 * MIB, 0x20000000, EPT_R, MT_WT, 1);
    CHECK_MAPS(&t, 6 * MIB + 0x7f000, 0x2007f000, EPT_R, MT_WT, 1);
    CHECK_UNMAPPED(&t, 6 * MIB + 0x80000);
    CHECK_MAPS(&t, 6 * MIB + 0x81000, 0x20081000, EPT_R, MT_WT, 1);
    CHECK_MAPS(&t, 8 * MIB - 1, 0x201fffff, EPT_R, MT_WT, 1);
    /* taking the first half off a 2 MiB leaf at a 2 MiB edge needs no split above it */
    CHECK_EQ(ept_unmap(&t.e, 6 * MIB, 0x80000), EPT_OK);
    CHECK_UNMAPPED(&t, 6 * MIB);
    CHECK_MAPS(&t, 6 * MIB + 0x81000, 0x20081000, EPT_R, MT_WT, 1);
    check_structure(&t);
    teardown(&t);
}

static int unmap_two_straddled_edges(struct ept *e)
{
    return ept_unmap(e, 2 * GIB + MIB, GIB);     /* both edges inside 1 GiB leaves, off 2 MiB */
}

static int unmap_one_straddled_edge(struct ept *e)
{
    return ept_unmap(e, 2 * GIB + 2 * MIB, GIB - 2 * MIB);   /* start 2 MiB aligned, end at 3 GiB */
}

TEST(ept_unmap_out_of_memory_changes_nothing)
{
    struct fixture t;
    setup(&t, 32, true, true);
    CHECK_EQ(ept_map(&t.e, 2 * GIB, 2 * GIB, 2 * GIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_EQ(sweep_failures(&t, unmap_two_straddled_edges), 4);
    CHECK_MAPS(&t, 2 * GIB + MIB - PAGE, 2 * GIB + MIB - PAGE, EPT_RWX, MT_WB, 1);
    CHECK_UNMAPPED(&t, 2 * GIB + MIB);
    CHECK_UNMAPPED(&t, 3 * GIB + MIB - PAGE);
    CHECK_MAPS(&t, 3 * GIB + MIB, 3 * GIB + MIB, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, 4 * GIB - 1, 4 * GIB - 1, EPT_RWX, MT_WB, 2);
    check_structure(&t);
    teardown(&t);

    setup(&t, 32, true, true);
    CHECK_EQ(ept_map(&t.e, 2 * GIB, 2 * GIB, 2 * GIB, EPT_RWX, MT_WB), EPT_OK);
    CHECK_EQ(sweep_failures(&t, unmap_one_straddled_edge), 1);
    CHECK_MAPS(&t, 2 * GIB, 2 * GIB, EPT_RWX, MT_WB, 2);
    CHECK_UNMAPPED(&t, 2 * GIB + 2 * MIB);
    CHECK_MAPS(&t, 3 * GIB, 3 * GIB, EPT_RWX, MT_WB, 3);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_unmap_holes_and_everything)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(ept_unmap(&t.e, 0, GIB), EPT_OK);                 /* nothing there */
    CHECK_EQ(t.e.table_pages, 1);
    CHECK_EQ(ept_map(&t.e, 0, 0, 3 * GIB + 6 * MIB + 3 * PAGE, EPT_RWX, MT_WB), EPT_OK);
    CHECK_EQ(ept_map(&t.e, 700 * GIB + 3 * PAGE, 0, PAGE, EPT_R, MT_UC), EPT_OK);
    CHECK_EQ(ept_unmap(&t.e, 5 * GIB, 100 * GIB), EPT_OK);       /* a hole between them */
    CHECK_MAPS(&t, 700 * GIB + 3 * PAGE, 0, EPT_R, MT_UC, 1);
    CHECK_EQ(ept_unmap(&t.e, 700 * GIB, GIB), EPT_OK);
    CHECK_UNMAPPED(&t, 700 * GIB + 3 * PAGE);
    CHECK_EQ(ept_unmap(&t.e, GIB + 4 * MIB, PAGE), EPT_OK);      /* split, then take it all */
    CHECK_EQ(ept_unmap(&t.e, 0, 4 * GIB), EPT_OK);
    CHECK_EQ(t.e.table_pages, 1);
    CHECK_EQ(t.fa.in_use, 1);
    CHECK_UNMAPPED(&t, 0);
    CHECK_UNMAPPED(&t, 3 * GIB);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_destroy_frees_everything)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map(&t.e, 0, 0, 3 * GIB + 6 * MIB + 3 * PAGE, EPT_RWX, MT_WB), EPT_OK);
    CHECK_EQ(ept_map(&t.e, 300 * GIB, 0, 2 * MIB + PAGE, EPT_R, MT_UC), EPT_OK);
    CHECK_EQ(ept_unmap(&t.e, GIB + 5 * PAGE, PAGE), EPT_OK);
    CHECK(t.fa.in_use > 5);
    teardown(&t);   /* checks in_use == 0, no double or foreign frees */
}

/* ---- the root partition's identity map ---- */

/* OVMF's MTRRs (testing-facts.md): default WB, 2-4 GiB UC, 32-64 GiB UC, fixed ranges WB below
 * 0xA0000 and UC from there to 1 MiB; 40 physical address bits. */
static struct mtrr_state ovmf_mtrrs(void)
{
    uint64_t phys = 0xfffffff000ull, valid = 1ull << 11;
    struct mtrr_state m = { .cap = 0x508, .def_type = 0xc00 | MT_WB, .phys_bits = 40 };
    m.fixed[0] = m.fixed[1] = 0x0606060606060606ull;
    m.var_base[0] = 2 * GIB | MT_UC;
    m.var_mask[0] = (~(2 * GIB - 1) & phys) | valid;
    m.var_base[1] = 32 * GIB | MT_UC;
    m.var_mask[1] = (~(32 * GIB - 1) & phys) | valid;
    return m;
}

#define ONES_PAGE 0x3000000ull
#define HIDE_BASE 0x7ffd000ull      /* six pages across the 2 MiB line at 128 MiB */
#define HIDE_SIZE (6 * PAGE)

static uint64_t ovmf_type_below_2m(uint64_t pa)
{
    return pa < 0xa0000 || pa >= MIB ? MT_WB : MT_UC;
}

TEST(ept_root_identity_ovmf)
{
    struct fixture t;
    struct mtrr_state m = ovmf_mtrrs();
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map_root_identity(&t.e, 512 * GIB, &m, HIDE_BASE, HIDE_SIZE, ONES_PAGE), EPT_OK);
    /* PML4, PDPT, the PD of the first GiB, PTs for 0-2 MiB (fixed ranges) and for the two 2 MiB
     * blocks the hidden window touches */
    CHECK_EQ(t.e.table_pages, 6);
    printf("#   root identity, 512 GiB, 1 GiB leaves: %llu table pages\n",
           (unsigned long long)t.e.table_pages);
    for (uint64_t pa = 0; pa < 2 * MIB; pa += PAGE)
        CHECK_MAPS(&t, pa, pa, EPT_RWX, ovmf_type_below_2m(pa), 1);
    CHECK_MAPS(&t, 0x9f000, 0x9f000, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, 0xa0000, 0xa0000, EPT_RWX, MT_UC, 1);
    CHECK_MAPS(&t, 0xfffff, 0xfffff, EPT_RWX, MT_UC, 1);
    CHECK_MAPS(&t, 2 * MIB, 2 * MIB, EPT_RWX, MT_WB, 2);
    /* the hidden window and its neighbours */
    for (uint64_t pa = HIDE_BASE; pa < HIDE_BASE + HIDE_SIZE; pa += PAGE)
        CHECK_MAPS(&t, pa + 0x18, ONES_PAGE + 0x18, EPT_R, MT_WB, 1);
    CHECK_MAPS(&t, HIDE_BASE - 1, HIDE_BASE - 1, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, HIDE_BASE + HIDE_SIZE, HIDE_BASE + HIDE_SIZE, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, 0x7e00000 - 1, 0x7e00000 - 1, EPT_RWX, MT_WB, 2);
    CHECK_MAPS(&t, 0x8200000, 0x8200000, EPT_RWX, MT_WB, 2);
    CHECK_EQ(raw_entry(&t, HIDE_BASE, 1), ONES_PAGE | EPT_R | MT_WB << 3);
    /* the UC holes, 1 GiB leaves */
    CHECK_MAPS(&t, GIB, GIB, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 2 * GIB - 1, 2 * GIB - 1, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 2 * GIB, 2 * GIB, EPT_RWX, MT_UC, 3);
    CHECK_MAPS(&t, 4 * GIB - 1, 4 * GIB - 1, EPT_RWX, MT_UC, 3);
    CHECK_MAPS(&t, 4 * GIB, 4 * GIB, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 32 * GIB - 1, 32 * GIB - 1, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 32 * GIB, 32 * GIB, EPT_RWX, MT_UC, 3);
    CHECK_MAPS(&t, 64 * GIB - 1, 64 * GIB - 1, EPT_RWX, MT_UC, 3);
    CHECK_MAPS(&t, 64 * GIB, 64 * GIB, EPT_RWX, MT_WB, 3);
    CHECK_MAPS(&t, 512 * GIB - 1, 512 * GIB - 1, EPT_RWX, MT_WB, 3);
    CHECK_UNMAPPED(&t, 512 * GIB);
    CHECK_EQ(raw_entry(&t, 2 * GIB, 3), 2 * GIB | ENTRY_LARGE | MT_UC << 3 | EPT_RWX);
    check_structure(&t);
    CHECK_EQ(ept_unmap(&t.e, 0, 512 * GIB), EPT_OK);
    CHECK_EQ(t.e.table_pages, 1);
    teardown(&t);
}

TEST(ept_root_identity_without_1g_leaves)
{
    struct fixture t;
    struct mtrr_state m = ovmf_mtrrs();
    setup(&t, 600, true, false);
    CHECK_EQ(ept_map_root_identity(&t.e, 512 * GIB, &m, HIDE_BASE, HIDE_SIZE, ONES_PAGE), EPT_OK);
    CHECK_EQ(t.e.table_pages, 1 + 1 + 512 + 3);     /* a PD per GiB */
    printf("#   root identity, 512 GiB, 2 MiB leaves: %llu table pages\n",
           (unsigned long long)t.e.table_pages);
    CHECK_MAPS(&t, 2 * GIB, 2 * GIB, EPT_RWX, MT_UC, 2);
    CHECK_MAPS(&t, 100 * GIB + 0x12345, 100 * GIB + 0x12345, EPT_RWX, MT_WB, 2);
    CHECK_MAPS(&t, HIDE_BASE, ONES_PAGE, EPT_R, MT_WB, 1);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_root_identity_window_across_uc_edge)
{
    /* Hidden pages either side of 2 GiB: WB below, UC above, both sides down to 4 KiB leaves. */
    struct fixture t;
    struct mtrr_state m = ovmf_mtrrs();
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map_root_identity(&t.e, 8 * GIB, &m, 2 * GIB - PAGE, 2 * PAGE, ONES_PAGE), EPT_OK);
    CHECK_EQ(t.e.table_pages, 8);   /* PML4, PDPT, PD and PT at 0, PD and PT either side of 2 GiB */
    CHECK_MAPS(&t, 2 * GIB - 2 * PAGE, 2 * GIB - 2 * PAGE, EPT_RWX, MT_WB, 1);
    CHECK_MAPS(&t, 2 * GIB - PAGE, ONES_PAGE, EPT_R, MT_WB, 1);
    CHECK_MAPS(&t, 2 * GIB, ONES_PAGE, EPT_R, MT_WB, 1);
    CHECK_MAPS(&t, 2 * GIB + PAGE, 2 * GIB + PAGE, EPT_RWX, MT_UC, 1);
    CHECK_MAPS(&t, 2 * GIB + 2 * MIB, 2 * GIB + 2 * MIB, EPT_RWX, MT_UC, 2);
    CHECK_MAPS(&t, 3 * GIB, 3 * GIB, EPT_RWX, MT_UC, 3);
    CHECK_MAPS(&t, 8 * GIB - 1, 8 * GIB - 1, EPT_RWX, MT_WB, 3);
    CHECK_UNMAPPED(&t, 8 * GIB);
    check_structure(&t);
    teardown(&t);
}

TEST(ept_root_identity_edge_cases)
{
    struct fixture t;
    struct mtrr_state m = ovmf_mtrrs();
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map_root_identity(&t.e, 4 * GIB, &m, 0x5000, 0, ONES_PAGE), EPT_OK);   /* no window */
    CHECK_EQ(t.e.table_pages, 4);
    CHECK_MAPS(&t, 0x5000, 0x5000, EPT_RWX, MT_WB, 1);
    /* not empty any more */
    struct snapshot s = take_snapshot(&t);
    CHECK_EQ(ept_map_root_identity(&t.e, 4 * GIB, &m, 0, 0, ONES_PAGE), EPT_EEXIST);
    CHECK(unchanged_since(&t, &s));
    drop_snapshot(&s);
    teardown(&t);

    m.def_type = 0;                                  /* MTRRs off: all UC, 1 GiB leaves */
    setup(&t, 64, true, true);
    CHECK_EQ(ept_map_root_identity(&t.e, 4 * GIB, &m, 0, 0, ONES_PAGE), EPT_OK);
    CHECK_EQ(t.e.table_pages, 2);
    CHECK_MAPS(&t, 0xa0000, 0xa0000, EPT_RWX, MT_UC, 3);
    teardown(&t);

    m = ovmf_mtrrs();
    setup(&t, 64, true, true);
    static const uint64_t bad[][4] = {           /* limit, hide_base, hide_size, ones_page */
        { 0, 0, 0, ONES_PAGE },
        { GIB + 2 * MIB, 0, 0, ONES_PAGE },
        { (1ull << 48) + GIB, 0, 0, ONES_PAGE },
        { GIB, 0x800, PAGE, ONES_PAGE },
        { GIB, PAGE, 0x800, ONES_PAGE },
        { GIB, ~0ull & ~0xfffull, 2 * PAGE, ONES_PAGE },
        { GIB, 0, 0, ONES_PAGE + 8 },
        { GIB, 0, 0, 1ull << 52 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(ept_map_root_identity(&t.e, bad[i][0], &m, bad[i][1], bad[i][2], bad[i][3]), EPT_EINVAL);
    CHECK_EQ(t.e.table_pages, 1);
    teardown(&t);
}

static struct mtrr_state sweep_mtrrs;

static int identity_with_window(struct ept *e)
{
    return ept_map_root_identity(e, 512 * GIB, &sweep_mtrrs, HIDE_BASE, HIDE_SIZE, ONES_PAGE);
}

TEST(ept_root_identity_out_of_memory)
{
    struct fixture t;
    sweep_mtrrs = ovmf_mtrrs();
    setup(&t, 64, true, true);
    CHECK_EQ(sweep_failures(&t, identity_with_window), 5);
    CHECK_EQ(t.e.table_pages, 6);
    check_structure(&t);
    teardown(&t);
}

/* ---- randomized operations against a page-by-page model of [0, 4 GiB) ---- */

#define MODEL_PAGES (4 * GIB / PAGE)
#define MODEL_MAPPED (1ull << 62)

static uint64_t *model;             /* per page: MODEL_MAPPED | hpa | type << 3 | perms, or 0 */

static uint64_t rnd(void)
{
    return (uint64_t)rand() << 33 ^ (uint64_t)rand() << 11 ^ (uint64_t)rand();
}

static bool model_any_mapped(uint64_t gpa, uint64_t end)
{
    for (uint64_t p = gpa / PAGE; p < end / PAGE; p++) {
        if (model[p])
            return true;
    }
    return false;
}

static void check_against_model(struct fixture *t, uint64_t gpa)
{
    uint64_t want = model[gpa / PAGE];
    struct mapping got = look(t, gpa);
    CHECK_EQ(got.mapped, want != 0);
    if (got.mapped && want) {
        CHECK_EQ(got.hpa, (want & ENTRY_ADDR) + gpa % PAGE);
        CHECK_EQ(got.perms, want & 7);
        CHECK_EQ(got.memtype, (want >> 3) & 7);
    }
}

/* A range of 1-3 units of 4 KiB, 2 MiB or 1 GiB at a unit boundary, sometimes nudged by pages so
 * that edges fall inside large leaves; clipped to the model. */
static void random_range(uint64_t *gpa, uint64_t *end, uint64_t *unit)
{
    static const uint64_t units[] = { PAGE, 2 * MIB, GIB };
    *unit = units[rnd() % 3];
    *gpa = rnd() % (4 * GIB / *unit) * *unit;
    *end = *gpa + (rnd() % 3 + 1) * *unit;
    if (rnd() % 3 == 0)
        *gpa += rnd() % 512 * PAGE;
    if (rnd() % 3 == 0)
        *end -= rnd() % 512 * PAGE;
    if (*end > 4 * GIB)
        *end = 4 * GIB;
    if (*end <= *gpa)
        *end = *gpa + PAGE;
}

static int random_op(struct fixture *t, bool *was_map, uint64_t *gpa, uint64_t *end, uint64_t *leaf)
{
    static const unsigned types[] = { MT_UC, MT_WC, MT_WT, MT_WP, MT_WB };
    uint64_t unit;
    random_range(gpa, end, &unit);
    *was_map = rnd() % 2;
    if (!*was_map)
        return ept_unmap(&t->e, *gpa, *end - *gpa);
    /* hpa with the same offset within the unit most of the time, so that large leaves happen */
    uint64_t hpa = rnd() % 1024 * GIB + *gpa % GIB;
    if (rnd() % 4 == 0 && unit < GIB)
        hpa += PAGE;
    unsigned perms = 1 + rnd() % 7, type = types[rnd() % 5];
    *leaf = hpa | (uint64_t)type << 3 | perms;
    return ept_map(&t->e, *gpa, hpa, *end - *gpa, perms, type);
}

static void model_apply(bool was_map, uint64_t gpa, uint64_t end, uint64_t leaf)
{
    for (uint64_t p = gpa; p < end; p += PAGE)
        model[p / PAGE] = was_map ? MODEL_MAPPED | (leaf + (p - gpa)) : 0;
}

TEST(ept_random_against_model)
{
    struct fixture t;
    model = calloc(MODEL_PAGES, sizeof *model);
    srand(4242);
    setup(&t, 4096, true, true);
    unsigned oks = 0, eexists = 0, enomems = 0;
    for (unsigned op = 0; op < 1500; op++) {
        bool was_map;
        uint64_t gpa, end, leaf = 0;
        struct snapshot s = take_snapshot(&t);
        bool squeeze = rnd() % 5 == 0;
        t.fa.fail_after = squeeze ? (long)(rnd() % 4) : -1;
        int rc = random_op(&t, &was_map, &gpa, &end, &leaf);
        t.fa.fail_after = -1;
        if (rc == EPT_ENOMEM) {
            CHECK(squeeze);
            CHECK(unchanged_since(&t, &s));
            enomems++;
        } else if (rc == EPT_EEXIST) {
            CHECK(was_map && model_any_mapped(gpa, end));
            CHECK(unchanged_since(&t, &s));
            eexists++;
        } else {
            CHECK_EQ(rc, EPT_OK);
            CHECK(!was_map || !model_any_mapped(gpa, end));
            model_apply(was_map, gpa, end, leaf);
            oks++;
        }
        drop_snapshot(&s);
        check_structure(&t);
        uint64_t probes[] = { gpa, end - PAGE, gpa - PAGE, end, gpa + (end - gpa) / 2 };
        for (unsigned i = 0; i < 5; i++)
            if (probes[i] < 4 * GIB)
                check_against_model(&t, probes[i] + rnd() % PAGE);
        for (unsigned i = 0; i < 32; i++)
            check_against_model(&t, rnd() % (4 * GIB));
    }
    for (uint64_t p = 0; p < MODEL_PAGES; p += 1 + rnd() % 8)
        check_against_model(&t, p * PAGE);
    CHECK(oks > 500 && eexists > 100 && enomems > 20);
    CHECK_EQ(ept_unmap(&t.e, 0, 4 * GIB), EPT_OK);
    CHECK_EQ(t.e.table_pages, 1);
    CHECK_EQ(t.fa.in_use, 1);
    teardown(&t);
    free(model);
}
