/* Fuzzes a child partition's GPA map and its EPT (vmx/gpa_map.c over vmx/ept.c) with sequences of
 * WHvMapGpaRange / WHvUnmapGpaRange operations decoded from the input, on the fake page allocator
 * (tests/host/fake_alloc.c) with failures injected at any allocation, 2 MiB / 1 GiB leaves on or off,
 * and random root RAM layouts and hidden ranges.
 *
 * A reference model (a plain list of ranges, 128-bit arithmetic, written from vmx/gpa_map.h) predicts
 * each call's status in the documented order; after every operation:
 *   - the range table is canonical (sorted, disjoint, merged) and equals the model's canonical form;
 *   - a walk of the whole EPT finds exactly the model's mappings (every leaf inside one model range at
 *     its offset with its permissions and WB, the leaves' bytes adding up to the model's), only tables
 *     the allocator handed out and still owns, no empty table below the PML4, and as many tables as
 *     ept.table_pages and the allocator's in-use count say;
 *   - gpa_map_translate and ept_lookup agree with the model at the edges of every range;
 *   - INSUFFICIENT_MEMORY exactly when an allocation failed or the table is full, and a failed call
 *     changed nothing (table, EPT pages, unmapped_bytes 0).
 * At the end gpa_map_destroy must give every page back: allocator counters to zero, no bad free, no
 * access to a page not allocated.
 *
 * Inputs whose first byte has bit 5 set build the root partition's identity EPT instead
 * (ept_map_root_identity) from random MTRRs (fixed and variable ranges, reserved types), a hidden range
 * and a limit, with allocation failures: every lookup must give the page's MTRR type (UC for a type an
 * EPT entry cannot hold), the hidden pages ones_page read-only WB, nothing at or above the limit, large
 * leaves only over one type and no hidden page; a failure must leave only the PML4. */
#include <string.h>
#include "fuzz.h"
#include "../host/fake_alloc.h"
#include "api/hv_abi.h"
#include "api/whv_platform.h"
#include "arch/x86/mtrr.h"
#include "vmx/gpa_map.h"

#define PAGE 0x1000ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define LIMIT GPA_MAP_GPA_LIMIT
#define ALLOC_PAGES 96
#define MAX_OPS 48
#define MODEL_MAX 1024

typedef unsigned __int128 u128;

/* ---- the allocator, wrapped to see failed allocations ---- */

static struct fake_alloc fa;
static unsigned failed_allocs;

static uint64_t counting_alloc(void *ctx)
{
    uint64_t pa = fa.api.alloc(ctx);
    if (!pa)
        failed_allocs++;
    return pa;
}

static void counting_free(void *ctx, uint64_t pa) { fa.api.free(ctx, pa); }
static void *counting_to_virt(void *ctx, uint64_t pa) { return fa.api.to_virt(ctx, pa); }

/* ---- the model ---- */

struct model {
    struct gpa_range r[MODEL_MAX];
    unsigned n;
};

static struct model model;

static int by_gpa(const void *a, const void *b)
{
    const struct gpa_range *x = a, *y = b;
    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sorted, and ranges that continue each other in both spaces with the same flags merged. */
static void model_canonical(struct model *m)
{
    qsort(m->r, m->n, sizeof m->r[0], by_gpa);
    unsigned out = 0;
    for (unsigned i = 0; i < m->n; i++) {
        struct gpa_range *last = out ? &m->r[out - 1] : NULL;
        if (last && last->gpa + last->size == m->r[i].gpa && last->hpa + last->size == m->r[i].hpa &&
            last->flags == m->r[i].flags)
            last->size += m->r[i].size;
        else
            m->r[out++] = m->r[i];
    }
    m->n = out;
}

static const struct gpa_range *model_find(uint64_t gpa)
{
    for (unsigned i = 0; i < model.n; i++)
        if (gpa >= model.r[i].gpa && gpa - model.r[i].gpa < model.r[i].size)
            return &model.r[i];
    return NULL;
}

static uint64_t model_overlap(uint64_t gpa, uint64_t end)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < model.n; i++) {
        uint64_t a = model.r[i].gpa > gpa ? model.r[i].gpa : gpa;
        uint64_t b = model.r[i].gpa + model.r[i].size < end ? model.r[i].gpa + model.r[i].size : end;
        if (a < b)
            bytes += b - a;
    }
    return bytes;
}

static void model_remove(uint64_t gpa, uint64_t end)
{
    struct model old = model;
    model.n = 0;
    for (unsigned i = 0; i < old.n; i++) {
        struct gpa_range r = old.r[i];
        uint64_t r_end = r.gpa + r.size;
        if (r_end <= gpa || r.gpa >= end) {
            model.r[model.n++] = r;
            continue;
        }
        if (r.gpa < gpa)
            model.r[model.n++] = (struct gpa_range){ r.gpa, r.hpa, gpa - r.gpa, r.flags };
        if (r_end > end)
            model.r[model.n++] = (struct gpa_range){ end, r.hpa + (end - r.gpa), r_end - end, r.flags };
    }
    model_canonical(&model);
}

/* ---- the root's RAM and the hidden range ---- */

static struct hv_ram_range ram[4];
static unsigned ram_n;
static uint64_t hide_base, hide_size;

/* Every byte of [base, end) inside some RAM range (the union: ranges may touch or overlap). */
static bool covered(u128 base, u128 end)
{
    while (base < end) {
        u128 next = base;
        for (unsigned i = 0; i < ram_n; i++)
            if (base >= ram[i].base && base < (u128)ram[i].base + ram[i].size &&
                (u128)ram[i].base + ram[i].size > next)
                next = (u128)ram[i].base + ram[i].size;
        if (next == base)
            return false;
        base = next;
    }
    return true;
}

static bool flags_ok(uint32_t f)
{
    return (f & ~7u) == 0 && (f & WHvMapGpaRangeFlagRead);
}

static uint16_t ref_add_checks(uint64_t source, uint64_t gpa, uint64_t size, uint32_t flags)
{
    if ((source | gpa | size) % PAGE)
        return HV_STATUS_INVALID_ALIGNMENT;
    if (size == 0 || (u128)gpa + size > LIMIT || (u128)source + size > LIMIT || !flags_ok(flags))
        return HV_STATUS_INVALID_PARAMETER;
    if ((hide_size && source < (u128)hide_base + hide_size && (u128)source + size > hide_base) ||
        !covered(source, (u128)source + size))
        return HV_STATUS_ACCESS_DENIED;
    if (model_overlap(gpa, gpa + size))
        return HV_STATUS_INVALID_PARAMETER;
    return HV_STATUS_SUCCESS;
}

/* ---- checks ---- */

static unsigned ept_perms_of(uint32_t flags)
{
    return ((flags & WHvMapGpaRangeFlagRead) ? EPT_R : 0) | ((flags & WHvMapGpaRangeFlagWrite) ? EPT_W : 0) |
           ((flags & WHvMapGpaRangeFlagExecute) ? EPT_X : 0);
}

static void check_point(const struct gpa_map *m, uint64_t gpa)
{
    if (gpa >= LIMIT)
        return;
    const struct gpa_range *r = model_find(gpa);
    uint64_t hpa = 0, ept_hpa = 0;
    uint32_t flags = 0;
    unsigned perms = 0, type = 0, level = 0;
    bool mapped = gpa_map_translate(m, gpa, &hpa, &flags);
    bool ept = ept_lookup(&m->ept, gpa, &ept_hpa, &perms, &type, &level);
    FUZZ_CHECK(mapped == (r != NULL) && ept == mapped, "gpa 0x%llx: translate %d, ept %d, model %d",
               (unsigned long long)gpa, mapped, ept, r != NULL);
    if (!r)
        return;
    uint64_t want = r->hpa + (gpa - r->gpa);
    FUZZ_CHECK(hpa == want && flags == r->flags, "gpa 0x%llx: 0x%llx/%u, model 0x%llx/%u", (unsigned long long)gpa,
               (unsigned long long)hpa, flags, (unsigned long long)want, r->flags);
    FUZZ_CHECK(ept_hpa == want && perms == ept_perms_of(r->flags) && type == MT_WB,
               "gpa 0x%llx: EPT 0x%llx perms %u type %u, model 0x%llx flags %u", (unsigned long long)gpa,
               (unsigned long long)ept_hpa, perms, type, (unsigned long long)want, r->flags);
    FUZZ_CHECK(level == 1 || (level == 2 && m->ept.leaf_2m) || (level == 3 && m->ept.leaf_1g),
               "a level %u leaf without CPU support", level);
}

struct ept_census {
    unsigned tables;
    uint64_t bytes;
};

/* Not instrumented for coverage: its 512-entry loops would dominate the run time and guide nothing. */
__attribute__((no_sanitize("coverage")))
static void ept_walk(const struct gpa_map *m, uint64_t table_pa, unsigned level, uint64_t base, struct ept_census *c)
{
    FUZZ_CHECK(fake_alloc_owns(&fa, table_pa), "EPT table 0x%llx is not an allocated page",
               (unsigned long long)table_pa);
    c->tables++;
    const uint64_t *t = fa.api.to_virt(fa.api.ctx, table_pa);
    bool empty = true;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = t[i], span = 1ull << (12 + 9 * (level - 1)), gpa = base + i * span;
        if (!(e & 7)) {
            FUZZ_CHECK(e == 0, "a non-present EPT entry 0x%llx is not 0", (unsigned long long)e);
            continue;
        }
        empty = false;
        if (level > 1 && !(level <= 3 && (e & (1u << 7)))) {
            FUZZ_CHECK((e & 7) == 7 && (e & ~0x000FFFFFFFFFF000ull) == 7, "table link 0x%llx", (unsigned long long)e);
            ept_walk(m, e & 0x000FFFFFFFFFF000ull, level - 1, gpa, c);
            continue;
        }
        const struct gpa_range *r = model_find(gpa);
        FUZZ_CHECK(r && gpa + span - 1 - r->gpa < r->size, "EPT leaf 0x%llx+0x%llx outside the model",
                   (unsigned long long)gpa, (unsigned long long)span);
        uint64_t hpa = e & 0x000FFFFFFFFFF000ull & ~(span - 1);
        FUZZ_CHECK(hpa == r->hpa + (gpa - r->gpa) && (e & 7) == ept_perms_of(r->flags) && ((e >> 3) & 7) == MT_WB,
                   "EPT leaf at 0x%llx: 0x%llx", (unsigned long long)gpa, (unsigned long long)e);
        c->bytes += span;
    }
    FUZZ_CHECK(!empty || level == 4, "an empty level-%u EPT table was kept", level);
}

static void check_map(const struct gpa_map *m, bool walk)
{
    FUZZ_CHECK(m->count <= GPA_MAP_MAX_RANGES, "count %u", m->count);
    FUZZ_CHECK(m->count == model.n, "%u ranges, model %u", m->count, model.n);
    for (unsigned i = 0; i < m->count; i++) {
        const struct gpa_range *r = &m->ranges[i], *w = &model.r[i];
        FUZZ_CHECK(r->gpa == w->gpa && r->hpa == w->hpa && r->size == w->size && r->flags == w->flags,
                   "range %u: 0x%llx->0x%llx +0x%llx f%u, model 0x%llx->0x%llx +0x%llx f%u", i,
                   (unsigned long long)r->gpa, (unsigned long long)r->hpa, (unsigned long long)r->size, r->flags,
                   (unsigned long long)w->gpa, (unsigned long long)w->hpa, (unsigned long long)w->size, w->flags);
        check_point(m, r->gpa);
        check_point(m, r->gpa + r->size - PAGE);
        check_point(m, r->gpa + r->size);
        if (r->gpa)
            check_point(m, r->gpa - PAGE);
    }
    FUZZ_CHECK(m->ept.table_pages == fa.in_use, "table_pages %llu, allocator in use %zu",
               (unsigned long long)m->ept.table_pages, fa.in_use);
    if (!walk)
        return;
    struct ept_census c = { 0, 0 };
    ept_walk(m, m->ept.pml4_pa, 4, 0, &c);
    uint64_t bytes = 0;
    for (unsigned i = 0; i < model.n; i++)
        bytes += model.r[i].size;
    FUZZ_CHECK(c.bytes == bytes, "EPT maps 0x%llx bytes, model 0x%llx", (unsigned long long)c.bytes,
               (unsigned long long)bytes);
    FUZZ_CHECK(c.tables == m->ept.table_pages && c.tables == fa.in_use,
               "%u EPT tables, table_pages %llu, allocator in use %zu", c.tables,
               (unsigned long long)m->ept.table_pages, fa.in_use);
    FUZZ_CHECK(fa.bad_frees == 0 && fa.bad_accesses == 0, "bad frees %zu, bad accesses %zu", fa.bad_frees,
               fa.bad_accesses);
}

/* ---- decoding ---- */

static uint64_t coordinate(struct fuzz_in *in)
{
    static const uint64_t units[4] = { PAGE, 2 * MIB, GIB, 512 * GIB };
    uint8_t sel = fuzz_u8(in);
    if (sel == 0xFF)
        return fuzz_u64(in);
    return (uint64_t)fuzz_u8(in) * units[sel & 3] + ((sel >> 2) & 15) * PAGE;
}

static uint64_t length(struct fuzz_in *in)
{
    static const uint64_t units[4] = { PAGE, 2 * MIB, GIB, PAGE };
    uint8_t sel = fuzz_u8(in);
    if (sel == 0xFF)
        return fuzz_u64(in);
    return (uint64_t)(fuzz_u8(in) % 24) * units[sel & 3] + ((sel >> 2) & 15) * PAGE;
}

/* ---- the root partition's identity EPT (ept_map_root_identity) ---- */

static bool hidden_page(uint64_t gpa, uint64_t base, uint64_t size)
{
    return size && gpa + PAGE > base && gpa < base + size;
}

/* One lookup against the rules of vmx/ept.h: identity RWX with the MTRR type of the page (UC where the
 * MTRRs give none an EPT entry can hold), the hidden pages on ones_page read-only WB, nothing at or above
 * limit; a large leaf only where its whole span has one type and no hidden page. */
static void check_identity_point(const struct ept *e, const struct mtrr_state *mt, uint64_t limit, uint64_t hb,
                                 uint64_t hs, uint64_t ones, uint64_t gpa)
{
    uint64_t hpa = 0;
    unsigned perms = 0, type = 0, level = 0;
    bool mapped = ept_lookup(e, gpa, &hpa, &perms, &type, &level);
    FUZZ_CHECK(mapped == (gpa < limit), "identity gpa 0x%llx mapped %d, limit 0x%llx", (unsigned long long)gpa,
               mapped, (unsigned long long)limit);
    if (!mapped)
        return;
    uint64_t page = gpa & ~(PAGE - 1);
    if (hidden_page(page, hb, hs)) {
        FUZZ_CHECK(hpa == ones + (gpa - page) && perms == EPT_R && type == MT_WB && level == 1,
                   "hidden gpa 0x%llx -> 0x%llx perms %u type %u level %u", (unsigned long long)gpa,
                   (unsigned long long)hpa, perms, type, level);
        return;
    }
    unsigned want;
    if (!mtrr_range_type(mt, page, PAGE, &want) ||
        !(want == MT_UC || want == MT_WC || want == MT_WT || want == MT_WP || want == MT_WB))
        want = MT_UC;
    FUZZ_CHECK(hpa == gpa && perms == EPT_RWX && type == want, "identity gpa 0x%llx -> 0x%llx perms %u type %u/%u",
               (unsigned long long)gpa, (unsigned long long)hpa, perms, type, want);
    if (level > 1) {
        uint64_t span = 1ull << (12 + 9 * (level - 1)), base = gpa & ~(span - 1);
        unsigned leaf_type;
        FUZZ_CHECK((level == 2 ? e->leaf_2m : e->leaf_1g) && !(hs && base < hb + hs && hb < base + span) &&
                       mtrr_range_type(mt, base, span, &leaf_type) && leaf_type == type,
                   "a level-%u identity leaf at 0x%llx that should not be one", level, (unsigned long long)base);
    }
}

static void root_identity_case(struct fuzz_in *in, bool leaf_2m, bool leaf_1g)
{
    static const uint8_t types[8] = { MT_UC, MT_WC, MT_WT, MT_WP, MT_WB, MT_WB, MT_UC, 2 /* reserved */ };
    struct mtrr_state mt;
    memset(&mt, 0, sizeof mt);
    uint8_t shape = fuzz_u8(in);
    unsigned vcnt = shape & 7;
    mt.phys_bits = 36 + (shape >> 3) % 11;
    mt.cap = vcnt | ((shape & 0x80) ? 1u << 8 : 0);
    mt.def_type = types[fuzz_u8(in) & 7] | (1u << 11) | ((shape & 0x80) ? 1u << 10 : 0);
    if (shape & 0x80)
        for (unsigned i = 0; i < 11; i++) {
            uint8_t t = types[fuzz_u8(in) & 7];
            mt.fixed[i] = 0x0101010101010101ull * t ^ (fuzz_u8(in) & 1 ? (uint64_t)types[fuzz_u8(in) & 7] << 24 : 0);
        }
    uint64_t phys_mask = ((1ull << mt.phys_bits) - 1) & ~(PAGE - 1);
    for (unsigned i = 0; i < vcnt; i++) {
        uint64_t size = (2 * MIB) << (fuzz_u8(in) % 11);
        mt.var_base[i] = ((uint64_t)fuzz_u8(in) * size & phys_mask) | types[fuzz_u8(in) & 7];
        mt.var_mask[i] = (~(size - 1) & phys_mask) | (fuzz_u8(in) & 0x80 ? 0 : 1u << 11);
    }
    uint64_t limit = (1 + fuzz_u8(in) % 4) * GIB;
    uint64_t hb = (uint64_t)fuzz_u8(in) * 4 * MIB + (uint64_t)fuzz_u8(in) * PAGE, hs = (uint64_t)fuzz_u8(in) * PAGE;
    uint64_t ones = 0x7FFFF000ull + (uint64_t)fuzz_u8(in) * GIB;
    /* At most 32 tables: 4 KiB leaves (MTRR edges, hidden pages) cost one MTRR lookup each, and a
     * bigger EPT only makes inputs slower. */
    fa.fail_after = fuzz_u8(in) % 33;

    struct page_allocator counting = { fa.api.ctx, counting_alloc, counting_free, counting_to_virt };
    struct ept e;
    failed_allocs = 0;
    if (ept_init(&e, &counting, leaf_2m, leaf_1g) != EPT_OK) {
        FUZZ_CHECK(failed_allocs == 1 && fa.in_use == 0, "ept_init failed with pages in use");
        return;
    }
    uint64_t eptp = ept_pointer(&e, shape & 0x40);
    FUZZ_CHECK((eptp & ~0xFFFull) == e.pml4_pa && (eptp & 0xFFF) == (0x1E | ((shape & 0x40) ? 0x40u : 0)),
               "EPTP 0x%llx", (unsigned long long)eptp);
    int rc = ept_map_root_identity(&e, limit, &mt, hb, hs, ones);
    FUZZ_CHECK(rc == EPT_OK || (rc == EPT_ENOMEM && failed_allocs), "ept_map_root_identity: %d", rc);
    FUZZ_CHECK(e.table_pages == fa.in_use, "table_pages %llu, in use %zu", (unsigned long long)e.table_pages,
               fa.in_use);
    if (rc == EPT_ENOMEM) {
        FUZZ_CHECK(fa.in_use == 1, "a failed identity map kept %zu pages", fa.in_use - 1);
        check_identity_point(&e, &mt, 0, hb, hs, ones, 0);
    } else {
        uint64_t points[] = { 0, PAGE, 0x9F000, 0xA0000, 0xC0000, 0xFF000, 0x100000, 2 * MIB - PAGE, 2 * MIB,
                              hb - PAGE, hb, hb + hs - PAGE, hb + hs, limit - PAGE, limit, GIB, 3 * GIB + 5 * PAGE };
        for (unsigned i = 0; i < sizeof points / sizeof points[0]; i++)
            check_identity_point(&e, &mt, limit, hb, hs, ones, points[i]);
        for (unsigned i = 0; i < vcnt; i++) {
            uint64_t base = mt.var_base[i] & phys_mask, size = (~mt.var_mask[i] & phys_mask) + PAGE;
            check_identity_point(&e, &mt, limit, hb, hs, ones, base);
            check_identity_point(&e, &mt, limit, hb, hs, ones, base + size - PAGE);
            check_identity_point(&e, &mt, limit, hb, hs, ones, base + size);
        }
        while (fuzz_more(in))
            check_identity_point(&e, &mt, limit, hb, hs, ones, fuzz_u32(in) % (limit + GIB) & ~7ull);
    }
    ept_destroy(&e);
    FUZZ_CHECK(fa.in_use == 0 && fa.bad_frees == 0 && fa.bad_accesses == 0,
               "identity EPT destroyed: %zu pages in use, %zu bad frees, %zu bad accesses", fa.in_use, fa.bad_frees,
               fa.bad_accesses);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = fuzz_in(data, size);
    uint8_t setup = fuzz_u8(&in);
    ram_n = 1 + (setup & 3);
    for (unsigned i = 0; i < ram_n; i++) {
        ram[i].base = (uint64_t)fuzz_u8(&in) * (GIB / 2);
        ram[i].size = (uint64_t)(fuzz_u8(&in) + 1) * (GIB / 2);
    }
    hide_base = (uint64_t)fuzz_u8(&in) * (GIB / 2) + (uint64_t)fuzz_u8(&in) * 2 * MIB;
    hide_size = (uint64_t)fuzz_u8(&in) * 2 * MIB;

    /* One arena for the whole run (mapping a fresh one per input costs more than the input): every
     * input ends with all pages given back (checked), so only the knobs need resetting. */
    static bool arena_ready;
    if (!arena_ready)
        fake_alloc_init(&fa, ALLOC_PAGES);
    arena_ready = true;
    fa.fail_after = -1;
    fa.allocs = fa.peak = 0;
    if (setup & 0x20) {
        root_identity_case(&in, setup & 4, setup & 8);
        return 0;
    }
    struct page_allocator counting = { fa.api.ctx, counting_alloc, counting_free, counting_to_virt };
    static struct gpa_map m;
    model.n = 0;
    failed_allocs = 0;
    if (setup & 0x10)
        fa.fail_after = 0;   /* even the PML4 */
    int rc = gpa_map_init(&m, &counting, setup & 4, setup & 8, ram, ram_n, hide_base, hide_size);
    if (rc != EPT_OK) {
        FUZZ_CHECK(rc == EPT_ENOMEM && failed_allocs == 1 && fa.in_use == 0, "gpa_map_init: %d", rc);
        return 0;
    }
    for (unsigned ops = 0; ops < MAX_OPS && fuzz_more(&in); ops++) {
        uint8_t op = fuzz_u8(&in);
        size_t pages_before = fa.in_use;
        unsigned count_before = m.count;
        uint16_t status = HV_STATUS_SUCCESS;
        failed_allocs = 0;
        switch (op % 4) {
        case 0:
        case 1: {
            uint64_t source = coordinate(&in), gpa = coordinate(&in), len = length(&in);
            uint32_t flags = (op & 0x80) ? fuzz_u32(&in) : (op >> 2) & 7;
            uint16_t want = ref_add_checks(source, gpa, len, flags);
            uint16_t got = gpa_map_add(&m, source, gpa, len, flags);
            if (want == HV_STATUS_SUCCESS && got == HV_STATUS_INSUFFICIENT_MEMORY) {
                bool full = m.count == GPA_MAP_MAX_RANGES;
                FUZZ_CHECK(failed_allocs || full, "add: INSUFFICIENT_MEMORY with no failed allocation");
                want = got;
            }
            FUZZ_CHECK(got == want, "add 0x%llx->0x%llx +0x%llx f0x%x: status 0x%x, model 0x%x",
                       (unsigned long long)gpa, (unsigned long long)source, (unsigned long long)len, flags, got, want);
            FUZZ_CHECK(got == HV_STATUS_INSUFFICIENT_MEMORY || failed_allocs == 0,
                       "an allocation failed and the add still returned 0x%x", got);
            status = got;
            if (got == HV_STATUS_SUCCESS) {
                model.r[model.n++] = (struct gpa_range){ gpa, source, len, flags };
                model_canonical(&model);
            }
            break;
        }
        case 2: {
            uint64_t gpa = coordinate(&in), len = length(&in), unmapped = 0xDEAD;
            uint16_t want = (gpa | len) % PAGE                      ? HV_STATUS_INVALID_ALIGNMENT
                            : len == 0 || (u128)gpa + len > LIMIT   ? HV_STATUS_INVALID_PARAMETER
                            : model_overlap(gpa, gpa + len) == 0     ? HV_STATUS_INVALID_PARAMETER
                                                                    : HV_STATUS_SUCCESS;
            uint16_t got = gpa_map_remove(&m, gpa, len, &unmapped);
            if (want == HV_STATUS_SUCCESS && got == HV_STATUS_INSUFFICIENT_MEMORY) {
                const struct gpa_range *r = model_find(gpa);
                bool split = r && r->gpa < gpa && r->gpa + r->size > gpa + len;
                FUZZ_CHECK(failed_allocs || (split && m.count == GPA_MAP_MAX_RANGES),
                           "remove: INSUFFICIENT_MEMORY with no failed allocation and no full table");
                want = got;
            }
            FUZZ_CHECK(got == want, "remove 0x%llx +0x%llx: status 0x%x, model 0x%x", (unsigned long long)gpa,
                       (unsigned long long)len, got, want);
            FUZZ_CHECK(got == HV_STATUS_INSUFFICIENT_MEMORY || failed_allocs == 0,
                       "an allocation failed and the remove still returned 0x%x", got);
            status = got;
            if (got == HV_STATUS_SUCCESS) {
                uint64_t bytes = model_overlap(gpa, gpa + len);
                FUZZ_CHECK(unmapped == bytes && bytes, "unmapped 0x%llx bytes, model 0x%llx",
                           (unsigned long long)unmapped, (unsigned long long)bytes);
                model_remove(gpa, gpa + len);
            } else {
                FUZZ_CHECK(unmapped == 0, "a failed remove reported 0x%llx bytes", (unsigned long long)unmapped);
            }
            break;
        }
        default:
            fa.fail_after = (op & 0x80) ? -1 : (long)((op >> 2) % 8);
            break;
        }
        if (status != HV_STATUS_SUCCESS)
            FUZZ_CHECK(fa.in_use == pages_before && m.count == count_before,
                       "a failed call (0x%x) changed the allocator (%zu -> %zu pages) or the table", status,
                       pages_before, fa.in_use);
        /* The whole-EPT walk costs 512 entries a table: every operation while the EPT is small. */
        check_map(&m, fa.in_use <= 12 || !fuzz_more(&in));
    }
    gpa_map_destroy(&m);
    FUZZ_CHECK(m.ept.table_pages == 0 && m.count == 0, "destroy left %llu tables, %u ranges",
               (unsigned long long)m.ept.table_pages, m.count);
    FUZZ_CHECK(fa.in_use == 0 && fa.bad_frees == 0 && fa.bad_accesses == 0,
               "after destroy: %zu pages in use, %zu bad frees, %zu bad accesses", fa.in_use, fa.bad_frees,
               fa.bad_accesses);
    return 0;
}
