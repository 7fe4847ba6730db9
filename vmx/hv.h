/* The hypervisor's global state: set up once by the BSP in core_cpu_entry, read-mostly afterwards. */
#ifndef VMX_HV_H
#define VMX_HV_H

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/mtrr.h"
#include "arch/x86/pool.h"
#include "boot/handoff.h"
#include "vmx/ept.h"
#include "vmx/percpu.h"

struct hv {
    bool initialized;
    struct hv_handoff *handoff;
    struct pool pool;
    struct page_allocator page_alloc;
    struct mtrr_state mtrr;
    struct ept root_ept;
    uint64_t root_eptp;
    uint64_t ones_page;             /* all-ones page the root sees in place of hypervisor memory */
    uint64_t msr_bitmap_pa;         /* the root's MSR bitmap, shared by all CPUs */
    struct cpu *cpus[HV_MAX_CPUS];
    volatile uint32_t cpus_virtualized;
};

extern struct hv hv;

#endif
