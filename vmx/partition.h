/* Child partitions and their virtual processors. A partition owns its GPA map (and through it its EPT),
 * its properties and up to HV_MAX_VPS_PER_PARTITION VPs; a VP owns a VMCS, its registers, its XSAVE
 * image (a page each) and its run state. Objects live in the hypervisor's pool; ids are never reused. */
#ifndef VMX_PARTITION_H
#define VMX_PARTITION_H

#include <stdbool.h>
#include <stdint.h>
#include "api/hv_abi.h"
#include "boot/handoff.h"
#include "arch/x86/spinlock.h"
#include "vmx/gpa_map.h"
#include "vmx/percpu.h"

#define PARTITION_MAX_CPUID_EXITS 64
#define PARTITION_MAX_CPUID_RESULTS 32

/* One CpuidResultList entry (the layout of WHV_X64_CPUID_RESULT without its reserved words). */
struct cpuid_result { uint32_t leaf, eax, ebx, ecx, edx; };

struct vp {
    struct vcpu_regs regs;
    uint64_t vmcs_pa;
    uint64_t fpu_pa;                 /* a page: its XSAVE image (FXSAVE format in the first 512 bytes) */
    bool exists;
    volatile uint32_t busy;          /* running, or its VMCS in use by a register call (one CPU) */
    volatile uint32_t cancel_pending;
    uint64_t cr2, cr8, xcr0, dr[4], dr6;
    /* KERNEL_GS_BASE, STAR, LSTAR, CSTAR, SFMASK, TSC_AUX: in the CPU while the VP runs (vmx/vp_switch.c,
     * which walks them as an array) */
    union {
        struct { uint64_t kernel_gs_base, star, lstar, cstar, sfmask, tsc_aux; };
        uint64_t syscall_msrs[6];
    };
    uint64_t apic_base;
    uint64_t deliverability;         /* WHV DeliverabilityNotifications, one-shot */
    uint32_t index;
    uint16_t vpid;                   /* 1 + slot * HV_MAX_VPS_PER_PARTITION + index (the root and host use 0) */
    bool tlb_stale;                  /* the register API changed paging state: the next Run flushes */
    uint32_t host_cpu;               /* the CPU whose host state the VMCS holds (VMCLEAR keeps it) */
};

enum partition_state { PARTITION_FREE = 0, PARTITION_CREATED, PARTITION_READY };

struct partition {
    uint64_t id;                     /* 0: free slot */
    uint32_t slot;                   /* index in the partition table: gives the VPs' VPIDs */
    enum partition_state state;
    struct spinlock lock;            /* serializes map/unmap/property/VP lifecycle calls */
    uint64_t pages;                  /* pool pages of this struct */
    /* properties */
    uint64_t extended_exits;         /* WHV_EXTENDED_VM_EXITS */
    uint64_t exception_bitmap;
    uint32_t processor_count;
    uint32_t cpuid_exit_count;
    uint32_t cpuid_exits[PARTITION_MAX_CPUID_EXITS];
    uint64_t msr_exit_bitmap;        /* WHV_X64_MSR_EXIT_BITMAP */
    uint32_t cpuid_result_count;
    struct cpuid_result cpuid_results[PARTITION_MAX_CPUID_RESULTS];
    struct gpa_map map;
    uint64_t eptp;
    /* Cached EPT translations: ept_gen moves on every unmap and VP creation; a CPU whose cpu_ept_gen
     * lags flushes this EPTP (INVEPT single-context) before it runs one of the partition's VPs, so no
     * CPU keeps a translation of a removed mapping, nor of an earlier owner of a reused EPT root. */
    volatile uint64_t ept_gen;
    uint64_t cpu_ept_gen[HV_MAX_CPUS];
    struct vp vps[HV_MAX_VPS_PER_PARTITION];
};

/* ExtendedVmExits bits (WHV_EXTENDED_VM_EXITS) this hypervisor implements. */
#define EXT_EXIT_CPUID      (1ull << 0)
#define EXT_EXIT_MSR        (1ull << 1)
#define EXT_EXIT_EXCEPTION  (1ull << 2)
#define EXT_EXIT_RDTSC      (1ull << 3)
#define EXT_EXIT_HYPERCALL  (1ull << 5)
#define EXT_EXITS_SUPPORTED (EXT_EXIT_CPUID | EXT_EXIT_MSR | EXT_EXIT_EXCEPTION | EXT_EXIT_RDTSC | EXT_EXIT_HYPERCALL)

/* X64MsrExitBitmap bits (WHV_X64_MSR_EXIT_BITMAP), all implemented. */
#define MSR_EXIT_UNHANDLED          (1ull << 0)
#define MSR_EXIT_TSC_WRITE          (1ull << 1)
#define MSR_EXIT_TSC_READ           (1ull << 2)
#define MSR_EXIT_APIC_BASE_WRITE    (1ull << 3)
#define MSR_EXIT_MISC_ENABLE_READ   (1ull << 4)
#define MSR_EXIT_PATCH_LEVEL_READ   (1ull << 5)
#define MSR_EXIT_BITMAP_SUPPORTED   0x3Full

/* Lookup by id: the partition, or NULL (a stale or forged id). */
struct partition *partition_find(uint64_t id);
/* Live partitions (returned) and their VPs (*vps), for HVCALL_SELF_CHECK. */
uint32_t partition_census(uint32_t *vps);
uint16_t partition_create(uint64_t *id);
uint16_t partition_delete(uint64_t id);
uint16_t partition_setup(uint64_t id);
uint16_t partition_set_property(uint64_t id, uint32_t code, const void *value, uint32_t size);
uint16_t partition_get_property(uint64_t id, uint32_t code, void *value, uint32_t size, uint32_t *written);
uint16_t partition_map(uint64_t id, uint64_t source, uint64_t gpa, uint64_t size, uint32_t flags);
uint16_t partition_unmap(uint64_t id, uint64_t gpa, uint64_t size);
uint16_t vp_create(uint64_t id, uint32_t index);
uint16_t vp_delete(uint64_t id, uint32_t index);
/* The VP, or NULL with *status set (INVALID_PARTITION_ID, INVALID_PARTITION_STATE, INVALID_VP_INDEX). */
struct vp *vp_lookup(uint64_t id, uint32_t index, struct partition **p, uint16_t *status);
/* vp_lookup, and the VP reserved for this CPU (running, or in a register/translate call); a VP another
 * CPU holds gives NULL with INVALID_VP_STATE. vp_unclaim gives it back. */
struct vp *vp_claim(uint64_t id, uint32_t index, struct partition **p, uint16_t *status);
void vp_unclaim(struct vp *v);
bool partition_cpuid_exits(const struct partition *p, uint32_t leaf);
/* The partition's cached translations may be stale (paging state changed behind the CPU's back): this
 * CPU flushes now, every other CPU before it next runs one of the partition's VPs. */
void partition_tlb_changed(struct cpu *c, struct partition *p);
/* The CpuidResultList entry for `leaf`, or NULL. */
const struct cpuid_result *partition_cpuid_result(const struct partition *p, uint32_t leaf);

/* The VP's VMCS: every field from the x86 reset state (vmx/vp_vmcs.c). Leaves it VMCLEARed. */
int vp_vmcs_init(struct cpu *c, struct partition *p, struct vp *v);
/* Makes the VP's VMCS current on this CPU with this CPU's host state; vp_vmcs_release undoes it and
 * makes the root's VMCS current again. */
void vp_vmcs_acquire(struct cpu *c, struct partition *p, struct vp *v);
void vp_vmcs_release(struct cpu *c, struct vp *v);
/* The x86 INIT/reset state in the current VMCS (shared with the root's INIT/SIPI handling). */
void vmcs_load_real_mode_state(const struct vmx_caps *k, uint16_t cs_sel, uint64_t cs_base, uint64_t rip);

#endif
