#include "arch/x86/gdt.h"

#define DESC_CODE64 0x00AF9B000000FFFFull  /* present, DPL0, execute/read, accessed, L=1, G=1 */
#define DESC_DATA   0x00CF93000000FFFFull  /* present, DPL0, read/write, accessed, D/B=1, G=1 */

void gdt_init(struct host_gdt *g, uint64_t ist1_top)
{
    uint64_t base = (uint64_t)(uintptr_t)&g->tss;
    uint64_t limit = sizeof g->tss - 1;
    g->entries[0] = 0;
    g->entries[1] = DESC_CODE64;
    g->entries[2] = DESC_DATA;
    /* 64-bit available TSS (type 9), present; bases split as in SDM vol. 3, 8.2.3. */
    g->entries[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                    (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    g->entries[4] = base >> 32;
    for (unsigned i = 0; i < sizeof g->tss; i++)
        ((uint8_t *)&g->tss)[i] = 0;
    g->tss.ist[0] = ist1_top;
    g->tss.iomap_base = sizeof g->tss;   /* no I/O bitmap */
}
