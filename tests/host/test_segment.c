/* segment: descriptor decoding into VMX guest-state fields and the VMX <-> WHV attribute formats. */
#include "check.h"
#include "vmx/segment.h"
#include <string.h>

#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_TSS 0x20
#define SEL_NOT_PRESENT 0x30
#define GDT_ENTRIES 7
#define GDT_LIMIT (GDT_ENTRIES * 8 - 1)

#define TSS_BASE 0x0000000123456000ull

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Like OVMF's GDT, plus a 16-byte 64-bit available TSS (limit 0x67) based above 4 GiB and a
 * not-present data descriptor. */
static void build_gdt(uint8_t gdt[GDT_ENTRIES * 8])
{
    static const uint64_t entries[GDT_ENTRIES] = {
        0,
        0x00cf9b000000ffffull,   /* flat 32-bit code */
        0x00cf93000000ffffull,   /* flat data */
        0x00af9b000000ffffull,   /* 64-bit code */
        0x2300894560000067ull,   /* TSS: base 31:0 0x23456000, type 9, P */
        0x0000000000000001ull,   /* TSS: base 63:32 */
        0x00cf13000000ffffull,   /* data, P = 0 */
    };
    for (int i = 0; i < GDT_ENTRIES; i++)
        put_le64(gdt + 8 * i, entries[i]);
}

static struct vmx_segment decode(uint16_t selector, bool long_mode, bool *usable)
{
    uint8_t gdt[GDT_ENTRIES * 8];
    struct vmx_segment s;
    build_gdt(gdt);
    memset(&s, 0xa5, sizeof s);
    *usable = segment_from_descriptor(gdt, GDT_LIMIT, NULL, 0, selector, long_mode, &s);
    return s;
}

static void check_unusable(uint16_t selector)
{
    bool usable;
    struct vmx_segment s = decode(selector, true, &usable);
    CHECK(!usable);
    CHECK_EQ(s.selector, selector);
    CHECK_EQ(s.ar, VMX_AR_UNUSABLE);
    CHECK_EQ(s.base, 0);
    CHECK_EQ(s.limit, 0);
}

TEST(segment_flat_code32)
{
    bool usable;
    struct vmx_segment s = decode(SEL_CODE32, true, &usable);
    CHECK(usable);
    CHECK_EQ(s.selector, SEL_CODE32);
    CHECK_EQ(s.base, 0);
    CHECK_EQ(s.limit, 0xffffffff);
    CHECK_EQ(s.ar, 0xc09b);
}

TEST(segment_flat_data)
{
    bool usable;
    struct vmx_segment s = decode(SEL_DATA, true, &usable);
    CHECK(usable);
    CHECK_EQ(s.base, 0);
    CHECK_EQ(s.limit, 0xffffffff);
    CHECK_EQ(s.ar, 0xc093);
}

TEST(segment_code64)
{
    bool usable;
    struct vmx_segment s = decode(SEL_CODE64, true, &usable);
    CHECK(usable);
    CHECK_EQ(s.limit, 0xffffffff);
    CHECK_EQ(s.ar, 0xa09b);
}

/* RPL bits are kept in the selector and do not change which descriptor is read. */
TEST(segment_rpl_kept)
{
    bool usable;
    struct vmx_segment s = decode(SEL_DATA | 3, true, &usable);
    CHECK(usable);
    CHECK_EQ(s.selector, SEL_DATA | 3);
    CHECK_EQ(s.ar, 0xc093);
}

TEST(segment_tss_long_mode_base_above_4g)
{
    bool usable;
    struct vmx_segment s = decode(SEL_TSS, true, &usable);
    CHECK(usable);
    CHECK_EQ(s.base, TSS_BASE);
    CHECK_EQ(s.limit, 0x67);
    CHECK_EQ(s.ar, 0x89);
}

/* Outside long mode a system descriptor is 8 bytes: the upper base half is not read. */
TEST(segment_tss_legacy_mode_8_bytes)
{
    bool usable;
    struct vmx_segment s = decode(SEL_TSS, false, &usable);
    CHECK(usable);
    CHECK_EQ(s.base, TSS_BASE & 0xffffffffull);
    CHECK_EQ(s.limit, 0x67);
}

TEST(segment_null_selector)
{
    check_unusable(0);
    check_unusable(3);
}

TEST(segment_selector_beyond_limit)
{
    check_unusable(GDT_LIMIT + 1);
    check_unusable(0xfff8);
}

/* A descriptor whose last byte is past the limit is not readable even if it starts inside. */
TEST(segment_descriptor_partly_beyond_limit)
{
    uint8_t gdt[GDT_ENTRIES * 8];
    struct vmx_segment s;
    build_gdt(gdt);
    CHECK(!segment_from_descriptor(gdt, SEL_DATA + 6, NULL, 0, SEL_DATA, true, &s));
    CHECK_EQ(s.ar, VMX_AR_UNUSABLE);
    CHECK(segment_from_descriptor(gdt, SEL_DATA + 7, NULL, 0, SEL_DATA, true, &s));
    CHECK_EQ(s.ar, 0xc093);
}

TEST(segment_not_present)
{
    check_unusable(SEL_NOT_PRESENT);
}

/* A 16-byte TSS whose second half lies past the limit: unusable in long mode only. */
TEST(segment_long_descriptor_crossing_limit)
{
    uint8_t gdt[GDT_ENTRIES * 8];
    struct vmx_segment s;
    build_gdt(gdt);
    CHECK(!segment_from_descriptor(gdt, SEL_TSS + 14, NULL, 0, SEL_TSS, true, &s));
    CHECK_EQ(s.ar, VMX_AR_UNUSABLE);
    CHECK_EQ(s.base, 0);
    CHECK(segment_from_descriptor(gdt, SEL_TSS + 15, NULL, 0, SEL_TSS, true, &s));
    CHECK_EQ(s.base, TSS_BASE);
    CHECK(segment_from_descriptor(gdt, SEL_TSS + 7, NULL, 0, SEL_TSS, false, &s));
    CHECK_EQ(s.base, TSS_BASE & 0xffffffffull);
}

/* Selector 0x04 is LDT index 0, an ordinary entry, not a null selector; 0x0f is LDT index 1, RPL 3. */
TEST(segment_ldt_selector)
{
    uint8_t gdt[GDT_ENTRIES * 8], ldt[16];
    struct vmx_segment s;
    build_gdt(gdt);
    put_le64(ldt, 0x00cff3000000ffffull);       /* flat data, DPL 3 */
    put_le64(ldt + 8, 0x0040fb120000ffffull);   /* 32-bit code, DPL 3, base 0x120000, byte limit */
    CHECK(segment_from_descriptor(gdt, GDT_LIMIT, ldt, sizeof ldt - 1, 0x04, true, &s));
    CHECK_EQ(s.ar, 0xc0f3);
    CHECK(segment_from_descriptor(gdt, GDT_LIMIT, ldt, sizeof ldt - 1, 0x0f, true, &s));
    CHECK_EQ(s.selector, 0x0f);
    CHECK_EQ(s.base, 0x120000);
    CHECK_EQ(s.limit, 0xffff);
    CHECK_EQ(s.ar, 0x40fb);
    CHECK(!segment_from_descriptor(gdt, GDT_LIMIT, ldt, sizeof ldt - 1, 0x14, true, &s));
    CHECK_EQ(s.ar, VMX_AR_UNUSABLE);
}

TEST(segment_ldt_selector_without_ldt)
{
    uint8_t gdt[GDT_ENTRIES * 8];
    struct vmx_segment s;
    build_gdt(gdt);
    CHECK(!segment_from_descriptor(gdt, GDT_LIMIT, NULL, 0xffff, SEL_DATA | 4, true, &s));
    CHECK_EQ(s.selector, SEL_DATA | 4);
    CHECK_EQ(s.ar, VMX_AR_UNUSABLE);
    CHECK_EQ(s.base, 0);
    CHECK_EQ(s.limit, 0);
}

static uint32_t limit_of(uint64_t descriptor)
{
    uint8_t gdt[16];
    struct vmx_segment s;
    put_le64(gdt, 0);
    put_le64(gdt + 8, descriptor);
    CHECK(segment_from_descriptor(gdt, sizeof gdt - 1, NULL, 0, 0x08, false, &s));
    return s.limit;
}

/* G=1: the 20-bit limit counts 4 KiB pages, so the byte limit ends in 0xfff. */
TEST(segment_granularity)
{
    CHECK_EQ(limit_of(0x0040930000001234ull), 0x1234);         /* G=0 */
    CHECK_EQ(limit_of(0x004b93000000ffffull), 0xbffff);        /* G=0, limit 19:16 = 0xb */
    CHECK_EQ(limit_of(0x00c0930000000000ull), 0xfff);          /* G=1, limit 0 */
    CHECK_EQ(limit_of(0x00c0930000000001ull), 0x1fff);
    CHECK_EQ(limit_of(0x00c5930000002345ull), 0x52345fff);
}

/* Base bits come from bytes 2-4 and 7; AVL (bit 4 of byte 6) goes to AR bit 12. */
TEST(segment_base_and_avl)
{
    uint8_t gdt[16];
    struct vmx_segment s;
    put_le64(gdt, 0);
    put_le64(gdt + 8, 0xde1093bc9a78ffffull);
    CHECK(segment_from_descriptor(gdt, sizeof gdt - 1, NULL, 0, 0x08, true, &s));
    CHECK_EQ(s.base, 0xdebc9a78);
    CHECK_EQ(s.ar, 0x1093);
}

TEST(segment_whv_attributes_from_vmx)
{
    CHECK_EQ(segment_whv_attributes(0xa09b), 0xa09b);
    CHECK_EQ(segment_whv_attributes(0xc093), 0xc093);
    CHECK_EQ(segment_whv_attributes(0x8b), 0x8b);
    CHECK_EQ(segment_whv_attributes(0xaf9b), 0xa09b);   /* reserved bits 11:8 dropped */
    CHECK_EQ(segment_whv_attributes(VMX_AR_UNUSABLE), 0);
    CHECK_EQ(segment_whv_attributes(VMX_AR_UNUSABLE | 0xc093), 0);
}

TEST(segment_vmx_ar_from_whv_attributes)
{
    CHECK_EQ(segment_vmx_ar_from_whv(0xa09b, true), 0xa09b);
    CHECK_EQ(segment_vmx_ar_from_whv(0xc093, false), 0xc093);
    CHECK_EQ(segment_vmx_ar_from_whv(0x0f93, false), 0x0093);   /* reserved bits 11:8 dropped */
    CHECK_EQ(segment_vmx_ar_from_whv(0, false), VMX_AR_UNUSABLE);
    CHECK_EQ(segment_vmx_ar_from_whv(0xc013, false), VMX_AR_UNUSABLE);
    CHECK_EQ(segment_vmx_ar_from_whv(0xa01b, true), 0xa01b);     /* CS is never made unusable */
}

TEST(segment_attributes_round_trip)
{
    static const uint32_t ars[] = { 0xa09b, 0xc09b, 0xc093, 0x8b, 0x82, 0xf3, VMX_AR_UNUSABLE };
    for (size_t i = 0; i < sizeof ars / sizeof ars[0]; i++)
        CHECK_EQ(segment_vmx_ar_from_whv(segment_whv_attributes(ars[i]), false), ars[i]);
}
