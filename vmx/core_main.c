/* The core's entry, called by the loader's trampoline on every CPU (BSP first) with the host page
 * tables live. It takes VMX root on the CPU and VMLAUNCHes the firmware's own context as the root
 * partition: on success it never returns (the firmware resumes at the trampoline's resume label). */
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/log.h"
#include "arch/x86/msr.h"
#include "arch/x86/mtrr_read.h"
#include "arch/x86/string.h"
#include "boot/handoff.h"
#include "vmx/exits.h"
#include "vmx/hv.h"
#include "vmx/vp_switch.h"
#include "vmx/root_vmcs.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_errors.h"
#include "vmx/vmx_on.h"

struct hv hv;

int64_t core_cpu_entry(const struct core_entry_args *a, uint64_t rip, uint64_t rsp, uint64_t fw_cr3,
                       uint64_t rflags);
int vmx_launch(void);

extern char __core_mem_size[], __core_text_size[];
__attribute__((section(".core_header"), used)) static const struct core_header header = {
    .magic = CORE_HEADER_MAGIC,
    .link_base = CORE_LINK_BASE,
    .entry = (uint64_t)(uintptr_t)core_cpu_entry,
    .mem_size = (uint64_t)(uintptr_t)__core_mem_size,
    .text_end = (uint64_t)(uintptr_t)__core_text_size,
};

#define HOST_STACK_PAGES 8   /* 32 KiB: register hypercalls keep 5 KiB of blocks on it */
#define EPT_CAP_LEAF_2M (1ull << 16)
#define EPT_CAP_LEAF_1G (1ull << 17)
#define GIB (1ull << 30)

/* Pool, IDT and MTRRs: what every CPU needs before its own VMXON. */
static void init_pool_and_tables(struct hv_handoff *h)
{
    hv.handoff = h;
    log_set_level((enum log_level)h->log_level);
    pool_init(&hv.pool, h->pool_base, h->pool_size);
    pool_page_allocator(&hv.pool, &hv.page_alloc);
    idt_init();
    mtrr_read(&hv.mtrr);
    log_info("core: %llu KiB at %llx, pool %llu pages, %u CPU(s)", (unsigned long long)(h->hv_size >> 10),
             (unsigned long long)h->hv_base, (unsigned long long)hv.pool.pages, h->cpu_count);
}

static void msr_bitmap_intercept(uint8_t *bm, uint32_t msr, bool read, bool write)
{
    /* Read-low at 0, read-high at 1024, write-low at 2048, write-high at 3072 (SDM vol. 3, 25.6.9). */
    uint32_t off = msr >= 0xC0000000u ? 1024 : 0, bit = msr & 0x1FFF;
    if (read)
        bm[off + bit / 8] |= (uint8_t)(1u << (bit % 8));
    if (write)
        bm[2048 + off + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* The root's EPT, MSR bitmap and the all-ones page: built once, from the BSP's capabilities. */
static int init_root_partition(const struct cpu *bsp)
{
    hv.msr_bitmap_pa = pool_alloc_pages(&hv.pool, 1);
    hv.ones_page = pool_alloc_pages(&hv.pool, 1);
    if (!hv.msr_bitmap_pa || !hv.ones_page)
        return CORE_ERR_NO_MEMORY;
    uint8_t *bm = (uint8_t *)(uintptr_t)hv.msr_bitmap_pa;
    msr_bitmap_intercept(bm, MSR_IA32_FEATURE_CONTROL, true, true);
    for (uint32_t m = MSR_IA32_VMX_FIRST; m <= MSR_IA32_VMX_LAST; m++)
        msr_bitmap_intercept(bm, m, true, false);
    uint32_t kept[5];
    vp_switch_init();
    for (unsigned i = 0, n = vp_switch_root_msrs_cached(kept); i < n; i++)
        msr_bitmap_intercept(bm, kept[i], false, true);
    memset((void *)(uintptr_t)hv.ones_page, 0xFF, 4096);

    bool leaf_1g = bsp->caps.ept_vpid & EPT_CAP_LEAF_1G;
    bool leaf_2m = bsp->caps.ept_vpid & EPT_CAP_LEAF_2M;
    /* With 1 GiB leaves the whole physical address space costs a few pages; without, map what the
     * firmware described and let exit_ept_violation add the rest on demand. */
    uint64_t limit = hv.handoff->phys_limit;
    if (leaf_1g) {
        uint64_t phys = 1ull << hv.mtrr.phys_bits;
        limit = phys < 512 * GIB ? phys : 512 * GIB;
        if (limit < hv.handoff->phys_limit)
            limit = hv.handoff->phys_limit;
    }
    if (ept_init(&hv.root_ept, &hv.page_alloc, leaf_2m, leaf_1g) != EPT_OK ||
        ept_map_root_identity(&hv.root_ept, limit, &hv.mtrr, hv.handoff->hv_base, hv.handoff->hv_size,
                              hv.ones_page) != EPT_OK)
        return CORE_ERR_NO_MEMORY;
    hv.root_eptp = ept_pointer(&hv.root_ept, false);
    log_info("root EPT: identity map of %llu GiB, %llu table pages, hypervisor's %llu KiB hidden",
             (unsigned long long)(limit / GIB), (unsigned long long)hv.root_ept.table_pages,
             (unsigned long long)(hv.handoff->hv_size >> 10));
    return CORE_OK;
}

static struct cpu *cpu_create(uint32_t index, uint32_t apic_id)
{
    uint64_t pages = (sizeof(struct cpu) + 4095) / 4096;
    struct cpu *c = (struct cpu *)(uintptr_t)pool_alloc_pages(&hv.pool, pages);
    uint64_t stack = pool_alloc_pages(&hv.pool, HOST_STACK_PAGES);
    uint64_t ist = pool_alloc_pages(&hv.pool, 1);
    uint64_t vmxon = pool_alloc_pages(&hv.pool, 1), vmcs = pool_alloc_pages(&hv.pool, 1);
    uint64_t fpu = pool_alloc_pages(&hv.pool, vp_switch_root_area_pages());
    if (!c || !stack || !ist || !vmxon || !vmcs || !fpu)
        return 0;
    c->root_fpu_pa = fpu;
    c->self = c;
    c->current_regs = &c->root_regs;
    c->index = index;
    c->apic_id = apic_id;
    c->is_bsp = rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_BSP;
    c->host_stack_top = stack + HOST_STACK_PAGES * 4096;
    c->ist_stack_top = ist + 4096;
    c->vmxon_pa = vmxon;
    c->root_vmcs_pa = vmcs;
    gdt_init(&c->gdt, c->ist_stack_top);
    return c;
}

static int64_t launch_failed(struct cpu *c, int how, uint64_t old_cr4)
{
    if (how == 2) {
        uint32_t err = vmcs_read32(VMCS_VM_INSTR_ERROR);
        log_error("cpu %u: VMLAUNCH failed: VM-instruction error %u: %s", c->index, err,
                  vm_instruction_error_name(err));
        vmcs_dump();
    } else {
        log_error("cpu %u: VMLAUNCH failed: VMfailInvalid", c->index);
    }
    hv.cpus[c->index] = 0;
    __atomic_sub_fetch(&hv.cpus_virtualized, 1, __ATOMIC_SEQ_CST);
    vmx_off_this_cpu();
    write_cr4(old_cr4);
    return CORE_ERR_VMLAUNCH;
}

int64_t core_cpu_entry(const struct core_entry_args *a, uint64_t rip, uint64_t rsp, uint64_t fw_cr3,
                       uint64_t rflags)
{
    struct hv_handoff *h = (struct hv_handoff *)(uintptr_t)a->handoff;
    if (!h || h->magic != HV_HANDOFF_MAGIC)
        return CORE_ERR_BAD_HANDOFF;
    if (a->cpu_index >= HV_MAX_CPUS || a->cpu_index >= h->cpu_count || hv.cpus[a->cpu_index])
        return CORE_ERR_BAD_CPU_INDEX;
    if (!hv.handoff)
        init_pool_and_tables(h);
    struct root_entry_state s = {
        .rip = rip, .rsp = rsp, .rflags = rflags, .cr3 = fw_cr3, .cr0 = read_cr0(), .cr4 = read_cr4(),
        .fs_base = rdmsr(MSR_IA32_FS_BASE), .gs_base = rdmsr(MSR_IA32_GS_BASE),
    };
    struct cpu *c = cpu_create(a->cpu_index, a->apic_id);
    if (!c)
        return CORE_ERR_NO_MEMORY;
    int st = vmx_on_this_cpu(c);
    if (st != CORE_OK)
        return st;
    if (!hv.initialized) {
        st = init_root_partition(c);
        if (st != CORE_OK) {
            vmx_off_this_cpu();
            write_cr4(s.cr4);
            return st;
        }
        hv.initialized = true;
    }
    /* The host executes XSETBV for the root, which needs CR4.OSXSAVE in the host's CR4. */
    if (cpuid(1, 0).ecx & CPUID1_ECX_XSAVE)
        write_cr4(read_cr4() | CR4_OSXSAVE);
    st = root_vmcs_setup(c, &s);
    if (st != CORE_OK) {
        vmx_off_this_cpu();
        write_cr4(s.cr4);
        return st;
    }
    hv.cpus[c->index] = c;
    __atomic_add_fetch(&hv.cpus_virtualized, 1, __ATOMIC_SEQ_CST);
    log_info("cpu %u (APIC id %u%s): entering VMX non-root as the root partition", c->index, c->apic_id,
             c->is_bsp ? ", BSP" : "");
    return launch_failed(c, vmx_launch(), s.cr4);
}
