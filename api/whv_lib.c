/* Microsoft's Windows Hypervisor Platform API (api/whv_platform.h) on this hypervisor's partition
 * hypercalls (api/hv_abi.h), for a VMM in the root partition. docs/whv-library.md has the usage, the
 * status mapping, what is not implemented yet, and the threading rules.
 *
 * Every hypercall block lives on the calling thread's stack, aligned to a power of two at least its
 * size: it is then 8-byte aligned and never crosses a page, so it is physically contiguous even where the
 * root's pages are not (an OS root). Nothing is shared between calls, so calls on different threads never
 * wait for each other: a Run may hold its CPU for long, and a Cancel must get through meanwhile. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/hv_abi.h"
#include "api/hv_transport.h"
#include "api/whv_deferred.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"

#define PAGE_SIZE 4096u
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- blocks */

#define BLOCK_ALIGNED(align) __attribute__((aligned(align)))
#define ASSERT_FITS_ALIGNMENT(type, align) \
    _Static_assert(sizeof(type) <= (align) && (align) <= PAGE_SIZE, #type " never crosses a page")

/* The fixed-size blocks: partition, VP, map and unmap inputs, the property-get input. */
#define SMALL_BLOCK BLOCK_ALIGNED(64)
ASSERT_FITS_ALIGNMENT(struct hv_map_gpa_in, 64); /* the largest of them */

struct property_set_block {
    struct hv_property_in head;
    uint8_t value[HV_MAX_BLOCK_BYTES - sizeof(struct hv_property_in)];
} BLOCK_ALIGNED(PAGE_SIZE);

struct property_get_block {
    struct hv_property_out head;
    uint8_t value[HV_MAX_BLOCK_BYTES - sizeof(struct hv_property_out)];
} BLOCK_ALIGNED(PAGE_SIZE);

_Static_assert(sizeof(WHV_REGISTER_NAME) == sizeof(uint32_t), "names travel as UINT32");
_Static_assert(sizeof(WHV_REGISTER_VALUE) == 16, "values travel as 16 bytes");

struct registers_get_in {
    struct hv_vp_registers_in head;
    uint32_t names[HV_MAX_REGISTERS_PER_CALL];
} BLOCK_ALIGNED(512);
ASSERT_FITS_ALIGNMENT(struct registers_get_in, 512);

struct registers_get_out {
    WHV_REGISTER_VALUE values[HV_MAX_REGISTERS_PER_CALL];
} BLOCK_ALIGNED(1024);
ASSERT_FITS_ALIGNMENT(struct registers_get_out, 1024);

/* Names, padding to 16, values: hv_registers_values_offset(HV_MAX_REGISTERS_PER_CALL) + the values. */
#define REGISTERS_SET_BLOCK_BYTES                                                                          \
    (((sizeof(struct hv_vp_registers_in) + HV_MAX_REGISTERS_PER_CALL * sizeof(uint32_t) + 15u) & ~15u) + \
     HV_MAX_REGISTERS_PER_CALL * sizeof(WHV_REGISTER_VALUE))

union registers_set_block {
    struct hv_vp_registers_in head;
    uint8_t bytes[REGISTERS_SET_BLOCK_BYTES];
} BLOCK_ALIGNED(2048);
ASSERT_FITS_ALIGNMENT(union registers_set_block, 2048);

#define EXIT_BLOCK BLOCK_ALIGNED(256)
ASSERT_FITS_ALIGNMENT(WHV_RUN_VP_EXIT_CONTEXT, 256);

/* ---- statuses */

struct status_hresult {
    uint64_t status;
    HRESULT hr;
};

/* docs/whv-library.md shows this table; any other status becomes 0xC0350000 | status. */
static const struct status_hresult status_hresults[] = {
    { HV_STATUS_SUCCESS, S_OK },
    { HV_STATUS_INVALID_PARTITION_ID, E_HANDLE },
    { HV_STATUS_INVALID_VP_INDEX, WHV_E_VP_DOES_NOT_EXIST },
    { HVX_STATUS_VP_ALREADY_EXISTS, WHV_E_VP_ALREADY_EXISTS },
    { HV_STATUS_UNKNOWN_PROPERTY, WHV_E_UNKNOWN_PROPERTY },
    { HVX_STATUS_UNKNOWN_REGISTER_NAME, WHV_E_INVALID_VP_REGISTER_NAME },
    { HV_STATUS_INVALID_VP_STATE, WHV_E_INVALID_VP_STATE },
    { HV_STATUS_INSUFFICIENT_BUFFER, WHV_E_INSUFFICIENT_BUFFER },
    { HV_STATUS_INSUFFICIENT_MEMORY, E_OUTOFMEMORY },
    { HV_STATUS_ACCESS_DENIED, E_ACCESSDENIED },
    { HV_STATUS_INVALID_PARTITION_STATE, WHV_E_INVALID_PARTITION_CONFIG },
    { HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE, E_INVALIDARG },
    { HV_STATUS_INVALID_PARAMETER, E_INVALIDARG },
    { HV_STATUS_INVALID_ALIGNMENT, E_INVALIDARG },
    { HV_STATUS_INVALID_REGISTER_VALUE, E_INVALIDARG },
    { HV_TRANSPORT_STATUS_NOT_PRESENT, ERROR_HV_NOT_PRESENT },
};

static HRESULT hresult_from_status(uint64_t status)
{
    if (status == HV_STATUS_SUCCESS)   /* the common answer, without the table walk */
        return S_OK;
    for (size_t i = 0; i < ARRAY_SIZE(status_hresults); i++)
        if (status_hresults[i].status == status)
            return status_hresults[i].hr;
    if (status > 0xFFFF)
        return E_UNEXPECTED; /* hypervisor statuses are 16 bits: only a broken transport says this */
    return HVX_HRESULT_FROM_HV_STATUS(status);
}

static HRESULT call(uint64_t code, const void *in, void *out)
{
    return hresult_from_status(hv_call(code, in, out));
}

static uint64_t partition_id(WHV_PARTITION_HANDLE partition)
{
    return (uint64_t)(uintptr_t)partition;
}

/* ---- capabilities: answered here, from CPUID and what this hypervisor implements */

static uint64_t supported_extended_exits(void)
{
    WHV_EXTENDED_VM_EXITS exits = { .AsUINT64 = 0 };
    exits.X64CpuidExit = 1;
    exits.X64MsrExit = 1;
    exits.ExceptionExit = 1;
    exits.X64RdtscExit = 1;
    exits.HypercallExit = 1;
    return exits.AsUINT64;
}

static UINT32 physical_address_width(void)
{
    if (cpuid(0x80000000u, 0).eax < 0x80000008u)
        return 36; /* what the architecture implies when the leaf is missing */
    return cpuid(0x80000008u, 0).eax & 0xFF;
}

/* Fills the member of `cap` that `code` names and returns its natural size; 0 for a code not known. */
static UINT32 answer_capability(WHV_CAPABILITY_CODE code, WHV_CAPABILITY *cap)
{
    switch (code) {
    case WHvCapabilityCodeHypervisorPresent:
        cap->HypervisorPresent = hv_is_present();
        return sizeof cap->HypervisorPresent;
    case WHvCapabilityCodeFeatures:
        cap->Features.AsUINT64 = 0; /* no partial unmap, APIC emulation, dirty tracking, ... */
        return sizeof cap->Features;
    case WHvCapabilityCodeExtendedVmExits:
        cap->ExtendedVmExits.AsUINT64 = supported_extended_exits();
        return sizeof cap->ExtendedVmExits;
    case WHvCapabilityCodeExceptionExitBitmap:
        cap->ExceptionExitBitmap = 0xFFFFFFFFu; /* any of the 32 architectural vectors */
        return sizeof cap->ExceptionExitBitmap;
    case WHvCapabilityCodeX64MsrExitBitmap:
        cap->X64MsrExitBitmap.AsUINT64 = 0x3F; /* every bit WHV_X64_MSR_EXIT_BITMAP defines */
        return sizeof cap->X64MsrExitBitmap;
    case WHvCapabilityCodeProcessorVendor:
        cap->ProcessorVendor = WHvProcessorVendorIntel; /* a VT-x hypervisor runs on Intel only */
        return sizeof cap->ProcessorVendor;
    case WHvCapabilityCodePhysicalAddressWidth:
        cap->PhysicalAddressWidth = physical_address_width();
        return sizeof cap->PhysicalAddressWidth;
    default:
        return 0;
    }
}

HRESULT WINAPI WHvGetCapability(WHV_CAPABILITY_CODE CapabilityCode, VOID *CapabilityBuffer,
                                UINT32 CapabilityBufferSizeInBytes, UINT32 *WrittenSizeInBytes)
{
    if (!CapabilityBuffer)
        return E_POINTER;
    WHV_CAPABILITY cap;
    memset(&cap, 0, sizeof cap);
    UINT32 size = answer_capability(CapabilityCode, &cap);
    if (size == 0)
        return WHV_E_UNKNOWN_CAPABILITY;
    if (CapabilityBufferSizeInBytes < size)
        return WHV_E_INSUFFICIENT_BUFFER;
    memcpy(CapabilityBuffer, &cap, size);
    if (WrittenSizeInBytes)
        *WrittenSizeInBytes = size;
    return S_OK;
}

/* ---- partitions */

static HRESULT partition_call(WHV_PARTITION_HANDLE partition, uint64_t code)
{
    if (!partition)
        return E_HANDLE;
    struct hv_partition_in in SMALL_BLOCK = { .partition = partition_id(partition) };
    return call(code, &in, NULL);
}

HRESULT WINAPI WHvCreatePartition(WHV_PARTITION_HANDLE *Partition)
{
    if (!Partition)
        return E_POINTER;
    struct hv_partition_out out SMALL_BLOCK = { .partition = 0 };
    HRESULT hr = call(HVCALL_CREATE_PARTITION, NULL, &out);
    if (FAILED(hr))
        return hr;
    if (out.partition == 0)
        return E_UNEXPECTED; /* ids are never 0, and a NULL handle would read as "no partition" */
    *Partition = (WHV_PARTITION_HANDLE)(uintptr_t)out.partition;
    return S_OK;
}

HRESULT WINAPI WHvSetupPartition(WHV_PARTITION_HANDLE Partition)
{
    return partition_call(Partition, HVCALL_SETUP_PARTITION);
}

HRESULT WINAPI WHvDeletePartition(WHV_PARTITION_HANDLE Partition)
{
    whv_deferred_forget_partition(partition_id(Partition));
    return partition_call(Partition, HVCALL_DELETE_PARTITION);
}

/* ---- partition properties: code, size and value go through; the hypervisor knows the natural sizes */

HRESULT WINAPI WHvSetPartitionProperty(WHV_PARTITION_HANDLE Partition, WHV_PARTITION_PROPERTY_CODE PropertyCode,
                                       const VOID *PropertyBuffer, UINT32 PropertyBufferSizeInBytes)
{
    if (!Partition)
        return E_HANDLE;
    if (!PropertyBuffer)
        return E_POINTER;
    struct property_set_block block;
    if (PropertyBufferSizeInBytes > sizeof block.value)
        return E_INVALIDARG; /* refused, not cut: a cut list property would lose entries silently */
    block.head = (struct hv_property_in){
        .partition = partition_id(Partition), .code = PropertyCode, .size = PropertyBufferSizeInBytes,
    };
    memcpy(block.value, PropertyBuffer, PropertyBufferSizeInBytes);
    return call(HVCALL_SET_PARTITION_PROPERTY, &block, NULL);
}

HRESULT WINAPI WHvGetPartitionProperty(WHV_PARTITION_HANDLE Partition, WHV_PARTITION_PROPERTY_CODE PropertyCode,
                                       VOID *PropertyBuffer, UINT32 PropertyBufferSizeInBytes,
                                       UINT32 *WrittenSizeInBytes)
{
    if (!Partition)
        return E_HANDLE;
    if (!PropertyBuffer)
        return E_POINTER;
    struct property_get_block out;
    /* No value fills more than one block, so a larger buffer is announced as one block. */
    UINT32 capacity = MIN(PropertyBufferSizeInBytes, (UINT32)sizeof out.value);
    struct hv_property_in in SMALL_BLOCK = {
        .partition = partition_id(Partition), .code = PropertyCode, .size = capacity,
    };
    out.head.written = 0; /* a hypervisor that leaves it unwritten yields an empty value, not stack bytes */
    HRESULT hr = call(HVCALL_GET_PARTITION_PROPERTY, &in, &out);
    if (FAILED(hr))
        return hr;
    if (out.head.written > capacity)
        return E_UNEXPECTED; /* never overrun the caller's buffer, whatever the hypervisor claims */
    memcpy(PropertyBuffer, out.value, out.head.written);
    if (WrittenSizeInBytes)
        *WrittenSizeInBytes = out.head.written;
    return S_OK;
}

/* ---- guest physical memory */

static bool page_aligned(uint64_t value)
{
    return (value & (PAGE_SIZE - 1)) == 0;
}

/* Whole pages, not empty, not wrapping: the only ranges the hypervisor maps. */
static bool is_page_range(uint64_t start, uint64_t size)
{
    return size != 0 && page_aligned(start) && page_aligned(size) && start + size > start;
}

static HRESULT map_run(uint64_t partition, uint64_t source_gpa, uint64_t gpa, uint64_t size, UINT32 flags)
{
    struct hv_map_gpa_in in SMALL_BLOCK = {
        .partition = partition, .source = source_gpa, .gpa = gpa, .size = size, .flags = flags,
    };
    return call(HVCALL_MAP_GPA_RANGE, &in, NULL);
}

static HRESULT unmap_range(uint64_t partition, uint64_t gpa, uint64_t size)
{
    struct hv_unmap_gpa_in in SMALL_BLOCK = { .partition = partition, .gpa = gpa, .size = size };
    return call(HVCALL_UNMAP_GPA_RANGE, &in, NULL);
}

/* Bytes from `source` on (whole pages, at most `limit`) whose root GPAs run on from `first_gpa`. */
static uint64_t contiguous_bytes(const uint8_t *source, uint64_t first_gpa, uint64_t limit)
{
    uint64_t length = PAGE_SIZE;
    while (length < limit && hv_address_to_gpa(source + length) == first_gpa + length)
        length += PAGE_SIZE;
    return length;
}

/* One map call per physically contiguous run of the source (a single one where the root is identity
 * mapped). All or nothing, like a single call: a failure unmaps the runs already mapped. */
static HRESULT map_contiguous_runs(uint64_t partition, const uint8_t *source, uint64_t gpa, uint64_t size,
                                   UINT32 flags)
{
    uint64_t done = 0;
    HRESULT hr = S_OK;
    while (done < size && SUCCEEDED(hr)) {
        uint64_t run_gpa = hv_address_to_gpa(source + done);
        if (run_gpa == HV_GPA_INVALID) {
            hr = E_INVALIDARG; /* source memory the root cannot name */
            break;
        }
        uint64_t run = contiguous_bytes(source + done, run_gpa, size - done);
        hr = map_run(partition, run_gpa, gpa + done, run, flags);
        if (SUCCEEDED(hr))
            done += run;
    }
    if (FAILED(hr) && done != 0)
        unmap_range(partition, gpa, done);
    return hr;
}

HRESULT WINAPI WHvMapGpaRange(WHV_PARTITION_HANDLE Partition, VOID *SourceAddress,
                              WHV_GUEST_PHYSICAL_ADDRESS GuestAddress, UINT64 SizeInBytes,
                              WHV_MAP_GPA_RANGE_FLAGS Flags)
{
    if (!Partition)
        return E_HANDLE;
    if (!SourceAddress)
        return E_POINTER;
    if (!is_page_range((uintptr_t)SourceAddress, SizeInBytes) || !is_page_range(GuestAddress, SizeInBytes))
        return E_INVALIDARG;
    return map_contiguous_runs(partition_id(Partition), SourceAddress, GuestAddress, SizeInBytes, Flags);
}

HRESULT WINAPI WHvUnmapGpaRange(WHV_PARTITION_HANDLE Partition, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                UINT64 SizeInBytes)
{
    if (!Partition)
        return E_HANDLE;
    if (!is_page_range(GuestAddress, SizeInBytes))
        return E_INVALIDARG;
    return unmap_range(partition_id(Partition), GuestAddress, SizeInBytes);
}

/* ---- virtual processors */

static HRESULT vp_call(WHV_PARTITION_HANDLE partition, UINT32 vp, UINT32 flags, uint64_t code, void *out)
{
    struct hv_vp_in in SMALL_BLOCK = { .partition = partition_id(partition), .vp = vp, .flags = flags };
    return call(code, &in, out);
}

HRESULT WINAPI WHvCreateVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, UINT32 Flags)
{
    if (!Partition)
        return E_HANDLE;
    return vp_call(Partition, VpIndex, Flags, HVCALL_CREATE_VP, NULL);
}

HRESULT WINAPI WHvDeleteVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex)
{
    if (!Partition)
        return E_HANDLE;
    whv_deferred_disarm(partition_id(Partition), VpIndex);   /* held writes die with the VP */
    return vp_call(Partition, VpIndex, 0, HVCALL_DELETE_VP, NULL);
}

HRESULT WINAPI WHvCancelRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, UINT32 Flags)
{
    if (!Partition)
        return E_HANDLE;
    return vp_call(Partition, VpIndex, Flags, HVCALL_CANCEL_RUN_VP, NULL);
}

static void copy_exit_context(void *dst, const void *src, size_t n)
{
    size_t words = n / 8, tail = n % 8;
    __asm__ volatile("rep movsq; mov %3, %%rcx; rep movsb"
                     : "+D"(dst), "+S"(src), "+c"(words) : "r"(tail) : "memory");
}

static HRESULT set_registers_call(WHV_PARTITION_HANDLE partition, UINT32 vp, const WHV_REGISTER_NAME *names,
                                  UINT32 count, const WHV_REGISTER_VALUE *values, uint64_t code, void *out);

/* HVCALL_SET_REGISTERS_AND_RUN_VP's block for the held writes: at most HV_RUN_REGISTERS_MAX, so a
 * small block, filled by word (this is the VMM loop's path; libefi's memcpy goes byte by byte). */
union run_registers_block {
    struct hv_vp_registers_in head;
    uint64_t words[(16 + (HV_RUN_REGISTERS_MAX * 4 + 15) / 16 * 16 + HV_RUN_REGISTERS_MAX * 16) / 8];
} BLOCK_ALIGNED(512);
ASSERT_FITS_ALIGNMENT(union run_registers_block, 512);

static HRESULT run_with_writes(WHV_PARTITION_HANDLE partition, UINT32 vp, const struct whv_deferred_writes *w,
                               WHV_RUN_VP_EXIT_CONTEXT *exit)
{
    union run_registers_block block;
    block.head = (struct hv_vp_registers_in){ .partition = partition_id(partition), .vp = vp, .count = w->count };
    uint32_t *names = (uint32_t *)(block.words + 2);
    uint32_t values_offset = hv_registers_values_offset(w->count);
    for (uint32_t i = 0; i < (values_offset - 16) / 4; i++)   /* names, then zeros up to the values */
        names[i] = i < w->count ? w->names[i] : 0;
    uint64_t *values = block.words + values_offset / 8;
    for (uint32_t i = 0; i < w->count; i++) {
        values[2 * i] = w->values[i].Reg128.Low64;
        values[2 * i + 1] = w->values[i].Reg128.High64;
    }
    return call(HVCALL_SET_REGISTERS_AND_RUN_VP, &block, exit);
}

_Static_assert(WHvX64RegisterRax == 0 && WHvX64RegisterR15 == 15 && WHvX64RegisterRip == 16,
               "hv_run_register_name_ok's numbers");

/* Writes held for (partition, vp) go out now, before a call that could observe them. On failure the VP's
 * state is unknown to the library: nothing more is held for it until its next successful Run. */
static HRESULT flush_held_writes(WHV_PARTITION_HANDLE partition, UINT32 vp)
{
    struct whv_deferred_writes held;
    uint32_t n = whv_deferred_take_for_flush(partition_id(partition), vp, &held);
    if (n == 0)
        return S_OK;
    HRESULT hr = set_registers_call(partition, vp, (const WHV_REGISTER_NAME *)held.names, n, held.values,
                                    HVCALL_SET_VP_REGISTERS, NULL);
    if (FAILED(hr))
        whv_deferred_disarm(partition_id(partition), vp);
    return hr;
}

HRESULT WINAPI WHvRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, VOID *ExitContext,
                                      UINT32 ExitContextSizeInBytes)
{
    if (!Partition)
        return E_HANDLE;
    if (!ExitContext)
        return E_POINTER;
    if (ExitContextSizeInBytes < WHV_RUN_VP_EXIT_CONTEXT_LEGACY_SIZE)
        return WHV_E_INSUFFICIENT_BUFFER;
    /* No pre-zeroing: on success the hypervisor writes all 224 bytes (docs/hypercall-abi.md). This is
     * the VMM's hottest call: the copy is by qwords (libefi's memcpy goes byte by byte). */
    WHV_RUN_VP_EXIT_CONTEXT exit EXIT_BLOCK;
    /* Writes held since the last Run (whv_deferred.h) ride along: one hypercall for the VMM loop. If the
     * call fails they were not made (the hypervisor checks everything first) and are dropped, as the VP
     * is not in a state where they could be (docs/whv-library.md). */
    struct whv_deferred_writes held;
    uint32_t n = whv_deferred_take_for_run(partition_id(Partition), VpIndex, &held);
    HRESULT hr = n ? run_with_writes(Partition, VpIndex, &held, &exit)
                   : vp_call(Partition, VpIndex, 0, HVCALL_RUN_VP, &exit);
    if (SUCCEEDED(hr)) {
        copy_exit_context(ExitContext, &exit, MIN(ExitContextSizeInBytes, (UINT32)sizeof exit));
        whv_deferred_arm(partition_id(Partition), VpIndex);
    }
    return hr;
}

/* ---- registers: at most HV_MAX_REGISTERS_PER_CALL a call */

static UINT32 registers_in_next_call(UINT32 remaining)
{
    return MIN(remaining, (UINT32)HV_MAX_REGISTERS_PER_CALL);
}

static struct hv_vp_registers_in registers_head(WHV_PARTITION_HANDLE partition, UINT32 vp, UINT32 count)
{
    return (struct hv_vp_registers_in){ .partition = partition_id(partition), .vp = vp, .count = count };
}

static HRESULT get_registers_call(WHV_PARTITION_HANDLE partition, UINT32 vp, const WHV_REGISTER_NAME *names,
                                  UINT32 count, WHV_REGISTER_VALUE *values)
{
    struct registers_get_in in;
    in.head = registers_head(partition, vp, count);
    memcpy(in.names, names, count * sizeof *names);
    struct registers_get_out out;
    memset(out.values, 0, count * sizeof *values); /* bytes the hypervisor leaves alone read as zeros */
    HRESULT hr = call(HVCALL_GET_VP_REGISTERS, &in, &out);
    if (SUCCEEDED(hr))
        memcpy(values, out.values, count * sizeof *values);
    return hr;
}

static HRESULT set_registers_call(WHV_PARTITION_HANDLE partition, UINT32 vp, const WHV_REGISTER_NAME *names,
                                  UINT32 count, const WHV_REGISTER_VALUE *values, uint64_t code, void *out)
{
    union registers_set_block block;
    block.head = registers_head(partition, vp, count);
    size_t names_end = sizeof block.head + count * sizeof *names;
    size_t values_offset = hv_registers_values_offset(count);
    memcpy(block.bytes + sizeof block.head, names, count * sizeof *names);
    memset(block.bytes + names_end, 0, values_offset - names_end); /* the padding, never stack bytes */
    memcpy(block.bytes + values_offset, values, count * sizeof *values);
    return call(code, &block, out);
}

/* Zero registers is a complete request: S_OK without a hypercall, as a rep hypercall with count 0. */
HRESULT WINAPI WHvGetVirtualProcessorRegisters(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex,
                                               const WHV_REGISTER_NAME *RegisterNames, UINT32 RegisterCount,
                                               WHV_REGISTER_VALUE *RegisterValues)
{
    if (!Partition)
        return E_HANDLE;
    if (RegisterCount != 0 && (!RegisterNames || !RegisterValues))
        return E_POINTER;
    HRESULT hr = flush_held_writes(Partition, VpIndex);
    for (UINT32 done = 0, n; done < RegisterCount && SUCCEEDED(hr); done += n) {
        n = registers_in_next_call(RegisterCount - done);
        hr = get_registers_call(Partition, VpIndex, RegisterNames + done, n, RegisterValues + done);
    }
    return hr;
}

HRESULT WINAPI WHvSetVirtualProcessorRegisters(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex,
                                               const WHV_REGISTER_NAME *RegisterNames, UINT32 RegisterCount,
                                               const WHV_REGISTER_VALUE *RegisterValues)
{
    if (!Partition)
        return E_HANDLE;
    if (RegisterCount != 0 && (!RegisterNames || !RegisterValues))
        return E_POINTER;
    /* RIP and GPRs of a VP that last returned from a Run wait for its next Run (whv_deferred.h). */
    if (whv_deferred_add(partition_id(Partition), VpIndex, RegisterNames, RegisterCount, RegisterValues))
        return S_OK;
    HRESULT hr = flush_held_writes(Partition, VpIndex);   /* earlier writes first */
    for (UINT32 done = 0, n; done < RegisterCount && SUCCEEDED(hr); done += n) {
        n = registers_in_next_call(RegisterCount - done);
        hr = set_registers_call(Partition, VpIndex, RegisterNames + done, n, RegisterValues + done,
                                HVCALL_SET_VP_REGISTERS, NULL);
    }
    if (FAILED(hr))
        whv_deferred_disarm(partition_id(Partition), VpIndex);
    return hr;
}

/* ---- not backed by a hypercall yet (docs/whv-library.md) */

HRESULT WINAPI WHvResetPartition(WHV_PARTITION_HANDLE Partition)
{
    (void)Partition;
    return E_NOTIMPL;
}

HRESULT WINAPI WHvTranslateGva(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_VIRTUAL_ADDRESS Gva,
                               WHV_TRANSLATE_GVA_FLAGS TranslateFlags, WHV_TRANSLATE_GVA_RESULT *TranslationResult,
                               WHV_GUEST_PHYSICAL_ADDRESS *Gpa)
{
    if (!Partition)
        return E_HANDLE;
    if (!TranslationResult || !Gpa)
        return E_POINTER;
    struct hv_translate_gva_in in SMALL_BLOCK = {
        .partition = partition_id(Partition), .vp = VpIndex, .flags = (uint32_t)TranslateFlags, .gva = Gva,
    };
    struct hv_translate_gva_out out SMALL_BLOCK = { 0, 0, 0 };
    HRESULT hr = flush_held_writes(Partition, VpIndex);   /* the walk reads the VP's state as it is now */
    if (SUCCEEDED(hr))
        hr = call(HVCALL_TRANSLATE_GVA, &in, &out);
    if (SUCCEEDED(hr)) {
        memset(TranslationResult, 0, sizeof *TranslationResult);
        TranslationResult->ResultCode = (WHV_TRANSLATE_GVA_RESULT_CODE)out.result_code;
        *Gpa = out.gpa;
    }
    return hr;
}

/* ---- guest memory: HV_MAX_GPA_ACCESS_BYTES a call */

struct gpa_access_block {
    struct hv_gpa_access_in head;
    uint8_t data[HV_MAX_GPA_ACCESS_BYTES];
} BLOCK_ALIGNED(2048);
ASSERT_FITS_ALIGNMENT(struct gpa_access_block, 2048);

static HRESULT gpa_access(WHV_PARTITION_HANDLE partition, UINT32 vp, uint64_t gpa, uint8_t *data, UINT32 size,
                          bool write)
{
    if (!partition)
        return E_HANDLE;
    if (!data)
        return E_POINTER;
    if (size == 0 || gpa > UINT64_MAX - size)
        return E_INVALIDARG;
    for (UINT32 done = 0; done < size;) {
        UINT32 n = MIN(size - done, (UINT32)HV_MAX_GPA_ACCESS_BYTES);
        struct gpa_access_block in;
        in.head = (struct hv_gpa_access_in){ .partition = partition_id(partition), .vp = vp, .size = n, .gpa = gpa + done };
        HRESULT hr;
        if (write) {
            memcpy(in.data, data + done, n);
            hr = call(HVCALL_WRITE_GPA, &in, NULL);
        } else {
            uint8_t out[HV_MAX_GPA_ACCESS_BYTES] BLOCK_ALIGNED(HV_MAX_GPA_ACCESS_BYTES);
            hr = call(HVCALL_READ_GPA, &in.head, out);
            if (SUCCEEDED(hr))
                memcpy(data + done, out, n);
        }
        if (FAILED(hr))
            return hr;
        done += n;
    }
    return S_OK;
}

HRESULT WINAPI WHvReadGpaRange(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                               WHV_ACCESS_GPA_CONTROLS Controls, VOID *Data, UINT32 DataSizeInBytes)
{
    (void)Controls;   /* cache type and VTL: the hypervisor accesses guest memory write-back, VTL 0 */
    return gpa_access(Partition, VpIndex, GuestAddress, Data, DataSizeInBytes, false);
}

HRESULT WINAPI WHvWriteGpaRange(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                WHV_ACCESS_GPA_CONTROLS Controls, const VOID *Data, UINT32 DataSizeInBytes)
{
    (void)Controls;
    return gpa_access(Partition, VpIndex, GuestAddress, (uint8_t *)(uintptr_t)Data, DataSizeInBytes, true);
}

HRESULT WINAPI WHvQueryGpaRangeDirtyBitmap(WHV_PARTITION_HANDLE Partition, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                           UINT64 RangeSizeInBytes, UINT64 *Bitmap, UINT32 BitmapSizeInBytes)
{
    (void)Partition;
    (void)GuestAddress;
    (void)RangeSizeInBytes;
    (void)Bitmap;
    (void)BitmapSizeInBytes;
    return E_NOTIMPL;
}

HRESULT WINAPI WHvRequestInterrupt(WHV_PARTITION_HANDLE Partition, const WHV_INTERRUPT_CONTROL *Interrupt,
                                   UINT32 InterruptControlSize)
{
    (void)Partition;
    (void)Interrupt;
    (void)InterruptControlSize;
    return E_NOTIMPL;
}
