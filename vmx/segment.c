/* Segment descriptors -> VMX guest segment fields, and the VMX <-> WHV attribute formats. Pure. */
#include "vmx/segment.h"
#include <stddef.h>

/* Selector (SDM vol. 3, 3.4.2): index 15:3, table indicator 2, RPL 1:0. */
#define SELECTOR_TI (1u << 2)
#define SELECTOR_INDEX_SHIFT 3

/* Descriptor (SDM vol. 3, 3.4.5): access byte 5, flags (G, D/B, L, AVL) in the high nibble of byte 6. */
#define DESC_SIZE 8u
#define DESC_SIZE_LONG_SYSTEM 16u
#define ACCESS_S (1u << 4)
#define ACCESS_P (1u << 7)
#define FLAGS_G (1u << 7)

/* VMX access rights (SDM vol. 3, 25.4.1, Table 25-2) share bits 7:0 and 15:12 with the descriptor's
 * access byte and flags nibble; bits 11:8 are reserved. WHV's Attributes use the same 16-bit layout. */
#define AR_FLAGS_SHIFT 8
#define AR_DESCRIPTOR_BITS 0xf0ffu

struct desc_table {
    const uint8_t *bytes;
    uint32_t limit;   /* last valid byte offset */
};

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool null_selector(uint16_t selector)
{
    return (selector & ~3u) == 0;   /* index 0 in the GDT, any RPL (3.4.2) */
}

/* TI=1 names the LDT, where index 0 is an ordinary entry. */
static struct desc_table table_for(uint16_t selector, const uint8_t *gdt, uint16_t gdt_limit,
                                   const uint8_t *ldt, uint32_t ldt_limit)
{
    if (selector & SELECTOR_TI)
        return (struct desc_table){ ldt, ldt_limit };
    return (struct desc_table){ gdt, gdt_limit };
}

/* The whole descriptor must lie within the table limit (3.5.1); 64-bit arithmetic cannot wrap. */
static const uint8_t *descriptor_at(struct desc_table t, uint32_t offset, uint32_t size)
{
    if (!t.bytes || (uint64_t)offset + size - 1 > t.limit)
        return NULL;
    return t.bytes + offset;
}

/* In IA-32e mode system descriptors (LDT, TSS) are 16 bytes; bytes 8-11 hold base 63:32 (3.5.2). */
static bool is_long_system_descriptor(const uint8_t *d, bool long_mode)
{
    return long_mode && !(d[5] & ACCESS_S);
}

static uint64_t descriptor_base(const uint8_t *d, bool long_system)
{
    uint64_t base = (uint64_t)d[2] | (uint64_t)d[3] << 8 | (uint64_t)d[4] << 16 | (uint64_t)d[7] << 24;
    if (long_system)
        base |= (uint64_t)read_le32(d + 8) << 32;
    return base;
}

/* With G=1 the 20-bit limit counts 4 KiB units, so the low 12 bits of the byte limit are all ones. */
static uint32_t descriptor_limit(const uint8_t *d)
{
    uint32_t limit = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)(d[6] & 0x0f) << 16;
    return (d[6] & FLAGS_G) ? (limit << 12) | 0xfff : limit;
}

static uint32_t descriptor_ar(const uint8_t *d)
{
    return (uint32_t)d[5] | (uint32_t)(d[6] & 0xf0) << AR_FLAGS_SHIFT;
}

static bool unusable(uint16_t selector, struct vmx_segment *out)
{
    *out = (struct vmx_segment){ .selector = selector, .ar = VMX_AR_UNUSABLE };
    return false;
}

bool segment_from_descriptor(const uint8_t *gdt, uint16_t gdt_limit, const uint8_t *ldt,
                             uint32_t ldt_limit, uint16_t selector, bool long_mode,
                             struct vmx_segment *out)
{
    struct desc_table t = table_for(selector, gdt, gdt_limit, ldt, ldt_limit);
    uint32_t offset = (uint32_t)(selector >> SELECTOR_INDEX_SHIFT) * DESC_SIZE;
    const uint8_t *d = descriptor_at(t, offset, DESC_SIZE);

    if (null_selector(selector) || !d || !(d[5] & ACCESS_P))
        return unusable(selector, out);
    bool long_system = is_long_system_descriptor(d, long_mode);
    if (long_system && !descriptor_at(t, offset, DESC_SIZE_LONG_SYSTEM))
        return unusable(selector, out);
    *out = (struct vmx_segment){
        .selector = selector,
        .base = descriptor_base(d, long_system),
        .limit = descriptor_limit(d),
        .ar = descriptor_ar(d),
    };
    return true;
}

uint16_t segment_whv_attributes(uint32_t vmx_ar)
{
    if (vmx_ar & VMX_AR_UNUSABLE)
        return 0;
    return (uint16_t)(vmx_ar & AR_DESCRIPTOR_BITS);
}

/* VM entry checks CS's access rights whether or not it is marked unusable and always loads its L, D/B
 * and G (26.3.1.2, 26.3.2.2), so CS keeps its attributes; other segments map Present=0 to unusable. */
uint32_t segment_vmx_ar_from_whv(uint16_t attributes, bool is_cs)
{
    if (!(attributes & ACCESS_P) && !is_cs)
        return VMX_AR_UNUSABLE;
    return attributes & AR_DESCRIPTOR_BITS;
}
