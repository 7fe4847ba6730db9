/* Every GPA the root hands us is hostile until proved to be plain root RAM: never the hypervisor's own
 * pages (that would let the root read or corrupt us), never MMIO (a write there has side effects). */
#include "vmx/hypercall_validate.h"
#include "api/hv_abi.h"
#include <stdbool.h>

static int inside_one_range(const struct hv_ram_range *ram, uint32_t n, uint64_t base, uint64_t end)
{
    for (uint32_t i = 0; i < n; i++)
        if (base >= ram[i].base && end <= ram[i].base + ram[i].size)
            return 1;
    return 0;
}

uint16_t hv_check_root_block(const struct hv_ram_range *ram, uint32_t ram_count, uint64_t hide_base,
                             uint64_t hide_size, uint64_t gpa, uint64_t len, uint64_t align)
{
    if (align && gpa % align)
        return HV_STATUS_INVALID_ALIGNMENT;
    if (len == 0 || len > HV_MAX_BLOCK_BYTES || gpa > UINT64_MAX - len)
        return HV_STATUS_INVALID_PARAMETER;
    uint64_t end = gpa + len;
    if (hide_size && gpa < hide_base + hide_size && end > hide_base)
        return HV_STATUS_ACCESS_DENIED;
    if (!inside_one_range(ram, ram_count, gpa, end))
        return HV_STATUS_ACCESS_DENIED;
    return HV_STATUS_SUCCESS;
}

#define PAGE_MASK (~4095ull)

uint16_t hv_check_root_block_cached(struct root_page_cache *k, const struct hv_ram_range *ram, uint32_t ram_count,
                                    uint64_t hide_base, uint64_t hide_size, uint64_t gpa, uint64_t len,
                                    uint64_t align)
{
    if (hv_root_block_cache_hit(k, gpa, len, align))
        return HV_STATUS_SUCCESS;
    uint64_t page = gpa & PAGE_MASK;
    bool one_page = len != 0 && gpa <= UINT64_MAX - len && ((gpa + len - 1) & PAGE_MASK) == page;
    uint16_t st = hv_check_root_block(ram, ram_count, hide_base, hide_size, gpa, len, align);
    if (st == HV_STATUS_SUCCESS && one_page &&
        hv_check_root_block(ram, ram_count, hide_base, hide_size, page, 4096, 0) == HV_STATUS_SUCCESS) {
        k->page[k->next] = page | 1;
        k->next ^= 1;
    }
    return st;
}
