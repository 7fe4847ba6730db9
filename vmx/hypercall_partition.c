/* The partition hypercalls (ABI 1.1): unpack and validate the root's blocks, then call the partition
 * layer. Every block is checked (vmx/hypercall_validate.c) before a byte of it is read or written. */
#include "api/hv_abi.h"
#include "arch/x86/string.h"
#include "vmx/hypercalls.h"
#include "vmx/partition.h"
#include "vmx/profile.h"
#include "vmx/vp_registers.h"
#include "vmx/vp_run.h"

#define READ_IN(type, var)                                   \
    type var;                                                \
    do {                                                     \
        uint16_t st_ = read_root_block(in_gpa, &var, sizeof var); \
        if (st_ != HV_STATUS_SUCCESS)                        \
            return st_;                                      \
    } while (0)

uint16_t hc_create_partition(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)in_gpa;
    struct hv_partition_out out = { 0 };
    uint16_t st = check_root_block(out_gpa, sizeof out);
    if (st == HV_STATUS_SUCCESS)
        st = partition_create(&out.partition);
    if (st == HV_STATUS_SUCCESS)
        st = write_root_block(out_gpa, &out, sizeof out);
    return st;
}

uint16_t hc_delete_partition(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_partition_in, a);
    return partition_delete(a.partition);
}

uint16_t hc_setup_partition(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_partition_in, a);
    return partition_setup(a.partition);
}

uint16_t hc_set_partition_property(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    /* On this CPU's host stack (16 KiB): CPUs make hypercalls concurrently, so nothing shared. */
    uint8_t block[HV_MAX_BLOCK_BYTES];
    READ_IN(struct hv_property_in, a);
    if (a.size > HV_MAX_BLOCK_BYTES - sizeof a)
        return HV_STATUS_INVALID_PARAMETER;
    uint16_t st = read_root_block(in_gpa, block, sizeof a + a.size);
    if (st != HV_STATUS_SUCCESS)
        return st;
    return partition_set_property(a.partition, a.code, block + sizeof a, a.size);
}

uint16_t hc_get_partition_property(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    uint8_t block[HV_MAX_BLOCK_BYTES];
    READ_IN(struct hv_property_in, a);
    uint32_t room = HV_MAX_BLOCK_BYTES - sizeof(struct hv_property_out);
    uint32_t size = a.size < room ? a.size : room;
    struct hv_property_out *o = (struct hv_property_out *)block;
    memset(block, 0, sizeof block);
    uint16_t st = partition_get_property(a.partition, a.code, block + sizeof *o, size, &o->written);
    if (st != HV_STATUS_SUCCESS && st != HV_STATUS_INSUFFICIENT_BUFFER)
        return st;
    uint32_t len = sizeof *o + (st == HV_STATUS_SUCCESS ? o->written : 0);
    uint16_t wst = write_root_block(out_gpa, block, len);
    return wst != HV_STATUS_SUCCESS ? wst : st;
}

uint16_t hc_map_gpa_range(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_map_gpa_in, a);
    if (a.reserved)
        return HV_STATUS_INVALID_PARAMETER;
    return partition_map(a.partition, a.source, a.gpa, a.size, a.flags);
}

uint16_t hc_unmap_gpa_range(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_unmap_gpa_in, a);
    return partition_unmap(a.partition, a.gpa, a.size);
}

uint16_t hc_create_vp(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_vp_in, a);
    return a.flags ? HV_STATUS_INVALID_PARAMETER : vp_create(a.partition, a.vp);
}

uint16_t hc_delete_vp(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_vp_in, a);
    return vp_delete(a.partition, a.vp);
}

uint16_t hc_run_vp(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    READ_IN(struct hv_vp_in, a);
    uint16_t st = check_root_block(out_gpa, 224);
    if (st != HV_STATUS_SUCCESS)
        return st;
    prof_mark(c, PROF_RUN_CHECKS);
    return vp_run_begin(c, a.partition, a.vp, out_gpa);
}

/* SET_VP_REGISTERS then RUN_VP in one call (ABI 1.3). Every name is checked before anything changes, and
 * only names whose every value is valid are accepted: once the VP is claimed the writes cannot fail, so
 * the call either changes nothing (an error status) or writes them all and runs. */
uint16_t hc_set_registers_and_run_vp(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    uint8_t in[hv_registers_values_offset(HV_RUN_REGISTERS_MAX) + HV_RUN_REGISTERS_MAX * 16]
        __attribute__((aligned(16)));
    READ_IN(struct hv_vp_registers_in, a);
    if (a.count == 0 || a.count > HV_RUN_REGISTERS_MAX)
        return HV_STATUS_INVALID_PARAMETER;
    uint16_t st = read_root_block(in_gpa, in, hv_registers_values_offset(a.count) + a.count * 16);
    if (st != HV_STATUS_SUCCESS)
        return st;
    const uint32_t *names = (const uint32_t *)(in + sizeof a);
    for (uint32_t i = 0; i < a.count; i++)
        if (!hv_run_register_name_ok(names[i]))
            return HV_STATUS_INVALID_PARAMETER;
    st = check_root_block(out_gpa, 224);
    if (st != HV_STATUS_SUCCESS)
        return st;
    return vp_run_begin_with_registers(c, a.partition, a.vp, out_gpa, names,
                                       (const WHV_REGISTER_VALUE *)(in + hv_registers_values_offset(a.count)),
                                       a.count);
}

uint16_t hc_cancel_run_vp(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c; (void)out_gpa;
    READ_IN(struct hv_vp_in, a);
    return vp_cancel(a.partition, a.vp);
}

/* Register calls: the VP's VMCS is made current on this CPU for the duration (the VP must not run). */
static uint16_t registers_call(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa, bool set)
{
    uint8_t in[HV_MAX_BLOCK_BYTES] __attribute__((aligned(16)));
    WHV_REGISTER_VALUE values[HV_MAX_REGISTERS_PER_CALL];
    READ_IN(struct hv_vp_registers_in, a);
    if (a.count == 0 || a.count > HV_MAX_REGISTERS_PER_CALL)
        return HV_STATUS_INVALID_PARAMETER;
    uint32_t len = set ? hv_registers_values_offset(a.count) + a.count * 16 : sizeof a + a.count * 4;
    uint16_t st = read_root_block(in_gpa, in, len);
    if (st == HV_STATUS_SUCCESS && !set)
        st = check_root_block(out_gpa, a.count * 16);
    if (st != HV_STATUS_SUCCESS)
        return st;
    struct partition *p;
    struct vp *v = vp_claim(a.partition, a.vp, &p, &st);
    if (!v)
        return st;
    vp_vmcs_acquire(c, p, v);
    const uint32_t *names = (const uint32_t *)(in + sizeof a);
    const WHV_REGISTER_VALUE *src = (const WHV_REGISTER_VALUE *)(in + hv_registers_values_offset(a.count));
    for (uint32_t i = 0; i < a.count && st == HV_STATUS_SUCCESS; i++)
        st = set ? vp_set_register(c, v, names[i], &src[i]) : vp_get_register(c, v, names[i], &values[i]);
    vp_vmcs_release(c, v);
    vp_unclaim(v);
    if (st == HV_STATUS_SUCCESS && !set)
        st = write_root_block(out_gpa, values, a.count * 16);
    return st;
}

uint16_t hc_get_vp_registers(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    return registers_call(c, in_gpa, out_gpa, false);
}

uint16_t hc_set_vp_registers(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    return registers_call(c, in_gpa, out_gpa, true);
}

/* WHvTranslateGva: the VP's page walk, as its MMU would do it now (the VP must not run). */
uint16_t hc_translate_gva(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    READ_IN(struct hv_translate_gva_in, a);
    uint16_t st = check_root_block(out_gpa, sizeof(struct hv_translate_gva_out));
    if (st != HV_STATUS_SUCCESS)
        return st;
    struct partition *p;
    struct vp *v = vp_claim(a.partition, a.vp, &p, &st);
    if (!v)
        return st;
    struct guest_memory mem;
    struct guest_paging_state s;
    struct hv_translate_gva_out out = { 0, 0, 0 };
    vp_vmcs_acquire(c, p, v);
    vp_guest_memory(p, &mem);
    vp_paging_state(c, &s);
    out.result_code = (uint32_t)guest_translate(&mem, &s, a.gva, a.flags, &out.gpa);
    vp_vmcs_release(c, v);
    vp_unclaim(v);
    return write_root_block(out_gpa, &out, sizeof out);
}

/* Copies between the partition's memory and a buffer, page by page through the GPA map. Every byte must
 * be mapped (any permission: the VMM owns the memory); else INVALID_PARAMETER and nothing is copied. */
static uint16_t copy_guest(const struct partition *p, uint64_t gpa, void *buf, uint32_t size, bool write)
{
    for (int pass = 0; pass < 2; pass++) {   /* check all pages first, then copy: all or nothing */
        for (uint32_t done = 0; done < size;) {
            uint64_t hpa;
            uint32_t flags;
            if (!gpa_map_translate(&p->map, gpa + done, &hpa, &flags))
                return HV_STATUS_INVALID_PARAMETER;
            uint32_t chunk = 4096 - (uint32_t)((gpa + done) & 4095);
            if (chunk > size - done)
                chunk = size - done;
            if (pass == 1) {
                if (write) memcpy((void *)(uintptr_t)hpa, (uint8_t *)buf + done, chunk);
                else memcpy((uint8_t *)buf + done, (const void *)(uintptr_t)hpa, chunk);
            }
            done += chunk;
        }
    }
    return HV_STATUS_SUCCESS;
}

static uint16_t gpa_access(uint64_t in_gpa, uint64_t out_gpa, bool write)
{
    uint8_t block[sizeof(struct hv_gpa_access_in) + HV_MAX_GPA_ACCESS_BYTES];
    READ_IN(struct hv_gpa_access_in, a);
    if (a.size == 0 || a.size > HV_MAX_GPA_ACCESS_BYTES || a.gpa > UINT64_MAX - a.size)
        return HV_STATUS_INVALID_PARAMETER;
    uint16_t st = write ? read_root_block(in_gpa, block, sizeof a + a.size) : check_root_block(out_gpa, a.size);
    if (st != HV_STATUS_SUCCESS)
        return st;
    struct partition *p;
    if (!vp_lookup(a.partition, a.vp, &p, &st))
        return st;
    uint8_t *data = block + sizeof a;
    spin_lock(&p->lock);
    st = copy_guest(p, a.gpa, data, a.size, write);
    spin_unlock(&p->lock);
    if (st == HV_STATUS_SUCCESS && !write)
        st = write_root_block(out_gpa, data, a.size);
    return st;
}

uint16_t hc_read_gpa(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    return gpa_access(in_gpa, out_gpa, false);
}

uint16_t hc_write_gpa(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa)
{
    (void)c;
    return gpa_access(in_gpa, out_gpa, true);
}
