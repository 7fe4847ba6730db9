/* The UEFI loader (BOOTX64.EFI): checks the CPU, reads \EFI\BOOT\hvx.cfg (beside the loader), places the
 * core in memory the OS never reuses, builds its page tables, virtualizes every CPU (BSP first, then the
 * APs through MP services) and starts the next image. Whatever fails before VMLAUNCH is reported on the
 * console and COM1, and the next image still boots, without the hypervisor. */
#include <efi.h>
#include <efilib.h>
#include "arch/x86/cpu.h"
#include "arch/x86/format.h"
#include "arch/x86/msr.h"
#include "arch/x86/serial.h"
#include "arch/x86/string.h"
#include "boot/config.h"
#include "boot/cpu_check.h"
#include "boot/efi_mp.h"
#include "boot/handoff.h"
#include "boot/host_paging.h"
#include "boot/memmap.h"

#ifndef BUILD_ID
#define BUILD_ID "hvx (unversioned)"
#endif

extern const uint8_t core_blob[], core_blob_end[];
uint64_t hv_enter(uint64_t entry, uint64_t host_cr3, const struct core_entry_args *args);

#define GIB (1ull << 30)
#define CONFIG_MAX_BYTES 16384

/* What the APs need: it lives in the loader's own memory because the hypervisor's is hidden from the
 * root the moment the BSP is virtualized. */
struct boot_context {
    uint64_t entry, host_cr3, handoff;
    uint32_t cpu_limit;
    volatile uint32_t started;
    EFI_MP_SERVICES_PROTOCOL *mp;
    int64_t status[HV_MAX_CPUS];
};

/* ---- messages: ConOut (which firmware usually mirrors to COM1); errors also go to COM1 directly. */

static void say_to(int to_serial, const char *fmt, va_list ap)
{
    char line[256];
    size_t n = fmt_snprintf(line, sizeof line, "hvx: ");
    n += fmt_vsnprintf(line + n, sizeof line - n, fmt, ap);
    CHAR16 wide[sizeof line + 2];
    for (size_t i = 0; i < n; i++)
        wide[i] = (CHAR16)(uint8_t)line[i];
    wide[n] = L'\r';
    wide[n + 1] = L'\n';
    wide[n + 2] = 0;
    uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, wide);
    if (to_serial) {
        serial_write(line, n);
        serial_write("\n", 1);
    }
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_to(0, fmt, ap);
    va_end(ap);
}

static void say_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_to(1, fmt, ap);
    va_end(ap);
}

/* ---- config */

/* The loader's directory, from its own file path (e.g. \EFI\BOOT\), with "hvx.cfg" appended. */
static void config_path(EFI_LOADED_IMAGE *li, CHAR16 *out, UINTN max)
{
    CHAR16 *path = DevicePathToStr(li->FilePath);
    UINTN n = path ? StrLen(path) : 0, cut = 0;
    for (UINTN i = 0; i < n; i++)
        if (path[i] == L'\\' || path[i] == L'/')
            cut = i + 1;
    if (cut + 8 >= max)
        cut = 0;
    for (UINTN i = 0; i < cut; i++)
        out[i] = path[i] == L'/' ? L'\\' : path[i];
    StrCpy(out + cut, cut ? L"hvx.cfg" : L"\\EFI\\BOOT\\hvx.cfg");
    if (path)
        FreePool(path);
}

/* 1: parsed (or absent: defaults); 0: present but invalid (reported). */
static int load_config(EFI_LOADED_IMAGE *li, struct hv_config *cfg)
{
    static char text[CONFIG_MAX_BYTES];
    CHAR16 path[256];
    config_path(li, path, 256);
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle), file;
    if (!root || uefi_call_wrapper(root->Open, 5, root, &file, path, EFI_FILE_MODE_READ, 0) != EFI_SUCCESS) {
        say("no config file (%s): using defaults", "hvx.cfg");
        return 1;
    }
    UINTN size = sizeof text;
    EFI_STATUS st = uefi_call_wrapper(file->Read, 3, file, &size, text);
    uefi_call_wrapper(file->Close, 1, file);
    if (st != EFI_SUCCESS || size == sizeof text) {
        say_error("config file unreadable or larger than %u bytes", CONFIG_MAX_BYTES - 1);
        return 0;
    }
    struct config_error err;
    if (config_parse(text, size, cfg, &err) != 0) {
        say_error("config error, hvx.cfg line %u: %s", err.line, err.reason);
        return 0;
    }
    return 1;
}

/* ---- hypervisor start */

static uint64_t read_feature_control(void) { return rdmsr(MSR_IA32_FEATURE_CONTROL); }

static const char *check_cpu(void)
{
    struct cpuid_regs r = cpuid(0, 0);
    char vendor[12];
    memcpy(vendor, &r.ebx, 4);
    memcpy(vendor + 4, &r.edx, 4);
    memcpy(vendor + 8, &r.ecx, 4);
    return vtx_unavailable_reason(vendor, cpuid(1, 0).ecx, read_feature_control);
}

static uint32_t apic_id(void) { return cpuid(1, 0).ebx >> 24; }

/* Fills the handoff's RAM list and returns the extent of the host identity map (>= 4 GiB). */
static uint64_t describe_memory(struct hv_handoff *h)
{
    UINTN entries, key, desc_size;
    UINT32 desc_version;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &desc_size, &desc_version);
    struct memmap_summary sum = { 0, 0, 0 };
    if (!map || memmap_ram_ranges(map, entries * desc_size, desc_size, h->ram, HV_MAX_RAM_RANGES, &sum) != 0) {
        if (map)
            FreePool(map);
        return 0;
    }
    FreePool(map);
    h->ram_count = sum.ram_count;
    uint64_t limit = (sum.top_of_map + GIB - 1) & ~(GIB - 1);
    if (limit < 4 * GIB)
        limit = 4 * GIB;      /* the 32-bit MMIO hole (APIC, flash) even when no descriptor names it */
    return limit > 512 * GIB ? 512 * GIB : limit;
}

struct bump { uint64_t next, end; };
static uint64_t bump_alloc(void *ctx)
{
    struct bump *b = ctx;
    if (b->next + 4096 > b->end)
        return 0;
    uint64_t pa = b->next;
    b->next += 4096;
    memset((void *)(uintptr_t)pa, 0, 4096);
    return pa;
}
static void *identity(void *ctx, uint64_t pa) { (void)ctx; return (void *)(uintptr_t)pa; }

/* Lays out [core image | handoff | host page tables | pool] in the hypervisor's memory. */
static int place_core(struct boot_context *bc, const struct hv_config *cfg, uint32_t cpus,
                      uint64_t base, uint64_t size)
{
    const struct core_header *hdr = (const struct core_header *)core_blob;
    uint64_t file = (uint64_t)(core_blob_end - core_blob);
    if (memcmp(hdr->magic, CORE_HEADER_MAGIC, 8) != 0 || hdr->mem_size < file || hdr->mem_size + 2 * 4096 > size) {
        say_error("embedded core image is invalid or larger than the configured memory");
        return 0;
    }
    memcpy((void *)(uintptr_t)base, core_blob, file);
    memset((void *)(uintptr_t)(base + file), 0, hdr->mem_size - file);
    struct hv_handoff *h = (struct hv_handoff *)(uintptr_t)(base + hdr->mem_size);
    memset(h, 0, sizeof *h);
    h->phys_limit = describe_memory(h);
    if (!h->phys_limit) {
        say_error("could not read the firmware memory map");
        return 0;
    }
    struct bump b = { base + hdr->mem_size + ((sizeof *h + 4095) & ~4095ull), base + size };
    struct page_allocator pa = { &b, bump_alloc, 0, identity };
    struct host_paging_params pp = {
        .phys_limit = h->phys_limit,
        .use_1g_pages = (cpuid(0x80000001, 0).edx >> 26) & 1,
        .use_nx = (rdmsr(MSR_IA32_EFER) >> 11) & 1,
        .core_pa = base, .core_size = hdr->mem_size, .core_text_size = hdr->text_end,
        .core_va = CORE_LINK_BASE,
    };
    h->host_cr3 = host_paging_build(&pa, &pp);
    if (!h->host_cr3) {
        say_error("not enough hypervisor memory for its page tables");
        return 0;
    }
    h->magic = HV_HANDOFF_MAGIC;
    h->log_level = cfg->log;
    h->cpu_count = cpus;
    h->hv_base = base;
    h->hv_size = size;
    h->core_base = base;
    h->core_size = hdr->mem_size;
    h->pool_base = b.next;
    h->pool_size = base + size - b.next;
    fmt_snprintf(h->build_id, sizeof h->build_id, "%s", BUILD_ID);
    bc->entry = hdr->entry;
    bc->host_cr3 = h->host_cr3;
    bc->handoff = (uint64_t)(uintptr_t)h;
    return 1;
}

static void EFI_CALLBACK ap_procedure(VOID *arg)
{
    struct boot_context *bc = arg;
    UINTN me = 0;
    if (uefi_call_wrapper(bc->mp->WhoAmI, 2, bc->mp, &me) != EFI_SUCCESS || me >= HV_MAX_CPUS)
        return;
    if (bc->started >= bc->cpu_limit) {
        bc->status[me] = -1;   /* not asked for (cpus = N in the config) */
        return;
    }
    struct core_entry_args a = { bc->handoff, (uint32_t)me, apic_id() };
    bc->status[me] = (int64_t)hv_enter(bc->entry, bc->host_cr3, &a);
    if (bc->status[me] == CORE_OK)
        bc->started++;
}

static void start_hypervisor(const struct hv_config *cfg)
{
    static struct boot_context bc;
    const char *why = check_cpu();
    if (why) {
        say_error("VT-x not available: %s; starting the next image without the hypervisor", why);
        return;
    }
    EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
    UINTN n = 1, enabled = 1, bsp = 0;
    if (LibLocateProtocol(&mp_guid, (VOID **)&bc.mp) != EFI_SUCCESS)
        bc.mp = 0;
    if (bc.mp) {
        uefi_call_wrapper(bc.mp->GetNumberOfProcessors, 3, bc.mp, &n, &enabled);
        uefi_call_wrapper(bc.mp->WhoAmI, 2, bc.mp, &bsp);
    }
    uint32_t cpus = (uint32_t)(n > HV_MAX_CPUS ? HV_MAX_CPUS : n);
    bc.cpu_limit = cfg->cpus && cfg->cpus < enabled ? cfg->cpus : (uint32_t)enabled;
    EFI_PHYSICAL_ADDRESS base = 0;
    UINTN pages = cfg->memory / 4096;
    /* Reserved memory: no OS ever reuses it, and SetVirtualAddressMap leaves it alone. */
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiReservedMemoryType, pages, &base) != EFI_SUCCESS) {
        say_error("cannot allocate %llu MiB for the hypervisor; starting without it",
                  (unsigned long long)(cfg->memory >> 20));
        return;
    }
    if (!place_core(&bc, cfg, cpus, base, pages * 4096)) {
        uefi_call_wrapper(BS->FreePages, 2, base, pages);
        return;
    }
    struct core_entry_args a = { bc.handoff, (uint32_t)bsp, apic_id() };
    int64_t st = (int64_t)hv_enter(bc.entry, bc.host_cr3, &a);
    if (st != CORE_OK) {
        say_error("hypervisor not started: %s; starting the next image without it", core_status_name(st));
        uefi_call_wrapper(BS->FreePages, 2, base, pages);
        return;
    }
    /* From here the hypervisor's memory is hidden from us: only bc (loader memory) is used. */
    bc.started = 1;
    if (bc.mp && n > 1)
        uefi_call_wrapper(bc.mp->StartupAllAPs, 7, bc.mp, ap_procedure, TRUE, NULL, 10000000, &bc, NULL);
    for (UINTN i = 0; i < n && i < HV_MAX_CPUS; i++)
        if (i != bsp && bc.status[i] > 0)
            say_error("cpu %u not virtualized: %s", (unsigned)i, core_status_name(bc.status[i]));
    say("hypervisor running on %u of %u CPUs (%llu MiB at 0x%llx)", bc.started, (unsigned)n,
        (unsigned long long)(cfg->memory >> 20), (unsigned long long)base);
}

/* ---- next image */

static EFI_STATUS start_next(EFI_HANDLE self, EFI_LOADED_IMAGE *li, const struct hv_config *cfg)
{
    if (!cfg->next[0]) {
        say("no next image configured (next = ... in hvx.cfg): returning to the boot manager");
        return EFI_NOT_FOUND;
    }
    CHAR16 path[CONFIG_PATH_MAX];
    UINTN i;
    for (i = 0; cfg->next[i] && i + 1 < CONFIG_PATH_MAX; i++)
        path[i] = (CHAR16)(uint8_t)cfg->next[i];
    path[i] = 0;
    EFI_DEVICE_PATH *dp = FileDevicePath(li->DeviceHandle, path);
    EFI_HANDLE next;
    EFI_STATUS st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, self, dp, NULL, 0, &next);
    if (st != EFI_SUCCESS) {
        say_error("cannot load the next image %s: EFI status %llx", cfg->next, (unsigned long long)st);
        return st;
    }
    say("starting %s", cfg->next);
    return uefi_call_wrapper(BS->StartImage, 3, next, NULL, NULL);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    serial_init();
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    say("%s loader", BUILD_ID);
    EFI_LOADED_IMAGE *li;
    if (uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (VOID **)&li) != EFI_SUCCESS) {
        say_error("cannot find the loader's own image");
        return EFI_LOAD_ERROR;
    }
    struct hv_config cfg;
    config_defaults(&cfg);
    if (load_config(li, &cfg))
        start_hypervisor(&cfg);
    else
        say_error("hypervisor not started because of the config error");
    return start_next(image, li, &cfg);
}
