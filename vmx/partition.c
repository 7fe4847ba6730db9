/* Partition and VP lifecycle, and partition properties. Every entry point validates the id first; a
 * failed call changes nothing. Partitions live in pool pages; ids increase and are never reused. */
#include "vmx/partition.h"
#include "api/whv_platform.h"
#include "arch/x86/log.h"
#include "arch/x86/string.h"
#include "vmx/hv.h"
#include "vmx/vmx_ops.h"
#include "vmx/vp_switch.h"

#define EPT_CAP_LEAF_2M (1ull << 16)
#define EPT_CAP_LEAF_1G (1ull << 17)

static struct partition *slots[HV_MAX_PARTITIONS];
static struct spinlock slots_lock;
static uint64_t next_id = 1;

struct partition *partition_find(uint64_t id)
{
    if (id == 0)
        return 0;
    for (unsigned i = 0; i < HV_MAX_PARTITIONS; i++)
        if (slots[i] && slots[i]->id == id)
            return slots[i];
    return 0;
}

uint32_t partition_census(uint32_t *vps)
{
    uint32_t n = 0, v = 0;
    spin_lock(&slots_lock);
    for (unsigned i = 0; i < HV_MAX_PARTITIONS; i++) {
        if (!slots[i])
            continue;
        n++;
        for (unsigned j = 0; j < HV_MAX_VPS_PER_PARTITION; j++)
            v += slots[i]->vps[j].exists;
    }
    spin_unlock(&slots_lock);
    *vps = v;
    return n;
}

uint16_t partition_create(uint64_t *id)
{
    const struct cpu *c = this_cpu();
    uint64_t pages = (sizeof(struct partition) + 4095) / 4096;
    spin_lock(&slots_lock);
    unsigned slot = 0;
    while (slot < HV_MAX_PARTITIONS && slots[slot])
        slot++;
    struct partition *p = slot < HV_MAX_PARTITIONS ? (struct partition *)(uintptr_t)pool_alloc_pages(&hv.pool, pages) : 0;
    if (!p) {
        spin_unlock(&slots_lock);
        return HV_STATUS_INSUFFICIENT_MEMORY;
    }
    const struct hv_handoff *h = hv.handoff;
    if (gpa_map_init(&p->map, &hv.page_alloc, c->caps.ept_vpid & EPT_CAP_LEAF_2M, c->caps.ept_vpid & EPT_CAP_LEAF_1G,
                     h->ram, h->ram_count, h->hv_base, h->hv_size) != EPT_OK) {
        pool_free_pages(&hv.pool, (uint64_t)(uintptr_t)p, pages);
        spin_unlock(&slots_lock);
        return HV_STATUS_INSUFFICIENT_MEMORY;
    }
    p->pages = pages;
    p->eptp = ept_pointer(&p->map.ept, false);
    p->ept_gen = 1;                  /* every CPU flushes this EPTP before its first run here */
    p->processor_count = 1;
    p->state = PARTITION_CREATED;
    p->id = next_id++;
    p->slot = slot;
    slots[slot] = p;
    *id = p->id;
    spin_unlock(&slots_lock);
    return HV_STATUS_SUCCESS;
}

static void free_vp(struct vp *v)
{
    if (v->vmcs_pa)
        pool_free_pages(&hv.pool, v->vmcs_pa, 1);
    if (v->fpu_pa)
        pool_free_pages(&hv.pool, v->fpu_pa, 1);
    v->vmcs_pa = 0;
    v->fpu_pa = 0;
    v->exists = false;
}

uint16_t partition_delete(uint64_t id)
{
    spin_lock(&slots_lock);
    struct partition *p = partition_find(id);
    if (!p) {
        spin_unlock(&slots_lock);
        return HV_STATUS_INVALID_PARTITION_ID;
    }
    for (unsigned i = 0; i < HV_MAX_VPS_PER_PARTITION; i++) {
        if (p->vps[i].busy) {
            spin_unlock(&slots_lock);
            return HV_STATUS_INVALID_VP_STATE;   /* a VP is running: cancel it first */
        }
    }
    for (unsigned i = 0; i < HV_MAX_PARTITIONS; i++)
        if (slots[i] == p)
            slots[i] = 0;
    spin_unlock(&slots_lock);
    for (unsigned i = 0; i < HV_MAX_VPS_PER_PARTITION; i++)
        if (p->vps[i].exists)
            free_vp(&p->vps[i]);
    /* No CPU runs it any more; drop cached translations everywhere before its tables are reused. */
    invept(INVEPT_ALL_CONTEXT, 0);
    gpa_map_destroy(&p->map);
    pool_free_pages(&hv.pool, (uint64_t)(uintptr_t)p, p->pages);
    return HV_STATUS_SUCCESS;
}

uint16_t partition_setup(uint64_t id)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    if (p->state != PARTITION_CREATED)
        return HV_STATUS_INVALID_PARTITION_STATE;
    p->state = PARTITION_READY;
    return HV_STATUS_SUCCESS;
}

static uint16_t set_cpuid_exit_list(struct partition *p, const void *value, uint32_t size)
{
    if (size % 4 || size / 4 > PARTITION_MAX_CPUID_EXITS)
        return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
    memcpy(p->cpuid_exits, value, size);
    p->cpuid_exit_count = size / 4;
    return HV_STATUS_SUCCESS;
}

/* CpuidResultList: whole WHV_X64_CPUID_RESULT entries, reserved words zero, each leaf once. */
static uint16_t set_cpuid_result_list(struct partition *p, const void *value, uint32_t size)
{
    const WHV_X64_CPUID_RESULT *in = value;
    uint32_t n = size / sizeof *in;
    if (size % sizeof *in || n > PARTITION_MAX_CPUID_RESULTS)
        return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
    for (uint32_t i = 0; i < n; i++) {
        if (in[i].Reserved[0] | in[i].Reserved[1] | in[i].Reserved[2])
            return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        for (uint32_t j = 0; j < i; j++)
            if (in[j].Function == in[i].Function)
                return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
    }
    for (uint32_t i = 0; i < n; i++)
        p->cpuid_results[i] = (struct cpuid_result){ in[i].Function, in[i].Eax, in[i].Ebx, in[i].Ecx, in[i].Edx };
    p->cpuid_result_count = n;
    return HV_STATUS_SUCCESS;
}

static uint32_t get_cpuid_result_list(const struct partition *p, WHV_X64_CPUID_RESULT *out, uint32_t size)
{
    uint32_t natural = p->cpuid_result_count * (uint32_t)sizeof *out;
    if (size < natural)
        return natural;
    for (uint32_t i = 0; i < p->cpuid_result_count; i++) {
        const struct cpuid_result *r = &p->cpuid_results[i];
        out[i] = (WHV_X64_CPUID_RESULT){ .Function = r->leaf, .Eax = r->eax, .Ebx = r->ebx, .Ecx = r->ecx,
                                         .Edx = r->edx };
    }
    return natural;
}

uint16_t partition_set_property(uint64_t id, uint32_t code, const void *value, uint32_t size)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    uint64_t v64 = 0;
    uint32_t v32 = 0;
    if (size >= 8) memcpy(&v64, value, 8);
    if (size >= 4) memcpy(&v32, value, 4);
    switch (code) {
    case WHvPartitionPropertyCodeExtendedVmExits:
        if (size < 8) return HV_STATUS_INSUFFICIENT_BUFFER;
        if (v64 & ~EXT_EXITS_SUPPORTED) return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        p->extended_exits = v64;
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeExceptionExitBitmap:
        if (size < 8) return HV_STATUS_INSUFFICIENT_BUFFER;
        if (v64 >> 32) return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        p->exception_bitmap = v64;
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeCpuidExitList:
        return set_cpuid_exit_list(p, value, size);
    case WHvPartitionPropertyCodeCpuidResultList:
        return set_cpuid_result_list(p, value, size);
    case WHvPartitionPropertyCodeX64MsrExitBitmap:
        if (size < 8) return HV_STATUS_INSUFFICIENT_BUFFER;
        if (v64 & ~MSR_EXIT_BITMAP_SUPPORTED) return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        p->msr_exit_bitmap = v64;
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeProcessorCount:
        if (size < 4) return HV_STATUS_INSUFFICIENT_BUFFER;
        if (p->state != PARTITION_CREATED) return HV_STATUS_INVALID_PARTITION_STATE;
        if (v32 == 0 || v32 > HV_MAX_VPS_PER_PARTITION) return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        p->processor_count = v32;
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeLocalApicEmulationMode:
        if (size < 4) return HV_STATUS_INSUFFICIENT_BUFFER;
        return v32 == 0 ? HV_STATUS_SUCCESS : HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
    default:
        return HV_STATUS_UNKNOWN_PROPERTY;
    }
}

uint16_t partition_get_property(uint64_t id, uint32_t code, void *value, uint32_t size, uint32_t *written)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    uint64_t v = 0;
    uint32_t natural = 8;
    switch (code) {
    case WHvPartitionPropertyCodeExtendedVmExits: v = p->extended_exits; break;
    case WHvPartitionPropertyCodeExceptionExitBitmap: v = p->exception_bitmap; break;
    case WHvPartitionPropertyCodeX64MsrExitBitmap: v = p->msr_exit_bitmap; break;
    case WHvPartitionPropertyCodeCpuidResultList:
        *written = get_cpuid_result_list(p, value, size);
        return size < *written ? HV_STATUS_INSUFFICIENT_BUFFER : HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeProcessorCount: v = p->processor_count; natural = 4; break;
    case WHvPartitionPropertyCodeLocalApicEmulationMode: natural = 4; break;
    case WHvPartitionPropertyCodeCpuidExitList:
        natural = p->cpuid_exit_count * 4;
        *written = natural;
        if (size < natural) return HV_STATUS_INSUFFICIENT_BUFFER;
        memcpy(value, p->cpuid_exits, natural);
        return HV_STATUS_SUCCESS;
    default:
        return HV_STATUS_UNKNOWN_PROPERTY;
    }
    *written = natural;
    if (size < natural)
        return HV_STATUS_INSUFFICIENT_BUFFER;
    memcpy(value, &v, natural);
    return HV_STATUS_SUCCESS;
}

bool partition_cpuid_exits(const struct partition *p, uint32_t leaf)
{
    if (!(p->extended_exits & EXT_EXIT_CPUID))
        return false;
    for (uint32_t i = 0; i < p->cpuid_exit_count; i++)
        if (p->cpuid_exits[i] == leaf)
            return true;
    return false;
}

void partition_tlb_changed(struct cpu *c, struct partition *p)
{
    uint64_t gen = __atomic_add_fetch(&p->ept_gen, 1, __ATOMIC_SEQ_CST);
    /* INVEPT single-context drops the guest-physical and combined mappings of this EPTP for every VPID. */
    invept(INVEPT_SINGLE_CONTEXT, p->eptp);
    p->cpu_ept_gen[c->index] = gen;
}

const struct cpuid_result *partition_cpuid_result(const struct partition *p, uint32_t leaf)
{
    for (uint32_t i = 0; i < p->cpuid_result_count; i++)
        if (p->cpuid_results[i].leaf == leaf)
            return &p->cpuid_results[i];
    return 0;
}

uint16_t partition_map(uint64_t id, uint64_t source, uint64_t gpa, uint64_t size, uint32_t flags)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    spin_lock(&p->lock);
    uint16_t st = gpa_map_add(&p->map, source, gpa, size, flags);
    spin_unlock(&p->lock);
    return st;
}

uint16_t partition_unmap(uint64_t id, uint64_t gpa, uint64_t size)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    uint64_t gone = 0;
    spin_lock(&p->lock);
    uint16_t st = gpa_map_remove(&p->map, gpa, size, &gone);
    spin_unlock(&p->lock);
    /* Stale translations must not outlive the mapping on any CPU: this CPU flushes now, the others
     * before they next run a VP of the partition (vp_ept_sync). A VP running on another CPU right now
     * keeps them until its slice ends (docs/partitions.md). */
    if (gone) {
        __atomic_add_fetch(&p->ept_gen, 1, __ATOMIC_SEQ_CST);
        invept(INVEPT_SINGLE_CONTEXT, p->eptp);
    }
    return st;
}

struct vp *vp_lookup(uint64_t id, uint32_t index, struct partition **pp, uint16_t *status)
{
    struct partition *p = partition_find(id);
    if (!p) { *status = HV_STATUS_INVALID_PARTITION_ID; return 0; }
    if (index >= HV_MAX_VPS_PER_PARTITION || !p->vps[index].exists) { *status = HV_STATUS_INVALID_VP_INDEX; return 0; }
    *pp = p;
    return &p->vps[index];
}

struct vp *vp_claim(uint64_t id, uint32_t index, struct partition **pp, uint16_t *status)
{
    struct vp *v = vp_lookup(id, index, pp, status);
    if (v && !__atomic_compare_exchange_n(&v->busy, &(uint32_t){0}, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        *status = HV_STATUS_INVALID_VP_STATE;
        return 0;
    }
    return v;
}

void vp_unclaim(struct vp *v)
{
    __atomic_store_n(&v->busy, 0, __ATOMIC_RELEASE);
}

uint16_t vp_create(uint64_t id, uint32_t index)
{
    struct partition *p = partition_find(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    if (p->state != PARTITION_READY)
        return HV_STATUS_INVALID_PARTITION_STATE;
    if (index >= p->processor_count)
        return HV_STATUS_INVALID_VP_INDEX;
    struct vp *v = &p->vps[index];
    if (v->exists)
        return HVX_STATUS_VP_ALREADY_EXISTS;
    memset(v, 0, sizeof *v);
    v->vmcs_pa = pool_alloc_pages(&hv.pool, 1);
    v->fpu_pa = pool_alloc_pages(&hv.pool, 1);
    if (!v->vmcs_pa || !v->fpu_pa) {
        free_vp(v);
        return HV_STATUS_INSUFFICIENT_MEMORY;
    }
    v->index = index;
    v->vpid = (uint16_t)(1 + p->slot * HV_MAX_VPS_PER_PARTITION + index);
    v->apic_base = 0xFEE00000ull | (index == 0 ? 0x100 : 0) | 0x800;
    v->xcr0 = 1;
    /* The architectural x87/SSE reset state: FCW 0x37F, MXCSR 0x1F80 (SDM vol. 1, 8.1 and 10.2.3). */
    vp_fpu_reset(v);
    if (vp_vmcs_init(this_cpu(), p, v) != 0) {
        free_vp(v);
        return HV_STATUS_INSUFFICIENT_MEMORY;
    }
    v->regs.gpr[R_RDX] = 0x600;   /* processor signature after reset (family 6) */
    __atomic_add_fetch(&p->ept_gen, 1, __ATOMIC_SEQ_CST);   /* nothing of an earlier VP in this slot */
    v->exists = true;
    return HV_STATUS_SUCCESS;
}

uint16_t vp_delete(uint64_t id, uint32_t index)
{
    struct partition *p;
    uint16_t st;
    struct vp *v = vp_claim(id, index, &p, &st);
    if (!v)
        return st;
    free_vp(v);
    vp_unclaim(v);
    return HV_STATUS_SUCCESS;
}
