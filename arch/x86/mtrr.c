/* The memory type of a physical range from a snapshot of the MTRRs (Intel SDM vol. 3, 12.11).
 * Pure: the EPT builder asks it about every candidate leaf, so it costs O(variable MTRRs x 64)
 * per call whatever the size of the range. */
#include "arch/x86/mtrr.h"

#define MTRR_CAP_VCNT      0xffull          /* IA32_MTRRCAP 7:0: number of variable MTRRs */
#define MTRR_CAP_FIX       (1ull << 8)      /* fixed-range MTRRs supported */
#define MTRR_DEF_TYPE      0xffull          /* IA32_MTRR_DEF_TYPE 7:0: type where nothing matches */
#define MTRR_DEF_FE        (1ull << 10)     /* fixed ranges enabled */
#define MTRR_DEF_E         (1ull << 11)     /* MTRRs enabled */
#define MTRR_BASE_TYPE     0xffull          /* IA32_MTRR_PHYSBASEn 7:0 */
#define MTRR_MASK_VALID    (1ull << 11)     /* IA32_MTRR_PHYSMASKn bit 11 */
#define MTRR_ADDR_LOW_BITS 0xfffull         /* variable MTRRs match on bits 12 and up */

#define FIXED_RANGES_END   0x100000ull      /* the fixed ranges cover the first 1 MiB */
#define NO_MATCH           0x100u           /* not a type: no variable MTRR matched yet */

/* The three granularities of the fixed ranges (12.11.2.2): each MSR holds eight one-byte types,
 * byte 0 for the lowest sub-range; consecutive MSRs (fixed[first_msr], fixed[first_msr + 1], ...)
 * continue where the previous one stops. */
static const struct {
    uint32_t start;
    uint32_t unit;
    unsigned first_msr;
} fixed_blocks[] = {
    { 0x00000, 0x10000, 0 },  /* 0x250: 8 x 64 KiB */
    { 0x80000, 0x04000, 1 },  /* 0x258, 0x259: 16 x 16 KiB */
    { 0xC0000, 0x01000, 3 },  /* 0x268..0x26F: 64 x 4 KiB */
};

static bool fixed_ranges_enabled(const struct mtrr_state *m)
{
    return (m->def_type & MTRR_DEF_FE) && (m->cap & MTRR_CAP_FIX);
}

/* Type of the fixed sub-range holding addr (< 1 MiB); *unit_end: the first address after it. */
static unsigned fixed_unit_type(const struct mtrr_state *m, uint64_t addr, uint64_t *unit_end)
{
    unsigned b = sizeof fixed_blocks / sizeof fixed_blocks[0] - 1;
    while (addr < fixed_blocks[b].start)
        b--;
    uint64_t n = (addr - fixed_blocks[b].start) / fixed_blocks[b].unit;
    uint64_t msr = m->fixed[fixed_blocks[b].first_msr + n / 8];
    *unit_end = fixed_blocks[b].start + (n + 1) * fixed_blocks[b].unit;
    return (unsigned)(msr >> (8 * (n % 8))) & 0xff;
}

/* [lo, last] lies below 1 MiB: uniform when every fixed sub-range it touches has the same type. */
static bool fixed_range_type(const struct mtrr_state *m, uint64_t lo, uint64_t last, unsigned *type)
{
    uint64_t next;
    *type = fixed_unit_type(m, lo, &next);
    while (next <= last) {
        if (fixed_unit_type(m, next, &next) != *type)
            return false;
    }
    return true;
}

/* Bits phys_bits-1..12: the address bits a variable MTRR compares (12.11.3). */
static uint64_t phys_addr_bits(const struct mtrr_state *m)
{
    uint64_t below_width = m->phys_bits >= 64 ? ~0ull : (1ull << m->phys_bits) - 1;
    return below_width & ~MTRR_ADDR_LOW_BITS;
}

/* The smallest address >= from whose bits under mask equal want (want has no bits outside mask).
 * false when there is none below 2^64. Such an address either is from itself or keeps from's bits
 * above some bit j, turns bit j of from from 0 to 1 and has nothing below j but the wanted bits;
 * the lowest usable j gives the smallest one. */
static bool next_match(uint64_t from, uint64_t mask, uint64_t want, uint64_t *found)
{
    if ((from & mask) == want) {
        *found = from;
        return true;
    }
    for (unsigned j = 0; j < 64; j++) {
        uint64_t bit = 1ull << j, below = bit - 1, above = ~below & ~bit;
        bool can_set = !(from & bit) && (!(mask & bit) || (want & bit));
        if (can_set && (from & mask & above) == (want & above)) {
            *found = (from & above) | bit | (want & below);
            return true;
        }
    }
    return false;
}

enum coverage { COVERS_NONE, COVERS_ALL, COVERS_PART };

/* How the addresses A with (A & mask) == want cover [lo, last]. Every address of the range shares
 * the bits above the highest bit where lo and last differ, and below it the range holds both
 * ...0111 and ...1000, which differ in every lower bit: so all of it matches only when the mask has
 * no bit down there and lo matches. None matches when the first match at or after lo is past last.
 * Exact for any mask, contiguous or not. */
static enum coverage mask_coverage(uint64_t lo, uint64_t last, uint64_t mask, uint64_t want)
{
    uint64_t differ = lo ^ last;
    uint64_t varying = differ ? ~0ull >> __builtin_clzll(differ) : 0;
    if (!(mask & varying) && (lo & mask) == want)
        return COVERS_ALL;
    uint64_t first;
    if (!next_match(lo, mask, want, &first) || first > last)
        return COVERS_NONE;
    return COVERS_PART;
}

/* Overlapping variable ranges (12.11.4.1): UC wins; WT and WB give WT; any other mix is undefined
 * in the SDM and taken as UC here, the type that can never be wrong for correctness. */
static unsigned combine_types(unsigned so_far, unsigned next)
{
    if (so_far == NO_MATCH || so_far == next)
        return next;
    bool wt_wb = (so_far == MT_WT || so_far == MT_WB) && (next == MT_WT || next == MT_WB);
    return wt_wb ? MT_WT : MT_UC;
}

static unsigned variable_count(const struct mtrr_state *m)
{
    unsigned n = (unsigned)(m->cap & MTRR_CAP_VCNT);
    return n < MTRR_MAX_VAR ? n : MTRR_MAX_VAR;
}

/* [lo, last] by the variable MTRRs and the default type alone. */
static bool variable_range_type(const struct mtrr_state *m, uint64_t lo, uint64_t last, unsigned *type)
{
    unsigned combined = NO_MATCH;
    uint64_t compared = phys_addr_bits(m);
    for (unsigned i = 0; i < variable_count(m); i++) {
        if (!(m->var_mask[i] & MTRR_MASK_VALID))
            continue;
        uint64_t mask = m->var_mask[i] & compared;
        enum coverage c = mask_coverage(lo, last, mask, m->var_base[i] & mask);
        if (c == COVERS_PART)
            return false;
        if (c == COVERS_ALL)
            combined = combine_types(combined, (unsigned)(m->var_base[i] & MTRR_BASE_TYPE));
    }
    *type = combined == NO_MATCH ? (unsigned)(m->def_type & MTRR_DEF_TYPE) : combined;
    return true;
}

bool mtrr_range_type(const struct mtrr_state *m, uint64_t base, uint64_t size, unsigned *type)
{
    uint64_t last = base + size - 1;
    if (size == 0 || last < base)   /* empty, or wraps past 2^64 */
        return false;
    if (!(m->def_type & MTRR_DEF_E)) {
        *type = MT_UC;              /* 12.11.2.1: E clear makes all of physical memory UC */
        return true;
    }
    if (!fixed_ranges_enabled(m) || base >= FIXED_RANGES_END)
        return variable_range_type(m, base, last, type);

    /* The fixed ranges take precedence below 1 MiB (12.11.2.2): a range across that line is
     * uniform only when both parts agree. */
    unsigned low_type, high_type;
    uint64_t low_last = last < FIXED_RANGES_END ? last : FIXED_RANGES_END - 1;
    if (!fixed_range_type(m, base, low_last, &low_type))
        return false;
    if (last >= FIXED_RANGES_END &&
        (!variable_range_type(m, FIXED_RANGES_END, last, &high_type) || high_type != low_type))
        return false;
    *type = low_type;
    return true;
}
