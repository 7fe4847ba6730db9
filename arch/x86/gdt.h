/* The host's own GDT and TSS, one per CPU: VM entry needs a non-zero host TR and UEFI runs with none. */
#ifndef ARCH_X86_GDT_H
#define ARCH_X86_GDT_H

#include <stdint.h>

#define HOST_CS_SEL 0x08
#define HOST_DS_SEL 0x10
#define HOST_TR_SEL 0x18

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

struct host_gdt {
    uint64_t entries[5] __attribute__((aligned(16)));   /* null, code64, data, TSS (2 slots) */
    struct tss64 tss __attribute__((aligned(16)));
};

/* Fills the GDT with flat 64-bit code/data and a TSS whose IST1 is ist1_top (NMI, #DF, #MC). */
void gdt_init(struct host_gdt *g, uint64_t ist1_top);

#endif
