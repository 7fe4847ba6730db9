/* Segment descriptors -> VMX guest-state segment fields, and VMX access rights -> WHV attributes. Pure. */
#ifndef VMX_SEGMENT_H
#define VMX_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#define VMX_AR_UNUSABLE (1u << 16)

struct vmx_segment {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;      /* expanded byte limit (granularity applied) */
    uint32_t ar;         /* VMX access-rights format: bits 0..7 type/S/DPL/P, 12 AVL, 13 L, 14 D/B,
                            15 G, 16 unusable; bits 8..11 and 17..31 zero */
};

/* Reads the descriptor that `selector` names from a descriptor table given as host-readable bytes
 * (gdt, gdt_limit as in GDTR: last valid byte offset). TI=1 selectors use ldt/ldt_limit (ldt may be
 * NULL: then they decode as unusable). System descriptors (S=0) in long mode are 16 bytes and supply
 * base bits 63:32 when long_mode is true. A null selector (index 0, TI 0), a selector beyond the
 * table's limit or a not-present descriptor decodes as unusable: ar = VMX_AR_UNUSABLE, base and limit 0.
 * Returns true when the segment is usable. */
bool segment_from_descriptor(const uint8_t *gdt, uint16_t gdt_limit, const uint8_t *ldt,
                             uint32_t ldt_limit, uint16_t selector, bool long_mode,
                             struct vmx_segment *out);

/* WHV_X64_SEGMENT_REGISTER.Attributes from VMX access rights: bits 0..15 with 8..11 clear; an unusable
 * segment is reported not present (Present = 0, and all attributes 0). */
uint16_t segment_whv_attributes(uint32_t vmx_ar);

/* VMX access rights from WHV attributes (the reverse; never sets unusable unless Present is 0 and the
 * segment is not CS). */
uint32_t segment_vmx_ar_from_whv(uint16_t attributes, bool is_cs);

#endif
