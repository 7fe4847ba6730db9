/* The state VMX does not switch between the root and a VP, switched at the edges of a Run: the FPU and
 * extended state (XSAVE, or FXSAVE on CPUs without it) with XCR0, CR2, the syscall MSRs (KERNEL_GS_BASE,
 * STAR, LSTAR, CSTAR, SFMASK, TSC_AUX) and DR0-DR3/DR6. Exits the hypervisor handles inside a slice pay
 * nothing: the hypervisor itself never touches this state. */
#ifndef VMX_VP_SWITCH_H
#define VMX_VP_SWITCH_H

#include <stdbool.h>
#include <stdint.h>
#include "vmx/partition.h"
#include "vmx/percpu.h"

/* Reads the CPU's XSAVE support once (CPUID leaf 0xD). Every CPU gives the same answer. */
void vp_switch_init(void);
/* Pages of a CPU's image of the root's state (the root may enable any component the CPU has). */
uint32_t vp_switch_root_area_pages(void);
/* The XCR0 components a VP may enable (x87, SSE, AVX, AVX-512, PKRU where present); 1 without XSAVE. */
uint64_t vp_xcr0_allowed(void);
/* XCR0 as XSETBV would accept it and this hypervisor switches it: bit 0 set, only allowed bits, AVX
 * needs SSE, the three AVX-512 bits together and with AVX. */
bool vp_xcr0_valid(uint64_t xcr0);
/* The MXCSR bits this CPU implements (FXSAVE's MXCSR_MASK). */
uint32_t vp_mxcsr_mask(void);

/* The root's state saved in `c`, the VP's loaded; and the reverse. The VP's VMCS is current. */
void vp_switch_to_vp(struct cpu *c, struct vp *v);
void vp_switch_to_root(struct cpu *c, struct vp *v);

/* The VP's own value of a switched MSR while it runs (RDMSR/WRMSR exits inside a slice). WRMSR of a value
 * the CPU refuses (a non-canonical address, reserved bits) returns false: the guest gets #GP. */
int vp_switched_msr_index(uint32_t msr);   /* its index in struct vp's syscall_msrs, or -1 */
uint64_t vp_switched_msr_read(const struct cpu *c, const struct vp *v, int index);
bool vp_switched_msr_write(const struct cpu *c, struct vp *v, int index, uint64_t value);
/* The VP's MOV DR exited (its DR0-DR3 were not loaded, vp_switch.c): load them; the MOV re-executes. */
void vp_switch_load_debug_registers(struct cpu *c, struct vp *v);
/* The VP wrote EFER: with SCE now set, its STAR/LSTAR/CSTAR/SFMASK go into the CPU (see vp_switch.c). */
void vp_switch_efer_written(struct cpu *c, struct vp *v);

/* The root's STAR, LSTAR, CSTAR, SFMASK and TSC_AUX change only by WRMSR, so a CPU reads them at its
 * first Run and keeps them: the root's writes of them exit (MSR bitmap, vp_switch_root_msrs_cached) and
 * forget the copy (vp_switch_root_msr_written). KERNEL_GS_BASE changes by SWAPGS, without an exit: it is
 * read at every Run. Saves five RDMSRs a Run. */
bool vp_switch_root_msr_cached(uint32_t msr);
void vp_switch_root_msr_written(struct cpu *c, uint32_t msr);
/* The MSR numbers the root's MSR bitmap must send here on a write (count returned, at most 5). */
unsigned vp_switch_root_msrs_cached(uint32_t out[5]);

/* The FXSAVE-format part of a VP's FPU area as the register API reads and writes it (x87, MMX, SSE),
 * with components XSAVE recorded as in their init state written out as such. */
uint8_t *vp_fpu_legacy(struct vp *v);
/* After the register API wrote x87 or SSE state: XRSTOR must load it rather than the init state. */
void vp_fpu_legacy_written(struct vp *v);
/* A fresh VP's area: the architectural reset state (FCW 0x37F, MXCSR 0x1F80, everything else init). */
void vp_fpu_reset(struct vp *v);

#endif
