/* Fuzzes hv_check_root_block (vmx/hypercall_validate.c), the check every GPA the root passes in a
 * hypercall goes through, against a reference written with 128-bit arithmetic (no wrap-around can hide
 * a block). The RAM ranges and the hidden range are the loader's (trusted, below 2^52: MAXPHYADDR);
 * the block's gpa, length and alignment are the root's, so any 64-bit value. Input: the RAM list, the
 * hidden range, then blocks until the input runs out. */
#include "fuzz.h"
#include "api/hv_abi.h"
#include "vmx/hypercall_validate.h"

#define PHYS_LIMIT (1ull << 52)
#define MAX_RANGES 8

typedef unsigned __int128 u128;

/* A value from a few shapes that reach the edges: raw, small, page multiples, or just below 2^64. */
static uint64_t interesting(struct fuzz_in *in)
{
    uint8_t shape = fuzz_u8(in);
    switch (shape & 3) {
    case 0: return fuzz_u64(in);
    case 1: return fuzz_u16(in);
    case 2: return (uint64_t)fuzz_u16(in) << 12 | (shape >> 2 & 0x3f) << 3;
    default: return UINT64_MAX - fuzz_u16(in);
    }
}

/* [base, base + size) below PHYS_LIMIT: physical memory as the loader describes it. */
static void physical_range(struct fuzz_in *in, uint64_t *base, uint64_t *size)
{
    bool pages = fuzz_bool(in);
    *base = pages ? (uint64_t)fuzz_u16(in) << 12 : fuzz_u64(in) % PHYS_LIMIT;
    *size = pages ? (uint64_t)fuzz_u16(in) << 12 : fuzz_u64(in) % PHYS_LIMIT;
    if (*size > PHYS_LIMIT - *base)
        *size = PHYS_LIMIT - *base;
}

static uint16_t reference(const struct hv_ram_range *ram, uint32_t n, uint64_t hide_base, uint64_t hide_size,
                          uint64_t gpa, uint64_t len, uint64_t align)
{
    if (align && gpa % align)
        return HV_STATUS_INVALID_ALIGNMENT;
    u128 end = (u128)gpa + len;
    if (len == 0 || len > HV_MAX_BLOCK_BYTES || end > (u128)UINT64_MAX)
        return HV_STATUS_INVALID_PARAMETER;
    if (hide_size && gpa < (u128)hide_base + hide_size && end > hide_base)
        return HV_STATUS_ACCESS_DENIED;
    for (uint32_t i = 0; i < n; i++)
        if (gpa >= ram[i].base && end <= (u128)ram[i].base + ram[i].size)
            return HV_STATUS_SUCCESS;
    return HV_STATUS_ACCESS_DENIED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = fuzz_in(data, size);
    struct hv_ram_range ram[MAX_RANGES];
    uint32_t n = fuzz_u8(&in) % (MAX_RANGES + 1);
    for (uint32_t i = 0; i < n; i++)
        physical_range(&in, &ram[i].base, &ram[i].size);
    uint64_t hide_base, hide_size;
    physical_range(&in, &hide_base, &hide_size);
    do {
        uint64_t gpa = interesting(&in), len = interesting(&in);
        static const uint64_t aligns[] = { 0, 1, 8, 16, 4096 };
        uint8_t a = fuzz_u8(&in);
        uint64_t align = a < 5 ? aligns[a] : a == 5 ? fuzz_u64(&in) : 8;
        uint16_t got = hv_check_root_block(ram, n, hide_base, hide_size, gpa, len, align);
        uint16_t want = reference(ram, n, hide_base, hide_size, gpa, len, align);
        FUZZ_CHECK(got == want, "block 0x%llx+0x%llx align %llu: status %u, reference %u", (unsigned long long)gpa,
                   (unsigned long long)len, (unsigned long long)align, got, want);
    } while (fuzz_more(&in));
    return 0;
}
