/* HVCALL_SET_REGISTERS_AND_RUN_VP (ABI 1.3, docs/hypercall-abi.md) from the root, as raw hypercalls (the
 * WHV library only sends it for writes it held back, so the hostile blocks are built here). The call
 * writes RIP and GPRs (WHV names 0..16) and runs the VP; every refusal must leave every register of the
 * VP as it was, which is read back with raw HVCALL_GET_VP_REGISTERS after each refused call:
 *   - names outside 0..16 (RFLAGS, CR0, CS, XMM0, 0x7777, 0xFFFFFFFF), first or last in the block;
 *   - counts 0, 18 (HV_RUN_REGISTERS_MAX + 1), 64 (SET_VP_REGISTERS' limit), 0xFFFFFFFF;
 *   - input blocks in hypervisor memory, in MMIO, unaligned, and one whose header is readable but whose
 *     names and values run into the hypervisor's memory; exit-context blocks in hypervisor memory, MMIO,
 *     unaligned, straddling the hypervisor's start;
 *   - unknown, forged and stale partition ids, VP indexes past the limit or of a deleted VP: the same
 *     status as HVCALL_RUN_VP gives;
 *   - valid calls: the VP starts at the new RIP with the new RAX (OUT AL: the exit's port and Rax), the
 *     VMM loop's "RIP past the instruction, run again", all 17 names in one call, duplicate names (the
 *     later value wins), a pending cancel (Canceled at once, with the writes made);
 *   - a run long enough for the root's timer interrupts to end the VP's slices: the hypervisor re-executes
 *     the root's VMCALL after each one, and the writes must not be made again (the VP must not be wound
 *     back to the written RIP): raw, and through the WHV library, which sends the writes a VMM makes
 *     after an exit with the next Run. */
#include "tests/payload/hostile.h"
#include "arch/x86/string.h"
#include "boot/efi_mp.h"   /* EFI_CALLBACK */

#define EXT_EXCEPTION 4ull
#define EXC_BITMAP ((1ull << 6) | (1ull << 13))   /* #UD and #GP as Exception exits */
#define BASE_RAX 0x00000000CAFE0001ull            /* the VP's RAX between the tests */
#define NEW_RAX 0x0123456789ABCD5Aull             /* AL = 0x5A */
#define COUNTERS 0x6000u                          /* progress: starts at +0, iterations left at +4 */
#define PROGRESS_ITERATIONS 2000000u              /* about 4M instructions: several root timer ticks */
/* A hypervisor bug this file found (docs/hostile-inputs.md, Findings), fixed: the root's VMCALL of
 * SET_REGISTERS_AND_RUN_VP is executed again after every root interrupt that ends one of the VP's slices,
 * and every execution wrote the registers again, winding the VP back to the written RIP. The long-run
 * checks below guard against its return. */

static uint8_t blk[2 * 4096] __attribute__((aligned(4096)));
static WHV_RUN_VP_EXIT_CONTEXT xo __attribute__((aligned(64)));
static struct hv_vp_in vp_in __attribute__((aligned(64)));
static uint8_t get_in[16 + 17 * 4] __attribute__((aligned(64)));
static WHV_REGISTER_VALUE get_out[17] __attribute__((aligned(64)));

static uint64_t rip_at(uint32_t off) { return GUEST_CODE + off; }

/* A SET_REGISTERS_AND_RUN_VP / SET_VP_REGISTERS block at b: header with `count`, then n names and n values
 * (n may differ from count, to test the count check alone); returns its length. */
static uint32_t fill_block(uint8_t *b, uint64_t partition, uint32_t vp, uint32_t count, uint32_t n,
                           const uint32_t *names, const uint64_t *values)
{
    struct hv_vp_registers_in h = { partition, vp, count };
    uint32_t vo = hv_registers_values_offset(n);
    memset(b, 0, vo + 16 * n);
    memcpy(b, &h, sizeof h);
    memcpy(b + sizeof h, names, 4 * n);
    for (uint32_t i = 0; i < n; i++)
        memcpy(b + vo + 16 * i, &values[i], 8);   /* Reg64; the high half stays 0 */
    return vo + 16 * n;
}

/* One raw call; the exit-context block is filled with 0xCC first, so an untouched block can be told. */
static uint64_t run_regs_at(const void *block, void *out)
{
    memset(&xo, 0xCC, sizeof xo);
    return raw_hypercall(HVCALL_SET_REGISTERS_AND_RUN_VP, block, out);
}

static uint64_t run_regs(uint64_t partition, uint32_t vp, uint32_t n, const uint32_t *names, const uint64_t *values)
{
    fill_block(blk, partition, vp, n, n, names, values);
    return run_regs_at(blk, &xo);
}

static uint64_t run_plain(uint64_t partition, uint32_t vp)
{
    vp_in = (struct hv_vp_in){ partition, vp, 0 };
    memset(&xo, 0xCC, sizeof xo);
    return raw_hypercall(HVCALL_RUN_VP, &vp_in, &xo);
}

static uint64_t set_regs(uint64_t partition, uint32_t vp, uint32_t n, const uint32_t *names, const uint64_t *values)
{
    fill_block(blk, partition, vp, n, n, names, values);
    return raw_hypercall(HVCALL_SET_VP_REGISTERS, blk, 0);
}

/* RAX..R15 and RIP (names 0..16) of the VP, by raw GET_VP_REGISTERS; 0 when the call fails. */
static int get_all(uint64_t partition, uint32_t vp, uint64_t out[17])
{
    struct hv_vp_registers_in h = { partition, vp, 17 };
    memcpy(get_in, &h, sizeof h);
    for (uint32_t i = 0; i < 17; i++)
        memcpy(get_in + 16 + 4 * i, &i, 4);
    memset(get_out, 0, sizeof get_out);
    if (raw_hypercall(HVCALL_GET_VP_REGISTERS, get_in, get_out) != HV_STATUS_SUCCESS)
        return 0;
    for (uint32_t i = 0; i < 17; i++)
        out[i] = get_out[i].Reg64;
    return 1;
}

static int exit_untouched(void)
{
    const uint8_t *p = (const uint8_t *)&xo;
    for (size_t i = 0; i < sizeof xo; i++)
        if (p[i] != 0xCC)
            return 0;
    return 1;
}

/* The state a refusal must leave alone: taken before each refused call, so that one wrong refusal does
 * not fail the checks after it. */
static uint64_t snap[17];
static int take_snapshot(uint64_t partition) { return get_all(partition, 0, snap); }
static int unchanged(uint64_t partition)
{
    uint64_t now[17];
    return get_all(partition, 0, now) && memcmp(now, snap, sizeof now) == 0;
}

/* A call meant to be refused, with the VP's state taken just before it. */
static uint64_t refused_call(uint64_t partition, const void *block, void *out)
{
    take_snapshot(partition);
    return run_regs_at(block, out);
}

static const char *status_name(uint64_t st)
{
    switch (st) {
    case HV_STATUS_SUCCESS: return "SUCCESS";
    case HV_STATUS_INVALID_HYPERCALL_CODE: return "INVALID_HYPERCALL_CODE";
    case HV_STATUS_INVALID_ALIGNMENT: return "INVALID_ALIGNMENT";
    case HV_STATUS_INVALID_PARAMETER: return "INVALID_PARAMETER";
    case HV_STATUS_ACCESS_DENIED: return "ACCESS_DENIED";
    case HV_STATUS_INVALID_PARTITION_ID: return "INVALID_PARTITION_ID";
    case HV_STATUS_INVALID_VP_INDEX: return "INVALID_VP_INDEX";
    case HV_STATUS_INVALID_VP_STATE: return "INVALID_VP_STATE";
    default: return "?";
    }
}

/* A refused call: the status wanted, no register changed, no byte of the exit context written (when it
 * was a block of ours). */
static void expect_refused(uint64_t partition, uint64_t st, uint64_t want, int out_ours, const char *what)
{
    int same = unchanged(partition);
    int clean = !out_ours || exit_untouched();
    check(st == want && same && clean, "SET_REGISTERS_AND_RUN_VP, %s: %s (got %s %llx), registers unchanged (%s)%s",
          what, status_name(want), status_name(st), (unsigned long long)st, same ? "yes" : "NO",
          clean ? "" : ", but the exit context was written");
}

/* ---- refusals */

static void check_bad_names(uint64_t id)
{
    static const struct { uint32_t name; const char *what; } bad[] = {
        { WHvX64RegisterRflags, "RFLAGS (0x11)" }, { WHvX64RegisterCr0, "CR0 (0x1C)" },
        { 0xFFFFFFFFu, "0xFFFFFFFF" }, { WHvX64RegisterCs, "CS (0x13)" }, { WHvX64RegisterXmm0, "XMM0" },
        { 0x7777, "0x7777" }, { 0x10010, "0x10010 (RIP's number plus bit 16)" },
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t last[3] = { WHvX64RegisterRip, WHvX64RegisterRax, bad[i].name };
        uint32_t first[3] = { bad[i].name, WHvX64RegisterRip, WHvX64RegisterRax };
        uint64_t v_last[3] = { rip_at(g_out_al), NEW_RAX, 0x202 }, v_first[3] = { 0x202, rip_at(g_out_al), NEW_RAX };
        take_snapshot(id);
        uint64_t st1 = run_regs(id, 0, 3, last, v_last);
        int same1 = unchanged(id) && exit_untouched();
        take_snapshot(id);
        uint64_t st2 = run_regs(id, 0, 3, first, v_first);
        int same2 = unchanged(id) && exit_untouched();
        check(st1 == HV_STATUS_INVALID_PARAMETER && st2 == HV_STATUS_INVALID_PARAMETER && same1 && same2,
              "SET_REGISTERS_AND_RUN_VP with name %s after RIP and RAX, and before them: INVALID_PARAMETER "
              "(got %llx, %llx), RIP, RAX and every GPR unchanged, no exit written (%s, %s)", bad[i].what,
              (unsigned long long)st1, (unsigned long long)st2, same1 ? "yes" : "NO", same2 ? "yes" : "NO");
    }
}

static void check_bad_counts(uint64_t id)
{
    uint32_t names[64];
    uint64_t values[64];
    for (uint32_t i = 0; i < 64; i++) {
        names[i] = i % 2 ? WHvX64RegisterRip : WHvX64RegisterRax;   /* every name valid */
        values[i] = i % 2 ? rip_at(g_out_al) : NEW_RAX;
    }
    static const struct { uint32_t count, n; const char *what; } cases[] = {
        { 0, 0, "count 0" },
        { 18, 18, "count 18 (HV_RUN_REGISTERS_MAX + 1, every name valid)" },
        { 64, 64, "count 64 (SET_VP_REGISTERS' limit, every name valid)" },
        { 0xFFFFFFFFu, 2, "count 0xFFFFFFFF" },
        { 0x80000001u, 2, "count 0x80000001" },
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fill_block(blk, id, 0, cases[i].count, cases[i].n, names, values);
        take_snapshot(id);
        uint64_t st = run_regs_at(blk, &xo);
        expect_refused(id, st, HV_STATUS_INVALID_PARAMETER, 1, cases[i].what);
    }
}

/* The page just below the hypervisor, if it is RAM this payload can own: blocks that start in root RAM
 * and run into the hypervisor's memory. */
static uint8_t *below_hypervisor(void)
{
    EFI_PHYSICAL_ADDRESS pa = hv_version.hv_base - 4096;
    if (hv_version.hv_base < 0x200000 ||
        uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, 1, &pa) != EFI_SUCCESS)
        return 0;
    return (uint8_t *)(uintptr_t)pa;
}

static void check_bad_blocks(uint64_t id)
{
    uint32_t names[2] = { WHvX64RegisterRip, WHvX64RegisterRax };
    uint64_t values[2] = { rip_at(g_out_al), NEW_RAX };
    uint64_t hv = hv_version.hv_base;
    uint64_t st;

    /* input blocks */
    st = refused_call(id, (const void *)(uintptr_t)(hv + 0x2000), &xo);
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 1, "input block in the hypervisor's memory");
    st = refused_call(id, (const void *)(uintptr_t)(hv + hv_version.hv_size - 16), &xo);
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 1, "input block in the hypervisor's last 16 bytes");
    st = refused_call(id, (const void *)(uintptr_t)0xFEE00000ull, &xo);
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 1, "input block on the local APIC's MMIO");
    for (unsigned mis = 1; mis < 8; mis += 3) {
        fill_block(blk + mis, id, 0, 2, 2, names, values);
        st = refused_call(id, blk + mis, &xo);
        expect_refused(id, st, HV_STATUS_INVALID_ALIGNMENT, 1, mis == 1 ? "input block at +1 (unaligned)"
                                                          : mis == 4 ? "input block at +4 (unaligned)"
                                                                     : "input block at +7 (unaligned)");
    }
    uint8_t *edge = below_hypervisor();
    if (edge) {
        /* The 16-byte header is the page's last bytes, readable; the names and values are the
         * hypervisor's first bytes. The whole block is checked before a register is written. */
        struct hv_vp_registers_in h = { id, 0, 2 };
        memcpy(edge + 4096 - 16, &h, sizeof h);
        st = refused_call(id, edge + 4096 - 16, &xo);
        expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 1,
                       "header in root RAM, names and values in the hypervisor's first page");
    } else {
        note("# the page below the hypervisor (%llx) is not free RAM: the straddling blocks are not tried",
             (unsigned long long)(hv - 4096));
    }

    /* exit-context blocks: checked after the input, before anything changes */
    fill_block(blk, id, 0, 2, 2, names, values);
    st = refused_call(id, blk, (void *)(uintptr_t)(hv + 0x3000));
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 0, "exit context in the hypervisor's memory");
    st = refused_call(id, blk, (void *)(uintptr_t)0xFEC00000ull);
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 0, "exit context on the I/O APIC's MMIO");
    st = refused_call(id, blk, (uint8_t *)&xo + 4);
    expect_refused(id, st, HV_STATUS_INVALID_ALIGNMENT, 1, "exit context at +4 (unaligned)");
    st = refused_call(id, blk, (void *)(uintptr_t)(hv_version.hv_base + hv_version.hv_size - 8));
    expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 0, "exit context at the hypervisor's last 8 bytes");
    if (edge) {
        memset(edge, 0xCC, 4096);
        st = refused_call(id, blk, edge + 4096 - 112);
        int clean = edge[4096 - 112] == 0xCC && edge[4095] == 0xCC;
        expect_refused(id, st, HV_STATUS_ACCESS_DENIED, 0, "exit context straddling the hypervisor's start");
        check(clean, "the refused straddling exit context left the root's half of it unwritten");
        uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(uintptr_t)edge, 1);
    }
}

/* Unknown partitions and VPs: exactly what RUN_VP says for the same (partition, vp). */
static void check_unknown_targets(struct child *ch)
{
    uint64_t id = (uint64_t)(uintptr_t)ch->part;
    uint32_t names[2] = { WHvX64RegisterRip, WHvX64RegisterRax };
    uint64_t values[2] = { rip_at(g_out_al), NEW_RAX };
    WHV_PARTITION_HANDLE gone = 0;
    uint64_t stale = 1ull << 41;
    if (SUCCEEDED(WHvCreatePartition(&gone)) && SUCCEEDED(WHvDeletePartition(gone)))
        stale = (uint64_t)(uintptr_t)gone;
    struct child other;
    int other_ok = child_new(&other, 0x10000, 0, 0) && SUCCEEDED(WHvDeleteVirtualProcessor(other.part, 0));
    uint64_t other_id = other_ok ? (uint64_t)(uintptr_t)other.part : 0;
    static const char *const what[] = { "partition id 0", "partition id ~0", "a deleted partition's id",
                                        "a forged id (2^40 + 0x1234)", "VP 1 (ProcessorCount 1)", "VP 3", "VP 4",
                                        "VP 0x80000000", "VP 0xFFFFFFFF", "a deleted VP (another partition's VP 0)" };
    const struct { uint64_t partition; uint32_t vp; uint64_t want; } t[] = {
        { 0, 0, HV_STATUS_INVALID_PARTITION_ID }, { ~0ull, 0, HV_STATUS_INVALID_PARTITION_ID },
        { stale, 0, HV_STATUS_INVALID_PARTITION_ID }, { (1ull << 40) + 0x1234, 0, HV_STATUS_INVALID_PARTITION_ID },
        { id, 1, HV_STATUS_INVALID_VP_INDEX }, { id, 3, HV_STATUS_INVALID_VP_INDEX }, { id, 4, HV_STATUS_INVALID_VP_INDEX },
        { id, 0x80000000u, HV_STATUS_INVALID_VP_INDEX }, { id, 0xFFFFFFFFu, HV_STATUS_INVALID_VP_INDEX },
        { other_id, 0, HV_STATUS_INVALID_VP_INDEX },
    };
    check(other_ok, "a second partition whose VP 0 was deleted");
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (i == 9 && !other_ok)
            continue;
        take_snapshot(id);
        uint64_t run = run_plain(t[i].partition, t[i].vp);
        uint64_t st = run_regs(t[i].partition, t[i].vp, 2, names, values);
        int same = unchanged(id) && exit_untouched();
        check(st == run && st == t[i].want && same,
              "SET_REGISTERS_AND_RUN_VP on %s: %s, as RUN_VP (%s; got %llx, RUN_VP %llx), the real VP unchanged (%s)",
              what[i], status_name(t[i].want), status_name(st), (unsigned long long)st, (unsigned long long)run,
              same ? "yes" : "NO");
    }
    if (other_ok)
        child_free(&other);
}

/* ---- valid calls */

static void check_valid_runs(struct child *ch)
{
    uint64_t id = (uint64_t)(uintptr_t)ch->part;
    uint64_t r[17];

    /* RIP and RAX: the VP starts at OUT 0x85, AL */
    uint32_t names[4] = { WHvX64RegisterRip, WHvX64RegisterRax };
    uint64_t values[4] = { rip_at(g_out_al), NEW_RAX };
    uint64_t st = run_regs(id, 0, 2, names, values);
    int io = st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64IoPortAccess;
    check(io && xo.IoPortAccess.PortNumber == 0x85 && xo.IoPortAccess.Rax == NEW_RAX &&
              xo.VpContext.Rip == rip_at(g_out_al) && xo.IoPortAccess.AccessInfo.IsWrite,
          "SET_REGISTERS_AND_RUN_VP (RIP, RAX): the VP ran from the new RIP with the new RAX: OUT to port %x "
          "(want 85), Rax %llx (want %llx), Rip %llx (want %llx), status %llx, exit %s",
          xo.IoPortAccess.PortNumber, (unsigned long long)xo.IoPortAccess.Rax, (unsigned long long)NEW_RAX,
          (unsigned long long)xo.VpContext.Rip, (unsigned long long)rip_at(g_out_al), (unsigned long long)st,
          exit_name(xo.ExitReason));
    memset(r, 0, sizeof r);
    int got = get_all(id, 0, r);
    check(got && r[WHvX64RegisterRip] == rip_at(g_out_al) && r[WHvX64RegisterRax] == NEW_RAX &&
              r[WHvX64RegisterRbx] == snap[WHvX64RegisterRbx] && r[WHvX64RegisterRsp] == snap[WHvX64RegisterRsp],
          "GET_VP_REGISTERS after it: RIP at the OUT (%llx), RAX the value written (%llx), RBX and RSP as before",
          (unsigned long long)r[WHvX64RegisterRip], (unsigned long long)r[WHvX64RegisterRax]);

    /* the VMM loop: RIP past the instruction, run again (the reason the call exists) */
    names[0] = WHvX64RegisterRip;
    values[0] = xo.VpContext.Rip + xo.VpContext.InstructionLength;
    st = run_regs(id, 0, 1, names, values);
    check(st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64Halt && xo.VpContext.Rip == rip_at(g_out_al) + 3,
          "SET_REGISTERS_AND_RUN_VP (RIP + InstructionLength): the VP went on with the HLT after the OUT "
          "(exit %s, Rip %llx, want %llx)", exit_name(xo.ExitReason), (unsigned long long)xo.VpContext.Rip,
          (unsigned long long)(rip_at(g_out_al) + 3));

    /* all 17 names in one call (RSP lives in the VMCS, the others in the VP's register file) */
    uint32_t all[17];
    uint64_t want[17];
    for (uint32_t i = 0; i < 17; i++) {
        all[i] = 16 - i;   /* RIP first, RAX last */
        want[16 - i] = 0x0101010101010101ull * (i + 1) ^ 0x8000000000000000ull;
    }
    want[WHvX64RegisterRip] = rip_at(g_halt);
    uint64_t v17[17];
    for (uint32_t i = 0; i < 17; i++)
        v17[i] = want[all[i]];
    st = run_regs(id, 0, 17, all, v17);
    int halted = st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64Halt && xo.VpContext.Rip == rip_at(g_halt) + 1;
    unsigned good = 0;
    memset(r, 0, sizeof r);
    if (get_all(id, 0, r))
        for (uint32_t i = 0; i < 16; i++)
            good += r[i] == want[i];
    check(halted && good == 16 && r[WHvX64RegisterRip] == rip_at(g_halt) + 1,
          "SET_REGISTERS_AND_RUN_VP with all 17 names (count 17): Halt at the new RIP (%s, Rip %llx), "
          "%u of 16 GPRs read back as written", exit_name(xo.ExitReason), (unsigned long long)xo.VpContext.Rip, good);

    /* duplicate names: the later value wins */
    uint32_t dup[4] = { WHvX64RegisterRax, WHvX64RegisterRip, WHvX64RegisterRax, WHvX64RegisterRip };
    uint64_t vdup[4] = { 0x1111111111111111ull, rip_at(g_halt), NEW_RAX, rip_at(g_out_al) };
    st = run_regs(id, 0, 4, dup, vdup);
    check(st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
              xo.IoPortAccess.PortNumber == 0x85 && xo.IoPortAccess.Rax == NEW_RAX && xo.VpContext.Rip == rip_at(g_out_al),
          "SET_REGISTERS_AND_RUN_VP with RAX and RIP named twice: the later values win (exit %s, port %x, Rax %llx, "
          "Rip %llx)", exit_name(xo.ExitReason), xo.IoPortAccess.PortNumber, (unsigned long long)xo.IoPortAccess.Rax,
          (unsigned long long)xo.VpContext.Rip);

    /* a pending cancel: the call succeeds with Canceled at once, and the writes were made */
    vp_in = (struct hv_vp_in){ id, 0, 0 };
    uint64_t cst = raw_hypercall(HVCALL_CANCEL_RUN_VP, &vp_in, 0);
    names[0] = WHvX64RegisterRip;
    names[1] = WHvX64RegisterRax;
    values[0] = rip_at(g_out_al);
    values[1] = NEW_RAX ^ 0xFF;
    st = run_regs(id, 0, 2, names, values);
    int canceled = cst == HV_STATUS_SUCCESS && st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonCanceled &&
                   xo.VpContext.Rip == rip_at(g_out_al);
    memset(r, 0, sizeof r);
    got = get_all(id, 0, r);
    check(canceled && got && r[WHvX64RegisterRax] == (NEW_RAX ^ 0xFF) && r[WHvX64RegisterRip] == rip_at(g_out_al),
          "SET_REGISTERS_AND_RUN_VP after CANCEL_RUN_VP: Canceled at once (%s, Rip %llx) with RIP and RAX written "
          "(RAX reads %llx)", exit_name(xo.ExitReason), (unsigned long long)xo.VpContext.Rip,
          (unsigned long long)r[WHvX64RegisterRax]);
    st = run_regs(id, 0, 2, names, values);
    check(st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64IoPortAccess && xo.IoPortAccess.Rax == (NEW_RAX ^ 0xFF),
          "the next SET_REGISTERS_AND_RUN_VP runs the VP (the cancel was consumed): exit %s, Rax %llx",
          exit_name(xo.ExitReason), (unsigned long long)xo.IoPortAccess.Rax);
}

/* A run that lasts several root timer ticks: each tick ends the VP's slice, the hypervisor goes back to
 * the root without completing its VMCALL, and the root executes the VMCALL again. The VP must go on where
 * it was: RUN_VP (the control) and SET_REGISTERS_AND_RUN_VP alike must start the guest code once. */
static void check_long_run(struct child *ch)
{
    uint64_t id = (uint64_t)(uintptr_t)ch->part;
    uint32_t names[2] = { WHvX64RegisterRip, WHvX64RegisterRbx };
    uint64_t values[2] = { rip_at(g_progress), COUNTERS };
    uint32_t *counters = (uint32_t *)(ch->mem + COUNTERS);

    counters[0] = 0;
    counters[1] = PROGRESS_ITERATIONS;
    uint64_t sst = set_regs(id, 0, 2, names, values);
    uint64_t calls0 = hypercalls_served();
    uint64_t st = run_plain(id, 0);
    uint64_t reexec_plain = hypercalls_served() - calls0 - 2;   /* less the Run and this GET_STATS */
    uint32_t starts_plain = counters[0];
    check(sst == HV_STATUS_SUCCESS && st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
              xo.IoPortAccess.PortNumber == 0x86 && starts_plain == 1 && counters[1] == 0,
          "control: SET_VP_REGISTERS then RUN_VP of a %u-iteration loop: the code started once (%u), the loop ran "
          "out (%u left); the Run was executed again %llu times after root interrupts",
          PROGRESS_ITERATIONS, starts_plain, counters[1], (unsigned long long)reexec_plain);

    counters[0] = 0;
    counters[1] = PROGRESS_ITERATIONS;
    calls0 = hypercalls_served();
    st = run_regs(id, 0, 2, names, values);
    uint64_t reexec = hypercalls_served() - calls0 - 2;
    uint32_t starts = counters[0];
    int ok = st == HV_STATUS_SUCCESS && xo.ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
             xo.IoPortAccess.PortNumber == 0x86 && starts == 1 && counters[1] == 0;
    check(ok, "SET_REGISTERS_AND_RUN_VP of the same loop: the registers are written once, the code started once "
              "(%u starts, %u iterations left; the call was executed again %llu times after root interrupts; "
              "status %llx, exit %s)",
          starts, counters[1], (unsigned long long)reexec, (unsigned long long)st, exit_name(xo.ExitReason));
}

/* The same through the WHV library, as a VMM writes it: after an exit, RIP and RBX set for the next
 * stretch of guest code (the library holds them: RIP and GPRs of a VP that just returned from a Run) and
 * the Run sends them in SET_REGISTERS_AND_RUN_VP. The code (count: EAX = RBX + ... + 1, its state in
 * registers only) takes about 3M instructions, several root timer ticks. A timer event cancels the Run
 * after 500 ms (emulated) so that a VP wound back at every tick cannot hang the payload. */
static volatile int watchdog_fired;
static struct hv_vp_in watchdog_block __attribute__((aligned(64)));
static VOID EFI_CALLBACK watchdog_expired(EFI_EVENT event, VOID *context)
{
    (void)event;
    (void)context;
    watchdog_fired = 1;
    raw_hypercall(HVCALL_CANCEL_RUN_VP, &watchdog_block, 0);
}

/* One Run through the library after an exit: RIP at count, RBX = n, and RFLAGS too when `held` is 0 (a
 * name the library never holds back: it writes at once, then RUN_VP, the control). */
static int library_long_run(struct child *ch, int held, uint32_t n, WHV_RUN_VP_EXIT_CONTEXT *x, uint64_t *reexec,
                            int *fired, HRESULT *result)
{
    EFI_EVENT watchdog;
    if (uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, watchdog_expired, NULL,
                          &watchdog) != EFI_SUCCESS)
        return 0;
    HRESULT hr = child_start(ch, g_out_al, NEW_RAX, 0);
    hr = SUCCEEDED(hr) ? child_run(ch, x) : hr;
    int first = SUCCEEDED(hr) && x->ExitReason == WHvRunVpExitReasonX64IoPortAccess && x->IoPortAccess.PortNumber == 0x85;
    WHV_REGISTER_NAME names[3] = { WHvX64RegisterRip, WHvX64RegisterRbx, WHvX64RegisterRflags };
    WHV_REGISTER_VALUE values[3];
    memset(values, 0, sizeof values);
    values[0].Reg64 = rip_at(g_count);
    values[1].Reg64 = n;
    values[2].Reg64 = 2;
    hr = SUCCEEDED(hr) ? WHvSetVirtualProcessorRegisters(ch->part, 0, names, held ? 2 : 3, values) : hr;
    watchdog_block = (struct hv_vp_in){ (uint64_t)(uintptr_t)ch->part, 0, 0 };
    watchdog_fired = 0;
    uefi_call_wrapper(BS->SetTimer, 3, watchdog, TimerRelative, 5000000);   /* 500 ms */
    uint64_t calls0 = hypercalls_served();
    hr = SUCCEEDED(hr) ? child_run(ch, x) : hr;
    *reexec = hypercalls_served() - calls0 - 2;
    uefi_call_wrapper(BS->SetTimer, 3, watchdog, TimerCancel, 0);
    uefi_call_wrapper(BS->CloseEvent, 1, watchdog);
    *fired = watchdog_fired;
    *result = hr;
    return first && SUCCEEDED(hr) && x->ExitReason == WHvRunVpExitReasonX64IoPortAccess &&
           x->IoPortAccess.PortNumber == 0x84 && (uint32_t)x->IoPortAccess.Rax == (uint32_t)((uint64_t)n * (n + 1) / 2);
}

static void check_library_long_run(struct child *ch)
{
    const uint32_t n = 1000000;
    WHV_RUN_VP_EXIT_CONTEXT x;
    uint64_t reexec;
    int fired;
    HRESULT hr;
    int ok = library_long_run(ch, 0, n, &x, &reexec, &fired, &hr);
    check(ok, "control, WHV library: after an exit, RIP, RBX and RFLAGS set (written at once) and a Run of a "
              "%u-iteration count kept in registers: it completes (exit %s, sum %x; the Run was executed again "
              "%llu times after root interrupts%s)", n, exit_name(x.ExitReason), (unsigned)x.IoPortAccess.Rax,
          (unsigned long long)reexec, fired ? ", but the 500 ms watchdog fired" : "");
    ok = library_long_run(ch, 1, n, &x, &reexec, &fired, &hr);
    check(ok, "WHV library: after an exit, RIP and RBX set (held, sent with the Run as SET_REGISTERS_AND_RUN_VP) "
              "and a Run of the same count: it completes (exit %s, sum %x; the Run was executed again %llu "
              "times after root interrupts%s; hr %x)", exit_name(x.ExitReason), (unsigned)x.IoPortAccess.Rax,
          (unsigned long long)reexec, fired ? ", but the 500 ms watchdog canceled it" : "", (unsigned)hr);
}

void check_run_registers(void)
{
    uint64_t before = pool_used();
    struct child ch;
    if (!child_new(&ch, 0x10000, EXT_EXCEPTION, EXC_BITMAP)) {
        check(0, "SET_REGISTERS_AND_RUN_VP: a child partition");
        return;
    }
    uint64_t id = (uint64_t)(uintptr_t)ch.part;
    /* The state the refusals must leave: RIP at a HLT, RAX BASE_RAX, RBX 0x4242 (through the library:
     * segment names are never held back, so the writes are made at once). */
    HRESULT hr = child_start(&ch, g_halt, BASE_RAX, 0x4242);
    int have = SUCCEEDED(hr) && take_snapshot(id);
    check(have && snap[WHvX64RegisterRip] == rip_at(g_halt) && snap[WHvX64RegisterRax] == BASE_RAX,
          "SET_REGISTERS_AND_RUN_VP: a child with RIP %llx and RAX %llx read back by GET_VP_REGISTERS",
          (unsigned long long)snap[WHvX64RegisterRip], (unsigned long long)snap[WHvX64RegisterRax]);
    check_bad_names(id);
    check_bad_counts(id);
    check_bad_blocks(id);
    check_unknown_targets(&ch);
    check_valid_runs(&ch);
    check_long_run(&ch);
    check_library_long_run(&ch);
    check(hypervisor_answers(), "after the SET_REGISTERS_AND_RUN_VP tests the hypervisor answers");
    child_free(&ch);
    uint64_t after = pool_used();
    check(after == before, "the SET_REGISTERS_AND_RUN_VP tests leave the pool as they found it (%llu -> %llu pages)",
          (unsigned long long)before, (unsigned long long)after);
}
