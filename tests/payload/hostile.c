/* hostile.efi: started by the loader as the next image, it attacks the hypervisor from the root
 * partition: isolation of child partitions (hostile_isolation.c), hypercalls from CPL 3
 * (hostile_ring3_check.c), HVCALL_SET_REGISTERS_AND_RUN_VP's refusals and runs (hostile_runregs.c),
 * create/delete churn (hostile_churn.c) and pool exhaustion
 * (hostile_exhaust.c). Prints TAP lines and "hostile: N passed, N failed" (ConOut, mirrored to COM1).
 * \EFI\hvx\hostile.cfg on the boot volume may say "churn = N" (cycles; default 1000). */
#include "tests/payload/hostile.h"
#include "api/hv_hypercall.h"
#include "arch/x86/format.h"
#include "arch/x86/string.h"
#include "boot/efi_mp.h"


/* ---- hypervisor facts */

struct hv_version_out hv_version __attribute__((aligned(64)));
static struct hv_stats_out stats __attribute__((aligned(64)));

uint64_t raw_hypercall(uint64_t code, const void *in, void *out)
{
    return hv_hypercall(code, (uint64_t)(uintptr_t)in, (uint64_t)(uintptr_t)out);
}

static void get_stats(void) { raw_hypercall(HVCALL_GET_STATS, 0, &stats); }
uint64_t pool_used(void) { get_stats(); return stats.pool_pages_used; }
uint64_t pool_free(void) { get_stats(); return stats.pool_pages_free; }
uint64_t hypercalls_served(void) { get_stats(); return stats.hypercalls; }

int hypervisor_answers(void)
{
    static struct hv_version_out v __attribute__((aligned(64)));
    memset(&v, 0, sizeof v);
    return raw_hypercall(HVCALL_GET_VERSION, 0, &v) == HV_STATUS_SUCCESS && v.magic == HV_VERSION_MAGIC &&
           v.hv_base == hv_version.hv_base;
}

void *alloc_pages(uint64_t pages, EFI_MEMORY_TYPE type)
{
    EFI_PHYSICAL_ADDRESS pa;
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, type, pages, &pa) != EFI_SUCCESS)
        return 0;
    memset((void *)(uintptr_t)pa, 0, pages * 4096);
    return (void *)(uintptr_t)pa;
}

void free_pages(void *p, uint64_t pages)
{
    if (p)
        uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(uintptr_t)p, pages);
}

uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ---- children */

HRESULT set_reg64(WHV_PARTITION_HANDLE p, UINT32 vp, WHV_REGISTER_NAME n, uint64_t v)
{
    WHV_REGISTER_VALUE val;
    memset(&val, 0, sizeof val);
    val.Reg64 = v;
    return WHvSetVirtualProcessorRegisters(p, vp, &n, 1, &val);
}

uint64_t get_reg64(WHV_PARTITION_HANDLE p, UINT32 vp, WHV_REGISTER_NAME n)
{
    WHV_REGISTER_VALUE val;
    memset(&val, 0, sizeof val);
    WHvGetVirtualProcessorRegisters(p, vp, &n, 1, &val);
    return val.Reg64;
}

/* Real mode at CS 0, IP rip; DS and ES flat 4 GiB (unreal mode); IDT the reset state (base 0). */
HRESULT set_unreal_state(WHV_PARTITION_HANDLE p, UINT32 vp, uint64_t rip, uint64_t rax, uint64_t rbx)
{
    WHV_REGISTER_NAME names[8] = { WHvX64RegisterCs, WHvX64RegisterDs, WHvX64RegisterEs, WHvX64RegisterRip,
                                   WHvX64RegisterRflags, WHvX64RegisterRsp, WHvX64RegisterRax, WHvX64RegisterRbx };
    WHV_REGISTER_VALUE v[8];
    memset(v, 0, sizeof v);
    v[0].Segment.Limit = 0xFFFF;
    v[0].Segment.Attributes = 0x9B;
    v[1].Segment.Limit = 0xFFFFFFFF;
    v[1].Segment.Attributes = 0x8093;
    v[2] = v[1];
    v[3].Reg64 = rip;
    v[4].Reg64 = 2;
    v[5].Reg64 = 0x8000;
    v[6].Reg64 = rax;
    v[7].Reg64 = rbx;
    return WHvSetVirtualProcessorRegisters(p, vp, names, 8, v);
}

int child_new(struct child *ch, uint64_t mem_bytes, uint64_t ext_exits, uint64_t exception_bitmap)
{
    memset(ch, 0, sizeof *ch);
    ch->mem = alloc_pages(mem_bytes / 4096, EfiLoaderData);
    if (!ch->mem)
        return 0;
    ch->mem_bytes = mem_bytes;
    memcpy(ch->mem + GUEST_CODE, guest_blob, guest_blob_size);
    HRESULT hr = WHvCreatePartition(&ch->part);
    if (FAILED(hr)) {
        free_pages(ch->mem, mem_bytes / 4096);
        ch->mem = 0;
        return 0;
    }
    WHV_PARTITION_PROPERTY prop;
    if (ext_exits) {
        memset(&prop, 0, sizeof prop);
        prop.ExtendedVmExits.AsUINT64 = ext_exits;
        hr |= WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeExtendedVmExits, &prop, sizeof prop);
        memset(&prop, 0, sizeof prop);
        prop.ExceptionExitBitmap = exception_bitmap;
        hr |= WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeExceptionExitBitmap, &prop, sizeof prop);
    }
    hr |= WHvSetupPartition(ch->part);
    hr |= WHvMapGpaRange(ch->part, ch->mem, 0, mem_bytes, RWX);
    hr |= WHvCreateVirtualProcessor(ch->part, 0, 0);
    return SUCCEEDED(hr);
}

void child_free(struct child *ch)
{
    if (ch->part) {
        WHvDeleteVirtualProcessor(ch->part, 0);
        WHvDeletePartition(ch->part);
    }
    free_pages(ch->mem, ch->mem_bytes / 4096);
    memset(ch, 0, sizeof *ch);
}

HRESULT child_start(struct child *ch, uint32_t off, uint64_t rax, uint64_t rbx)
{
    return set_unreal_state(ch->part, 0, GUEST_CODE + off, rax, rbx);
}

/* 32-bit protected mode, flat segments (no GDT in memory: nothing loads a selector), IDT limit 0. */
HRESULT child_start_protected(struct child *ch, uint32_t off, uint64_t rax, uint64_t rbx)
{
    WHV_REGISTER_NAME names[11] = { WHvX64RegisterCs, WHvX64RegisterDs, WHvX64RegisterEs, WHvX64RegisterSs,
                                    WHvX64RegisterCr0, WHvX64RegisterRip, WHvX64RegisterRflags,
                                    WHvX64RegisterRsp, WHvX64RegisterRax, WHvX64RegisterRbx, WHvX64RegisterIdtr };
    WHV_REGISTER_VALUE v[11];
    memset(v, 0, sizeof v);
    v[0].Segment.Selector = 0x08;
    v[0].Segment.Limit = 0xFFFFFFFF;
    v[0].Segment.Attributes = 0xC09B;
    v[1].Segment.Selector = 0x10;
    v[1].Segment.Limit = 0xFFFFFFFF;
    v[1].Segment.Attributes = 0xC093;
    v[2] = v[1];
    v[3] = v[1];
    v[4].Reg64 = 0x11;   /* PE | ET */
    v[5].Reg64 = GUEST_CODE + off;
    v[6].Reg64 = 2;
    v[7].Reg64 = 0x8000;
    v[8].Reg64 = rax;
    v[9].Reg64 = rbx;
    v[10].Table.Base = 0;
    v[10].Table.Limit = 0;
    return WHvSetVirtualProcessorRegisters(ch->part, 0, names, 11, v);
}

HRESULT child_run(struct child *ch, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    memset(x, 0, sizeof *x);
    return WHvRunVirtualProcessor(ch->part, 0, x, sizeof *x);
}

HRESULT probe(struct child *ch, enum probe_kind k, uint64_t gpa, uint8_t value, WHV_RUN_VP_EXIT_CONTEXT *x)
{
    HRESULT hr;
    if (k == PROBE_EXEC) {
        /* CS.base = gpa, IP 0: the first fetch is at gpa. */
        WHV_REGISTER_NAME names[3] = { WHvX64RegisterCs, WHvX64RegisterRip, WHvX64RegisterRflags };
        WHV_REGISTER_VALUE v[3];
        memset(v, 0, sizeof v);
        v[0].Segment.Base = gpa;
        v[0].Segment.Limit = 0xFFFF;
        v[0].Segment.Attributes = 0x9B;
        v[2].Reg64 = 2;
        hr = WHvSetVirtualProcessorRegisters(ch->part, 0, names, 3, v);
    } else {
        hr = child_start(ch, k == PROBE_READ ? g_read : g_write, value, gpa);
    }
    return SUCCEEDED(hr) ? child_run(ch, x) : hr;
}

int is_memory_exit(const WHV_RUN_VP_EXIT_CONTEXT *x, enum probe_kind k, uint64_t gpa, int unmapped)
{
    static const uint32_t types[3] = { WHvMemoryAccessRead, WHvMemoryAccessWrite, WHvMemoryAccessExecute };
    return x->ExitReason == WHvRunVpExitReasonMemoryAccess && x->MemoryAccess.Gpa == gpa &&
           x->MemoryAccess.AccessInfo.AccessType == types[k] && x->MemoryAccess.AccessInfo.GpaUnmapped == (unsigned)unmapped;
}

const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case WHvRunVpExitReasonMemoryAccess: return "MemoryAccess";
    case WHvRunVpExitReasonX64IoPortAccess: return "IoPortAccess";
    case WHvRunVpExitReasonUnrecoverableException: return "UnrecoverableException";
    case WHvRunVpExitReasonInvalidVpRegisterValue: return "InvalidVpRegisterValue";
    case WHvRunVpExitReasonUnsupportedFeature: return "UnsupportedFeature";
    case WHvRunVpExitReasonX64InterruptWindow: return "InterruptWindow";
    case WHvRunVpExitReasonX64Halt: return "Halt";
    case WHvRunVpExitReasonX64MsrAccess: return "MsrAccess";
    case WHvRunVpExitReasonX64Cpuid: return "Cpuid";
    case WHvRunVpExitReasonException: return "Exception";
    case WHvRunVpExitReasonX64Rdtsc: return "Rdtsc";
    case WHvRunVpExitReasonHypercall: return "Hypercall";
    case WHvRunVpExitReasonCanceled: return "Canceled";
    default: return "?";
    }
}

/* ---- MP services */

typedef EFI_STATUS (EFIAPI *startup_this_ap_fn)(EFI_MP_SERVICES_PROTOCOL *This, EFI_AP_PROCEDURE Procedure,
                                                UINTN ProcessorNumber, EFI_EVENT WaitEvent, UINTN Timeout,
                                                VOID *Argument, BOOLEAN *Finished);
static EFI_MP_SERVICES_PROTOCOL *mp;
static UINTN ap_number;
static EFI_EVENT ap_event;
static struct { void (*fn)(void *); void *arg; } ap_job;
static int ap_finished;

static VOID EFI_CALLBACK ap_trampoline(VOID *unused)
{
    (void)unused;
    ap_job.fn(ap_job.arg);
}

static void mp_init(void)
{
    EFI_GUID guid = EFI_MP_SERVICES_PROTOCOL_GUID;
    UINTN cpus = 0, enabled = 0, bsp = 0;
    if (LibLocateProtocol(&guid, (VOID **)&mp) != EFI_SUCCESS) {
        mp = 0;
        return;
    }
    uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &cpus, &enabled);
    uefi_call_wrapper(mp->WhoAmI, 2, mp, &bsp);
    if (cpus < 2) {
        mp = 0;
        return;
    }
    ap_number = bsp == 0 ? 1 : 0;
}

int ap_available(void) { return mp != 0; }

int ap_start(void (*fn)(void *), void *arg)
{
    if (!mp)
        return 0;
    ap_job.fn = fn;
    ap_job.arg = arg;
    ap_finished = 0;
    if (!ap_event && uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &ap_event) != EFI_SUCCESS)
        return 0;
    startup_this_ap_fn start = (startup_this_ap_fn)mp->StartupThisAP;
    return uefi_call_wrapper(start, 7, mp, ap_trampoline, ap_number, ap_event, 0, NULL, NULL) == EFI_SUCCESS;
}

/* CheckEvent clears the signal it reports: the answer is latched until the next ap_start. */
int ap_done(void)
{
    if (!ap_finished)
        ap_finished = uefi_call_wrapper(BS->CheckEvent, 1, ap_event) == EFI_SUCCESS;
    return ap_finished;
}

int ap_run(void (*fn)(void *), void *arg)
{
    if (!mp)
        return 0;
    ap_job.fn = fn;
    ap_job.arg = arg;
    startup_this_ap_fn start = (startup_this_ap_fn)mp->StartupThisAP;
    return uefi_call_wrapper(start, 7, mp, ap_trampoline, ap_number, NULL, 0, NULL, NULL) == EFI_SUCCESS;
}

/* ---- configuration: \EFI\hvx\hostile.cfg, "churn = N" */

static uint32_t read_churn_cycles(EFI_HANDLE image, uint32_t fallback)
{
    EFI_LOADED_IMAGE *li = 0;
    EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
    if (uefi_call_wrapper(BS->HandleProtocol, 3, image, &lip, (VOID **)&li) != EFI_SUCCESS || !li)
        return fallback;
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle), f = 0;
    if (!root)
        return fallback;
    char buf[256];
    UINTN len = sizeof buf - 1;
    if (uefi_call_wrapper(root->Open, 5, root, &f, L"\\EFI\\hvx\\hostile.cfg", EFI_FILE_MODE_READ, 0) != EFI_SUCCESS) {
        uefi_call_wrapper(root->Close, 1, root);
        return fallback;
    }
    if (uefi_call_wrapper(f->Read, 3, f, &len, buf) != EFI_SUCCESS)
        len = 0;
    buf[len] = 0;
    uefi_call_wrapper(f->Close, 1, f);
    uefi_call_wrapper(root->Close, 1, root);
    for (char *p = buf; *p; p++) {
        if (memcmp(p, "churn", 5) != 0 || (p != buf && p[-1] != '\n'))
            continue;
        p += 5;
        while (*p == ' ' || *p == '=')
            p++;
        uint32_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint32_t)(*p++ - '0');
            digits++;
        }
        return digits ? v : fallback;
    }
    return fallback;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    note("hostile: hostile inputs from the root partition");
    WHV_CAPABILITY cap;
    UINT32 written = 0;
    memset(&cap, 0, sizeof cap);
    if (FAILED(WHvGetCapability(WHvCapabilityCodeHypervisorPresent, &cap, sizeof cap, &written)) ||
        !cap.HypervisorPresent) {
        note("hostile: no hypervisor present");
        return EFI_SUCCESS;
    }
    raw_hypercall(HVCALL_GET_VERSION, 0, &hv_version);
    uint32_t cycles = read_churn_cycles(image, 1000);
    mp_init();
    note("# hypervisor %s: memory %llx..%llx, %u CPUs; churn %u cycles", hv_version.build_id,
         (unsigned long long)hv_version.hv_base, (unsigned long long)(hv_version.hv_base + hv_version.hv_size),
         hv_version.cpus_virtualized, cycles);
    uint64_t base = pool_used();
    check_isolation();
    check_ring3();
    check_run_registers();
    check_exhaustion();
    check_churn(cycles);
    uint64_t end = pool_used();
    check(end == base, "the whole run leaves the pool as it found it (%llu pages before, %llu after)",
          (unsigned long long)base, (unsigned long long)end);
    tap_summary("hostile");
    return EFI_SUCCESS;
}
