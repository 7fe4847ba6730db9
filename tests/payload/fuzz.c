/* fuzz.efi: the in-hypervisor hypercall fuzzer, started in the root partition as the loader's next image
 * (`make fuzz`, tools/run-fuzz.sh; docs/fuzzing.md). It reads \EFI\hvx\fuzz.cfg:
 *
 *   seed = 1          the PRNG seed (xorshift64*; the firmware's RNG is never used)
 *   calls = 200000    hypercalls to make (cases run until the count is reached)
 *   case = N          optional: run only case N of the seed, printing every step (a reproducer)
 *   exits = 1         optional: afterwards chain-load \EFI\hvx\exits.efi (the exit-script suite)
 *
 * takes the hypervisor's baseline (pool pages, self-check checksum, live partitions and VPs), runs the
 * engine (tests/payload/fuzz_engine.c), proves the hypervisor still answers with the same checksum and
 * pool usage, prints TAP lines and "fuzz: N calls, N hypervisor faults, N leaked pages", runs the exit
 * suite, checks the pool again, and ends with "fuzz: end of run". */
#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include "tests/payload/console.h"
#include "api/hv_abi.h"
#include "api/hv_transport.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "boot/efi_mp.h"
#include "tests/payload/fuzz.h"

/* ---- the hypercall with its traps. A VMCALL the hypervisor answers with an exception instead of a
 * status (#UD, #GP, #PF) resumes at fuzz_vmcall_recover with RAX = FUZZ_ROOT_FAULT | vector; the same
 * exception anywhere else goes to the firmware's handler, as before. */

uint64_t fuzz_vmcall(uint64_t code, uint64_t in_gpa, uint64_t out_gpa);
void fuzz_trap_ud(void), fuzz_trap_gp(void), fuzz_trap_pf(void);
uint64_t fuzz_old_ud, fuzz_old_gp, fuzz_old_pf, fuzz_root_faults;

__asm__(
    ".text\n"
    ".globl fuzz_vmcall\n"
    "fuzz_vmcall:\n"
    "    mov %rdi, %rcx\n"
    "    mov %rdx, %r8\n"
    "    mov %rsi, %rdx\n"
    "fuzz_vmcall_insn:\n"
    "    vmcall\n"
    "fuzz_vmcall_recover:\n"
    "    ret\n"
    /* One stub per vector: a fault on the VMCALL resumes after it with RAX = 0xFA0000vv and is counted;
     * any other goes to the firmware's handler. rip_at: where the saved RIP is (8 with an error code,
     * which is popped before IRETQ; 0 without). */
    ".macro fuzz_trap name, vector, rip_at, old\n"
    ".globl \\name\n"
    "\\name:\n"
    "    push %rax\n"
    "    lea fuzz_vmcall_insn(%rip), %rax\n"
    "    cmp %rax, 8+\\rip_at(%rsp)\n"
    "    jne 1f\n"
    "    lea fuzz_vmcall_recover(%rip), %rax\n"
    "    mov %rax, 8+\\rip_at(%rsp)\n"
    "    lock incq fuzz_root_faults(%rip)\n"
    "    pop %rax\n"
    "    .if \\rip_at\n"
    "    add $8, %rsp\n"
    "    .endif\n"
    "    mov $(0xFA000000 + \\vector), %eax\n"
    "    iretq\n"
    "1:  pop %rax\n"
    "    jmp *\\old(%rip)\n"
    ".endm\n"
    "fuzz_trap fuzz_trap_ud, 6, 0, fuzz_old_ud\n"
    "fuzz_trap fuzz_trap_gp, 13, 8, fuzz_old_gp\n"
    "fuzz_trap fuzz_trap_pf, 14, 8, fuzz_old_pf\n");

struct idt_gate { uint16_t lo, sel; uint8_t ist, attr; uint16_t mid; uint32_t hi, zero; };
static struct idt_gate saved_gates[3];
static const int trap_vectors[3] = { 6, 13, 14 };

static uint64_t gate_target(const struct idt_gate *g)
{
    return (uint64_t)g->lo | (uint64_t)g->mid << 16 | (uint64_t)g->hi << 32;
}

static void traps_install(int on)
{
    struct idt_gate *idt = (struct idt_gate *)(uintptr_t)sidt().base;
    void (*handlers[3])(void) = { fuzz_trap_ud, fuzz_trap_gp, fuzz_trap_pf };
    uint64_t *old[3] = { &fuzz_old_ud, &fuzz_old_gp, &fuzz_old_pf };
    for (int i = 0; i < 3; i++) {
        struct idt_gate *g = &idt[trap_vectors[i]];
        if (!on) {
            *g = saved_gates[i];
            continue;
        }
        saved_gates[i] = *g;
        *old[i] = gate_target(g);
        uint64_t h = (uint64_t)(uintptr_t)handlers[i];
        *g = (struct idt_gate){ (uint16_t)h, read_cs(), g->ist, 0x8E, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0 };
    }
}

uint64_t fuzz_calls, fuzz_run_regs_hypercalls;

uint64_t fuzz_call(uint64_t code, uint64_t in_gpa, uint64_t out_gpa)
{
    fuzz_calls++;
    fuzz_run_regs_hypercalls += code == HVCALL_SET_REGISTERS_AND_RUN_VP;
    return fuzz_vmcall(code, in_gpa, out_gpa);
}

/* The WHV library's transport: the same trapped, counted VMCALL. */
static uint64_t fuzz_transport(uint64_t code, const void *in, uint64_t in_gpa, void *out, uint64_t out_gpa)
{
    (void)in;
    (void)out;
    return fuzz_call(code, in_gpa, out_gpa);
}

/* ---- output: ConOut (mirrored to COM1) and port 0xE9 */

void fuzz_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_vline(fmt, ap);
    va_end(ap);
}

void fuzz_mark(const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    for (size_t i = 0; i < n; i++)
        __asm__ volatile("outb %0, $0xE9" : : "a"((uint8_t)line[i]));
}

/* ---- the watchdog (as the exit-script runner's): the root takes the timer interrupt in the middle of
 * the Run call, the notification cancels, and the re-executed call returns Canceled. */

static EFI_EVENT watchdog_event;
static volatile uint64_t watchdog_partition;
static volatile uint32_t watchdog_vp;
static volatile int watchdog_fired;
static struct hv_vp_in watchdog_block __attribute__((aligned(64)));

static VOID EFI_CALLBACK watchdog_expired(EFI_EVENT event, VOID *context)
{
    (void)event;
    (void)context;
    watchdog_fired = 1;
    watchdog_block = (struct hv_vp_in){ watchdog_partition, watchdog_vp, 0 };
    fuzz_call(HVCALL_CANCEL_RUN_VP, (uint64_t)(uintptr_t)&watchdog_block, 0);
}

void fuzz_watchdog_arm(uint64_t partition, uint32_t vp)
{
    watchdog_partition = partition;
    watchdog_vp = vp;
    watchdog_fired = 0;
    uefi_call_wrapper(BS->SetTimer, 3, watchdog_event, TimerRelative, 20000);   /* 2 ms */
}

int fuzz_watchdog_disarm(void)
{
    uefi_call_wrapper(BS->SetTimer, 3, watchdog_event, TimerCancel, 0);
    return watchdog_fired;
}

/* ---- hypervisor health */

static struct hv_version_out version_out __attribute__((aligned(64)));
static struct hv_stats_out stats_out __attribute__((aligned(64)));
static struct hv_self_check_out self_out __attribute__((aligned(64)));

int fuzz_version_ok(void)
{
    memset(&version_out, 0, sizeof version_out);
    uint64_t st = fuzz_call(HVCALL_GET_VERSION, 0, (uint64_t)(uintptr_t)&version_out);
    return st == HV_STATUS_SUCCESS && version_out.magic == HV_VERSION_MAGIC && version_out.abi_version == HV_ABI_VERSION;
}

int fuzz_pool_used(uint64_t *pages)
{
    memset(&stats_out, 0, sizeof stats_out);
    uint64_t st = fuzz_call(HVCALL_GET_STATS, 0, (uint64_t)(uintptr_t)&stats_out);
    *pages = stats_out.pool_pages_used;
    return st == HV_STATUS_SUCCESS && stats_out.pool_pages_total == stats_out.pool_pages_used + stats_out.pool_pages_free;
}

int fuzz_self_check(uint64_t *checksum, uint32_t *partitions, uint32_t *vps)
{
    memset(&self_out, 0, sizeof self_out);
    uint64_t st = fuzz_call(HVCALL_SELF_CHECK, 0, (uint64_t)(uintptr_t)&self_out);
    *checksum = self_out.checksum;
    *partitions = self_out.partitions;
    *vps = self_out.vps;
    return st == HV_STATUS_SUCCESS && self_out.image_bytes != 0 && self_out.image_bytes % 4096 == 0;
}

/* ---- the configuration file */

static EFI_FILE_HANDLE open_root(EFI_HANDLE image, EFI_LOADED_IMAGE **li)
{
    if (uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (VOID **)li) != EFI_SUCCESS)
        return NULL;
    return LibOpenRoot((*li)->DeviceHandle);
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
        else break;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    return v;
}

static int key_is(const char *key, const char *name)
{
    size_t n = strlen(name);
    return strlen(key) == n && memcmp(key, name, n) == 0;
}

/* "key = value" lines; '#' starts a comment. Unknown keys are reported and ignored. */
static void read_config(EFI_HANDLE image, struct fuzz_env *env, int *chain_exits)
{
    EFI_LOADED_IMAGE *li;
    EFI_FILE_HANDLE root = open_root(image, &li), file;
    char text[1024];
    UINTN n = sizeof text - 1;
    if (!root || uefi_call_wrapper(root->Open, 5, root, &file, L"\\EFI\\hvx\\fuzz.cfg", EFI_FILE_MODE_READ, 0)
                     != EFI_SUCCESS) {
        fuzz_say("# fuzz: no \\EFI\\hvx\\fuzz.cfg, defaults: seed %llu, calls %llu",
                 (unsigned long long)env->seed, (unsigned long long)env->calls_target);
        return;
    }
    if (uefi_call_wrapper(file->Read, 3, file, &n, text) != EFI_SUCCESS)
        n = 0;
    text[n] = 0;
    uefi_call_wrapper(file->Close, 1, file);
    uefi_call_wrapper(root->Close, 1, root);
    for (char *line = text; *line;) {
        char *end = line;
        while (*end && *end != '\n') end++;
        char *next = *end ? end + 1 : end;
        *end = 0;
        char key[32];
        unsigned k = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        while (*p && *p != ' ' && *p != '=' && *p != '\r' && k + 1 < sizeof key) key[k++] = *p++;
        key[k] = 0;
        while (*p == ' ' || *p == '=' || *p == '\t') p++;
        if (k && key[0] != '#') {
            uint64_t v = parse_u64(p);
            if (key_is(key, "seed")) env->seed = v;
            else if (key_is(key, "calls")) env->calls_target = v;
            else if (key_is(key, "case")) env->only_case = (int64_t)v;
            else if (key_is(key, "exits")) *chain_exits = v != 0;
            else fuzz_say("# fuzz: fuzz.cfg: unknown key '%s' ignored", key);
        }
        line = next;
    }
}

/* ---- memory: the arena and blocks, the top of RAM, and pages that end a RAM range */

static uint64_t alloc_pages(uint64_t pages)
{
    EFI_PHYSICAL_ADDRESS pa = 0;
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, pages, &pa) != EFI_SUCCESS)
        return 0;
    memset((void *)(uintptr_t)pa, 0, pages * 4096);
    return pa;
}

static uint64_t alloc_at(uint64_t address)
{
    EFI_PHYSICAL_ADDRESS pa = address;
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, 1, &pa) != EFI_SUCCESS)
        return 0;
    memset((void *)(uintptr_t)pa, 0, 4096);
    return pa;
}

static int type_is_ram(UINT32 t)
{
    return t == EfiLoaderCode || t == EfiLoaderData || t == EfiBootServicesCode || t == EfiBootServicesData ||
           t == EfiRuntimeServicesCode || t == EfiRuntimeServicesData || t == EfiConventionalMemory ||
           t == EfiACPIReclaimMemory || t == EfiACPIMemoryNVS || t == 14 /* persistent */;
}

static void scan_memory_map(struct fuzz_env *env)
{
    UINTN entries, key, desc_size;
    UINT32 desc_version;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &desc_size, &desc_version);
    if (!map)
        return;
    uint64_t candidates[8];
    unsigned n_candidates = 0;
    for (UINTN i = 0; i < entries; i++) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((uint8_t *)map + i * desc_size);
        if (!type_is_ram(d->Type))
            continue;
        uint64_t end = d->PhysicalStart + d->NumberOfPages * 4096;
        if (end > env->ram_top)
            env->ram_top = end;
        if (d->Type != EfiConventionalMemory || n_candidates == 8)
            continue;
        int followed = 0;   /* does another RAM range start where this one ends? */
        for (UINTN j = 0; j < entries; j++) {
            EFI_MEMORY_DESCRIPTOR *e = (EFI_MEMORY_DESCRIPTOR *)((uint8_t *)map + j * desc_size);
            followed |= type_is_ram(e->Type) && e->PhysicalStart == end;
        }
        if (!followed && end == env->hv_base)
            env->hv_below_page = alloc_at(end - 4096);   /* the hypervisor follows: not a hole */
        else if (!followed)
            candidates[n_candidates++] = end - 4096;
    }
    FreePool(map);
    for (unsigned i = 0; i < n_candidates && !env->edge_page; i++)
        env->edge_page = alloc_at(candidates[i]);
    if (!env->hv_below_page && env->hv_base >= 0x200000)
        env->hv_below_page = alloc_at(env->hv_base - 4096);
}

/* ---- the exit suite, chain-loaded from the same directory */

static int run_exit_suite(EFI_HANDLE image)
{
    EFI_LOADED_IMAGE *li;
    if (uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (VOID **)&li) != EFI_SUCCESS)
        return 0;
    EFI_DEVICE_PATH *path = FileDevicePath(li->DeviceHandle, L"\\EFI\\hvx\\exits.efi");
    EFI_HANDLE child = NULL;
    if (!path)
        return 0;
    EFI_STATUS st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, path, NULL, 0, &child);
    FreePool(path);
    if (st != EFI_SUCCESS) {
        fuzz_say("# fuzz: LoadImage(\\EFI\\hvx\\exits.efi) failed: %llx", (unsigned long long)st);
        return 0;
    }
    st = uefi_call_wrapper(BS->StartImage, 3, child, NULL, NULL);
    return st == EFI_SUCCESS;
}

/* ---- main */

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    struct fuzz_env env;
    struct fuzz_result res;
    int chain_exits = 0;
    memset(&env, 0, sizeof env);
    memset(&res, 0, sizeof res);
    env.seed = 1;
    env.calls_target = 200000;
    env.only_case = -1;
    read_config(image, &env, &chain_exits);

    hv_set_transport(fuzz_transport);
    traps_install(1);
    if (!hv_is_present() || !fuzz_version_ok()) {
        traps_install(0);
        fuzz_say("fuzz: no hypervisor answers GET_VERSION: nothing to fuzz");
        fuzz_say("fuzz: 0 calls, 1 hypervisor faults, 0 leaked pages");
        fuzz_say("fuzz: end of run");
        return EFI_SUCCESS;
    }
    env.hv_base = version_out.hv_base;
    env.hv_size = version_out.hv_size;
    env.arena = alloc_pages(FUZZ_ARENA_PAGES);
    env.blocks = alloc_pages(FUZZ_BLOCK_PAGES);
    scan_memory_map(&env);
    if (!env.arena || !env.blocks ||
        uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, watchdog_expired, NULL,
                          &watchdog_event) != EFI_SUCCESS) {
        traps_install(0);
        fuzz_say("fuzz: cannot allocate the arena, the blocks or the watchdog event");
        fuzz_say("fuzz: 0 calls, 0 hypervisor faults, 0 leaked pages");
        fuzz_say("fuzz: end of run");
        return EFI_SUCCESS;
    }
    fuzz_say("# fuzz: seed %llu, %llu calls%s; hypervisor %llu KiB at %llx, RAM top %llx, RAM-edge page %llx, "
             "page below the hypervisor %s",
             (unsigned long long)env.seed, (unsigned long long)env.calls_target,
             env.only_case >= 0 ? " (one case, traced)" : "", (unsigned long long)(env.hv_size >> 10),
             (unsigned long long)env.hv_base, (unsigned long long)env.ram_top, (unsigned long long)env.edge_page,
             env.hv_below_page ? "owned" : "not owned");

    uint64_t pool0 = 0, sum0 = 0, t0 = rdtsc();
    uint32_t parts0 = 0, vps0 = 0;
    int base_ok = fuzz_pool_used(&pool0) && fuzz_self_check(&sum0, &parts0, &vps0);

    fuzz_run(&env, &res);

    uint64_t t1 = rdtsc(), pool1 = 0, sum1 = 0;
    uint32_t parts1 = 0, vps1 = 0;
    int version_ok = fuzz_version_ok();
    int stats_ok = fuzz_pool_used(&pool1);
    int self_ok = fuzz_self_check(&sum1, &parts1, &vps1);
    /* Root exceptions are counted by the traps (every call, the watchdog's included); the engine counts
     * the rest: broken answers and must-fail calls that succeeded. */
    uint64_t faults = res.faults + fuzz_root_faults;
    faults += !version_ok + !stats_ok + !self_ok + (base_ok && self_ok && sum1 != sum0);
    uint64_t leaked = pool1 > pool0 ? pool1 - pool0 : pool0 - pool1;

    fuzz_say("# fuzz: %llu cases, %llu runs (%llu canceled, %llu by the watchdog), %llu InvalidVpRegisterValue "
             "exits, %llu emulated ticks",
             (unsigned long long)res.cases, (unsigned long long)res.runs, (unsigned long long)res.canceled_runs,
             (unsigned long long)res.watchdog_fires, (unsigned long long)res.invalid_vp_exits,
             (unsigned long long)(t1 - t0));
    fuzz_say("# fuzz: SET_REGISTERS_AND_RUN_VP: %llu steps, %llu hypercalls with its code (the WHV library's "
             "included), %llu refusals with the VP read back unchanged, %llu Canceled at once with every write "
             "read back", (unsigned long long)res.run_regs_calls, (unsigned long long)fuzz_run_regs_hypercalls,
             (unsigned long long)res.run_regs_readbacks, (unsigned long long)res.run_regs_cancel_checks);
    fuzz_say("# fuzz: statuses seen: success %llu, INVALID_HYPERCALL_CODE %llu, INVALID_ALIGNMENT %llu, "
             "INVALID_PARAMETER %llu, ACCESS_DENIED %llu, INVALID_PARTITION_STATE %llu, UNKNOWN_PROPERTY %llu, "
             "PROPERTY_VALUE_OUT_OF_RANGE %llu, INSUFFICIENT_MEMORY %llu, INVALID_PARTITION_ID %llu, "
             "INVALID_VP_INDEX %llu",
             (unsigned long long)res.status_seen[0], (unsigned long long)res.status_seen[2],
             (unsigned long long)res.status_seen[4], (unsigned long long)res.status_seen[5],
             (unsigned long long)res.status_seen[6], (unsigned long long)res.status_seen[7],
             (unsigned long long)res.status_seen[9], (unsigned long long)res.status_seen[10],
             (unsigned long long)res.status_seen[11], (unsigned long long)res.status_seen[13],
             (unsigned long long)res.status_seen[14]);
    fuzz_say("# fuzz: InvalidVpRegisterValue=%llu", (unsigned long long)res.invalid_vp_exits);
    check(base_ok, "baseline taken: pool %llu pages, checksum %016llx, %u partitions, %u VPs",
          (unsigned long long)pool0, (unsigned long long)sum0, parts0, vps0);
    check(version_ok && stats_ok && self_ok, "the hypervisor still answers GET_VERSION, GET_STATS and SELF_CHECK");
    check(sum1 == sum0, "the hypervisor's image checksum is unchanged (%016llx)", (unsigned long long)sum1);
    check(pool1 == pool0, "pool usage is back to the baseline (%llu pages, baseline %llu)", (unsigned long long)pool1,
          (unsigned long long)pool0);
    check(parts1 == parts0 && vps1 == vps0, "live partitions and VPs are back to %u and %u (now %u and %u)", parts0,
          vps0, parts1, vps1);
    check(fuzz_root_faults == 0, "no hypercall raised an exception in the root (%llu)",
          (unsigned long long)fuzz_root_faults);
    check(res.findings == 0, "the reference model found no wrong answer (%llu findings)",
          (unsigned long long)res.findings);
    check(res.leak_cases == 0, "every case gave back the pool pages it used (%llu cases did not)",
          (unsigned long long)res.leak_cases);
    fuzz_say("fuzz: %llu calls, %llu hypervisor faults, %llu leaked pages", (unsigned long long)fuzz_calls,
             (unsigned long long)faults, (unsigned long long)leaked);

    traps_install(0);
    uefi_call_wrapper(BS->CloseEvent, 1, watchdog_event);
    if (chain_exits) {
        int started = run_exit_suite(image);
        uint64_t pool2 = 0, sum2 = 0;
        uint32_t parts2 = 0, vps2 = 0;
        int ok = fuzz_pool_used(&pool2) && fuzz_self_check(&sum2, &parts2, &vps2);
        check(started, "the exit suite (\\EFI\\hvx\\exits.efi) was started after the fuzzing and returned");
        check(ok && pool2 == pool0 && sum2 == sum0 && parts2 == parts0 && vps2 == vps0,
              "after the exit suite: pool %llu pages, checksum unchanged, %u partitions, %u VPs",
              (unsigned long long)pool2, parts2, vps2);
    }
    fuzz_say("fuzz: end of run (%u checks, %u failed)", tap_count(), tap_failures());
    return EFI_SUCCESS;
}
