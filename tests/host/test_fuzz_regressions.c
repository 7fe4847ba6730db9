/* Regressions found by the host fuzzers (tests/fuzz/, docs/fuzzing.md "Findings"): each test replays
 * what the fuzzer's crashing input did, in plain calls. */
#include "check.h"
#include "fake_alloc.h"
#include "api/hv_abi.h"
#include "api/whv_platform.h"
#include "vmx/gpa_map.h"

#define GIB 0x40000000ull
#define MIB 0x100000ull

/* fuzz_gpa_map, seed tests/fuzz/corpus/gpa_map/regress-1g-split-without-2m: on a CPU reporting 1 GiB EPT
 * leaves but not 2 MiB ones (IA32_VMX_EPT_VPID_CAP bit 17 without bit 16), a child's 1 GiB range was
 * mapped with a 1 GiB leaf and unmapping part of it split that leaf into 2 MiB leaves the CPU does not
 * support (an EPT misconfiguration). The GPA map now uses 1 GiB leaves only together with 2 MiB ones. */
TEST(fuzz_gpa_map_no_2m_leaf_without_cpu_support)
{
    static const struct hv_ram_range ram[] = { { 0, 8 * GIB } };
    struct fake_alloc fa;
    static struct gpa_map m;
    fake_alloc_init(&fa, 1100);
    CHECK_EQ(gpa_map_init(&m, &fa.api, false, true, ram, 1, 0, 0), EPT_OK);
    CHECK_EQ(gpa_map_add(&m, 4 * GIB, GIB, GIB, WHvMapGpaRangeFlagRead), HV_STATUS_SUCCESS);
    uint64_t unmapped = 0;
    CHECK_EQ(gpa_map_remove(&m, GIB + 6 * MIB, 0x1000, &unmapped), HV_STATUS_SUCCESS);
    CHECK_EQ(unmapped, 0x1000);
    for (uint64_t gpa = GIB; gpa < 2 * GIB; gpa += 2 * MIB) {
        uint64_t hpa;
        unsigned perms, type, level = 0;
        CHECK(ept_lookup(&m.ept, gpa + 0x1000, &hpa, &perms, &type, &level));
        CHECK_EQ(level, 1);   /* 4 KiB leaves: the only kind both supported and able to leave a hole */
        if (level != 1)
            break;
    }
    gpa_map_destroy(&m);
    CHECK_EQ(fa.in_use, 0);
    fake_alloc_fini(&fa);
}
