/* The host IDT: exceptions in VMX root are bugs (panic with registers) except the listed faults of
 * the *_safe instructions, and NMIs, which are remembered for the root partition. */
#ifndef ARCH_X86_IDT_H
#define ARCH_X86_IDT_H

#include <stdint.h>

struct exception_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

void idt_init(void);                /* once; all CPUs share the table */
uint64_t idt_base(void);

int rdmsr_safe(uint32_t msr, uint64_t *value);
int wrmsr_safe(uint32_t msr, uint64_t value);
int xsetbv_safe(uint32_t xcr, uint64_t value);

#endif
