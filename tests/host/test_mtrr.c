/* mtrr_range_type: table-driven cases on OVMF's layout and hand-made ones, then a randomized
 * comparison against a page-by-page reference written straight from the SDM's rules (12.11). */
#include "check.h"
#include "arch/x86/mtrr.h"
#include <stdlib.h>

#define KIB 0x400ull
#define MIB 0x100000ull
#define GIB 0x40000000ull

#define CAP_FIX      (1ull << 8)
#define CAP_WC       (1ull << 10)
#define DEF_FE       (1ull << 10)
#define DEF_E        (1ull << 11)
#define MASK_VALID   (1ull << 11)
#define ALL_BYTES(t) (0x0101010101010101ull * (t))
#define NOT_UNIFORM  0xffu   /* in a case table: mtrr_range_type must return false */

struct range_case {
    uint64_t base, size;
    unsigned expect;         /* a type, or NOT_UNIFORM */
};

static uint64_t phys_mask(unsigned phys_bits)
{
    return ((1ull << phys_bits) - 1) & ~0xfffull;
}

/* A variable MTRR for the naturally aligned power-of-two block [base, base+size). */
static void set_var(struct mtrr_state *m, unsigned i, uint64_t base, uint64_t size, unsigned type)
{
    m->var_base[i] = base | type;
    m->var_mask[i] = (~(size - 1) & phys_mask(m->phys_bits)) | MASK_VALID;
}

/* OVMF (testing-facts.md): default WB, 2-4 GiB UC, 32-64 GiB UC, fixed ranges WB below 0xA0000 and
 * UC from 0xA0000 to 1 MiB; 8 variable MTRRs, 40 physical address bits. */
static struct mtrr_state ovmf_mtrrs(void)
{
    struct mtrr_state m = { .cap = 8 | CAP_FIX | CAP_WC, .def_type = DEF_E | DEF_FE | MT_WB, .phys_bits = 40 };
    m.fixed[0] = ALL_BYTES(MT_WB);      /* 0x00000-0x7FFFF */
    m.fixed[1] = ALL_BYTES(MT_WB);      /* 0x80000-0x9FFFF */
    /* fixed[2..10] (0xA0000-0xFFFFF) stay 0: UC */
    set_var(&m, 0, 2 * GIB, 2 * GIB, MT_UC);
    set_var(&m, 1, 32 * GIB, 32 * GIB, MT_UC);
    return m;
}

static void check_cases(const struct mtrr_state *m, const struct range_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned type = 0x55;
        bool uniform = mtrr_range_type(m, cases[i].base, cases[i].size, &type);
        if (uniform != (cases[i].expect != NOT_UNIFORM) || (uniform && type != cases[i].expect))
            printf("#   case %zu: [0x%llx, +0x%llx) gave %s %u, expected %u\n", i,
                   (unsigned long long)cases[i].base, (unsigned long long)cases[i].size,
                   uniform ? "uniform" : "non-uniform", type, cases[i].expect);
        CHECK_EQ(uniform, cases[i].expect != NOT_UNIFORM);
        if (uniform && cases[i].expect != NOT_UNIFORM)
            CHECK_EQ(type, cases[i].expect);
    }
}

#define CHECK_CASES(m, cases) check_cases(m, cases, sizeof cases / sizeof cases[0])

TEST(mtrr_ovmf_layout)
{
    static const struct range_case cases[] = {
        { 0, 4 * KIB, MT_WB },
        { 0, 0x80000, MT_WB },                      /* all of MSR 0x250 */
        { 0, 0xA0000, MT_WB },                      /* through 0x258 */
        { 0x9F000, 4 * KIB, MT_WB },
        { 0xA0000, 4 * KIB, MT_UC },
        { 0xA0000, 0x60000, MT_UC },                /* 0x259 and 0x268..0x26F */
        { 0xFF000, 4 * KIB, MT_UC },
        { 0x9F000, 8 * KIB, NOT_UNIFORM },          /* WB | UC inside the fixed ranges */
        { 0xFF000, 8 * KIB, NOT_UNIFORM },          /* fixed UC | variable default WB across 1 MiB */
        { 0, 2 * MIB, NOT_UNIFORM },
        { 0, GIB, NOT_UNIFORM },
        { 0, 512 * GIB, NOT_UNIFORM },
        { MIB, MIB, MT_WB },
        { 2 * MIB, 2 * GIB - 2 * MIB, MT_WB },
        { GIB, GIB, MT_WB },
        { 2 * GIB, 2 * GIB, MT_UC },
        { 2 * GIB, GIB, MT_UC },
        { 3 * GIB, GIB, MT_UC },
        { 3 * GIB + 2 * MIB, 2 * MIB, MT_UC },
        { 2 * GIB - 4 * KIB, 8 * KIB, NOT_UNIFORM },   /* straddles the start of the UC hole */
        { 4 * GIB - 4 * KIB, 8 * KIB, NOT_UNIFORM },   /* and its end */
        { GIB, 2 * GIB, NOT_UNIFORM },
        { 4 * GIB, GIB, MT_WB },
        { 31 * GIB, GIB, MT_WB },
        { 32 * GIB, 32 * GIB, MT_UC },
        { 63 * GIB, GIB, MT_UC },
        { 64 * GIB, GIB, MT_WB },
        { 64 * GIB, 448 * GIB, MT_WB },
        { 0, 1, MT_WB },              /* a single byte */
    };
    struct mtrr_state m = ovmf_mtrrs();
    CHECK_CASES(&m, cases);
}

TEST(mtrr_unaligned_ranges)
{
    static const struct range_case cases[] = {
        { 0x123, 0x10, MT_WB },
        { 0xA0001, 5, MT_UC },
        { 0x9FFFF, 2, NOT_UNIFORM },
        { 0xFFFFF, 1, MT_UC },
        { 0xFFFFF, 2, NOT_UNIFORM },
        { 0x100001, 0x1234, MT_WB },
        { 2 * GIB + 0x123, 0x10, MT_UC },
        { 2 * GIB - 0x10, 0x20, NOT_UNIFORM },
        { 2 * GIB - 0x10, 0x10, MT_WB },
        { 4 * GIB - 1, 1, MT_UC },
        { 4 * GIB - 1, 2, NOT_UNIFORM },
        { 5 * GIB + 0x777, 3 * GIB, MT_WB },
    };
    struct mtrr_state m = ovmf_mtrrs();
    CHECK_CASES(&m, cases);
}

TEST(mtrr_empty_and_wrapping_ranges)
{
    struct mtrr_state m = ovmf_mtrrs();
    unsigned type = 0x55;
    CHECK(!mtrr_range_type(&m, 0, 0, &type));
    CHECK(!mtrr_range_type(&m, 4 * GIB, 0, &type));
    CHECK(!mtrr_range_type(&m, ~0ull - 0xfff, 0x2000, &type));
    CHECK_EQ(type, 0x55);
    CHECK(mtrr_range_type(&m, ~0ull - 0xfff, 0x1000, &type));   /* ends exactly at 2^64 */
}

TEST(mtrr_disabled_is_uc)
{
    static const struct range_case cases[] = {
        { 0, 4 * KIB, MT_UC },
        { 0, 512 * GIB, MT_UC },
        { 0x9F000, 8 * KIB, MT_UC },
        { 5 * GIB, GIB, MT_UC },
    };
    struct mtrr_state m = ovmf_mtrrs();
    m.def_type &= ~DEF_E;   /* E clear: FE and the default type no longer matter */
    CHECK_CASES(&m, cases);
}

TEST(mtrr_fixed_ranges_off)
{
    /* FE clear, or FIX not reported: below 1 MiB the variable ranges and the default type rule. */
    static const struct range_case cases[] = {
        { 0xA0000, 4 * KIB, MT_WB },
        { 0, 2 * MIB, MT_WB },
        { 0, GIB, MT_WB },
        { 0, 4 * GIB, NOT_UNIFORM },
    };
    struct mtrr_state m = ovmf_mtrrs();
    m.def_type &= ~DEF_FE;
    CHECK_CASES(&m, cases);
    m = ovmf_mtrrs();
    m.cap &= ~CAP_FIX;
    CHECK_CASES(&m, cases);
}

TEST(mtrr_fixed_range_granularity)
{
    /* Each fixed MSR byte by byte: distinct types show which sub-range each address reads. */
    struct mtrr_state m = { .cap = CAP_FIX, .def_type = DEF_E | DEF_FE | MT_WB, .phys_bits = 36 };
    m.fixed[0] = 0x0006000000000000ull;     /* 64 KiB sub-range 6: 0x60000-0x6FFFF WB */
    m.fixed[2] = 0x0000000000000500ull;     /* 16 KiB sub-range 1 of 0x259: 0xA4000-0xA7FFF WP */
    m.fixed[10] = 0x0400000000000000ull;    /* 4 KiB sub-range 7 of 0x26F: 0xFF000-0xFFFFF WT */
    static const struct range_case cases[] = {
        { 0x60000, 0x10000, MT_WB },
        { 0x5F000, 0x2000, NOT_UNIFORM },
        { 0x70000, 0x10000, MT_UC },
        { 0xA4000, 0x4000, MT_WP },
        { 0xA3000, 0x2000, NOT_UNIFORM },
        { 0xA8000, 0x1000, MT_UC },
        { 0xFF000, 0x1000, MT_WT },
        { 0xFE000, 0x1000, MT_UC },
        { 0xFF000, 0x2000, NOT_UNIFORM },   /* WT below 1 MiB, default WB above */
    };
    CHECK_CASES(&m, cases);
    m.fixed[10] = ALL_BYTES(MT_WB);
    static const struct range_case agree[] = {
        { 0xF8000, 0x10000, MT_WB },        /* both sides of 1 MiB agree: uniform */
        { 0xF8000, 4 * GIB, MT_WB },
    };
    CHECK_CASES(&m, agree);
}

TEST(mtrr_overlapping_uc_wins)
{
    struct mtrr_state m = { .cap = 4, .def_type = DEF_E | MT_UC, .phys_bits = 40 };
    set_var(&m, 0, 0, 4 * GIB, MT_WB);
    set_var(&m, 1, GIB, GIB, MT_UC);
    set_var(&m, 2, GIB, 2 * MIB, MT_WB);    /* WB inside UC: still UC */
    static const struct range_case cases[] = {
        { 0, GIB, MT_WB },
        { GIB, 2 * MIB, MT_UC },
        { GIB + 2 * MIB, GIB - 2 * MIB, MT_UC },
        { GIB, GIB, NOT_UNIFORM },          /* UC throughout, but MTRR 2 cuts it: the header's rule */
        { 0, 2 * GIB, NOT_UNIFORM },
        { 2 * GIB, 2 * GIB, MT_WB },
        { 4 * GIB, GIB, MT_UC },            /* default */
        { 3 * GIB, 2 * GIB, NOT_UNIFORM },
    };
    CHECK_CASES(&m, cases);
}

TEST(mtrr_overlap_combinations)
{
    struct mtrr_state m = { .cap = 8, .def_type = DEF_E | MT_WB, .phys_bits = 40 };
    set_var(&m, 0, 0, 4 * GIB, MT_WB);
    set_var(&m, 1, 0, GIB, MT_WT);          /* WT + WB -> WT */
    set_var(&m, 2, 2 * GIB, GIB, MT_WC);    /* WC + WB: undefined in the SDM, UC here */
    set_var(&m, 3, 8 * GIB, GIB, MT_WP);
    set_var(&m, 4, 8 * GIB, 2 * GIB, MT_WP);   /* the same type twice -> that type */
    set_var(&m, 5, 16 * GIB, GIB, MT_WT);
    set_var(&m, 6, 16 * GIB, 2 * MIB, MT_WT);
    static const struct range_case cases[] = {
        { 0, GIB, MT_WT },
        { GIB, GIB, MT_WB },
        { 2 * GIB, GIB, MT_UC },
        { 8 * GIB, GIB, MT_WP },
        { 9 * GIB, GIB, MT_WP },
        { 16 * GIB, 2 * MIB, MT_WT },
        { 16 * GIB + 2 * MIB, 2 * MIB, MT_WT },
        { 16 * GIB, GIB, NOT_UNIFORM },     /* WT throughout, but MTRR 6 cuts it */
    };
    CHECK_CASES(&m, cases);
}

TEST(mtrr_variable_count_and_valid_bit)
{
    struct mtrr_state m = { .cap = 1, .def_type = DEF_E | MT_WB, .phys_bits = 40 };
    set_var(&m, 0, 0, GIB, MT_UC);
    set_var(&m, 1, GIB, GIB, MT_UC);            /* beyond VCNT: ignored */
    set_var(&m, 2, 2 * GIB, GIB, MT_UC);
    m.var_mask[2] &= ~MASK_VALID;               /* and beyond; invalid anyway */
    static const struct range_case cases[] = {
        { 0, GIB, MT_UC },
        { GIB, GIB, MT_WB },
        { 2 * GIB, GIB, MT_WB },
    };
    CHECK_CASES(&m, cases);
    m.cap = 0xff;                               /* more than MTRR_MAX_VAR: only 16 are read */
    set_var(&m, 15, 4 * GIB, GIB, MT_WT);
    unsigned type;
    CHECK(mtrr_range_type(&m, GIB, GIB, &type));
    CHECK_EQ(type, MT_UC);
    CHECK(mtrr_range_type(&m, 4 * GIB, GIB, &type));
    CHECK_EQ(type, MT_WT);
}

TEST(mtrr_mask_bounded_by_phys_bits)
{
    /* Mask bits above phys_bits do not take part (12.11.3): with 36 bits, 0xF_F000_0000_0000 in the
     * mask changes nothing, and 64 GiB aliases 0. */
    struct mtrr_state m = { .cap = 1, .def_type = DEF_E | MT_WB, .phys_bits = 36 };
    m.var_base[0] = 0 | MT_UC;
    m.var_mask[0] = 0xfffffffc0000000ull | MASK_VALID;   /* 1 GiB block at 0, bits up to 59 */
    static const struct range_case cases[] = {
        { 0, GIB, MT_UC },
        { GIB, GIB, MT_WB },
        { 64 * GIB, GIB, MT_UC },
    };
    CHECK_CASES(&m, cases);
}

TEST(mtrr_non_contiguous_masks)
{
    struct mtrr_state m = { .cap = 2, .def_type = DEF_E | MT_WB, .phys_bits = 40 };
    /* Bits 39:32 and 30 compared, 31 ignored: [0, 1 GiB) and [2, 3 GiB) match. */
    m.var_base[0] = MT_UC;
    m.var_mask[0] = (phys_mask(40) & ~0x3fffffffull & ~(1ull << 31)) | MASK_VALID;
    /* Bits 39:14 and 12 compared, 13 ignored: pages 0x40000000 and 0x40002000 match. */
    m.var_base[1] = 0x40000000 | MT_WT;
    m.var_mask[1] = (phys_mask(40) & ~0x2000ull) | MASK_VALID;
    static const struct range_case cases[] = {
        { 0, GIB, MT_UC },
        { GIB, 0x1000, MT_WT },
        { GIB + 0x1000, 0x1000, MT_WB },
        { GIB + 0x2000, 0x1000, MT_WT },
        { GIB + 0x2000, 0x2000, NOT_UNIFORM },
        { GIB, 0x4000, NOT_UNIFORM },
        { GIB + 0x3000, GIB - 0x3000, MT_WB },
        { GIB + 0x4000, 4 * KIB, MT_WB },
        { GIB, GIB, NOT_UNIFORM },
        { 2 * GIB, GIB, MT_UC },
        { 3 * GIB, GIB, MT_WB },
        { 0, 2 * GIB, NOT_UNIFORM },
        { 4 * GIB, GIB, MT_WB },
        { 2 * GIB + 0x1234, 0x100, MT_UC },
    };
    CHECK_CASES(&m, cases);
}

/* ---- randomized comparison with a page-by-page reference ---- */

static unsigned ref_fixed_type(const struct mtrr_state *m, uint64_t a)
{
    unsigned msr, byte;
    if (a < 0x80000) {
        msr = 0;
        byte = (unsigned)(a / 0x10000);
    } else if (a < 0xC0000) {
        msr = 1 + (unsigned)((a - 0x80000) / 0x20000);
        byte = (unsigned)((a - 0x80000) % 0x20000 / 0x4000);
    } else {
        msr = 3 + (unsigned)((a - 0xC0000) / 0x8000);
        byte = (unsigned)((a - 0xC0000) % 0x8000 / 0x1000);
    }
    return (unsigned)(m->fixed[msr] >> (8 * byte)) & 0xff;
}

/* The type of one address, straight from 12.11.4.1. */
static unsigned ref_type(const struct mtrr_state *m, uint64_t a)
{
    if (!(m->def_type & DEF_E))
        return MT_UC;
    if (a < MIB && (m->def_type & DEF_FE) && (m->cap & CAP_FIX))
        return ref_fixed_type(m, a);
    unsigned seen = 0, matches = 0, last = 0;
    unsigned count = (unsigned)(m->cap & 0xff) < MTRR_MAX_VAR ? (unsigned)(m->cap & 0xff) : MTRR_MAX_VAR;
    for (unsigned i = 0; i < count; i++) {
        uint64_t mask = m->var_mask[i] & phys_mask(m->phys_bits);
        if ((m->var_mask[i] & MASK_VALID) && (a & mask) == (m->var_base[i] & mask)) {
            last = (unsigned)(m->var_base[i] & 0xff);
            seen |= 1u << last;
            matches++;
        }
    }
    if (!matches)
        return (unsigned)(m->def_type & 0xff);
    if (seen == 1u << last)
        return last;
    if (seen & (1u << MT_UC))
        return MT_UC;
    if (!(seen & ~((1u << MT_WT) | (1u << MT_WB))))
        return MT_WT;
    return MT_UC;
}

/* The header's extra rule: where the variable MTRRs decide (E set, and above 1 MiB or fixed ranges
 * off), one that matches some pages of the range but not all makes it non-uniform. */
static bool ref_cut_by_variable(const struct mtrr_state *m, uint64_t first_page, uint64_t last_page)
{
    if (!(m->def_type & DEF_E))
        return false;
    if ((m->def_type & DEF_FE) && (m->cap & CAP_FIX) && first_page < MIB)
        first_page = MIB;
    unsigned count = (unsigned)(m->cap & 0xff) < MTRR_MAX_VAR ? (unsigned)(m->cap & 0xff) : MTRR_MAX_VAR;
    for (unsigned i = 0; i < count; i++) {
        uint64_t mask = m->var_mask[i] & phys_mask(m->phys_bits);
        unsigned in = 0, out = 0;
        for (uint64_t p = first_page; p <= last_page && (m->var_mask[i] & MASK_VALID); p += 0x1000) {
            if ((p & mask) == (m->var_base[i] & mask))
                in++;
            else
                out++;
        }
        if (in && out)
            return true;
    }
    return false;
}

static bool ref_range_type(const struct mtrr_state *m, uint64_t base, uint64_t size, unsigned *type)
{
    uint64_t first_page = base & ~0xfffull, last_page = (base + size - 1) & ~0xfffull;
    *type = ref_type(m, first_page);
    for (uint64_t p = first_page; p <= last_page; p += 0x1000) {
        if (ref_type(m, p) != *type)
            return false;
    }
    return !ref_cut_by_variable(m, first_page, last_page);
}

static uint64_t rnd(void)
{
    return (uint64_t)rand() << 33 ^ (uint64_t)rand() << 11 ^ (uint64_t)rand();
}

static unsigned random_type(void)
{
    static const unsigned types[] = { MT_UC, MT_WC, MT_WT, MT_WP, MT_WB };
    return types[rnd() % 5];
}

/* Everything happens in the first 4 MiB (phys_bits 22-26), so that random masks, contiguous or not,
 * cut ranges of a few dozen pages in every way. */
#define RANDOM_WINDOW (4 * MIB)

static struct mtrr_state random_mtrrs(void)
{
    struct mtrr_state m = { .phys_bits = 22 + (unsigned)(rnd() % 5) };
    m.cap = (rnd() % 9) | (rnd() % 4 ? CAP_FIX : 0);
    m.def_type = random_type() | (rnd() % 4 ? DEF_FE : 0) | (rnd() % 10 ? DEF_E : 0);
    for (unsigned i = 0; i < 11; i++)
        m.fixed[i] = ALL_BYTES(random_type()) ^ (rnd() % 3 ? 0 : rnd() & 0x0202020202020202ull);
    for (unsigned i = 0; i < MTRR_MAX_VAR; i++) {
        uint64_t size = 1ull << (12 + rnd() % 8);
        uint64_t mask = ~(size - 1);
        if (rnd() % 3 == 0)
            mask &= ~(1ull << (12 + rnd() % 10));   /* a hole in the mask */
        m.var_base[i] = (rnd() % RANDOM_WINDOW & ~0xfffull) | random_type();
        m.var_mask[i] = (mask & ~0xfffull) | (rnd() % 6 ? MASK_VALID : 0);
    }
    return m;
}

TEST(mtrr_random_against_reference)
{
    srand(12345);
    unsigned disagreements = 0, uniform = 0, split = 0;
    for (unsigned round = 0; round < 100000; round++) {
        struct mtrr_state m = random_mtrrs();
        uint64_t base = rnd() % RANDOM_WINDOW;
        if (rnd() % 2)
            base &= ~0xfffull;
        uint64_t size = rnd() % 2 ? (rnd() % 48 + 1) * 0x1000 : rnd() % 0x30000 + 1;
        unsigned want;
        bool want_uniform = ref_range_type(&m, base, size, &want);
        unsigned got;
        bool got_uniform = mtrr_range_type(&m, base, size, &got);
        if (got_uniform != want_uniform || (got_uniform && got != want))
            disagreements++;
        uniform += want_uniform;
        split += !want_uniform;
    }
    CHECK_EQ(disagreements, 0);
    CHECK(uniform > 10000);   /* both outcomes well exercised */
    CHECK(split > 10000);
}
