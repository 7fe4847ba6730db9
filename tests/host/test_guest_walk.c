/* guest_walk: translations in every paging mode, not-present at each level, access rights (U/S, R/W
 * with CR0.WP, XD with EFER.NXE, SMEP), reserved bits, paging structures outside guest memory,
 * accessed/dirty updates, instruction fetches across pages, and a randomized run of 4-/5-level walks
 * and fetches against a reference walker. */
#include "check.h"
#include "vmx/guest_walk.h"
#include <stdlib.h>
#include <string.h>

#define PAGE 0x1000ull
#define MIB 0x100000ull
#define GIB 0x40000000ull

/* WHV_TRANSLATE_GVA_RESULT_CODE */
#define OK WHvTranslateGvaResultSuccess
#define NOT_PRESENT WHvTranslateGvaResultPageNotPresent
#define PRIVILEGE WHvTranslateGvaResultPrivilegeViolation
#define INVALID WHvTranslateGvaResultInvalidPageTableFlags
#define UNMAPPED WHvTranslateGvaResultGpaUnmapped
#define NO_READ WHvTranslateGvaResultGpaNoReadAccess
#define NO_WRITE WHvTranslateGvaResultGpaNoWriteAccess

/* WHV_TRANSLATE_GVA_FLAGS */
#define V_READ WHvTranslateGvaFlagValidateRead
#define V_WRITE WHvTranslateGvaFlagValidateWrite
#define V_EXEC WHvTranslateGvaFlagValidateExecute
#define EXEMPT WHvTranslateGvaFlagPrivilegeExempt
#define SET_BITS WHvTranslateGvaFlagSetPageTableBits

#define CR0_PE (1ull << 0)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define PWT (1ull << 3)
#define PCD (1ull << 4)
#define A (1ull << 5)
#define D (1ull << 6)
#define PS (1ull << 7)
#define XD (1ull << 63)
#define BIT(n) (1ull << (n))

/* ---- fake guest-physical memory: a few 4 KiB pages, each readable and/or writable ---- */

#define FAKE_PAGES 64
#define TABLES_BASE 0x200000ull   /* page tables come from here up, data pages live elsewhere */

struct fake_page {
    uint64_t gpa;
    bool readable, writable;
    uint8_t bytes[PAGE];
};

struct fake_mem {
    struct fake_page page[FAKE_PAGES];
    unsigned count;
    unsigned writes;              /* successful write calls */
    unsigned crossing_accesses;   /* calls that crossed a page: the contract forbids them */
    uint64_t next_table;
    struct guest_memory api;
};

static struct fake_page *fake_find(struct fake_mem *f, uint64_t gpa)
{
    for (unsigned i = 0; i < f->count; i++)
        if (f->page[i].gpa == (gpa & ~(PAGE - 1)))
            return &f->page[i];
    return NULL;
}

static struct fake_page *fake_checked_page(struct fake_mem *f, uint64_t gpa, uint32_t len, int *status,
                                           bool write)
{
    if (len == 0 || (gpa & (PAGE - 1)) + len > PAGE)
        f->crossing_accesses++;
    struct fake_page *pg = fake_find(f, gpa);
    *status = !pg ? GUEST_MEM_UNMAPPED
            : write && !pg->writable ? GUEST_MEM_NO_WRITE
            : !write && !pg->readable ? GUEST_MEM_NO_READ
            : GUEST_MEM_OK;
    return *status == GUEST_MEM_OK ? pg : NULL;
}

static int fake_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    int status;
    struct fake_page *pg = fake_checked_page(ctx, gpa, len, &status, false);
    if (pg)
        memcpy(buf, pg->bytes + (gpa & (PAGE - 1)), len);
    return status;
}

static int fake_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    struct fake_mem *f = ctx;
    int status;
    struct fake_page *pg = fake_checked_page(f, gpa, len, &status, true);
    if (pg) {
        memcpy(pg->bytes + (gpa & (PAGE - 1)), buf, len);
        f->writes++;
    }
    return status;
}

static struct fake_mem *fake_new(void)
{
    struct fake_mem *f = calloc(1, sizeof *f);
    f->next_table = TABLES_BASE;
    f->api = (struct guest_memory){ f, fake_read, fake_write };
    return f;
}

/* A second memory with the same pages, for the reference walker. */
static struct fake_mem *fake_clone(const struct fake_mem *f)
{
    struct fake_mem *c = malloc(sizeof *c);
    memcpy(c, f, sizeof *c);
    c->api.ctx = c;
    return c;
}

/* The page at gpa, mapped readable and writable (zero-filled) if it was not. */
static struct fake_page *fake_map(struct fake_mem *f, uint64_t gpa)
{
    struct fake_page *pg = fake_find(f, gpa);
    if (pg)
        return pg;
    CHECK(f->count < FAKE_PAGES);
    pg = &f->page[f->count++];
    pg->gpa = gpa & ~(PAGE - 1);
    pg->readable = pg->writable = true;
    return pg;
}

static void fake_unmap(struct fake_mem *f, uint64_t gpa)
{
    struct fake_page *pg = fake_find(f, gpa);
    if (pg)
        *pg = f->page[--f->count];
}

static uint64_t fake_new_table(struct fake_mem *f)
{
    uint64_t gpa = f->next_table;
    f->next_table += PAGE;
    fake_map(f, gpa);
    return gpa;
}

static uint64_t entry_get(struct fake_mem *f, uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, fake_find(f, gpa)->bytes + (gpa & (PAGE - 1)), size);
    return v;
}

static void entry_put(struct fake_mem *f, uint64_t gpa, unsigned size, uint64_t v)
{
    memcpy(fake_map(f, gpa)->bytes + (gpa & (PAGE - 1)), &v, size);
}

/* Fills the page at gpa with bytes that name their own address: byte i is (gpa + i) * 7 + seed. */
static void fill_code(struct fake_mem *f, uint64_t gpa, uint8_t seed)
{
    struct fake_page *pg = fake_map(f, gpa);
    for (unsigned i = 0; i < PAGE; i++)
        pg->bytes[i] = (uint8_t)((pg->gpa + i) * 7 + seed);
}

static uint8_t code_byte(uint64_t gpa, uint8_t seed)
{
    return (uint8_t)(gpa * 7 + seed);
}

/* ---- page-table builders for every paging mode ---- */

enum mode { MODE_32, MODE_PAE, MODE_4L, MODE_5L };

struct mode_shape {
    const char *name;
    unsigned levels, entry_size;
    unsigned shift[5];   /* linear-address bit of each level's index, root first */
};

static const struct mode_shape shapes[] = {
    [MODE_32] = { "32-bit", 2, 4, { 22, 12 } },
    [MODE_PAE] = { "PAE", 3, 8, { 30, 21, 12 } },
    [MODE_4L] = { "4-level", 4, 8, { 39, 30, 21, 12 } },
    [MODE_5L] = { "5-level", 5, 8, { 48, 39, 30, 21, 12 } },
};

struct tables {
    struct fake_mem *f;
    enum mode mode;
    uint64_t cr3;
};

/* The entries a translation uses, root first. */
struct path {
    unsigned n;
    uint64_t entry[5];
};

/* CR3 carries PWT and PCD (ignored for the address); the PAE PDPT sits 32 bytes into its page. */
static struct tables tables_new(struct fake_mem *f, enum mode mode)
{
    uint64_t root = fake_new_table(f) + (mode == MODE_PAE ? 0x20 : 0);
    return (struct tables){ f, mode, root | PWT | PCD };
}

static uint64_t tables_root(const struct tables *t)
{
    return t->cr3 & (t->mode == MODE_PAE ? ~0x1Full : ~0xFFFull);
}

static unsigned index_at(const struct tables *t, uint64_t gva, unsigned level)
{
    const struct mode_shape *sh = &shapes[t->mode];
    uint64_t mask = sh->entry_size == 4 ? 0x3FF : t->mode == MODE_PAE && level == 0 ? 3 : 0x1FF;
    return (unsigned)((gva >> sh->shift[level]) & mask);
}

/* Intermediate entries grant everything they can; a PAE PDPTE has only P (its R/W and U/S positions
 * are reserved). */
static uint64_t table_entry_flags(enum mode mode, unsigned level)
{
    return mode == MODE_PAE && level == 0 ? P : P | RW | US;
}

/* The leaf for a page at gpa: a 32-bit 4 MiB PDE keeps address bits 39:32 in bits 20:13 (PSE-36). */
static uint64_t leaf_entry(enum mode mode, uint64_t gpa, unsigned page_shift, bool large)
{
    uint64_t base = gpa & ~((1ull << page_shift) - 1);
    if (mode == MODE_32 && large)
        return (base & 0xFFC00000ull) | ((base >> 32) & 0xFF) << 13 | PS;
    return base | (large ? PS : 0);
}

/* Maps the page of size 1 << page_shift holding gva onto the one holding gpa, with leaf_flags in the
 * leaf entry, creating missing tables. */
static struct path map_page(struct tables *t, uint64_t gva, uint64_t gpa, unsigned page_shift,
                            uint64_t leaf_flags)
{
    const struct mode_shape *sh = &shapes[t->mode];
    uint64_t table = tables_root(t);
    uint64_t address_mask = sh->entry_size == 4 ? 0xFFFFF000ull : 0x000FFFFFFFFFF000ull;
    struct path p = { 0 };
    for (unsigned level = 0; level < sh->levels; level++) {
        uint64_t at = table + index_at(t, gva, level) * sh->entry_size;
        p.entry[p.n++] = at;
        if (sh->shift[level] == page_shift) {
            bool large = level + 1 < sh->levels;
            entry_put(t->f, at, sh->entry_size, leaf_entry(t->mode, gpa, page_shift, large) | leaf_flags);
            return p;
        }
        uint64_t e = entry_get(t->f, at, sh->entry_size);
        if (!(e & P)) {
            e = fake_new_table(t->f) | table_entry_flags(t->mode, level);
            entry_put(t->f, at, sh->entry_size, e);
        }
        table = e & address_mask;
    }
    CHECK(!"page_shift is no page size of this mode");
    return p;
}

/* Clears then sets bits of one entry of a path (level: index into it; -1 is the leaf). */
static void entry_edit(struct tables *t, const struct path *p, int level, uint64_t clear, uint64_t set)
{
    unsigned size = shapes[t->mode].entry_size;
    uint64_t at = p->entry[level < 0 ? (int)p->n + level : level];
    entry_put(t->f, at, size, (entry_get(t->f, at, size) & ~clear) | set);
}

/* Guest state for the mode: CPL 0, CR0.WP = 0, NXE on where XD exists, CR4.PSE on for 32-bit paging,
 * MAXPHYADDR 46. */
static struct guest_paging_state state_for(const struct tables *t)
{
    struct guest_paging_state s = { .cr0 = CR0_PE | CR0_PG, .cr3 = t->cr3, .maxphyaddr = 46 };
    switch (t->mode) {
    case MODE_32:
        s.cr4 = CR4_PSE;
        break;
    case MODE_PAE:
        s.cr4 = CR4_PAE;
        s.efer = EFER_NXE;
        break;
    case MODE_4L:
        s.cr4 = CR4_PAE;
        s.efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    case MODE_5L:
        s.cr4 = CR4_PAE | CR4_LA57;
        s.efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    }
    return s;
}

/* A standard address per mode (canonical there) and where its 4 KiB page lives. */
static const uint64_t standard_gva[] = {
    [MODE_32] = 0xC0401234ull,
    [MODE_PAE] = 0xC0401234ull,
    [MODE_4L] = 0xFFFF800000401234ull,
    [MODE_5L] = 0xFF00000000401234ull,
};
#define STANDARD_GPA 0x12345000ull

/* One mode's tables with the standard address mapped by a 4 KiB page (leaf flags as given). */
struct fixture {
    struct fake_mem *f;
    struct tables t;
    struct path p;
    struct guest_paging_state s;
    uint64_t gva;
};

static struct fixture fixture_new(enum mode mode, uint64_t leaf_flags)
{
    struct fixture x = { .f = fake_new(), .gva = standard_gva[mode] };
    x.t = tables_new(x.f, mode);
    x.p = map_page(&x.t, x.gva, STANDARD_GPA, 12, leaf_flags);
    x.s = state_for(&x.t);
    return x;
}

static int translate(struct fixture *x, unsigned flags, uint64_t *gpa)
{
    return guest_translate(&x->f->api, &x->s, x->gva, flags, gpa);
}

static void fixture_free(struct fixture *x)
{
    CHECK_EQ(x->f->crossing_accesses, 0);
    free(x->f);
}

/* ---- no paging ---- */

TEST(guest_walk_no_paging_is_identity)
{
    struct fake_mem *f = fake_new();   /* empty: nothing may be read */
    static const struct { uint64_t cr0, gva, gpa; } cases[] = {
        { 0, 0xB8000, 0xB8000 },                          /* real mode */
        { 0, 0x10FFEF, 0x10FFEF },                        /* real mode top with A20: no 1 MiB wrap */
        { CR0_PE, 0xFFFFF000, 0xFFFFF000 },               /* protected, flat */
        { CR0_PE, 0x123456789ABCull, 0x56789ABC },       /* 32-bit linear addresses */
        { CR0_PE | CR0_WP, 0x1000, 0x1000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned cpl = 0; cpl <= 3; cpl += 3) {
            struct guest_paging_state s = { .cr0 = cases[i].cr0, .cr4 = CR4_SMEP, .cpl = cpl, .maxphyaddr = 36 };
            uint64_t gpa = 0;
            CHECK_EQ(guest_translate(&f->api, &s, cases[i].gva, V_READ | V_WRITE | V_EXEC | SET_BITS, &gpa), OK);
            CHECK_EQ(gpa, cases[i].gpa);
        }
    }
    CHECK_EQ(f->writes, 0);
    free(f);
}

/* ---- translations in every mode and page size ---- */

TEST(guest_walk_translates_every_mode_and_page_size)
{
    static const struct { enum mode mode; uint64_t gva, gpa; unsigned page_shift; } cases[] = {
        { MODE_32, 0x00401234ull, 0x00789000ull, 12 },
        { MODE_32, 0xFFFFFFFFull, 0xFFFFF000ull, 12 },
        { MODE_32, 0x00C12345ull, 0x300400000ull, 22 },          /* 4 MiB page above 4 GiB (PSE-36) */
        { MODE_PAE, 0xC0001234ull, 0x123456000ull, 12 },
        { MODE_PAE, 0x80212345ull, 0x400200000ull, 21 },
        { MODE_4L, 0xFFFF800000123456ull, 0x5678000ull, 12 },
        { MODE_4L, 0x00007F0000201234ull, 0x80000000ull, 21 },
        { MODE_4L, 0xFFFFFFFFC0001234ull, 0x4000000000ull, 30 },
        { MODE_4L, 0x0000000000000000ull, 0x3FFFFFFFF000ull, 12 },   /* top GPA below MAXPHYADDR 46 */
        { MODE_5L, 0xFF123456789AB123ull, 0x9000ull, 12 },
        { MODE_5L, 0x00FF000080000000ull, 0x1C0000000ull, 30 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_mem *f = fake_new();
        struct tables t = tables_new(f, cases[i].mode);
        map_page(&t, cases[i].gva, cases[i].gpa, cases[i].page_shift, P | RW | US);
        struct guest_paging_state s = state_for(&t);
        uint64_t offset = cases[i].gva & ((1ull << cases[i].page_shift) - 1);
        uint64_t gpa = 0;
        CHECK_EQ(guest_translate(&f->api, &s, cases[i].gva, V_READ, &gpa), OK);
        CHECK_EQ(gpa, cases[i].gpa + offset);
        CHECK_EQ(f->writes, 0);
        CHECK_EQ(f->crossing_accesses, 0);
        free(f);
    }
}

TEST(guest_walk_32bit_modes_use_low_32_bits_of_the_address)
{
    for (enum mode mode = MODE_32; mode <= MODE_PAE; mode++) {
        struct fixture x = fixture_new(mode, P);
        uint64_t gpa = 0;
        x.gva |= 0xABCD000000000000ull;
        CHECK_EQ(translate(&x, V_READ, &gpa), OK);
        CHECK_EQ(gpa, STANDARD_GPA | 0x234);
        fixture_free(&x);
    }
}

TEST(guest_walk_32bit_ps_without_cr4_pse_is_a_table_pointer)
{
    struct fixture x = fixture_new(MODE_32, P);
    entry_edit(&x.t, &x.p, 0, 0, PS);
    x.s.cr4 &= ~CR4_PSE;
    uint64_t gpa = 0;
    CHECK_EQ(translate(&x, V_READ, &gpa), OK);
    CHECK_EQ(gpa, STANDARD_GPA | 0x234);
    fixture_free(&x);
}

TEST(guest_walk_non_canonical_has_no_translation)
{
    struct fixture x = fixture_new(MODE_4L, P);
    uint64_t gpa = 0x77;
    x.gva = standard_gva[MODE_5L];   /* canonical in 57 bits only */
    CHECK_EQ(translate(&x, 0, &gpa), NOT_PRESENT);
    x.gva = 0x0000800000000000ull;
    CHECK_EQ(translate(&x, 0, &gpa), NOT_PRESENT);
    CHECK_EQ(gpa, 0x77);
    fixture_free(&x);
}

/* ---- not present ---- */

TEST(guest_walk_not_present_at_each_level)
{
    for (enum mode mode = MODE_32; mode <= MODE_5L; mode++) {
        for (unsigned level = 0; level < shapes[mode].levels; level++) {
            struct fixture x = fixture_new(mode, P | RW | US);
            uint64_t gpa = 0x77;
            entry_edit(&x.t, &x.p, (int)level, P, 0);
            CHECK_EQ(translate(&x, 0, &gpa), NOT_PRESENT);
            CHECK_EQ(gpa, 0x77);
            /* P = 0 comes first: the other bits of a not-present entry are not looked at (4.7). */
            entry_edit(&x.t, &x.p, (int)level, 0, mode == MODE_32 ? 0xFFFFFFFEull : ~P);
            CHECK_EQ(translate(&x, V_READ, &gpa), NOT_PRESENT);
            fixture_free(&x);
        }
    }
}

TEST(guest_walk_not_present_large_page_leaf)
{
    static const struct { enum mode mode; unsigned page_shift; } cases[] = {
        { MODE_32, 22 }, { MODE_PAE, 21 }, { MODE_4L, 21 }, { MODE_4L, 30 }, { MODE_5L, 30 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_mem *f = fake_new();
        struct tables t = tables_new(f, cases[i].mode);
        uint64_t gva = standard_gva[cases[i].mode];
        struct path p = map_page(&t, gva, 0, cases[i].page_shift, RW | US);   /* P = 0 */
        struct guest_paging_state s = state_for(&t);
        uint64_t gpa;
        CHECK_EQ(guest_translate(&f->api, &s, gva, 0, &gpa), NOT_PRESENT);
        entry_edit(&t, &p, -1, 0, P);
        CHECK_EQ(guest_translate(&f->api, &s, gva, 0, &gpa), OK);
        free(f);
    }
}

/* ---- access rights ---- */

#define LEAF (-1)

struct rights_case {
    const char *name;
    enum mode mode;
    int level;               /* entry to edit (LEAF or an index into the path) */
    uint64_t clear, set;     /* its bits: the rest of the path grants P, R/W, U/S */
    unsigned cpl;
    uint64_t cr0_extra, cr4_extra;
    bool nxe_off;
    unsigned flags;
    int want;
};

static const struct rights_case rights_cases[] = {
    { "user page, CPL 3 read", MODE_4L, LEAF, 0, 0, 3, 0, 0, false, V_READ, OK },
    { "user page, CPL 3 write", MODE_4L, LEAF, 0, 0, 3, 0, 0, false, V_READ | V_WRITE, OK },
    { "supervisor page, CPL 3 read", MODE_4L, LEAF, US, 0, 3, 0, 0, false, V_READ, PRIVILEGE },
    { "supervisor PML4E, CPL 3 read", MODE_4L, 0, US, 0, 3, 0, 0, false, V_READ, PRIVILEGE },
    { "supervisor PDE, CPL 3 execute", MODE_4L, 2, US, 0, 3, 0, 0, false, V_EXEC, PRIVILEGE },
    { "supervisor page, CPL 3, exempt", MODE_4L, LEAF, US, 0, 3, 0, 0, false, V_READ | V_WRITE | EXEMPT, OK },
    { "supervisor page, CPL 3, no validation", MODE_4L, LEAF, US, 0, 3, 0, 0, false, 0, OK },
    { "supervisor page, CPL 1 read", MODE_4L, LEAF, US, 0, 1, 0, 0, false, V_READ, OK },
    { "read-only page, CPL 0 write, WP=0", MODE_4L, LEAF, RW, 0, 0, 0, 0, false, V_WRITE, OK },
    { "read-only page, CPL 0 write, WP=1", MODE_4L, LEAF, RW, 0, 0, CR0_WP, 0, false, V_WRITE, PRIVILEGE },
    { "read-only PDPTE, CPL 0 write, WP=1", MODE_4L, 1, RW, 0, 0, CR0_WP, 0, false, V_WRITE, PRIVILEGE },
    { "read-only page, CPL 0 read, WP=1", MODE_4L, LEAF, RW, 0, 0, CR0_WP, 0, false, V_READ, OK },
    { "read-only page, CPL 3 write, WP=0", MODE_4L, LEAF, RW, 0, 3, 0, 0, false, V_WRITE, PRIVILEGE },
    { "read-only page, CPL 3 write, exempt, WP=0", MODE_4L, LEAF, RW, 0, 3, 0, 0, false, V_WRITE | EXEMPT, OK },
    { "read-only page, CPL 3 write, exempt, WP=1", MODE_4L, LEAF, RW, 0, 3, CR0_WP, 0, false,
      V_WRITE | EXEMPT, PRIVILEGE },
    { "XD page, NXE=1, execute", MODE_4L, LEAF, 0, XD, 0, 0, 0, false, V_EXEC, PRIVILEGE },
    { "XD page, NXE=1, read and write", MODE_4L, LEAF, 0, XD, 0, 0, 0, false, V_READ | V_WRITE, OK },
    { "XD PML4E, NXE=1, execute", MODE_4L, 0, 0, XD, 3, 0, 0, false, V_EXEC, PRIVILEGE },
    { "XD page, NXE=0", MODE_4L, LEAF, 0, XD, 0, 0, 0, true, V_READ, INVALID },
    { "XD PDE, NXE=0, no validation", MODE_4L, 2, 0, XD, 0, 0, 0, true, 0, INVALID },
    { "no XD, NXE=0, execute", MODE_4L, LEAF, 0, 0, 0, 0, 0, true, V_EXEC, OK },
    { "user page, CPL 0 execute, SMEP", MODE_4L, LEAF, 0, 0, 0, 0, CR4_SMEP, false, V_EXEC, PRIVILEGE },
    { "user page, CPL 0 execute, no SMEP", MODE_4L, LEAF, 0, 0, 0, 0, 0, false, V_EXEC, OK },
    { "user page, CPL 0 read, SMEP", MODE_4L, LEAF, 0, 0, 0, 0, CR4_SMEP, false, V_READ | V_WRITE, OK },
    { "supervisor page, CPL 0 execute, SMEP", MODE_4L, LEAF, US, 0, 0, 0, CR4_SMEP, false, V_EXEC, OK },
    { "supervisor PDPTE, CPL 0 execute, SMEP", MODE_4L, 1, US, 0, 0, 0, CR4_SMEP, false, V_EXEC, OK },
    { "user page, CPL 3 execute, SMEP", MODE_4L, LEAF, 0, 0, 3, 0, CR4_SMEP, false, V_EXEC, OK },
    { "user page, CPL 3 exempt execute, SMEP", MODE_4L, LEAF, 0, 0, 3, 0, CR4_SMEP, false,
      V_EXEC | EXEMPT, PRIVILEGE },
    { "5-level: supervisor PML5E, CPL 3", MODE_5L, 0, US, 0, 3, 0, 0, false, V_READ, PRIVILEGE },
    { "5-level: XD PML5E, execute", MODE_5L, 0, 0, XD, 0, 0, 0, false, V_EXEC, PRIVILEGE },
    { "PAE: PDPTE has no U/S, CPL 3", MODE_PAE, LEAF, 0, 0, 3, 0, 0, false, V_READ | V_WRITE | V_EXEC, OK },
    { "PAE: supervisor PDE, CPL 3", MODE_PAE, 1, US, 0, 3, 0, 0, false, V_READ, PRIVILEGE },
    { "PAE: read-only PTE, WP=1", MODE_PAE, LEAF, RW, 0, 0, CR0_WP, 0, false, V_WRITE, PRIVILEGE },
    { "PAE: XD PDE, execute", MODE_PAE, 1, 0, XD, 0, 0, 0, false, V_EXEC, PRIVILEGE },
    { "32-bit: supervisor PDE, CPL 3", MODE_32, 0, US, 0, 3, 0, 0, false, V_READ, PRIVILEGE },
    { "32-bit: read-only PTE, CPL 3 write", MODE_32, LEAF, RW, 0, 3, 0, 0, false, V_WRITE, PRIVILEGE },
    { "32-bit: read-only PTE, CPL 0 write, WP=0", MODE_32, LEAF, RW, 0, 0, 0, 0, false, V_WRITE, OK },
    { "32-bit: read-only PDE, CPL 0 write, WP=1", MODE_32, 0, RW, 0, 0, CR0_WP, 0, false, V_WRITE, PRIVILEGE },
    { "32-bit: user page, CPL 0 execute, SMEP", MODE_32, LEAF, 0, 0, 0, 0, CR4_SMEP, false, V_EXEC, PRIVILEGE },
    { "32-bit: execute with NXE=1 (no XD bit)", MODE_32, LEAF, 0, 0, 3, 0, 0, false, V_EXEC, OK },
};

TEST(guest_walk_access_rights_table)
{
    for (size_t i = 0; i < sizeof rights_cases / sizeof rights_cases[0]; i++) {
        const struct rights_case *c = &rights_cases[i];
        struct fixture x = fixture_new(c->mode, P | RW | US);
        entry_edit(&x.t, &x.p, c->level, c->clear, c->set);
        x.s.cpl = c->cpl;
        x.s.cr0 |= c->cr0_extra;
        x.s.cr4 |= c->cr4_extra;
        if (c->mode == MODE_32 || !c->nxe_off)
            x.s.efer |= EFER_NXE;
        else
            x.s.efer &= ~EFER_NXE;
        uint64_t gpa = 0x77;
        int got = translate(&x, c->flags, &gpa);
        if (got != c->want)
            printf("#   rights case: %s\n", c->name);
        CHECK_EQ(got, c->want);
        CHECK_EQ(gpa, got == OK ? STANDARD_GPA | 0x234 : 0x77);
        fixture_free(&x);
    }
}

/* ---- reserved bits ---- */

struct reserved_case {
    const char *name;
    enum mode mode;
    unsigned page_shift;
    int level;
    uint64_t set;
    uint32_t maxphyaddr;
    int want;
};

static const struct reserved_case reserved_cases[] = {
    { "4-level PTE bit 45 (address, M=46)", MODE_4L, 12, LEAF, BIT(45), 46, OK },
    { "4-level PTE bit 46 (M=46)", MODE_4L, 12, LEAF, BIT(46), 46, INVALID },
    { "4-level PTE bit 51 (M=46)", MODE_4L, 12, LEAF, BIT(51), 46, INVALID },
    { "4-level PTE bit 51 (M=52)", MODE_4L, 12, LEAF, BIT(51), 52, OK },
    { "4-level PTE bits 62:52 ignored", MODE_4L, 12, LEAF, 0x7FF0000000000000ull, 46, OK },
    { "4-level PML4E bit 40 (M=39)", MODE_4L, 12, 0, BIT(40), 39, INVALID },
    { "4-level PML4E PS", MODE_4L, 12, 0, PS, 46, INVALID },
    { "4-level PDPTE bit 50 (M=46)", MODE_4L, 12, 1, BIT(50), 46, INVALID },
    { "4-level PDE bit 47 (M=46)", MODE_4L, 12, 2, BIT(47), 46, INVALID },
    { "4-level 1 GiB page bit 13", MODE_4L, 30, LEAF, BIT(13), 46, INVALID },
    { "4-level 1 GiB page bit 29", MODE_4L, 30, LEAF, BIT(29), 46, INVALID },
    { "4-level 1 GiB page PAT (bit 12)", MODE_4L, 30, LEAF, BIT(12), 46, OK },
    { "4-level 2 MiB page bit 13", MODE_4L, 21, LEAF, BIT(13), 46, INVALID },
    { "4-level 2 MiB page bit 20", MODE_4L, 21, LEAF, BIT(20), 46, INVALID },
    { "4-level 2 MiB page PAT (bit 12)", MODE_4L, 21, LEAF, BIT(12), 46, OK },
    { "5-level PML5E PS", MODE_5L, 12, 0, PS, 46, INVALID },
    { "5-level PML5E bit 46 (M=46)", MODE_5L, 12, 0, BIT(46), 46, INVALID },
    { "PAE PTE bit 62 (M=46)", MODE_PAE, 12, LEAF, BIT(62), 46, INVALID },
    { "PAE PTE bit 52 (M=46)", MODE_PAE, 12, LEAF, BIT(52), 46, INVALID },
    { "PAE PDE bit 40 (M=36)", MODE_PAE, 12, 1, BIT(40), 36, INVALID },
    { "PAE 2 MiB page bit 13", MODE_PAE, 21, LEAF, BIT(13), 46, INVALID },
    { "PAE 2 MiB page PAT (bit 12)", MODE_PAE, 21, LEAF, BIT(12), 46, OK },
    { "PAE PDPTE bit 1", MODE_PAE, 12, 0, BIT(1), 46, INVALID },
    { "PAE PDPTE bit 2", MODE_PAE, 12, 0, BIT(2), 46, INVALID },
    { "PAE PDPTE bit 5", MODE_PAE, 12, 0, BIT(5), 46, INVALID },
    { "PAE PDPTE bit 8", MODE_PAE, 12, 0, BIT(8), 46, INVALID },
    { "PAE PDPTE bit 63 (NXE=1)", MODE_PAE, 12, 0, BIT(63), 46, INVALID },
    { "PAE PDPTE bits 3, 4 (PWT, PCD)", MODE_PAE, 12, 0, PWT | PCD, 46, OK },
    { "PAE PDPTE bits 11:9 ignored", MODE_PAE, 12, 0, 0xE00, 46, OK },
    { "32-bit 4 MiB page bit 21", MODE_32, 22, LEAF, BIT(21), 46, INVALID },
    { "32-bit 4 MiB page bit 20 (M=46, PSE-36 reaches 40)", MODE_32, 22, LEAF, BIT(20), 46, OK },
    { "32-bit 4 MiB page bit 17 (M=36)", MODE_32, 22, LEAF, BIT(17), 36, INVALID },
    { "32-bit 4 MiB page bit 16 (M=36: address bit 35)", MODE_32, 22, LEAF, BIT(16), 36, OK },
    { "32-bit 4 MiB page PAT (bit 12)", MODE_32, 22, LEAF, BIT(12), 36, OK },
};

TEST(guest_walk_reserved_bits_table)
{
    for (size_t i = 0; i < sizeof reserved_cases / sizeof reserved_cases[0]; i++) {
        const struct reserved_case *c = &reserved_cases[i];
        struct fake_mem *f = fake_new();
        struct tables t = tables_new(f, c->mode);
        uint64_t gva = standard_gva[c->mode];
        struct path p = map_page(&t, gva, 0, c->page_shift, P | RW | US);
        entry_edit(&t, &p, c->level, 0, c->set);
        struct guest_paging_state s = state_for(&t);
        s.maxphyaddr = c->maxphyaddr;
        uint64_t gpa;
        int got = guest_translate(&f->api, &s, gva, V_READ, &gpa);
        if (got != c->want)
            printf("#   reserved case: %s\n", c->name);
        CHECK_EQ(got, c->want);
        free(f);
    }
}

TEST(guest_walk_large_page_address_bits)
{
    struct fake_mem *f = fake_new();
    struct tables t = tables_new(f, MODE_32);
    struct path p = map_page(&t, 0x00C00000ull, 0, 22, P);
    struct guest_paging_state s = state_for(&t);
    s.maxphyaddr = 36;
    uint64_t gpa = 0;
    entry_edit(&t, &p, LEAF, 0, BIT(16) | BIT(13) | BIT(12));   /* address bits 35, 32; PAT */
    CHECK_EQ(guest_translate(&f->api, &s, 0x00C12345ull, 0, &gpa), OK);
    CHECK_EQ(gpa, 0x900012345ull);
    free(f);
}

/* ---- paging structures outside readable guest memory ---- */

TEST(guest_walk_structure_in_unmapped_or_unreadable_gpa)
{
    for (enum mode mode = MODE_32; mode <= MODE_5L; mode++) {
        for (unsigned level = 0; level < shapes[mode].levels; level++) {
            struct fixture x = fixture_new(mode, P | RW | US);
            uint64_t gpa = 0x77;
            fake_find(x.f, x.p.entry[level])->readable = false;
            CHECK_EQ(translate(&x, 0, &gpa), NO_READ);
            fake_unmap(x.f, x.p.entry[level]);
            CHECK_EQ(translate(&x, 0, &gpa), UNMAPPED);
            CHECK_EQ(gpa, 0x77);
            fixture_free(&x);
        }
    }
}

TEST(guest_walk_final_gpa_need_not_be_mapped)
{
    struct fixture x = fixture_new(MODE_4L, P | RW | US);
    uint64_t gpa = 0;
    CHECK(fake_find(x.f, STANDARD_GPA) == NULL);
    CHECK_EQ(translate(&x, V_READ | V_WRITE | V_EXEC, &gpa), OK);
    CHECK_EQ(gpa, STANDARD_GPA | 0x234);
    fixture_free(&x);
}

/* ---- accessed and dirty flags ---- */

static uint64_t path_entry(struct fixture *x, unsigned i)
{
    return entry_get(x->f, x->p.entry[i], shapes[x->t.mode].entry_size);
}

TEST(guest_walk_no_page_table_bits_without_the_flag)
{
    struct fixture x = fixture_new(MODE_4L, P | RW | US);
    uint64_t gpa;
    CHECK_EQ(translate(&x, V_READ | V_WRITE | V_EXEC, &gpa), OK);
    for (unsigned i = 0; i < x.p.n; i++)
        CHECK_EQ(path_entry(&x, i) & (A | D), 0);
    CHECK_EQ(x.f->writes, 0);
    fixture_free(&x);
}

TEST(guest_walk_sets_accessed_and_dirty_on_request)
{
    for (enum mode mode = MODE_32; mode <= MODE_5L; mode++) {
        struct fixture x = fixture_new(mode, P | RW | US);
        uint64_t before[5], gpa;
        for (unsigned i = 0; i < x.p.n; i++)
            before[i] = path_entry(&x, i);
        unsigned first = mode == MODE_PAE ? 1 : 0;   /* a PAE PDPTE has no accessed flag */
        CHECK_EQ(translate(&x, V_READ | SET_BITS, &gpa), OK);
        for (unsigned i = 0; i < x.p.n; i++)
            CHECK_EQ(path_entry(&x, i), before[i] | (i >= first ? A : 0));
        CHECK_EQ(x.f->writes, x.p.n - first);
        CHECK_EQ(translate(&x, V_WRITE | SET_BITS, &gpa), OK);
        CHECK_EQ(path_entry(&x, x.p.n - 1), before[x.p.n - 1] | A | D);
        for (unsigned i = 0; i + 1 < x.p.n; i++)
            CHECK_EQ(path_entry(&x, i) & D, 0);
        CHECK_EQ(x.f->writes, x.p.n - first + 1);
        /* Everything set already: nothing to store. */
        CHECK_EQ(translate(&x, V_WRITE | V_READ | SET_BITS, &gpa), OK);
        CHECK_EQ(x.f->writes, x.p.n - first + 1);
        fixture_free(&x);
    }
}

TEST(guest_walk_dirty_goes_to_the_large_page_entry)
{
    static const struct { enum mode mode; unsigned page_shift; } cases[] = {
        { MODE_32, 22 }, { MODE_PAE, 21 }, { MODE_4L, 21 }, { MODE_4L, 30 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_mem *f = fake_new();
        struct tables t = tables_new(f, cases[i].mode);
        uint64_t gva = standard_gva[cases[i].mode];
        struct path p = map_page(&t, gva, 0, cases[i].page_shift, P | RW);
        struct guest_paging_state s = state_for(&t);
        uint64_t gpa;
        unsigned size = shapes[cases[i].mode].entry_size;
        CHECK_EQ(guest_translate(&f->api, &s, gva, V_WRITE | SET_BITS, &gpa), OK);
        CHECK_EQ(entry_get(f, p.entry[p.n - 1], size) & (A | D), A | D);
        for (unsigned level = 0; level + 1 < p.n; level++)
            CHECK_EQ(entry_get(f, p.entry[level], size) & D, 0);
        free(f);
    }
}

TEST(guest_walk_no_page_table_bits_on_failure)
{
    struct fixture x = fixture_new(MODE_4L, P | US);
    uint64_t gpa;
    x.s.cr0 |= CR0_WP;
    CHECK_EQ(translate(&x, V_WRITE | SET_BITS, &gpa), PRIVILEGE);
    entry_edit(&x.t, &x.p, LEAF, P, 0);
    CHECK_EQ(translate(&x, V_READ | SET_BITS, &gpa), NOT_PRESENT);
    CHECK_EQ(x.f->writes, 0);
    fixture_free(&x);
}

TEST(guest_walk_page_table_bits_in_read_only_gpa)
{
    struct fixture x = fixture_new(MODE_4L, P | RW | US);
    uint64_t gpa = 0x77;
    fake_find(x.f, x.p.entry[3])->writable = false;   /* the page table */
    CHECK_EQ(translate(&x, V_READ, &gpa), OK);
    CHECK_EQ(translate(&x, V_READ | SET_BITS, &gpa), NO_WRITE);
    /* The levels above were updated before the page table refused. */
    CHECK_EQ(path_entry(&x, 2) & A, A);
    CHECK_EQ(path_entry(&x, 3) & A, 0);
    entry_edit(&x.t, &x.p, LEAF, 0, A);   /* once A is there, no store is needed */
    CHECK_EQ(translate(&x, V_READ | SET_BITS, &gpa), OK);
    fixture_free(&x);
}

/* ---- instruction fetch ---- */

#define CODE_GVA 0x0000000000400000ull   /* 4-level: two code pages, then one not present */
#define CODE_GPA_A 0x50000ull
#define CODE_GPA_B 0x91000ull            /* not adjacent: the bytes must come from each page's GPA */

static struct fixture code_fixture(void)
{
    struct fixture x = { .f = fake_new(), .gva = CODE_GVA };
    x.t = tables_new(x.f, MODE_4L);
    map_page(&x.t, CODE_GVA, CODE_GPA_A, 12, P | US);
    x.p = map_page(&x.t, CODE_GVA + PAGE, CODE_GPA_B, 12, P | US);
    fill_code(x.f, CODE_GPA_A, 1);
    fill_code(x.f, CODE_GPA_B, 2);
    x.s = state_for(&x.t);
    x.s.cpl = 3;
    return x;
}

static uint32_t fetch64(struct fixture *x, uint64_t rip, uint8_t out[16])
{
    memset(out, 0xCC, 16);
    return guest_fetch_instruction(&x->f->api, &x->s, 0, rip, true, out);
}

/* out[0..count) are the bytes at gpa_a + offset_a (up to the page end), then at gpa_b; the rest zero. */
static void check_bytes(const uint8_t out[16], uint32_t count, uint64_t first_gpa, uint8_t first_seed,
                        uint64_t second_gpa, uint8_t second_seed)
{
    uint32_t in_first = (uint32_t)(PAGE - (first_gpa & (PAGE - 1)));
    for (uint32_t i = 0; i < 16; i++) {
        uint8_t want = i >= count ? 0
                     : i < in_first ? code_byte(first_gpa + i, first_seed)
                     : code_byte(second_gpa + (i - in_first), second_seed);
        CHECK_EQ(out[i], want);
    }
}

TEST(guest_walk_fetch_within_a_page)
{
    struct fixture x = code_fixture();
    uint8_t out[16];
    CHECK_EQ(fetch64(&x, CODE_GVA + 0x123, out), 16);
    check_bytes(out, 16, CODE_GPA_A + 0x123, 1, 0, 0);
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE - 16, out), 16);   /* ends exactly at the boundary */
    check_bytes(out, 16, CODE_GPA_A + PAGE - 16, 1, 0, 0);
    CHECK_EQ(x.f->writes, 0);   /* a fetch sets no accessed flags */
    fixture_free(&x);
}

TEST(guest_walk_fetch_across_a_page_boundary)
{
    struct fixture x = code_fixture();
    uint8_t out[16];
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE - 5, out), 16);
    check_bytes(out, 16, CODE_GPA_A + PAGE - 5, 1, CODE_GPA_B, 2);
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE - 1, out), 16);
    check_bytes(out, 16, CODE_GPA_A + PAGE - 1, 1, CODE_GPA_B, 2);
    fixture_free(&x);
}

TEST(guest_walk_fetch_stops_where_the_next_page_fails)
{
    static const struct { const char *name; uint64_t clear, set; bool unmap_gpa; } cases[] = {
        { "not present", P, 0, false },
        { "supervisor at CPL 3", US, 0, false },
        { "XD", 0, XD, false },
        { "reserved bit", 0, BIT(50), false },
        { "GPA unmapped", 0, 0, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fixture x = code_fixture();
        uint8_t out[16];
        entry_edit(&x.t, &x.p, LEAF, cases[i].clear, cases[i].set);
        if (cases[i].unmap_gpa)
            fake_unmap(x.f, CODE_GPA_B);
        uint32_t n = fetch64(&x, CODE_GVA + PAGE - 5, out);
        if (n != 5)
            printf("#   fetch case: %s\n", cases[i].name);
        CHECK_EQ(n, 5);
        check_bytes(out, n, CODE_GPA_A + PAGE - 5, 1, 0, 0);
        CHECK_EQ(fetch64(&x, CODE_GVA + PAGE + 3, out), 0);   /* starting on that page */
        check_bytes(out, 0, 0, 0, 0, 0);
        fixture_free(&x);
    }
}

TEST(guest_walk_fetch_unreadable_gpa_and_cpl)
{
    struct fixture x = code_fixture();
    uint8_t out[16];
    fake_find(x.f, CODE_GPA_B)->readable = false;
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE - 2, out), 2);
    /* Supervisor code at CPL 3 does not fetch; at CPL 0 it does. */
    entry_edit(&x.t, &x.p, LEAF, US, 0);
    fake_find(x.f, CODE_GPA_B)->readable = true;
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE + 8, out), 0);
    x.s.cpl = 0;
    CHECK_EQ(fetch64(&x, CODE_GVA + PAGE + 8, out), 16);
    check_bytes(out, 16, CODE_GPA_B + 8, 2, 0, 0);
    fixture_free(&x);
}

TEST(guest_walk_fetch_real_mode_across_a_page)
{
    struct fake_mem *f = fake_new();
    struct guest_paging_state s = { .maxphyaddr = 36 };
    uint8_t out[16];
    fill_code(f, 0x10000, 3);
    fill_code(f, 0x11000, 3);
    /* CS base 0x10000, IP 0xFFF: linear 0x10FFF; bytes 1..15 come from 0x11000. */
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0x10000, 0xFFF, false, out), 16);
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ(out[i], code_byte(0x10FFF + i, 3));
    fake_unmap(f, 0x11000);
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0x10000, 0xFFF, false, out), 1);
    CHECK_EQ(out[0], code_byte(0x10FFF, 3));
    CHECK_EQ(out[1], 0);
    /* IP past 0xFFFF does not wrap to 0 within the segment, and with A20 on linear addresses above
     * 1 MiB do not wrap either. */
    fill_code(f, 0x10F000, 4);
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0xFFFF0, 0xFFF8, false, out), 16);
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ(out[i], code_byte(0x10FFE8 + i, 4));
    CHECK_EQ(f->crossing_accesses, 0);
    free(f);
}

TEST(guest_walk_fetch_wraps_at_4_gib_outside_64_bit_mode)
{
    struct fake_mem *f = fake_new();
    struct guest_paging_state s = { .cr0 = CR0_PE, .maxphyaddr = 36 };
    uint8_t out[16];
    fill_code(f, 0xFFFFF000, 5);
    fill_code(f, 0x0, 6);
    /* CS base + EIP overflows 32 bits: only the low 32 bits count. */
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0xFFFFF000, 0xFF8, false, out), 16);
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ(out[i], i < 8 ? code_byte(0xFFFFFFF8 + i, 5) : code_byte(i - 8, 6));
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0x100000000ull, 0x10, false, out), 16);
    CHECK_EQ(out[0], code_byte(0x10, 6));
    free(f);
}

TEST(guest_walk_fetch_compatibility_mode_uses_cs_base)
{
    struct fixture x = code_fixture();
    uint8_t out[16];
    /* 4-level paging, 32-bit code segment: linear = CS.base + EIP. */
    CHECK_EQ(guest_fetch_instruction(&x.f->api, &x.s, CODE_GVA, 0x20, false, out), 16);
    check_bytes(out, 16, CODE_GPA_A + 0x20, 1, 0, 0);
    /* 64-bit mode: the CS base counts as 0. */
    CHECK_EQ(guest_fetch_instruction(&x.f->api, &x.s, 0x7000, CODE_GVA + 0x20, true, out), 16);
    check_bytes(out, 16, CODE_GPA_A + 0x20, 1, 0, 0);
    fixture_free(&x);
}

TEST(guest_walk_fetch_compatibility_mode_wraps_at_4_gib)
{
    struct fake_mem *f = fake_new();
    struct tables t = tables_new(f, MODE_4L);
    map_page(&t, 0xFFFFF000ull, 0x61000, 12, P | US);
    map_page(&t, 0x0, 0x62000, 12, P | US);
    map_page(&t, 0x100000000ull, 0x63000, 12, P | US);   /* what a fetch without the wrap would reach */
    fill_code(f, 0x61000, 10);
    fill_code(f, 0x62000, 11);
    fill_code(f, 0x63000, 12);
    struct guest_paging_state s = state_for(&t);
    uint8_t out[16];
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0xFFFFF000ull, 0xFFC, false, out), 16);
    check_bytes(out, 16, 0x61FFC, 10, 0x62000, 11);
    free(f);
}

TEST(guest_walk_fetch_stops_at_the_canonical_boundary)
{
    struct fake_mem *f = fake_new();
    struct tables t = tables_new(f, MODE_4L);
    map_page(&t, 0x00007FFFFFFFF000ull, 0x60000, 12, P | US);
    fill_code(f, 0x60000, 7);
    struct guest_paging_state s = state_for(&t);
    uint8_t out[16];
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0, 0x00007FFFFFFFFFF8ull, true, out), 8);
    CHECK_EQ(out[7], code_byte(0x60FFF, 7));
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0, 0x0000800000000000ull, true, out), 0);
    free(f);
}

TEST(guest_walk_fetch_32bit_paging_4m_page)
{
    struct fake_mem *f = fake_new();
    struct tables t = tables_new(f, MODE_32);
    map_page(&t, 0x00400000ull, 0x00800000ull, 22, P);
    fill_code(f, 0x00801000ull, 8);
    fill_code(f, 0x00802000ull, 9);
    struct guest_paging_state s = state_for(&t);
    uint8_t out[16];
    CHECK_EQ(guest_fetch_instruction(&f->api, &s, 0x00400000ull, 0x1FFA, false, out), 16);
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ(out[i], i < 6 ? code_byte(0x00801FFAull + i, 8) : code_byte(0x00802000ull + i - 6, 9));
    free(f);
}

/* ---- randomized 4-/5-level walks against a reference walker ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static bool chance(unsigned percent)
{
    return rng() % 100 < percent;
}

/* The reference: the SDM's 4-/5-level walk (4.5, 4.6, 4.8) written out on the fake's pages directly. */
static int ref_translate(struct fake_mem *f, const struct guest_paging_state *s, uint64_t gva,
                         unsigned flags, uint64_t *gpa)
{
    int levels = (s->cr4 & CR4_LA57) ? 5 : 4;
    int width = 12 + 9 * levels;
    if ((uint64_t)((int64_t)(gva << (64 - width)) >> (64 - width)) != gva)
        return NOT_PRESENT;
    uint64_t frame_mask = ((1ull << s->maxphyaddr) - 1) & ~0xFFFull;
    uint64_t reserved = ((1ull << 52) - 1) & ~((1ull << s->maxphyaddr) - 1);
    if (!(s->efer & EFER_NXE))
        reserved |= XD;
    uint64_t table = s->cr3 & frame_mask, where[5], value[5], final = 0;
    bool user = true, writable = true, no_exec = false;
    int used = 0;
    for (int level = levels; level >= 1; level--) {
        int shift = 12 + 9 * (level - 1);
        uint64_t at = table + 8 * ((gva >> shift) & 511);
        struct fake_page *pg = fake_find(f, at);
        if (!pg)
            return UNMAPPED;
        if (!pg->readable)
            return NO_READ;
        uint64_t e;
        memcpy(&e, pg->bytes + (at & 0xFFF), 8);
        if (!(e & P))
            return NOT_PRESENT;
        bool large = (e & PS) && level > 1;
        if ((e & reserved) || (large && level > 3) || (large && (e & ((1ull << shift) - 1) & ~0x1FFFull)))
            return INVALID;
        where[used] = at;
        value[used++] = e;
        user = user && (e & US);
        writable = writable && (e & RW);
        no_exec = no_exec || (e & XD);
        if (level == 1 || large) {
            final = (e & frame_mask & ~((1ull << shift) - 1)) | (gva & ((1ull << shift) - 1));
            break;
        }
        table = e & frame_mask;
    }
    bool supervisor = s->cpl < 3 || (flags & EXEMPT);
    if ((flags & (V_READ | V_WRITE | V_EXEC)) && !supervisor && !user)
        return PRIVILEGE;
    if ((flags & V_WRITE) && !writable && (!supervisor || (s->cr0 & CR0_WP)))
        return PRIVILEGE;
    if ((flags & V_EXEC) && (no_exec || (supervisor && user && (s->cr4 & CR4_SMEP))))
        return PRIVILEGE;
    for (int i = 0; (flags & SET_BITS) && i < used; i++) {
        uint64_t want = A | ((flags & V_WRITE) && i == used - 1 ? D : 0);
        if ((value[i] & want) == want)
            continue;
        struct fake_page *pg = fake_find(f, where[i]);
        if (!pg->writable)
            return NO_WRITE;
        pg->bytes[where[i] & 0xFFF] |= (uint8_t)want;
    }
    *gpa = final;
    return OK;
}

/* Byte by byte: each byte's translation with ValidateExecute, then its read. */
static uint32_t ref_fetch(struct fake_mem *f, const struct guest_paging_state *s, uint64_t rip, uint8_t out[16])
{
    uint32_t n = 0;
    for (; n < 16; n++) {
        uint64_t gpa;
        if (ref_translate(f, s, rip + n, V_EXEC, &gpa) != OK)
            break;
        struct fake_page *pg = fake_find(f, gpa);
        if (!pg || !pg->readable)
            break;
        out[n] = pg->bytes[gpa & 0xFFF];
    }
    memset(out + n, 0, 16 - n);
    return n;
}

#define RANDOM_TABLES 12
#define RANDOM_READ_ONLY_TABLE 10
#define RANDOM_UNREADABLE_TABLE 11
#define RANDOM_DATA_BASE 0x800000ull
#define RANDOM_DATA_PAGES 4

static const unsigned hot_indices[] = { 0, 1, 2, 255, 256, 510, 511 };
#define HOT_COUNT (sizeof hot_indices / sizeof hot_indices[0])

/* Where a random entry points: mostly a table page, else a data page, an unmapped GPA, a 2 MiB or
 * 1 GiB aligned GPA, or somewhere near the top of the physical-address range. */
static uint64_t random_target(void)
{
    unsigned pick = (unsigned)(rng() % 100);
    if (pick < 65)
        return TABLES_BASE + PAGE * (rng() % RANDOM_TABLES);
    if (pick < 82)
        return RANDOM_DATA_BASE + PAGE * (rng() % RANDOM_DATA_PAGES);
    if (pick < 87)
        return 0x900000ull;
    if (pick < 92)
        return 2 * MIB * (rng() % 8);
    if (pick < 97)
        return GIB * (rng() % 4);
    return (1ull << (36 + rng() % 16)) | RANDOM_DATA_BASE;
}

static uint64_t random_entry(void)
{
    uint64_t e = random_target();
    e |= chance(94) ? P : 0;
    e |= chance(80) ? RW : 0;
    e |= chance(80) ? US : 0;
    e |= chance(8) ? XD : 0;
    e |= chance(30) ? A : 0;
    e |= chance(30) ? D : 0;
    e |= chance(12) ? PS : 0;
    e |= chance(10) ? PWT | PCD | BIT(8) | BIT(11) : 0;   /* G, ignored */
    e |= chance(10) ? (rng() & 0x7FF) << 52 : 0;          /* ignored (4-/5-level) */
    e |= chance(4) ? BIT(12 + rng() % 18) : 0;            /* PAT or a large page's reserved bits */
    return e;
}

static void random_tables(struct fake_mem *f)
{
    for (unsigned i = 0; i < RANDOM_TABLES; i++) {
        struct fake_page *pg = fake_map(f, fake_new_table(f));
        for (unsigned k = 0; k < HOT_COUNT; k++)
            memcpy(pg->bytes + 8 * hot_indices[k], &(uint64_t){ random_entry() }, 8);
        memcpy(pg->bytes + 8 * (rng() % 512), &(uint64_t){ random_entry() }, 8);
    }
    fake_find(f, TABLES_BASE + PAGE * RANDOM_READ_ONLY_TABLE)->writable = false;
    fake_find(f, TABLES_BASE + PAGE * RANDOM_UNREADABLE_TABLE)->readable = false;
    for (unsigned i = 0; i < RANDOM_DATA_PAGES; i++) {
        struct fake_page *pg = fake_map(f, RANDOM_DATA_BASE + PAGE * i);
        for (unsigned b = 0; b < PAGE; b++)
            pg->bytes[b] = (uint8_t)rng();
    }
}

static struct guest_paging_state random_state(void)
{
    static const uint32_t widths[] = { 36, 39, 46, 52 };
    struct guest_paging_state s = {
        .cr0 = CR0_PE | CR0_PG | (chance(50) ? CR0_WP : 0),
        .cr3 = TABLES_BASE + PAGE * (rng() % 3) + (chance(30) ? PWT | PCD : 0),
        .cr4 = CR4_PAE | (chance(25) ? CR4_LA57 : 0) | (chance(40) ? CR4_SMEP : 0),
        .efer = EFER_LME | EFER_LMA | (chance(70) ? EFER_NXE : 0),
        .cpl = chance(50) ? 3 : (unsigned)(rng() % 3),
        .maxphyaddr = widths[rng() % 4],
    };
    return s;
}

/* Mostly indices that the tables fill, sign-extended; sometimes not canonical. */
static uint64_t random_gva(const struct guest_paging_state *s)
{
    int levels = (s->cr4 & CR4_LA57) ? 5 : 4;
    int width = 12 + 9 * levels;
    uint64_t gva = rng() & 0xFFF;
    for (int level = 0; level < levels; level++) {
        uint64_t index = chance(95) ? hot_indices[rng() % HOT_COUNT] : rng() % 512;
        gva |= index << (12 + 9 * level);
    }
    gva = (uint64_t)((int64_t)(gva << (64 - width)) >> (64 - width));
    return chance(3) ? gva ^ BIT(width + rng() % (64 - width)) : gva;
}

static bool same_tables(struct fake_mem *a, struct fake_mem *b)
{
    for (unsigned i = 0; i < RANDOM_TABLES; i++) {
        uint64_t gpa = TABLES_BASE + PAGE * i;
        if (memcmp(fake_find(a, gpa)->bytes, fake_find(b, gpa)->bytes, PAGE))
            return false;
    }
    return true;
}

TEST(guest_walk_random_against_reference)
{
    unsigned outcomes[9] = { 0 };
    unsigned fetch_lengths[17] = { 0 };
    for (unsigned round = 0; round < 100; round++) {
        struct fake_mem *f = fake_new();
        random_tables(f);
        struct fake_mem *ref = fake_clone(f);
        for (unsigned n = 0; n < 400; n++) {
            struct guest_paging_state s = random_state();
            uint64_t gva = random_gva(&s);
            unsigned flags = (unsigned)(rng() % 32);
            uint64_t gpa = 0x77, ref_gpa = 0x77;
            int got = guest_translate(&f->api, &s, gva, flags, &gpa);
            int want = ref_translate(ref, &s, gva, flags, &ref_gpa);
            CHECK_EQ(got, want);
            CHECK_EQ(gpa, ref_gpa);
            outcomes[want]++;

            uint64_t rip = (gva & ~0xFFFull) | (0xFF0 + rng() % 16);
            uint8_t out[16], ref_out[16];
            uint32_t count = guest_fetch_instruction(&f->api, &s, 0x1234, rip, true, out);
            uint32_t ref_count = ref_fetch(ref, &s, rip, ref_out);
            CHECK_EQ(count, ref_count);
            CHECK(memcmp(out, ref_out, 16) == 0);
            fetch_lengths[count]++;
            if (!same_tables(f, ref)) {
                CHECK(!"page tables differ from the reference's");
                break;
            }
        }
        CHECK_EQ(f->crossing_accesses, 0);
        free(ref);
        free(f);
    }
    /* The generator reaches every outcome and partial fetches. */
    static const int expected[] = { OK, NOT_PRESENT, PRIVILEGE, INVALID, UNMAPPED, NO_READ, NO_WRITE };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK(outcomes[expected[i]] > 0);
    unsigned partial = 0;
    for (unsigned n = 1; n < 16; n++)
        partial += fetch_lengths[n];
    CHECK(partial > 0 && fetch_lengths[16] > 0 && fetch_lengths[0] > 0);
}
