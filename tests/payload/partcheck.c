/* Partition checks for rootcheck.efi: a small VMM in the root drives child partitions through the WHV
 * API (api/whv_lib.c over the hypercalls) and checks the exits it gets. The guests are a few bytes of
 * real-mode code, hand-assembled below (the exit-script suite will assemble them with NASM). */
#include <efi.h>
#include <efilib.h>
#include "api/hv_abi.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"
#include "tests/payload/rootcheck.h"

#define GUEST_BYTES 0x10000   /* 64 KiB of root memory mapped at GPA 0 */
#define CODE 0x1000

/* mov si, msg; .loop: lodsb; test al, al; jz .done; out 0xE9, al; jmp .loop; .done: hlt; msg: ... */
static const uint8_t hello_guest[] = {
    0xBE, 0x0D, 0x10, 0xAC, 0x84, 0xC0, 0x74, 0x04, 0xE6, 0xE9, 0xEB, 0xF7, 0xF4,
    'h', 'e', 'l', 'l', 'o', ' ', 'f', 'r', 'o', 'm', ' ', 'a', ' ', 'c', 'h', 'i', 'l', 'd', ' ',
    'p', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 0,
};
/* mov al, [0x20000 - 0x10000 via ds?]: real mode cannot reach 0x20000 with DS = 0, so: mov ax, 0x2000;
 * mov ds, ax; mov al, [0]; hlt. The read of GPA 0x20000 hits unmapped memory. */
static const uint8_t unmapped_read_guest[] = { 0xB8, 0x00, 0x20, 0x8E, 0xD8, 0xA0, 0x00, 0x00, 0xF4 };
/* mov eax, 0x1234; cpuid; xor eax, eax; cpuid; hlt */
static const uint8_t cpuid_guest[] = { 0x66, 0xB8, 0x34, 0x12, 0x00, 0x00, 0x0F, 0xA2, 0x66, 0x31, 0xC0,
                                       0x0F, 0xA2, 0xF4 };

/* movd eax, xmm5; out 0xE9, eax; mov eax, 0x5A5A5A5A; movd xmm5, eax; hlt (CR4.OSFXSR set by the VMM) */
static const uint8_t xmm_guest[] = { 0x66, 0x0F, 0x7E, 0xE8, 0x66, 0xE7, 0xE9, 0x66, 0xB8, 0x5A, 0x5A, 0x5A, 0x5A,
                                     0x66, 0x0F, 0x6E, 0xE8, 0xF4 };

static const uint8_t hlt_guest[] = { 0xF4 };   /* hlt */
/* mov ecx, 0xC0000082; rdmsr; out 0x80, al; hlt: the VP reads its own LSTAR (RIP stays at the OUT) */
static const uint8_t lstar_guest[] = { 0x66, 0xB9, 0x82, 0x00, 0x00, 0xC0, 0x0F, 0x32, 0xE6, 0x80, 0xF4 };

struct child {
    WHV_PARTITION_HANDLE part;
    uint8_t *mem;
    EFI_PHYSICAL_ADDRESS mem_pa;
};

static HRESULT set_reg(struct child *ch, WHV_REGISTER_NAME name, WHV_REGISTER_VALUE v)
{
    return WHvSetVirtualProcessorRegisters(ch->part, 0, &name, 1, &v);
}

static HRESULT set_real_mode_start(struct child *ch, uint64_t rip)
{
    WHV_REGISTER_NAME names[4] = { WHvX64RegisterCs, WHvX64RegisterRip, WHvX64RegisterRflags, WHvX64RegisterRsp };
    WHV_REGISTER_VALUE v[4];
    memset(v, 0, sizeof v);
    v[0].Segment.Base = 0;
    v[0].Segment.Limit = 0xFFFF;
    v[0].Segment.Selector = 0;
    v[0].Segment.Attributes = 0x9B;
    v[1].Reg64 = rip;
    v[2].Reg64 = 0x2;
    v[3].Reg64 = 0x8000;
    return WHvSetVirtualProcessorRegisters(ch->part, 0, names, 4, v);
}

static int child_create(struct child *ch, const void *code, uint32_t code_len, uint64_t extended_exits,
                        const uint32_t *cpuid_leaves, uint32_t n_leaves)
{
    memset(ch, 0, sizeof *ch);
    if (FAILED(WHvCreatePartition(&ch->part)))
        return 0;
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0, sizeof prop);
    prop.ProcessorCount = 1;
    HRESULT hr = WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop);
    if (extended_exits) {
        memset(&prop, 0, sizeof prop);
        prop.ExtendedVmExits.AsUINT64 = extended_exits;
        hr |= WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeExtendedVmExits, &prop, sizeof prop);
    }
    if (n_leaves)
        hr |= WHvSetPartitionProperty(ch->part, WHvPartitionPropertyCodeCpuidExitList, cpuid_leaves, n_leaves * 4);
    hr |= WHvSetupPartition(ch->part);
    if (uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, GUEST_BYTES / 4096, &ch->mem_pa) != EFI_SUCCESS)
        return 0;
    ch->mem = (uint8_t *)(uintptr_t)ch->mem_pa;
    memset(ch->mem, 0, GUEST_BYTES);
    memcpy(ch->mem + CODE, code, code_len);
    hr |= WHvMapGpaRange(ch->part, ch->mem, 0, GUEST_BYTES,
                         WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite | WHvMapGpaRangeFlagExecute);
    hr |= WHvCreateVirtualProcessor(ch->part, 0, 0);
    hr |= set_real_mode_start(ch, CODE);
    return SUCCEEDED(hr);
}

static void child_destroy(struct child *ch)
{
    WHvDeleteVirtualProcessor(ch->part, 0);
    WHvUnmapGpaRange(ch->part, 0, GUEST_BYTES);
    WHvDeletePartition(ch->part);
    if (ch->mem_pa)
        uefi_call_wrapper(BS->FreePages, 2, ch->mem_pa, GUEST_BYTES / 4096);
}

static HRESULT advance(struct child *ch, const WHV_RUN_VP_EXIT_CONTEXT *x)
{
    WHV_REGISTER_VALUE v;
    memset(&v, 0, sizeof v);
    v.Reg64 = x->VpContext.Rip + x->VpContext.InstructionLength;
    return set_reg(ch, WHvX64RegisterRip, v);
}

/* The VMM loop of `make run`'s demo: every OUT to port 0xE9 is one character. */
static void check_hello(void)
{
    struct child ch;
    char text[64];
    unsigned n = 0, exits = 0;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 0, 0, 0);
    check(ok, "WHV: create, set up, map 64 KiB, create a VP, set real-mode registers");
    for (; ok && exits < 100; exits++) {
        if (FAILED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x)))
            break;
        if (x.ExitReason != WHvRunVpExitReasonX64IoPortAccess)
            break;
        if (x.IoPortAccess.PortNumber == 0xE9 && n + 1 < sizeof text)
            text[n++] = (char)x.IoPortAccess.Rax;
        advance(&ch, &x);
    }
    text[n] = 0;
    check(ok && x.ExitReason == WHvRunVpExitReasonX64Halt && memcmp(text, "hello from a child partition", 29) == 0,
          "a child partition printed \"%s\" through %u port-I/O exits, then halted", text, exits);
    child_destroy(&ch);
}

static void check_io_exit_fields(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 0, 0, 0);
    for (int i = 0; ok && i < 2; i++) {   /* the second exit is the first OUT */
        memset(&x, 0xAA, sizeof x);
        ok = SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x)) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess;
        if (ok && i == 0) advance(&ch, &x);
    }
    check(ok && x.IoPortAccess.PortNumber == 0xE9 && x.IoPortAccess.AccessInfo.IsWrite == 1 &&
          x.IoPortAccess.AccessInfo.AccessSize == 1 && (x.IoPortAccess.Rax & 0xFF) == 'e' &&
          x.VpContext.Rip == CODE + 8 && x.VpContext.InstructionLength == 2 && x.VpContext.Cs.Selector == 0 &&
          x.VpContext.ExecutionState.Cr0Pe == 0 && x.IoPortAccess.InstructionByteCount == 16 &&
          x.IoPortAccess.InstructionBytes[0] == 0xE6 && x.IoPortAccess.InstructionBytes[1] == 0xE9,
          "X64IoPortAccess: port %x, write %u, size %u, al %x, rip %llx, length %u, %u instruction bytes",
          x.IoPortAccess.PortNumber, x.IoPortAccess.AccessInfo.IsWrite, x.IoPortAccess.AccessInfo.AccessSize,
          (unsigned)(x.IoPortAccess.Rax & 0xFF), (unsigned long long)x.VpContext.Rip, x.VpContext.InstructionLength,
          x.IoPortAccess.InstructionByteCount);
    /* The legacy 144-byte buffer works; a smaller one is refused before any run. */
    uint8_t legacy[144] __attribute__((aligned(16)));
    HRESULT hr = WHvRunVirtualProcessor(ch.part, 0, legacy, sizeof legacy);
    HRESULT small = WHvRunVirtualProcessor(ch.part, 0, legacy, 100);
    UINT32 legacy_reason;
    memcpy(&legacy_reason, legacy, sizeof legacy_reason);
    check(SUCCEEDED(hr) && legacy_reason == WHvRunVpExitReasonX64IoPortAccess &&
          small == (HRESULT)WHV_E_INSUFFICIENT_BUFFER, "144-byte exit buffer works, 100 bytes: WHV_E_INSUFFICIENT_BUFFER");
    child_destroy(&ch);
}

static void check_memory_access_exit(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    memset(&x, 0, sizeof x);
    int ok = child_create(&ch, unmapped_read_guest, sizeof unmapped_read_guest, 0, 0, 0) &&
             SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonMemoryAccess && x.MemoryAccess.Gpa == 0x20000 &&
          x.MemoryAccess.AccessInfo.AccessType == WHvMemoryAccessRead && x.MemoryAccess.AccessInfo.GpaUnmapped == 1 &&
          x.VpContext.Rip == CODE + 5 && x.MemoryAccess.InstructionBytes[0] == 0xA0,
          "MemoryAccess: read of unmapped GPA %llx, access type %u, unmapped %u, rip %llx",
          (unsigned long long)x.MemoryAccess.Gpa, x.MemoryAccess.AccessInfo.AccessType,
          x.MemoryAccess.AccessInfo.GpaUnmapped, (unsigned long long)x.VpContext.Rip);
    child_destroy(&ch);
}

static void check_cpuid_exit(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    const uint32_t leaves[1] = { 0x1234 };
    int ok = child_create(&ch, cpuid_guest, sizeof cpuid_guest, 1 /* X64CpuidExit */, leaves, 1) &&
             SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonX64Cpuid && x.CpuidAccess.Rax == 0x1234 &&
          x.VpContext.InstructionLength == 2 && x.VpContext.Rip == CODE + 6,
          "X64Cpuid exit for a listed leaf (%llx), rip %llx", (unsigned long long)x.CpuidAccess.Rax,
          (unsigned long long)x.VpContext.Rip);
    ok = ok && SUCCEEDED(advance(&ch, &x)) && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonX64Halt,
          "CPUID of a leaf not in the list is answered by the hypervisor (next exit: %x)", x.ExitReason);
    child_destroy(&ch);
}

static void check_cancel(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 0, 0, 0) &&
             SUCCEEDED(WHvCancelRunVirtualProcessor(ch.part, 0, 0)) &&
             SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonCanceled && x.CancelReason.CancelReason == 0 && x.VpContext.Rip == CODE,
          "a cancel before Run makes it return Canceled at once (reason %x)", x.ExitReason);
    ok = ok && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess, "the cancel was consumed: the next Run runs");
    child_destroy(&ch);
}

static void check_bad_handles(void)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    WHV_PARTITION_HANDLE forged = (WHV_PARTITION_HANDLE)(uintptr_t)0x7777;
    check(WHvRunVirtualProcessor(forged, 0, &x, sizeof x) == (HRESULT)E_HANDLE &&
          WHvDeletePartition(forged) == (HRESULT)E_HANDLE, "a forged partition handle: E_HANDLE");
    struct child ch;
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 0, 0, 0);
    check(ok && WHvRunVirtualProcessor(ch.part, 3, &x, sizeof x) == (HRESULT)WHV_E_VP_DOES_NOT_EXIST &&
          WHvCreateVirtualProcessor(ch.part, 0, 0) == (HRESULT)WHV_E_VP_ALREADY_EXISTS,
          "VP index checks: WHV_E_VP_DOES_NOT_EXIST, WHV_E_VP_ALREADY_EXISTS");
    WHV_PARTITION_HANDLE stale = ch.part;
    child_destroy(&ch);
    check(WHvRunVirtualProcessor(stale, 0, &x, sizeof x) == (HRESULT)E_HANDLE, "a deleted partition's handle: E_HANDLE");
}

static void check_guest_memory_calls(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    WHV_TRANSLATE_GVA_RESULT tr;
    WHV_GUEST_PHYSICAL_ADDRESS gpa = 0;
    WHV_ACCESS_GPA_CONTROLS controls = { .AsUINT64 = 0 };
    uint8_t bytes[4] = { 0 }, hlt = 0xF4;
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 0, 0, 0);
    HRESULT hr = WHvTranslateGva(ch.part, 0, CODE + 3, WHvTranslateGvaFlagValidateRead, &tr, &gpa);
    check(ok && SUCCEEDED(hr) && tr.ResultCode == WHvTranslateGvaResultSuccess && gpa == CODE + 3,
          "WHvTranslateGva in real mode: result %u, gpa %llx", tr.ResultCode, (unsigned long long)gpa);
    hr = WHvReadGpaRange(ch.part, 0, CODE, controls, bytes, sizeof bytes);
    check(SUCCEEDED(hr) && memcmp(bytes, hello_guest, sizeof bytes) == 0, "WHvReadGpaRange reads the guest's code");
    hr = WHvWriteGpaRange(ch.part, 0, CODE, controls, &hlt, 1);
    ok = ok && SUCCEEDED(hr) && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && x.ExitReason == WHvRunVpExitReasonX64Halt && x.VpContext.Rip == CODE + 1,
          "WHvWriteGpaRange patched the guest: it halts at once (exit %x)", x.ExitReason);
    check(WHvReadGpaRange(ch.part, 0, 0x50000, controls, bytes, 4) == (HRESULT)E_INVALIDARG,
          "WHvReadGpaRange of an unmapped GPA: E_INVALIDARG");
    child_destroy(&ch);
}

/* X64MsrExitBitmap: the capability names the six bits; a set value reads back; an undefined bit is refused
 * and changes nothing. */
static void check_msr_exit_bitmap(WHV_PARTITION_HANDLE part)
{
    WHV_CAPABILITY cap;
    UINT32 written = 0;
    memset(&cap, 0, sizeof cap);
    HRESULT hr = WHvGetCapability(WHvCapabilityCodeX64MsrExitBitmap, &cap, sizeof cap, &written);
    check(SUCCEEDED(hr) && cap.X64MsrExitBitmap.AsUINT64 == 0x3F && written == 8,
          "WHvGetCapability(X64MsrExitBitmap): 0x%llx, %u bytes", (unsigned long long)cap.X64MsrExitBitmap.AsUINT64,
          written);
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0, sizeof prop);
    prop.X64MsrExitBitmap.AsUINT64 = 0x5;
    hr = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeX64MsrExitBitmap, &prop, sizeof prop);
    prop.X64MsrExitBitmap.AsUINT64 = 0x40;
    HRESULT bad = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeX64MsrExitBitmap, &prop, sizeof prop);
    memset(&prop, 0, sizeof prop);
    HRESULT get = WHvGetPartitionProperty(part, WHvPartitionPropertyCodeX64MsrExitBitmap, &prop, sizeof prop, &written);
    check(SUCCEEDED(hr) && bad == (HRESULT)E_INVALIDARG && SUCCEEDED(get) && prop.X64MsrExitBitmap.AsUINT64 == 0x5 &&
          written == 8, "X64MsrExitBitmap: 0x5 reads back; bit 6 is E_INVALIDARG and changes nothing");
}

/* CpuidResultList: whole entries read back; a partial entry, a reserved word or a repeated leaf is refused
 * and the list stays as it was. */
static void check_cpuid_result_list(WHV_PARTITION_HANDLE part)
{
    WHV_X64_CPUID_RESULT list[3], back[4];
    memset(list, 0, sizeof list);
    for (UINT32 i = 0; i < 3; i++) {
        list[i].Function = 0x80000000u + i;
        list[i].Eax = i + 1; list[i].Ebx = i + 2; list[i].Ecx = i + 3; list[i].Edx = i + 4;
    }
    HRESULT hr = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, list, sizeof list);
    UINT32 written = 0;
    memset(back, 0, sizeof back);
    HRESULT get = WHvGetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, back, sizeof back, &written);
    check(SUCCEEDED(hr) && SUCCEEDED(get) && written == sizeof list && memcmp(back, list, sizeof list) == 0,
          "CpuidResultList: 3 entries read back (%u bytes)", written);
    HRESULT small = WHvGetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, back, 40, &written);
    check(small == (HRESULT)WHV_E_INSUFFICIENT_BUFFER && written == sizeof list,
          "CpuidResultList into 40 bytes: WHV_E_INSUFFICIENT_BUFFER, natural size %u", written);
    HRESULT partial = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, list, 40);
    list[1].Reserved[2] = 1;
    HRESULT reserved = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, list, sizeof list);
    list[1].Reserved[2] = 0;
    list[2].Function = list[0].Function;
    HRESULT repeated = WHvSetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, list, sizeof list);
    memset(back, 0, sizeof back);
    get = WHvGetPartitionProperty(part, WHvPartitionPropertyCodeCpuidResultList, back, sizeof back, &written);
    check(partial == (HRESULT)E_INVALIDARG && reserved == (HRESULT)E_INVALIDARG && repeated == (HRESULT)E_INVALIDARG &&
          SUCCEEDED(get) && written == 3 * sizeof list[0] && back[2].Function == 0x80000002u,
          "CpuidResultList: a partial entry, a reserved word, a repeated leaf are E_INVALIDARG; the list is kept");
}

static void check_capability_and_properties(void)
{
    WHV_CAPABILITY cap;
    UINT32 written = 0;
    memset(&cap, 0, sizeof cap);
    HRESULT hr = WHvGetCapability(WHvCapabilityCodeHypervisorPresent, &cap, sizeof cap, &written);
    check(SUCCEEDED(hr) && cap.HypervisorPresent && written == sizeof(BOOL),
          "WHvGetCapability(HypervisorPresent): TRUE, %u bytes", written);
    struct child ch;
    const uint32_t leaves[2] = { 0x1234, 0x40000000 };
    int ok = child_create(&ch, hello_guest, sizeof hello_guest, 1 | 4 /* CPUID, exception */, leaves, 2);
    WHV_PARTITION_PROPERTY prop;
    uint32_t list[4] = { 0 };
    memset(&prop, 0, sizeof prop);
    hr = WHvGetPartitionProperty(ch.part, WHvPartitionPropertyCodeExtendedVmExits, &prop, sizeof prop, &written);
    check(ok && SUCCEEDED(hr) && prop.ExtendedVmExits.AsUINT64 == 5 && written == 8,
          "WHvGetPartitionProperty(ExtendedVmExits) returns what was set (%llx, %u bytes)",
          (unsigned long long)prop.ExtendedVmExits.AsUINT64, written);
    hr = WHvGetPartitionProperty(ch.part, WHvPartitionPropertyCodeCpuidExitList, list, sizeof list, &written);
    check(SUCCEEDED(hr) && written == 8 && list[0] == 0x1234 && list[1] == 0x40000000,
          "WHvGetPartitionProperty(CpuidExitList): 2 leaves, %u bytes", written);
    hr = WHvGetPartitionProperty(ch.part, WHvPartitionPropertyCodeProcessorCount, &prop, 2, &written);
    check(hr == (HRESULT)WHV_E_INSUFFICIENT_BUFFER, "a 2-byte buffer for ProcessorCount: WHV_E_INSUFFICIENT_BUFFER");
    check_msr_exit_bitmap(ch.part);
    check_cpuid_result_list(ch.part);
    child_destroy(&ch);
}

static inline void root_set_xmm5(uint64_t v) { __asm__ volatile("movq %0, %%xmm5" : : "r"(v)); }
static inline uint64_t root_get_xmm5(void) { uint64_t v; __asm__ volatile("movq %%xmm5, %0" : "=r"(v)); return v; }

/* The FPU/SSE state is the partition's own: the VP starts with XMM5 = 0 whatever the root holds, and
 * what the VP writes stays in the VP (read back through the register API), not in the root's XMM5. */
static void check_fpu_isolation(void)
{
    struct child ch;
    int ok = child_create(&ch, xmm_guest, sizeof xmm_guest, 0, 0, 0);
    WHV_REGISTER_VALUE cr4;
    memset(&cr4, 0, sizeof cr4);
    cr4.Reg64 = 0x200;   /* OSFXSR */
    ok = ok && SUCCEEDED(set_reg(&ch, WHvX64RegisterCr4, cr4));
    WHV_RUN_VP_EXIT_CONTEXT x;
    memset(&x, 0, sizeof x);
    root_set_xmm5(0x1122334455667788ull);
    ok = ok && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    uint64_t root_after_first = root_get_xmm5();
    check(ok && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.Rax == 0 &&
          root_after_first == 0x1122334455667788ull,
          "FPU isolation: the VP reads XMM5 = 0 (got 0x%llx), the root keeps its own (0x%llx)",
          (unsigned long long)x.IoPortAccess.Rax, (unsigned long long)root_after_first);
    ok = ok && SUCCEEDED(advance(&ch, &x)) && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    uint64_t root_after_second = root_get_xmm5();
    WHV_REGISTER_NAME name = WHvX64RegisterXmm5;
    WHV_REGISTER_VALUE vp_xmm5;
    memset(&vp_xmm5, 0, sizeof vp_xmm5);
    ok = ok && SUCCEEDED(WHvGetVirtualProcessorRegisters(ch.part, 0, &name, 1, &vp_xmm5));
    check(ok && x.ExitReason == WHvRunVpExitReasonX64Halt && vp_xmm5.Reg128.Low64 == 0x5A5A5A5Aull &&
          root_after_second == 0x1122334455667788ull,
          "FPU isolation: the VP's XMM5 write stays in the VP (0x%llx), the root's XMM5 is unchanged (0x%llx)",
          (unsigned long long)vp_xmm5.Reg128.Low64, (unsigned long long)root_after_second);
    child_destroy(&ch);
}

#define MSR_LSTAR 0xC0000082u

/* The syscall MSRs are the VP's own while it runs and the root's after, including a value the root
 * writes between two Runs: the hypervisor keeps the root's LSTAR across Runs (vmx/vp_switch.h) and must
 * forget it when the root writes it. The firmware makes no SYSCALLs, so the root's LSTAR may change
 * here; it is put back at the end. */
static void check_syscall_msr_isolation(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    WHV_REGISTER_VALUE lstar;
    const uint64_t vp_value = 0x12345000ull, root1 = 0xFFFF800000111000ull, root2 = 0xFFFF800000222000ull;
    memset(&x, 0, sizeof x);
    memset(&lstar, 0, sizeof lstar);
    lstar.Reg64 = vp_value;
    uint64_t saved = rdmsr(MSR_LSTAR);
    int ok = child_create(&ch, lstar_guest, sizeof lstar_guest, 0, 0, 0) &&
             SUCCEEDED(set_reg(&ch, WHvX64RegisterLstar, lstar));
    wrmsr(MSR_LSTAR, root1);
    ok = ok && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    uint64_t vp_read = x.IoPortAccess.Rax, after1 = rdmsr(MSR_LSTAR);
    wrmsr(MSR_LSTAR, root2);
    ok = ok && SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    uint64_t after2 = rdmsr(MSR_LSTAR);
    wrmsr(MSR_LSTAR, saved);
    check(ok && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && (uint32_t)vp_read == (uint32_t)vp_value &&
          after1 == root1 && after2 == root2,
          "syscall MSRs: the VP reads its LSTAR (0x%llx), the root gets back its own after each Run, also one "
          "written between Runs (0x%llx, 0x%llx)", (unsigned long long)vp_read, (unsigned long long)after1,
          (unsigned long long)after2);
    child_destroy(&ch);
}

/* WHV_REGISTER_VALUE.PendingInterruption: bit 0 pending, bits 3:1 type (3 = exception), bit 4 deliver
 * error code, bits 31:16 vector, bits 63:32 error code. */
static uint64_t pending_exception(unsigned vector, int with_error)
{
    return 1 | 3u << 1 | (uint64_t)(with_error ? 1 : 0) << 4 | (uint64_t)vector << 16;
}

/* A pending event no VM entry takes is refused at the Set when no mode takes it (an exception above
 * vector 31, an error code for #DE), and reported as InvalidVpRegisterValue at the Run when the VP's
 * mode decides (#GP's error code in real mode): never a failed VM entry (the Bochs log is checked for
 * VMFAIL), never a stuck VP. */
static void check_pending_event_validation(void)
{
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    WHV_REGISTER_VALUE v;
    memset(&x, 0, sizeof x);
    memset(&v, 0, sizeof v);
    int ok = child_create(&ch, hlt_guest, sizeof hlt_guest, 0, 0, 0);
    v.Reg64 = pending_exception(0, 1);
    HRESULT de_with_error = set_reg(&ch, WHvRegisterPendingInterruption, v);
    v.Reg64 = pending_exception(40, 0);
    HRESULT vector_40 = set_reg(&ch, WHvRegisterPendingInterruption, v);
    check(ok && de_with_error == E_INVALIDARG && vector_40 == E_INVALIDARG,
          "pending event: #DE with an error code and exception vector 40 are E_INVALIDARG at the Set (0x%x, 0x%x)",
          (unsigned)de_with_error, (unsigned)vector_40);
    v.Reg64 = pending_exception(13, 1);
    ok = ok && SUCCEEDED(set_reg(&ch, WHvRegisterPendingInterruption, v)) &&
         SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    WHV_RUN_VP_EXIT_REASON first = x.ExitReason;
    memset(&v, 0, sizeof v);   /* the VMM repairs it: no pending event, and the VP runs */
    ok = ok && SUCCEEDED(set_reg(&ch, WHvRegisterPendingInterruption, v)) &&
         SUCCEEDED(WHvRunVirtualProcessor(ch.part, 0, &x, sizeof x));
    check(ok && first == WHvRunVpExitReasonInvalidVpRegisterValue && x.ExitReason == WHvRunVpExitReasonX64Halt,
          "pending event: #GP with an error code in real mode is InvalidVpRegisterValue at the Run (got 0x%x), "
          "and the VP runs once it is cleared (0x%x)", (unsigned)first, (unsigned)x.ExitReason);
    child_destroy(&ch);
}

void check_partitions(void)
{
    uint64_t before = pool_pages_used();
    check_hello();
    check_io_exit_fields();
    check_memory_access_exit();
    check_cpuid_exit();
    check_cancel();
    check_bad_handles();
    check_guest_memory_calls();
    check_capability_and_properties();
    check_fpu_isolation();
    check_syscall_msr_isolation();
    check_pending_event_validation();
    uint64_t after = pool_pages_used();
    check(after == before, "partitions created and deleted leave the pool as it was (%llu pages before, %llu after)",
          (unsigned long long)before, (unsigned long long)after);
}
