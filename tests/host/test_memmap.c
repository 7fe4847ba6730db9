/* Memory-map reduction and hypercall block validation, on maps shaped like OVMF's. */
#include "check.h"
#include "boot/memmap.h"
#include "vmx/hypercall_validate.h"
#include "api/hv_abi.h"

#define D(t, base, pages) { (t), 0, (base), 0, (pages), 0 }

TEST(memmap_merges_sorts_and_drops_non_ram)
{
    struct memmap_desc map[] = {
        D(7, 0x100000, 0x700),          /* conventional 1 MiB .. 8 MiB */
        D(4, 0x800000, 0x100),          /* boot services data, adjacent: merged */
        D(0, 0xA00000, 0x10),           /* reserved: not RAM (the hypervisor's own type) */
        D(2, 0x0, 0xA0),                /* loader data below 640 KiB, out of order */
        D(11, 0xFEC00000, 0x1),         /* MMIO: not RAM, but counts for top_of_map */
        D(7, 0x100000000ull, 0x1000),   /* 4 GiB .. 4 GiB + 16 MiB */
        D(7, 0x200000, 0x10),           /* overlapping an earlier range: merged */
        D(7, 0x5000000, 0),             /* empty: ignored */
    };
    struct hv_ram_range r[8];
    struct memmap_summary s;
    CHECK_EQ(memmap_ram_ranges(map, sizeof map, sizeof map[0], r, 8, &s), 0);
    CHECK_EQ(s.ram_count, 3);
    CHECK_EQ(r[0].base, 0);
    CHECK_EQ(r[0].size, 0xA0000);
    CHECK_EQ(r[1].base, 0x100000);
    CHECK_EQ(r[1].size, 0x800000);
    CHECK_EQ(r[2].base, 0x100000000ull);
    CHECK_EQ(s.top_of_ram, 0x101000000ull);
    CHECK_EQ(s.top_of_map, 0x101000000ull);
}

TEST(memmap_honours_a_larger_descriptor_stride)
{
    /* OVMF reports DescriptorSize 48 for a 40-byte struct: the stride must be used, not sizeof. */
    uint64_t raw[2][6] = { { 7, 0x1000, 0, 4, 0, 0xdead }, { 2, 0x5000, 0, 1, 0, 0xbeef } };
    struct hv_ram_range r[4];
    struct memmap_summary s;
    CHECK_EQ(memmap_ram_ranges(raw, sizeof raw, 48, r, 4, &s), 0);
    CHECK_EQ(s.ram_count, 1);
    CHECK_EQ(r[0].base, 0x1000);
    CHECK_EQ(r[0].size, 0x5000);
}

TEST(memmap_rejects_bad_maps)
{
    struct memmap_desc wrap[] = { D(7, 0xFFFFFFFFFFFFF000ull, 2) };
    struct memmap_desc many[] = { D(7, 0x1000, 1), D(7, 0x3000, 1), D(7, 0x5000, 1) };
    struct hv_ram_range r[2];
    struct memmap_summary s;
    CHECK_EQ(memmap_ram_ranges(wrap, sizeof wrap, sizeof wrap[0], r, 2, &s), (uint64_t)-1);
    CHECK_EQ(memmap_ram_ranges(many, sizeof many, sizeof many[0], r, 2, &s), (uint64_t)-1);
    CHECK_EQ(memmap_ram_ranges(many, sizeof many, 16, r, 2, &s), (uint64_t)-1);
}

TEST(hypercall_block_validation_table)
{
    const struct hv_ram_range ram[] = { { 0x0, 0xA0000 }, { 0x100000, 0x7F00000 } };
    const uint64_t hb = 0x4000000, hs = 0x2000000; /* hidden: 64..96 MiB, inside the second range */
    static const struct { uint64_t gpa, len, align; uint16_t want; } cases[] = {
        { 0x200000, 88, 8, HV_STATUS_SUCCESS },
        { 0x200004, 88, 8, HV_STATUS_INVALID_ALIGNMENT },
        { 0x200000, 0, 8, HV_STATUS_INVALID_PARAMETER },
        { 0x200000, HV_MAX_BLOCK_BYTES + 1, 8, HV_STATUS_INVALID_PARAMETER },
        { 0xFFFFFFFFFFFFFFF8ull, 16, 8, HV_STATUS_INVALID_PARAMETER },     /* wraps */
        { hb, 8, 8, HV_STATUS_ACCESS_DENIED },                              /* hypervisor memory */
        { hb - 8, 16, 8, HV_STATUS_ACCESS_DENIED },                         /* straddles into it */
        { hb + hs - 8, 8, 8, HV_STATUS_ACCESS_DENIED },                     /* its last bytes */
        { hb + hs, 8, 8, HV_STATUS_SUCCESS },                               /* just after */
        { 0x9FFF8, 16, 8, HV_STATUS_ACCESS_DENIED },                        /* crosses out of RAM */
        { 0xB8000, 8, 8, HV_STATUS_ACCESS_DENIED },                         /* VGA hole, not RAM */
        { 0xFEE00000, 8, 8, HV_STATUS_ACCESS_DENIED },                      /* local APIC MMIO */
        { 0x1000000000ull, 8, 8, HV_STATUS_ACCESS_DENIED },                 /* beyond RAM */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ(hv_check_root_block(ram, 2, hb, hs, cases[i].gpa, cases[i].len, cases[i].align),
                 cases[i].want);
    /* The cached check gives the same answers, cold and warm, in this order and in reverse. */
    struct root_page_cache k = { { 0, 0 }, 0 };
    for (int round = 0; round < 4; round++)
        for (unsigned j = 0; j < sizeof cases / sizeof cases[0]; j++) {
            unsigned i = round & 1 ? sizeof cases / sizeof cases[0] - 1 - j : j;
            CHECK_EQ(hv_check_root_block_cached(&k, ram, 2, hb, hs, cases[i].gpa, cases[i].len, cases[i].align),
                     cases[i].want);
        }
}

TEST(hypercall_block_cache_keeps_only_whole_pages)
{
    /* RAM ends 0x100 into page 0x9F000's neighbour: page 0xA0000 is part RAM, part hole. */
    const struct hv_ram_range ram[] = { { 0x0, 0xA0100 } };
    struct root_page_cache k = { { 0, 0 }, 0 };
    /* A zeroed cache must not hold page 0. */
    const struct hv_ram_range none[] = { { 0x100000, 0x100000 } };
    CHECK_EQ(hv_check_root_block_cached(&k, none, 1, 0, 0, 0x0, 8, 8), HV_STATUS_ACCESS_DENIED);
    /* A block in the RAM part of the mixed page passes, but the page is not remembered... */
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0xA0000, 8, 8), HV_STATUS_SUCCESS);
    CHECK_EQ(k.page[0] | k.page[1], 0);
    /* ...so its hole part stays denied. */
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0xA0100, 8, 8), HV_STATUS_ACCESS_DENIED);
    /* A whole RAM page is remembered; a block crossing out of it is still checked in full. */
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x9F000, 8, 8), HV_STATUS_SUCCESS);
    CHECK_EQ(k.page[0], 0x9F001);
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x9FFF8, 16, 8), HV_STATUS_SUCCESS);
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x9FFF8, 0x110, 8), HV_STATUS_ACCESS_DENIED);
    /* Alignment and length are checked before the memory. */
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x9F004, 8, 8), HV_STATUS_INVALID_ALIGNMENT);
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x9F000, 0, 8), HV_STATUS_INVALID_PARAMETER);
    /* Two entries, replaced in turn. */
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x1000, 8, 8), HV_STATUS_SUCCESS);
    CHECK_EQ(hv_check_root_block_cached(&k, ram, 1, 0, 0, 0x2000, 8, 8), HV_STATUS_SUCCESS);
    CHECK_EQ(k.page[0], 0x2001);
    CHECK_EQ(k.page[1], 0x1001);
}
