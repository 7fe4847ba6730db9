/* rootcheck.efi: started by the loader as the next image, it proves from inside the root partition
 * that the hypervisor is there and behaves: its CPUID leaves and hypercalls, VT-x hidden, its memory
 * unreadable and unwritable, firmware timers and MP services working on virtualized CPUs, and the cost
 * of a root CPUID exit. Prints TAP lines and "rootcheck: N passed, N failed" (ConOut, mirrored to COM1). */
#include <efi.h>
#include <efilib.h>
#include "api/hv_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/format.h"
#include "arch/x86/msr.h"
#include "arch/x86/string.h"
#include "boot/efi_mp.h"
#include "tests/payload/rootcheck.h"

extern uint64_t gp_count;
extern char gp_trap[];
int probe_write64(uint64_t addr, uint64_t value);
int probe_rdmsr(uint32_t msr);
int probe_exec(uint64_t addr);
uint64_t probe_vmcall(uint64_t code, uint64_t in, uint64_t out);


/* ---- the #GP trap in the firmware's IDT */

struct idt_gate { uint16_t lo, sel; uint8_t ist, attr; uint16_t mid; uint32_t hi, zero; };
static struct idt_gate saved_gp_gate;

static void gp_trap_install(int on)
{
    struct idt_gate *idt = (struct idt_gate *)(uintptr_t)sidt().base;
    if (!on) {
        idt[13] = saved_gp_gate;
        return;
    }
    saved_gp_gate = idt[13];
    uint64_t h = (uint64_t)(uintptr_t)gp_trap;
    idt[13] = (struct idt_gate){ (uint16_t)h, read_cs(), 0, 0x8E, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0 };
}

/* ---- checks */

static int hypervisor_present(void)
{
    struct cpuid_regs r = cpuid(HV_CPUID_VENDOR_LEAF, 0);
    char sig[13];
    memcpy(sig, &r.ebx, 4);
    memcpy(sig + 4, &r.ecx, 4);
    memcpy(sig + 8, &r.edx, 4);
    sig[12] = 0;
    return (cpuid(1, 0).ecx & CPUID1_ECX_HYPERVISOR) && memcmp(sig, HV_SIGNATURE, 12) == 0;
}

static void check_cpuid_leaves(void)
{
    struct cpuid_regs r = cpuid(HV_CPUID_VENDOR_LEAF, 0);
    check(r.eax == HV_CPUID_MAX_LEAF, "CPUID 0x40000000: max leaf %x, signature " HV_SIGNATURE, r.eax);
    r = cpuid(HV_CPUID_VERSION_LEAF, 0);
    check(r.eax == HV_ABI_VERSION && r.ebx == HV_INTERFACE_ID, "CPUID 0x40000001: ABI version %x", r.eax);
}

static void check_vmx_hidden(void)
{
    check(!(cpuid(1, 0).ecx & CPUID1_ECX_VMX), "VT-x hidden: CPUID.1:ECX.VMX is 0");
    check(!(read_cr4() & CR4_VMXE), "VT-x hidden: CR4.VMXE reads 0");
    uint64_t before = gp_count;
    check(probe_rdmsr(MSR_IA32_VMX_BASIC) && gp_count == before + 1, "VT-x hidden: RDMSR IA32_VMX_BASIC raises #GP");
    check((rdmsr(MSR_IA32_FEATURE_CONTROL) & (FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_VMX_IN_SMX)) == 0,
          "VT-x hidden: IA32_FEATURE_CONTROL shows VMX disabled");
}

static struct hv_version_out version __attribute__((aligned(64)));
static struct hv_stats_out stats __attribute__((aligned(64)));

static uint64_t get_stats(void) { return probe_vmcall(HVCALL_GET_STATS, 0, (uint64_t)(uintptr_t)&stats); }

uint64_t pool_pages_used(void)
{
    get_stats();
    return stats.pool_pages_used;
}

static void check_version_call(UINTN cpus)
{
    memset(&version, 0, sizeof version);
    uint64_t st = probe_vmcall(HVCALL_GET_VERSION, 0, (uint64_t)(uintptr_t)&version);
    check(st == HV_STATUS_SUCCESS && version.magic == HV_VERSION_MAGIC && version.abi_version == HV_ABI_VERSION,
          "version hypercall: status %llu, ABI %x", (unsigned long long)st, version.abi_version);
    check(version.build_id[0] != 0, "version hypercall: build id \"%s\"", version.build_id);
    check(version.cpus_virtualized == cpus && version.cpus_total == cpus,
          "hypervisor runs on every CPU: %u of %u virtualized, firmware reports %u",
          version.cpus_virtualized, version.cpus_total, (unsigned)cpus);
}

static void check_hidden_memory(void)
{
    uint64_t base = version.hv_base, size = version.hv_size;
    uint64_t probes[3] = { base, base + (size / 2 & ~4095ull), base + size - 8 };
    int all_ones = size != 0;
    for (int i = 0; i < 3; i++)
        all_ones &= *(volatile uint64_t *)(uintptr_t)probes[i] == ~0ull;
    check(all_ones, "hypervisor memory (%llu KiB at %llx) reads as all ones from the root",
          (unsigned long long)(size >> 10), (unsigned long long)base);
    get_stats();
    uint64_t faults = stats.hidden_access_faults, before = gp_count;
    int w = probe_write64(base, 0x1234) & probe_write64(base + size - 8, 0x5678);
    get_stats();
    check(w && gp_count == before + 2 && stats.hidden_access_faults == faults + 2,
          "writes to hypervisor memory raise #GP (hypervisor counted %llu)",
          (unsigned long long)(stats.hidden_access_faults - faults));
    check(probe_exec(base + 4096), "executing hypervisor memory raises #GP");
    check(*(volatile uint64_t *)(uintptr_t)base == ~0ull, "hypervisor memory still reads as all ones");
}

static void check_bad_hypercalls(void)
{
    static uint64_t buf[16] __attribute__((aligned(16)));
    check(probe_vmcall(0x7777, 0, (uint64_t)(uintptr_t)buf) == HV_STATUS_INVALID_HYPERCALL_CODE,
          "unknown hypercall code: INVALID_HYPERCALL_CODE");
    check(probe_vmcall(HVCALL_GET_VERSION, 0, version.hv_base) == HV_STATUS_ACCESS_DENIED,
          "output block in hypervisor memory: ACCESS_DENIED");
    check(probe_vmcall(HVCALL_GET_VERSION, 0, (uint64_t)(uintptr_t)buf + 4) == HV_STATUS_INVALID_ALIGNMENT,
          "unaligned output block: INVALID_ALIGNMENT");
    check(probe_vmcall(HVCALL_GET_VERSION, 0, 0xFEE00000ull) == HV_STATUS_ACCESS_DENIED,
          "output block in MMIO (local APIC): ACCESS_DENIED");
    check(probe_vmcall(HVCALL_GET_VERSION, 0, 0x7FFFFFFFFFFFF000ull) == HV_STATUS_ACCESS_DENIED,
          "output block beyond RAM: ACCESS_DENIED");
}

static volatile UINTN timer_ticks;
static VOID EFI_CALLBACK on_timer(EFI_EVENT ev, VOID *ctx) { (void)ev; (void)ctx; timer_ticks++; }

/* A periodic 10 ms event counted while the payload waits for a one-shot 300 ms event: both need the
 * firmware's timer interrupt, so a hypervisor that loses interrupts hangs here (the driver's timeout). */
static void check_timer_events(void)
{
    EFI_EVENT tick, done;
    UINTN index;
    timer_ticks = 0;
    if (uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, on_timer, NULL, &tick)
            != EFI_SUCCESS ||
        uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &done) != EFI_SUCCESS) {
        check(0, "firmware timer events: CreateEvent failed");
        return;
    }
    uefi_call_wrapper(BS->SetTimer, 3, tick, TimerPeriodic, 100000);   /* 10 ms */
    uefi_call_wrapper(BS->SetTimer, 3, done, TimerRelative, 3000000);  /* 300 ms */
    EFI_STATUS st = uefi_call_wrapper(BS->WaitForEvent, 3, 1, &done, &index);
    uefi_call_wrapper(BS->SetTimer, 3, tick, TimerCancel, 0);
    uefi_call_wrapper(BS->CloseEvent, 1, tick);
    uefi_call_wrapper(BS->CloseEvent, 1, done);
    check(st == EFI_SUCCESS && timer_ticks >= 10,
          "firmware timer events fire under the hypervisor (%u ticks of 10 ms in 300 ms)", (unsigned)timer_ticks);
}

static EFI_MP_SERVICES_PROTOCOL *mp;
static volatile uint8_t ap_saw_hv[64];

static VOID EFI_CALLBACK ap_probe(VOID *arg)
{
    (void)arg;
    UINTN me = 0;
    uefi_call_wrapper(mp->WhoAmI, 2, mp, &me);
    if (me < 64)
        ap_saw_hv[me] = (uint8_t)hypervisor_present();
}

static void check_mp_services(UINTN cpus)
{
    if (!mp || cpus < 2) {
        check(0, "MP services: need at least 2 CPUs to test StartupAllAPs (have %u)", (unsigned)cpus);
        return;
    }
    for (int round = 1; round <= 2; round++) {
        memset((void *)ap_saw_hv, 0, sizeof ap_saw_hv);
        EFI_STATUS st = uefi_call_wrapper(mp->StartupAllAPs, 7, mp, ap_probe, FALSE, NULL, 5000000, NULL, NULL);
        UINTN bsp = 0, seen = 0;
        uefi_call_wrapper(mp->WhoAmI, 2, mp, &bsp);
        for (UINTN i = 0; i < cpus && i < 64; i++)
            seen += i != bsp && ap_saw_hv[i];
        check(st == EFI_SUCCESS && seen == cpus - 1,
              "StartupAllAPs round %d after virtualization: %u of %u APs ran and saw the hypervisor",
              round, (unsigned)seen, (unsigned)(cpus - 1));
    }
}

static void check_cpuid_exit_cost(void)
{
    const unsigned iterations = 100000;
    get_stats();
    uint64_t before = stats.exits[10];
    uint64_t t0 = rdtsc();
    for (unsigned i = 0; i < iterations; i++)
        cpuid(0, 0);
    uint64_t t1 = rdtsc();
    get_stats();
    uint64_t counted = stats.exits[10] - before;
    check(counted >= iterations, "%u root CPUID exits counted by the hypervisor (%llu)", iterations,
          (unsigned long long)counted);
    note("# root CPUID exit round trip: %llu TSC ticks per exit (%u exits, %llu ticks)",
         (unsigned long long)((t1 - t0) / iterations), iterations, (unsigned long long)(t1 - t0));
}

static void check_stats_call(UINTN cpus)
{
    uint64_t st = get_stats();
    check(st == HV_STATUS_SUCCESS && stats.pool_pages_used > 0 &&
          stats.pool_pages_used + stats.pool_pages_free == stats.pool_pages_total && stats.cpus_virtualized == cpus,
          "statistics hypercall: pool %llu of %llu pages used, root EPT %llu pages, %llu hypercalls",
          (unsigned long long)stats.pool_pages_used, (unsigned long long)stats.pool_pages_total,
          (unsigned long long)stats.root_ept_pages, (unsigned long long)stats.hypercalls);
    note("# hypervisor memory used: %llu KiB of pool (+ core image and page tables)",
         (unsigned long long)(stats.pool_pages_used * 4));
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    note("rootcheck: checks from the root partition");
    if (!hypervisor_present()) {
        note("rootcheck: no hypervisor present");
        return EFI_SUCCESS;
    }
    EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
    UINTN cpus = 1, enabled = 1;
    if (LibLocateProtocol(&mp_guid, (VOID **)&mp) == EFI_SUCCESS)
        uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &cpus, &enabled);
    else
        mp = 0;
    gp_trap_install(1);
    check_cpuid_leaves();
    check_vmx_hidden();
    check_version_call(cpus);
    check_hidden_memory();
    check_bad_hypercalls();
    check_timer_events();
    check_mp_services(cpus);
    check_cpuid_exit_cost();
    check_stats_call(cpus);
    gp_trap_install(0);
    check_partitions();
    tap_summary("rootcheck");
    return EFI_SUCCESS;
}
