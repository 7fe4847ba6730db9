/* One test's guest, driven through the WHV API as a VMM drives it: the partition, its memory (fresh
 * zeroed root pages per map), the VP in the script's starting mode, and the runs, each bounded by a
 * watchdog. Everything a test allocates is released by guest_end. */
#include <efi.h>
#include <efilib.h>
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "boot/efi_mp.h"
#include "tests/payload/exitrun.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define PAGE 4096ull

/* The runner's own guest structures (the scripts never use this range): GDT, then the long-mode page
 * tables identity-mapping the first 4 GiB with 2 MiB pages (PML4, PDPT, 4 PDs). */
#define RUNNER_GPA 0xF0000ull
#define RUNNER_BYTES 0x10000ull
#define GDT_AT 0x0000
#define PML4_AT 0x1000
#define PDPT_AT 0x2000
#define PD_AT 0x3000
#define PD_COUNT 4

/* User-accessible too, so that a script can drop to CPL 3 without building its own tables. */
#define PTE_PRESENT_RW_USER 0x7ull
#define PDE_2MB 0x80ull

#define GDT_CODE32 0x00CF9A000000FFFFull
#define GDT_CODE64 0x00AF9A000000FFFFull
#define GDT_DATA 0x00CF92000000FFFFull
#define GDT_ENTRIES 3

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME_LMA 0x500ull

#define START_RSP 0x8000
#define START_RFLAGS 0x2

/* A run that has not exited after this long is canceled: a guest that never exits fails its test
 * instead of hanging the suite. */
#define WATCHDOG_100NS 20000000ull
#define WATCHDOG_SECONDS 2

/* Exit buffers live inside a larger area filled with a canary, so a run that writes past the size it
 * was given is caught. */
#define RUN_AREA_BYTES 1024
#define CANARY 0xA5

struct mode_setup {
    const char *name;
    uint16_t code_selector, data_selector;
    uint32_t limit;
    uint16_t code_attributes, data_attributes;
    uint64_t gdt_code, cr0, cr3, cr4, efer;
};

static const struct mode_setup mode_setups[] = {
    [PACK_MODE_REAL] = { "real", 0, 0, 0xFFFF, 0x9B, 0x93, GDT_CODE32, CR0_ET, 0, 0, 0 },
    [PACK_MODE_PROTECTED] = { "protected", 0x08, 0x10, 0xFFFFFFFF, 0xC09B, 0xC093, GDT_CODE32, CR0_PE | CR0_ET,
                              0, 0, 0 },
    [PACK_MODE_LONG] = { "long", 0x08, 0x10, 0xFFFFFFFF, 0xA09B, 0xC093, GDT_CODE64, CR0_PG | CR0_PE | CR0_ET,
                         RUNNER_GPA + PML4_AT, CR4_PAE, EFER_LME_LMA },
};

/* ---- root pages */

static uint64_t pages_alloc(uint64_t bytes)
{
    EFI_PHYSICAL_ADDRESS pa;
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, bytes / PAGE, &pa) != EFI_SUCCESS)
        return 0;
    memset((void *)(uintptr_t)pa, 0, bytes);
    return pa;
}

static void pages_free(uint64_t pa, uint64_t bytes)
{
    if (pa)
        uefi_call_wrapper(BS->FreePages, 2, pa, bytes / PAGE);
}

/* ---- the watchdog: a one-shot timer whose notification cancels the run. The root takes the timer
 * interrupt in the middle of the Run call (the hypervisor hands external interrupts to the root and
 * re-executes the call afterwards), the notification cancels, and the resumed call returns Canceled. */

static EFI_EVENT watchdog_event;
static WHV_PARTITION_HANDLE volatile watchdog_partition;
static volatile int watchdog_fired;

static VOID EFI_CALLBACK watchdog_expired(EFI_EVENT event, VOID *context)
{
    watchdog_fired = 1;
    WHvCancelRunVirtualProcessor(watchdog_partition, 0, 0);
}

int watchdog_init(void)
{
    return uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, watchdog_expired,
                             NULL, &watchdog_event) == EFI_SUCCESS;
}

void watchdog_fini(void) { uefi_call_wrapper(BS->CloseEvent, 1, watchdog_event); }

static void watchdog_arm(WHV_PARTITION_HANDLE part)
{
    watchdog_partition = part;
    watchdog_fired = 0;
    uefi_call_wrapper(BS->SetTimer, 3, watchdog_event, TimerRelative, WATCHDOG_100NS);
}

/* 1 when the watchdog canceled the run. */
static int watchdog_disarm(void)
{
    uefi_call_wrapper(BS->SetTimer, 3, watchdog_event, TimerCancel, 0);
    return watchdog_fired;
}

/* ---- the partition */

void guest_begin(struct test *t)
{
    if (!whv_ok(t, WHvCreatePartition(&t->part), "the test's partition", "WHvCreatePartition")) {
        t->part = NULL;
        return;
    }
    /* What every WHV VMM sets (Windows refuses setup without it); a script's own value comes later. */
    WHV_PARTITION_PROPERTY count;
    memset(&count, 0, sizeof count);
    count.ProcessorCount = 1;
    whv_ok(t, WHvSetPartitionProperty(t->part, WHvPartitionPropertyCodeProcessorCount, &count, sizeof count),
           "ProcessorCount 1", "WHvSetPartitionProperty");
}

void guest_end(struct test *t)
{
    if (t->vp_created)
        whv_ok(t, WHvDeleteVirtualProcessor(t->part, 0), "end of test", "WHvDeleteVirtualProcessor");
    /* Pages a partition may still map must not go back to the firmware: leaked on purpose. */
    if (t->part && !whv_ok(t, WHvDeletePartition(t->part), "end of test (its memory is left allocated)",
                           "WHvDeletePartition"))
        return;
    pages_free(t->runner_area, RUNNER_BYTES);
    for (unsigned i = 0; i < t->n_maps; i++)
        pages_free(t->maps[i].host, t->maps[i].size);
}

void guest_property(struct test *t, const struct record *r)
{
    struct pack_property p;
    record_read(r, &p, sizeof p);
    const uint8_t *value = r->data + sizeof p;
    char what[40];
    fmt_snprintf(what, sizeof what, "property 0x%x", p.code);
    if (!whv_ok(t, WHvSetPartitionProperty(t->part, p.code, value, p.size), what, "WHvSetPartitionProperty"))
        return;
    if (p.code == WHvPartitionPropertyCodeExceptionExitBitmap) {
        t->exception_bitmap = 0;
        memcpy(&t->exception_bitmap, value, MIN(p.size, sizeof t->exception_bitmap));
    }
}

/* ---- guest memory */

static void build_gdt(uint8_t *area, const struct mode_setup *m)
{
    const uint64_t gdt[GDT_ENTRIES] = { 0, m->gdt_code, GDT_DATA };
    memcpy(area + GDT_AT, gdt, sizeof gdt);
}

static void build_page_tables(uint8_t *area)
{
    uint64_t *pml4 = (uint64_t *)(area + PML4_AT), *pdpt = (uint64_t *)(area + PDPT_AT);
    uint64_t *pd = (uint64_t *)(area + PD_AT);
    pml4[0] = (RUNNER_GPA + PDPT_AT) | PTE_PRESENT_RW_USER;
    for (uint64_t i = 0; i < PD_COUNT; i++)
        pdpt[i] = (RUNNER_GPA + PD_AT + i * PAGE) | PTE_PRESENT_RW_USER;
    for (uint64_t i = 0; i < PD_COUNT * 512; i++)
        pd[i] = (i << 21) | PDE_2MB | PTE_PRESENT_RW_USER;
}

/* The runner's area at 0xF0000, in every mode (real-mode scripts may switch to protected mode with it). */
static int runner_area_map(struct test *t)
{
    t->runner_area = pages_alloc(RUNNER_BYTES);
    if (!t->runner_area) {
        stop(t, "cannot allocate the runner's 64 KiB guest area");
        return 0;
    }
    uint8_t *area = (uint8_t *)(uintptr_t)t->runner_area;
    build_gdt(area, &mode_setups[t->mode]);
    build_page_tables(area);
    return whv_ok(t, WHvMapGpaRange(t->part, area, RUNNER_GPA, RUNNER_BYTES,
                                    WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite),
                  "the runner's area at GPA 0xF0000", "WHvMapGpaRange");
}

/* WHvSetupPartition, once, before the first map or VP use: properties met so far are in. */
static int setup(struct test *t)
{
    if (t->setup_done)
        return 1;
    t->setup_done = 1;
    return whv_ok(t, WHvSetupPartition(t->part), "setup", "WHvSetupPartition") && runner_area_map(t);
}

void guest_map(struct test *t, const struct record *r)
{
    struct pack_map m;
    record_read(r, &m, sizeof m);
    char what[64];
    fmt_snprintf(what, sizeof what, "map 0x%llx 0x%llx", (unsigned long long)m.gpa, (unsigned long long)m.size);
    if (!setup(t))
        return;
    if (m.size == 0 || (m.gpa | m.size) % PAGE) {
        stop(t, "%s: GPA and size must be non-zero 4 KiB multiples", what);
        return;
    }
    if (t->n_maps == TEST_MAX_MAPS) {
        stop(t, "%s: more than %u maps in one test", what, TEST_MAX_MAPS);
        return;
    }
    uint64_t host = pages_alloc(m.size);
    if (!host) {
        stop(t, "%s: cannot allocate %llu KiB of root memory", what, (unsigned long long)(m.size >> 10));
        return;
    }
    t->maps[t->n_maps++] = (struct guest_map){ m.gpa, m.size, host, 1 };
    whv_ok(t, WHvMapGpaRange(t->part, (void *)(uintptr_t)host, m.gpa, m.size, (WHV_MAP_GPA_RANGE_FLAGS)m.flags), what,
           "WHvMapGpaRange");
}

/* The host pages stay until the test ends; ranges wholly inside the unmap no longer take code or data
 * (a partial unmap leaves its range listed: `data` there would land in pages the guest cannot see). */
void guest_unmap(struct test *t, const struct record *r)
{
    struct pack_unmap u;
    record_read(r, &u, sizeof u);
    char what[64];
    fmt_snprintf(what, sizeof what, "unmap 0x%llx 0x%llx", (unsigned long long)u.gpa, (unsigned long long)u.size);
    if (!setup(t) || !whv_ok(t, WHvUnmapGpaRange(t->part, u.gpa, u.size), what, "WHvUnmapGpaRange"))
        return;
    for (unsigned i = 0; i < t->n_maps; i++) {
        struct guest_map *m = &t->maps[i];
        if (m->gpa >= u.gpa && m->gpa - u.gpa + m->size <= u.size)
            m->mapped = 0;
    }
}

static const struct guest_map *map_containing(const struct test *t, uint64_t gpa)
{
    for (unsigned i = 0; i < t->n_maps; i++)
        if (t->maps[i].mapped && gpa - t->maps[i].gpa < t->maps[i].size)
            return &t->maps[i];
    return NULL;
}

/* `code` and `data`: written into the root pages behind the GPAs, across adjacent maps if need be. */
void guest_bytes(struct test *t, const struct record *r)
{
    uint64_t gpa;
    record_read(r, &gpa, sizeof gpa);
    const uint8_t *bytes = r->data + sizeof gpa;
    uint64_t left = r->length - sizeof gpa;
    while (left) {
        const struct guest_map *m = map_containing(t, gpa);
        if (!m) {
            stop(t, "code/data outside mapped memory: GPA 0x%llx (%llu bytes)", (unsigned long long)gpa,
                 (unsigned long long)left);
            return;
        }
        uint64_t chunk = MIN(left, m->gpa + m->size - gpa);
        memcpy((uint8_t *)(uintptr_t)(m->host + (gpa - m->gpa)), bytes, chunk);
        gpa += chunk;
        bytes += chunk;
        left -= chunk;
    }
}

/* ---- the VP */

struct register_list {
    UINT32 count;
    WHV_REGISTER_NAME names[32];
    WHV_REGISTER_VALUE values[32];
};

static WHV_REGISTER_VALUE *register_add(struct register_list *l, WHV_REGISTER_NAME name)
{
    l->names[l->count] = name;
    memset(&l->values[l->count], 0, sizeof l->values[0]);
    return &l->values[l->count++];
}

static void segment_add(struct register_list *l, WHV_REGISTER_NAME name, uint16_t selector, uint32_t limit,
                        uint16_t attributes)
{
    WHV_X64_SEGMENT_REGISTER *s = &register_add(l, name)->Segment;
    s->Selector = selector;
    s->Limit = limit;
    s->Attributes = attributes;
}

/* The starting state of the public doc: the mode's segments and control registers, general registers 0,
 * RSP 0x8000, RFLAGS 0x2, RIP the first code block. TR is a busy 32/64-bit TSS so VM entry accepts it in
 * every mode; the IDT stays at the reset state (base 0, limit 0xFFFF): scripts that take interrupts load
 * their own. The script's `set` records come after this and override it. */
static int set_mode_registers(struct test *t)
{
    const struct mode_setup *m = &mode_setups[t->mode];
    struct register_list l = { .count = 0 };
    for (WHV_REGISTER_NAME gpr = WHvX64RegisterRax; gpr <= WHvX64RegisterR15; gpr++)
        register_add(&l, gpr)->Reg64 = gpr == WHvX64RegisterRsp ? START_RSP : 0;
    register_add(&l, WHvX64RegisterRip)->Reg64 = t->start_rip;
    register_add(&l, WHvX64RegisterRflags)->Reg64 = START_RFLAGS;
    segment_add(&l, WHvX64RegisterCs, m->code_selector, m->limit, m->code_attributes);
    const WHV_REGISTER_NAME data[] = { WHvX64RegisterDs, WHvX64RegisterEs, WHvX64RegisterFs, WHvX64RegisterGs,
                                       WHvX64RegisterSs };
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        segment_add(&l, data[i], m->data_selector, m->limit, m->data_attributes);
    segment_add(&l, WHvX64RegisterTr, 0, 0x67, 0x8B);
    WHV_X64_TABLE_REGISTER *gdtr = &register_add(&l, WHvX64RegisterGdtr)->Table;
    gdtr->Base = RUNNER_GPA + GDT_AT;
    gdtr->Limit = GDT_ENTRIES * 8 - 1;
    register_add(&l, WHvX64RegisterEfer)->Reg64 = m->efer;
    register_add(&l, WHvX64RegisterCr4)->Reg64 = m->cr4;
    register_add(&l, WHvX64RegisterCr3)->Reg64 = m->cr3;
    register_add(&l, WHvX64RegisterCr0)->Reg64 = m->cr0;
    char what[40];
    fmt_snprintf(what, sizeof what, "mode %s: the starting registers", m->name);
    return whv_ok(t, WHvSetVirtualProcessorRegisters(t->part, 0, l.names, l.count, l.values), what,
                  "WHvSetVirtualProcessorRegisters");
}

int guest_vp(struct test *t)
{
    if (t->vp_created)
        return 1;
    if (!setup(t) || !whv_ok(t, WHvCreateVirtualProcessor(t->part, 0, 0), "VP 0", "WHvCreateVirtualProcessor"))
        return 0;
    t->vp_created = 1;
    return set_mode_registers(t);
}

int guest_get_regs(struct test *t, const WHV_REGISTER_NAME *names, UINT32 count, WHV_REGISTER_VALUE *values,
                   const char *what)
{
    return whv_ok(t, WHvGetVirtualProcessorRegisters(t->part, 0, names, count, values), what,
                  "WHvGetVirtualProcessorRegisters");
}

void guest_set_reg(struct test *t, const struct record *r)
{
    struct pack_set_reg s;
    record_read(r, &s, sizeof s);
    WHV_REGISTER_NAME name = s.name;
    WHV_REGISTER_VALUE value;
    memcpy(&value, s.value, sizeof value);
    char what[40];
    fmt_snprintf(what, sizeof what, "set register 0x%x", s.name);
    if (guest_vp(t))
        whv_ok(t, WHvSetVirtualProcessorRegisters(t->part, 0, &name, 1, &value), what,
               "WHvSetVirtualProcessorRegisters");
}

void guest_advance(struct test *t)
{
    if (!t->have_exit) {
        stop(t, "advance before the first run");
        return;
    }
    WHV_REGISTER_NAME name = WHvX64RegisterRip;
    WHV_REGISTER_VALUE rip;
    memset(&rip, 0, sizeof rip);
    rip.Reg64 = t->last.VpContext.Rip + t->last.VpContext.InstructionLength;
    whv_ok(t, WHvSetVirtualProcessorRegisters(t->part, 0, &name, 1, &rip), "advance", "WHvSetVirtualProcessorRegisters");
}

void guest_cancel(struct test *t)
{
    if (guest_vp(t))
        whv_ok(t, WHvCancelRunVirtualProcessor(t->part, 0, 0), "cancel", "WHvCancelRunVirtualProcessor");
}

/* The run may write min(size, 224) bytes on success and none on failure; the rest of the area must
 * still hold the canary. */
static void check_buffer_bounds(struct test *t, const uint8_t *area, uint32_t size, HRESULT hr)
{
    uint32_t may_write = FAILED(hr) ? 0 : MIN(size, (uint32_t)sizeof(WHV_RUN_VP_EXIT_CONTEXT));
    for (uint32_t i = may_write; i < RUN_AREA_BYTES; i++)
        if (area[i] != CANARY) {
            problem(t, "%s:%u: run %u: WHvRunVirtualProcessor wrote byte %u of the exit buffer, past the %u it may write",
                    t->file, t->run_line, size, i, may_write);
            return;
        }
}

void guest_run(struct test *t, const struct record *r)
{
    struct pack_run run;
    record_read(r, &run, sizeof run);
    t->run_line = run.line;
    char what[TEST_FILE_BYTES + 24];
    fmt_snprintf(what, sizeof what, "%s:%u: run", t->file, run.line);
    if (!guest_vp(t))
        return;
    if (run.size > RUN_AREA_BYTES) {
        stop(t, "%s %u: the runner's exit buffers hold at most %u bytes", what, run.size, RUN_AREA_BYTES);
        return;
    }
    uint8_t area[RUN_AREA_BYTES] __attribute__((aligned(16)));
    memset(area, CANARY, sizeof area);
    watchdog_arm(t->part);
    HRESULT hr = WHvRunVirtualProcessor(t->part, 0, area, run.size);
    int canceled_by_watchdog = watchdog_disarm();
    check_buffer_bounds(t, area, run.size, hr);
    if (!whv_ok(t, hr, what, "WHvRunVirtualProcessor"))
        return;
    memset(&t->last, 0, sizeof t->last);
    memcpy(&t->last, area, MIN(run.size, (uint32_t)sizeof t->last));
    t->have_exit = 1;
    check_exit(t);
    /* The guest never exited (or exited just as the timer fired, leaving a cancel pending): either way the
     * rest of the test would only report echoes of it. */
    if (canceled_by_watchdog)
        stop(t, "%s: no exit within %u s: the runner's watchdog canceled it (exit 0x%x)", what, WATCHDOG_SECONDS,
             t->last.ExitReason);
}
