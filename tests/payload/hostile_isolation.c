/* Isolation of child partitions, as system tests (docs/hostile-inputs.md has the decisions):
 *   memory: reads, writes and fetches just outside each mapped range, in holes, against read-only and
 *     no-execute maps, and at GPAs equal to the hypervisor's and the root's own physical addresses;
 *     sources the hypervisor must refuse (its own memory, MMIO, beyond RAM); aliases; unmap then the same
 *     instruction again (no stale translation, on this CPU and on the other); remap to another page;
 *     a 2 MiB leaf split by a 4 KiB unmap;
 *   instructions: VMCALL (with and without the hypercall exit), every VMX/SMX instruction, INIT and
 *     reset attempts (xAPIC ICR, x2APIC ICR, port 0xCF9, port 0x92, APIC_BASE);
 *   faults: a triple-faulting and an invalid-state child while another partition runs on the other CPU. */
#include "tests/payload/hostile.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define EXC_BITMAP ((1ull << 6) | (1ull << 13))   /* #UD and #GP as Exception exits */
#define EXT_EXCEPTION 4ull
#define EXT_HYPERCALL 32ull

static unsigned entry_failures;
static int rdmsr_apic_base_enabled(void) { return (rdmsr(0x1B) >> 11) & 1; }
static void noop(void *unused) { (void)unused; }
static int ap_run_noop(void) { return ap_run(noop, 0); }   /* InvalidVpRegisterValue exits caused on purpose (Bochs logs each) */

static const char *kind_name(enum probe_kind k) { return k == PROBE_READ ? "read" : k == PROBE_WRITE ? "write" : "fetch"; }

/* A probe that must end in a MemoryAccess exit at gpa. */
static int expect_fault(struct child *ch, enum probe_kind k, uint64_t gpa, int unmapped, const char *what)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = probe(ch, k, gpa, 0xEE, &x);
    return check(SUCCEEDED(hr) && is_memory_exit(&x, k, gpa, unmapped),
                 "%s of GPA %llx (%s): MemoryAccess, %s (got %s, gpa %llx, type %u, unmapped %u)", kind_name(k),
                 (unsigned long long)gpa, what, unmapped ? "GpaUnmapped" : "access denied by the map",
                 exit_name(x.ExitReason), (unsigned long long)x.MemoryAccess.Gpa, x.MemoryAccess.AccessInfo.AccessType,
                 x.MemoryAccess.AccessInfo.GpaUnmapped);
}

/* A read that must succeed and see `want`. */
static int read_byte(struct child *ch, uint64_t gpa, int *value)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = probe(ch, PROBE_READ, gpa, 0, &x);
    if (FAILED(hr) || x.ExitReason != WHvRunVpExitReasonX64IoPortAccess || x.IoPortAccess.PortNumber != 0x80) {
        *value = -1;
        return 0;
    }
    *value = (int)(x.IoPortAccess.Rax & 0xFF);
    return 1;
}

static int expect_read(struct child *ch, uint64_t gpa, int want, const char *what)
{
    int v;
    read_byte(ch, gpa, &v);
    return check(v == want, "read of GPA %llx (%s) sees %02x (want %02x)", (unsigned long long)gpa, what, v & 0xFF, want);
}

static int write_byte(struct child *ch, uint64_t gpa, uint8_t value)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = probe(ch, PROBE_WRITE, gpa, value, &x);
    return SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.PortNumber == 0x80;
}

/* ---- memory */

static uint8_t *pages;          /* 8 root pages, page i filled with 0xA0 + i */
#define PG(i) (pages + (i) * 4096)

static void check_memory_bounds(struct child *ch)
{
    ch->mem[0xFFFF] = 0x77;
    HRESULT hr = WHvMapGpaRange(ch->part, PG(0), 0x20000, 4096, RO);
    hr |= WHvMapGpaRange(ch->part, PG(1), 0x30000, 4096, RW);
    hr |= WHvMapGpaRange(ch->part, PG(2), 0x40000, 4096, RX);
    check(SUCCEEDED(hr), "map read-only, read-write (no execute) and read-execute pages beside 64 KiB of RWX");
    PG(2)[0] = 0xF4;   /* hlt */

    expect_read(ch, 0xFFFF, 0x77, "last byte of the RWX range");
    expect_fault(ch, PROBE_READ, 0x10000, 1, "first byte past the RWX range");
    expect_fault(ch, PROBE_WRITE, 0x10000, 1, "first byte past the RWX range");
    expect_fault(ch, PROBE_EXEC, 0x10000, 1, "first byte past the RWX range");
    expect_fault(ch, PROBE_READ, 0x1FFFF, 1, "last byte of the hole before the read-only page");
    expect_read(ch, 0x20000, 0xA0, "read-only page");
    expect_fault(ch, PROBE_WRITE, 0x20000, 0, "read-only page");
    expect_fault(ch, PROBE_EXEC, 0x20FFF, 0, "read-only page, last byte");
    check(PG(0)[0] == 0xA0 && PG(0)[4095] == 0xA0, "the read-only page's root memory is unchanged");
    expect_fault(ch, PROBE_READ, 0x21000, 1, "first byte past the read-only page");
    check(write_byte(ch, 0x30FFF, 0x5A) && PG(1)[4095] == 0x5A, "a write to the read-write page lands in its root page");
    expect_fault(ch, PROBE_EXEC, 0x30000, 0, "no-execute page");
    expect_fault(ch, PROBE_WRITE, 0x40000, 0, "read-execute page");
    check(PG(2)[0] == 0xF4, "the read-execute page's root memory is unchanged");
    WHV_RUN_VP_EXIT_CONTEXT x;
    hr = probe(ch, PROBE_EXEC, 0x40000, 0, &x);
    check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64Halt && x.VpContext.Rip == 1,
          "a fetch from the read-execute page runs its HLT (exit %s, rip %llx)", exit_name(x.ExitReason),
          (unsigned long long)x.VpContext.Rip);
    expect_fault(ch, PROBE_WRITE, 0x3FFFF, 1, "last byte of the hole before the read-execute page");
    expect_fault(ch, PROBE_READ, 0x41000, 1, "first byte past the read-execute page");
}

static void check_foreign_addresses(struct child *ch)
{
    uint64_t b = hv_version.hv_base, s = hv_version.hv_size;
    uint64_t hv_gpas[3] = { b, b + (s / 2 & ~0xFFFull) + 0x123, b + s - 1 };
    for (int i = 0; i < 3; i++) {
        expect_fault(ch, PROBE_READ, hv_gpas[i], 1, "the hypervisor's physical address");
        expect_fault(ch, PROBE_WRITE, hv_gpas[i], 1, "the hypervisor's physical address");
    }
    expect_fault(ch, PROBE_EXEC, b + 0x1000, 1, "the hypervisor's physical address");
    uint64_t own_code = (uint64_t)(uintptr_t)&check_memory_bounds, own_data = (uint64_t)(uintptr_t)pages;
    uint64_t own_stack = (uint64_t)(uintptr_t)&own_code, own_mem = (uint64_t)(uintptr_t)ch->mem;
    expect_fault(ch, PROBE_READ, own_code, 1, "this payload's code in the root");
    expect_fault(ch, PROBE_READ, own_stack, 1, "this payload's stack in the root");
    expect_fault(ch, PROBE_WRITE, own_data + 8, 1, "the root page that backs GPA 0x20000");
    expect_fault(ch, PROBE_READ, own_mem + 0x1000, 1, "the root address of the child's own memory");
    expect_fault(ch, PROBE_READ, 0xFEE00000, 1, "local APIC MMIO");
    expect_fault(ch, PROBE_READ, 0xFEC00000, 1, "I/O APIC MMIO");
    expect_fault(ch, PROBE_EXEC, 0xFFFFFFF0ull, 1, "the firmware's reset vector");
    check(PG(0)[8] == 0xA0, "the root page behind GPA 0x20000 is unchanged by a write to its root address");

    /* A GPA equal to the hypervisor's base, mapped onto an ordinary root page: the guest sees that page. */
    HRESULT hr = WHvMapGpaRange(ch->part, PG(7), b, 4096, RW);
    check(SUCCEEDED(hr), "GPA = the hypervisor's base, mapped onto a root page: allowed (%x)", (unsigned)hr);
    expect_read(ch, b + 16, 0xA7, "GPA = hypervisor base, backed by a root page");
    WHvUnmapGpaRange(ch->part, b, 4096);
    expect_fault(ch, PROBE_READ, b + 16, 1, "the same GPA after unmap");
}

static void check_refused_sources(struct child *ch)
{
    uint64_t b = hv_version.hv_base, s = hv_version.hv_size;
    uint64_t used = pool_used();
    struct { uint64_t source, size; const char *what; } bad[] = {
        { b, 4096, "the hypervisor's first page" },
        { b + s - 4096, 4096, "the hypervisor's last page" },
        { b + s / 2, 2 * MIB, "2 MiB inside the hypervisor" },
        { b - 4096, 8192, "a range straddling the hypervisor's start" },
        { b + s - 4096, 8192, "a range straddling the hypervisor's end" },
        { 0xFEE00000, 4096, "local APIC MMIO" },
        { 0xFEC00000, 4096, "I/O APIC MMIO" },
        { 0xFFE00000, 4096, "the firmware flash" },
        { 0x100000000ull, 4096, "beyond RAM (4 GiB; Bochs has 256 MiB)" },
        { 0x7FFFFFFFF000ull, 4096, "the top of the 48-bit space" },
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        HRESULT hr = WHvMapGpaRange(ch->part, (void *)(uintptr_t)bad[i].source, 0x50000, bad[i].size, RWX);
        check(hr == (HRESULT)E_ACCESSDENIED, "WHvMapGpaRange from %s (%llx + %llx): E_ACCESSDENIED (%x)", bad[i].what,
              (unsigned long long)bad[i].source, (unsigned long long)bad[i].size, (unsigned)hr);
    }
    expect_fault(ch, PROBE_READ, 0x50000, 1, "target of every refused map");
    HRESULT w = WHvMapGpaRange(ch->part, PG(3), 0x50000, 4096, WHvMapGpaRangeFlagWrite);
    HRESULT x = WHvMapGpaRange(ch->part, PG(3), 0x50000, 4096, WHvMapGpaRangeFlagExecute);
    HRESULT o = WHvMapGpaRange(ch->part, PG(3), 0x8000, 4096, RW);
    HRESULT h = WHvMapGpaRange(ch->part, PG(3), 1ull << 48, 4096, RW);
    check(w == (HRESULT)E_INVALIDARG && x == (HRESULT)E_INVALIDARG && o == (HRESULT)E_INVALIDARG && h == (HRESULT)E_INVALIDARG,
          "write-only, execute-only, overlapping and beyond-2^48 maps: E_INVALIDARG (%x %x %x %x)", (unsigned)w,
          (unsigned)x, (unsigned)o, (unsigned)h);
    uint64_t after = pool_used();
    check(after == used, "refused maps took no pool pages (%llu -> %llu)", (unsigned long long)used, (unsigned long long)after);
}

static void check_aliases(struct child *a)
{
    HRESULT hr = WHvMapGpaRange(a->part, PG(3), 0x60000, 4096, RW);
    hr |= WHvMapGpaRange(a->part, PG(3), 0x61000, 4096, RW);
    check(SUCCEEDED(hr), "one root page mapped at two GPAs of one partition");
    int v = -1;
    int ok = write_byte(a, 0x60008, 0x5A) && read_byte(a, 0x61008, &v);
    check(ok && v == 0x5A && PG(3)[8] == 0x5A, "a write through one alias is seen through the other (%02x) and in the root page",
          v & 0xFF);
    expect_fault(a, PROBE_READ, 0x62000, 1, "the page after the aliases (its root page follows the aliased one)");
    check(PG(4)[0] == 0xA4 && PG(4)[4095] == 0xA4, "the root page after the aliased one is untouched");
    struct child b;
    ok = child_new(&b, 0x10000, 0, 0) && SUCCEEDED(WHvMapGpaRange(b.part, PG(3), 0x20000, 4096, RW));
    ok = ok && read_byte(&b, 0x20008, &v) && v == 0x5A && write_byte(&b, 0x20009, 0x6B);
    int v2 = -1;
    read_byte(a, 0x61009, &v2);
    check(ok && v2 == 0x6B, "the same page in a second partition: each sees the other's writes (%02x)", v2 & 0xFF);
    expect_fault(&b, PROBE_READ, 0x60000, 1, "second partition: the first partition's alias GPA");
    child_free(&b);
    WHvUnmapGpaRange(a->part, 0x60000, 0x2000);
}

static struct {
    struct child *ch;
    HRESULT hr;
    WHV_RUN_VP_EXIT_CONTEXT x;
} ap_call;

static void ap_run_child(void *unused)
{
    (void)unused;
    ap_call.hr = child_run(ap_call.ch, &ap_call.x);
}

static void check_unmap_remap(struct child *ch)
{
    /* The same instruction after unmap: the VP sits in a loop that read GPA 0x30000 and reported it; the
     * page is unmapped; the loop's next read must exit, not use a cached translation. */
    WHV_RUN_VP_EXIT_CONTEXT x;
    PG(1)[0] = 0x31;
    HRESULT hr = child_start(ch, g_readloop, 0, 0x30000);
    hr = SUCCEEDED(hr) ? child_run(ch, &x) : hr;
    int first = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && (x.IoPortAccess.Rax & 0xFF) == 0x31;
    hr = WHvUnmapGpaRange(ch->part, 0x30000, 4096);
    hr |= set_reg64(ch->part, 0, WHvX64RegisterRip, x.VpContext.Rip + x.VpContext.InstructionLength);
    hr = SUCCEEDED(hr) ? child_run(ch, &x) : hr;
    check(first && SUCCEEDED(hr) && is_memory_exit(&x, PROBE_READ, 0x30000, 1),
          "unmap while the VP loops over a read of it: the next read exits GpaUnmapped (got %s at %llx)",
          exit_name(x.ExitReason), (unsigned long long)x.MemoryAccess.Gpa);
    expect_fault(ch, PROBE_WRITE, 0x30000, 1, "the unmapped read-write page");

    /* Remap to another source page: the guest sees the new page's bytes. */
    hr = WHvMapGpaRange(ch->part, PG(5), 0x70000, 4096, RW);
    expect_read(ch, 0x70010, 0xA5, "mapped to root page 5");
    hr |= WHvUnmapGpaRange(ch->part, 0x70000, 4096);
    expect_fault(ch, PROBE_READ, 0x70010, 1, "after unmap");
    hr |= WHvMapGpaRange(ch->part, PG(6), 0x70000, 4096, RW);
    expect_read(ch, 0x70010, 0xA6, "remapped to root page 6");
    check(SUCCEEDED(hr), "map, unmap, remap calls succeeded");

    /* The same on the other CPU: the VP reads on the AP, the BSP unmaps, the VP reads again on the AP. */
    if (!ap_available()) {
        check(0, "a second CPU for the cross-CPU unmap test");
    } else {
        PG(5)[0] = 0x55;
        hr = WHvMapGpaRange(ch->part, PG(5), 0x30000, 4096, RW) | child_start(ch, g_readloop, 0, 0x30000);
        ap_call.ch = ch;
        int ran = SUCCEEDED(hr) && ap_run(ap_run_child, 0);
        int saw = ran && SUCCEEDED(ap_call.hr) && ap_call.x.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
                  (ap_call.x.IoPortAccess.Rax & 0xFF) == 0x55;
        hr = WHvUnmapGpaRange(ch->part, 0x30000, 4096);
        hr |= set_reg64(ch->part, 0, WHvX64RegisterRip, ap_call.x.VpContext.Rip + ap_call.x.VpContext.InstructionLength);
        ran = SUCCEEDED(hr) && ap_run(ap_run_child, 0);
        check(saw && ran && SUCCEEDED(ap_call.hr) && is_memory_exit(&ap_call.x, PROBE_READ, 0x30000, 1),
              "the VP read a page on the AP, the BSP unmapped it, the AP's next read exits GpaUnmapped (got %s)",
              exit_name(ap_call.x.ExitReason));
    }

    /* A 2 MiB leaf split by a 4 KiB unmap in its middle. */
    uint8_t *big = alloc_pages(1024, EfiLoaderData);   /* 4 MiB: holds an aligned 2 MiB */
    if (!big) {
        check(0, "4 MiB of root memory for the 2 MiB leaf test");
        return;
    }
    uint8_t *al = (uint8_t *)(((uintptr_t)big + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
    for (int i = 0; i < 512; i++)
        al[i * 4096] = (uint8_t)i;
    uint64_t used0 = pool_used();
    hr = WHvMapGpaRange(ch->part, al, 0x200000, 2 * MIB, RW);
    uint64_t used1 = pool_used();
    hr |= WHvUnmapGpaRange(ch->part, 0x201000, 4096);
    uint64_t used2 = pool_used();
    check(SUCCEEDED(hr), "map 2 MiB (aligned: one large leaf, %llu table pages), unmap its second 4 KiB page (split: %llu more)",
          (unsigned long long)(used1 - used0), (unsigned long long)(used2 - used1));
    expect_fault(ch, PROBE_READ, 0x201000, 1, "the page unmapped out of a 2 MiB leaf");
    expect_fault(ch, PROBE_WRITE, 0x201FFF, 1, "the page unmapped out of a 2 MiB leaf, last byte");
    expect_read(ch, 0x200000, 0x00, "the page before it");
    expect_read(ch, 0x202000, 0x02, "the page after it");
    expect_read(ch, 0x3FF000, 0xFF, "the last page of the 2 MiB");
    hr = WHvMapGpaRange(ch->part, PG(6), 0x201000, 4096, RW);
    expect_read(ch, 0x201000, 0xA6, "the hole remapped to another root page");
    hr |= WHvUnmapGpaRange(ch->part, 0x200000, 2 * MIB);
    expect_fault(ch, PROBE_READ, 0x3FF000, 1, "after unmapping the whole 2 MiB");
    uint64_t used3 = pool_used();
    check(SUCCEEDED(hr) && used3 == used0, "the split leaf's table pages went back to the pool (%llu -> %llu)",
          (unsigned long long)used0, (unsigned long long)used3);
    free_pages(big, 1024);
}

/* ---- instructions */

static int b_still_runs(struct child *b, uint32_t n)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    HRESULT hr = child_start(b, g_count, 0, n);
    hr = SUCCEEDED(hr) ? child_run(b, &x) : hr;
    return SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
           (uint32_t)x.IoPortAccess.Rax == (uint32_t)((uint64_t)n * (n + 1) / 2);
}

static void check_instructions(void)
{
    struct child a, b, c;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int ok = child_new(&a, 0x10000, EXT_EXCEPTION, EXC_BITMAP) && child_new(&b, 0x10000, 0, 0) &&
             child_new(&c, 0x10000, 0, 0);
    check(ok && b_still_runs(&b, 10), "three partitions for the instruction tests; B runs");
    static struct hv_partition_in victim __attribute__((aligned(64)));
    victim.partition = (uint64_t)(uintptr_t)b.part;

    /* VMCALL from a child as the root's ABI would take it: DELETE_PARTITION of B, block at B's id. */
    HRESULT hr = child_start(&a, g_vmcall, 0, 0);
    hr |= set_reg64(a.part, 0, WHvX64RegisterRcx, HVCALL_DELETE_PARTITION);
    hr |= set_reg64(a.part, 0, WHvX64RegisterRdx, (uint64_t)(uintptr_t)&victim);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonException && x.VpException.ExceptionType == 6 &&
          x.VpContext.Rip == GUEST_CODE + g_vmcall,
          "child VMCALL DELETE_PARTITION(B) without HypercallExit: #UD at the VMCALL (exit %s, vector %u)",
          exit_name(x.ExitReason), x.VpException.ExceptionType);
    check(b_still_runs(&b, 20) && hypervisor_answers(), "B still exists and runs; the hypervisor answers the root");

    /* Without exception exits the #UD reaches the guest's own handler. */
    uint16_t ivt6[2] = { (uint16_t)(GUEST_CODE + g_ud_handler), 0 };
    memcpy(c.mem + 6 * 4, ivt6, sizeof ivt6);
    hr = child_start(&c, g_vmcall, 0, 0);
    hr |= set_reg64(c.part, 0, WHvX64RegisterRcx, HVCALL_DELETE_PARTITION);
    hr |= set_reg64(c.part, 0, WHvX64RegisterRdx, (uint64_t)(uintptr_t)&victim);
    hr = SUCCEEDED(hr) ? child_run(&c, &x) : hr;
    check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.PortNumber == 0x82,
          "child VMCALL with no exits enabled: the #UD is delivered to the guest's IVT handler (exit %s, port %x)",
          exit_name(x.ExitReason), x.IoPortAccess.PortNumber);

    /* With HypercallExit the VMM sees it; the hypervisor itself does nothing. */
    struct child h;
    if (child_new(&h, 0x10000, EXT_HYPERCALL, 0)) {
        hr = child_start(&h, g_vmcall, 0, 0);
        hr |= set_reg64(h.part, 0, WHvX64RegisterRcx, HVCALL_DELETE_PARTITION);
        hr |= set_reg64(h.part, 0, WHvX64RegisterRdx, (uint64_t)(uintptr_t)&victim);
        hr = SUCCEEDED(hr) ? child_run(&h, &x) : hr;
        check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonHypercall && x.Hypercall.Rcx == HVCALL_DELETE_PARTITION &&
              b_still_runs(&b, 30),
              "child VMCALL with HypercallExit: a Hypercall exit to the VMM (rcx %llx), B still runs",
              (unsigned long long)x.Hypercall.Rcx);
        child_free(&h);
    } else {
        check(0, "a partition with HypercallExit");
    }

    /* Every VMX and SMX instruction in protected mode: #UD, seen as an Exception exit at the instruction. */
    const char *name = g_vmx_names;
    unsigned good = 0;
    for (uint32_t i = 0; i < g_vmx_probe_count; i++, name += strlen(name) + 1) {
        hr = child_start_protected(&a, g_vmx_probes[i], 0x2000, 0x3000);
        hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
        int ok1 = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonException && x.VpException.ExceptionType == 6 &&
                  x.VpContext.Rip == GUEST_CODE + g_vmx_probes[i];
        good += ok1;
        if (!ok1)
            note("# %s in a protected-mode child: exit %s (%x), vector %u, rip %llx (want #UD at %llx)", name,
                 exit_name(x.ExitReason), x.ExitReason, x.VpException.ExceptionType, (unsigned long long)x.VpContext.Rip,
                 (unsigned long long)(GUEST_CODE + g_vmx_probes[i]));
    }
    check(good == g_vmx_probe_count,
          "VMXON, VMXOFF, VMLAUNCH, VMRESUME, VMPTRLD, VMPTRST, VMCLEAR, VMREAD, VMWRITE, INVEPT, INVVPID, VMFUNC, "
          "GETSEC, VMCALL in protected mode: #UD Exception exits (%u of %u)", good, g_vmx_probe_count);
    check(b_still_runs(&b, 40) && hypervisor_answers() && hv_version.cpus_virtualized == 2,
          "after the VMX instructions: B runs, the hypervisor answers");

    /* INIT and reset attempts: none reaches hardware. */
    hr = child_start(&a, g_init_mmio, 0x000C4500, 0xFEE00300);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    check(SUCCEEDED(hr) && is_memory_exit(&x, PROBE_WRITE, 0xFEE00300, 1),
          "child INIT IPI through the xAPIC ICR (GPA FEE00300): MemoryAccess GpaUnmapped (%s)", exit_name(x.ExitReason));
    hr = child_start(&a, g_init_x2apic, 0x000C4500, 0);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonException && x.VpException.ExceptionType == 13,
          "child INIT IPI through the x2APIC ICR (WRMSR 0x830): #GP (exit %s, vector %u)", exit_name(x.ExitReason),
          x.VpException.ExceptionType);
    hr = child_start(&a, g_reset_cf9, 0, 0);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    int cf9 = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.PortNumber == 0xCF9;
    hr = child_start(&a, g_reset_92, 0, 0);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    int p92 = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.PortNumber == 0x92;
    check(cf9 && p92, "child resets through ports 0xCF9 and 0x92: I/O exits to the VMM");
    hr = child_start(&a, g_apic_disable, 0, 0);
    hr = SUCCEEDED(hr) ? child_run(&a, &x) : hr;
    check(SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.PortNumber == 0x84 &&
          !(x.IoPortAccess.Rax & 0x800) && (rdmsr_apic_base_enabled()),
          "child clears IA32_APIC_BASE.EN: its own copy (reads back %llx); the root's APIC stays enabled",
          (unsigned long long)x.IoPortAccess.Rax);
    check(b_still_runs(&b, 50) && hypervisor_answers() && ap_run_noop(),
          "after the INIT and reset attempts: B runs, the hypervisor answers, the AP runs work");
    child_free(&a);
    child_free(&b);
    child_free(&c);
}

/* ---- faults: one partition runs on the AP while others triple-fault and fail VM entry on the BSP */

static void check_fault_containment(void)
{
    struct child runner, good, tf, inv;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int ok = child_new(&runner, 0x10000, 0, 0) && child_new(&good, 0x10000, 0, 0) && child_new(&tf, 0x10000, 0, 0) &&
             child_new(&inv, 0x10000, 0, 0);
    check(ok && b_still_runs(&good, 1000), "four partitions; the bystander runs before any fault");
    const uint32_t n = 3000000;
    HRESULT hr = child_start(&runner, g_count, 0, n);
    ap_call.ch = &runner;
    int started = SUCCEEDED(hr) && ap_start(ap_run_child, 0);
    check(started, "a partition counting to %u runs on the AP meanwhile", n);

    /* Triple fault: real mode, IDT limit 0, UD2 (#UD, then #GP, then #DF cannot be delivered). */
    unsigned triple = 0, invalid = 0, bystander = 0, rounds = 3;
    for (unsigned r = 0; r < rounds; r++) {
        WHV_REGISTER_NAME idtr = WHvX64RegisterIdtr;
        WHV_REGISTER_VALUE v;
        memset(&v, 0, sizeof v);
        hr = child_start(&tf, g_ud2, 0, 0) | WHvSetVirtualProcessorRegisters(tf.part, 0, &idtr, 1, &v);
        hr = SUCCEEDED(hr) ? child_run(&tf, &x) : hr;
        triple += SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonUnrecoverableException;
        bystander += b_still_runs(&good, 1000 + r);
        /* Invalid state: CR0.PG without CR0.PE; VM entry fails. */
        hr = child_start(&inv, g_count, 0, 5) | set_reg64(inv.part, 0, WHvX64RegisterCr0, 0x80000000ull);
        hr = SUCCEEDED(hr) ? child_run(&inv, &x) : hr;
        if (SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonInvalidVpRegisterValue)
            invalid++;
        entry_failures += SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonInvalidVpRegisterValue;
        bystander += b_still_runs(&good, 2000 + r);
    }
    check(triple == rounds, "a triple-faulting child: UnrecoverableException every time (%u of %u)", triple, rounds);
    check(invalid == rounds, "a child with CR0.PG without PE: InvalidVpRegisterValue every time (%u of %u)", invalid, rounds);
    check(bystander == 2 * rounds, "the bystander partition ran correctly between every fault (%u of %u)", bystander,
          2 * rounds);
    /* The broken ones repaired run again. */
    hr = child_start(&inv, g_count, 0, 5) | set_reg64(inv.part, 0, WHvX64RegisterCr0, 0x10);
    hr = SUCCEEDED(hr) ? child_run(&inv, &x) : hr;
    int inv_ok = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.Rax == 15;
    WHV_REGISTER_NAME idtr = WHvX64RegisterIdtr;
    WHV_REGISTER_VALUE v;
    memset(&v, 0, sizeof v);
    v.Table.Limit = 0x3FF;
    hr = child_start(&tf, g_count, 0, 5) | WHvSetVirtualProcessorRegisters(tf.part, 0, &idtr, 1, &v);
    hr = SUCCEEDED(hr) ? child_run(&tf, &x) : hr;
    int tf_ok = SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.Rax == 15;
    check(inv_ok && tf_ok, "once repaired, both faulting partitions run correctly");
    unsigned waited = 0;
    while (started && !ap_done() && waited < 30000) {
        uefi_call_wrapper(BS->Stall, 1, 1000);
        waited++;
    }
    uint32_t want = (uint32_t)((uint64_t)n * (n + 1) / 2);
    check(started && ap_done() && SUCCEEDED(ap_call.hr) && ap_call.x.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
          (uint32_t)ap_call.x.IoPortAccess.Rax == want,
          "the partition on the AP finished its count correctly (%x, want %x; %u ms after the BSP's faults)",
          (unsigned)ap_call.x.IoPortAccess.Rax, want, waited);
    child_free(&runner);
    child_free(&good);
    child_free(&tf);
    child_free(&inv);
}

void check_isolation(void)
{
    uint64_t before = pool_used();
    pages = alloc_pages(8, EfiLoaderData);
    struct child ch;
    if (!pages || !child_new(&ch, 0x10000, EXT_EXCEPTION, EXC_BITMAP)) {
        check(0, "isolation: a child partition and 8 root pages");
        return;
    }
    for (int i = 0; i < 8; i++)
        memset(PG(i), 0xA0 + i, 4096);
    check_memory_bounds(&ch);
    check_foreign_addresses(&ch);
    check_refused_sources(&ch);
    check_aliases(&ch);
    check_unmap_remap(&ch);
    child_free(&ch);
    free_pages(pages, 8);
    check_instructions();
    check_fault_containment();
    note("hostile: entry-failures=%u", entry_failures);
    uint64_t after = pool_used();
    check(after == before, "isolation tests leave the pool as they found it (%llu -> %llu pages)",
          (unsigned long long)before, (unsigned long long)after);
}
