/* A child partition's GPA map and its EPT, kept in step (see vmx/gpa_map.h for the rules).
 * Every operation validates and checks what it will need first, then makes the one EPT change that can
 * fail (ept_map / ept_unmap are atomic), and only then edits the range table, which cannot fail: so a
 * failure anywhere leaves both exactly as they were. */
#include "vmx/gpa_map.h"
#include "api/hv_abi.h"
#include "api/whv_platform.h"
#include "arch/x86/string.h"

#define GPA_MAP_PAGE 0x1000ull

#define FLAG_R WHvMapGpaRangeFlagRead
#define FLAG_W WHvMapGpaRangeFlagWrite
#define FLAG_X WHvMapGpaRangeFlagExecute

/* ---- arguments ---- */

static bool is_page_aligned(uint64_t value)
{
    return (value & (GPA_MAP_PAGE - 1)) == 0;
}

/* Non-empty and wholly below GPA_MAP_GPA_LIMIT (which also rules out wrapping). */
static bool below_limit(uint64_t base, uint64_t size)
{
    return size && base < GPA_MAP_GPA_LIMIT && size <= GPA_MAP_GPA_LIMIT - base;
}

/* R, RW, RX or RWX: nothing unknown (TrackDirtyPages included: not tracked yet), and read always. */
static bool flags_valid(uint32_t flags)
{
    return (flags & ~(uint32_t)(FLAG_R | FLAG_W | FLAG_X)) == 0 && (flags & FLAG_R);
}

static unsigned ept_perms(uint32_t flags)
{
    return ((flags & FLAG_R) ? EPT_R : 0) | ((flags & FLAG_W) ? EPT_W : 0) | ((flags & FLAG_X) ? EPT_X : 0);
}

static const struct hv_ram_range *ram_range_holding(const struct gpa_map *m, uint64_t addr)
{
    for (uint32_t i = 0; i < m->ram_count; i++) {
        if (addr >= m->ram[i].base && addr - m->ram[i].base < m->ram[i].size)
            return &m->ram[i];
    }
    return 0;
}

/* [base, end) inside the union of the RAM ranges: every byte, so a hole or MMIO between two ranges
 * fails even when the list was not merged. */
static bool covered_by_ram(const struct gpa_map *m, uint64_t base, uint64_t end)
{
    while (base < end) {
        const struct hv_ram_range *r = ram_range_holding(m, base);
        if (!r)
            return false;
        base = r->base + r->size;
    }
    return true;
}

static bool touches_hidden(const struct gpa_map *m, uint64_t base, uint64_t end)
{
    return m->hide_size && base < m->hide_base + m->hide_size && end > m->hide_base;
}

/* The checks gpa_map_add and gpa_map_remove share: a page-aligned, non-empty child GPA range. The
 * caller has already checked its own extra addresses for alignment, which comes first. */
static uint16_t check_gpa_range(uint64_t gpa, uint64_t size)
{
    if (!is_page_aligned(gpa | size))
        return HV_STATUS_INVALID_ALIGNMENT;
    if (!below_limit(gpa, size))
        return HV_STATUS_INVALID_PARAMETER;
    return HV_STATUS_SUCCESS;
}

static uint16_t check_add_args(const struct gpa_map *m, uint64_t source, uint64_t gpa, uint64_t size,
                               uint32_t flags)
{
    if (!is_page_aligned(source))
        return HV_STATUS_INVALID_ALIGNMENT;
    uint16_t status = check_gpa_range(gpa, size);
    if (status != HV_STATUS_SUCCESS)
        return status;
    if (!below_limit(source, size) || !flags_valid(flags))
        return HV_STATUS_INVALID_PARAMETER;
    if (touches_hidden(m, source, source + size) || !covered_by_ram(m, source, source + size))
        return HV_STATUS_ACCESS_DENIED;
    return HV_STATUS_SUCCESS;
}

/* EEXIST and EINVAL cannot happen (the table mirrors the EPT, the arguments were checked); should one
 * anyway, it still changed nothing, and the call was refused. */
static uint16_t status_from_ept(int rc)
{
    return rc == EPT_ENOMEM ? HV_STATUS_INSUFFICIENT_MEMORY : HV_STATUS_INVALID_PARAMETER;
}

/* ---- the range table ---- */

static uint64_t range_end(const struct gpa_range *r)
{
    return r->gpa + r->size;
}

/* The first range that ends after addr (count if none): ranges are sorted and disjoint, so their ends
 * are sorted too. It holds addr when it starts at or before it. */
static uint32_t first_ending_after(const struct gpa_map *m, uint64_t addr)
{
    uint32_t lo = 0, hi = m->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (range_end(&m->ranges[mid]) > addr)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The first range from `from` on that starts at or after end: one past the last that overlaps [.., end). */
static uint32_t first_starting_at_or_after(const struct gpa_map *m, uint32_t from, uint64_t end)
{
    while (from < m->count && m->ranges[from].gpa < end)
        from++;
    return from;
}

/* b continues a in both address spaces with the same flags: one range would say the same. */
static bool continues(const struct gpa_range *a, const struct gpa_range *b)
{
    return range_end(a) == b->gpa && a->hpa + a->size == b->hpa && a->flags == b->flags;
}

/* Replaces ranges [at, at+old_count) by new_count ranges from `with` (not inside the table). The
 * caller made sure the result fits. */
static void replace_ranges(struct gpa_map *m, uint32_t at, uint32_t old_count, const struct gpa_range *with,
                           uint32_t new_count)
{
    uint32_t after = m->count - at - old_count;
    memmove(&m->ranges[at + new_count], &m->ranges[at + old_count], after * sizeof m->ranges[0]);
    memcpy(&m->ranges[at], with, new_count * sizeof m->ranges[0]);
    m->count = m->count - old_count + new_count;
}

/* ---- the interface ---- */

int gpa_map_init(struct gpa_map *m, const struct page_allocator *a, bool leaf_2m, bool leaf_1g,
                 const struct hv_ram_range *ram, uint32_t ram_count, uint64_t hide_base, uint64_t hide_size)
{
    m->count = 0;
    m->ram = ram;
    m->ram_count = ram_count;
    m->hide_base = hide_base;
    m->hide_size = hide_size;
    /* 1 GiB leaves only with 2 MiB ones: removing part of a 1 GiB leaf splits it into 2 MiB leaves. */
    return ept_init(&m->ept, a, leaf_2m, leaf_1g && leaf_2m);
}

/* The new range goes at index `at` (every range before it ends at or before it, every one from `at`
 * starts after it) and merges with the neighbours it continues. */
static void record_range(struct gpa_map *m, uint32_t at, struct gpa_range r, bool joins_prev, bool joins_next)
{
    if (joins_prev) {
        const struct gpa_range *prev = &m->ranges[at - 1];
        r.gpa = prev->gpa;
        r.hpa = prev->hpa;
        r.size += prev->size;
    }
    if (joins_next)
        r.size += m->ranges[at].size;
    replace_ranges(m, at - joins_prev, joins_prev + joins_next, &r, 1);
}

uint16_t gpa_map_add(struct gpa_map *m, uint64_t source_hpa, uint64_t gpa, uint64_t size, uint32_t whv_flags)
{
    uint16_t status = check_add_args(m, source_hpa, gpa, size, whv_flags);
    if (status != HV_STATUS_SUCCESS)
        return status;
    uint32_t at = first_ending_after(m, gpa);
    if (at < m->count && m->ranges[at].gpa < gpa + size)
        return HV_STATUS_INVALID_PARAMETER;
    struct gpa_range r = { gpa, source_hpa, size, whv_flags };
    bool joins_prev = at > 0 && continues(&m->ranges[at - 1], &r);
    bool joins_next = at < m->count && continues(&r, &m->ranges[at]);
    if (!joins_prev && !joins_next && m->count == GPA_MAP_MAX_RANGES)
        return HV_STATUS_INSUFFICIENT_MEMORY;
    int rc = ept_map(&m->ept, gpa, source_hpa, size, ept_perms(whv_flags), MT_WB);
    if (rc != EPT_OK)
        return status_from_ept(rc);
    record_range(m, at, r, joins_prev, joins_next);
    return HV_STATUS_SUCCESS;
}

/* Bytes of ranges [first, last) inside [gpa, end). */
static uint64_t mapped_bytes(const struct gpa_map *m, uint32_t first, uint32_t last, uint64_t gpa,
                             uint64_t end)
{
    uint64_t bytes = 0;
    for (uint32_t i = first; i < last; i++) {
        const struct gpa_range *r = &m->ranges[i];
        uint64_t from = r->gpa > gpa ? r->gpa : gpa;
        uint64_t to = range_end(r) < end ? range_end(r) : end;
        bytes += to - from;
    }
    return bytes;
}

/* Ranges [first, last) all overlap [gpa, end); what survives is the part of the first before gpa and
 * the part of the last after end (both of one range when it is split). */
static void cut_ranges(struct gpa_map *m, uint32_t first, uint32_t last, uint64_t gpa, uint64_t end)
{
    const struct gpa_range *head = &m->ranges[first], *tail = &m->ranges[last - 1];
    struct gpa_range kept[2];
    uint32_t count = 0;
    if (head->gpa < gpa)
        kept[count++] = (struct gpa_range){ head->gpa, head->hpa, gpa - head->gpa, head->flags };
    if (range_end(tail) > end)
        kept[count++] = (struct gpa_range){ end, tail->hpa + (end - tail->gpa), range_end(tail) - end,
                                            tail->flags };
    replace_ranges(m, first, last - first, kept, count);
}

static bool splits_one_range(const struct gpa_map *m, uint32_t first, uint32_t last, uint64_t gpa,
                             uint64_t end)
{
    return last - first == 1 && m->ranges[first].gpa < gpa && range_end(&m->ranges[first]) > end;
}

uint16_t gpa_map_remove(struct gpa_map *m, uint64_t gpa, uint64_t size, uint64_t *unmapped_bytes)
{
    *unmapped_bytes = 0;
    uint16_t status = check_gpa_range(gpa, size);
    if (status != HV_STATUS_SUCCESS)
        return status;
    uint64_t end = gpa + size;
    uint32_t first = first_ending_after(m, gpa);
    uint32_t last = first_starting_at_or_after(m, first, end);
    if (first == last)
        return HV_STATUS_INVALID_PARAMETER;
    if (splits_one_range(m, first, last, gpa, end) && m->count == GPA_MAP_MAX_RANGES)
        return HV_STATUS_INSUFFICIENT_MEMORY;
    int rc = ept_unmap(&m->ept, gpa, size);
    if (rc != EPT_OK)
        return status_from_ept(rc);
    *unmapped_bytes = mapped_bytes(m, first, last, gpa, end);
    cut_ranges(m, first, last, gpa, end);
    return HV_STATUS_SUCCESS;
}

bool gpa_map_translate(const struct gpa_map *m, uint64_t gpa, uint64_t *hpa, uint32_t *whv_flags)
{
    uint32_t i = first_ending_after(m, gpa);
    if (i == m->count || m->ranges[i].gpa > gpa)
        return false;
    *hpa = m->ranges[i].hpa + (gpa - m->ranges[i].gpa);
    *whv_flags = m->ranges[i].flags;
    return true;
}

void gpa_map_destroy(struct gpa_map *m)
{
    ept_destroy(&m->ept);
    m->count = 0;
}
