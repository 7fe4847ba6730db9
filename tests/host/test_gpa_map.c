/* The GPA map of a child partition over the fake allocator: argument tables whose refusals must change
 * nothing (range table and EPT byte for byte), leaf sizes, merging, partial unmaps, a full table,
 * out-of-memory at every allocation, and a randomized run against a page-by-page model. */
#include "check.h"
#include "fake_alloc.h"
#include "api/hv_abi.h"
#include "vmx/gpa_map.h"
#include <stdlib.h>
#include <string.h>

#define MIB  0x100000ull
#define GIB  0x40000000ull
#define PAGE 0x1000ull

/* WHV_MAP_GPA_RANGE_FLAGS */
#define F_R     1u
#define F_W     2u
#define F_X     4u
#define F_TRACK 8u
#define F_RW    (F_R | F_W)
#define F_RX    (F_R | F_X)
#define F_RWX   (F_R | F_W | F_X)

#define OK      HV_STATUS_SUCCESS
#define ALIGN   HV_STATUS_INVALID_ALIGNMENT
#define PARAM   HV_STATUS_INVALID_PARAMETER
#define DENIED  HV_STATUS_ACCESS_DENIED
#define NOMEM   HV_STATUS_INSUFFICIENT_MEMORY

/* The root's RAM, shaped like a PC's: holes for the legacy VGA/ROM window and the PCI window, the
 * hypervisor hidden inside the second range, and two adjacent ranges left unmerged. */
#define HIDE_BASE (1 * GIB)
#define HIDE_SIZE (16 * MIB)
#define HIDE_END  (HIDE_BASE + HIDE_SIZE)

static const struct hv_ram_range root_ram[] = {
    { 0, 0x9f000 },
    { 1 * MIB, 3 * GIB - 1 * MIB },
    { 4 * GIB, 4 * GIB },
    { 8 * GIB, 1 * GIB },
    { 9 * GIB, 1 * GIB },
};
#define ROOT_RAM_COUNT (sizeof root_ram / sizeof root_ram[0])

/* ---- fixture ---- */

struct fixture {
    struct fake_alloc fa;
    struct gpa_map m;
};

static int init_map(struct gpa_map *m, struct fake_alloc *fa, bool leaf_2m, bool leaf_1g, uint64_t hide_size)
{
    return gpa_map_init(m, &fa->api, leaf_2m, leaf_1g, root_ram, ROOT_RAM_COUNT, HIDE_BASE, hide_size);
}

static void setup_hiding(struct fixture *t, size_t pages, bool leaf_2m, bool leaf_1g, uint64_t hide_size)
{
    fake_alloc_init(&t->fa, pages);
    CHECK_EQ(init_map(&t->m, &t->fa, leaf_2m, leaf_1g, hide_size), EPT_OK);
}

static void setup(struct fixture *t, size_t pages, bool leaf_2m, bool leaf_1g)
{
    setup_hiding(t, pages, leaf_2m, leaf_1g, HIDE_SIZE);
}

/* Destroys the map and checks that every page came back, exactly once. */
static void teardown(struct fixture *t)
{
    gpa_map_destroy(&t->m);
    CHECK_EQ(t->m.ept.table_pages, 0);
    CHECK_EQ(t->m.count, 0);
    CHECK_EQ(t->fa.in_use, 0);
    CHECK_EQ(t->fa.bad_frees, 0);
    CHECK_EQ(t->fa.bad_accesses, 0);
    fake_alloc_fini(&t->fa);
}

static uint16_t add(struct fixture *t, uint64_t source, uint64_t gpa, uint64_t size, uint32_t flags)
{
    return gpa_map_add(&t->m, source, gpa, size, flags);
}

/* gpa_map_remove, checking the unmapped byte count it reports. */
static uint16_t remove_expecting(struct fixture *t, uint64_t gpa, uint64_t size, uint64_t want_bytes)
{
    uint64_t bytes = 0xdead;
    uint16_t status = gpa_map_remove(&t->m, gpa, size, &bytes);
    CHECK_EQ(bytes, want_bytes);
    return status;
}

#define CHECK_RANGE(t, i, want_gpa, want_hpa, want_size, want_flags)  \
    do {                                                              \
        const struct gpa_range *r_ = &(t)->m.ranges[i];               \
        CHECK_EQ(r_->gpa, want_gpa);                                  \
        CHECK_EQ(r_->hpa, want_hpa);                                  \
        CHECK_EQ(r_->size, want_size);                                \
        CHECK_EQ(r_->flags, want_flags);                              \
    } while (0)

/* gpa maps to hpa with EPT perms, WB, through a leaf of `level`, and the table says the same. */
#define CHECK_MAPS(t, gpa, want_hpa, want_perms, want_level)                                \
    do {                                                                                    \
        uint64_t hpa_ = 0, thpa_ = 0;                                                       \
        unsigned perms_ = 0, type_ = 0, level_ = 0;                                         \
        uint32_t flags_ = 0;                                                                \
        CHECK(ept_lookup(&(t)->m.ept, gpa, &hpa_, &perms_, &type_, &level_));               \
        CHECK_EQ(hpa_, want_hpa);                                                           \
        CHECK_EQ(perms_, want_perms);                                                       \
        CHECK_EQ(type_, MT_WB);                                                             \
        CHECK_EQ(level_, want_level);                                                       \
        CHECK(gpa_map_translate(&(t)->m, gpa, &thpa_, &flags_));                            \
        CHECK_EQ(thpa_, want_hpa);                                                          \
    } while (0)

#define CHECK_UNMAPPED(t, gpa)                                                              \
    do {                                                                                    \
        uint64_t hpa_ = 0;                                                                  \
        uint32_t flags_ = 0;                                                                \
        CHECK(!ept_lookup(&(t)->m.ept, gpa, 0, 0, 0, 0));                                   \
        CHECK(!gpa_map_translate(&(t)->m, gpa, &hpa_, &flags_));                            \
    } while (0)

/* Everything the map owns, byte for byte: the struct (range table, EPT root, counters), the allocator's
 * in-use map and every page in use. "Nothing changed" means the snapshots before and after are equal. */
struct snapshot {
    struct gpa_map map;
    bool *in_use;
    unsigned char *pages;
    size_t in_use_count, allocs;
};

static struct snapshot *take_snapshot(const struct fixture *t)
{
    struct snapshot *s = malloc(sizeof *s);
    memcpy(&s->map, &t->m, sizeof s->map);
    s->in_use = malloc(t->fa.pages * sizeof(bool));
    s->pages = malloc(t->fa.pages * FAKE_PAGE);
    s->in_use_count = t->fa.in_use;
    s->allocs = t->fa.allocs;
    memcpy(s->in_use, t->fa.in_use_map, t->fa.pages * sizeof(bool));
    memcpy(s->pages, t->fa.arena, t->fa.pages * FAKE_PAGE);
    return s;
}

static bool unchanged_since(const struct fixture *t, const struct snapshot *s)
{
    bool same = !memcmp(&s->map, &t->m, sizeof s->map) && s->in_use_count == t->fa.in_use &&
                !memcmp(s->in_use, t->fa.in_use_map, t->fa.pages * sizeof(bool));
    for (size_t i = 0; i < t->fa.pages && same; i++) {
        if (s->in_use[i])
            same = !memcmp(s->pages + i * FAKE_PAGE, t->fa.arena + i * FAKE_PAGE, FAKE_PAGE);
    }
    return same;
}

static void drop_snapshot(struct snapshot *s)
{
    free(s->in_use);
    free(s->pages);
    free(s);
}

/* ---- init, destroy ---- */

TEST(gpa_map_init_is_empty)
{
    struct fixture t;
    setup(&t, 8, true, true);
    CHECK_EQ(t.m.count, 0);
    CHECK_EQ(t.m.ept.table_pages, 1);
    CHECK_EQ(t.fa.in_use, 1);
    CHECK_UNMAPPED(&t, 0);
    CHECK_UNMAPPED(&t, 2 * MIB);
    teardown(&t);
}

TEST(gpa_map_init_out_of_memory)
{
    struct fake_alloc fa;
    struct gpa_map m;
    fake_alloc_init(&fa, 8);
    fa.fail_after = 0;
    CHECK_EQ(init_map(&m, &fa, true, true, HIDE_SIZE), EPT_ENOMEM);
    CHECK_EQ(fa.in_use, 0);
    fake_alloc_fini(&fa);
}

TEST(gpa_map_destroy_returns_every_page)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(add(&t, 16 * MIB, 0, 4 * MIB + PAGE, F_RWX), OK);
    CHECK_EQ(add(&t, 64 * MIB, 512 * GIB - PAGE, 2 * PAGE, F_R), OK);
    CHECK_EQ(add(&t, 4 * GIB, 5 * GIB, 1 * GIB, F_RW), OK);
    CHECK_EQ(add(&t, 100 * MIB, (1ull << 47), 3 * PAGE, F_RW), OK);
    CHECK(t.m.ept.table_pages > 8);
    CHECK_EQ(t.fa.in_use, t.m.ept.table_pages);
    teardown(&t);
}

/* ---- refusals ---- */

struct add_case {
    uint64_t source, gpa, size;
    uint32_t flags;
    uint16_t status;
};

/* Against a map that already holds gpa [64 MiB, 72 MiB) <- [16 MiB, 24 MiB). */
static const struct add_case bad_adds[] = {
    /* alignment comes first */
    { 32 * MIB + 0x800, 0, PAGE, F_R, ALIGN },
    { 32 * MIB, 0x10, PAGE, F_R, ALIGN },
    { 32 * MIB, 0, 0x800, F_R, ALIGN },
    { 32 * MIB, 0, PAGE + 1, F_R, ALIGN },
    { 32 * MIB + 1, 0, 0, 0, ALIGN },
    /* sizes and address widths */
    { 32 * MIB, 0, 0, F_R, PARAM },
    { 32 * MIB, 1ull << 48, PAGE, F_R, PARAM },
    { 32 * MIB, (1ull << 48) - PAGE, 2 * PAGE, F_R, PARAM },
    { 32 * MIB, 0 - PAGE, 2 * PAGE, F_R, PARAM },
    { 32 * MIB, PAGE, 0 - PAGE, F_R, PARAM },
    { 0 - PAGE, 0, 2 * PAGE, F_R, PARAM },
    { 1ull << 48, 0, PAGE, F_R, PARAM },
    /* flags: read is required, nothing unknown, no dirty tracking */
    { 32 * MIB, 0, PAGE, 0, PARAM },
    { 32 * MIB, 0, PAGE, F_W, PARAM },
    { 32 * MIB, 0, PAGE, F_X, PARAM },
    { 32 * MIB, 0, PAGE, F_W | F_X, PARAM },
    { 32 * MIB, 0, PAGE, F_TRACK, PARAM },
    { 32 * MIB, 0, PAGE, F_RW | F_TRACK, PARAM },
    { 32 * MIB, 0, PAGE, F_R | 0x10, PARAM },
    { 32 * MIB, 0, PAGE, F_R | 0x80000000u, PARAM },
    { 0xa0000, 0, PAGE, F_W, PARAM },               /* bad flags win over a bad source */
    /* sources: RAM only, never the hypervisor */
    { 0x9f000, 0, PAGE, F_R, DENIED },              /* legacy VGA/ROM hole */
    { 0x9e000, 0, 2 * PAGE, F_R, DENIED },          /* runs from RAM into that hole */
    { 0xff000, 0, 2 * PAGE, F_R, DENIED },          /* runs from the hole into RAM */
    { 3 * GIB, 0, PAGE, F_R, DENIED },              /* PCI window */
    { 3 * GIB - PAGE, 0, 2 * PAGE, F_R, DENIED },
    { 0, 0, 2 * MIB, F_R, DENIED },                 /* spans the hole */
    { 10 * GIB, 0, PAGE, F_R, DENIED },             /* above all RAM */
    { 10 * GIB - PAGE, 0, 2 * PAGE, F_R, DENIED },
    { HIDE_BASE, 0, PAGE, F_R, DENIED },            /* the hypervisor: first page, last page, across */
    { HIDE_END - PAGE, 0, PAGE, F_R, DENIED },
    { HIDE_BASE - PAGE, 0, 2 * PAGE, F_R, DENIED },
    { HIDE_END - PAGE, 0, 2 * PAGE, F_R, DENIED },
    { HIDE_BASE - 2 * MIB, 0, HIDE_SIZE + 4 * MIB, F_R, DENIED },
    { HIDE_BASE, 64 * MIB, PAGE, F_R, DENIED },     /* a bad source wins over an overlap */
    /* overlaps with [64 MiB, 72 MiB) */
    { 32 * MIB, 64 * MIB, PAGE, F_R, PARAM },
    { 32 * MIB, 72 * MIB - PAGE, PAGE, F_R, PARAM },
    { 32 * MIB, 64 * MIB - PAGE, 2 * PAGE, F_R, PARAM },
    { 32 * MIB, 72 * MIB - PAGE, 2 * PAGE, F_R, PARAM },
    { 32 * MIB, 60 * MIB, 16 * MIB, F_R, PARAM },
    { 32 * MIB, 66 * MIB, 2 * MIB, F_R, PARAM },
    { 16 * MIB, 64 * MIB, 8 * MIB, F_RWX, PARAM },  /* the same mapping again */
};

TEST(gpa_map_add_refusals_change_nothing)
{
    struct fixture t;
    setup(&t, 32, true, true);
    CHECK_EQ(add(&t, 16 * MIB, 64 * MIB, 8 * MIB, F_RWX), OK);
    for (size_t i = 0; i < sizeof bad_adds / sizeof bad_adds[0]; i++) {
        const struct add_case *c = &bad_adds[i];
        struct snapshot *s = take_snapshot(&t);
        uint16_t status = add(&t, c->source, c->gpa, c->size, c->flags);
        if (status != c->status)
            printf("#   bad_adds[%zu]: status %u, want %u\n", i, status, c->status);
        CHECK_EQ(status, c->status);
        CHECK(unchanged_since(&t, s));
        drop_snapshot(s);
    }
    CHECK_EQ(t.m.count, 1);
    CHECK_RANGE(&t, 0, 64 * MIB, 16 * MIB, 8 * MIB, F_RWX);
    teardown(&t);
}

struct remove_case {
    uint64_t gpa, size;
    uint16_t status;
};

/* Against a map that holds [2 MiB, 4 MiB) and [8 MiB, 8 MiB + 4 KiB). */
static const struct remove_case bad_removes[] = {
    { 2 * MIB + 0x10, PAGE, ALIGN },
    { 2 * MIB, 0x800, ALIGN },
    { 2 * MIB + 1, 0, ALIGN },
    { 2 * MIB, 0, PARAM },
    { 0 - PAGE, 2 * PAGE, PARAM },
    { 2 * MIB, 0 - PAGE, PARAM },
    { 1ull << 48, PAGE, PARAM },
    { (1ull << 48) - PAGE, 2 * PAGE, PARAM },
    /* nothing mapped there: before, between, after, and right up to the edges of both ranges */
    { 0, 2 * MIB, PARAM },
    { 4 * MIB, 4 * MIB, PARAM },
    { 8 * MIB + PAGE, 1 * GIB, PARAM },
    { 64 * GIB, PAGE, PARAM },
};

TEST(gpa_map_remove_refusals_change_nothing)
{
    struct fixture t;
    setup(&t, 32, true, true);
    CHECK_EQ(add(&t, 16 * MIB, 2 * MIB, 2 * MIB, F_RW), OK);
    CHECK_EQ(add(&t, 32 * MIB, 8 * MIB, PAGE, F_R), OK);
    for (size_t i = 0; i < sizeof bad_removes / sizeof bad_removes[0]; i++) {
        const struct remove_case *c = &bad_removes[i];
        struct snapshot *s = take_snapshot(&t);
        uint16_t status = remove_expecting(&t, c->gpa, c->size, 0);
        if (status != c->status)
            printf("#   bad_removes[%zu]: status %u, want %u\n", i, status, c->status);
        CHECK_EQ(status, c->status);
        CHECK(unchanged_since(&t, s));
        drop_snapshot(s);
    }
    CHECK_EQ(t.m.count, 2);
    teardown(&t);
}

/* ---- adds ---- */

TEST(gpa_map_add_accepts_the_edges)
{
    struct fixture t;
    setup(&t, 32, true, true);
    CHECK_EQ(add(&t, HIDE_BASE - 2 * PAGE, 0, 2 * PAGE, F_R), OK);          /* ends at the hypervisor */
    CHECK_EQ(add(&t, HIDE_END, 1 * MIB, PAGE, F_R), OK);                     /* starts after it */
    CHECK_EQ(add(&t, 9 * GIB - PAGE, 2 * MIB, 2 * PAGE, F_RW), OK);          /* two unmerged RAM ranges */
    CHECK_EQ(add(&t, 0, 3 * MIB, 0x9f000, F_RX), OK);                        /* all of low RAM */
    CHECK_EQ(add(&t, 10 * GIB - PAGE, (1ull << 48) - PAGE, PAGE, F_RWX), OK); /* both tops */
    CHECK_MAPS(&t, PAGE, HIDE_BASE - PAGE, EPT_R, 1);
    CHECK_MAPS(&t, 1 * MIB, HIDE_END, EPT_R, 1);
    CHECK_MAPS(&t, 2 * MIB + PAGE, 9 * GIB, EPT_R | EPT_W, 1);
    CHECK_MAPS(&t, 3 * MIB + 0x9e000, 0x9e000, EPT_R | EPT_X, 1);
    CHECK_MAPS(&t, (1ull << 48) - 1, 10 * GIB - 1, EPT_RWX, 1);
    CHECK_UNMAPPED(&t, 2 * PAGE);
    CHECK_UNMAPPED(&t, 3 * MIB + 0x9f000);
    teardown(&t);
}

/* An empty hidden range hides nothing, not even a page at its base. */
TEST(gpa_map_add_with_nothing_hidden)
{
    struct fixture t;
    setup_hiding(&t, 16, true, true, 0);
    CHECK_EQ(add(&t, HIDE_BASE - PAGE, 0, 2 * PAGE, F_RW), OK);
    CHECK_MAPS(&t, PAGE, HIDE_BASE, EPT_R | EPT_W, 1);
    teardown(&t);
}

TEST(gpa_map_add_flags_become_ept_perms)
{
    static const struct { uint32_t flags; unsigned perms; } cases[] = {
        { F_R, EPT_R }, { F_RW, EPT_R | EPT_W }, { F_R | F_X, EPT_R | EPT_X }, { F_RWX, EPT_RWX },
    };
    struct fixture t;
    setup(&t, 16, true, true);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t gpa = i * 2 * PAGE, hpa = 16 * MIB + gpa;
        uint32_t flags = 0;
        uint64_t translated = 0;
        CHECK_EQ(add(&t, hpa, gpa, PAGE, cases[i].flags), OK);
        CHECK_MAPS(&t, gpa + 0x123, hpa + 0x123, cases[i].perms, 1);
        CHECK(gpa_map_translate(&t.m, gpa, &translated, &flags));
        CHECK_EQ(flags, cases[i].flags);
    }
    teardown(&t);
}

TEST(gpa_map_add_uses_large_leaves_where_aligned)
{
    struct fixture t;
    setup(&t, 32, true, true);
    /* Both addresses 2 MiB aligned: 2 MiB leaves, 4 KiB for the tail. */
    CHECK_EQ(add(&t, 32 * MIB, 2 * GIB, 6 * MIB + 2 * PAGE, F_RWX), OK);
    CHECK_MAPS(&t, 2 * GIB, 32 * MIB, EPT_RWX, 2);
    CHECK_MAPS(&t, 2 * GIB + 6 * MIB - 1, 38 * MIB - 1, EPT_RWX, 2);
    CHECK_MAPS(&t, 2 * GIB + 6 * MIB + PAGE, 38 * MIB + PAGE, EPT_RWX, 1);
    /* The source off by a page: 4 KiB leaves only. */
    CHECK_EQ(add(&t, 64 * MIB + PAGE, 4 * GIB, 4 * MIB, F_R), OK);
    CHECK_MAPS(&t, 4 * GIB, 64 * MIB + PAGE, EPT_R, 1);
    CHECK_MAPS(&t, 4 * GIB + 2 * MIB, 66 * MIB + PAGE, EPT_R, 1);
    /* The gpa off by a page, the source aligned: 4 KiB leaves only. */
    CHECK_EQ(add(&t, 128 * MIB, 6 * GIB + PAGE, 4 * MIB, F_R), OK);
    CHECK_MAPS(&t, 6 * GIB + 2 * MIB + PAGE, 130 * MIB, EPT_R, 1);
    /* A whole aligned GiB: one 1 GiB leaf. */
    CHECK_EQ(add(&t, 5 * GIB, 8 * GIB, 1 * GIB, F_RW), OK);
    CHECK_MAPS(&t, 8 * GIB + 123 * MIB, 5 * GIB + 123 * MIB, EPT_R | EPT_W, 3);
    teardown(&t);
}

TEST(gpa_map_add_respects_leaf_support)
{
    struct fixture t;
    setup(&t, 32, false, false);
    CHECK_EQ(add(&t, 4 * GIB, 1 * GIB, 4 * MIB, F_RW), OK);
    CHECK_MAPS(&t, 1 * GIB, 4 * GIB, EPT_R | EPT_W, 1);
    CHECK_MAPS(&t, 1 * GIB + 4 * MIB - PAGE, 4 * GIB + 4 * MIB - PAGE, EPT_R | EPT_W, 1);
    CHECK_EQ(t.m.ept.table_pages, 5);   /* PML4, PDPT, PD and two PTs */
    teardown(&t);
}

TEST(gpa_map_add_merges_continuous_ranges)
{
    struct fixture t;
    setup(&t, 32, true, true);
    /* More pages, one at a time, than the table has slots: one range. */
    for (uint64_t i = 0; i < GPA_MAP_MAX_RANGES + 44; i++)
        CHECK_EQ(add(&t, 16 * MIB + i * PAGE, 1 * GIB + i * PAGE, PAGE, F_RW), OK);
    CHECK_EQ(t.m.count, 1);
    CHECK_RANGE(&t, 0, 1 * GIB, 16 * MIB, 300 * PAGE, F_RW);
    /* Touching but not continuing: other flags, a source elsewhere. Separate ranges. */
    CHECK_EQ(add(&t, 16 * MIB + 300 * PAGE, 1 * GIB + 300 * PAGE, PAGE, F_R), OK);
    CHECK_EQ(add(&t, 16 * MIB, 1 * GIB - PAGE, PAGE, F_RW), OK);
    CHECK_EQ(t.m.count, 3);
    /* Filling the gap between two ranges that the new one continues on both sides: one range. */
    CHECK_EQ(add(&t, 40 * MIB, 2 * GIB, 4 * PAGE, F_RWX), OK);
    CHECK_EQ(add(&t, 40 * MIB + 8 * PAGE, 2 * GIB + 8 * PAGE, 4 * PAGE, F_RWX), OK);
    CHECK_EQ(t.m.count, 5);
    CHECK_EQ(add(&t, 40 * MIB + 4 * PAGE, 2 * GIB + 4 * PAGE, 4 * PAGE, F_RWX), OK);
    CHECK_EQ(t.m.count, 4);
    CHECK_RANGE(&t, 0, 1 * GIB - PAGE, 16 * MIB, PAGE, F_RW);
    CHECK_RANGE(&t, 1, 1 * GIB, 16 * MIB, 300 * PAGE, F_RW);
    CHECK_RANGE(&t, 2, 1 * GIB + 300 * PAGE, 16 * MIB + 300 * PAGE, PAGE, F_R);
    CHECK_RANGE(&t, 3, 2 * GIB, 40 * MIB, 12 * PAGE, F_RWX);
    CHECK_MAPS(&t, 2 * GIB + 6 * PAGE, 40 * MIB + 6 * PAGE, EPT_RWX, 1);
    teardown(&t);
}

/* Fills every slot with one-page ranges that cannot merge: gpa 2i pages, source 16 MiB + 2i pages. */
static void fill_table(struct fixture *t)
{
    for (uint64_t i = 0; i < GPA_MAP_MAX_RANGES; i++)
        CHECK_EQ(add(t, 16 * MIB + 2 * i * PAGE, 2 * i * PAGE, PAGE, F_R), OK);
    CHECK_EQ(t->m.count, GPA_MAP_MAX_RANGES);
}

TEST(gpa_map_add_to_a_full_table)
{
    struct fixture t;
    setup(&t, 32, true, true);
    fill_table(&t);
    struct snapshot *s = take_snapshot(&t);
    CHECK_EQ(add(&t, 64 * MIB, 1 * GIB, PAGE, F_R), NOMEM);
    CHECK(unchanged_since(&t, s));
    drop_snapshot(s);
    /* Continuing the last range, or closing the gap between two, needs no slot. */
    CHECK_EQ(add(&t, 16 * MIB + 511 * PAGE, 511 * PAGE, PAGE, F_R), OK);
    CHECK_EQ(add(&t, 16 * MIB + PAGE, PAGE, PAGE, F_R), OK);
    CHECK_EQ(t.m.count, GPA_MAP_MAX_RANGES - 1);
    CHECK_RANGE(&t, 0, 0, 16 * MIB, 3 * PAGE, F_R);
    CHECK_RANGE(&t, GPA_MAP_MAX_RANGES - 2, 510 * PAGE, 16 * MIB + 510 * PAGE, 2 * PAGE, F_R);
    CHECK_EQ(add(&t, 64 * MIB, 1 * GIB, PAGE, F_R), OK);
    CHECK_EQ(add(&t, 64 * MIB, 2 * GIB, PAGE, F_R), NOMEM);
    teardown(&t);
}

/* ---- removes ---- */

TEST(gpa_map_remove_partial_start_middle_end)
{
    struct fixture t;
    setup(&t, 32, true, true);
    /* [0, 8 MiB) <- [32 MiB, 40 MiB): four 2 MiB leaves. */
    CHECK_EQ(add(&t, 32 * MIB, 0, 8 * MIB, F_RWX), OK);
    CHECK_MAPS(&t, 0, 32 * MIB, EPT_RWX, 2);
    /* Start: the first page. */
    CHECK_EQ(remove_expecting(&t, 0, PAGE, PAGE), OK);
    CHECK_EQ(t.m.count, 1);
    CHECK_RANGE(&t, 0, PAGE, 32 * MIB + PAGE, 8 * MIB - PAGE, F_RWX);
    CHECK_UNMAPPED(&t, 0);
    CHECK_MAPS(&t, PAGE, 32 * MIB + PAGE, EPT_RWX, 1);
    CHECK_MAPS(&t, 2 * MIB, 34 * MIB, EPT_RWX, 2);
    /* End: the last 2 MiB leaf and one page before it. */
    CHECK_EQ(remove_expecting(&t, 6 * MIB - PAGE, 2 * MIB + PAGE, 2 * MIB + PAGE), OK);
    CHECK_EQ(t.m.count, 1);
    CHECK_RANGE(&t, 0, PAGE, 32 * MIB + PAGE, 6 * MIB - 2 * PAGE, F_RWX);
    CHECK_UNMAPPED(&t, 6 * MIB - PAGE);
    CHECK_UNMAPPED(&t, 7 * MIB);
    CHECK_MAPS(&t, 6 * MIB - 2 * PAGE, 38 * MIB - 2 * PAGE, EPT_RWX, 1);
    /* Middle: two pages inside the 2 MiB leaf at 2 MiB, which splits the range in two. */
    CHECK_EQ(remove_expecting(&t, 3 * MIB, 2 * PAGE, 2 * PAGE), OK);
    CHECK_EQ(t.m.count, 2);
    CHECK_RANGE(&t, 0, PAGE, 32 * MIB + PAGE, 3 * MIB - PAGE, F_RWX);
    CHECK_RANGE(&t, 1, 3 * MIB + 2 * PAGE, 35 * MIB + 2 * PAGE, 3 * MIB - 3 * PAGE, F_RWX);
    CHECK_UNMAPPED(&t, 3 * MIB);
    CHECK_UNMAPPED(&t, 3 * MIB + PAGE);
    CHECK_MAPS(&t, 3 * MIB - PAGE, 35 * MIB - PAGE, EPT_RWX, 1);
    CHECK_MAPS(&t, 3 * MIB + 2 * PAGE, 35 * MIB + 2 * PAGE, EPT_RWX, 1);
    CHECK_MAPS(&t, 4 * MIB, 36 * MIB, EPT_RWX, 1);
    CHECK_EQ(t.fa.in_use, t.m.ept.table_pages);
    teardown(&t);
}

TEST(gpa_map_remove_across_ranges_and_holes)
{
    struct fixture t;
    setup(&t, 32, true, true);
    CHECK_EQ(add(&t, 16 * MIB, 1 * MIB, 1 * MIB, F_R), OK);
    CHECK_EQ(add(&t, 20 * MIB, 4 * MIB, 2 * MIB, F_RW), OK);
    CHECK_EQ(add(&t, 24 * MIB, 8 * MIB, 1 * MIB, F_RWX), OK);
    CHECK_EQ(add(&t, 28 * MIB, 12 * MIB, 1 * MIB, F_R), OK);
    /* From the middle of the first (1.5 MiB) to the middle of the third (8.5 MiB): the second goes,
     * the holes between them are fine. */
    CHECK_EQ(remove_expecting(&t, 1 * MIB + 128 * PAGE, 7 * MIB, 128 * PAGE + 2 * MIB + 128 * PAGE), OK);
    CHECK_EQ(t.m.count, 3);
    CHECK_RANGE(&t, 0, 1 * MIB, 16 * MIB, 128 * PAGE, F_R);
    CHECK_RANGE(&t, 1, 8 * MIB + 128 * PAGE, 24 * MIB + 128 * PAGE, 128 * PAGE, F_RWX);
    CHECK_RANGE(&t, 2, 12 * MIB, 28 * MIB, 1 * MIB, F_R);
    CHECK_MAPS(&t, 1 * MIB + 127 * PAGE, 16 * MIB + 127 * PAGE, EPT_R, 1);
    CHECK_UNMAPPED(&t, 1 * MIB + 128 * PAGE);
    CHECK_UNMAPPED(&t, 5 * MIB);
    CHECK_UNMAPPED(&t, 8 * MIB + 127 * PAGE);
    CHECK_MAPS(&t, 8 * MIB + 128 * PAGE, 24 * MIB + 128 * PAGE, EPT_RWX, 1);
    /* Everything: the address space from 0 to its top. */
    CHECK_EQ(remove_expecting(&t, 0, 1ull << 48, 256 * PAGE + 1 * MIB), OK);
    CHECK_EQ(t.m.count, 0);
    CHECK_EQ(t.m.ept.table_pages, 1);
    CHECK_EQ(t.fa.in_use, 1);
    teardown(&t);
}

TEST(gpa_map_remove_split_needs_a_slot)
{
    struct fixture t;
    setup(&t, 32, true, true);
    fill_table(&t);
    CHECK_EQ(add(&t, 16 * MIB + PAGE, PAGE, PAGE, F_R), OK);    /* range 0: 3 pages; 255 in use */
    CHECK_EQ(add(&t, 64 * MIB, 1 * GIB, PAGE, F_R), OK);        /* full again */
    struct snapshot *s = take_snapshot(&t);
    CHECK_EQ(remove_expecting(&t, PAGE, PAGE, 0), NOMEM);
    CHECK(unchanged_since(&t, s));
    drop_snapshot(s);
    /* Cutting an end needs no slot; once one is free, the split goes through. */
    CHECK_EQ(remove_expecting(&t, 1 * GIB, PAGE, PAGE), OK);
    CHECK_EQ(remove_expecting(&t, PAGE, PAGE, PAGE), OK);
    CHECK_EQ(t.m.count, GPA_MAP_MAX_RANGES);
    CHECK_RANGE(&t, 0, 0, 16 * MIB, PAGE, F_R);
    CHECK_RANGE(&t, 1, 2 * PAGE, 16 * MIB + 2 * PAGE, PAGE, F_R);
    CHECK_UNMAPPED(&t, PAGE);
    teardown(&t);
}

/* ---- out of memory ---- */

/* Fails the allocator after k = 0, 1, ... more pages until op succeeds: each failure must be
 * INSUFFICIENT_MEMORY with nothing changed. Returns how many pages the successful op allocated. */
static unsigned sweep_failures(struct fixture *t, uint16_t (*op)(struct fixture *))
{
    for (unsigned k = 0; k < 64; k++) {
        struct snapshot *s = take_snapshot(t);
        t->fa.fail_after = k;
        uint16_t status = op(t);
        t->fa.fail_after = -1;
        if (status == OK) {
            unsigned allocated = (unsigned)(t->fa.allocs - s->allocs);
            drop_snapshot(s);
            return allocated;
        }
        CHECK_EQ(status, NOMEM);
        CHECK(unchanged_since(t, s));
        drop_snapshot(s);
    }
    CHECK(!"op never succeeded");
    return 0;
}

/* 512 GiB - 8 KiB .. 512 GiB + 2 MiB + 8 KiB: a PD and PT under the existing PDPT, then a PDPT, a PD
 * with one 2 MiB leaf, and a PT under a second PML4 entry. */
static uint16_t add_across_pml4_entries(struct fixture *t)
{
    return add(t, 64 * MIB - 2 * PAGE, 512 * GIB - 2 * PAGE, 2 * MIB + 4 * PAGE, F_RW);
}

TEST(gpa_map_add_out_of_memory_at_every_point)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(add(&t, 16 * MIB, 0, 2 * MIB, F_R), OK);
    CHECK_EQ(sweep_failures(&t, add_across_pml4_entries), 5);
    CHECK_EQ(t.m.count, 2);
    CHECK_MAPS(&t, 512 * GIB - 2 * PAGE, 64 * MIB - 2 * PAGE, EPT_R | EPT_W, 1);
    CHECK_MAPS(&t, 512 * GIB, 64 * MIB, EPT_R | EPT_W, 2);
    CHECK_MAPS(&t, 512 * GIB + 2 * MIB + PAGE, 66 * MIB + PAGE, EPT_R | EPT_W, 1);
    CHECK_EQ(t.fa.in_use, t.m.ept.table_pages);
    teardown(&t);
}

/* A page in the middle of a 1 GiB leaf: both edges split it, down to 4 KiB. */
static uint16_t remove_inside_1g_leaf(struct fixture *t)
{
    uint64_t bytes = 0xdead;
    uint16_t status = gpa_map_remove(&t->m, 4 * GIB + 3 * MIB, PAGE, &bytes);
    CHECK_EQ(bytes, status == OK ? PAGE : 0);
    return status;
}

TEST(gpa_map_remove_out_of_memory_at_every_point)
{
    struct fixture t;
    setup(&t, 64, true, true);
    CHECK_EQ(add(&t, 5 * GIB, 4 * GIB, 1 * GIB, F_RWX), OK);
    CHECK_MAPS(&t, 4 * GIB, 5 * GIB, EPT_RWX, 3);
    unsigned pages_before = (unsigned)t.m.ept.table_pages;
    /* Four pages asked for up front (a PD and a PT per edge); the second edge's went back unused. */
    CHECK_EQ(sweep_failures(&t, remove_inside_1g_leaf), 4);
    CHECK_EQ(t.m.ept.table_pages, pages_before + 2);
    CHECK_EQ(t.m.count, 2);
    CHECK_UNMAPPED(&t, 4 * GIB + 3 * MIB);
    CHECK_MAPS(&t, 4 * GIB + 3 * MIB - PAGE, 5 * GIB + 3 * MIB - PAGE, EPT_RWX, 1);
    CHECK_MAPS(&t, 4 * GIB + 3 * MIB + PAGE, 5 * GIB + 3 * MIB + PAGE, EPT_RWX, 1);
    CHECK_MAPS(&t, 4 * GIB, 5 * GIB, EPT_RWX, 2);
    CHECK_MAPS(&t, 4 * GIB + 512 * MIB, 5 * GIB + 512 * MIB, EPT_RWX, 2);
    CHECK_EQ(t.fa.in_use, t.m.ept.table_pages);
    teardown(&t);
}

/* ---- randomized, against a page-by-page model ---- */

/* A window of child GPAs across a 1 GiB boundary; sources from root RAM below the hypervisor, placed so
 * that many adds are 2 MiB congruent and get large leaves. Ranges above the window fill all but
 * WINDOW_SLOTS of the table, so that the random runs also meet a full table. */
#define WINDOW_BASE  (1 * GIB - 4 * MIB)
#define WINDOW_PAGES 2048u
#define WINDOW_SLOTS 32u
#define PREFILLED    (GPA_MAP_MAX_RANGES - WINDOW_SLOTS)
#define PREFILL_BASE (2 * GIB)
#define SOURCE_BASE  (64 * MIB)

struct model_page {
    bool mapped;
    uint64_t hpa;
    uint32_t flags;
};

struct model {
    struct model_page page[WINDOW_PAGES];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t random_below(uint64_t n)
{
    return next_random() % n;
}

/* Mostly short runs, sometimes long ones. */
static uint32_t random_pages(uint32_t first)
{
    uint32_t max = WINDOW_PAGES - first;
    uint32_t want = random_below(4) ? 1 + (uint32_t)random_below(16) : 1 + (uint32_t)random_below(1024);
    return want < max ? want : max;
}

static uint32_t random_flags(void)
{
    static const uint32_t valid[] = { F_R, F_RW, F_R | F_X, F_RWX };
    return random_below(16) ? valid[random_below(4)] : (uint32_t)random_below(16);
}

static bool flags_are_valid(uint32_t flags)
{
    return flags == F_R || flags == F_RW || flags == F_RX || flags == F_RWX;
}

static uint64_t page_gpa(uint32_t i)
{
    return WINDOW_BASE + (uint64_t)i * PAGE;
}

/* The canonical ranges the model stands for (out: WINDOW_PAGES entries, the most there can be); their
 * count may exceed the table's capacity, and the op that led there must then fail. */
static uint32_t model_ranges(const struct model *md, struct gpa_range *out)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < WINDOW_PAGES; i++) {
        const struct model_page *p = &md->page[i];
        struct gpa_range *last = count ? &out[count - 1] : 0;
        if (!p->mapped)
            continue;
        if (last && last->gpa + last->size == page_gpa(i) && last->hpa + last->size == p->hpa &&
            last->flags == p->flags)
            last->size += PAGE;
        else
            out[count++] = (struct gpa_range){ page_gpa(i), p->hpa, PAGE, p->flags };
    }
    return count;
}

static bool model_any_mapped(const struct model *md, uint32_t first, uint32_t pages)
{
    for (uint32_t i = first; i < first + pages; i++) {
        if (md->page[i].mapped)
            return true;
    }
    return false;
}

static uint32_t model_mapped_pages(const struct model *md, uint32_t first, uint32_t pages)
{
    uint32_t n = 0;
    for (uint32_t i = first; i < first + pages; i++)
        n += md->page[i].mapped;
    return n;
}

static bool model_fits(const struct model *md)
{
    static struct gpa_range scratch[WINDOW_PAGES];
    return model_ranges(md, scratch) <= WINDOW_SLOTS;
}

static unsigned perms_of(uint32_t flags)
{
    return flags & 7;   /* WHV R/W/X and EPT R/W/X share their bits */
}

/* The table is the model's canonical ranges, then the prefilled ones, and every page of the window
 * translates as the model says. */
static void check_against_model(struct fixture *t, const struct model *md)
{
    static struct gpa_range want[WINDOW_PAGES];
    uint32_t count = model_ranges(md, want);
    CHECK_EQ(t->m.count, count + PREFILLED);
    for (uint32_t i = 0; i < count && i < t->m.count; i++)
        CHECK_RANGE(t, i, want[i].gpa, want[i].hpa, want[i].size, want[i].flags);
    for (uint32_t i = 0; i < WINDOW_PAGES; i++) {
        const struct model_page *p = &md->page[i];
        uint64_t hpa = 0, thpa = 0;
        unsigned perms = 0, type = 0;
        uint32_t flags = 0;
        bool mapped = ept_lookup(&t->m.ept, page_gpa(i), &hpa, &perms, &type, 0);
        CHECK_EQ(mapped, p->mapped);
        CHECK_EQ(gpa_map_translate(&t->m, page_gpa(i), &thpa, &flags), p->mapped);
        if (mapped && p->mapped) {
            CHECK_EQ(hpa, p->hpa);
            CHECK_EQ(thpa, p->hpa);
            CHECK_EQ(perms, perms_of(p->flags));
            CHECK_EQ(flags, p->flags);
            CHECK_EQ(type, MT_WB);
        }
    }
    CHECK_EQ(t->fa.in_use, t->m.ept.table_pages);
}

/* The status the model predicts for an add, applied to md when it is success. */
static uint16_t model_add(struct model *md, uint32_t first, uint32_t pages, uint64_t source, uint32_t flags)
{
    if (!flags_are_valid(flags))
        return PARAM;
    if (source < HIDE_END && source + pages * PAGE > HIDE_BASE)
        return DENIED;
    if (model_any_mapped(md, first, pages))
        return PARAM;
    struct model before = *md;
    for (uint32_t i = 0; i < pages; i++)
        md->page[first + i] = (struct model_page){ true, source + i * PAGE, flags };
    if (model_fits(md))
        return OK;
    *md = before;
    return NOMEM;
}

/* The status the model predicts for a remove, applied to md when it is success. */
static uint16_t model_remove(struct model *md, uint32_t first, uint32_t pages)
{
    if (!model_any_mapped(md, first, pages))
        return PARAM;
    struct model before = *md;
    for (uint32_t i = first; i < first + pages; i++)
        md->page[i].mapped = false;
    if (model_fits(md))
        return OK;
    *md = before;
    return NOMEM;
}

/* A source 2 MiB congruent with the gpa most of the time; otherwise off by some pages; rarely in the
 * hypervisor's hidden memory. */
static uint64_t random_source(uint32_t first)
{
    uint64_t congruent = SOURCE_BASE + random_below(64) * 2 * MIB + (page_gpa(first) & (2 * MIB - 1));
    switch (random_below(16)) {
    case 0: return HIDE_BASE + random_below(64) * PAGE;
    case 1: case 2: case 3: return congruent + (1 + random_below(511)) * PAGE;
    default: return congruent;
    }
}

/* One random add or remove, one time in four with the allocator about to run out: where the model
 * says success, INSUFFICIENT_MEMORY is then right too, provided nothing changed. */
static void random_step(struct fixture *t, struct model *md)
{
    uint32_t first = (uint32_t)random_below(WINDOW_PAGES), pages = random_pages(first);
    bool starve = random_below(4) == 0;
    struct model before = *md;
    struct snapshot *s = take_snapshot(t);
    uint16_t want, got;
    uint64_t unmapped = 0;
    t->fa.fail_after = starve ? (long)random_below(2) : -1;
    if (random_below(2)) {
        uint64_t source = random_source(first);
        uint32_t flags = random_flags();
        want = model_add(md, first, pages, source, flags);
        got = add(t, source, page_gpa(first), pages * PAGE, flags);
    } else {
        uint64_t bytes = model_mapped_pages(md, first, pages) * PAGE;
        want = model_remove(md, first, pages);
        got = gpa_map_remove(&t->m, page_gpa(first), pages * PAGE, &unmapped);
        CHECK_EQ(unmapped, got == OK ? bytes : 0);
    }
    t->fa.fail_after = -1;
    if (starve && want == OK && got == NOMEM)
        *md = before;
    else
        CHECK_EQ(got, want);
    if (got != OK)
        CHECK(unchanged_since(t, s));
    drop_snapshot(s);
}

TEST(gpa_map_random_against_model)
{
    static struct model md;
    struct fixture t;
    setup(&t, 64, true, true);
    memset(&md, 0, sizeof md);
    for (uint64_t i = 0; i < PREFILLED; i++)
        CHECK_EQ(add(&t, 16 * MIB + 2 * i * PAGE, PREFILL_BASE + 2 * i * PAGE, PAGE, F_R), OK);
    for (unsigned step = 0; step < 4000; step++) {
        random_step(&t, &md);
        check_against_model(&t, &md);
    }
    uint64_t unmapped = 0;
    CHECK_EQ(gpa_map_remove(&t.m, PREFILL_BASE, 2 * PREFILLED * PAGE, &unmapped), OK);
    CHECK_EQ(unmapped, PREFILLED * PAGE);
    gpa_map_remove(&t.m, WINDOW_BASE, WINDOW_PAGES * PAGE, &unmapped);
    CHECK_EQ(t.m.count, 0);
    CHECK_EQ(t.m.ept.table_pages, 1);
    teardown(&t);
}
