/* hostile.efi: hostile inputs against the hypervisor from the root partition (docs/hostile-inputs.md).
 * Shared by hostile.c (output, helpers, main), hostile_isolation.c, hostile_ring3_check.c,
 * hostile_runregs.c, hostile_churn.c and hostile_exhaust.c. */
#ifndef TESTS_PAYLOAD_HOSTILE_H
#define TESTS_PAYLOAD_HOSTILE_H

#include <efi.h>
#include <efilib.h>
#include "api/hv_abi.h"
#include "api/whv_platform.h"

/* ---- output: TAP lines on ConOut (mirrored to COM1 by OVMF) */
#include "tests/payload/console.h"   /* check() and note() */

/* ---- hypervisor facts */
extern struct hv_version_out hv_version;
uint64_t pool_used(void);
uint64_t pool_free(void);
uint64_t hypercalls_served(void);
int hypervisor_answers(void);          /* GET_VERSION succeeds with the right magic */
uint64_t raw_hypercall(uint64_t code, const void *in, void *out);

/* ---- root memory for guests */
void *alloc_pages(uint64_t pages, EFI_MEMORY_TYPE type);   /* zeroed; NULL on failure */
void free_pages(void *p, uint64_t pages);

/* ---- the guest blob (tests/payload/hostile_guest.asm), copied to GPA GUEST_CODE of each child */
#define GUEST_CODE 0x1000ull
extern const uint8_t guest_blob[];
extern const uint32_t guest_blob_size;
extern const uint32_t g_read, g_write, g_vmcall, g_ud_handler, g_ud2, g_count, g_init_mmio, g_init_x2apic,
    g_reset_cf9, g_reset_92, g_apic_disable, g_readloop, g_out_al, g_halt, g_progress;
extern const uint32_t g_vmx_probes[];  /* protected-mode VMX/SMX instructions, one per entry */
extern const uint32_t g_vmx_probe_count;
extern const char g_vmx_names[];       /* NUL-separated names, same order */

/* ---- a child partition with one VP in unreal mode (real mode, DS flat 4 GiB): RIP = GUEST_CODE + off */
struct child {
    WHV_PARTITION_HANDLE part;
    uint8_t *mem;           /* root memory mapped at GPA 0 */
    uint64_t mem_bytes;
};
int child_new(struct child *ch, uint64_t mem_bytes, uint64_t ext_exits, uint64_t exception_bitmap);
void child_free(struct child *ch);
HRESULT child_start(struct child *ch, uint32_t off, uint64_t rax, uint64_t rbx);
HRESULT child_start_protected(struct child *ch, uint32_t off, uint64_t rax, uint64_t rbx);
HRESULT child_run(struct child *ch, WHV_RUN_VP_EXIT_CONTEXT *x);
HRESULT set_reg64(WHV_PARTITION_HANDLE p, UINT32 vp, WHV_REGISTER_NAME n, uint64_t v);
uint64_t get_reg64(WHV_PARTITION_HANDLE p, UINT32 vp, WHV_REGISTER_NAME n);
HRESULT set_unreal_state(WHV_PARTITION_HANDLE p, UINT32 vp, uint64_t rip, uint64_t rax, uint64_t rbx);
#define RWX (WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite | WHvMapGpaRangeFlagExecute)
#define RW (WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite)
#define RX (WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagExecute)
#define RO (WHvMapGpaRangeFlagRead)

/* Probes: a read / write / fetch of gpa by a fresh run of the child's VP. */
enum probe_kind { PROBE_READ, PROBE_WRITE, PROBE_EXEC };
/* Runs one probe; returns the exit. For a read that succeeds, x->IoPortAccess.Rax has the byte. */
HRESULT probe(struct child *ch, enum probe_kind k, uint64_t gpa, uint8_t value, WHV_RUN_VP_EXIT_CONTEXT *x);
/* 1 when x is a MemoryAccess exit at gpa of that kind with GpaUnmapped = unmapped. */
int is_memory_exit(const WHV_RUN_VP_EXIT_CONTEXT *x, enum probe_kind k, uint64_t gpa, int unmapped);
const char *exit_name(uint32_t reason);

/* ---- MP services: run a function on the AP */
int ap_available(void);
int ap_start(void (*fn)(void *), void *arg);   /* non-blocking; 1 if started */
int ap_done(void);                              /* 1 when the AP's function returned */
int ap_run(void (*fn)(void *), void *arg);      /* blocking */

/* ---- the parts */
void check_isolation(void);
void check_ring3(void);
void check_run_registers(void);     /* hostile_runregs.c: HVCALL_SET_REGISTERS_AND_RUN_VP */
void check_churn(uint32_t cycles);
void check_exhaustion(void);

/* ---- pseudo-random numbers (xorshift64*), deterministic */
uint64_t rnd_next(uint64_t *state);
static inline uint64_t rnd_below(uint64_t *state, uint64_t n) { return rnd_next(state) % n; }

#endif
