/* Guest page walks and instruction fetch (rules: vmx/guest_walk.h). Section numbers are those of the
 * Intel SDM vol. 3, chapter 4 (Paging). */
#include "vmx/guest_walk.h"
#include "arch/x86/string.h"

#define RESULT_SUCCESS WHvTranslateGvaResultSuccess
#define RESULT_NOT_PRESENT WHvTranslateGvaResultPageNotPresent
#define RESULT_PRIVILEGE WHvTranslateGvaResultPrivilegeViolation
#define RESULT_RESERVED WHvTranslateGvaResultInvalidPageTableFlags

#define FLAG_READ WHvTranslateGvaFlagValidateRead
#define FLAG_WRITE WHvTranslateGvaFlagValidateWrite
#define FLAG_EXECUTE WHvTranslateGvaFlagValidateExecute
#define FLAG_EXEMPT WHvTranslateGvaFlagPrivilegeExempt
#define FLAG_SET_BITS WHvTranslateGvaFlagSetPageTableBits
#define FLAGS_VALIDATE (FLAG_READ | FLAG_WRITE | FLAG_EXECUTE)

_Static_assert((int)GUEST_MEM_OK == (int)RESULT_SUCCESS, "a successful read is a successful walk step");

/* Control bits (2.5, 2.2.1). */
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Paging-structure entry bits (Tables 4-4..4-6, 4-8..4-11, 4-14..4-20). */
#define ENTRY_P (1ull << 0)
#define ENTRY_RW (1ull << 1)
#define ENTRY_US (1ull << 2)
#define ENTRY_A (1ull << 5)
#define ENTRY_D (1ull << 6)
#define ENTRY_PS (1ull << 7)
#define ENTRY_XD (1ull << 63)

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_OFFSET (PAGE_SIZE - 1)
#define ADDRESS_32 0xFFFFFFFFull
#define MAX_LEVELS 5

/* Table 4-1. */
enum paging_mode { PAGING_NONE, PAGING_32BIT, PAGING_PAE, PAGING_4LEVEL, PAGING_5LEVEL };

/* One translation in progress: the entries it used (for A/D, 4.8), the rights they combine to (4.6)
 * and the page it reached. */
struct walk {
    const struct guest_memory *m;
    const struct guest_paging_state *s;
    uint64_t la;
    uint64_t entry_gpa[MAX_LEVELS];
    uint64_t entry[MAX_LEVELS];
    unsigned used;
    bool user, writable, execute_disabled;
    uint64_t gpa;
};

static uint64_t bits_below(unsigned n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* Bits hi..lo inclusive; empty when hi < lo. */
static uint64_t bit_range(unsigned hi, unsigned lo)
{
    return hi < lo ? 0 : bits_below(hi + 1) & ~bits_below(lo);
}

static enum paging_mode paging_mode(const struct guest_paging_state *s)
{
    if (!(s->cr0 & CR0_PG))
        return PAGING_NONE;
    if (!(s->cr4 & CR4_PAE))
        return PAGING_32BIT;
    if (!(s->efer & EFER_LMA))
        return PAGING_PAE;
    return (s->cr4 & CR4_LA57) ? PAGING_5LEVEL : PAGING_4LEVEL;
}

/* 4.5: bits 63:47 (63:56 with 5-level paging) all equal to the top translated bit. */
static bool canonical(uint64_t la, unsigned linear_bits)
{
    uint64_t high = la >> (linear_bits - 1);
    return high == 0 || high == (~0ull >> (linear_bits - 1));
}

/* ---- reading entries ---- */

/* Entries are naturally aligned, so one read never crosses a page. x86 is little-endian, so the
 * bytes land in the low part of *value. */
static int read_entry(const struct walk *w, uint64_t gpa, uint32_t size, uint64_t *value)
{
    *value = 0;
    return w->m->read(w->m->ctx, gpa, value, size);
}

/* Records an entry that passed its checks and folds its rights into the walk's (4.6). */
static void use_entry(struct walk *w, uint64_t gpa, uint64_t entry)
{
    w->entry_gpa[w->used] = gpa;
    w->entry[w->used] = entry;
    w->used++;
    w->user &= (entry & ENTRY_US) != 0;
    w->writable &= (entry & ENTRY_RW) != 0;
    w->execute_disabled |= (entry & ENTRY_XD) != 0;   /* set only when NXE = 1: else reserved */
}

/* ---- 32-bit paging (4.3) ---- */

/* Table 4-4: with PSE-36, PDE bits (M-20):13 hold address bits (M-1):32 where M = min(MAXPHYADDR, 40);
 * bits 21:(M-19) are reserved. */
static uint64_t pse_4m_reserved(const struct guest_paging_state *s)
{
    unsigned m = s->maxphyaddr < 40 ? s->maxphyaddr : 40;
    return bit_range(21, m - 19);
}

static uint64_t pse_4m_base(uint64_t pde)
{
    return (pde & 0xFFC00000ull) | ((pde >> 13) & 0xFFull) << 32;
}

static int walk_32bit(struct walk *w)
{
    uint64_t pde_gpa = (w->s->cr3 & 0xFFFFF000ull) + ((w->la >> 22) & 0x3FF) * 4;
    uint64_t pde, pte;
    int r = read_entry(w, pde_gpa, 4, &pde);
    if (r)
        return r;
    if (!(pde & ENTRY_P))
        return RESULT_NOT_PRESENT;
    if ((w->s->cr4 & CR4_PSE) && (pde & ENTRY_PS)) {
        if (pde & pse_4m_reserved(w->s))
            return RESULT_RESERVED;
        use_entry(w, pde_gpa, pde);
        w->gpa = pse_4m_base(pde) | (w->la & 0x3FFFFFull);
        return RESULT_SUCCESS;
    }
    use_entry(w, pde_gpa, pde);
    uint64_t pte_gpa = (pde & 0xFFFFF000ull) + ((w->la >> PAGE_SHIFT) & 0x3FF) * 4;
    r = read_entry(w, pte_gpa, 4, &pte);
    if (r)
        return r;
    if (!(pte & ENTRY_P))
        return RESULT_NOT_PRESENT;
    use_entry(w, pte_gpa, pte);
    w->gpa = (pte & 0xFFFFF000ull) | (w->la & PAGE_OFFSET);
    return RESULT_SUCCESS;
}

/* ---- PAE and 4-/5-level paging: 8-byte entries (4.4, 4.5) ---- */

/* Level 1 is the page table, 2 the page directory, 3 the PDPT, 4 the PML4, 5 the PML5. */
static unsigned level_shift(unsigned level)
{
    return PAGE_SHIFT + 9 * (level - 1);
}

static uint64_t address_field(const struct guest_paging_state *s)
{
    return bit_range(s->maxphyaddr - 1, PAGE_SHIFT);
}

/* Reserved in every present entry: address bits from MAXPHYADDR up (to bit 62 with PAE paging, Tables
 * 4-9..4-11; to bit 51 with 4-/5-level paging, where 62:52 are ignored, Tables 4-14..4-20), and XD
 * when EFER.NXE = 0. */
static uint64_t reserved_in_every_entry(const struct guest_paging_state *s, enum paging_mode mode)
{
    uint64_t rsvd = bit_range(mode == PAGING_PAE ? 62 : 51, s->maxphyaddr);
    if (!(s->efer & EFER_NXE))
        rsvd |= ENTRY_XD;
    return rsvd;
}

/* Also reserved: PS in a PML4E/PML5E, and in an entry mapping a 2 MiB or 1 GiB page the bits between
 * the PAT bit (12) and the page address (20:13, 29:13). */
static uint64_t reserved_at_level(unsigned level, uint64_t entry)
{
    if (level >= 4)
        return ENTRY_PS;
    if (level > 1 && (entry & ENTRY_PS))
        return bit_range(level_shift(level) - 1, 13);
    return 0;
}

static bool maps_page(unsigned level, uint64_t entry)
{
    return level == 1 || (entry & ENTRY_PS);
}

/* Walks from the table at `table` (a structure of level `level`) down to the page. */
static int walk_8byte(struct walk *w, enum paging_mode mode, uint64_t table, unsigned level)
{
    uint64_t always_reserved = reserved_in_every_entry(w->s, mode);
    for (;; level--) {
        uint64_t gpa = table + ((w->la >> level_shift(level)) & 0x1FF) * 8;
        uint64_t entry;
        int r = read_entry(w, gpa, 8, &entry);
        if (r)
            return r;
        if (!(entry & ENTRY_P))
            return RESULT_NOT_PRESENT;
        if (entry & (always_reserved | reserved_at_level(level, entry)))
            return RESULT_RESERVED;
        use_entry(w, gpa, entry);
        uint64_t address = entry & address_field(w->s);
        if (maps_page(level, entry)) {
            uint64_t offset = bits_below(level_shift(level));
            w->gpa = (address & ~offset) | (w->la & offset);
            return RESULT_SUCCESS;
        }
        table = address;
    }
}

/* 4.4.1, Table 4-8: a PDPTE has no A, R/W, U/S or XD bit; bits 2:1, 8:5 and 63:MAXPHYADDR are reserved.
 * It is not recorded in the walk: it grants every right and has no accessed flag. */
static int walk_pae(struct walk *w)
{
    uint64_t pdpte_gpa = (w->s->cr3 & 0xFFFFFFE0ull) + ((w->la >> 30) & 3) * 8;
    uint64_t pdpte;
    int r = read_entry(w, pdpte_gpa, 8, &pdpte);
    if (r)
        return r;
    if (!(pdpte & ENTRY_P))
        return RESULT_NOT_PRESENT;
    if (pdpte & (bit_range(63, w->s->maxphyaddr) | bit_range(8, 5) | bit_range(2, 1)))
        return RESULT_RESERVED;
    return walk_8byte(w, PAGING_PAE, pdpte & address_field(w->s), 2);
}

/* 4.5.2: CR3 bits (MAXPHYADDR-1):12 locate the PML4 (PML5); bits 11:0 are flags or the PCID. */
static int walk_long(struct walk *w, enum paging_mode mode)
{
    unsigned levels = mode == PAGING_5LEVEL ? 5 : 4;
    if (!canonical(w->la, level_shift(levels) + 9))
        return RESULT_NOT_PRESENT;
    return walk_8byte(w, mode, w->s->cr3 & address_field(w->s), levels);
}

static int walk(struct walk *w, enum paging_mode mode)
{
    switch (mode) {
    case PAGING_32BIT:
        return walk_32bit(w);
    case PAGING_PAE:
        return walk_pae(w);
    default:
        return walk_long(w, mode);
    }
}

/* ---- access rights (4.6) and accessed/dirty flags (4.8) ---- */

static bool access_allowed(const struct walk *w, unsigned flags)
{
    bool user_mode = w->s->cpl == 3 && !(flags & FLAG_EXEMPT);
    bool write_protect = user_mode || (w->s->cr0 & CR0_WP);
    if (user_mode && (flags & FLAGS_VALIDATE) && !w->user)
        return false;
    if ((flags & FLAG_WRITE) && write_protect && !w->writable)
        return false;
    if ((flags & FLAG_EXECUTE) && w->execute_disabled)
        return false;
    if ((flags & FLAG_EXECUTE) && !user_mode && (w->s->cr4 & CR4_SMEP) && w->user)
        return false;
    return true;
}

/* A in every entry used, root first; D in the last one (it maps the page) for a write. The flags live
 * in bits 7:0, so only that byte is stored. */
static int set_accessed_dirty(const struct walk *w, bool write)
{
    for (unsigned i = 0; i < w->used; i++) {
        uint64_t want = ENTRY_A | (write && i == w->used - 1 ? ENTRY_D : 0);
        if ((w->entry[i] & want) == want)
            continue;
        uint8_t low = (uint8_t)(w->entry[i] | want);
        int r = w->m->write(w->m->ctx, w->entry_gpa[i], &low, 1);
        if (r)
            return r;
    }
    return RESULT_SUCCESS;
}

int guest_translate(const struct guest_memory *m, const struct guest_paging_state *s, uint64_t gva,
                    unsigned flags, uint64_t *gpa)
{
    enum paging_mode mode = paging_mode(s);
    if (mode == PAGING_NONE) {      /* before the walk's state is built: the instruction fetch's common case */
        *gpa = gva & ADDRESS_32;
        return RESULT_SUCCESS;
    }
    bool long_paging = mode == PAGING_4LEVEL || mode == PAGING_5LEVEL;
    struct walk w = { .m = m, .s = s, .la = long_paging ? gva : gva & ADDRESS_32,
                      .user = true, .writable = true };
    int r = walk(&w, mode);
    if (r)
        return r;
    if (!access_allowed(&w, flags))
        return RESULT_PRIVILEGE;
    if (flags & FLAG_SET_BITS) {
        r = set_accessed_dirty(&w, (flags & FLAG_WRITE) != 0);
        if (r)
            return r;
    }
    *gpa = w.gpa;
    return RESULT_SUCCESS;
}

/* ---- instruction fetch ---- */

uint32_t guest_fetch_instruction(const struct guest_memory *m, const struct guest_paging_state *s,
                                 uint64_t cs_base, uint64_t rip, bool long_mode,
                                 uint8_t out[GUEST_FETCH_MAX])
{
    uint64_t start = long_mode ? rip : cs_base + rip;
    uint32_t count = 0;
    while (count < GUEST_FETCH_MAX) {
        uint64_t la = long_mode ? start + count : (start + count) & ADDRESS_32;
        uint32_t chunk = (uint32_t)(PAGE_SIZE - (la & PAGE_OFFSET));
        if (chunk > GUEST_FETCH_MAX - count)
            chunk = GUEST_FETCH_MAX - count;
        uint64_t gpa;
        if (guest_translate(m, s, la, FLAG_EXECUTE, &gpa) != RESULT_SUCCESS)
            break;
        if (m->read(m->ctx, gpa, out + count, chunk) != GUEST_MEM_OK)
            break;
        count += chunk;
    }
    if (count < GUEST_FETCH_MAX)
        memset(out + count, 0, GUEST_FETCH_MAX - count);
    return count;
}
