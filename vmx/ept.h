/* Extended page tables: a pure builder over a page allocator (the core passes its pool; host tests a
 * fake). 4-level EPT; 1 GiB and 2 MiB leaves where alignment, size, uniform type and the CPU allow. */
#ifndef VMX_EPT_H
#define VMX_EPT_H

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/mtrr.h"
#include "arch/x86/page_alloc.h"

#define EPT_R 1u
#define EPT_W 2u
#define EPT_X 4u
#define EPT_RWX (EPT_R | EPT_W | EPT_X)

enum ept_status {
    EPT_OK = 0,
    EPT_ENOMEM = -1,   /* allocator ran out; nothing changed */
    EPT_EINVAL = -2,   /* unaligned address/size, size 0, perms 0 or > 7, address beyond 48 bits */
    EPT_EEXIST = -3,   /* ept_map over an existing mapping; nothing changed */
};

struct ept {
    uint64_t pml4_pa;
    const struct page_allocator *alloc;
    bool leaf_2m, leaf_1g;      /* IA32_VMX_EPT_VPID_CAP bits 16 and 17 */
    uint64_t table_pages;       /* paging-structure pages owned, PML4 included */
};

int ept_init(struct ept *e, const struct page_allocator *a, bool leaf_2m, bool leaf_1g);
/* EPTP: memory type WB for the structures, walk length 4, optional accessed/dirty flags. */
uint64_t ept_pointer(const struct ept *e, bool ad_flags);
/* Maps [gpa, gpa+size) -> [hpa, hpa+size); 4 KiB aligned; refuses overlap with EEXIST. Atomic. */
int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perms, unsigned memtype);
/* Removes whatever is mapped in [gpa, gpa+size) (holes allowed), splitting large leaves at the edges,
 * and frees paging-structure pages that become empty. ENOMEM (a split needs a page) changes nothing. */
int ept_unmap(struct ept *e, uint64_t gpa, uint64_t size);
/* Translation of one GPA: true and the fields when mapped. level: 1 = 4K, 2 = 2M, 3 = 1G leaf. */
bool ept_lookup(const struct ept *e, uint64_t gpa, uint64_t *hpa, unsigned *perms, unsigned *memtype,
                unsigned *level);
/* Frees every page it owns (the PML4 too); e is unusable afterwards. */
void ept_destroy(struct ept *e);

/* The root partition's map: identity [0, limit) RWX with the MTRR memory types (largest uniform
 * leaves), except [hide_base, hide_base+hide_size) whose every 4 KiB page maps to ones_page
 * (read-only, WB): the hypervisor's own memory, invisible to the root. limit is 1 GiB aligned. */
int ept_map_root_identity(struct ept *e, uint64_t limit, const struct mtrr_state *m,
                          uint64_t hide_base, uint64_t hide_size, uint64_t ones_page);

#endif
