#include "arch/x86/idt.h"
#include "arch/x86/gdt.h"
#include "arch/x86/log.h"
#include "arch/x86/serial.h"
#include "arch/x86/cpu.h"
#include "vmx/percpu.h"

struct idt_gate {
    uint16_t offset_lo, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi, reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");

/* 256 entries: VM exit sets the IDTR limit to 0xFFFF, so the whole table must be valid memory. */
static struct idt_gate idt[256] __attribute__((aligned(4096)));
extern const uint64_t isr_stubs[32];
extern const uint64_t extable_start[], extable_end[];

enum { VEC_NMI = 2, VEC_DF = 8, VEC_MC = 18 };

void idt_init(void)
{
    for (unsigned v = 0; v < 32; v++) {
        uint64_t h = isr_stubs[v];
        idt[v] = (struct idt_gate){
            .offset_lo = (uint16_t)h, .selector = HOST_CS_SEL,
            /* NMI, #DF and #MC get a known-good stack (IST1): they can hit with RSP in any state. */
            .ist = (v == VEC_NMI || v == VEC_DF || v == VEC_MC) ? 1 : 0,
            .type_attr = 0x8E,   /* present, DPL0, 64-bit interrupt gate */
            .offset_mid = (uint16_t)(h >> 16), .offset_hi = (uint32_t)(h >> 32),
        };
    }
}

uint64_t idt_base(void) { return (uint64_t)(uintptr_t)idt; }

static int apply_fixup(struct exception_frame *f)
{
    for (const uint64_t *e = extable_start; e < extable_end; e += 2) {
        if (f->rip == e[0]) {
            f->rip = e[1];
            return 1;
        }
    }
    return 0;
}

void host_exception(struct exception_frame *f)
{
    if (f->vector == VEC_NMI) {
        this_cpu()->nmi_pending = 1;   /* re-delivered to the root on the next VM entry */
        return;
    }
    if ((f->vector == 13 || f->vector == 6) && apply_fixup(f))
        return;
    log_error("HV PANIC: host exception %llu, error %llx, at rip %llx rsp %llx",
              (unsigned long long)f->vector, (unsigned long long)f->error,
              (unsigned long long)f->rip, (unsigned long long)f->rsp);
    log_error("  rax %llx rbx %llx rcx %llx rdx %llx rsi %llx rdi %llx rbp %llx cr2 %llx",
              (unsigned long long)f->rax, (unsigned long long)f->rbx, (unsigned long long)f->rcx,
              (unsigned long long)f->rdx, (unsigned long long)f->rsi, (unsigned long long)f->rdi,
              (unsigned long long)f->rbp, (unsigned long long)read_cr2());
    serial_drain();
    cpu_halt_forever();
}
