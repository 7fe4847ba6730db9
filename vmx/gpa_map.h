/* A child partition's guest-physical memory map (pure; the core and the host tests).
 *
 * Each range maps guest-physical [gpa, gpa+size) of the child onto host-physical [hpa, hpa+size): memory
 * the root partition owns and passed to WHvMapGpaRange (the root's EPT is an identity map, so the root's
 * GPAs are host-physical). The module keeps the ranges and the child's EPT in step: every change to the
 * table is made in the EPT too, and a call that fails changes neither.
 *
 * Statuses (HV_STATUS_* of api/hv_abi.h), checked in this order; the first that fails decides:
 *   1. INVALID_ALIGNMENT   an address or the size not a multiple of 4 KiB.
 *   2. INVALID_PARAMETER   size 0; gpa+size or source+size past GPA_MAP_GPA_LIMIT (for the source: the EPT
 *                          builder's reach for host addresses); flags not one of R, RW, RX, RWX (below).
 *   3. ACCESS_DENIED       (add) source range touching the hypervisor's hidden range, or not wholly
 *                          inside the union of the root's RAM ranges (MMIO and holes are refused).
 *   4. INVALID_PARAMETER   (add) the gpa range overlaps a mapped one: Hyper-V's answer to mapping over
 *                          a mapping; (remove) no part of the range is mapped. For a remove that passed
 *                          1 and 2 this is the only INVALID_PARAMETER, so the WHV layer can report it as
 *                          WHV_E_GPA_RANGE_NOT_FOUND.
 *   5. INSUFFICIENT_MEMORY the range table has no slot the call needs, or the EPT needs a page the
 *                          allocator does not have.
 *
 * Flags (WHV_MAP_GPA_RANGE_FLAGS) become EPT permissions R->EPT_R, W->EPT_W, X->EPT_X, memory type WB
 * (root RAM is WB; the guest's PAT still applies). Read is required whenever anything is granted:
 * write-without-read is an EPT misconfiguration (SDM 29.3.3.1), and execute-only needs a CPU capability
 * (IA32_VMX_EPT_VPID_CAP bit 0) this module is not told about. TrackDirtyPages is refused
 * (INVALID_PARAMETER): dirty pages are not tracked yet, and accepting it would make a dirty-bitmap query
 * report clean pages that were written.
 *
 * Source ranges may alias: several GPAs (of one or several partitions) may map the same root page.
 *
 * Ranges are kept canonical: sorted by gpa, disjoint, and two ranges that touch in both gpa and source
 * with the same flags are merged, so mapping page by page costs one table slot and the table is a
 * function of what is mapped. EPT leaves are chosen per gpa_map_add call (2 MiB / 1 GiB where both
 * addresses are aligned, the piece fills the leaf and the CPU allows it); pieces of separate calls are
 * not coalesced into larger leaves later, which would need a break-before-make window while vCPUs run.
 *
 * INVEPT: every HV_STATUS_SUCCESS of gpa_map_add or gpa_map_remove changed the EPT, and no failure did.
 * After a successful remove the child may keep using stale translations of the unmapped pages until the
 * caller has run INVEPT (single-context, ept_pointer(&m->ept, ...)) on every CPU that runs the
 * partition: only then may the root reuse those pages for anything the child must not see.
 *
 * Not thread-safe: the caller serializes calls on one map (a per-partition lock). Pages for the EPT come
 * from the allocator given to gpa_map_init; m->ept.table_pages counts those held. */
#ifndef VMX_GPA_MAP_H
#define VMX_GPA_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/page_alloc.h"
#include "boot/handoff.h"
#include "vmx/ept.h"

/* Fixed capacity because the hypervisor has no general heap (only a page pool): 256 ranges of 32 bytes
 * are 8 KiB per partition, far more than a VMM's few RAM/ROM regions, and merging keeps page-by-page
 * mappers to one slot per contiguous run. */
#define GPA_MAP_MAX_RANGES 256

/* Child GPAs lie below 2^48: what a 4-level EPT walk reaches. */
#define GPA_MAP_GPA_LIMIT (1ull << 48)

struct gpa_range {
    uint64_t gpa;
    uint64_t hpa;       /* the source: root RAM, host-physical */
    uint64_t size;
    uint32_t flags;     /* WHV_MAP_GPA_RANGE_FLAGS */
};

struct gpa_map {
    struct gpa_range ranges[GPA_MAP_MAX_RANGES];   /* [0, count), canonical (see above) */
    uint32_t count;
    struct ept ept;
    /* Policy: what a source may be. Not copied: ram (the handoff's list) must outlive the map. */
    const struct hv_ram_range *ram;
    uint32_t ram_count;
    uint64_t hide_base, hide_size;                 /* the hypervisor's own memory */
};

/* An empty map with an EPT that maps nothing (one page: its PML4). leaf_2m / leaf_1g: what the CPU
 * supports (IA32_VMX_EPT_VPID_CAP bits 16, 17). Returns EPT_OK or EPT_ENOMEM (nothing allocated). */
int gpa_map_init(struct gpa_map *m, const struct page_allocator *a, bool leaf_2m, bool leaf_1g,
                 const struct hv_ram_range *ram, uint32_t ram_count, uint64_t hide_base, uint64_t hide_size);

/* WHvMapGpaRange: maps [gpa, gpa+size) onto [source_hpa, source_hpa+size). A full table is no failure
 * when the new range merges with a neighbour. */
uint16_t gpa_map_add(struct gpa_map *m, uint64_t source_hpa, uint64_t gpa, uint64_t size, uint32_t whv_flags);

/* WHvUnmapGpaRange: unmaps whatever is mapped in [gpa, gpa+size), across several ranges and holes,
 * trimming the ranges it cuts. Removing the middle of a range splits it in two, which needs a free slot
 * (INSUFFICIENT_MEMORY otherwise). When no part of the range is mapped: INVALID_PARAMETER, nothing
 * changed. *unmapped_bytes: how much was mapped there and is not any more, nonzero exactly on success
 * (then INVEPT is needed), 0 on any failure. */
uint16_t gpa_map_remove(struct gpa_map *m, uint64_t gpa, uint64_t size, uint64_t *unmapped_bytes);

/* Where gpa (any byte) maps: true, the host-physical address and the range's WHV flags (both pointers
 * required); false, neither written, when unmapped. */
bool gpa_map_translate(const struct gpa_map *m, uint64_t gpa, uint64_t *hpa, uint32_t *whv_flags);

/* Frees every EPT page (m->ept.table_pages becomes 0) and forgets every range; m is unusable until
 * gpa_map_init. Call it once no CPU runs the partition and its EPTP has been invalidated (INVEPT): the
 * tables go back to the allocator for reuse. */
void gpa_map_destroy(struct gpa_map *m);

#endif
