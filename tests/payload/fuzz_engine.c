/* The fuzzer's engine (tests/payload/fuzz.h, docs/fuzzing.md). A run is a sequence of cases; case K of
 * seed S is generated from its own PRNG state (xorshift64* seeded from S and K), so any case can be run
 * again alone. A case is a list of steps, each one hypercall:
 *
 *   - lifecycle cases: a valid WHV sequence (create, properties, setup, maps, VPs, registers, guest code,
 *     runs, cancel, guest memory access, translation, unmap, deletes), sometimes two partitions
 *     interleaved, with exactly one mutation: one field corrupted (a block GPA in hypervisor memory, MMIO,
 *     beyond RAM, unaligned or straddling; a forged or stale handle; a VP index out of range; a huge,
 *     zero or unaligned size; an overlapping map or one sourced from hypervisor memory; an invalid
 *     register name or value; a count out of range; an unknown call code), or one step moved, doubled
 *     or added (a cancel at an odd moment, a call after a delete);
 *   - burst cases: a valid prefix, then random calls (random codes, known and unknown, random blocks
 *     with random or structured contents).
 *
 * Steps name partitions by slot, not by id, and the executor derives every expected status from its
 * reference model of the partitions (mirroring the hypervisor's documented order of checks), so a case
 * with steps removed still has exact expectations: that is what the minimizer relies on. After each
 * case every partition it left is deleted and the pool must be back where it was. */
#include <stdarg.h>
#include "api/hv_abi.h"
#include "api/hv_transport.h"
#include "api/whv_platform.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "tests/payload/fuzz.h"

#define PAGE 4096ull
#define WINDOW_PAGES 256          /* the child GPA window the model tracks: [0, 1 MiB) */
#define CODE_GPA 0x1000ull
#define MAX_STEPS 96
#define SLOTS 2
#define EXP_ANY 0xFFFFFFFFu       /* the model cannot say */
#define EXP_FAIL 0xFFFFFFFEu      /* any status but success */
#define GPA_LIMIT (1ull << 48)
/* ExtendedVmExits bits every version implements (CPUID, MSR, exception, RDTSC, hypercall exits). */
#define EXT_EXITS_VALID_MASK 0x2Full
#define EXT_EXIT_EXCEPTION_BIT 4ull

/* ---- PRNG: xorshift64* (never the firmware's RNG) */

struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}
static uint64_t below(struct rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }
static int chance(struct rng *r, unsigned percent) { return below(r, 100) < percent; }

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static struct rng case_rng(uint64_t seed, uint64_t index)
{
    struct rng r = { splitmix(seed ^ splitmix(index + 1)) };
    if (!r.s)
        r.s = 1;
    return r;
}

/* ---- steps */

enum op {
    OP_CREATE, OP_DELETE, OP_SETUP, OP_SET_PROP, OP_GET_PROP, OP_MAP, OP_UNMAP, OP_CREATE_VP, OP_DELETE_VP,
    OP_SET_REGS, OP_GET_REGS, OP_WRITE_GPA, OP_READ_GPA, OP_TRANSLATE, OP_RUN, OP_CANCEL, OP_INFO, OP_RAW,
    OP_RUN_REGS,                      /* ABI 1.3 SET_REGISTERS_AND_RUN_VP: a Run in every respect, plus writes */
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "CREATE_PARTITION", "DELETE_PARTITION", "SETUP_PARTITION", "SET_PARTITION_PROPERTY",
    "GET_PARTITION_PROPERTY", "MAP_GPA_RANGE", "UNMAP_GPA_RANGE", "CREATE_VP", "DELETE_VP", "SET_VP_REGISTERS",
    "GET_VP_REGISTERS", "WRITE_GPA", "READ_GPA", "TRANSLATE_GVA", "RUN_VP", "CANCEL_RUN_VP", "INFO", "RAW",
    "SET_REGISTERS_AND_RUN_VP",
};
static const uint16_t op_codes[OP_COUNT] = {
    HVCALL_CREATE_PARTITION, HVCALL_DELETE_PARTITION, HVCALL_SETUP_PARTITION, HVCALL_SET_PARTITION_PROPERTY,
    HVCALL_GET_PARTITION_PROPERTY, HVCALL_MAP_GPA_RANGE, HVCALL_UNMAP_GPA_RANGE, HVCALL_CREATE_VP,
    HVCALL_DELETE_VP, HVCALL_SET_VP_REGISTERS, HVCALL_GET_VP_REGISTERS, HVCALL_WRITE_GPA, HVCALL_READ_GPA,
    HVCALL_TRANSLATE_GVA, HVCALL_RUN_VP, HVCALL_CANCEL_RUN_VP, HVCALL_GET_VERSION, 0,
    HVCALL_SET_REGISTERS_AND_RUN_VP,
};

/* RUN_VP and SET_REGISTERS_AND_RUN_VP: the watchdog, the exit checks and the cancel model apply to both. */
static int is_run(uint8_t op) { return op == OP_RUN || op == OP_RUN_REGS; }
static int is_run_code(uint64_t code) { return code == HVCALL_RUN_VP || code == HVCALL_SET_REGISTERS_AND_RUN_VP; }

/* The one corrupted field of a step. */
enum corrupt { C_NONE, C_IN_BLOCK, C_OUT_BLOCK, C_ID_FORGED, C_ID_STALE, C_VP, C_CODE, C_FIELD };
static const char *const corrupt_names[] = { "", "in-block", "out-block", "forged-id", "stale-id", "vp-index",
                                             "code", "field" };

struct step {
    uint8_t op, corrupt, slot, whv;   /* whv: through the WHV library instead of a raw hypercall */
    uint32_t sub;                     /* op-specific variant; for C_FIELD, which field */
    uint32_t vp;
    uint64_t a, b, c;                 /* op-specific parameters */
    uint64_t bad;                     /* the corrupted value (a block GPA, an id, a code) */
    uint64_t seed;                    /* contents (register values, guest bytes, random blocks) */
};

/* ---- the reference model */

enum slot_state { S_NONE, S_CREATED, S_READY, S_DELETED };

struct mslot {
    enum slot_state state;
    int exact;                        /* 0 after random calls touched it: only invariants are checked */
    uint64_t id;
    uint32_t pc;                      /* ProcessorCount */
    uint64_t ext, exc;
    uint32_t ncpuid;
    uint8_t vp[HV_MAX_VPS_PER_PARTITION];
    uint8_t cancel[HV_MAX_VPS_PER_PARTITION];   /* 0 none, 1 pending, 2 maybe (the watchdog fired) */
    uint8_t mapped[WINDOW_PAGES / 8];
};

struct exec {
    const struct fuzz_env *env;
    struct fuzz_result *res;
    struct mslot slot[SLOTS];
    uint64_t extra[32];               /* partitions random calls created: deleted at the end of the case */
    unsigned n_extra;
    int trace, quiet;
    int found;                        /* the first finding of this execution */
    unsigned found_step;
    uint8_t found_op;
    int found_leak;
    char finding[240];
};

static uint64_t stale_ids[16];        /* deleted partitions: their ids must never work again */
static unsigned n_stale;
static uint64_t leaked_partitions;    /* partitions the cleanup could not delete (counted as live) */

static uint64_t max_id_seen, next_scan = 1;   /* for the recovery scan of cleanup() */
static void note_id(uint64_t id)
{
    if (id > max_id_seen && id < (1ull << 32))
        max_id_seen = id;
}

static void remember_stale(uint64_t id)
{
    if (id)
        stale_ids[n_stale++ % 16] = id;
}

static int page_mapped(const struct mslot *s, uint64_t page)
{
    return page < WINDOW_PAGES && (s->mapped[page / 8] >> (page % 8) & 1);
}
static void set_pages(struct mslot *s, uint64_t first, uint64_t count, int on)
{
    for (uint64_t p = first; p < first + count && p < WINDOW_PAGES; p++) {
        if (on) s->mapped[p / 8] |= (uint8_t)(1u << (p % 8));
        else s->mapped[p / 8] &= (uint8_t)~(1u << (p % 8));
    }
}
static int any_mapped(const struct mslot *s, uint64_t gpa, uint64_t size)
{
    for (uint64_t p = gpa / PAGE; p < WINDOW_PAGES && p * PAGE < gpa + size; p++)
        if (page_mapped(s, p))
            return 1;
    return 0;
}
static int all_mapped(const struct mslot *s, uint64_t gpa, uint64_t size)
{
    for (uint64_t p = gpa / PAGE; p * PAGE < gpa + size; p++)
        if (!page_mapped(s, p))
            return 0;
    return 1;
}

static unsigned live_partitions(const struct exec *x)
{
    unsigned n = (unsigned)leaked_partitions + x->n_extra;
    for (int i = 0; i < SLOTS; i++)
        n += x->slot[i].state == S_CREATED || x->slot[i].state == S_READY;
    return n;
}

/* ---- blocks */

static uint8_t *in_block(const struct exec *x) { return (uint8_t *)(uintptr_t)(x->env->blocks + FUZZ_BLOCK_IN); }
static uint8_t *out_block(const struct exec *x) { return (uint8_t *)(uintptr_t)(x->env->blocks + FUZZ_BLOCK_OUT); }

static const uint64_t mmio_addresses[] = { 0xFEC00000ull, 0xFEE00000ull, 0xFED00000ull, 0xFFE00000ull, 0xFFFFF000ull };

/* A block GPA the hypervisor must refuse for `len` bytes, chosen by `pick`; *status is the refusal
 * hv_check_root_block gives. Only pages we own can receive a wrong write: our unaligned blocks, the
 * RAM-edge page and the page below the hypervisor; the rest is not RAM at all. */
static uint64_t bad_block(const struct exec *x, uint64_t pick, uint64_t len, uint32_t *status)
{
    const struct fuzz_env *e = x->env;
    uint64_t kind = pick % 8, r = pick / 8, gpa;
    switch (kind) {
    case 0: gpa = e->blocks + FUZZ_BLOCK_OUT + 8 * (r % 16) + 1 + (r / 16) % 7; break;   /* unaligned */
    case 1: gpa = e->hv_base + ((r * PAGE + (r % 512) * 8) % e->hv_size); break;        /* hypervisor */
    case 2: gpa = mmio_addresses[r % 5]; break;
    case 3: gpa = e->ram_top + (r % 64) * PAGE; break;                                   /* beyond RAM */
    case 4: gpa = (r & 1) ? 1ull << 40 : 0x7FFFFFFFFFFFF000ull; break;
    case 5: gpa = ~0ull - 8 * (r % 4) - 7; break;                                        /* wraps */
    case 6:   /* straddles the end of a RAM range into the hole after it */
        gpa = e->edge_page ? e->edge_page + PAGE - 8 * (len > 8 ? r % (len / 8) : 0) : e->ram_top;
        break;
    default:  /* straddles the start of the hypervisor (read-only blocks unless we own the page below) */
        gpa = e->hv_below_page ? e->hv_base - 8 * (len >= 16 ? 1 + r % (len / 8 - 1) : 0) : e->hv_base;
        break;
    }
    if (gpa % 8) *status = HV_STATUS_INVALID_ALIGNMENT;
    else if (len == 0 || len > HV_MAX_BLOCK_BYTES || gpa > UINT64_MAX - len) *status = HV_STATUS_INVALID_PARAMETER;
    else *status = HV_STATUS_ACCESS_DENIED;
    return gpa;
}

/* ---- registers */

static const uint32_t good_names[] = {
    WHvX64RegisterRax, WHvX64RegisterRcx, WHvX64RegisterRdx, WHvX64RegisterRbx, WHvX64RegisterRsp,
    WHvX64RegisterRbp, WHvX64RegisterRsi, WHvX64RegisterRdi, WHvX64RegisterR8, WHvX64RegisterR15,
    WHvX64RegisterRip, WHvX64RegisterRflags, WHvX64RegisterCs, WHvX64RegisterDs, WHvX64RegisterCr0,
    WHvX64RegisterCr3, WHvX64RegisterCr4, WHvX64RegisterEfer, WHvX64RegisterXmm0, WHvX64RegisterFpControlStatus,
    WHvX64RegisterGdtr, WHvX64RegisterTsc, WHvX64RegisterPat, WHvRegisterInterruptState,
};
static const uint32_t bad_names[] = { 0x7777, 0x5000, 0x40000000, 0xFFFFFFFF, 0x0FFF, 0x3000 };
static const uint32_t chaos_names[] = {
    WHvX64RegisterCr0, WHvX64RegisterCr3, WHvX64RegisterCr4, WHvX64RegisterEfer, WHvX64RegisterCs,
    WHvX64RegisterSs, WHvX64RegisterTr, WHvX64RegisterLdtr, WHvX64RegisterRflags, WHvX64RegisterRip,
    WHvX64RegisterXmmControlStatus, WHvX64RegisterFpControlStatus, WHvRegisterPendingInterruption,
    WHvRegisterInterruptState, WHvX64RegisterDr7, WHvX64RegisterApicBase, WHvX64RegisterPat,
    WHvX64RegisterIdtr, WHvX64RegisterGdtr, WHvX64RegisterCr8,
};

/* A register set: names and values, and whether every value is valid on its own (else EXP_ANY). */
static unsigned build_registers(const struct step *s, uint32_t *names, WHV_REGISTER_VALUE *values, int *exact)
{
    struct rng r = { s->seed | 1 };
    unsigned n = 0;
    *exact = 1;
    memset(values, 0, sizeof(WHV_REGISTER_VALUE) * 8);
    switch (s->sub % 4) {
    case 0:   /* the real-mode start at CODE_GPA */
        names[0] = WHvX64RegisterCs; values[0].Segment.Limit = 0xFFFF; values[0].Segment.Attributes = 0x9B;
        names[1] = WHvX64RegisterRip; values[1].Reg64 = CODE_GPA;
        names[2] = WHvX64RegisterRflags; values[2].Reg64 = 2;
        names[3] = WHvX64RegisterRsp; values[3].Reg64 = 0x8000;
        names[4] = WHvX64RegisterDs; values[4].Segment.Limit = 0xFFFF; values[4].Segment.Attributes = 0x93;
        n = 5;
        break;
    case 1:   /* general-purpose registers: any value is valid */
        n = 1 + (unsigned)below(&r, 8);
        for (unsigned i = 0; i < n; i++) {
            names[i] = (uint32_t)below(&r, 16);
            values[i].Reg64 = rnd(&r);
        }
        break;
    case 2:   /* RIP, RFLAGS, RAX */
        names[0] = WHvX64RegisterRip; values[0].Reg64 = CODE_GPA + below(&r, 16);
        names[1] = WHvX64RegisterRflags; values[1].Reg64 = 2 | (chance(&r, 50) ? 0x200 : 0) | (chance(&r, 20) ? 0x400 : 0);
        names[2] = WHvX64RegisterRax; values[2].Reg64 = rnd(&r);
        n = 3;
        break;
    default:  /* chaos: control registers, segments, FPU state, events with random values */
        n = 1 + (unsigned)below(&r, 6);
        for (unsigned i = 0; i < n; i++) {
            names[i] = chaos_names[below(&r, sizeof chaos_names / sizeof chaos_names[0])];
            values[i].Reg128.Low64 = chance(&r, 50) ? rnd(&r) : rnd(&r) & 0xFFFF;
            values[i].Reg128.High64 = chance(&r, 70) ? 0 : rnd(&r);
        }
        *exact = 0;
        break;
    }
    return n;
}

/* SET_REGISTERS_AND_RUN_VP writes RIP and the GPRs only (hv_run_register_name_ok: names 0..16), and
 * every value of those is valid: a RIP the VP cannot start from is the Run's InvalidVpRegisterValue exit,
 * not a status. Names it must refuse: every other WHV name, and values whose low bits look valid. */
#define RUN_NAMES_MAX (HV_RUN_REGISTERS_MAX + 1)   /* room for the count-18 mutation */
static const uint32_t run_bad_names[] = {
    WHvX64RegisterRflags, WHvX64RegisterCs, WHvX64RegisterCr0, WHvX64RegisterEfer, WHvX64RegisterXmm0,
    WHvRegisterPendingInterruption, 0x7777, 0xFFFFFFFF, 0x80000000, 0x10000, 0x10010, 0x100000FF,
};
#define N_RUN_BAD_NAMES (sizeof run_bad_names / sizeof run_bad_names[0])

static uint64_t run_rip(struct rng *r)
{
    return chance(r, 90) ? CODE_GPA + below(r, 16) : chance(r, 50) ? below(r, 0x10000) : rnd(r);
}

/* The writes of a SET_REGISTERS_AND_RUN_VP step (s->sub picks the set); returns how many. */
static unsigned build_run_registers(const struct step *s, uint32_t *names, uint64_t *values)
{
    struct rng r = { s->seed | 1 };
    unsigned n = 0;
    switch (s->sub % 4) {
    case 0:   /* the VMM loop's writes: RIP back to the code, RAX as an IN leaves it, sometimes more GPRs */
        names[n] = WHvX64RegisterRip; values[n++] = CODE_GPA;
        names[n] = WHvX64RegisterRax; values[n++] = rnd(&r);
        while (n < 5 && chance(&r, 30)) {
            names[n] = (uint32_t)below(&r, 16);
            values[n++] = rnd(&r);
        }
        break;
    case 1:   /* 1..17 names of the set, repeats allowed */
        n = 1 + (unsigned)below(&r, HV_RUN_REGISTERS_MAX);
        for (unsigned i = 0; i < n; i++) {
            names[i] = (uint32_t)below(&r, HV_RUN_REGISTERS_MAX);
            values[i] = names[i] == WHvX64RegisterRip ? run_rip(&r) : rnd(&r);
        }
        break;
    case 2:   /* all 17 once, in a random order */
        n = HV_RUN_REGISTERS_MAX;
        for (unsigned i = 0; i < n; i++)
            names[i] = i;
        for (unsigned i = n - 1; i > 0; i--) {
            unsigned j = (unsigned)below(&r, i + 1);
            uint32_t t = names[i];
            names[i] = names[j];
            names[j] = t;
        }
        for (unsigned i = 0; i < n; i++)
            values[i] = names[i] == WHvX64RegisterRip ? CODE_GPA : names[i] == WHvX64RegisterRsp ? 0x8000 : rnd(&r);
        break;
    default:  /* RIP twice: a wild value first, then the one that counts (the later write wins) */
        names[n] = WHvX64RegisterRip; values[n++] = rnd(&r);
        if (chance(&r, 50)) {
            names[n] = WHvX64RegisterRax;
            values[n++] = rnd(&r);
        }
        names[n] = WHvX64RegisterRip; values[n++] = CODE_GPA + below(&r, 16);
        break;
    }
    return n;
}

/* ---- guest code for CODE_GPA: real mode, CS = 0 */

struct snippet { uint8_t len, bytes[15]; };
static const struct snippet snippets[] = {
    { 1, { 0xF4 } },                                                  /* hlt */
    { 5, { 0xB0, 0x41, 0xE6, 0xE9, 0xF4 } },                           /* mov al, 'A'; out 0xE9, al; hlt */
    { 3, { 0xE4, 0x60, 0xF4 } },                                      /* in al, 0x60; hlt */
    { 6, { 0x66, 0x31, 0xC0, 0x0F, 0xA2, 0xF4 } },                     /* xor eax, eax; cpuid; hlt */
    { 9, { 0xB8, 0x00, 0x20, 0x8E, 0xD8, 0xA0, 0x00, 0x00, 0xF4 } },   /* read GPA 0x20000; hlt */
    { 4, { 0x0F, 0x01, 0xC1, 0xF4 } },                                /* vmcall; hlt */
    { 3, { 0x0F, 0x31, 0xF4 } },                                      /* rdtsc; hlt */
    { 2, { 0x0F, 0x0B } },                                            /* ud2 */
    { 2, { 0xCC, 0xF4 } },                                            /* int3; hlt */
    { 9, { 0x66, 0xB9, 0x10, 0x00, 0x00, 0x00, 0x0F, 0x30, 0xF4 } },   /* wrmsr TSC; hlt */
    { 7, { 0xC6, 0x06, 0x00, 0x10, 0xF4, 0xEB, 0xF9 } },               /* patch own code to hlt, jump to it */
    { 2, { 0xFA, 0xF4 } },                                            /* cli; hlt */
    { 11, { 0x0F, 0x20, 0xC0, 0x66, 0x83, 0xC8, 0x01, 0x0F, 0x22, 0xC0, 0xF4 } },   /* CR0.PE = 1; hlt */
    { 2, { 0xEB, 0xFE } },                                            /* jmp $: the watchdog cancels */
};
#define N_SNIPPETS (sizeof snippets / sizeof snippets[0])

/* ---- describing steps (reproducers and traces) */

static void describe(const struct step *s, char *out, size_t size)
{
    size_t n = fmt_snprintf(out, size, "%s%s slot %u vp %u sub %u a=%llx b=%llx c=%llx", op_names[s->op],
                            s->whv ? " (WHV)" : "", s->slot, s->vp, s->sub, (unsigned long long)s->a,
                            (unsigned long long)s->b, (unsigned long long)s->c);
    if (s->corrupt && n < size)
        fmt_snprintf(out + n, size - n, " corrupt %s=%llx", corrupt_names[s->corrupt], (unsigned long long)s->bad);
}

static void finding(struct exec *x, unsigned index, const struct step *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(struct exec *x, unsigned index, const struct step *s, const char *fmt, ...)
{
    if (x->found)
        return;
    x->found = 1;
    x->found_step = index;
    x->found_op = s ? s->op : OP_COUNT;
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(x->finding, sizeof x->finding, fmt, ap);
    va_end(ap);
}

/* ---- executing one step */

static const uint32_t known_statuses[] = { 0, 2, 3, 4, 5, 6, 7, 8, 9, 0xA, 0xB, 0xD, 0xE, 0x15, 0x33, 0x50,
                                           0x1001, 0x1002 };
static int status_known(uint64_t st)
{
    for (unsigned i = 0; i < sizeof known_statuses / sizeof known_statuses[0]; i++)
        if (st == known_statuses[i])
            return 1;
    return 0;
}

static int exit_reason_known(uint32_t r)
{
    return (r >= 1 && r <= 0xA) || (r >= 0x1000 && r <= 0x1007) || r == WHvRunVpExitReasonCanceled;
}

/* Invalid call codes: below 0x20 but unassigned, far above, or a valid code with high bits set. Codes
 * 0x21..0xFF are left out of exact checks (new calls land there). */
static uint64_t bad_code(uint64_t pick, uint16_t valid)
{
    static const uint64_t codes[] = { 0, 4, 5, 8, 0xF, 0x100, 0x7777, 0xFFFF, 0x10000 };
    return pick % 4 == 0 ? (1ull << 32) | valid : codes[pick % (sizeof codes / sizeof codes[0])];
}

static uint64_t slot_id(const struct exec *x, const struct step *s)
{
    if (s->corrupt == C_ID_FORGED)
        return s->bad;
    if (s->corrupt == C_ID_STALE)
        return s->bad;
    return x->slot[s->slot % SLOTS].id;
}

/* The partition resolves: the slot is live and the id not corrupted. */
static int slot_live(const struct exec *x, const struct step *s)
{
    const struct mslot *m = &x->slot[s->slot % SLOTS];
    return s->corrupt != C_ID_FORGED && s->corrupt != C_ID_STALE && (m->state == S_CREATED || m->state == S_READY);
}

static uint32_t step_vp(const struct step *s) { return s->corrupt == C_VP ? (uint32_t)s->bad : s->vp; }

/* Bytes of the first input read (READ_IN of the handler's struct) and whether the call has an output. */
static uint64_t head_len(uint8_t op)
{
    switch (op) {
    case OP_DELETE: case OP_SETUP: return 8;
    case OP_SET_PROP: case OP_GET_PROP: case OP_CREATE_VP: case OP_DELETE_VP: case OP_RUN: case OP_CANCEL:
    case OP_SET_REGS: case OP_GET_REGS: case OP_RUN_REGS: return 16;
    case OP_MAP: return 40;
    case OP_UNMAP: case OP_TRANSLATE: case OP_READ_GPA: case OP_WRITE_GPA: return 24;
    default: return 0;   /* CREATE, INFO: no input */
    }
}

struct call {
    uint64_t code, in_len, out_len;   /* out_len 0: the call has no output */
    uint32_t expect;                  /* status, EXP_ANY or EXP_FAIL */
};

/* Fills the blocks for step s and says what the model expects. */
static void prepare(struct exec *x, const struct step *s, struct call *c)
{
    const struct fuzz_env *e = x->env;
    struct mslot *m = &x->slot[s->slot % SLOTS];
    uint8_t *in = in_block(x);
    int live = slot_live(x, s);
    uint64_t id = slot_id(x, s);
    uint32_t vp = step_vp(s);
    int vp_ok = live && vp < HV_MAX_VPS_PER_PARTITION && m->vp[vp];
    uint32_t idst = live ? 0 : HV_STATUS_INVALID_PARTITION_ID;
    c->code = op_codes[s->op];
    c->in_len = head_len(s->op);
    c->out_len = 0;
    c->expect = EXP_ANY;
    memset(in, 0, 64);
    switch (s->op) {
    case OP_CREATE:
        c->out_len = 8;
        c->expect = live_partitions(x) < HV_MAX_PARTITIONS ? 0 : HV_STATUS_INSUFFICIENT_MEMORY;
        break;
    case OP_DELETE:
    case OP_SETUP: {
        struct hv_partition_in a = { id };
        memcpy(in, &a, sizeof a);
        c->expect = idst ? idst : s->op == OP_DELETE || m->state == S_CREATED ? 0 : HV_STATUS_INVALID_PARTITION_STATE;
        break;
    }
    case OP_SET_PROP: {
        static const uint32_t codes[] = { WHvPartitionPropertyCodeProcessorCount, WHvPartitionPropertyCodeExtendedVmExits,
                                          WHvPartitionPropertyCodeExceptionExitBitmap,
                                          WHvPartitionPropertyCodeCpuidExitList,
                                          WHvPartitionPropertyCodeLocalApicEmulationMode };
        static const uint32_t natural[] = { 4, 8, 8, 0, 4 };
        unsigned which = s->sub % 5, field = s->corrupt == C_FIELD ? (unsigned)(s->bad % 5) : 9;
        struct hv_property_in a = { id, codes[which], natural[which] };
        uint64_t v = s->a;
        uint32_t st = 0;
        if (which == 0) v = 1 + s->a % HV_MAX_VPS_PER_PARTITION;
        if (which == 1) v = s->a & EXT_EXITS_VALID_MASK;
        if (which == 2) v = s->a & 0xFFFFFFFFull;
        if (which == 3) a.size = 4 * (uint32_t)(s->a % 9);
        if (which == 4) v = 0;
        if (field == 0) {                           /* value out of range */
            if (which == 0) v = s->bad & 8 ? 0 : 5 + (s->bad >> 8) % 100;
            if (which == 1) v |= 1ull << (20 + (s->bad >> 8) % 44);
            if (which == 2) v |= 1ull << (32 + (s->bad >> 8) % 32);
            if (which == 3) a.size = (s->bad >> 8) & 1 ? 4 * 65 : 6;
            if (which == 4) v = 1 + (s->bad >> 8) % 3;
            st = HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        } else if (field == 1 && which != 3) {      /* smaller than the natural size */
            a.size = (uint32_t)((s->bad >> 8) % natural[which]);
            st = HV_STATUS_INSUFFICIENT_BUFFER;
        } else if (field == 2) {                    /* more than a block holds */
            a.size = HV_MAX_BLOCK_BYTES - 15 + (uint32_t)((s->bad >> 8) % 0x10000);
            st = HV_STATUS_INVALID_PARAMETER;
        } else if (field == 3 || field == 1) {      /* a property nobody implements */
            static const uint32_t unknown[] = { 0x7777, 0xDEAD, 0x12345678, 0x0FFFFFFF };
            a.code = unknown[(s->bad >> 8) % 4];
            st = HV_STATUS_UNKNOWN_PROPERTY;
        }
        memcpy(in, &a, sizeof a);
        if (which == 3) {
            struct rng r = { s->seed | 1 };
            for (uint32_t i = 0; i < a.size / 4 && i < 65; i++) {
                uint32_t leaf = chance(&r, 50) ? (uint32_t)below(&r, 0x20) : (uint32_t)rnd(&r);
                memcpy(in + 16 + 4 * i, &leaf, 4);
            }
        } else {
            memcpy(in + 16, &v, 8);
        }
        c->in_len = 16 + (a.size <= HV_MAX_BLOCK_BYTES - 16 ? a.size : 0);
        if (field == 2) c->expect = st;
        else if (idst) c->expect = idst;
        else if (which == 0 && st != HV_STATUS_INSUFFICIENT_BUFFER && st != HV_STATUS_UNKNOWN_PROPERTY &&
                 m->state != S_CREATED)
            c->expect = HV_STATUS_INVALID_PARTITION_STATE;   /* checked before the value */
        else c->expect = st;
        break;
    }
    case OP_GET_PROP: {
        static const uint32_t codes[] = { WHvPartitionPropertyCodeProcessorCount, WHvPartitionPropertyCodeExtendedVmExits,
                                          WHvPartitionPropertyCodeExceptionExitBitmap,
                                          WHvPartitionPropertyCodeCpuidExitList,
                                          WHvPartitionPropertyCodeLocalApicEmulationMode, 0x7777 };
        unsigned which = s->sub % 6;
        uint32_t natural = which == 0 || which == 4 ? 4 : which == 3 ? 4 * m->ncpuid : 8;
        struct hv_property_in a = { id, codes[which], (uint32_t)(s->a % 2 ? natural : s->a % 64) };
        if (s->corrupt == C_FIELD)
            a.size = natural ? (uint32_t)(s->bad % natural) : 0;
        memcpy(in, &a, sizeof a);
        c->out_len = 8 + (a.size >= natural ? natural : 0);
        if (c->out_len == 8 && natural == 0)
            c->out_len = 8;
        c->expect = idst ? idst : which == 5 ? HV_STATUS_UNKNOWN_PROPERTY
                  : a.size < natural ? HV_STATUS_INSUFFICIENT_BUFFER : 0;
        if (which == 5)
            c->out_len = 0;   /* nothing written */
        break;
    }
    case OP_MAP: {
        uint64_t src_page = s->a % FUZZ_ARENA_PAGES, gpa_page = s->b % WINDOW_PAGES;
        uint64_t pages = 1 + s->c % 8;
        if (src_page + pages > FUZZ_ARENA_PAGES) pages = FUZZ_ARENA_PAGES - src_page;
        if (gpa_page + pages > WINDOW_PAGES) pages = WINDOW_PAGES - gpa_page;
        static const uint32_t good_flags[] = { 1, 3, 5, 7 };
        struct hv_map_gpa_in a = { id, e->arena + src_page * PAGE, gpa_page * PAGE, pages * PAGE,
                                   good_flags[s->sub % 4], 0 };
        uint32_t st = 0;
        if (s->corrupt == C_FIELD) {
            uint64_t r = s->bad >> 5;
            switch (s->bad % 15) {
            case 0: a.source += 1 + r % 0xFFF; st = HV_STATUS_INVALID_ALIGNMENT; break;
            case 1: a.gpa += 8 * (1 + r % 0x1FF); st = HV_STATUS_INVALID_ALIGNMENT; break;
            case 2: a.size += 1 + r % 0xFFF; st = HV_STATUS_INVALID_ALIGNMENT; break;
            case 3: a.size = 0; st = HV_STATUS_INVALID_PARAMETER; break;
            case 4: a.size = 1ull << (40 + r % 7); st = HV_STATUS_ACCESS_DENIED; break;
            case 5: a.size = r % 2 ? GPA_LIMIT : ~0xFFFull; st = HV_STATUS_INVALID_PARAMETER; break;
            case 6: a.gpa = r % 2 ? GPA_LIMIT : ~0xFFFull - (r % 16) * PAGE; st = HV_STATUS_INVALID_PARAMETER; break;
            case 7: {
                static const uint32_t bad_flags[] = { 0, 2, 4, 6, 8, 9, 0xF, 0x80000001u };
                a.flags = bad_flags[r % 8];
                st = HV_STATUS_INVALID_PARAMETER;
                break;
            }
            case 8: a.reserved = (uint32_t)(r | 1); st = HV_STATUS_INVALID_PARAMETER; break;
            case 9: a.source = e->hv_base + (r % (e->hv_size / PAGE)) * PAGE; st = HV_STATUS_ACCESS_DENIED; break;
            case 10: a.source = mmio_addresses[r % 5]; st = HV_STATUS_ACCESS_DENIED;
                     if (a.source + a.size > (1ull << 32)) a.size = PAGE;
                     break;
            case 11: a.source = e->ram_top + (r % 64) * PAGE; st = HV_STATUS_ACCESS_DENIED; break;
            case 12: a.source = e->hv_base - PAGE * (1 + r % 4); a.size = PAGE * (2 + r % 8); st = HV_STATUS_ACCESS_DENIED; break;
            case 13: if (e->edge_page) { a.source = e->edge_page; a.size = PAGE * (2 + r % 4); st = HV_STATUS_ACCESS_DENIED; }
                     break;
            default:  /* overlap whatever is mapped (valid when nothing is) */
                for (uint64_t p = 0; p < WINDOW_PAGES; p++) {
                    uint64_t q = (p + r) % WINDOW_PAGES;
                    if (page_mapped(m, q)) {
                        a.gpa = q * PAGE;
                        if (q + pages > WINDOW_PAGES) a.size = (WINDOW_PAGES - q) * PAGE;
                        break;
                    }
                }
                break;
            }
        }
        memcpy(in, &a, sizeof a);
        if (a.reserved) c->expect = HV_STATUS_INVALID_PARAMETER;
        else if (idst) c->expect = idst;
        else if (st) c->expect = st;
        else c->expect = any_mapped(m, a.gpa, a.size) ? HV_STATUS_INVALID_PARAMETER : 0;
        break;
    }
    case OP_UNMAP: {
        uint64_t gpa_page = s->b % WINDOW_PAGES, pages = 1 + s->c % 16;
        struct hv_unmap_gpa_in a = { id, gpa_page * PAGE, pages * PAGE };
        if (s->sub % 8 == 0)
            a = (struct hv_unmap_gpa_in){ id, 0, 1ull << 40 };   /* everything */
        uint32_t st = 0;
        if (s->corrupt == C_FIELD) {
            uint64_t r = s->bad >> 3;
            switch (s->bad % 5) {
            case 0: a.gpa += 8 * (1 + r % 0x1FF); st = HV_STATUS_INVALID_ALIGNMENT; break;
            case 1: a.size += 1 + r % 0xFFF; st = HV_STATUS_INVALID_ALIGNMENT; break;
            case 2: a.size = 0; st = HV_STATUS_INVALID_PARAMETER; break;
            case 3: a.size = ~0xFFFull; st = HV_STATUS_INVALID_PARAMETER; break;
            default: a.gpa = GPA_LIMIT + (r % 16) * PAGE; st = HV_STATUS_INVALID_PARAMETER; break;
            }
        }
        memcpy(in, &a, sizeof a);
        if (idst) c->expect = idst;
        else if (st) c->expect = st;
        else c->expect = any_mapped(m, a.gpa, a.size) ? 0 : HV_STATUS_INVALID_PARAMETER;
        break;
    }
    case OP_CREATE_VP:
    case OP_DELETE_VP:
    case OP_RUN:
    case OP_CANCEL: {
        struct hv_vp_in a = { id, vp, 0 };
        if (s->op == OP_CREATE_VP && s->corrupt == C_FIELD)
            a.flags = (uint32_t)(s->bad | 1);
        memcpy(in, &a, sizeof a);
        if (s->op == OP_CREATE_VP)
            c->expect = a.flags ? HV_STATUS_INVALID_PARAMETER : idst ? idst
                      : m->state != S_READY ? HV_STATUS_INVALID_PARTITION_STATE
                      : vp >= m->pc ? HV_STATUS_INVALID_VP_INDEX : m->vp[vp] ? HVX_STATUS_VP_ALREADY_EXISTS : 0;
        else
            c->expect = idst ? idst : vp_ok ? 0 : HV_STATUS_INVALID_VP_INDEX;
        if (s->op == OP_RUN)
            c->out_len = sizeof(WHV_RUN_VP_EXIT_CONTEXT);
        break;
    }
    case OP_SET_REGS:
    case OP_GET_REGS: {
        uint32_t names[8];
        WHV_REGISTER_VALUE values[8];
        int exact = 1;
        unsigned n;
        if (s->op == OP_SET_REGS) {
            n = build_registers(s, names, values, &exact);
        } else {
            struct rng r = { s->seed | 1 };
            n = 1 + (unsigned)below(&r, 8);
            for (unsigned i = 0; i < n; i++)
                names[i] = good_names[below(&r, sizeof good_names / sizeof good_names[0])];
        }
        uint32_t count = n, st = 0;
        if (s->corrupt == C_FIELD) {
            uint64_t r = s->bad >> 3;
            switch (s->bad % (s->op == OP_SET_REGS ? 5 : 2)) {
            case 0: {
                static const uint32_t counts[] = { 0, HV_MAX_REGISTERS_PER_CALL + 1, 1000, 0xFFFFFFFF };
                count = counts[r % 4];
                st = HV_STATUS_INVALID_PARAMETER;
                break;
            }
            case 1: names[r % n] = bad_names[(r / 8) % 6]; st = HVX_STATUS_UNKNOWN_REGISTER_NAME; break;
            default: {   /* a value invalid on its own */
                static const uint32_t regs[] = { WHvX64RegisterRflags, WHvX64RegisterCr4, WHvX64RegisterEfer,
                                                 WHvX64RegisterCr8, WHvX64RegisterCr0 };
                static const uint64_t vals[] = { 2ull | 1ull << 63, 1ull << 13, 1ull << 63, 16, 1ull << 32 };
                unsigned k = (unsigned)(r % 5);
                names[0] = regs[k];
                memset(&values[0], 0, sizeof values[0]);
                values[0].Reg64 = vals[k];
                st = HV_STATUS_INVALID_REGISTER_VALUE;
                break;
            }
            }
        }
        struct hv_vp_registers_in a = { id, vp, count };
        memcpy(in, &a, sizeof a);
        memcpy(in + 16, names, 4 * n);
        uint32_t vo = hv_registers_values_offset(n);
        if (s->op == OP_SET_REGS)
            memcpy(in + vo, values, 16 * n);
        c->in_len = s->op == OP_SET_REGS ? vo + 16 * n : 16 + 4 * n;
        if (s->op == OP_GET_REGS)
            c->out_len = 16 * n;
        if (st == HV_STATUS_INVALID_PARAMETER) c->expect = st, c->out_len = 0;
        else if (idst) c->expect = idst;
        else if (!vp_ok) c->expect = HV_STATUS_INVALID_VP_INDEX;
        else if (st) c->expect = st;
        else c->expect = exact ? 0 : EXP_ANY;
        /* A name error stops the call before it writes, and so does an unknown VP. */
        break;
    }
    case OP_RUN_REGS: {
        uint32_t names[RUN_NAMES_MAX];
        uint64_t values[RUN_NAMES_MAX], high[RUN_NAMES_MAX];
        unsigned n = build_run_registers(s, names, values);
        uint32_t count = n, st = 0;
        memset(high, 0, sizeof high);
        if (s->corrupt == C_FIELD) {
            uint64_t q = s->bad >> 3;
            switch (s->bad % 5) {
            case 0: {   /* a count out of range; 18 with 18 valid names, so that only the count is wrong */
                static const uint32_t counts[] = { 0, HV_RUN_REGISTERS_MAX + 1, HV_MAX_REGISTERS_PER_CALL, 1000,
                                                   0xFFFFFFFF };
                count = counts[q % 5];
                if (count == HV_RUN_REGISTERS_MAX + 1) {
                    for (; n < count; n++) {
                        names[n] = n % HV_RUN_REGISTERS_MAX;
                        values[n] = names[n] == WHvX64RegisterRip ? CODE_GPA : q * (n + 1);
                    }
                }
                st = HV_STATUS_INVALID_PARAMETER;
                break;
            }
            case 1:
            case 2:     /* one name outside 0..16, anywhere in the block */
                names[q % n] = run_bad_names[(q / 32) % N_RUN_BAD_NAMES];
                st = HV_STATUS_INVALID_PARAMETER;
                break;
            case 3: {   /* values at the extremes, high halves set: all valid for these names */
                static const uint64_t extremes[] = { 0, ~0ull, 1ull << 63, 0x00007FFFFFFFFFFFull,
                                                     0xFFFF800000000000ull, 1ull << 32, 0xFFFF, 0x10000 };
                for (unsigned i = 0; i < n; i++) {
                    high[i] = q * 0x9E3779B97F4A7C15ull * (i + 1);
                    if (names[i] != WHvX64RegisterRip || (q >> 8) % 4 == 0)
                        values[i] = extremes[(q + i) % 8];
                }
                break;
            }
            default: {  /* every name again with other values, as far as 17 go: the later ones win */
                unsigned m = n;
                for (unsigned i = 0; m < HV_RUN_REGISTERS_MAX && i < n; i++, m++) {
                    names[m] = names[i];
                    values[m] = names[i] == WHvX64RegisterRip ? CODE_GPA + (q + i) % 16 : values[i] ^ q;
                }
                n = count = m;
                break;
            }
            }
        }
        struct hv_vp_registers_in a = { id, vp, count };
        uint32_t vo = hv_registers_values_offset(n);
        memset(in, 0, vo);
        memcpy(in, &a, sizeof a);
        memcpy(in + 16, names, 4 * n);
        for (unsigned i = 0; i < n; i++) {
            memcpy(in + vo + 16 * i, &values[i], 8);
            memcpy(in + vo + 16 * i + 8, &high[i], 8);
        }
        c->in_len = vo + 16 * n;
        c->out_len = sizeof(WHV_RUN_VP_EXIT_CONTEXT);
        /* count and names are checked before the output block, the partition and the VP */
        if (st) c->expect = st, c->out_len = 0;
        else if (idst) c->expect = idst;
        else c->expect = vp_ok ? 0 : HV_STATUS_INVALID_VP_INDEX;
        break;
    }
    case OP_WRITE_GPA:
    case OP_READ_GPA: {
        struct rng r = { s->seed | 1 };
        struct hv_gpa_access_in a = { id, vp, 0, 0 };
        if (s->sub % 3 == 0 && s->op == OP_WRITE_GPA) {   /* guest code */
            const struct snippet *sn = &snippets[s->a % N_SNIPPETS];
            a.gpa = CODE_GPA;
            a.size = sn->len;
            memcpy(in + 24, sn->bytes, sn->len);
        } else {
            a.gpa = below(&r, 0x10000 + PAGE);
            a.size = 1 + (uint32_t)below(&r, s->sub % 3 == 1 ? 64 : HV_MAX_GPA_ACCESS_BYTES);
            if (s->op == OP_WRITE_GPA) {
                if (a.gpa < CODE_GPA + 16 && a.gpa + a.size > CODE_GPA) a.gpa = 0x2000 + below(&r, 0x4000);
                for (uint32_t i = 0; i < a.size; i++) in[24 + i] = (uint8_t)rnd(&r);
            }
        }
        uint32_t st = 0;
        if (s->corrupt == C_FIELD) {
            uint64_t q = s->bad >> 3;
            switch (s->bad % 5) {
            case 0: a.size = q % 2 ? 0 : HV_MAX_GPA_ACCESS_BYTES + 1 + (uint32_t)(q % 5000); st = HV_STATUS_INVALID_PARAMETER; break;
            case 1: a.gpa = ~0ull - (q % 16); a.size = 32; st = HV_STATUS_INVALID_PARAMETER; break;
            case 2: a.gpa = GPA_LIMIT + q % 0x10000; break;                          /* unmapped */
            case 3: a.gpa = (WINDOW_PAGES - 1) * PAGE + 4000; a.size = 200; break;   /* off the window */
            default: a.gpa = 0x20000 + q % 0x10000; break;                           /* maybe unmapped */
            }
        }
        memcpy(in, &a, sizeof a);
        c->in_len = s->op == OP_WRITE_GPA && a.size <= HV_MAX_GPA_ACCESS_BYTES ? 24 + a.size : 24;
        if (s->op == OP_READ_GPA)
            c->out_len = a.size && a.size <= HV_MAX_GPA_ACCESS_BYTES ? a.size : 0;
        if (st) c->expect = st;
        else if (idst) c->expect = idst;
        else if (!vp_ok) c->expect = HV_STATUS_INVALID_VP_INDEX;
        else c->expect = a.gpa < GPA_LIMIT && all_mapped(m, a.gpa, a.size) ? 0 : HV_STATUS_INVALID_PARAMETER;
        break;
    }
    case OP_TRANSLATE: {
        struct hv_translate_gva_in a = { id, vp, (uint32_t)(s->a % 2 ? s->b : s->b & 0x3F), s->c };
        memcpy(in, &a, sizeof a);
        c->out_len = sizeof(struct hv_translate_gva_out);
        c->expect = idst ? idst : vp_ok ? 0 : HV_STATUS_INVALID_VP_INDEX;
        break;
    }
    case OP_INFO:
        c->code = 1 + s->sub % 3;
        c->out_len = c->code == HVCALL_GET_VERSION ? sizeof(struct hv_version_out)
                   : c->code == HVCALL_GET_STATS ? sizeof(struct hv_stats_out) : sizeof(struct hv_self_check_out);
        c->expect = 0;
        break;
    default:
        break;
    }
}

/* The model after a call whose status is st (the real one: the model follows the hypervisor even when
 * it disagreed, so that one finding does not cascade). */
static void apply(struct exec *x, const struct step *s, uint64_t st, const struct call *c, uint64_t new_id)
{
    struct mslot *m = &x->slot[s->slot % SLOTS];
    const uint8_t *in = in_block(x);
    if (st != HV_STATUS_SUCCESS)
        return;
    if (s->corrupt == C_ID_FORGED || s->corrupt == C_ID_STALE || s->corrupt == C_CODE)
        return;
    uint32_t vp = step_vp(s);
    switch (s->op) {
    case OP_CREATE:
        if (m->state == S_CREATED || m->state == S_READY) {   /* a second create into a live slot */
            if (x->n_extra < 32) x->extra[x->n_extra++] = m->id;
            else leaked_partitions++;
        }
        memset(m, 0, sizeof *m);
        m->state = S_CREATED;
        m->exact = 1;
        m->id = new_id;
        m->pc = 1;
        break;
    case OP_DELETE: remember_stale(m->id); m->state = S_DELETED; break;
    case OP_SETUP: m->state = S_READY; break;
    case OP_SET_PROP: {
        struct hv_property_in a;
        uint64_t v = 0;
        memcpy(&a, in, sizeof a);
        memcpy(&v, in + 16, 8);
        if (a.code == WHvPartitionPropertyCodeProcessorCount) m->pc = (uint32_t)v;
        if (a.code == WHvPartitionPropertyCodeExtendedVmExits) m->ext = v;
        if (a.code == WHvPartitionPropertyCodeExceptionExitBitmap) m->exc = v;
        if (a.code == WHvPartitionPropertyCodeCpuidExitList) m->ncpuid = a.size / 4;
        break;
    }
    case OP_MAP: {
        struct hv_map_gpa_in a;
        memcpy(&a, in, sizeof a);
        set_pages(m, a.gpa / PAGE, a.size / PAGE, 1);
        break;
    }
    case OP_UNMAP: {
        struct hv_unmap_gpa_in a;
        memcpy(&a, in, sizeof a);
        set_pages(m, a.gpa / PAGE, a.size / PAGE, 0);
        break;
    }
    case OP_CREATE_VP: if (vp < HV_MAX_VPS_PER_PARTITION) { m->vp[vp] = 1; m->cancel[vp] = 0; } break;
    case OP_DELETE_VP: if (vp < HV_MAX_VPS_PER_PARTITION) { m->vp[vp] = 0; m->cancel[vp] = 0; } break;
    case OP_CANCEL: if (vp < HV_MAX_VPS_PER_PARTITION) m->cancel[vp] = 1; break;
    default: break;
    }
    (void)c;
}

/* A WHV HRESULT for the step through the library (success or not is what the model checks). */
static uint64_t whv_step(struct exec *x, const struct step *s, uint64_t *new_id)
{
    WHV_PARTITION_HANDLE h = (WHV_PARTITION_HANDLE)(uintptr_t)slot_id(x, s);
    uint32_t vp = step_vp(s);
    const uint8_t *in = in_block(x);
    HRESULT hr = E_FAIL;
    switch (s->op) {
    case OP_CREATE: {
        WHV_PARTITION_HANDLE p = NULL;
        hr = WHvCreatePartition(&p);
        *new_id = (uint64_t)(uintptr_t)p;
        break;
    }
    case OP_DELETE: hr = WHvDeletePartition(h); break;
    case OP_SETUP: hr = WHvSetupPartition(h); break;
    case OP_CREATE_VP: hr = WHvCreateVirtualProcessor(h, vp, 0); break;
    case OP_DELETE_VP: hr = WHvDeleteVirtualProcessor(h, vp); break;
    case OP_CANCEL: hr = WHvCancelRunVirtualProcessor(h, vp, 0); break;
    case OP_RUN: hr = WHvRunVirtualProcessor(h, vp, out_block(x), s->a % 2 ? 144 : sizeof(WHV_RUN_VP_EXIT_CONTEXT)); break;
    case OP_RUN_REGS: {
        /* A VMM's "set RIP/GPRs, run": the library holds the writes of a VP that last returned from a Run
         * and sends them with the Run as SET_REGISTERS_AND_RUN_VP; otherwise SET_VP_REGISTERS, then RUN_VP. */
        struct hv_vp_registers_in a;
        memcpy(&a, in, sizeof a);
        static uint32_t names[HV_RUN_REGISTERS_MAX];
        static WHV_REGISTER_VALUE values[HV_RUN_REGISTERS_MAX] __attribute__((aligned(16)));
        uint32_t n = a.count <= HV_RUN_REGISTERS_MAX ? a.count : HV_RUN_REGISTERS_MAX;
        memcpy(names, in + 16, 4 * n);
        memcpy(values, in + hv_registers_values_offset(a.count), 16 * n);
        hr = WHvSetVirtualProcessorRegisters(h, vp, (const WHV_REGISTER_NAME *)names, n, values);
        if (SUCCEEDED(hr))
            hr = WHvRunVirtualProcessor(h, vp, out_block(x), sizeof(WHV_RUN_VP_EXIT_CONTEXT));
        break;
    }
    case OP_TRANSLATE: {
        WHV_TRANSLATE_GVA_RESULT tr;
        WHV_GUEST_PHYSICAL_ADDRESS gpa;
        struct hv_translate_gva_in a;
        memcpy(&a, in, sizeof a);
        hr = WHvTranslateGva(h, vp, a.gva, a.flags, &tr, &gpa);
        break;
    }
    case OP_READ_GPA:
    case OP_WRITE_GPA: {
        struct hv_gpa_access_in a;
        WHV_ACCESS_GPA_CONTROLS controls = { .AsUINT64 = 0 };
        memcpy(&a, in, sizeof a);
        if (s->op == OP_READ_GPA) hr = WHvReadGpaRange(h, vp, a.gpa, controls, out_block(x), a.size);
        else hr = WHvWriteGpaRange(h, vp, a.gpa, controls, (void *)(in + 24), a.size);
        break;
    }
    case OP_GET_REGS:
    case OP_SET_REGS: {
        struct hv_vp_registers_in a;
        memcpy(&a, in, sizeof a);
        static uint32_t names[8];
        static WHV_REGISTER_VALUE values[8] __attribute__((aligned(16)));
        uint32_t n = a.count <= 8 ? a.count : 8;
        memcpy(names, in + 16, 4 * n);
        if (s->op == OP_SET_REGS) {
            memcpy(values, in + hv_registers_values_offset(a.count), 16 * n);
            hr = WHvSetVirtualProcessorRegisters(h, vp, (const WHV_REGISTER_NAME *)names, a.count, values);
        } else {
            hr = WHvGetVirtualProcessorRegisters(h, vp, (const WHV_REGISTER_NAME *)names, a.count, values);
        }
        break;
    }
    default: break;
    }
    return SUCCEEDED(hr) ? 0 : EXP_FAIL;
}

static int whv_capable(const struct step *s)
{
    switch (s->op) {
    case OP_CREATE: case OP_DELETE: case OP_SETUP: case OP_CREATE_VP: case OP_DELETE_VP: case OP_CANCEL:
    case OP_RUN: case OP_READ_GPA: case OP_WRITE_GPA: case OP_GET_REGS: case OP_SET_REGS: case OP_RUN_REGS:
        return s->corrupt == C_NONE || s->corrupt == C_ID_FORGED || s->corrupt == C_ID_STALE || s->corrupt == C_VP;
    default:
        return 0;
    }
}

static void check_run_exit(struct exec *x, unsigned index, const struct step *s, int fired)
{
    struct mslot *m = &x->slot[s->slot % SLOTS];
    uint32_t vp = step_vp(s) % HV_MAX_VPS_PER_PARTITION;
    uint32_t reason;
    memcpy(&reason, out_block(x), 4);
    x->res->runs++;
    if (fired)
        x->res->watchdog_fires++;
    if (reason == WHvRunVpExitReasonCanceled)
        x->res->canceled_runs++;
    if (reason == WHvRunVpExitReasonInvalidVpRegisterValue)
        x->res->invalid_vp_exits++;
    if (!exit_reason_known(reason))
        finding(x, index, s, "%s returned an unknown exit reason %x", op_names[s->op], reason);
    else if (m->exact && m->cancel[vp] == 1 && reason != WHvRunVpExitReasonCanceled)
        finding(x, index, s, "%s after a cancel returned exit reason %x, not Canceled", op_names[s->op], reason);
    else if (m->exact && m->cancel[vp] == 0 && !fired && reason == WHvRunVpExitReasonCanceled)
        finding(x, index, s, "%s returned Canceled with no cancel pending", op_names[s->op]);
    /* A pending cancel ends the run at once, so none is left; but the watchdog may have fired after the
     * run ended, and then the next run may be Canceled. */
    m->cancel[vp] = fired ? 2 : 0;
}

static int valid_code(uint64_t code)
{
    return code == 1 || code == 2 || code == 3 || (code >= 0x10 && code <= HVCALL_SET_REGISTERS_AND_RUN_VP);
}

/* RAX..R15 and RIP (names 0..16) of a VP, by a raw GET_VP_REGISTERS in blocks of its own (the step's
 * blocks hold the call being checked); 0 when the call fails. */
static int read_run_registers(uint64_t partition, uint32_t vp, uint64_t out[HV_RUN_REGISTERS_MAX])
{
    static struct { struct hv_vp_registers_in h; uint32_t names[HV_RUN_REGISTERS_MAX]; } in __attribute__((aligned(64)));
    static WHV_REGISTER_VALUE values[HV_RUN_REGISTERS_MAX] __attribute__((aligned(64)));
    in.h = (struct hv_vp_registers_in){ partition, vp, HV_RUN_REGISTERS_MAX };
    for (uint32_t i = 0; i < HV_RUN_REGISTERS_MAX; i++)
        in.names[i] = i;
    if (fuzz_call(HVCALL_GET_VP_REGISTERS, (uint64_t)(uintptr_t)&in, (uint64_t)(uintptr_t)values) != HV_STATUS_SUCCESS)
        return 0;
    for (uint32_t i = 0; i < HV_RUN_REGISTERS_MAX; i++)
        out[i] = values[i].Reg64;
    return 1;
}

/* After a SET_REGISTERS_AND_RUN_VP refused with st: the VP's RAX..R15 and RIP are what they were. */
static void compare_run_registers(struct exec *x, unsigned index, const struct step *s, uint64_t st, uint64_t partition,
                                  uint32_t vp, const uint64_t before[HV_RUN_REGISTERS_MAX])
{
    uint64_t after[HV_RUN_REGISTERS_MAX];
    x->res->run_regs_readbacks++;
    if (!read_run_registers(partition, vp, after)) {
        finding(x, index, s, "GET_VP_REGISTERS failed after a refused SET_REGISTERS_AND_RUN_VP (%llx)",
                (unsigned long long)st);
        return;
    }
    for (uint32_t i = 0; i < HV_RUN_REGISTERS_MAX; i++)
        if (after[i] != before[i]) {
            finding(x, index, s, "SET_REGISTERS_AND_RUN_VP refused with %llx but register %u of the VP changed "
                    "(%llx -> %llx)", (unsigned long long)st, i, (unsigned long long)before[i],
                    (unsigned long long)after[i]);
            return;
        }
}

/* The VP a SET_REGISTERS_AND_RUN_VP step means before any mutation, when the model says it exists. */
static int run_regs_target(const struct exec *x, const struct step *s, uint64_t *partition)
{
    const struct mslot *m = &x->slot[s->slot % SLOTS];
    *partition = m->id;
    return m->state == S_READY && s->vp < HV_MAX_VPS_PER_PARTITION && m->vp[s->vp];
}

/* A SET_REGISTERS_AND_RUN_VP that returned Canceled at once (a cancel was pending): the VP ran nothing,
 * so every register the block names holds its last value there, and the exit's RIP is the RIP written. */
static void check_canceled_writes(struct exec *x, unsigned index, const struct step *s, uint64_t partition)
{
    const uint8_t *in = in_block(x);
    WHV_RUN_VP_EXIT_CONTEXT exit;
    struct hv_vp_registers_in a;
    uint64_t want[HV_RUN_REGISTERS_MAX], now[HV_RUN_REGISTERS_MAX];
    uint32_t named = 0;
    memcpy(&a, in, sizeof a);
    memcpy(&exit, out_block(x), sizeof exit);
    if (exit.ExitReason != WHvRunVpExitReasonCanceled || a.count > HV_RUN_REGISTERS_MAX)
        return;
    for (uint32_t i = 0; i < a.count; i++) {
        uint32_t name;
        memcpy(&name, in + 16 + 4 * i, 4);
        memcpy(&want[name % HV_RUN_REGISTERS_MAX], in + hv_registers_values_offset(a.count) + 16 * i, 8);
        named |= 1u << (name % HV_RUN_REGISTERS_MAX);
    }
    x->res->run_regs_cancel_checks++;
    if (!read_run_registers(partition, s->vp, now)) {
        finding(x, index, s, "GET_VP_REGISTERS failed after a Canceled SET_REGISTERS_AND_RUN_VP");
        return;
    }
    for (uint32_t i = 0; i < HV_RUN_REGISTERS_MAX; i++)
        if ((named >> i & 1) && now[i] != want[i]) {
            finding(x, index, s, "SET_REGISTERS_AND_RUN_VP, Canceled at once: register %u reads %llx, the block's "
                    "last value for it is %llx", i, (unsigned long long)now[i], (unsigned long long)want[i]);
            return;
        }
    if ((named >> WHvX64RegisterRip & 1) && exit.VpContext.Rip != want[WHvX64RegisterRip])
        finding(x, index, s, "SET_REGISTERS_AND_RUN_VP, Canceled at once: the exit's RIP is %llx, the RIP written %llx",
                (unsigned long long)exit.VpContext.Rip, (unsigned long long)want[WHvX64RegisterRip]);
}

/* Random raw call (burst cases): random code and blocks; only invariants are checked. */
static uint64_t raw_step(struct exec *x, unsigned index, const struct step *s)
{
    struct rng r = { s->seed | 1 };
    uint8_t *in = in_block(x), *out = out_block(x);
    static const uint16_t valid[] = { 1, 2, 3, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A,
                                      0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20 };
    const uint64_t n_valid = sizeof valid / sizeof valid[0];
    uint64_t code;
    int known_code = 1;
    uint64_t k = below(&r, 100);
    if (k < 75) code = valid[below(&r, n_valid)];
    else if (k < 92) { code = bad_code(rnd(&r), (uint16_t)valid[below(&r, n_valid)]); known_code = 0; }
    else { code = below(&r, 0x100); known_code = code <= HVCALL_SET_REGISTERS_AND_RUN_VP; }
    if (code == HVCALL_CREATE_PARTITION && live_partitions(x) >= HV_MAX_PARTITIONS - 2)
        code = HVCALL_GET_STATS;   /* leave room for the lifecycle cases */
    /* input: structured (an id the case knows, then interesting values), random bytes, or a bad block */
    uint64_t in_gpa = (uint64_t)(uintptr_t)in, out_gpa = (uint64_t)(uintptr_t)out;
    uint32_t in_bad = 0, out_bad = 0;
    unsigned len = 8 * (1 + (unsigned)below(&r, 64));
    for (unsigned i = 0; i < len; i++)
        in[i] = (uint8_t)rnd(&r);
    if (chance(&r, 70)) {
        static const uint64_t interesting[] = { 0, 1, 2, 3, 4, 0xFFF, 0x1000, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF,
                                                1ull << 47, 1ull << 48, ~0ull, ~0xFFFull };
        uint64_t q[8];
        const struct mslot *m = &x->slot[below(&r, SLOTS)];
        q[0] = chance(&r, 70) ? m->id : n_stale && chance(&r, 50) ? stale_ids[below(&r, n_stale < 16 ? n_stale : 16)]
                                                                     : rnd(&r) | 1ull << 40;
        q[1] = chance(&r, 60) ? below(&r, 5) | below(&r, 3) << 32 : rnd(&r);
        for (int i = 2; i < 8; i++) {
            uint64_t t = below(&r, 6);
            q[i] = t == 0 ? interesting[below(&r, 14)] : t == 1 ? x->env->arena + below(&r, FUZZ_ARENA_PAGES) * PAGE
                 : t == 2 ? x->env->hv_base + below(&r, x->env->hv_size) : t == 3 ? below(&r, 0x100) * PAGE
                 : t == 4 ? below(&r, 8) : rnd(&r);
        }
        if (code == HVCALL_MAP_GPA_RANGE)   /* sources only from the arena or never-RAM places */
            q[1] = chance(&r, 60) ? x->env->arena + below(&r, FUZZ_ARENA_PAGES) * PAGE : interesting[below(&r, 14)];
        memcpy(in, q, sizeof q);
    }
    if (code == HVCALL_SET_REGISTERS_AND_RUN_VP && chance(&r, 50)) {
        /* names mostly of the set (0..16), a count mostly in range, RIP mostly at the code: the call gets
         * past its checks often enough to run */
        uint32_t count = chance(&r, 85) ? 1 + (uint32_t)below(&r, HV_RUN_REGISTERS_MAX) : (uint32_t)below(&r, 2) * 18;
        uint32_t n = count <= HV_RUN_REGISTERS_MAX + 1 ? count : 0, vo = hv_registers_values_offset(n);
        memcpy(in + 12, &count, 4);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t name = chance(&r, 93) ? (uint32_t)below(&r, HV_RUN_REGISTERS_MAX)
                                           : run_bad_names[below(&r, N_RUN_BAD_NAMES)];
            uint64_t v = name == WHvX64RegisterRip ? run_rip(&r) : rnd(&r), hi = chance(&r, 80) ? 0 : rnd(&r);
            memcpy(in + 16 + 4 * i, &name, 4);
            memcpy(in + vo + 16 * i, &v, 8);
            memcpy(in + vo + 16 * i + 8, &hi, 8);
        }
    }
    if (code == HVCALL_MAP_GPA_RANGE) {   /* random bytes must not name root RAM outside the arena either */
        uint64_t src;
        memcpy(&src, in + 8, 8);
        if (src < x->env->ram_top && !(src >= x->env->arena && src < x->env->arena + FUZZ_ARENA_PAGES * PAGE) &&
            !(src >= x->env->hv_base && src < x->env->hv_base + x->env->hv_size)) {
            src = x->env->hv_base;
            memcpy(in + 8, &src, 8);
        }
    }
    if (code == HVCALL_MAP_GPA_RANGE) {   /* ... and never more than the arena holds */
        uint64_t src, size, arena_end = x->env->arena + FUZZ_ARENA_PAGES * PAGE;
        memcpy(&src, in + 8, 8);
        memcpy(&size, in + 24, 8);
        if (src >= x->env->arena && src < arena_end && size > arena_end - src) {
            size = arena_end - src;
            memcpy(in + 24, &size, 8);
        }
    }
    struct step h = { .op = code == 0x11 ? OP_DELETE : code == 0x14 ? OP_SETUP : code == 0x15 ? OP_MAP
                          : code == 0x16 ? OP_UNMAP : code == 0x1D ? OP_TRANSLATE : code == 0x1E ? OP_READ_GPA
                          : code == 0x1F ? OP_WRITE_GPA : OP_CANCEL };
    if (chance(&r, 15))
        in_gpa = bad_block(x, rnd(&r), head_len(h.op), &in_bad);
    else if (chance(&r, 5) && code != HVCALL_MAP_GPA_RANGE)
        in_gpa = 0;   /* physical page 0: read, never a map source */
    if (chance(&r, 15))   /* kinds whose refusal does not depend on the length, which varies by code */
        out_gpa = bad_block(x, (rnd(&r) & ~7ull) | below(&r, 5), 224, &out_bad);
    int has_out = code == 1 || code == 2 || code == 3 || code == 0x10 || code == 0x13 || code == 0x19 ||
                  code == 0x1B || code == 0x1D || code == 0x1E || code == HVCALL_SET_REGISTERS_AND_RUN_VP;
    int reads_in = code >= 0x11 && code <= HVCALL_SET_REGISTERS_AND_RUN_VP;
    if (code == HVCALL_SET_REGISTERS_AND_RUN_VP)
        x->res->run_regs_calls++;
    /* A SET_REGISTERS_AND_RUN_VP whose block names a VP the case made: refused, it must leave it as it was. */
    uint64_t target = 0, regs_before[HV_RUN_REGISTERS_MAX];
    uint32_t target_vp = 0;
    int readback = 0;
    if (code == HVCALL_SET_REGISTERS_AND_RUN_VP) {
        struct hv_vp_registers_in a;
        memcpy(&a, in, sizeof a);
        for (int i = 0; i < SLOTS; i++) {
            const struct mslot *m = &x->slot[i];
            if (m->state == S_READY && m->id == a.partition && a.vp < HV_MAX_VPS_PER_PARTITION && m->vp[a.vp]) {
                target = a.partition;
                target_vp = a.vp;
                readback = read_run_registers(target, target_vp, regs_before);
            }
        }
    }
    if (is_run_code(code)) {   /* both start with the partition and the VP, as struct hv_vp_in */
        struct hv_vp_in a;
        memcpy(&a, in, sizeof a);
        fuzz_watchdog_arm(a.partition, a.vp);
    }
    if (x->trace)
        fuzz_say("#   raw code %llx in %llx out %llx", (unsigned long long)code, (unsigned long long)in_gpa,
                 (unsigned long long)out_gpa);
    uint64_t st = fuzz_call(code, in_gpa, out_gpa);
    int fired = is_run_code(code) ? fuzz_watchdog_disarm() : 0;
    if (st < 16)
        x->res->status_seen[st]++;
    if (st >= FUZZ_ROOT_FAULT)
        finding(x, index, s, "code %llx raised exception %llu in the root", (unsigned long long)code, (unsigned long long)(st & 0xFF));
    else if (!status_known(st))
        finding(x, index, s, "code %llx returned an undocumented status %llx", (unsigned long long)code,
                (unsigned long long)st);
    else if (!known_code && code >= 0x100 && st != HV_STATUS_INVALID_HYPERCALL_CODE)
        finding(x, index, s, "unknown code %llx returned %llx, not INVALID_HYPERCALL_CODE", (unsigned long long)code,
                (unsigned long long)st);
    else if (in_bad && reads_in && in_gpa && st != in_bad)
        finding(x, index, s, "code %llx with input block %llx returned %llx, expected %x", (unsigned long long)code,
                (unsigned long long)in_gpa, (unsigned long long)st, in_bad);
    else if (known_code && code < 0x20 && !valid_code(code) && st != HV_STATUS_INVALID_HYPERCALL_CODE)
        finding(x, index, s, "unassigned code %llx returned %llx, not INVALID_HYPERCALL_CODE", (unsigned long long)code,
                (unsigned long long)st);
    else if (out_bad && has_out && st == HV_STATUS_SUCCESS)
        finding(x, index, s, "code %llx succeeded with output block %llx (must fail)", (unsigned long long)code,
                (unsigned long long)out_gpa);
    if (st == HV_STATUS_SUCCESS && ((in_bad && reads_in && in_gpa) || (out_bad && has_out)))
        x->res->faults++;   /* a block that must be refused was used */
    if (readback && st != HV_STATUS_SUCCESS && st < FUZZ_ROOT_FAULT)
        compare_run_registers(x, index, s, st, target, target_vp, regs_before);
    if (st == HV_STATUS_SUCCESS) {
        uint64_t first;
        memcpy(&first, in, 8);
        if (code == HVCALL_CREATE_PARTITION) {
            uint64_t id = 0;
            if (out_gpa == (uint64_t)(uintptr_t)out)
                memcpy(&id, out, 8);
            note_id(id);
            if (id && x->n_extra < 32) x->extra[x->n_extra++] = id;
        }
        for (int i = 0; i < SLOTS; i++) {
            struct mslot *m = &x->slot[i];
            if (m->id != first || (m->state != S_CREATED && m->state != S_READY))
                continue;
            if (code == HVCALL_DELETE_PARTITION) { remember_stale(m->id); m->state = S_DELETED; }
            else if (code != HVCALL_GET_PARTITION_PROPERTY && code != HVCALL_READ_GPA && code != HVCALL_TRANSLATE_GVA &&
                     code != HVCALL_GET_VP_REGISTERS) m->exact = 0;
        }
        if (is_run_code(code) && out_gpa == (uint64_t)(uintptr_t)out) {
            uint32_t reason;
            memcpy(&reason, out, 4);
            x->res->runs++;
            x->res->watchdog_fires += fired;
            if (reason == WHvRunVpExitReasonInvalidVpRegisterValue) x->res->invalid_vp_exits++;
            if (reason == WHvRunVpExitReasonCanceled) x->res->canceled_runs++;
            if (!exit_reason_known(reason))
                finding(x, index, s, "code %llx returned an unknown exit reason %x", (unsigned long long)code, reason);
        }
    }
    if (code == HVCALL_CANCEL_RUN_VP || (is_run_code(code) && fired))
        for (int i = 0; i < SLOTS; i++)
            for (int v = 0; v < HV_MAX_VPS_PER_PARTITION; v++)
                if (x->slot[i].cancel[v] == 0) x->slot[i].cancel[v] = 2;
    return st;
}

static uint64_t exec_step(struct exec *x, unsigned index, const struct step *s)
{
    if (x->trace) {   /* before the call, so that a panic's last step is on COM1 and port 0xE9 */
        char d[200];
        describe(s, d, sizeof d);
        fuzz_say("#   step %u: %s", index, d);
        fuzz_mark("step %u", index);
    }
    if (s->op == OP_RAW)
        return raw_step(x, index, s);
    struct call c;
    prepare(x, s, &c);
    uint64_t in_gpa = c.in_len || head_len(s->op) ? (uint64_t)(uintptr_t)in_block(x) : 0;
    uint64_t out_gpa = c.out_len || s->op == OP_CREATE || s->op == OP_INFO || is_run(s->op) || s->op == OP_GET_REGS ||
                       s->op == OP_READ_GPA || s->op == OP_TRANSLATE || s->op == OP_GET_PROP
                       ? (uint64_t)(uintptr_t)out_block(x) : 0;
    uint32_t expect = c.expect;
    int must_fail_block = 0;
    if (s->corrupt == C_CODE) {
        c.code = bad_code(s->bad, (uint16_t)c.code);
        expect = HV_STATUS_INVALID_HYPERCALL_CODE;
    } else if (s->corrupt == C_IN_BLOCK) {
        uint32_t bst;
        uint64_t len = head_len(s->op);
        uint64_t g = bad_block(x, s->bad, len ? len : 8, &bst);
        in_gpa = g;
        if (len) { expect = bst; must_fail_block = 1; }
    } else if (s->corrupt == C_OUT_BLOCK) {
        uint32_t bst;
        uint64_t len = c.out_len ? c.out_len : 8;
        out_gpa = bad_block(x, s->bad, len, &bst);
        /* CREATE, RUN, GET_REGS, TRANSLATE and READ_GPA check the output block before the partition;
         * GET_PROPERTY and the info calls write it last; the other calls have none and must ignore it. */
        int early = s->op == OP_CREATE || is_run(s->op) || s->op == OP_GET_REGS || s->op == OP_TRANSLATE ||
                    s->op == OP_READ_GPA || s->op == OP_INFO;
        if (c.out_len && early) { expect = bst; must_fail_block = 1; }
        else if (c.out_len && (expect == 0 || expect == HV_STATUS_INSUFFICIENT_BUFFER)) expect = bst;
    }
    int via_whv = s->whv && whv_capable(s);
    /* SET_REGISTERS_AND_RUN_VP is all or nothing: a refused call (any status but success) leaves every
     * register of the VP as it was, and one that returns Canceled at once has made every write. The VP the
     * step means (before its mutation) is read before and after. */
    uint64_t target = 0, regs_before[HV_RUN_REGISTERS_MAX];
    int run_regs_raw = s->op == OP_RUN_REGS && !via_whv, has_target = run_regs_raw && run_regs_target(x, s, &target);
    int readback = has_target && expect != 0 && expect != EXP_ANY && read_run_registers(target, s->vp, regs_before);
    int cancel_due = has_target && expect == 0 && (s->corrupt == C_NONE || s->corrupt == C_FIELD) &&
                     x->slot[s->slot % SLOTS].exact &&
                     x->slot[s->slot % SLOTS].cancel[s->vp] == 1;
    if (s->op == OP_RUN_REGS)
        x->res->run_regs_calls++;
    if (is_run(s->op) && s->corrupt != C_CODE)
        fuzz_watchdog_arm(slot_id(x, s), step_vp(s));
    uint64_t st, new_id = 0;
    if (via_whv) {
        st = whv_step(x, s, &new_id);
        if (expect != EXP_ANY && expect != 0)
            expect = EXP_FAIL;
    } else {
        memset(out_block(x), 0xCC, 8);
        st = fuzz_call(c.code, in_gpa, out_gpa);
        if (s->op == OP_CREATE)
            memcpy(&new_id, out_block(x), 8);
    }
    int fired = is_run(s->op) && s->corrupt != C_CODE ? fuzz_watchdog_disarm() : 0;
    struct mslot *m = &x->slot[s->slot % SLOTS];
    int exact = m->exact || s->op == OP_CREATE || s->corrupt == C_ID_FORGED || s->corrupt == C_ID_STALE ||
                s->corrupt == C_CODE || must_fail_block ||
                (s->op == OP_RUN_REGS && s->corrupt == C_FIELD && expect == HV_STATUS_INVALID_PARAMETER);
    if (x->trace)
        fuzz_say("#     -> status %llx (model: %x)", (unsigned long long)st, expect);
    if (st >= FUZZ_ROOT_FAULT && st != EXP_FAIL) {
        finding(x, index, s, "%s raised exception %llu in the root", op_names[s->op], (unsigned long long)(st & 0xFF));
    } else if (via_whv) {
        if (exact && expect == 0 && st != 0)
            finding(x, index, s, "%s through the WHV library failed; the model expects success", op_names[s->op]);
        else if (exact && expect == EXP_FAIL && st == 0) {
            finding(x, index, s, "%s through the WHV library succeeded; the model expects a failure", op_names[s->op]);
            x->res->faults++;
        }
    } else if (!status_known(st)) {
        finding(x, index, s, "%s returned an undocumented status %llx", op_names[s->op], (unsigned long long)st);
    } else if (exact && expect != EXP_ANY && expect != EXP_FAIL && st != expect) {
        finding(x, index, s, "%s returned %llx, expected %x", op_names[s->op], (unsigned long long)st, expect);
        if (st == HV_STATUS_SUCCESS)
            x->res->faults++;   /* a call that must fail succeeded */
    } else if (exact && expect == EXP_FAIL && st == HV_STATUS_SUCCESS) {
        finding(x, index, s, "%s succeeded; it must fail", op_names[s->op]);
        x->res->faults++;
    }
    if (st < 16)
        x->res->status_seen[st]++;
    if (s->op == OP_CREATE && st == HV_STATUS_SUCCESS)
        note_id(new_id);
    if (s->op == OP_CREATE && st == HV_STATUS_SUCCESS && new_id == 0)
        finding(x, index, s, "CREATE_PARTITION succeeded with id 0");
    if (s->op == OP_GET_PROP && st == 0 && !via_whv && exact && s->corrupt == C_NONE) {
        struct hv_property_in a;
        uint64_t v = 0;
        uint32_t written;
        memcpy(&a, in_block(x), sizeof a);
        memcpy(&written, out_block(x), 4);
        memcpy(&v, out_block(x) + 8, a.code == WHvPartitionPropertyCodeProcessorCount ? 4 : 8);
        if (a.code == WHvPartitionPropertyCodeProcessorCount && v != m->pc)
            finding(x, index, s, "ProcessorCount reads %llu, was set to %u", (unsigned long long)v, m->pc);
        if (a.code == WHvPartitionPropertyCodeExtendedVmExits && v != m->ext)
            finding(x, index, s, "ExtendedVmExits reads %llx, was set to %llx", (unsigned long long)v,
                    (unsigned long long)m->ext);
    }
    if (readback && st != HV_STATUS_SUCCESS && st < FUZZ_ROOT_FAULT)
        compare_run_registers(x, index, s, st, target, s->vp, regs_before);
    if (cancel_due && st == HV_STATUS_SUCCESS)
        check_canceled_writes(x, index, s, target);
    if (is_run(s->op) && st == HV_STATUS_SUCCESS && s->corrupt != C_CODE)
        check_run_exit(x, index, s, fired);
    else if (fired)
        m->cancel[step_vp(s) % HV_MAX_VPS_PER_PARTITION] = 2;
    if (st < FUZZ_ROOT_FAULT && !(s->corrupt == C_CODE))
        apply(x, s, st, &c, new_id);
    return st;
}

/* Deletes what the case left; 1 when every delete that must succeed did. */
static void cleanup(struct exec *x)
{
    static struct hv_partition_in a __attribute__((aligned(16)));
    for (int i = 0; i < SLOTS; i++) {
        struct mslot *m = &x->slot[i];
        if (m->state != S_CREATED && m->state != S_READY)
            continue;
        a.partition = m->id;
        uint64_t st = fuzz_call(HVCALL_DELETE_PARTITION, (uint64_t)(uintptr_t)&a, 0);
        if (st != HV_STATUS_SUCCESS && st != HV_STATUS_INVALID_PARTITION_ID) {
            finding(x, MAX_STEPS, NULL, "cleanup: DELETE_PARTITION %llu returned %llx", (unsigned long long)m->id,
                    (unsigned long long)st);
            leaked_partitions++;
        }
        if (st == HV_STATUS_INVALID_PARTITION_ID && m->exact)
            finding(x, MAX_STEPS, NULL, "cleanup: live partition %llu was already gone", (unsigned long long)m->id);
        remember_stale(m->id);
        m->state = S_DELETED;
    }
    for (unsigned i = 0; i < x->n_extra; i++) {
        a.partition = x->extra[i];
        fuzz_call(HVCALL_DELETE_PARTITION, (uint64_t)(uintptr_t)&a, 0);
        remember_stale(x->extra[i]);
    }
    x->n_extra = 0;
}

/* Runs steps[0..n) from a clean model; returns 1 when it produced a finding or a leak. */
static int execute(const struct fuzz_env *env, struct fuzz_result *res, const struct step *steps, unsigned n,
                   struct exec *x, int trace)
{
    uint64_t pool0 = 0, pool1 = 0;
    memset(x, 0, sizeof *x);
    x->env = env;
    x->res = res;
    x->trace = trace;
    fuzz_pool_used(&pool0);
    for (unsigned i = 0; i < n; i++)
        exec_step(x, i, &steps[i]);
    cleanup(x);
    fuzz_pool_used(&pool1);
    if (pool1 != pool0) {
        /* Something is left: a partition the model lost track of (a bug, or one created through a block
         * the fuzzer did not expect to be accepted) or a hypervisor leak. Delete every id this run may
         * have made since the last scan, then look again. */
        uint64_t sum;
        uint32_t parts = 0, vps;
        fuzz_self_check(&sum, &parts, &vps);
        if (parts > leaked_partitions) {
            static struct hv_partition_in a __attribute__((aligned(16)));
            for (uint64_t id = next_scan; id <= max_id_seen + 16; id++) {
                a.partition = id;
                if (fuzz_call(HVCALL_DELETE_PARTITION, (uint64_t)(uintptr_t)&a, 0) == HV_STATUS_SUCCESS)
                    finding(x, MAX_STEPS, NULL, "partition %llu was left alive behind the model's back",
                            (unsigned long long)id);
            }
            fuzz_pool_used(&pool1);
        }
    }
    next_scan = max_id_seen + 1;
    if (pool1 != pool0) {
        x->found_leak = 1;
        if (!x->found)
            finding(x, MAX_STEPS, NULL, "the pool holds %lld more pages after the case than before",
                    (long long)(pool1 - pool0));
    }
    return x->found;
}

/* ---- generating cases */

static unsigned emit(struct step *steps, unsigned n, struct step s)
{
    if (n < MAX_STEPS)
        steps[n++] = s;
    return n;
}

static unsigned lifecycle(struct rng *r, struct step *st, unsigned n, uint8_t slot, int through_run)
{
    uint32_t pc = 1 + (uint32_t)below(r, HV_MAX_VPS_PER_PARTITION);
    uint32_t nvp = 1 + (uint32_t)below(r, pc);
    n = emit(st, n, (struct step){ .op = OP_CREATE, .slot = slot });
    n = emit(st, n, (struct step){ .op = OP_SET_PROP, .slot = slot, .sub = 0, .a = pc - 1 });
    /* Exceptions exit to the VMM: random guest code then ends its run at its first fault instead of
     * looping through a garbage IVT, which floods Bochs' log (and a flooded log can deadlock Bochs 3.0:
     * its SIGALRM handler logs too; docs/fuzzing.md). */
    n = emit(st, n, (struct step){ .op = OP_SET_PROP, .slot = slot, .sub = 1, .a = rnd(r) | EXT_EXIT_EXCEPTION_BIT });
    if (chance(r, 30)) n = emit(st, n, (struct step){ .op = OP_SET_PROP, .slot = slot, .sub = 3, .a = rnd(r), .seed = rnd(r) });
    n = emit(st, n, (struct step){ .op = OP_SET_PROP, .slot = slot, .sub = 2, .a = chance(r, 10) ? rnd(r) : 0xFFFFFFFFull });
    if (chance(r, 20)) n = emit(st, n, (struct step){ .op = OP_SET_PROP, .slot = slot, .sub = 4 });
    if (chance(r, 40)) n = emit(st, n, (struct step){ .op = OP_GET_PROP, .slot = slot, .sub = (uint32_t)below(r, 6), .a = rnd(r) });
    n = emit(st, n, (struct step){ .op = OP_SETUP, .slot = slot });
    /* guest memory: arena pages 0..15 at GPA 0 (code at 0x1000), sometimes more above */
    n = emit(st, n, (struct step){ .op = OP_MAP, .slot = slot, .sub = 3, .a = 0, .b = 0, .c = 7 });
    n = emit(st, n, (struct step){ .op = OP_MAP, .slot = slot, .sub = 3, .a = 8, .b = 8, .c = 7 });
    if (chance(r, 40))
        n = emit(st, n, (struct step){ .op = OP_MAP, .slot = slot, .sub = (uint32_t)below(r, 4), .a = 16 + below(r, 16),
                                       .b = 0x40 + below(r, 0x80), .c = below(r, 8) });
    for (uint32_t v = 0; v < nvp; v++)
        n = emit(st, n, (struct step){ .op = OP_CREATE_VP, .slot = slot, .vp = v });
    n = emit(st, n, (struct step){ .op = OP_SET_REGS, .slot = slot, .sub = 0, .seed = rnd(r) });
    uint64_t sn = below(r, 100) < 8 ? N_SNIPPETS - 1 : below(r, N_SNIPPETS - 1);
    n = emit(st, n, (struct step){ .op = OP_WRITE_GPA, .slot = slot, .sub = 0, .a = sn, .seed = rnd(r) });
    if (!through_run)
        return n;
    unsigned runs = 1 + (unsigned)below(r, 3);
    for (unsigned i = 0; i < runs; i++) {
        if (chance(r, 25)) n = emit(st, n, (struct step){ .op = OP_CANCEL, .slot = slot, .vp = (uint32_t)below(r, nvp) });
        if (chance(r, 30)) n = emit(st, n, (struct step){ .op = OP_SET_REGS, .slot = slot, .sub = (uint32_t)below(r, 4),
                                                          .vp = (uint32_t)below(r, nvp), .seed = rnd(r) });
        /* a third of the runs set RIP/GPRs in the Run call itself (ABI 1.3) */
        if (chance(r, 33)) n = emit(st, n, (struct step){ .op = OP_RUN_REGS, .slot = slot, .vp = 0,
                                                          .sub = (uint32_t)below(r, 4), .seed = rnd(r) });
        else n = emit(st, n, (struct step){ .op = OP_RUN, .slot = slot, .vp = 0, .a = rnd(r) });
        if (chance(r, 20)) n = emit(st, n, (struct step){ .op = OP_WRITE_GPA, .slot = slot, .sub = (uint32_t)below(r, 3),
                                                          .a = below(r, N_SNIPPETS - 1), .seed = rnd(r) });
    }
    if (chance(r, 40)) n = emit(st, n, (struct step){ .op = OP_GET_REGS, .slot = slot, .vp = (uint32_t)below(r, nvp), .seed = rnd(r) });
    if (chance(r, 40)) n = emit(st, n, (struct step){ .op = OP_TRANSLATE, .slot = slot, .a = rnd(r), .b = rnd(r),
                                                      .c = chance(r, 50) ? below(r, 0x20000) : rnd(r) });
    if (chance(r, 40)) n = emit(st, n, (struct step){ .op = OP_READ_GPA, .slot = slot, .sub = (uint32_t)below(r, 3), .seed = rnd(r) });
    if (chance(r, 30)) n = emit(st, n, (struct step){ .op = OP_UNMAP, .slot = slot, .sub = (uint32_t)below(r, 8),
                                                      .b = below(r, 0x20), .c = below(r, 16) });
    if (chance(r, 50)) n = emit(st, n, (struct step){ .op = OP_DELETE_VP, .slot = slot, .vp = (uint32_t)below(r, nvp) });
    if (chance(r, 20)) n = emit(st, n, (struct step){ .op = OP_CANCEL, .slot = slot, .vp = (uint32_t)below(r, 4) });
    n = emit(st, n, (struct step){ .op = OP_DELETE, .slot = slot });
    return n;
}

/* One field of step s corrupted; the choice depends on what the step has. */
static void corrupt_one(struct rng *r, struct step *s)
{
    uint8_t choices[8];
    unsigned k = 0;
    int has_id = s->op != OP_CREATE && s->op != OP_INFO;
    int has_vp = (s->op >= OP_CREATE_VP && s->op <= OP_CANCEL && s->op != OP_INFO) || s->op == OP_RUN_REGS;
    int has_field = s->op == OP_SET_PROP || s->op == OP_GET_PROP || s->op == OP_MAP || s->op == OP_UNMAP ||
                    s->op == OP_CREATE_VP || s->op == OP_SET_REGS || s->op == OP_GET_REGS || s->op == OP_WRITE_GPA ||
                    s->op == OP_READ_GPA || s->op == OP_RUN_REGS;
    choices[k++] = C_IN_BLOCK;
    choices[k++] = C_OUT_BLOCK;
    choices[k++] = C_CODE;
    if (has_id) { choices[k++] = C_ID_FORGED; choices[k++] = C_ID_STALE; }
    if (has_vp) choices[k++] = C_VP;
    if (has_field) { choices[k++] = C_FIELD; choices[k++] = C_FIELD; }
    s->corrupt = choices[below(r, k)];
    switch (s->corrupt) {
    case C_ID_FORGED: {
        static const uint64_t forged[] = { 0, ~0ull, 1ull << 63, 0x7777ull << 32 };
        s->bad = chance(r, 50) ? forged[below(r, 4)] : rnd(r) | 1ull << 40;
        break;
    }
    case C_ID_STALE:
        s->bad = n_stale ? stale_ids[below(r, n_stale < 16 ? n_stale : 16)] : 1ull << 41;
        break;
    case C_VP: {
        static const uint32_t vps[] = { 4, 5, 0xFFFFFFFF, 0x80000000, 64 };
        s->bad = chance(r, 50) ? vps[below(r, 5)] : s->vp + 1 + below(r, 3);
        break;
    }
    default:
        s->bad = rnd(r);
        break;
    }
}

static unsigned generate(uint64_t seed, uint64_t index, struct step *st)
{
    struct rng r = case_rng(seed, index);
    unsigned n = 0;
    uint64_t kind = below(&r, 100);
    if (kind < 70) {
        /* lifecycle with one mutation, sometimes two partitions interleaved */
        struct step a[MAX_STEPS], b[MAX_STEPS];
        unsigned na = lifecycle(&r, a, 0, 0, 1), nb = 0;
        if (chance(&r, 20))
            nb = lifecycle(&r, b, 0, 1, 1);
        for (unsigned i = 0, j = 0; i < na || j < nb;)
            n = emit(st, n, (j >= nb || (i < na && chance(&r, 50))) ? a[i++] : b[j++]);
        uint64_t how = below(&r, 100);
        if (how < 70) {
            corrupt_one(&r, &st[below(&r, n)]);
        } else if (how < 80) {   /* a cancel at an odd moment */
            unsigned at = (unsigned)below(&r, n + 1);
            struct step c = { .op = OP_CANCEL, .slot = (uint8_t)below(&r, SLOTS), .vp = (uint32_t)below(&r, 4) };
            if (n < MAX_STEPS) {
                memmove(&st[at + 1], &st[at], (n - at) * sizeof st[0]);
                st[at] = c;
                n++;
            }
        } else if (how < 90) {   /* a step doubled, or moved earlier */
            unsigned from = (unsigned)below(&r, n), to = (unsigned)below(&r, from + 1);
            struct step c = st[from];
            if (chance(&r, 50) && n < MAX_STEPS) {
                memmove(&st[to + 1], &st[to], (n - to) * sizeof st[0]);
                st[to] = c;
                n++;
            } else {
                memmove(&st[to + 1], &st[to], (from - to) * sizeof st[0]);
                st[to] = c;
            }
        } else {                 /* calls after the delete: the handle is stale now */
            static const uint8_t after[] = { OP_RUN, OP_CANCEL, OP_MAP, OP_CREATE_VP, OP_SET_REGS, OP_READ_GPA,
                                             OP_SETUP, OP_DELETE, OP_GET_PROP, OP_UNMAP, OP_RUN_REGS };
            n = emit(st, n, (struct step){ .op = after[below(&r, sizeof after)], .slot = 0, .seed = rnd(&r) });
        }
        for (unsigned i = 0; i < n; i++)
            st[i].whv = chance(&r, 25);
    } else {
        /* a valid prefix, then random calls */
        n = lifecycle(&r, st, 0, 0, 0);
        unsigned calls = 10 + (unsigned)below(&r, 40);
        for (unsigned i = 0; i < calls; i++) {
            if (chance(&r, 15) && chance(&r, 30)) {   /* the writes in the Run call: sometimes one mutation */
                struct step rr = { .op = OP_RUN_REGS, .slot = 0, .vp = 0, .sub = (uint32_t)below(&r, 4), .seed = rnd(&r) };
                if (chance(&r, 40))
                    corrupt_one(&r, &rr);
                n = emit(st, n, rr);
            } else if (chance(&r, 12))
                n = emit(st, n, (struct step){ .op = OP_RUN, .slot = 0, .vp = 0, .a = rnd(&r) });
            else if (chance(&r, 10))
                n = emit(st, n, (struct step){ .op = OP_SET_REGS, .slot = 0, .sub = 3, .seed = rnd(&r) });
            else if (chance(&r, 5))
                n = emit(st, n, (struct step){ .op = OP_INFO, .sub = (uint32_t)below(&r, 3) });
            else
                n = emit(st, n, (struct step){ .op = OP_RAW, .seed = rnd(&r) });
        }
    }
    return n;
}

/* ---- minimizing: drop steps one at a time while the same finding (same op, or a leak) remains */

static void minimize_and_report(const struct fuzz_env *env, struct fuzz_result *res, uint64_t index,
                                struct step *steps, unsigned n, const struct exec *first)
{
    static struct step trial[MAX_STEPS];
    static struct exec x;
    struct fuzz_result scratch;
    unsigned replays = 0;
    int leak = first->found_leak && first->found_op == OP_COUNT;
    uint8_t op = first->found_op;
    for (int changed = 1; changed && replays < 400;) {
        changed = 0;
        for (int i = (int)n - 1; i >= 0 && replays < 400; i--) {
            unsigned m = 0;
            for (unsigned j = 0; j < n; j++)
                if (j != (unsigned)i) trial[m++] = steps[j];
            memset(&scratch, 0, sizeof scratch);
            replays++;
            execute(env, &scratch, trial, m, &x, 0);
            int same = leak ? x.found_leak : x.found && x.found_op == op;
            if (same) {
                memcpy(steps, trial, m * sizeof steps[0]);
                n = m;
                changed = 1;
            }
        }
    }
    fuzz_say("fuzz: FINDING seed=%llu case=%llu: %s", (unsigned long long)env->seed, (unsigned long long)index,
             first->finding);
    fuzz_say("# shortest reproducer found (%u steps after %u replays; rerun with seed = %llu, case = %llu):", n,
             replays, (unsigned long long)env->seed, (unsigned long long)index);
    for (unsigned i = 0; i < n; i++) {
        char d[200];
        describe(&steps[i], d, sizeof d);
        fuzz_say("#   %u: %s", i, d);
    }
    (void)res;
}

void fuzz_run(const struct fuzz_env *env, struct fuzz_result *res)
{
    static struct step steps[MAX_STEPS], kept[MAX_STEPS];
    static struct exec x;
    uint64_t sum0 = 0, sum = 0;
    uint32_t parts, vps;
    unsigned reported = 0;
    fuzz_self_check(&sum0, &parts, &vps);
    uint64_t first = env->only_case >= 0 ? (uint64_t)env->only_case : 0;
    for (uint64_t index = first;; index++) {
        if (env->only_case >= 0 ? index != (uint64_t)env->only_case : fuzz_calls >= env->calls_target)
            break;
        unsigned n = generate(env->seed, index, steps);
        fuzz_mark("case %llu calls %llu", (unsigned long long)index, (unsigned long long)fuzz_calls);
        if (env->only_case >= 0)
            fuzz_say("# case %llu: %u steps", (unsigned long long)index, n);
        memcpy(kept, steps, n * sizeof steps[0]);
        res->cases++;
        if (execute(env, res, steps, n, &x, env->only_case >= 0)) {
            res->findings++;
            res->leak_cases += x.found_leak;
            if (reported++ < 5) {
                struct exec first_x = x;
                uint64_t calls = fuzz_calls;
                minimize_and_report(env, res, index, kept, n, &first_x);
                fuzz_say("# (minimizing took %llu calls)", (unsigned long long)(fuzz_calls - calls));
            } else {
                fuzz_say("fuzz: FINDING seed=%llu case=%llu: %s", (unsigned long long)env->seed,
                         (unsigned long long)index, x.finding);
            }
        }
        if (index % 256 == 255 || env->only_case >= 0) {
            if (!fuzz_version_ok()) {
                res->faults++;
                fuzz_say("fuzz: FINDING seed=%llu case=%llu: GET_VERSION no longer answers", (unsigned long long)env->seed,
                         (unsigned long long)index);
                break;
            }
            if (!fuzz_self_check(&sum, &parts, &vps) || sum != sum0) {
                res->faults++;
                fuzz_say("fuzz: FINDING seed=%llu: the hypervisor's checksum changed between cases %llu and %llu",
                         (unsigned long long)env->seed, (unsigned long long)(index < 255 ? 0 : index - 255),
                         (unsigned long long)index);
                sum0 = sum;
            }
        }
    }
}
