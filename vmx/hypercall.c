/* The root's hypercalls (api/hv_abi.h, docs/hypercall-abi.md). Only CPL 0 of the root may call; every
 * block is validated before a byte of it is touched; an unknown code is a status, never a crash. */
#include "api/hv_abi.h"
#include "arch/x86/log.h"
#include "arch/x86/string.h"
#include "vmx/exits.h"
#include "vmx/hv.h"
#include "vmx/hypercall_validate.h"
#include "vmx/hypercalls.h"
#include "vmx/inject.h"
#include "vmx/partition.h"
#include "vmx/profile.h"
#include "vmx/vp_run.h"

/* The root's GPAs are host-physical (identity EPT), and the host maps physical memory 1:1. */
uint16_t check_root_block(uint64_t gpa, uint64_t len)
{
    struct root_page_cache *k = &this_cpu()->block_cache;
    if (hv_root_block_cache_hit(k, gpa, len, HV_BLOCK_ALIGN))   /* in line: the Run's blocks hit */
        return HV_STATUS_SUCCESS;
    const struct hv_handoff *h = hv.handoff;
    return hv_check_root_block_cached(k, h->ram, h->ram_count, h->hv_base, h->hv_size, gpa, len, HV_BLOCK_ALIGN);
}

uint16_t write_root_block(uint64_t gpa, const void *src, uint64_t len)
{
    uint16_t st = check_root_block(gpa, len);
    if (st == HV_STATUS_SUCCESS)
        memcpy((void *)(uintptr_t)gpa, src, len);
    return st;
}

uint16_t read_root_block(uint64_t gpa, void *dst, uint64_t len)
{
    uint16_t st = check_root_block(gpa, len);
    if (st == HV_STATUS_SUCCESS)
        memcpy(dst, (const void *)(uintptr_t)gpa, len);
    return st;
}

static uint16_t hc_get_version(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    (void)in_gpa;
    struct hv_version_out v;
    memset(&v, 0, sizeof v);
    v.magic = HV_VERSION_MAGIC;
    v.abi_version = HV_ABI_VERSION;
    memcpy(v.build_id, hv.handoff->build_id, sizeof v.build_id);
    v.build_id[sizeof v.build_id - 1] = 0;
    v.hv_base = hv.handoff->hv_base;
    v.hv_size = hv.handoff->hv_size;
    v.cpus_virtualized = hv.cpus_virtualized;
    v.cpus_total = hv.handoff->cpu_count;
    return write_root_block(out_gpa, &v, sizeof v);
}

static uint16_t hc_get_stats(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    (void)in_gpa;
    struct hv_stats_out s;
    memset(&s, 0, sizeof s);
    for (unsigned i = 0; i < HV_MAX_CPUS; i++) {
        const struct cpu *k = hv.cpus[i];
        if (!k)
            continue;
        for (unsigned r = 0; r < HV_STATS_EXIT_REASONS; r++)
            s.exits[r] += k->exits[r];
        s.hypercalls += k->hypercalls;
        s.hidden_access_faults += k->hidden_access_faults;
    }
    s.pool_pages_total = hv.pool.pages;
    s.pool_pages_used = hv.pool.used;
    s.pool_pages_free = hv.pool.pages - hv.pool.used;
    s.root_ept_pages = hv.root_ept.table_pages;
    s.cpus_virtualized = hv.cpus_virtualized;
    prof_report();
    return write_root_block(out_gpa, &s, sizeof s);
}

/* FNV-1a, a qword at a time, over the core's text and rodata: mapped read/execute and never written
 * after the loader copied them, so any change means something wrote through the physical alias. */
extern const char __core_start[], __core_text_end[];

static uint16_t hc_self_check(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    (void)in_gpa;
    struct hv_self_check_out s;
    memset(&s, 0, sizeof s);
    const uint64_t *q = (const uint64_t *)(uintptr_t)__core_start, *end = (const uint64_t *)(uintptr_t)__core_text_end;
    uint64_t h = 0xcbf29ce484222325ull;
    for (; q < end; q++)
        h = (h ^ *q) * 0x100000001b3ull;
    s.checksum = h;
    s.image_bytes = (uint64_t)(__core_text_end - __core_start);
    s.partitions = partition_census(&s.vps);
    return write_root_block(out_gpa, &s, sizeof s);
}

#ifdef HV_PROFILE
static const char *const prof_names[PROF_POINTS] = {
    "root", "run_checks", "claim", "tlb", "state_in", "vmcs_in", "transit", "decode", "fetch",
    "vp_context", "state_out", "vmcs_out", "copy",
};

/* Averages since the last report, per CPU that ran a VP (vmx/profile.h), then a fresh start. */
void prof_report(void)
{
    for (unsigned i = 0; i < HV_MAX_CPUS; i++) {
        struct cpu *k = hv.cpus[i];
        if (!k || !k->prof_count[PROF_TRANSIT])
            continue;
        for (unsigned p = 0; p < PROF_POINTS; p++)
            if (k->prof_count[p])
                log_warn("profile: cpu %u %s=%llu (%llu)", i, prof_names[p],
                         (unsigned long long)(k->prof_sum[p] / k->prof_count[p]),
                         (unsigned long long)k->prof_count[p]);
        memset(k->prof_sum, 0, sizeof k->prof_sum);
        memset(k->prof_count, 0, sizeof k->prof_count);
        k->prof_last = rdtsc();   /* the root's segment must not include the report's printing */
    }
}
#endif

static hypercall_fn *const hypercalls[] = {
    [HVCALL_GET_VERSION] = hc_get_version,
    [HVCALL_GET_STATS] = hc_get_stats,
    [HVCALL_SELF_CHECK] = hc_self_check,
    [HVCALL_CREATE_PARTITION] = hc_create_partition,
    [HVCALL_DELETE_PARTITION] = hc_delete_partition,
    [HVCALL_SET_PARTITION_PROPERTY] = hc_set_partition_property,
    [HVCALL_GET_PARTITION_PROPERTY] = hc_get_partition_property,
    [HVCALL_SETUP_PARTITION] = hc_setup_partition,
    [HVCALL_MAP_GPA_RANGE] = hc_map_gpa_range,
    [HVCALL_UNMAP_GPA_RANGE] = hc_unmap_gpa_range,
    [HVCALL_CREATE_VP] = hc_create_vp,
    [HVCALL_DELETE_VP] = hc_delete_vp,
    [HVCALL_RUN_VP] = hc_run_vp,
    [HVCALL_CANCEL_RUN_VP] = hc_cancel_run_vp,
    [HVCALL_GET_VP_REGISTERS] = hc_get_vp_registers,
    [HVCALL_SET_VP_REGISTERS] = hc_set_vp_registers,
    [HVCALL_TRANSLATE_GVA] = hc_translate_gva,
    [HVCALL_READ_GPA] = hc_read_gpa,
    [HVCALL_WRITE_GPA] = hc_write_gpa,
    [HVCALL_SET_REGISTERS_AND_RUN_VP] = hc_set_registers_and_run_vp,
};

void exit_vmcall(struct cpu *c)
{
    if (guest_cpl() != 0) {
        inject_gp0();   /* design: hypercalls are for the root's kernel only */
        return;
    }
    uint64_t *g = c->current_regs->gpr;
    uint64_t code = g[R_RCX];
    hypercall_fn *fn = code < sizeof hypercalls / sizeof hypercalls[0] ? hypercalls[code] : 0;
    c->hypercalls++;
    uint16_t st = fn ? fn(c, g[R_RDX], g[R_R8]) : HV_STATUS_INVALID_HYPERCALL_CODE;
    if (st == HV_STATUS_DEFERRED)
        return;    /* Run: this CPU now runs the VP; the VMCALL completes when the run ends */
    g[R_RAX] = st;
    advance_rip();
}
