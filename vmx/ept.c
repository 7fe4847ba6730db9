/* Extended page tables (Intel SDM vol. 3, 29.3): a 4-level builder over a page allocator.
 * Levels are numbered as the walk goes: 4 = PML4, 3 = PDPT (1 GiB leaves), 2 = PD (2 MiB leaves),
 * 1 = PT (4 KiB leaves). The EPT may be live on other CPUs while it changes, so a new table is always
 * complete before the entry that links it is written; flushing (INVEPT) is the caller's business. */
#include "vmx/ept.h"

#define EPT_LEVELS        4
#define EPT_ENTRIES       512
#define EPT_PAGE          0x1000ull
#define EPT_GPA_LIMIT     (1ull << 48)               /* 4-level walk: 48-bit guest-physical addresses */
#define EPT_ADDR_BITS     0x000ffffffffff000ull      /* bits 51:12 of an entry */
#define EPT_MEMTYPE_SHIFT 3                          /* leaf bits 5:3 */
#define EPT_LARGE_LEAF    (1ull << 7)                /* PDPTE/PDE bit 7: maps 1 GiB / 2 MiB */
#define EPT_TABLE_LINK    EPT_RWX                    /* a non-leaf entry allows everything below it */

#define EPTP_MEMTYPE_WB   6ull                       /* EPTP 2:0: type of the paging structures */
#define EPTP_WALK_4       (3ull << 3)                /* EPTP 5:3: walk length minus 1 */
#define EPTP_AD_FLAGS     (1ull << 6)

/* ---- entries and tables ---- */

static uint64_t level_size(unsigned level)
{
    return 1ull << (12 + 9 * (level - 1));
}

static unsigned entry_index(uint64_t gpa, unsigned level)
{
    return (unsigned)(gpa >> (12 + 9 * (level - 1))) % EPT_ENTRIES;
}

/* Where the entry of `level` that maps gpa stops mapping. */
static uint64_t entry_end(uint64_t gpa, unsigned level)
{
    return (gpa | (level_size(level) - 1)) + 1;
}

static bool is_aligned(uint64_t value, uint64_t size)
{
    return (value & (size - 1)) == 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* An entry with none of R/W/X is not present (29.3.2); we only ever write such entries as 0. */
static bool is_present(uint64_t entry)
{
    return entry & EPT_RWX;
}

static bool is_leaf(uint64_t entry, unsigned level)
{
    return level == 1 || (level <= 3 && (entry & EPT_LARGE_LEAF));
}

static uint64_t make_leaf(uint64_t hpa, unsigned level, uint64_t attrs)
{
    return hpa | attrs | (level > 1 ? EPT_LARGE_LEAF : 0);
}

static uint64_t leaf_attrs(unsigned perms, unsigned memtype)
{
    return perms | (uint64_t)memtype << EPT_MEMTYPE_SHIFT;   /* ignore-PAT (bit 6) stays clear */
}

static uint64_t *table_at(const struct ept *e, uint64_t pa)
{
    return e->alloc->to_virt(e->alloc->ctx, pa);
}

static uint64_t *child_table(const struct ept *e, uint64_t entry)
{
    return table_at(e, entry & EPT_ADDR_BITS);
}

static uint64_t *pml4(const struct ept *e)
{
    return table_at(e, e->pml4_pa);
}

/* One aligned 64-bit store, not moved before the stores that filled what it links (x86 keeps
 * store order; this keeps the compiler from reordering). */
static void publish(uint64_t *slot, uint64_t value)
{
    __asm__ volatile("" ::: "memory");
    *(volatile uint64_t *)slot = value;
}

static uint64_t alloc_table(struct ept *e)
{
    uint64_t pa = e->alloc->alloc(e->alloc->ctx);
    if (pa)
        e->table_pages++;
    return pa;
}

static void free_table(struct ept *e, uint64_t pa)
{
    e->alloc->free(e->alloc->ctx, pa);
    e->table_pages--;
}

static bool table_is_empty(const uint64_t *table)
{
    for (unsigned i = 0; i < EPT_ENTRIES; i++) {
        if (table[i])
            return false;
    }
    return true;
}

/* The table an entry links to, allocating and linking an empty one when the entry is absent. */
static uint64_t *child_or_new(struct ept *e, uint64_t *slot)
{
    if (is_present(*slot))
        return child_table(e, *slot);
    uint64_t pa = alloc_table(e);
    if (!pa)
        return 0;
    publish(slot, pa | EPT_TABLE_LINK);
    return table_at(e, pa);
}

/* ---- walks over a range of one table: [gpa, end) clipped to the table's span ---- */

static bool range_has_mapping(const struct ept *e, const uint64_t *table, unsigned level, uint64_t gpa,
                              uint64_t end)
{
    for (unsigned i = entry_index(gpa, level); i < EPT_ENTRIES && gpa < end; i++) {
        uint64_t entry = table[i];
        if (is_present(entry) &&
            (is_leaf(entry, level) || range_has_mapping(e, child_table(e, entry), level - 1, gpa, end)))
            return true;
        gpa = entry_end(gpa, level);
    }
    return false;
}

/* Clears every leaf in [gpa, end) and frees the tables that become empty. Every leaf met must lie
 * wholly inside the range: callers split the edges first or only clear what they just built. */
static void clear_range(struct ept *e, uint64_t *table, unsigned level, uint64_t gpa, uint64_t end)
{
    for (unsigned i = entry_index(gpa, level); i < EPT_ENTRIES && gpa < end; i++) {
        uint64_t entry = table[i];
        if (is_present(entry) && is_leaf(entry, level)) {
            publish(&table[i], 0);
        } else if (is_present(entry)) {
            uint64_t *child = child_table(e, entry);
            clear_range(e, child, level - 1, gpa, end);
            if (table_is_empty(child)) {
                publish(&table[i], 0);
                free_table(e, entry & EPT_ADDR_BITS);
            }
        }
        gpa = entry_end(gpa, level);
    }
}

/* Decides what [gpa, gpa+len) within one entry of `level` becomes: true and *leaf to map it with a
 * single leaf there, false to descend. Must say true at level 1. */
typedef bool choose_leaf_fn(const void *ctx, const struct ept *e, unsigned level, uint64_t gpa,
                            uint64_t len, uint64_t *leaf);

struct fill {
    choose_leaf_fn *choose_leaf;
    const void *ctx;
    uint64_t end;
};

static int fill_range(struct ept *e, uint64_t *table, unsigned level, uint64_t gpa, const struct fill *f)
{
    for (unsigned i = entry_index(gpa, level); i < EPT_ENTRIES && gpa < f->end; i++) {
        uint64_t piece_end = min_u64(entry_end(gpa, level), f->end);
        uint64_t leaf;
        if (f->choose_leaf(f->ctx, e, level, gpa, piece_end - gpa, &leaf)) {
            publish(&table[i], leaf);
        } else {
            uint64_t *child = child_or_new(e, &table[i]);
            if (!child)
                return EPT_ENOMEM;
            int rc = fill_range(e, child, level - 1, gpa, f);
            if (rc != EPT_OK)
                return rc;
        }
        gpa = piece_end;
    }
    return EPT_OK;
}

/* Builds [start, f->end), which must be unmapped; on ENOMEM removes what it built (all of it lies
 * inside the range, so no split is needed) and frees the tables it allocated. */
static int fill_or_undo(struct ept *e, uint64_t start, const struct fill *f)
{
    int rc = fill_range(e, pml4(e), EPT_LEVELS, start, f);
    if (rc != EPT_OK)
        clear_range(e, pml4(e), EPT_LEVELS, start, f->end);
    return rc;
}

/* A large leaf fits where the CPU supports it (IA32_VMX_EPT_VPID_CAP bits 16, 17), both addresses
 * are aligned to it and the piece fills it. */
static bool leaf_allowed(const struct ept *e, unsigned level, uint64_t addr_bits, uint64_t len)
{
    bool supported = level == 1 || (level == 2 && e->leaf_2m) || (level == 3 && e->leaf_1g);
    return supported && is_aligned(addr_bits, level_size(level)) && len >= level_size(level);
}

/* ---- splitting large leaves at the edges of an unmapped range ---- */

#define SPLIT_PAGES_MAX 4   /* two edges, each inside a 1 GiB leaf split down to 4 KiB */

struct page_stash {
    uint64_t pa[SPLIT_PAGES_MAX];
    unsigned count;
};

/* The large leaf that maps addr without starting at it (its level in *level), or 0. */
static uint64_t *leaf_straddling(const struct ept *e, uint64_t addr, unsigned *level)
{
    if (addr >= EPT_GPA_LIMIT)      /* the end of the address space is an edge of every leaf */
        return 0;
    uint64_t *table = pml4(e);
    for (unsigned l = EPT_LEVELS; l > 1; l--) {
        uint64_t *slot = &table[entry_index(addr, l)];
        if (!is_present(*slot))
            return 0;
        if (is_leaf(*slot, l)) {
            *level = l;
            return is_aligned(addr, level_size(l)) ? 0 : slot;
        }
        table = child_table(e, *slot);
    }
    return 0;                       /* 4 KiB leaves never straddle a 4 KiB aligned address */
}

/* Tables needed so that no leaf straddles addr: one per level from the straddling leaf's down to
 * the first level whose entries addr is aligned to. */
static unsigned split_pages_needed(const struct ept *e, uint64_t addr)
{
    unsigned level, pages = 0;
    if (!leaf_straddling(e, addr, &level))
        return 0;
    for (; level > 1 && !is_aligned(addr, level_size(level)); level--)
        pages++;
    return pages;
}

static void stash_release(struct ept *e, struct page_stash *s)
{
    while (s->count)
        free_table(e, s->pa[--s->count]);
}

/* All or nothing: either the stash holds `pages` pages or none was kept. */
static bool stash_fill(struct ept *e, struct page_stash *s, unsigned pages)
{
    for (s->count = 0; s->count < pages; s->count++) {
        s->pa[s->count] = alloc_table(e);
        if (!s->pa[s->count]) {
            stash_release(e, s);
            return false;
        }
    }
    return true;
}

/* Replaces a large leaf by a table of 512 leaves one level down that map the same memory with the
 * same attributes: the translation is the same before and after the link is written. */
static void split_leaf(const struct ept *e, uint64_t *slot, unsigned level, uint64_t table_pa)
{
    uint64_t *table = table_at(e, table_pa);
    uint64_t step = level_size(level - 1);
    uint64_t base = *slot & EPT_ADDR_BITS;
    uint64_t attrs = *slot & ~(EPT_ADDR_BITS | EPT_LARGE_LEAF);
    for (unsigned i = 0; i < EPT_ENTRIES; i++)
        table[i] = make_leaf(base + i * step, level - 1, attrs);
    publish(slot, table_pa | EPT_TABLE_LINK);
}

static void split_at(struct ept *e, uint64_t addr, struct page_stash *s)
{
    unsigned level;
    uint64_t *slot;
    while ((slot = leaf_straddling(e, addr, &level)))
        split_leaf(e, slot, level, s->pa[--s->count]);
}

/* ---- the interface ---- */

static bool range_valid(uint64_t addr, uint64_t size)
{
    return size && is_aligned(addr | size, EPT_PAGE) && addr < EPT_GPA_LIMIT &&
           size <= EPT_GPA_LIMIT - addr;
}

static bool memtype_valid(unsigned t)
{
    return t == MT_UC || t == MT_WC || t == MT_WT || t == MT_WP || t == MT_WB;
}

int ept_init(struct ept *e, const struct page_allocator *a, bool leaf_2m, bool leaf_1g)
{
    e->alloc = a;
    e->leaf_2m = leaf_2m;
    e->leaf_1g = leaf_1g;
    e->table_pages = 0;
    e->pml4_pa = alloc_table(e);
    return e->pml4_pa ? EPT_OK : EPT_ENOMEM;
}

/* 29.3 / 25.6.11: EPTP holds the structures' memory type, the walk length and the A/D enable. */
uint64_t ept_pointer(const struct ept *e, bool ad_flags)
{
    return e->pml4_pa | EPTP_MEMTYPE_WB | EPTP_WALK_4 | (ad_flags ? EPTP_AD_FLAGS : 0);
}

struct offset_map {
    uint64_t hpa_minus_gpa;   /* modulo 2^64 */
    uint64_t attrs;
};

static bool offset_leaf(const void *ctx, const struct ept *e, unsigned level, uint64_t gpa, uint64_t len,
                        uint64_t *leaf)
{
    const struct offset_map *om = ctx;
    uint64_t hpa = gpa + om->hpa_minus_gpa;
    if (!leaf_allowed(e, level, gpa | hpa, len))
        return false;
    *leaf = make_leaf(hpa, level, om->attrs);
    return true;
}

int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perms, unsigned memtype)
{
    if (!range_valid(gpa, size) || !range_valid(hpa, size) || perms == 0 || perms > EPT_RWX ||
        !memtype_valid(memtype))
        return EPT_EINVAL;
    if (range_has_mapping(e, pml4(e), EPT_LEVELS, gpa, gpa + size))
        return EPT_EEXIST;
    struct offset_map om = { hpa - gpa, leaf_attrs(perms, memtype) };
    struct fill f = { offset_leaf, &om, gpa + size };
    return fill_or_undo(e, gpa, &f);
}

/* Splits the large leaves across the two edges first, with every page it needs allocated before
 * anything changes, so that the clearing pass only meets leaves wholly inside the range. */
int ept_unmap(struct ept *e, uint64_t gpa, uint64_t size)
{
    if (!range_valid(gpa, size))
        return EPT_EINVAL;
    uint64_t end = gpa + size;
    struct page_stash stash;
    if (!stash_fill(e, &stash, split_pages_needed(e, gpa) + split_pages_needed(e, end)))
        return EPT_ENOMEM;
    split_at(e, gpa, &stash);
    split_at(e, end, &stash);
    stash_release(e, &stash);   /* the second split may need fewer pages once the first is done */
    clear_range(e, pml4(e), EPT_LEVELS, gpa, end);
    return EPT_OK;
}

bool ept_lookup(const struct ept *e, uint64_t gpa, uint64_t *hpa, unsigned *perms, unsigned *memtype,
                unsigned *level)
{
    if (gpa >= EPT_GPA_LIMIT)
        return false;
    const uint64_t *table = pml4(e);
    for (unsigned l = EPT_LEVELS;; l--) {
        uint64_t entry = table[entry_index(gpa, l)];
        if (!is_present(entry))
            return false;
        if (is_leaf(entry, l)) {
            uint64_t offset = gpa & (level_size(l) - 1);
            if (hpa)
                *hpa = (entry & EPT_ADDR_BITS & ~(level_size(l) - 1)) + offset;
            if (perms)
                *perms = (unsigned)(entry & EPT_RWX);
            if (memtype)
                *memtype = (unsigned)(entry >> EPT_MEMTYPE_SHIFT) & 7;
            if (level)
                *level = l;
            return true;
        }
        table = child_table(e, entry);
    }
}

static void free_subtables(struct ept *e, const uint64_t *table, unsigned level)
{
    for (unsigned i = 0; i < EPT_ENTRIES; i++) {
        if (is_present(table[i]) && !is_leaf(table[i], level)) {
            free_subtables(e, child_table(e, table[i]), level - 1);
            free_table(e, table[i] & EPT_ADDR_BITS);
        }
    }
}

void ept_destroy(struct ept *e)
{
    free_subtables(e, pml4(e), EPT_LEVELS);
    free_table(e, e->pml4_pa);
    e->pml4_pa = 0;
}

/* ---- the root partition's identity map ---- */

struct identity_map {
    const struct mtrr_state *mtrr;
    uint64_t hide_base, hide_end;
    uint64_t ones_page;
};

/* The MTRR type of a 4 KiB page. The MTRRs' granularity is 4 KiB, so it is always uniform; a type
 * an EPT entry cannot hold (firmware bug) becomes UC, the one that is never unsafe. */
static unsigned page_type(const struct mtrr_state *m, uint64_t pa)
{
    unsigned type;
    if (!mtrr_range_type(m, pa, EPT_PAGE, &type) || !memtype_valid(type))
        return MT_UC;
    return type;
}

static bool overlaps_hidden(const struct identity_map *im, uint64_t gpa, uint64_t len)
{
    return im->hide_base < im->hide_end && gpa < im->hide_end && im->hide_base < gpa + len;
}

static bool identity_leaf(const void *ctx, const struct ept *e, unsigned level, uint64_t gpa, uint64_t len,
                          uint64_t *leaf)
{
    const struct identity_map *im = ctx;
    if (level == 1 && overlaps_hidden(im, gpa, EPT_PAGE)) {
        *leaf = make_leaf(im->ones_page, 1, leaf_attrs(EPT_R, MT_WB));
        return true;
    }
    if (level == 1) {
        *leaf = make_leaf(gpa, 1, leaf_attrs(EPT_RWX, page_type(im->mtrr, gpa)));
        return true;
    }
    unsigned type;
    if (!leaf_allowed(e, level, gpa, len) || overlaps_hidden(im, gpa, len) ||
        !mtrr_range_type(im->mtrr, gpa, len, &type) || !memtype_valid(type))
        return false;
    *leaf = make_leaf(gpa, level, leaf_attrs(EPT_RWX, type));
    return true;
}

/* Each candidate leaf, largest first, becomes a leaf when the window misses it and the MTRRs give it
 * one type; otherwise the walk descends. Refuses (EEXIST) an EPT that maps anything below limit. */
int ept_map_root_identity(struct ept *e, uint64_t limit, const struct mtrr_state *m,
                          uint64_t hide_base, uint64_t hide_size, uint64_t ones_page)
{
    if (!range_valid(0, limit) || !is_aligned(limit, level_size(3)) ||
        !is_aligned(hide_base | hide_size, EPT_PAGE) || hide_base + hide_size < hide_base ||
        !range_valid(ones_page, EPT_PAGE))
        return EPT_EINVAL;
    if (range_has_mapping(e, pml4(e), EPT_LEVELS, 0, limit))
        return EPT_EEXIST;
    struct identity_map im = { m, hide_base, hide_base + hide_size, ones_page };
    struct fill f = { identity_leaf, &im, limit };
    return fill_or_undo(e, 0, &f);
}
