/* Churn: N cycles of create, set up, map (random sizes, flags, GPAs across the 48-bit space), create VPs,
 * run, partial unmap and run again, unmap, delete. After every cycle the pool must be back at its
 * baseline exactly. Slowdown: the last 10% of the cycles replay the first 10%'s random sequence (the
 * generator is reseeded), so both deciles do the same work and their emulated TSC ticks must agree within
 * CHURN_TOLERANCE_PERMILLE. */
#include "tests/payload/hostile.h"
#include "arch/x86/cpu.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"

#define SRC_PAGES 1024u                 /* 4 MiB of root memory: every map's source */
#define MAX_MAP_PAGES 512u              /* up to 2 MiB per map */
#define CHURN_SEED 0x9E3779B97F4A7C15ull
#define CHURN_TOLERANCE_PERMILLE 20     /* 2% */

static uint8_t src_byte(uint64_t off) { return (uint8_t)((off * 131) ^ (off >> 12) ^ (off >> 5)); }

struct range { uint64_t gpa, pages, src_page; uint32_t flags; };

/* One cycle; returns 1 when everything it checked held. */
static int cycle(uint64_t *rs, uint8_t *src, uint8_t *code, uint64_t base, uint64_t *peak, char *why, size_t why_len)
{
    static const uint32_t flag_set[4] = { RO, RW, RX, RWX };
    WHV_PARTITION_HANDLE p;
    WHV_PARTITION_PROPERTY prop;
    WHV_RUN_VP_EXIT_CONTEXT x;
    struct range r[4];
    int ok = 1;
    why[0] = 0;
    if (FAILED(WHvCreatePartition(&p))) {
        memcpy(why, "create", 7);
        return 0;
    }
    uint32_t procs = 1 + (uint32_t)rnd_below(rs, 4);
    memset(&prop, 0, sizeof prop);
    prop.ProcessorCount = procs;
    HRESULT hr = WHvSetPartitionProperty(p, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop);
    hr |= WHvSetupPartition(p);
    hr |= WHvMapGpaRange(p, code, 0, 0x2000, RX);
    unsigned n = 1 + (unsigned)rnd_below(rs, 4);
    for (unsigned i = 0; i < n; i++) {
        r[i].pages = 1 + rnd_below(rs, MAX_MAP_PAGES);
        r[i].src_page = rnd_below(rs, SRC_PAGES - r[i].pages + 1);
        r[i].gpa = (rnd_below(rs, 512) << 39) + ((uint64_t)(i + 1) << 30) + (rnd_below(rs, 256) << 21) +
                   (rnd_below(rs, 2) ? 0 : rnd_below(rs, 512) << 12);
        r[i].flags = flag_set[rnd_below(rs, 4)];
        hr |= WHvMapGpaRange(p, src + r[i].src_page * 4096, r[i].gpa, r[i].pages * 4096, r[i].flags);
    }
    uint32_t vps = 1 + (uint32_t)rnd_below(rs, procs);
    for (uint32_t v = 0; v < vps; v++)
        hr |= WHvCreateVirtualProcessor(p, v, 0);
    if (FAILED(hr)) {
        fmt_snprintf(why, why_len, "setup %x", (unsigned)hr);
        ok = 0;
    }
    uint64_t used = pool_used();
    if (used > *peak)
        *peak = used;
    /* Run VP vps-1: a read of a random byte of a random range (unreal mode reaches 4 GiB only, so the
     * range is re-mapped at a low GPA alias for the read: the same source bytes). */
    unsigned k = (unsigned)rnd_below(rs, n);
    uint64_t off = rnd_below(rs, r[k].pages * 4096);
    uint64_t low = 0x10000000ull;   /* 256 MiB: below 4 GiB, above the code */
    uint32_t vp = vps - 1;
    hr = WHvMapGpaRange(p, src + r[k].src_page * 4096, low, r[k].pages * 4096, r[k].flags);
    hr |= set_unreal_state(p, vp, GUEST_CODE + g_read, 0, low + off);
    hr |= WHvRunVirtualProcessor(p, vp, &x, sizeof x);
    uint8_t want = src_byte(r[k].src_page * 4096 + off);
    if (ok && (FAILED(hr) || x.ExitReason != WHvRunVpExitReasonX64IoPortAccess || (uint8_t)x.IoPortAccess.Rax != want)) {
        fmt_snprintf(why, why_len, "read %x exit %s value %x want %x", (unsigned)hr, exit_name(x.ExitReason),
                     (unsigned)(x.IoPortAccess.Rax & 0xFF), want);
        ok = 0;
    }
    /* Unmap the page read (splitting the range), read it again: it must exit. */
    uint64_t page = (low + off) & ~0xFFFull;
    hr = WHvUnmapGpaRange(p, page, 4096);
    hr |= set_unreal_state(p, vp, GUEST_CODE + g_read, 0, low + off);
    hr |= WHvRunVirtualProcessor(p, vp, &x, sizeof x);
    if (ok && (FAILED(hr) || !is_memory_exit(&x, PROBE_READ, low + off, 1))) {
        fmt_snprintf(why, why_len, "stale read %x exit %s", (unsigned)hr, exit_name(x.ExitReason));
        ok = 0;
    }
    hr = WHvUnmapGpaRange(p, low, r[k].pages * 4096);   /* one hole inside: fine unless it was the only page */
    if (r[k].pages == 1)
        hr = S_OK;
    for (unsigned i = 0; i < n; i++)
        hr |= WHvUnmapGpaRange(p, r[i].gpa, r[i].pages * 4096);
    hr |= WHvUnmapGpaRange(p, 0, 0x2000);
    /* Delete VPs in a random order, or leave them to the partition delete. */
    if (rnd_below(rs, 2))
        for (uint32_t v = vps; v-- > 0;)
            hr |= WHvDeleteVirtualProcessor(p, v);
    hr |= WHvDeletePartition(p);
    if (ok && FAILED(hr)) {
        fmt_snprintf(why, why_len, "teardown %x", (unsigned)hr);
        ok = 0;
    }
    uint64_t after = pool_used();
    if (ok && after != base) {
        fmt_snprintf(why, why_len, "pool %llu pages after, baseline %llu", (unsigned long long)after,
                     (unsigned long long)base);
        ok = 0;
    }
    return ok;
}

void check_churn(uint32_t cycles)
{
    if (cycles < 10) {
        check(0, "churn: at least 10 cycles (got %u)", cycles);
        return;
    }
    uint8_t *src = alloc_pages(SRC_PAGES, EfiLoaderData), *code = alloc_pages(2, EfiLoaderData);
    if (!src || !code) {
        check(0, "churn: 4 MiB of root memory");
        return;
    }
    for (uint64_t o = 0; o < SRC_PAGES * 4096ull; o++)
        src[o] = src_byte(o);
    memcpy(code + GUEST_CODE, guest_blob, guest_blob_size);
    uint64_t base = pool_used(), peak = base;
    uint64_t rs = CHURN_SEED, first = 0, last = 0;
    uint32_t tenth = cycles / 10, failed = 0;
    char why[120], first_why[160];
    first_why[0] = 0;
    for (uint32_t i = 0; i < cycles; i++) {
        if (i == cycles - tenth)
            rs = CHURN_SEED;                /* the last tenth replays the first tenth */
        uint64_t t0 = rdtsc();
        int ok = cycle(&rs, src, code, base, &peak, why, sizeof why);
        uint64_t t = rdtsc() - t0;
        if (i < tenth)
            first += t;
        if (i >= cycles - tenth)
            last += t;
        if (!ok && failed++ == 0)
            fmt_snprintf(first_why, sizeof first_why, "cycle %u: %s", i, why);
    }
    uint64_t end = pool_used();
    check(failed == 0, "churn: %u cycles of create, set up, map, run, unmap, delete with random sizes, all correct (%u failed%s%s)",
          cycles, failed, failed ? "; first: " : "", first_why);
    check(end == base, "churn: pool pages used exactly at the baseline after every cycle and at the end (%llu, peak %llu)",
          (unsigned long long)end, (unsigned long long)peak);
    uint64_t diff = last > first ? last - first : first - last;
    uint64_t permille = first ? diff * 1000 / first : 1000, bp = first ? diff * 10000 / first : 10000;
    note("hostile: churn cycles=%u first10=%llu last10=%llu ticks_per_cycle_first=%llu ticks_per_cycle_last=%llu",
         cycles, (unsigned long long)first, (unsigned long long)last, (unsigned long long)(first / tenth),
         (unsigned long long)(last / tenth));
    check(permille <= CHURN_TOLERANCE_PERMILLE,
          "churn: no slowdown: the last %u cycles (a replay of the first %u) took %llu ticks, the first %llu (%s%llu.%02llu%%, limit %u.%u%%)",
          tenth, tenth, (unsigned long long)last, (unsigned long long)first, last >= first ? "+" : "-",
          (unsigned long long)(bp / 100), (unsigned long long)(bp % 100), CHURN_TOLERANCE_PERMILLE / 10,
          CHURN_TOLERANCE_PERMILLE % 10);
    free_pages(src, SRC_PAGES);
    free_pages(code, 2);
}
