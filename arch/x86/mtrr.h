/* MTRR state and the memory type of a physical range (pure; the core reads the MSRs into this). */
#ifndef ARCH_X86_MTRR_H
#define ARCH_X86_MTRR_H

#include <stdbool.h>
#include <stdint.h>

/* Memory types as encoded in MTRRs, PAT and EPT entries. */
enum mem_type { MT_UC = 0, MT_WC = 1, MT_WT = 4, MT_WP = 5, MT_WB = 6 };

#define MTRR_MAX_VAR 16

struct mtrr_state {
    uint64_t cap;               /* IA32_MTRRCAP (0xFE): VCNT 7:0, FIX bit 8 */
    uint64_t def_type;          /* IA32_MTRR_DEF_TYPE (0x2FF): type 7:0, FE bit 10, E bit 11 */
    uint64_t fixed[11];         /* 0x250 (64K x8 @0), 0x258 (16K x8 @0x80000), 0x259 (@0xA0000),
                                   0x268..0x26F (4K x8 each, from 0xC0000) */
    uint64_t var_base[MTRR_MAX_VAR]; /* IA32_MTRR_PHYSBASEn: type 7:0, base from bit 12 */
    uint64_t var_mask[MTRR_MAX_VAR]; /* IA32_MTRR_PHYSMASKn: valid bit 11, mask from bit 12 */
    unsigned phys_bits;         /* CPUID.80000008:EAX[7:0]; bounds the mask */
};

/* The effective memory type of [base, base+size) when it is the same for every byte of it: returns true
 * and *type. Returns false when the range is not uniform (the caller splits it), or size is 0.
 * Rules (SDM vol. 3, 12.11): MTRRs disabled (E=0) -> UC; fixed ranges for < 1 MiB when FE=1 and FIX=1;
 * overlapping variable ranges: UC wins, WT+WB -> WT, any other mix -> UC; no match -> default type.
 * A variable MTRR whose mask granularity is finer than the range counts as non-uniform unless the
 * range lies wholly inside or wholly outside it. */
bool mtrr_range_type(const struct mtrr_state *m, uint64_t base, uint64_t size, unsigned *type);

#endif
