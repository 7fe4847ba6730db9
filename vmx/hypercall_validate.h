/* Validation of the memory blocks a hypercall names (pure; the core and the host tests). */
#ifndef VMX_HYPERCALL_VALIDATE_H
#define VMX_HYPERCALL_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>
#include "api/hv_abi.h"
#include "boot/handoff.h"

/* A block [gpa, gpa+len) the hypervisor may read or write on the root's behalf: returns
 * HV_STATUS_SUCCESS, or INVALID_ALIGNMENT (gpa not a multiple of align), INVALID_PARAMETER (len 0,
 * beyond HV_MAX_BLOCK_BYTES, or wrapping), ACCESS_DENIED (not wholly inside one RAM range of the root,
 * or touching the hypervisor's hidden memory [hide_base, hide_base+hide_size)). */
uint16_t hv_check_root_block(const struct hv_ram_range *ram, uint32_t ram_count, uint64_t hide_base,
                             uint64_t hide_size, uint64_t gpa, uint64_t len, uint64_t align);

/* The same answer, with a memory of two pages that passed the check as whole pages. The RAM ranges and
 * the hidden region are fixed at boot, so such a page stays plain root RAM: a block inside it needs only
 * the alignment and length checks. The root's hot calls (Run, the register calls) reuse the same few
 * stack pages, which the range search would otherwise scan on every call. One cache per CPU: no locks.
 * Entries hold page | 1, so a zeroed cache holds nothing. */
struct root_page_cache {
    uint64_t page[2];
    unsigned next;
};

/* The cache's answer without the range search: true when [gpa, gpa+len) is aligned, of a valid length,
 * inside one page and that page is remembered. Inline: every Run's two blocks take it. */
static inline bool hv_root_block_cache_hit(const struct root_page_cache *k, uint64_t gpa, uint64_t len,
                                           uint64_t align)
{
    uint64_t tagged = (gpa & ~4095ull) | 1;
    return (!align || gpa % align == 0) && len - 1 < HV_MAX_BLOCK_BYTES &&
           (((gpa + len - 1) & ~4095ull) | 1) == tagged && (k->page[0] == tagged || k->page[1] == tagged);
}

uint16_t hv_check_root_block_cached(struct root_page_cache *k, const struct hv_ram_range *ram, uint32_t ram_count,
                                    uint64_t hide_base, uint64_t hide_size, uint64_t gpa, uint64_t len,
                                    uint64_t align);

#endif
