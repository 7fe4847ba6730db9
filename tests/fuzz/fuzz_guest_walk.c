/* Fuzzes the guest page walk and instruction fetch (vmx/guest_walk.c) over random guest page tables in
 * fake guest memory: 32 pages at GPA 0..0x1FFFF, each read-write, read-only, mapped without read access
 * or unmapped (the EPT / GPA-map view the walker's guest_memory gives), in every paging mode (none,
 * 32-bit with and without PSE, PAE, 4- and 5-level), at any CPL, with CR0.WP, EFER.NXE, CR4.SMEP and
 * MAXPHYADDR 36..52 from the input.
 *
 * The input is a state header and then commands: build a chain of paging-structure entries for an
 * address (each entry's flags, reserved bits and next table from the input), store raw bytes, change a
 * page's permissions, translate an address with any WHV_TRANSLATE_GVA_FLAGS, fetch instruction bytes.
 * Every translate and fetch is compared with a reference walker written here from the SDM (vol. 3
 * chapter 4) and the rules of vmx/guest_walk.h: the result code, the GPA, the exact accessed/dirty
 * stores (and nothing stored without SetPageTableBits or on a failed walk), *gpa untouched on failure,
 * the fetched bytes and their count (<= 16, the rest zeroed). The memory callbacks also check the
 * contract that no access crosses a 4 KiB page and that entries are read whole and aligned. */
#include <string.h>
#include "fuzz.h"
#include "vmx/guest_walk.h"

#define PAGE 0x1000ull
#define NPAGES 32
#define MAX_LOG 64

#define F_READ WHvTranslateGvaFlagValidateRead
#define F_WRITE WHvTranslateGvaFlagValidateWrite
#define F_EXEC WHvTranslateGvaFlagValidateExecute
#define F_EXEMPT WHvTranslateGvaFlagPrivilegeExempt
#define F_SET WHvTranslateGvaFlagSetPageTableBits

#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define A (1ull << 5)
#define D (1ull << 6)
#define PS (1ull << 7)
#define XD (1ull << 63)

enum perm { PERM_RW, PERM_RO, PERM_NONE, PERM_UNMAPPED };
enum mode { MODE_NONE, MODE_32, MODE_PAE, MODE_4, MODE_5 };

struct access {
    uint64_t gpa;
    uint32_t len;
    uint8_t byte;   /* writes: the byte stored */
};

struct mem {
    uint8_t bytes[NPAGES][PAGE];
    uint8_t perm[NPAGES];
    bool logging;
    unsigned n_reads, n_writes;
    struct access reads[MAX_LOG], writes[MAX_LOG];
};

static struct mem mem;   /* 128 KiB: static, reset per input */

static int page_status(uint64_t gpa, bool write)
{
    uint64_t page = gpa / PAGE;
    if (page >= NPAGES || mem.perm[page] == PERM_UNMAPPED)
        return GUEST_MEM_UNMAPPED;
    if (write)
        return mem.perm[page] == PERM_RW ? GUEST_MEM_OK : GUEST_MEM_NO_WRITE;
    return mem.perm[page] == PERM_NONE ? GUEST_MEM_NO_READ : GUEST_MEM_OK;
}

static void contract(uint64_t gpa, uint32_t len, const char *what)
{
    FUZZ_CHECK(len >= 1 && len <= GUEST_FETCH_MAX && (gpa % PAGE) + len <= PAGE,
               "%s of %u bytes at 0x%llx crosses a page or has a bad length", what, len, (unsigned long long)gpa);
}

static int mem_read(void *ctx, uint64_t gpa, void *buf, uint32_t len)
{
    (void)ctx;
    contract(gpa, len, "read");
    if (mem.logging) {
        FUZZ_CHECK(mem.n_reads < MAX_LOG, "too many reads in one call");
        mem.reads[mem.n_reads++] = (struct access){ gpa, len, 0 };
    }
    int status = page_status(gpa, false);
    if (status == GUEST_MEM_OK)
        memcpy(buf, &mem.bytes[gpa / PAGE][gpa % PAGE], len);
    return status;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len)
{
    (void)ctx;
    contract(gpa, len, "write");
    FUZZ_CHECK(len == 1, "an accessed/dirty update stores one byte, not %u", len);
    FUZZ_CHECK(mem.n_writes < MAX_LOG, "too many writes in one call");
    mem.writes[mem.n_writes++] = (struct access){ gpa, len, *(const uint8_t *)buf };
    int status = page_status(gpa, true);
    if (status == GUEST_MEM_OK)
        memcpy(&mem.bytes[gpa / PAGE][gpa % PAGE], buf, len);
    return status;
}

static const struct guest_memory memory = { 0, mem_read, mem_write };

/* ---- the reference walker ---- */

static uint64_t bits(unsigned hi, unsigned lo)   /* hi..lo inclusive, empty when hi < lo */
{
    if (hi < lo)
        return 0;
    uint64_t top = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return top & ~((1ull << lo) - 1);
}

static enum mode mode_of(const struct guest_paging_state *s)
{
    if (!(s->cr0 & CR0_PG))
        return MODE_NONE;
    if (!(s->cr4 & CR4_PAE))
        return MODE_32;
    if (!(s->efer & EFER_LMA))
        return MODE_PAE;
    return (s->cr4 & CR4_LA57) ? MODE_5 : MODE_4;
}

static int ref_read(uint64_t gpa, unsigned len, uint64_t *v)
{
    *v = 0;
    int status = page_status(gpa, false);
    if (status == GUEST_MEM_OK)
        memcpy(v, &mem.bytes[gpa / PAGE][gpa % PAGE], len);
    return status;
}

struct ref {
    int code;
    uint64_t gpa;
    unsigned n_writes;
    struct access writes[MAX_LOG];
};

struct used {
    uint64_t gpa[6], entry[6];
    unsigned n;
};

static void use(struct used *u, uint64_t gpa, uint64_t entry)
{
    u->gpa[u->n] = gpa;
    u->entry[u->n++] = entry;
}

/* The walk alone: the code (Success with *gpa set) and the entries that carry rights and A bits. */
static int ref_walk(const struct guest_paging_state *s, enum mode mode, uint64_t la, struct used *u, uint64_t *gpa)
{
    unsigned m = s->maxphyaddr;
    uint64_t addr_mask = bits(m - 1, 12), e, slot;
    int r;
    if (mode == MODE_32) {
        slot = (s->cr3 & 0xFFFFF000ull) | ((la >> 22) & 0x3FF) << 2;
        if ((r = ref_read(slot, 4, &e)))
            return r;
        if (!(e & P))
            return WHvTranslateGvaResultPageNotPresent;
        if ((s->cr4 & CR4_PSE) && (e & PS)) {
            unsigned high = (m < 40 ? m : 40) - 32;   /* PSE-36: PDE bits 13.. hold address bits 32.. */
            if (e & bits(21, 13 + high))
                return WHvTranslateGvaResultInvalidPageTableFlags;
            use(u, slot, e);
            *gpa = (e & 0xFFC00000ull) | ((e >> 13) & bits(high - 1, 0)) << 32 | (la & 0x3FFFFF);
            return 0;
        }
        use(u, slot, e);
        slot = (e & 0xFFFFF000ull) | ((la >> 12) & 0x3FF) << 2;
        if ((r = ref_read(slot, 4, &e)))
            return r;
        if (!(e & P))
            return WHvTranslateGvaResultPageNotPresent;
        use(u, slot, e);
        *gpa = (e & 0xFFFFF000ull) | (la & 0xFFF);
        return 0;
    }
    uint64_t table;
    unsigned level;
    if (mode == MODE_PAE) {
        slot = (s->cr3 & 0xFFFFFFE0ull) + ((la >> 30) & 3) * 8;
        if ((r = ref_read(slot, 8, &e)))
            return r;
        if (!(e & P))
            return WHvTranslateGvaResultPageNotPresent;
        if (e & (bits(63, m) | bits(8, 5) | bits(2, 1)))
            return WHvTranslateGvaResultInvalidPageTableFlags;
        table = e & addr_mask;
        level = 2;
    } else {
        level = mode == MODE_5 ? 5 : 4;
        unsigned top = 12 + 9 * level - 1;   /* the highest translated bit: 47 or 56 */
        uint64_t high = la >> top;
        if (high != 0 && high != (~0ull >> top))
            return WHvTranslateGvaResultPageNotPresent;
        table = s->cr3 & addr_mask;
    }
    for (;; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        slot = table + ((la >> shift) & 0x1FF) * 8;
        if ((r = ref_read(slot, 8, &e)))
            return r;
        if (!(e & P))
            return WHvTranslateGvaResultPageNotPresent;
        uint64_t reserved = bits(mode == MODE_PAE ? 62 : 51, m);
        if (!(s->efer & EFER_NXE))
            reserved |= XD;
        if (level >= 4)
            reserved |= PS;
        bool leaf = level == 1 || (e & PS);
        if (leaf && level > 1)
            reserved |= bits(shift - 1, 13);
        if (e & reserved)
            return WHvTranslateGvaResultInvalidPageTableFlags;
        use(u, slot, e);
        if (leaf) {
            *gpa = (e & addr_mask & ~bits(shift - 1, 0)) | (la & bits(shift - 1, 0));
            return 0;
        }
        table = e & addr_mask;
    }
}

static struct ref ref_translate(const struct guest_paging_state *s, uint64_t gva, unsigned flags)
{
    struct ref out = { 0, 0, 0, { { 0, 0, 0 } } };
    enum mode mode = mode_of(s);
    uint64_t la = mode == MODE_4 || mode == MODE_5 ? gva : gva & 0xFFFFFFFFull;
    if (mode == MODE_NONE) {
        out.gpa = la;
        return out;
    }
    struct used u = { { 0 }, { 0 }, 0 };
    uint64_t gpa = 0;
    out.code = ref_walk(s, mode, la, &u, &gpa);
    if (out.code)
        return out;
    bool user = true, writable = true, xd = false;
    for (unsigned i = 0; i < u.n; i++) {
        user = user && (u.entry[i] & US);
        writable = writable && (u.entry[i] & RW);
        xd = xd || ((s->efer & EFER_NXE) && (u.entry[i] & XD));
    }
    bool user_mode = s->cpl == 3 && !(flags & F_EXEMPT);
    bool denied = (user_mode && (flags & (F_READ | F_WRITE | F_EXEC)) && !user) ||
                  ((flags & F_WRITE) && (user_mode || (s->cr0 & CR0_WP)) && !writable) ||
                  ((flags & F_EXEC) && xd) ||
                  ((flags & F_EXEC) && !user_mode && (s->cr4 & CR4_SMEP) && user);
    if (denied) {
        out.code = WHvTranslateGvaResultPrivilegeViolation;
        return out;
    }
    if (flags & F_SET) {
        for (unsigned i = 0; i < u.n; i++) {
            uint64_t want = A | ((flags & F_WRITE) && i == u.n - 1 ? D : 0);
            if ((u.entry[i] & want) == want)
                continue;
            out.writes[out.n_writes++] = (struct access){ u.gpa[i], 1, (uint8_t)(u.entry[i] | want) };
            if (page_status(u.gpa[i], true)) {
                out.code = page_status(u.gpa[i], true);
                return out;
            }
        }
    }
    out.gpa = gpa;
    return out;
}

/* ---- checks ---- */

#define SENTINEL 0x5EA7ED5EA7ED5EA7ull

static void check_translate(const struct guest_paging_state *s, uint64_t gva, unsigned flags)
{
    struct ref want = ref_translate(s, gva, flags);
    uint64_t gpa = SENTINEL;
    mem.n_reads = mem.n_writes = 0;
    mem.logging = true;
    int got = guest_translate(&memory, s, gva, flags, &gpa);
    mem.logging = false;
    enum mode mode = mode_of(s);
    FUZZ_CHECK(got == want.code, "translate 0x%llx flags 0x%x mode %d: result %d, reference %d",
               (unsigned long long)gva, flags, mode, got, want.code);
    if (got == 0) {
        FUZZ_CHECK(gpa == want.gpa, "translate 0x%llx: gpa 0x%llx, reference 0x%llx", (unsigned long long)gva,
                   (unsigned long long)gpa, (unsigned long long)want.gpa);
        FUZZ_CHECK((gpa & 0xFFF) == (gva & 0xFFF), "page offset changed");
        unsigned limit = mode == MODE_NONE || mode == MODE_32 ? 32 : s->maxphyaddr;
        if (mode == MODE_32 && (s->cr4 & CR4_PSE))
            limit = s->maxphyaddr < 40 ? s->maxphyaddr : 40;
        FUZZ_CHECK(gpa >> limit == 0, "gpa 0x%llx beyond %u bits", (unsigned long long)gpa, limit);
    } else {
        FUZZ_CHECK(gpa == SENTINEL, "*gpa written on failure %d", got);
    }
    FUZZ_CHECK(mem.n_writes == want.n_writes, "translate 0x%llx flags 0x%x: %u stores, reference %u",
               (unsigned long long)gva, flags, mem.n_writes, want.n_writes);
    for (unsigned i = 0; i < mem.n_writes; i++)
        FUZZ_CHECK(mem.writes[i].gpa == want.writes[i].gpa && mem.writes[i].byte == want.writes[i].byte,
                   "store %u: 0x%02x at 0x%llx, reference 0x%02x at 0x%llx", i, mem.writes[i].byte,
                   (unsigned long long)mem.writes[i].gpa, want.writes[i].byte,
                   (unsigned long long)want.writes[i].gpa);
    unsigned entry = mode == MODE_32 ? 4 : 8;
    for (unsigned i = 0; i < mem.n_reads; i++)
        FUZZ_CHECK(mem.reads[i].len == entry && mem.reads[i].gpa % entry == 0, "entry read of %u bytes at 0x%llx",
                   mem.reads[i].len, (unsigned long long)mem.reads[i].gpa);
    FUZZ_CHECK(mem.n_reads <= 5, "%u entry reads for one walk", mem.n_reads);
}

static void check_fetch(const struct guest_paging_state *s, uint64_t cs_base, uint64_t rip, bool long_mode)
{
    uint8_t want[GUEST_FETCH_MAX] = { 0 }, got[GUEST_FETCH_MAX];
    uint32_t want_count = 0;
    uint64_t start = long_mode ? rip : cs_base + rip;
    for (; want_count < GUEST_FETCH_MAX; want_count++) {
        uint64_t la = long_mode ? start + want_count : (start + want_count) & 0xFFFFFFFFull;
        struct ref r = ref_translate(s, la, F_EXEC);
        uint64_t byte;
        if (r.code || ref_read(r.gpa, 1, &byte))
            break;
        want[want_count] = (uint8_t)byte;
    }
    memset(got, 0xAA, sizeof got);
    mem.n_writes = 0;
    uint32_t count = guest_fetch_instruction(&memory, s, cs_base, rip, long_mode, got);
    FUZZ_CHECK(mem.n_writes == 0, "a fetch stored to guest memory");
    FUZZ_CHECK(count == want_count, "fetch at 0x%llx:0x%llx (long %d): %u bytes, reference %u",
               (unsigned long long)cs_base, (unsigned long long)rip, long_mode, count, want_count);
    FUZZ_CHECK(memcmp(got, want, sizeof got) == 0, "fetched bytes differ from the reference (or a tail not zeroed)");
}

/* ---- building guest state and page tables from the input ---- */

/* Writes a chain of entries for `la` in the current mode: each entry's flags and next table from the
 * input, P set unless the input clears it, now and then a reserved bit or a large page. */
static void build_chain(struct fuzz_in *in, const struct guest_paging_state *s, uint64_t la)
{
    enum mode mode = mode_of(s);
    if (mode == MODE_NONE)
        return;
    unsigned size = mode == MODE_32 ? 4 : 8;
    uint64_t table = s->cr3 & ~0xFFFull;
    int level = mode == MODE_32 ? 2 : mode == MODE_PAE ? 3 : mode == MODE_4 ? 4 : 5;
    for (; level >= 1; level--) {
        uint8_t flags = fuzz_u8(in), chaos = fuzz_u8(in), next = fuzz_u8(in) % NPAGES;
        uint64_t slot;
        if (mode == MODE_32)
            slot = table + ((la >> (level == 2 ? 22 : 12)) & 0x3FF) * 4;
        else if (mode == MODE_PAE && level == 3)
            slot = (s->cr3 & 0xFFFFFFE0ull) + ((la >> 30) & 3) * 8;
        else
            slot = table + ((la >> (12 + 9 * (level - 1))) & 0x1FF) * 8;
        uint64_t e = (uint64_t)next << 12 | flags | P;
        if (mode == MODE_PAE && level == 3)
            e = (uint64_t)next << 12 | P;
        bool leaf = level == 1 || ((e & PS) && level <= 3 && !(mode == MODE_PAE && level == 3) &&
                                   (mode != MODE_32 || (s->cr4 & CR4_PSE)));
        if (leaf && level > 1)
            e &= ~bits(12 + 9 * (level - 1) - 1, 12) | 0xFFF;   /* a large page at 0: it covers our memory */
        if (chaos & 1)
            e &= ~P;
        if ((chaos & 6) == 6 && size == 8)
            e |= 1ull << (chaos >> 3 | 32);   /* a high bit: reserved above MAXPHYADDR, or XD, or ignored */
        if ((chaos & 6) == 2)
            e |= 1ull << (chaos >> 3 & 0x1F);
        memcpy(&mem.bytes[(slot / PAGE) % NPAGES][slot % PAGE], &e, size);
        if (leaf)
            return;
        table = (uint64_t)next << 12;
    }
}

static uint64_t address_near(struct fuzz_in *in, uint64_t base)
{
    uint8_t how = fuzz_u8(in);
    switch (how & 3) {
    case 0: return base;
    case 1: return base + (int8_t)fuzz_u8(in) * PAGE + (how >> 2);
    case 2: return (base & ~0xFFFull) + 0x1000 - 1 - (how >> 2);   /* the last bytes of a page */
    default: return fuzz_u64(in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = fuzz_in(data, size);
    memset(&mem, 0, sizeof mem);
    for (unsigned i = 0; i < NPAGES; i++)
        mem.perm[i] = PERM_RW;

    uint8_t m = fuzz_u8(&in), c = fuzz_u8(&in);
    struct guest_paging_state s = { 0, 0, 0, 0, 0, 0 };
    static const enum mode modes[8] = { MODE_NONE, MODE_32, MODE_32, MODE_PAE, MODE_4, MODE_4, MODE_5, MODE_4 };
    enum mode mode = modes[m & 7];
    s.cr0 = (mode != MODE_NONE ? CR0_PG | 1 : 0) | ((m & 8) ? CR0_WP : 0);
    s.cr4 = ((m & 0x10) ? CR4_PSE : 0) | (mode >= MODE_PAE ? CR4_PAE : 0) | (mode == MODE_5 ? CR4_LA57 : 0) |
            ((m & 0x20) ? CR4_SMEP : 0);
    s.efer = (mode >= MODE_4 ? EFER_LMA : 0) | ((m & 0x40) ? EFER_NXE : 0);
    s.cpl = c & 3;
    s.maxphyaddr = 36 + (c >> 2) % 17;
    s.cr3 = (uint64_t)(fuzz_u8(&in) % NPAGES) << 12 | fuzz_u16(&in) % PAGE;
    if (m & 0x80)
        s.cr3 |= fuzz_u64(&in) & ~0xFFFFFull;   /* bits beyond the memory: masked or unmapped */
    uint64_t base = fuzz_u64(&in);
    if (mode != MODE_4 && mode != MODE_5)
        base &= 0xFFFFFFFFull;
    else if (!(c & 0x80))
        base = (uint64_t)((int64_t)(base << 16) >> 16);   /* canonical for 4-level */

    while (fuzz_more(&in)) {
        uint8_t op = fuzz_u8(&in);
        switch (op % 6) {
        case 0:
        case 1:
            build_chain(&in, &s, address_near(&in, base));
            break;
        case 2: {
            uint8_t page = fuzz_u8(&in) % NPAGES;
            uint16_t at = fuzz_u16(&in) % PAGE & ~7u;
            uint64_t v = fuzz_u64(&in);
            memcpy(&mem.bytes[page][at], &v, 8);
            break;
        }
        case 3: {
            uint8_t page = fuzz_u8(&in);
            mem.perm[page % NPAGES] = page / NPAGES % 4;
            break;
        }
        case 4:
            check_translate(&s, address_near(&in, base), fuzz_u8(&in) & 0x1F);
            break;
        default: {
            bool long_mode = (mode == MODE_4 || mode == MODE_5) && !(op & 0x80);
            uint64_t cs_base = long_mode || !(op & 0x40) ? 0 : fuzz_u32(&in);
            check_fetch(&s, cs_base, address_near(&in, base) - cs_base, long_mode);
        }
        }
    }
    for (unsigned flags = 0; flags < 0x20; flags += 1)
        check_translate(&s, base, flags);
    check_fetch(&s, 0, base, mode == MODE_4 || mode == MODE_5);
    return 0;
}
