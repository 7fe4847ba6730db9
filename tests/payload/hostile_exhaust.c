/* Exhaustion: partitions until the hypervisor refuses one, then maps until its pool is empty, then VPs
 * and a partition on the empty pool. Every refusal must be the WHV HRESULT for out of memory
 * (E_OUTOFMEMORY, from HV_STATUS_INSUFFICIENT_MEMORY: docs/whv-library.md) and change nothing; a partition
 * created before keeps running on the empty pool; after the deletes the pool is back at its baseline and a
 * new partition runs a guest correctly. */
#include "tests/payload/hostile.h"
#include "arch/x86/string.h"

#define MAX_TRY 64

static WHV_PARTITION_HANDLE parts[MAX_TRY];
static uint32_t ranges_in[MAX_TRY];

static int count_runs(struct child *ch, uint32_t n)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = child_start(ch, g_count, 0, n);
    hr = SUCCEEDED(hr) ? child_run(ch, &x) : hr;
    return SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
           (uint32_t)x.IoPortAccess.Rax == (uint32_t)((uint64_t)n * (n + 1) / 2);
}

void check_exhaustion(void)
{
    uint64_t base = pool_used();
    uint8_t *page = alloc_pages(1, EfiLoaderData);
    struct child survivor;
    if (!page || !child_new(&survivor, 0x10000, 0, 0)) {
        check(0, "exhaustion: a page and a survivor partition");
        return;
    }
    page[0] = 0x42;

    /* Partitions until refused. The survivor holds one slot. */
    unsigned made = 0;
    HRESULT refused = S_OK;
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0, sizeof prop);
    prop.ProcessorCount = 4;
    while (made < MAX_TRY) {
        WHV_PARTITION_HANDLE p;
        HRESULT hr = WHvCreatePartition(&p);
        if (FAILED(hr)) {
            refused = hr;
            break;
        }
        parts[made++] = p;
        WHvSetPartitionProperty(p, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop);
        WHvSetupPartition(p);
    }
    uint64_t used_parts = pool_used();
    check(refused == (HRESULT)E_OUTOFMEMORY && made + 1 == HV_MAX_PARTITIONS,
          "partitions until refused: %u created (+1 already live), the next gets E_OUTOFMEMORY (%x); %llu pool pages",
          made, (unsigned)refused, (unsigned long long)(used_parts - base));
    note("hostile: exhaust partitions=%u refusal=%x", made + 1, (unsigned)refused);
    /* What one VP costs (its VMCS and whatever else the hypervisor keeps per VP), measured here. */
    uint64_t u0 = pool_used();
    HRESULT hvp = WHvCreateVirtualProcessor(parts[0], 3, 0);
    uint64_t vp_pages = pool_used() - u0;
    hvp |= WHvDeleteVirtualProcessor(parts[0], 3);
    check(SUCCEEDED(hvp) && vp_pages > 0 && pool_used() == u0, "a VP costs %llu pool pages, all returned by its delete",
          (unsigned long long)vp_pages);
    if (!vp_pages)
        vp_pages = 1;
    /* Free one slot again: a partition create later must fail for want of pool pages, not of a slot. */
    WHvDeletePartition(parts[--made]);

    /* Maps until the pool is empty: 4 KiB each (the same root page: aliases are allowed), first in a new
     * 512 GiB region each (PDPT, PD, PT: 3 pages), then in new 2 MiB frames of those regions (a PT each). */
    unsigned maps = 0, table_full = 0;
    HRESULT last = S_OK;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < made; i++) {
            for (;;) {
                uint32_t k = ranges_in[i];
                if (k >= 256) { table_full++; break; }
                if (pass == 1 && k == 0) break;   /* no region of its own to add page tables to */
                uint64_t gpa = pass == 0 ? (uint64_t)(k + 1) << 39 : (1ull << 39) + ((uint64_t)(k + 1) << 21);
                HRESULT hr = WHvMapGpaRange(parts[i], page, gpa, 4096, RW);
                if (FAILED(hr)) {
                    last = hr;
                    break;
                }
                ranges_in[i]++;
                maps++;
            }
            if (last == (HRESULT)E_OUTOFMEMORY && ranges_in[i] < 256)
                break;   /* the pool, not the range table, ran out */
        }
        last = S_OK;
    }
    uint64_t free_now = pool_free();
    HRESULT one_more = WHvMapGpaRange(survivor.part, page, 1ull << 47, 4096, RW);
    check(free_now == 0 && one_more == (HRESULT)E_OUTOFMEMORY,
          "maps until the pool is empty: %u maps of 4 KiB, %llu pages free, the next map gets E_OUTOFMEMORY (%x)", maps,
          (unsigned long long)free_now, (unsigned)one_more);
    note("hostile: exhaust maps=%u pool_used=%llu pool_free=%llu refusal=%x", maps, (unsigned long long)pool_used(),
         (unsigned long long)free_now, (unsigned)one_more);

    /* On the empty pool: a partition and a VP are refused cleanly; a map refusal left the map as it was. */
    WHV_PARTITION_HANDLE extra = 0;
    HRESULT hp = WHvCreatePartition(&extra);
    HRESULT hv = WHvCreateVirtualProcessor(parts[0], 0, 0);
    HRESULT hm = WHvMapGpaRange(survivor.part, page, 0x40000000, 4096, RW);
    check(hp == (HRESULT)E_OUTOFMEMORY && hv == (HRESULT)E_OUTOFMEMORY && hm == (HRESULT)E_OUTOFMEMORY,
          "empty pool: WHvCreatePartition %x, WHvCreateVirtualProcessor %x, WHvMapGpaRange %x (E_OUTOFMEMORY each)",
          (unsigned)hp, (unsigned)hv, (unsigned)hm);
    if (SUCCEEDED(hp))
        WHvDeletePartition(extra);
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = probe(&survivor, PROBE_READ, 0x40000000, 0, &x);
    check(SUCCEEDED(hr) && is_memory_exit(&x, PROBE_READ, 0x40000000, 1) && count_runs(&survivor, 777),
          "empty pool: the refused map left no trace (read exits GpaUnmapped) and a live partition runs correctly");

    /* VPs until the pool runs out again: one map unmapped frees its table pages. */
    HRESULT hu = WHvUnmapGpaRange(parts[0], 6ull << 39, 4096);
    uint64_t freed = pool_free();
    unsigned vps = 0;
    HRESULT vp_refusal = S_OK;
    for (unsigned i = 0; i < made && SUCCEEDED(vp_refusal); i++) {
        for (uint32_t v = 0; v < 4; v++) {
            HRESULT h = WHvCreateVirtualProcessor(parts[i], v, 0);
            if (FAILED(h)) { vp_refusal = h; break; }
            vps++;
        }
    }
    uint64_t left = pool_free();
    check(SUCCEEDED(hu) && vps == freed / vp_pages && left == freed - vps * vp_pages &&
          vp_refusal == (HRESULT)E_OUTOFMEMORY,
          "an unmap freed %llu pages; VPs until refused: %u created (%llu pages each), the next gets E_OUTOFMEMORY (%x) "
          "and keeps nothing (%llu pages free)",
          (unsigned long long)freed, vps, (unsigned long long)vp_pages, (unsigned)vp_refusal, (unsigned long long)left);
    note("hostile: exhaust vps=%u refusal=%x", vps, (unsigned)vp_refusal);
    HRESULT bad_index = WHvCreateVirtualProcessor(parts[made - 1], 4, 0);
    check(bad_index == (HRESULT)WHV_E_VP_DOES_NOT_EXIST || bad_index == (HRESULT)E_OUTOFMEMORY,
          "a VP index past ProcessorCount (4): refused (%x)", (unsigned)bad_index);

    /* Everything back. */
    for (unsigned i = 0; i < made; i++)
        WHvDeletePartition(parts[i]);
    child_free(&survivor);
    uint64_t after = pool_used();
    check(after == base, "after the deletes the pool is back at its baseline (%llu pages, baseline %llu)",
          (unsigned long long)after, (unsigned long long)base);
    struct child fresh;
    int ok = child_new(&fresh, 0x10000, 0, 0) && count_runs(&fresh, 100000);
    HRESULT hm2 = ok ? WHvMapGpaRange(fresh.part, page, 0x100000, 4096, RO) : E_FAIL;
    int v = -1;
    if (SUCCEEDED(hm2) && SUCCEEDED(probe(&fresh, PROBE_READ, 0x100000, 0, &x)) &&
        x.ExitReason == WHvRunVpExitReasonX64IoPortAccess)
        v = (int)(x.IoPortAccess.Rax & 0xFF);
    check(ok && v == 0x42, "a new partition after exhaustion runs a guest correctly (count, and a read of a new map: %x)", v);
    child_free(&fresh);
    free_pages(page, 1);
    uint64_t end = pool_used();
    check(end == base, "exhaustion leaves the pool as it found it (%llu -> %llu)", (unsigned long long)base,
          (unsigned long long)end);
}
