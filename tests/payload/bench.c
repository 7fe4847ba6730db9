/* bench.efi: the cost of the hypervisor's paths in emulated TSC ticks (deterministic in Bochs), printed
 * as "bench: KEY=VALUE" lines that tools/run-bench.sh turns into a table and build/bench.json.
 *   a   root CPUID handled by the hypervisor (the baseline world switch)
 *   b   Run -> child OUT exit -> back in the root (RIP not advanced: the OUT exits again each Run)
 *   b2  b plus what a VMM does to complete the OUT: RIP = Rip + InstructionLength, then the next Run
 *   c   a child CPUID the hypervisor answers itself (not in the exit list), per instruction
 *   d   a MemoryAccess exit (read of an unmapped GPA) with its instruction-byte fetch
 *   e   partition lifecycle: create, set up, map 64 MiB, create a VP, first exit, delete
 *   f_map / f_unmap   map / unmap 1 GiB (16 x 64 MiB of the same root memory), and the pages it used */
#include <efi.h>
#include <efilib.h>
#include "tests/payload/console.h"
#include "api/hv_abi.h"
#include "api/hv_hypercall.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"

#define MIB (1ull << 20)
#define CODE 0x1000


static struct hv_stats_out stats __attribute__((aligned(64)));
static uint64_t pool_used(void)
{
    hv_hypercall(HVCALL_GET_STATS, 0, (uint64_t)(uintptr_t)&stats);
    return stats.pool_pages_used;
}

/* A build with the Run path's profile (make bench-profile) logs it at each GET_STATS and starts over:
 * one cut before a measured loop, one after it, names the figures that follow. Elsewhere a no-op. */
static void profile_cut(const char *next)
{
    note("bench: profile %s", next);
    pool_used();
}

static uint8_t *guest_mem;            /* 64 MiB of root memory, the source of every mapping here */

struct child { WHV_PARTITION_HANDLE part; };

static int child_new(struct child *ch, const uint8_t *code, uint32_t len, uint64_t map_bytes)
{
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0, sizeof prop);
    prop.ProcessorCount = 1;
    memcpy(guest_mem + CODE, code, len);
    HRESULT hr = WHvCreatePartition(&ch->part);
    hr |= WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop);
    hr |= WHvSetupPartition(ch->part);
    hr |= WHvMapGpaRange(ch->part, guest_mem, 0, map_bytes, WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite |
                         WHvMapGpaRangeFlagExecute);
    hr |= WHvCreateVirtualProcessor(ch->part, 0, 0);
    WHV_REGISTER_NAME names[3] = { WHvX64RegisterCs, WHvX64RegisterRip, WHvX64RegisterRflags };
    WHV_REGISTER_VALUE v[3];
    memset(v, 0, sizeof v);
    v[0].Segment.Limit = 0xFFFF;
    v[0].Segment.Attributes = 0x9B;
    v[1].Reg64 = CODE;
    v[2].Reg64 = 2;
    hr |= WHvSetVirtualProcessorRegisters(ch->part, 0, names, 3, v);
    return SUCCEEDED(hr);
}

static void child_delete(struct child *ch)
{
    WHvDeleteVirtualProcessor(ch->part, 0);
    WHvDeletePartition(ch->part);
}

static const uint8_t out_loop[] = { 0xE6, 0x80, 0xEB, 0xFC };             /* out 0x80, al; jmp $-2 */
static const uint8_t read_unmapped[] = { 0xB8, 0x00, 0x50, 0x8E, 0xD8, 0xA0, 0x00, 0x00 };  /* ds=0x5000; mov al,[0] */
/* mov si, 10000; l: xor ax, ax; cpuid; dec si; jnz l; out 0x80, al  (CPUID clobbers ECX: count in SI) */
static const uint8_t cpuid_loop[] = { 0xBE, 0x10, 0x27, 0x31, 0xC0, 0x0F, 0xA2, 0x4E, 0x75, 0xF9, 0xE6, 0x80 };

#define N 2000

/* The scale: ticks per 100 register-to-register instructions (10 NOPs + add + dec + jnz per round). */
static uint64_t bench_calibrate(void)
{
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N; i++)
        __asm__ volatile("nop; nop; nop; nop; nop; nop; nop; nop; nop; nop; add $1, %%rax" ::: "rax");
    return (rdtsc() - t0) * 100 / (N * 13ull);
}

static uint64_t bench_root_cpuid(void)
{
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N; i++)
        cpuid(0, 0);
    return (rdtsc() - t0) / N;
}

static uint64_t bench_child_exit(const char *name, const uint8_t *code, uint32_t len, int advance, uint32_t want)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    /* 64 KiB mapped: GPA 0x50000 (read_unmapped's target) must stay unmapped. */
    if (!child_new(&ch, code, len, 0x10000))
        return 0;
    WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x);      /* warm: first launch, first exit */
    profile_cut("start");
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N; i++) {
        if (advance) {
            WHV_REGISTER_NAME rip = WHvX64RegisterRip;
            WHV_REGISTER_VALUE v;
            memset(&v, 0, sizeof v);
            v.Reg64 = x.VpContext.Rip + x.VpContext.InstructionLength;
            WHvSetVirtualProcessorRegisters(ch.part, 0, &rip, 1, &v);
        }
        WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x);   /* advanced: the jmp brings it back to the OUT */
    }
    uint64_t t = (rdtsc() - t0) / N;
    profile_cut(name);
    int ok = x.ExitReason == want;
    child_delete(&ch);
    return ok ? t : 0;
}

static uint64_t bench_child_cpuid(uint64_t b)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    if (!child_new(&ch, cpuid_loop, sizeof cpuid_loop, 0x10000))
        return 0;
    uint64_t t0 = rdtsc();
    WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x);
    uint64_t t = rdtsc() - t0;
    child_delete(&ch);
    /* One Run = one world-switch round trip (b) plus 10,000 CPUIDs answered inside. */
    return x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && t > b ? (t - b) / 10000 : 0;
}

static uint64_t bench_lifecycle(void)
{
    const int rounds = 10;
    uint64_t t0 = rdtsc();
    for (int i = 0; i < rounds; i++) {
        struct child ch;
        WHV_RUN_VP_EXIT_CONTEXT x;
        if (!child_new(&ch, out_loop, sizeof out_loop, 64 * MIB))
            return 0;
        WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x);
        child_delete(&ch);
    }
    return (rdtsc() - t0) / rounds;
}

static void bench_map_gib(uint64_t *map_ticks, uint64_t *unmap_ticks, uint64_t *pages)
{
    WHV_PARTITION_HANDLE p;
    *map_ticks = *unmap_ticks = *pages = 0;
    if (FAILED(WHvCreatePartition(&p)) || FAILED(WHvSetupPartition(p)))
        return;
    uint64_t before = pool_used(), t0 = rdtsc();
    HRESULT hr = S_OK;
    for (uint64_t gpa = 0; gpa < 1024 * MIB; gpa += 64 * MIB)
        hr |= WHvMapGpaRange(p, guest_mem, gpa, 64 * MIB, WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite);
    uint64_t t1 = rdtsc();
    *pages = pool_used() - before;
    hr |= WHvUnmapGpaRange(p, 0, 1024 * MIB);
    uint64_t t2 = rdtsc();
    WHvDeletePartition(p);
    if (SUCCEEDED(hr)) {
        *map_ticks = t1 - t0;
        *unmap_ticks = t2 - t1;
    }
}

static void measure_sizes(void)
{
    WHV_PARTITION_HANDLE p;
    uint64_t base = pool_used();
    WHvCreatePartition(&p);
    WHvSetupPartition(p);
    uint64_t with_partition = pool_used();
    WHvCreateVirtualProcessor(p, 0, 0);
    uint64_t with_vp = pool_used();
    WHvDeleteVirtualProcessor(p, 0);
    WHvDeletePartition(p);
    note("bench: partition_bytes=%llu", (unsigned long long)((with_partition - base) * 4096));
    note("bench: vp_bytes=%llu", (unsigned long long)((with_vp - with_partition) * 4096));
    note("bench: pool_bytes_at_rest=%llu", (unsigned long long)(base * 4096));
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    EFI_PHYSICAL_ADDRESS pa;
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 64 * MIB / 4096, &pa) != EFI_SUCCESS) {
        note("bench: error: cannot allocate 64 MiB of guest memory");
        return EFI_OUT_OF_RESOURCES;
    }
    guest_mem = (uint8_t *)(uintptr_t)pa;
    memset(guest_mem, 0, 64 * MIB);
    note("bench: calibration=%llu", (unsigned long long)bench_calibrate());
    uint64_t a = bench_root_cpuid();
    uint64_t b = bench_child_exit("b", out_loop, sizeof out_loop, 0, WHvRunVpExitReasonX64IoPortAccess);
    uint64_t b2 = bench_child_exit("b2", out_loop, sizeof out_loop, 1, WHvRunVpExitReasonX64IoPortAccess);
    uint64_t c = bench_child_cpuid(b);
    uint64_t d = bench_child_exit("d", read_unmapped, sizeof read_unmapped, 0, WHvRunVpExitReasonMemoryAccess);
    uint64_t e = bench_lifecycle();
    uint64_t fm, fu, fp;
    bench_map_gib(&fm, &fu, &fp);
    note("bench: a=%llu", (unsigned long long)a);
    note("bench: b=%llu", (unsigned long long)b);
    note("bench: b2=%llu", (unsigned long long)b2);
    note("bench: c=%llu", (unsigned long long)c);
    note("bench: d=%llu", (unsigned long long)d);
    note("bench: e=%llu", (unsigned long long)e);
    note("bench: f_map=%llu", (unsigned long long)fm);
    note("bench: f_unmap=%llu", (unsigned long long)fu);
    note("bench: f_ept_pages=%llu", (unsigned long long)fp);
    measure_sizes();
    note("bench: done");
    return EFI_SUCCESS;
}
