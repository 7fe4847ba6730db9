/* The WHV library (api/whv_lib.c) over a fake hypervisor installed as its transport: the byte layout of
 * every block against api/hv_abi.h, the argument checks made before any hypercall, the exit-buffer and
 * property size rules, register calls split at HV_MAX_REGISTERS_PER_CALL, map calls split at physically
 * discontiguous source pages, and every row of the status -> HRESULT table against the values of
 * docs/whv-abi-facts.md (written here as literals, so a wrong constant fails too). */
#include "check.h"
#include "api/hv_abi.h"
#include "api/hv_transport.h"
#include "api/whv_deferred.h"
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define PAGE 4096u

/* HRESULTs are negative INT32s: compare them as UINT32 so a literal like 0x80070057 matches. */
#define CHECK_HR(expr, expected) CHECK_EQ((uint32_t)(expr), (uint32_t)(expected))

static size_t first_difference(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return i;
    return n;
}

/* On failure prints the offset of the first differing byte. */
#define CHECK_BYTES(actual, expected, n) CHECK_EQ(first_difference((actual), (expected), (n)), (n))

static void put32(uint8_t *block, size_t offset, uint32_t v) { memcpy(block + offset, &v, sizeof v); }
static void put64(uint8_t *block, size_t offset, uint64_t v) { memcpy(block + offset, &v, sizeof v); }
static uint32_t get32(const uint8_t *block, size_t offset) { uint32_t v; memcpy(&v, block + offset, sizeof v); return v; }

static uint64_t handle_id(WHV_PARTITION_HANDLE p) { return (uint64_t)(uintptr_t)p; }

/* ------------------------------------------------------------------------------------------------
 * The fake hypervisor: partitions with VPs, a few properties, registers, a canned exit. It records the
 * first FAKE_LOG calls (code, GPAs, copies of the blocks) and checks every block's placement.
 * ---------------------------------------------------------------------------------------------- */

#define FAKE_LOG 8
#define FAKE_PARTITIONS 4
#define FAKE_REGISTER_NAMES 256 /* the fake knows register names 0 .. 255 */
#define FAKE_LIST_MAX 64        /* bytes of CpuidExitList it keeps */
#define FAKE_FIRST_ID 0x5000

struct fake_call {
    uint64_t code, in_gpa, out_gpa;
    const void *in;
    void *out;
    size_t in_len, out_len;
    uint8_t in_bytes[HV_MAX_BLOCK_BYTES];
    uint8_t out_bytes[HV_MAX_BLOCK_BYTES];
};

struct fake_partition {
    uint64_t id; /* 0: slot free */
    bool vp_exists[HV_MAX_VPS_PER_PARTITION];
    uint64_t extended_exits;
    uint32_t processor_count;
    uint8_t cpuid_exit_list[FAKE_LIST_MAX];
    uint32_t cpuid_exit_list_bytes;
    WHV_REGISTER_VALUE registers[FAKE_REGISTER_NAMES];
};

static struct {
    int calls;
    struct fake_call log[FAKE_LOG];
    struct fake_call overflow; /* calls past the log */
    int bad_blocks;            /* blocks misaligned, crossing a page, or with a wrong GPA */
    bool force;                /* answer every call with forced_status */
    uint64_t forced_status;
    int fail_call;             /* 1-based number of the call answered with fail_status; 0: none */
    uint64_t fail_status;
    uint32_t claim_written;    /* nonzero: GET_PARTITION_PROPERTY claims this many bytes */
    uint64_t next_id;
    struct fake_partition partitions[FAKE_PARTITIONS];
} fake;

static struct hv_vp_registers_in registers_head(const void *in)
{
    struct hv_vp_registers_in h;
    memcpy(&h, in, sizeof h);
    return h;
}

static struct hv_property_in property_head(const void *in)
{
    struct hv_property_in h;
    memcpy(&h, in, sizeof h);
    return h;
}

/* How long the input block of `code` is, as the hypervisor works it out from the block's header. */
static size_t input_length(uint64_t code, const void *in)
{
    switch (code) {
    case HVCALL_DELETE_PARTITION:
    case HVCALL_SETUP_PARTITION:
        return sizeof(struct hv_partition_in);
    case HVCALL_SET_PARTITION_PROPERTY:
        return sizeof(struct hv_property_in) + property_head(in).size;
    case HVCALL_GET_PARTITION_PROPERTY:
        return sizeof(struct hv_property_in);
    case HVCALL_MAP_GPA_RANGE:
        return sizeof(struct hv_map_gpa_in);
    case HVCALL_UNMAP_GPA_RANGE:
        return sizeof(struct hv_unmap_gpa_in);
    case HVCALL_CREATE_VP:
    case HVCALL_DELETE_VP:
    case HVCALL_RUN_VP:
    case HVCALL_CANCEL_RUN_VP:
        return sizeof(struct hv_vp_in);
    case HVCALL_GET_VP_REGISTERS:
        return sizeof(struct hv_vp_registers_in) + registers_head(in).count * 4u;
    case HVCALL_SET_VP_REGISTERS:
    case HVCALL_SET_REGISTERS_AND_RUN_VP:
        return hv_registers_values_offset(registers_head(in).count) + registers_head(in).count * 16u;
    case HVCALL_TRANSLATE_GVA:
        return sizeof(struct hv_translate_gva_in);
    case HVCALL_READ_GPA:
        return sizeof(struct hv_gpa_access_in);
    case HVCALL_WRITE_GPA: {
        struct hv_gpa_access_in a;
        memcpy(&a, in, sizeof a);
        return sizeof a + a.size;
    }
    default:
        return 0;
    }
}

static size_t power_of_two_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* A block the hypervisor would accept (present exactly when it has a length, 8-byte aligned, inside one
 * page, named by the GPA the installed translation gives), placed by the library's rule: aligned to a
 * power of two at least its length. That rule keeps it inside one page wherever the stack happens to
 * be, so checking it catches a misplaced block on every run, not only when it happens to straddle. */
static void check_block(const void *block, uint64_t gpa, size_t len)
{
    bool ok = len == 0 ? block == NULL && gpa == 0
                       : block != NULL && gpa == hv_address_to_gpa(block) && len <= HV_MAX_BLOCK_BYTES &&
                             (uintptr_t)block % HV_BLOCK_ALIGN == 0 &&
                             (uintptr_t)block % power_of_two_at_least(len) == 0 &&
                             (uintptr_t)block % PAGE + len <= PAGE;
    if (!ok)
        fake.bad_blocks++;
}

static struct fake_partition *find_partition(uint64_t id)
{
    for (int i = 0; i < FAKE_PARTITIONS; i++)
        if (id != 0 && fake.partitions[i].id == id)
            return &fake.partitions[i];
    return NULL;
}

static uint64_t create_partition(void *out, size_t *out_len)
{
    for (int i = 0; i < FAKE_PARTITIONS; i++) {
        struct fake_partition *p = &fake.partitions[i];
        if (p->id == 0) {
            memset(p, 0, sizeof *p);
            p->id = fake.next_id++;
            struct hv_partition_out o = { .partition = p->id };
            memcpy(out, &o, sizeof o);
            *out_len = sizeof o;
            return HV_STATUS_SUCCESS;
        }
    }
    return HV_STATUS_INSUFFICIENT_MEMORY;
}

/* The fake's properties and their natural sizes: two fixed, one list of UINT32 leaves. */
static uint64_t set_property(struct fake_partition *p, const uint8_t *in)
{
    struct hv_property_in h = property_head(in);
    const uint8_t *value = in + sizeof h;
    switch (h.code) {
    case WHvPartitionPropertyCodeExtendedVmExits:
        if (h.size < sizeof p->extended_exits)
            return HV_STATUS_INSUFFICIENT_BUFFER;
        memcpy(&p->extended_exits, value, sizeof p->extended_exits);
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeProcessorCount:
        if (h.size < sizeof p->processor_count)
            return HV_STATUS_INSUFFICIENT_BUFFER;
        memcpy(&p->processor_count, value, sizeof p->processor_count);
        return HV_STATUS_SUCCESS;
    case WHvPartitionPropertyCodeCpuidExitList:
        if (h.size % 4 != 0 || h.size > FAKE_LIST_MAX)
            return HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE;
        memcpy(p->cpuid_exit_list, value, h.size);
        p->cpuid_exit_list_bytes = h.size;
        return HV_STATUS_SUCCESS;
    default:
        return HV_STATUS_UNKNOWN_PROPERTY;
    }
}

static uint64_t get_property(struct fake_partition *p, const void *in, uint8_t *out, size_t *out_len)
{
    struct hv_property_in h = property_head(in);
    const void *value;
    uint32_t natural;
    switch (h.code) {
    case WHvPartitionPropertyCodeExtendedVmExits:
        value = &p->extended_exits, natural = sizeof p->extended_exits;
        break;
    case WHvPartitionPropertyCodeProcessorCount:
        value = &p->processor_count, natural = sizeof p->processor_count;
        break;
    case WHvPartitionPropertyCodeCpuidExitList:
        value = p->cpuid_exit_list, natural = p->cpuid_exit_list_bytes;
        break;
    default:
        return HV_STATUS_UNKNOWN_PROPERTY;
    }
    if (h.size < natural)
        return HV_STATUS_INSUFFICIENT_BUFFER;
    struct hv_property_out o = { .written = fake.claim_written ? fake.claim_written : natural };
    memcpy(out, &o, sizeof o);
    memcpy(out + sizeof o, value, natural);
    *out_len = sizeof o + natural;
    return HV_STATUS_SUCCESS;
}

/* The exit every run reports: a byte pattern (so a copy can be checked byte by byte) that starts with
 * ExitReason = X64Halt. */
static void canned_exit(uint8_t bytes[sizeof(WHV_RUN_VP_EXIT_CONTEXT)])
{
    for (size_t i = 0; i < sizeof(WHV_RUN_VP_EXIT_CONTEXT); i++)
        bytes[i] = (uint8_t)(i * 7 + 3);
    put32(bytes, 0, WHvRunVpExitReasonX64Halt);
}

/* The value the fake holds for a register nobody set: derived from the name. */
static WHV_REGISTER_VALUE default_register(uint32_t name)
{
    WHV_REGISTER_VALUE v;
    v.Reg128.Low64 = 0x1111111111111111ull * (name + 1);
    v.Reg128.High64 = ~(uint64_t)name;
    return v;
}

static uint64_t registers_call(struct fake_partition *p, uint64_t code, const uint8_t *in, uint8_t *out,
                               size_t *out_len)
{
    struct hv_vp_registers_in h = registers_head(in);
    if (h.count == 0 || h.count > HV_MAX_REGISTERS_PER_CALL)
        return HV_STATUS_INVALID_PARAMETER;
    const uint8_t *names = in + sizeof h;
    const uint8_t *values = in + hv_registers_values_offset(h.count);
    for (uint32_t i = 0; i < h.count; i++) {
        uint32_t name;
        memcpy(&name, names + 4 * i, 4);
        if (name >= FAKE_REGISTER_NAMES)
            return HVX_STATUS_UNKNOWN_REGISTER_NAME;
        if (code == HVCALL_SET_VP_REGISTERS)
            memcpy(&p->registers[name], values + 16 * i, 16);
        else
            memcpy(out + 16 * i, &p->registers[name], 16);
    }
    *out_len = code == HVCALL_GET_VP_REGISTERS ? h.count * 16u : 0;
    return HV_STATUS_SUCCESS;
}

/* Translation answer: GPA = GVA + 0x100000, result Success unless the GVA is 0 (PageNotPresent). */
static uint64_t fake_translate(const void *in, void *out, size_t *out_len)
{
    struct hv_translate_gva_in a;
    memcpy(&a, in, sizeof a);
    struct hv_translate_gva_out o = { a.gva ? 0u : 1u, 0, a.gva ? a.gva + 0x100000 : 0 };
    memcpy(out, &o, sizeof o);
    *out_len = sizeof o;
    return HV_STATUS_SUCCESS;
}

/* Guest memory reads as the low byte of each address. */
static uint64_t fake_read_gpa(const void *in, uint8_t *out, size_t *out_len)
{
    struct hv_gpa_access_in a;
    memcpy(&a, in, sizeof a);
    for (uint32_t i = 0; i < a.size; i++)
        out[i] = (uint8_t)(a.gpa + i);
    *out_len = a.size;
    return HV_STATUS_SUCCESS;
}

static uint64_t vp_call(struct fake_partition *p, uint64_t code, const void *in, void *out, size_t *out_len)
{
    struct hv_vp_in v;
    memcpy(&v, in, sizeof v);
    if (v.vp >= HV_MAX_VPS_PER_PARTITION)
        return HV_STATUS_INVALID_VP_INDEX;
    bool *exists = &p->vp_exists[v.vp];
    if (code == HVCALL_CREATE_VP) {
        if (*exists)
            return HVX_STATUS_VP_ALREADY_EXISTS;
        return *exists = true, HV_STATUS_SUCCESS;
    }
    if (!*exists)
        return HV_STATUS_INVALID_VP_INDEX;
    if (code == HVCALL_DELETE_VP)
        *exists = false;
    if (code == HVCALL_RUN_VP) {
        canned_exit(out);
        *out_len = sizeof(WHV_RUN_VP_EXIT_CONTEXT);
    }
    return HV_STATUS_SUCCESS;
}

/* As the hypervisor: every name checked and the VP claimed before a register changes, then the Run. */
static uint64_t set_and_run(struct fake_partition *p, const uint8_t *in, void *out, size_t *out_len)
{
    struct hv_vp_registers_in h = registers_head(in);
    if (h.count == 0 || h.count > HV_RUN_REGISTERS_MAX)
        return HV_STATUS_INVALID_PARAMETER;
    for (uint32_t i = 0; i < h.count; i++) {
        uint32_t name;
        memcpy(&name, in + sizeof h + 4 * i, 4);
        if (!hv_run_register_name_ok(name))
            return HV_STATUS_INVALID_PARAMETER;
    }
    if (h.vp >= HV_MAX_VPS_PER_PARTITION || !p->vp_exists[h.vp])
        return HV_STATUS_INVALID_VP_INDEX;
    size_t none;
    registers_call(p, HVCALL_SET_VP_REGISTERS, in, NULL, &none);
    canned_exit(out);
    *out_len = sizeof(WHV_RUN_VP_EXIT_CONTEXT);
    return HV_STATUS_SUCCESS;
}

static uint64_t serve(uint64_t code, const void *in, void *out, size_t *out_len)
{
    if (code == HVCALL_CREATE_PARTITION)
        return create_partition(out, out_len);
    uint64_t id;
    memcpy(&id, in, sizeof id); /* every other input starts with the partition id */
    struct fake_partition *p = find_partition(id);
    if (!p)
        return HV_STATUS_INVALID_PARTITION_ID;
    switch (code) {
    case HVCALL_DELETE_PARTITION:
        p->id = 0;
        return HV_STATUS_SUCCESS;
    case HVCALL_SETUP_PARTITION:
    case HVCALL_MAP_GPA_RANGE:
    case HVCALL_UNMAP_GPA_RANGE:
        return HV_STATUS_SUCCESS;
    case HVCALL_SET_PARTITION_PROPERTY:
        return set_property(p, in);
    case HVCALL_GET_PARTITION_PROPERTY:
        return get_property(p, in, out, out_len);
    case HVCALL_GET_VP_REGISTERS:
    case HVCALL_SET_VP_REGISTERS:
        return registers_call(p, code, in, out, out_len);
    case HVCALL_SET_REGISTERS_AND_RUN_VP:
        return set_and_run(p, in, out, out_len);
    case HVCALL_TRANSLATE_GVA:
        return fake_translate(in, out, out_len);
    case HVCALL_READ_GPA:
        return fake_read_gpa(in, out, out_len);
    case HVCALL_WRITE_GPA:
        return HV_STATUS_SUCCESS;
    default:
        return vp_call(p, code, in, out, out_len);
    }
}

static uint64_t fake_transport(uint64_t code, const void *in, uint64_t in_gpa, void *out, uint64_t out_gpa)
{
    int n = fake.calls++;
    struct fake_call *rec = n < FAKE_LOG ? &fake.log[n] : &fake.overflow;
    memset(rec, 0, sizeof *rec);
    rec->code = code, rec->in = in, rec->out = out, rec->in_gpa = in_gpa, rec->out_gpa = out_gpa;
    rec->in_len = in ? input_length(code, in) : 0;
    check_block(in, in_gpa, rec->in_len);
    memcpy(rec->in_bytes, in ? in : rec->in_bytes, rec->in_len);
    uint64_t status;
    if (fake.force)
        status = fake.forced_status;
    else if (fake.fail_call == n + 1)
        status = fake.fail_status;
    else
        status = serve(code, in, out, &rec->out_len);
    if (rec->out_len) {
        check_block(out, out_gpa, rec->out_len);
        memcpy(rec->out_bytes, out, rec->out_len);
    }
    return status;
}

static void fake_start(void)
{
    /* The fake reuses partition ids from test to test, which the hypervisor never does: the library
     * must not hold writes for an id of an earlier test. */
    for (uint64_t id = FAKE_FIRST_ID; id < fake.next_id; id++)
        whv_deferred_forget_partition(id);
    memset(&fake, 0, sizeof fake);
    fake.next_id = FAKE_FIRST_ID;
    hv_set_transport(fake_transport);
    hv_set_address_to_gpa(NULL);
}

static void fake_finish(void)
{
    CHECK_EQ(fake.bad_blocks, 0);
    hv_set_transport(NULL);
    hv_set_address_to_gpa(NULL);
}

/* A partition made through the library, with the call log cleared afterwards. */
static WHV_PARTITION_HANDLE new_partition(void)
{
    WHV_PARTITION_HANDLE p = NULL;
    CHECK_HR(WHvCreatePartition(&p), S_OK);
    fake.calls = 0;
    return p;
}

static WHV_PARTITION_HANDLE new_partition_with_vp(UINT32 vp)
{
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvCreateVirtualProcessor(p, vp, 0), S_OK);
    fake.calls = 0;
    return p;
}

/* ------------------------------------------------------------------------------------------------
 * HRESULTs and the status table
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_lib_hresult_values)
{
    /* docs/whv-abi-facts.md, "HRESULTs": everything the library returns. */
    CHECK_HR(S_OK, 0x00000000u);
    CHECK_HR(E_INVALIDARG, 0x80070057u);
    CHECK_HR(E_OUTOFMEMORY, 0x8007000Eu);
    CHECK_HR(E_ACCESSDENIED, 0x80070005u);
    CHECK_HR(E_HANDLE, 0x80070006u);
    CHECK_HR(E_NOTIMPL, 0x80004001u);
    CHECK_HR(E_POINTER, 0x80004003u);
    CHECK_HR(E_UNEXPECTED, 0x8000FFFFu);
    CHECK_HR(WHV_E_UNKNOWN_CAPABILITY, 0x80370300u);
    CHECK_HR(WHV_E_INSUFFICIENT_BUFFER, 0x80370301u);
    CHECK_HR(WHV_E_UNKNOWN_PROPERTY, 0x80370302u);
    CHECK_HR(WHV_E_INVALID_PARTITION_CONFIG, 0x80370304u);
    CHECK_HR(WHV_E_VP_ALREADY_EXISTS, 0x80370306u);
    CHECK_HR(WHV_E_VP_DOES_NOT_EXIST, 0x80370307u);
    CHECK_HR(WHV_E_INVALID_VP_STATE, 0x80370308u);
    CHECK_HR(WHV_E_INVALID_VP_REGISTER_NAME, 0x80370309u);
    CHECK_HR(ERROR_HV_NOT_PRESENT, 0xC0351000u); /* winerror.h's value */
    CHECK(FAILED(ERROR_HV_NOT_PRESENT));
}

/* Every row of docs/whv-library.md's table, then the fallbacks. */
TEST(whv_lib_status_table)
{
    static const struct {
        uint64_t status;
        uint32_t hr;
    } rows[] = {
        { HV_STATUS_SUCCESS, 0x00000000u },
        { HV_STATUS_INVALID_PARTITION_ID, 0x80070006u },
        { HV_STATUS_INVALID_VP_INDEX, 0x80370307u },
        { HVX_STATUS_VP_ALREADY_EXISTS, 0x80370306u },
        { HV_STATUS_UNKNOWN_PROPERTY, 0x80370302u },
        { HVX_STATUS_UNKNOWN_REGISTER_NAME, 0x80370309u },
        { HV_STATUS_INVALID_VP_STATE, 0x80370308u },
        { HV_STATUS_INSUFFICIENT_BUFFER, 0x80370301u },
        { HV_STATUS_INSUFFICIENT_MEMORY, 0x8007000Eu },
        { HV_STATUS_ACCESS_DENIED, 0x80070005u },
        { HV_STATUS_INVALID_PARTITION_STATE, 0x80370304u },
        { HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE, 0x80070057u },
        { HV_STATUS_INVALID_PARAMETER, 0x80070057u },
        { HV_STATUS_INVALID_ALIGNMENT, 0x80070057u },
        { HV_STATUS_INVALID_REGISTER_VALUE, 0x80070057u },
        { HV_TRANSPORT_STATUS_NOT_PRESENT, 0xC0351000u },
        /* anything else: 0xC0350000 | status */
        { HV_STATUS_INVALID_HYPERCALL_CODE, 0xC0350002u },
        { HV_STATUS_INVALID_HYPERCALL_INPUT, 0xC0350003u },
        { HV_STATUS_OPERATION_DENIED, 0xC0350008u },
        { 0x1234, 0xC0351234u },
        { 0xFFFF, 0xC035FFFFu },
        /* wider than a hypervisor status: a broken transport */
        { 0x12345, 0x8000FFFFu },
        { UINT64_MAX, 0x8000FFFFu },
    };
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    fake.force = true;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fake.forced_status = rows[i].status;
        CHECK_HR(WHvSetupPartition(p), rows[i].hr);
    }
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Capabilities: answered without a hypercall
 * ---------------------------------------------------------------------------------------------- */

/* Asks for `code` into a buffer of `size` bytes pre-filled with 0xAA; returns the HRESULT. */
static HRESULT capability(WHV_CAPABILITY_CODE code, uint8_t buffer[64], UINT32 size, UINT32 *written)
{
    memset(buffer, 0xAA, 64);
    *written = 0xDEAD;
    return WHvGetCapability(code, buffer, size, written);
}

static void check_capability(WHV_CAPABILITY_CODE code, uint32_t natural_size, uint64_t expected)
{
    uint8_t buffer[64], untouched[64];
    UINT32 written;
    memset(untouched, 0xAA, sizeof untouched);
    CHECK_HR(capability(code, buffer, 64, &written), S_OK);
    CHECK_EQ(written, natural_size);
    uint64_t value = 0;
    memcpy(&value, buffer, natural_size);
    CHECK_EQ(value, expected);
    CHECK_BYTES(buffer + natural_size, untouched, 64 - natural_size);
    /* Exactly the natural size is enough; one byte less is not, and then nothing is written. */
    CHECK_HR(capability(code, buffer, natural_size, &written), S_OK);
    CHECK_HR(capability(code, buffer, natural_size - 1, &written), WHV_E_INSUFFICIENT_BUFFER);
    CHECK_BYTES(buffer, untouched, 64);
    CHECK_EQ(written, 0xDEAD);
}

static uint32_t host_physical_address_width(void)
{
    if (cpuid(0x80000000u, 0).eax < 0x80000008u)
        return 36;
    return cpuid(0x80000008u, 0).eax & 0xFF;
}

TEST(whv_lib_capabilities)
{
    fake_start();
    /* The host running the tests is never this hypervisor. */
    check_capability(WHvCapabilityCodeHypervisorPresent, 4, 0);
    check_capability(WHvCapabilityCodeFeatures, 8, 0);
    /* X64CpuidExit, X64MsrExit, ExceptionExit, X64RdtscExit, HypercallExit: bits 0, 1, 2, 3, 5. */
    check_capability(WHvCapabilityCodeExtendedVmExits, 8, 0x2F);
    check_capability(WHvCapabilityCodeExceptionExitBitmap, 8, 0xFFFFFFFFu);
    check_capability(WHvCapabilityCodeProcessorVendor, 4, 1);
    check_capability(WHvCapabilityCodePhysicalAddressWidth, 4, host_physical_address_width());
    CHECK_EQ(fake.calls, 0);
    fake_finish();
}

TEST(whv_lib_capability_errors)
{
    uint8_t buffer[64];
    UINT32 written;
    fake_start();
    CHECK_HR(capability(WHvCapabilityCodeProcessorFeatures, buffer, 64, &written), WHV_E_UNKNOWN_CAPABILITY);
    CHECK_HR(capability(WHvCapabilityCodeProcessorClockFrequency, buffer, 64, &written), WHV_E_UNKNOWN_CAPABILITY);
    CHECK_HR(capability((WHV_CAPABILITY_CODE)0x7777, buffer, 64, &written), WHV_E_UNKNOWN_CAPABILITY);
    CHECK_EQ(written, 0xDEAD);
    /* X64MsrExitBitmap: every bit WHV_X64_MSR_EXIT_BITMAP defines. */
    UINT64 bits = 0;
    memset(buffer, 0, sizeof buffer);
    CHECK_HR(capability(WHvCapabilityCodeX64MsrExitBitmap, buffer, 8, &written), S_OK);
    memcpy(&bits, buffer, sizeof bits);
    CHECK_EQ(bits, 0x3F);
    CHECK_EQ(written, 8);
    written = 0xDEAD;
    CHECK_HR(WHvGetCapability(WHvCapabilityCodeFeatures, NULL, 64, &written), E_POINTER);
    /* WrittenSizeInBytes is optional. */
    CHECK_HR(WHvGetCapability(WHvCapabilityCodeProcessorVendor, buffer, 64, NULL), S_OK);
    CHECK_EQ(fake.calls, 0);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Partitions
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_lib_create_partition_block)
{
    fake_start();
    WHV_PARTITION_HANDLE p = NULL;
    CHECK_HR(WHvCreatePartition(&p), S_OK);
    CHECK_EQ(handle_id(p), FAKE_FIRST_ID);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, 0x0010);
    CHECK(fake.log[0].in == NULL);
    CHECK_EQ(fake.log[0].in_gpa, 0);
    CHECK_EQ(fake.log[0].out_len, sizeof(struct hv_partition_out));
    CHECK_EQ(offsetof(struct hv_partition_out, partition), 0);
    CHECK_EQ(handle_id(p), FAKE_FIRST_ID);
    WHV_PARTITION_HANDLE second = NULL;
    CHECK_HR(WHvCreatePartition(&second), S_OK);
    CHECK_EQ(handle_id(second), FAKE_FIRST_ID + 1);
    fake_finish();
}

TEST(whv_lib_create_partition_failures)
{
    fake_start();
    CHECK_HR(WHvCreatePartition(NULL), E_POINTER);
    CHECK_EQ(fake.calls, 0);
    /* The fake's table is full: the status reaches the caller and the handle stays as it was. */
    WHV_PARTITION_HANDLE p = NULL;
    for (int i = 0; i < FAKE_PARTITIONS; i++)
        CHECK_HR(WHvCreatePartition(&p), S_OK);
    WHV_PARTITION_HANDLE untouched = (WHV_PARTITION_HANDLE)(uintptr_t)0x77;
    p = untouched;
    CHECK_HR(WHvCreatePartition(&p), E_OUTOFMEMORY);
    CHECK(p == untouched);
    /* A hypervisor answering id 0 would hand out a NULL handle: refused. */
    fake.next_id = 0;
    fake.partitions[0].id = 0;
    CHECK_HR(WHvCreatePartition(&p), E_UNEXPECTED);
    CHECK(p == untouched);
    fake_finish();
}

TEST(whv_lib_setup_delete_blocks)
{
    static const struct {
        HRESULT (WINAPI *fn)(WHV_PARTITION_HANDLE);
        uint64_t code;
    } calls[] = { { WHvSetupPartition, 0x0014 }, { WHvDeletePartition, 0x0011 } };
    fake_start();
    for (size_t i = 0; i < 2; i++) {
        WHV_PARTITION_HANDLE p = new_partition();
        CHECK_HR(calls[i].fn(p), S_OK);
        CHECK_EQ(fake.calls, 1);
        CHECK_EQ(fake.log[0].code, calls[i].code);
        uint8_t expected[8];
        put64(expected, offsetof(struct hv_partition_in, partition), handle_id(p));
        CHECK_EQ(fake.log[0].in_len, sizeof expected);
        CHECK_BYTES(fake.log[0].in_bytes, expected, sizeof expected);
        CHECK(fake.log[0].out == NULL);
        CHECK_EQ(fake.log[0].out_gpa, 0);
    }
    /* The deleted partition is gone: its handle now fails cleanly. */
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvDeletePartition(p), S_OK);
    CHECK_HR(WHvSetupPartition(p), E_HANDLE);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Partition properties
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_lib_set_property_block)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    /* A client passing the whole 48-byte WHV_PARTITION_PROPERTY: size and all 48 bytes go through. */
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0x5C, sizeof prop);
    prop.ExtendedVmExits.AsUINT64 = 0x23;
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, &prop, sizeof prop), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, 0x0012);
    uint8_t expected[16 + 48];
    put64(expected, offsetof(struct hv_property_in, partition), handle_id(p));
    put32(expected, offsetof(struct hv_property_in, code), 0x1);
    put32(expected, offsetof(struct hv_property_in, size), 48);
    memcpy(expected + sizeof(struct hv_property_in), &prop, 48);
    CHECK_EQ(fake.log[0].in_len, sizeof expected);
    CHECK_BYTES(fake.log[0].in_bytes, expected, sizeof expected);
    CHECK(fake.log[0].out == NULL);
    CHECK_EQ(fake.partitions[0].extended_exits, 0x23);
    /* Natural sizes: 4 bytes for ProcessorCount, and a list of exactly the bytes given. */
    UINT32 count = 2;
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeProcessorCount, &count, 4), S_OK);
    CHECK_EQ(fake.partitions[0].processor_count, 2);
    UINT32 leaves[3] = { 0x1, 0x40000000, 0x80000001 };
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, leaves, sizeof leaves), S_OK);
    CHECK_EQ(fake.partitions[0].cpuid_exit_list_bytes, 12);
    CHECK_BYTES(fake.partitions[0].cpuid_exit_list, leaves, 12);
    fake_finish();
}

TEST(whv_lib_set_property_sizes)
{
    static uint8_t big[HV_MAX_BLOCK_BYTES + 1];
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    UINT64 exits = 1;
    /* Smaller than natural: the hypervisor's INSUFFICIENT_BUFFER. */
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, &exits, 4),
             WHV_E_INSUFFICIENT_BUFFER);
    CHECK_HR(WHvSetPartitionProperty(p, (WHV_PARTITION_PROPERTY_CODE)0x4242, &exits, 8), WHV_E_UNKNOWN_PROPERTY);
    fake.calls = 0;
    /* The largest value one block carries goes through; one byte more is refused here. */
    fake.force = true;
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, big, HV_MAX_BLOCK_BYTES - 16), S_OK);
    CHECK_EQ(fake.log[0].in_len, HV_MAX_BLOCK_BYTES);
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, big, HV_MAX_BLOCK_BYTES - 15),
             E_INVALIDARG);
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, big, UINT32_MAX), E_INVALIDARG);
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, NULL, 8), E_POINTER);
    CHECK_EQ(fake.calls, 1);
    fake_finish();
}

TEST(whv_lib_get_property_block)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    fake.partitions[0].extended_exits = 0x0123456789ABCDEFull;
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0xEE, sizeof prop);
    UINT32 written = 0;
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, &prop, sizeof prop, &written), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, 0x0013);
    uint8_t expected[16];
    put64(expected, offsetof(struct hv_property_in, partition), handle_id(p));
    put32(expected, offsetof(struct hv_property_in, code), 0x1);
    put32(expected, offsetof(struct hv_property_in, size), 48); /* the caller's buffer size */
    CHECK_EQ(fake.log[0].in_len, sizeof expected);
    CHECK_BYTES(fake.log[0].in_bytes, expected, sizeof expected);
    /* Output: written, reserved, then the value. */
    CHECK_EQ(offsetof(struct hv_property_out, written), 0);
    CHECK_EQ(sizeof(struct hv_property_out), 8);
    CHECK_EQ(fake.log[0].out_len, 16);
    /* The natural size is reported and copied; the rest of the caller's buffer is untouched. */
    CHECK_EQ(written, 8);
    CHECK_EQ(prop.ExtendedVmExits.AsUINT64, 0x0123456789ABCDEFull);
    uint8_t untouched[40];
    memset(untouched, 0xEE, sizeof untouched);
    CHECK_BYTES((uint8_t *)&prop + 8, untouched, sizeof untouched);
    /* WrittenSizeInBytes is optional. */
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, &prop, 8, NULL), S_OK);
    fake_finish();
}

TEST(whv_lib_get_property_sizes)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    UINT32 leaves[4] = { 1, 7, 0xD, 0x80000008 };
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, leaves, sizeof leaves), S_OK);
    fake.calls = 0;
    /* Too small: the error, the buffer and WrittenSizeInBytes untouched. */
    UINT32 out[8], written = 0xDEAD;
    memset(out, 0xEE, sizeof out);
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, out, 12, &written),
             WHV_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(written, 0xDEAD);
    CHECK_EQ(out[0], 0xEEEEEEEEu);
    /* A list comes back with its own size. */
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, out, sizeof out, &written), S_OK);
    CHECK_EQ(written, 16);
    CHECK_BYTES(out, leaves, 16);
    CHECK_EQ(out[4], 0xEEEEEEEEu);
    /* A buffer larger than a block is announced as the block's value capacity. */
    static uint8_t huge[3 * HV_MAX_BLOCK_BYTES];
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, huge, sizeof huge, &written), S_OK);
    uint32_t announced;
    memcpy(&announced, fake.log[2].in_bytes + offsetof(struct hv_property_in, size), 4);
    CHECK_EQ(announced, HV_MAX_BLOCK_BYTES - sizeof(struct hv_property_out));
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeCpuidExitList, NULL, 16, &written), E_POINTER);
    CHECK_HR(WHvGetPartitionProperty(p, (WHV_PARTITION_PROPERTY_CODE)0x4242, out, sizeof out, &written),
             WHV_E_UNKNOWN_PROPERTY);
    CHECK_EQ(fake.calls, 4);
    fake_finish();
}

/* A hypervisor claiming more than the caller's buffer holds never gets to overrun it. */
TEST(whv_lib_get_property_overlong_answer)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    fake.claim_written = 9;
    uint8_t buffer[8 + 8];
    memset(buffer, 0xEE, sizeof buffer);
    UINT32 written = 0xDEAD;
    CHECK_HR(WHvGetPartitionProperty(p, WHvPartitionPropertyCodeExtendedVmExits, buffer, 8, &written), E_UNEXPECTED);
    CHECK_EQ(written, 0xDEAD);
    CHECK_EQ(buffer[8], 0xEE);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Guest physical memory
 * ---------------------------------------------------------------------------------------------- */

#define SOURCE ((void *)(uintptr_t)0x40000000) /* never dereferenced: the library only translates it */

static void expect_map_block(uint8_t expected[40], uint64_t id, uint64_t source, uint64_t gpa, uint64_t size,
                             uint32_t flags)
{
    memset(expected, 0, 40);
    put64(expected, offsetof(struct hv_map_gpa_in, partition), id);
    put64(expected, offsetof(struct hv_map_gpa_in, source), source);
    put64(expected, offsetof(struct hv_map_gpa_in, gpa), gpa);
    put64(expected, offsetof(struct hv_map_gpa_in, size), size);
    put32(expected, offsetof(struct hv_map_gpa_in, flags), flags);
}

static void expect_unmap_block(uint8_t expected[24], uint64_t id, uint64_t gpa, uint64_t size)
{
    put64(expected, offsetof(struct hv_unmap_gpa_in, partition), id);
    put64(expected, offsetof(struct hv_unmap_gpa_in, gpa), gpa);
    put64(expected, offsetof(struct hv_unmap_gpa_in, size), size);
}

TEST(whv_lib_map_unmap_blocks)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x100000, 0x200000, WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagExecute),
             S_OK);
    CHECK_HR(WHvUnmapGpaRange(p, 0x180000, 0x3000), S_OK);
    CHECK_EQ(fake.calls, 2);
    uint8_t map[40], unmap[24];
    expect_map_block(map, handle_id(p), 0x40000000, 0x100000, 0x200000, 5);
    CHECK_EQ(fake.log[0].code, 0x0015);
    CHECK_EQ(fake.log[0].in_len, sizeof map);
    CHECK_BYTES(fake.log[0].in_bytes, map, sizeof map); /* reserved at 36 is zero */
    CHECK(fake.log[0].out == NULL);
    expect_unmap_block(unmap, handle_id(p), 0x180000, 0x3000);
    CHECK_EQ(fake.log[1].code, 0x0016);
    CHECK_EQ(fake.log[1].in_len, sizeof unmap);
    CHECK_BYTES(fake.log[1].in_bytes, unmap, sizeof unmap);
    CHECK(fake.log[1].out == NULL);
    fake_finish();
}

TEST(whv_lib_map_argument_checks)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    const WHV_MAP_GPA_RANGE_FLAGS rw = WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite;
    CHECK_HR(WHvMapGpaRange(p, NULL, 0, PAGE, rw), E_POINTER);
    CHECK_HR(WHvMapGpaRange(p, (uint8_t *)SOURCE + 8, 0, PAGE, rw), E_INVALIDARG);
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x1800, PAGE, rw), E_INVALIDARG);
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0, PAGE + 1, rw), E_INVALIDARG);
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0, 0, rw), E_INVALIDARG);
    CHECK_HR(WHvMapGpaRange(p, SOURCE, UINT64_MAX - PAGE + 1, 2 * PAGE, rw), E_INVALIDARG);
    CHECK_HR(WHvUnmapGpaRange(p, 0x800, PAGE), E_INVALIDARG);
    CHECK_HR(WHvUnmapGpaRange(p, 0, 0), E_INVALIDARG);
    CHECK_HR(WHvUnmapGpaRange(p, 0, PAGE - 1), E_INVALIDARG);
    CHECK_HR(WHvUnmapGpaRange(p, UINT64_MAX - PAGE + 1, 2 * PAGE), E_INVALIDARG);
    CHECK_EQ(fake.calls, 0);
    fake_finish();
}

/* An OS root's translation: the source's pages 0-1 are contiguous at 0x800000, page 2 lies at 0x300000,
 * page 3 follows it, page 4 has no GPA; the blocks (real stack addresses) stay identity mapped. */
static uint64_t scattered_to_gpa(const void *address)
{
    uintptr_t a = (uintptr_t)address, base = (uintptr_t)SOURCE;
    if (a < base || a >= base + 16 * PAGE)
        return a;
    uint64_t page = (a - base) / PAGE, offset = (a - base) % PAGE;
    switch (page) {
    case 0:
    case 1:
        return 0x800000 + page * PAGE + offset;
    case 2:
    case 3:
        return 0x300000 + (page - 2) * PAGE + offset;
    default:
        return HV_GPA_INVALID;
    }
}

TEST(whv_lib_map_splits_at_discontiguous_source)
{
    fake_start();
    hv_set_address_to_gpa(scattered_to_gpa);
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x10000, 4 * PAGE, WHvMapGpaRangeFlagRead), S_OK);
    CHECK_EQ(fake.calls, 2);
    uint8_t expected[40];
    expect_map_block(expected, handle_id(p), 0x800000, 0x10000, 2 * PAGE, 1);
    CHECK_BYTES(fake.log[0].in_bytes, expected, sizeof expected);
    expect_map_block(expected, handle_id(p), 0x300000, 0x12000, 2 * PAGE, 1);
    CHECK_BYTES(fake.log[1].in_bytes, expected, sizeof expected);
    fake_finish();
}

TEST(whv_lib_map_failure_unmaps_what_was_mapped)
{
    fake_start();
    hv_set_address_to_gpa(scattered_to_gpa);
    WHV_PARTITION_HANDLE p = new_partition();
    uint8_t expected[24];
    /* The second run fails: the first is unmapped again and the failure reported. */
    fake.fail_call = 2;
    fake.fail_status = HV_STATUS_INSUFFICIENT_MEMORY;
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x10000, 4 * PAGE, WHvMapGpaRangeFlagRead), E_OUTOFMEMORY);
    CHECK_EQ(fake.calls, 3);
    CHECK_EQ(fake.log[2].code, HVCALL_UNMAP_GPA_RANGE);
    expect_unmap_block(expected, handle_id(p), 0x10000, 2 * PAGE);
    CHECK_BYTES(fake.log[2].in_bytes, expected, sizeof expected);
    /* Page 4 has no GPA: pages 0-3 were mapped in two runs, and come back out in one unmap. */
    fake.calls = 0;
    fake.fail_call = 0;
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x10000, 5 * PAGE, WHvMapGpaRangeFlagRead), E_INVALIDARG);
    CHECK_EQ(fake.calls, 3);
    CHECK_EQ(fake.log[2].code, HVCALL_UNMAP_GPA_RANGE);
    expect_unmap_block(expected, handle_id(p), 0x10000, 4 * PAGE);
    CHECK_BYTES(fake.log[2].in_bytes, expected, sizeof expected);
    /* A first run that fails leaves nothing to undo. */
    fake.calls = 0;
    fake.fail_call = 1;
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0x10000, 4 * PAGE, WHvMapGpaRangeFlagRead), E_OUTOFMEMORY);
    CHECK_EQ(fake.calls, 1);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Virtual processors
 * ---------------------------------------------------------------------------------------------- */

static void check_vp_block(const struct fake_call *c, uint64_t code, uint64_t id, uint32_t vp, uint32_t flags)
{
    uint8_t expected[16];
    put64(expected, offsetof(struct hv_vp_in, partition), id);
    put32(expected, offsetof(struct hv_vp_in, vp), vp);
    put32(expected, offsetof(struct hv_vp_in, flags), flags);
    CHECK_EQ(c->code, code);
    CHECK_EQ(c->in_len, sizeof expected);
    CHECK_BYTES(c->in_bytes, expected, sizeof expected);
}

TEST(whv_lib_vp_blocks)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvCreateVirtualProcessor(p, 3, 0), S_OK);
    CHECK_HR(WHvCancelRunVirtualProcessor(p, 3, 0), S_OK);
    CHECK_HR(WHvDeleteVirtualProcessor(p, 3), S_OK);
    CHECK_EQ(fake.calls, 3);
    check_vp_block(&fake.log[0], 0x0017, handle_id(p), 3, 0);
    check_vp_block(&fake.log[1], 0x001A, handle_id(p), 3, 0);
    check_vp_block(&fake.log[2], 0x0018, handle_id(p), 3, 0);
    for (int i = 0; i < 3; i++)
        CHECK(fake.log[i].out == NULL);
    /* Flags go through for the hypervisor to judge. */
    fake.force = true;
    CHECK_HR(WHvCreateVirtualProcessor(p, 1, 0x8), S_OK);
    check_vp_block(&fake.log[3], 0x0017, handle_id(p), 1, 0x8);
    CHECK_HR(WHvCancelRunVirtualProcessor(p, 1, 0x4), S_OK);
    check_vp_block(&fake.log[4], 0x001A, handle_id(p), 1, 0x4);
    fake_finish();
}

TEST(whv_lib_vp_statuses)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition();
    CHECK_HR(WHvCreateVirtualProcessor(p, 0, 0), S_OK);
    CHECK_HR(WHvCreateVirtualProcessor(p, 0, 0), WHV_E_VP_ALREADY_EXISTS);
    CHECK_HR(WHvCreateVirtualProcessor(p, HV_MAX_VPS_PER_PARTITION, 0), WHV_E_VP_DOES_NOT_EXIST);
    CHECK_HR(WHvDeleteVirtualProcessor(p, 1), WHV_E_VP_DOES_NOT_EXIST);
    CHECK_HR(WHvDeleteVirtualProcessor(p, 0), S_OK);
    uint8_t exit[224];
    CHECK_HR(WHvRunVirtualProcessor(p, 0, exit, sizeof exit), WHV_E_VP_DOES_NOT_EXIST);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Run: the exit buffer
 * ---------------------------------------------------------------------------------------------- */

#define EXIT_BUFFER 320

/* Runs VP 0 of `p` into a buffer of `size` bytes pre-filled with 0xEE. */
static HRESULT run_into(WHV_PARTITION_HANDLE p, uint8_t buffer[EXIT_BUFFER], UINT32 size)
{
    memset(buffer, 0xEE, EXIT_BUFFER);
    return WHvRunVirtualProcessor(p, 0, buffer, size);
}

/* The first `copied` bytes are the canned exit, the rest of the buffer still 0xEE. */
static void check_exit_copy(const uint8_t buffer[EXIT_BUFFER], size_t copied)
{
    uint8_t canned[224], untouched[EXIT_BUFFER];
    canned_exit(canned);
    memset(untouched, 0xEE, sizeof untouched);
    CHECK_BYTES(buffer, canned, copied);
    CHECK_BYTES(buffer + copied, untouched, EXIT_BUFFER - copied);
}

TEST(whv_lib_run_block)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    uint8_t buffer[EXIT_BUFFER];
    CHECK_HR(run_into(p, buffer, 224), S_OK);
    CHECK_EQ(fake.calls, 1);
    check_vp_block(&fake.log[0], 0x0019, handle_id(p), 0, 0);
    CHECK_EQ(fake.log[0].out_len, 224);
    CHECK(fake.log[0].out != buffer); /* through the library's own block */
    WHV_RUN_VP_EXIT_CONTEXT exit;
    memcpy(&exit, buffer, sizeof exit);
    CHECK_EQ(exit.ExitReason, WHvRunVpExitReasonX64Halt);
    fake_finish();
}

TEST(whv_lib_run_exit_buffer_sizes)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    uint8_t buffer[EXIT_BUFFER];
    /* Legacy 144: the first 144 bytes only. */
    CHECK_HR(run_into(p, buffer, 144), S_OK);
    check_exit_copy(buffer, 144);
    CHECK_HR(run_into(p, buffer, 224), S_OK);
    check_exit_copy(buffer, 224);
    /* Larger: 224 bytes written, the rest left alone. */
    CHECK_HR(run_into(p, buffer, EXIT_BUFFER), S_OK);
    check_exit_copy(buffer, 224);
    CHECK_HR(run_into(p, buffer, 145), S_OK);
    check_exit_copy(buffer, 145);
    CHECK_EQ(fake.calls, 4);
    /* Smaller than 144, or no buffer: refused before any hypercall. */
    CHECK_HR(run_into(p, buffer, 143), WHV_E_INSUFFICIENT_BUFFER);
    check_exit_copy(buffer, 0);
    CHECK_HR(run_into(p, buffer, 0), WHV_E_INSUFFICIENT_BUFFER);
    CHECK_HR(WHvRunVirtualProcessor(p, 0, NULL, 224), E_POINTER);
    CHECK_EQ(fake.calls, 4);
    /* A failed run leaves the buffer alone. */
    fake.force = true;
    fake.forced_status = HV_STATUS_INVALID_VP_STATE;
    CHECK_HR(run_into(p, buffer, 224), WHV_E_INVALID_VP_STATE);
    check_exit_copy(buffer, 0);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Registers
 * ---------------------------------------------------------------------------------------------- */

#define MANY 130 /* three calls: 64 + 64 + 2 */

static void many_names(WHV_REGISTER_NAME names[MANY])
{
    for (uint32_t i = 0; i < MANY; i++)
        names[i] = (WHV_REGISTER_NAME)((i * 37) % FAKE_REGISTER_NAMES); /* distinct, not in order */
}

static WHV_REGISTER_VALUE set_value(uint32_t name)
{
    WHV_REGISTER_VALUE v;
    v.Reg128.Low64 = 0xA5A5000000000000ull | name;
    v.Reg128.High64 = 0x5A5A000000000000ull | (name << 8);
    return v;
}

/* The SET block of call `call` holding `count` registers from `first` on, byte for byte. */
static void check_set_registers_block(const struct fake_call *c, uint64_t id, uint32_t vp,
                                      const WHV_REGISTER_NAME *names, const WHV_REGISTER_VALUE *values,
                                      uint32_t count)
{
    uint8_t expected[HV_MAX_BLOCK_BYTES];
    size_t values_at = hv_registers_values_offset(count), len = values_at + 16u * count;
    memset(expected, 0, sizeof expected);
    put64(expected, offsetof(struct hv_vp_registers_in, partition), id);
    put32(expected, offsetof(struct hv_vp_registers_in, vp), vp);
    put32(expected, offsetof(struct hv_vp_registers_in, count), count);
    memcpy(expected + sizeof(struct hv_vp_registers_in), names, 4u * count);
    memcpy(expected + values_at, values, 16u * count); /* the padding before it stays zero */
    CHECK_EQ(c->code, 0x001C);
    CHECK_EQ(c->in_len, len);
    CHECK_BYTES(c->in_bytes, expected, len);
    CHECK(c->out == NULL);
}

TEST(whv_lib_values_offsets)
{
    CHECK_EQ(hv_registers_values_offset(1), 32);
    CHECK_EQ(hv_registers_values_offset(2), 32);
    CHECK_EQ(hv_registers_values_offset(3), 32);
    CHECK_EQ(hv_registers_values_offset(4), 32);
    CHECK_EQ(hv_registers_values_offset(5), 48);
    CHECK_EQ(hv_registers_values_offset(64), 272);
}

TEST(whv_lib_set_registers_split)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(2);
    WHV_REGISTER_NAME names[MANY];
    WHV_REGISTER_VALUE values[MANY];
    many_names(names);
    for (int i = 0; i < MANY; i++)
        values[i] = set_value(names[i]);
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 2, names, MANY, values), S_OK);
    CHECK_EQ(fake.calls, 3);
    check_set_registers_block(&fake.log[0], handle_id(p), 2, names, values, 64);
    check_set_registers_block(&fake.log[1], handle_id(p), 2, names + 64, values + 64, 64);
    check_set_registers_block(&fake.log[2], handle_id(p), 2, names + 128, values + 128, 2);
    for (int i = 0; i < MANY; i++)
        CHECK_BYTES(&fake.partitions[0].registers[names[i]], &values[i], 16);
    /* Every count from 1 to 5 puts the values at the next 16-byte boundary after the names. */
    for (uint32_t n = 1; n <= 5; n++) {
        fake.calls = 0;
        CHECK_HR(WHvSetVirtualProcessorRegisters(p, 2, names, n, values), S_OK);
        check_set_registers_block(&fake.log[0], handle_id(p), 2, names, values, n);
    }
    fake_finish();
}

TEST(whv_lib_get_registers_split)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(1);
    WHV_REGISTER_NAME names[MANY];
    many_names(names);
    for (uint32_t n = 0; n < FAKE_REGISTER_NAMES; n++)
        fake.partitions[0].registers[n] = default_register(n);
    WHV_REGISTER_VALUE values[MANY];
    memset(values, 0xEE, sizeof values);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 1, names, MANY, values), S_OK);
    CHECK_EQ(fake.calls, 3);
    static const uint32_t counts[3] = { 64, 64, 2 };
    for (int c = 0; c < 3; c++) {
        uint8_t expected[16 + 64 * 4];
        size_t len = 16 + 4u * counts[c];
        put64(expected, offsetof(struct hv_vp_registers_in, partition), handle_id(p));
        put32(expected, offsetof(struct hv_vp_registers_in, vp), 1);
        put32(expected, offsetof(struct hv_vp_registers_in, count), counts[c]);
        memcpy(expected + 16, names + 64 * c, 4u * counts[c]);
        CHECK_EQ(fake.log[c].code, 0x001B);
        CHECK_EQ(fake.log[c].in_len, len);
        CHECK_BYTES(fake.log[c].in_bytes, expected, len);
        CHECK_EQ(fake.log[c].out_len, 16u * counts[c]); /* values[count] at offset 0 */
    }
    for (int i = 0; i < MANY; i++) {
        WHV_REGISTER_VALUE want = default_register(names[i]);
        CHECK_BYTES(&values[i], &want, 16);
    }
    fake_finish();
}

TEST(whv_lib_registers_round_trip)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    const WHV_REGISTER_NAME names[3] = { WHvX64RegisterRip, WHvX64RegisterCs, WHvX64RegisterRflags };
    WHV_REGISTER_VALUE set[3], got[3];
    memset(set, 0, sizeof set);
    set[0].Reg64 = 0xFFF0;
    set[1].Segment.Base = 0xFFFF0000, set[1].Segment.Limit = 0xFFFF, set[1].Segment.Selector = 0xF000;
    set[1].Segment.Attributes = 0x9B;
    set[2].Reg64 = 0x2;
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, names, 3, set), S_OK);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, names, 3, got), S_OK);
    CHECK_BYTES(got, set, sizeof set);
    fake_finish();
}

TEST(whv_lib_registers_arguments)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    const WHV_REGISTER_NAME name = WHvX64RegisterRax;
    WHV_REGISTER_VALUE value = { .Reg64 = 1 };
    /* Zero registers: S_OK, nothing called, the arrays not even looked at. */
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, NULL, 0, NULL), S_OK);
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, NULL, 0, NULL), S_OK);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, NULL, 1, &value), E_POINTER);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, &name, 1, NULL), E_POINTER);
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, NULL, 1, &value), E_POINTER);
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, &name, 1, NULL), E_POINTER);
    CHECK_EQ(fake.calls, 0);
    /* A name the hypervisor does not know. */
    const WHV_REGISTER_NAME unknown = WHvX64RegisterTsc;
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, &unknown, 1, &value), WHV_E_INVALID_VP_REGISTER_NAME);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, &unknown, 1, &value), WHV_E_INVALID_VP_REGISTER_NAME);
    fake_finish();
}

/* The first failing call ends the request: later chunks are not sent, and a failed get leaves its
 * chunk of values alone. */
TEST(whv_lib_registers_stop_at_first_failure)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    WHV_REGISTER_NAME names[MANY];
    WHV_REGISTER_VALUE values[MANY];
    many_names(names);
    memset(values, 0, sizeof values);
    fake.fail_call = 2;
    fake.fail_status = HV_STATUS_INVALID_REGISTER_VALUE;
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, names, MANY, values), E_INVALIDARG);
    CHECK_EQ(fake.calls, 2);
    fake.calls = 0;
    memset(values, 0xEE, sizeof values);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, names, MANY, values), E_INVALIDARG);
    CHECK_EQ(fake.calls, 2);
    uint8_t untouched[16];
    memset(untouched, 0xEE, sizeof untouched);
    CHECK_BYTES(&values[64], untouched, 16);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Handles, unimplemented functions, the transport
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_lib_null_handle)
{
    fake_start();
    WHV_PARTITION_PROPERTY prop = { .ProcessorCount = 1 };
    UINT32 written;
    WHV_REGISTER_NAME name = WHvX64RegisterRax;
    WHV_REGISTER_VALUE value = { .Reg64 = 0 };
    uint8_t exit[224];
    CHECK_HR(WHvSetupPartition(NULL), E_HANDLE);
    CHECK_HR(WHvDeletePartition(NULL), E_HANDLE);
    CHECK_HR(WHvSetPartitionProperty(NULL, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop), E_HANDLE);
    CHECK_HR(WHvGetPartitionProperty(NULL, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop, &written),
             E_HANDLE);
    CHECK_HR(WHvMapGpaRange(NULL, SOURCE, 0, PAGE, WHvMapGpaRangeFlagRead), E_HANDLE);
    CHECK_HR(WHvUnmapGpaRange(NULL, 0, PAGE), E_HANDLE);
    CHECK_HR(WHvCreateVirtualProcessor(NULL, 0, 0), E_HANDLE);
    CHECK_HR(WHvDeleteVirtualProcessor(NULL, 0), E_HANDLE);
    CHECK_HR(WHvRunVirtualProcessor(NULL, 0, exit, sizeof exit), E_HANDLE);
    CHECK_HR(WHvCancelRunVirtualProcessor(NULL, 0, 0), E_HANDLE);
    CHECK_HR(WHvGetVirtualProcessorRegisters(NULL, 0, &name, 1, &value), E_HANDLE);
    CHECK_HR(WHvSetVirtualProcessorRegisters(NULL, 0, &name, 1, &value), E_HANDLE);
    CHECK_EQ(fake.calls, 0);
    /* A handle the hypervisor never issued: its status. */
    WHV_PARTITION_HANDLE stale = (WHV_PARTITION_HANDLE)(uintptr_t)0x999;
    CHECK_HR(WHvSetupPartition(stale), E_HANDLE);
    CHECK_HR(WHvCreateVirtualProcessor(stale, 0, 0), E_HANDLE);
    fake_finish();
}

TEST(whv_lib_not_implemented)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    UINT64 bitmap = 0;
    WHV_INTERRUPT_CONTROL interrupt;
    memset(&interrupt, 0, sizeof interrupt);
    fake.calls = 0;
    CHECK_HR(WHvRequestInterrupt(p, &interrupt, sizeof interrupt), E_NOTIMPL);
    CHECK_HR(WHvResetPartition(p), E_NOTIMPL);
    CHECK_HR(WHvQueryGpaRangeDirtyBitmap(p, 0, PAGE, &bitmap, sizeof bitmap), E_NOTIMPL);
    CHECK_EQ(fake.calls, 0);
    fake_finish();
}

/* TranslateGva carries flags and GVA in its block and returns the result code and GPA. */
TEST(whv_lib_translate_gva)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    WHV_TRANSLATE_GVA_RESULT result;
    WHV_GUEST_PHYSICAL_ADDRESS gpa = 0;
    fake.calls = 0;
    CHECK_HR(WHvTranslateGva(p, 0, 0x4000, WHvTranslateGvaFlagValidateWrite, &result, &gpa), S_OK);
    CHECK_EQ(result.ResultCode, WHvTranslateGvaResultSuccess);
    CHECK_EQ(gpa, 0x104000);
    struct hv_translate_gva_in in;
    memcpy(&in, fake.log[0].in_bytes, sizeof in);
    CHECK_EQ(fake.log[0].code, HVCALL_TRANSLATE_GVA);
    CHECK_EQ(in.vp, 0);
    CHECK_EQ(in.flags, WHvTranslateGvaFlagValidateWrite);
    CHECK_EQ(in.gva, 0x4000);
    CHECK_HR(WHvTranslateGva(p, 0, 0, WHvTranslateGvaFlagValidateRead, &result, &gpa), S_OK);
    CHECK_EQ(result.ResultCode, WHvTranslateGvaResultPageNotPresent);
    CHECK_HR(WHvTranslateGva(p, 0, 0, 0, NULL, &gpa), E_POINTER);
    fake_finish();
}

/* Read/WriteGpaRange split at HV_MAX_GPA_ACCESS_BYTES and carry the data intact. */
TEST(whv_lib_read_write_gpa_range)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    WHV_ACCESS_GPA_CONTROLS controls = { .AsUINT64 = 0 };
    static uint8_t data[2500];
    fake.calls = 0;
    CHECK_HR(WHvReadGpaRange(p, 0, 0x10000, controls, data, sizeof data), S_OK);
    CHECK_EQ(fake.calls, 3);                       /* 1024 + 1024 + 452 */
    int pattern_ok = 1;
    for (unsigned i = 0; i < sizeof data; i++)
        pattern_ok &= data[i] == (uint8_t)(0x10000 + i);
    CHECK(pattern_ok);
    struct hv_gpa_access_in last;
    memcpy(&last, fake.log[2].in_bytes, sizeof last);
    CHECK_EQ(last.gpa, 0x10000 + 2048);
    CHECK_EQ(last.size, 452);
    fake.calls = 0;
    CHECK_HR(WHvWriteGpaRange(p, 0, 0x20000, controls, data, 1030), S_OK);
    CHECK_EQ(fake.calls, 2);
    CHECK_EQ(fake.log[1].in_len, sizeof(struct hv_gpa_access_in) + 6);
    CHECK(memcmp(fake.log[1].in_bytes + sizeof(struct hv_gpa_access_in), data + 1024, 6) == 0);
    CHECK_HR(WHvReadGpaRange(p, 0, 0x10000, controls, data, 0), E_INVALIDARG);
    CHECK_HR(WHvWriteGpaRange(p, 0, 0x10000, controls, NULL, 8), E_POINTER);
    fake_finish();
}

/* An OS root's translation that moves every address: the transport sees the translated GPAs. */
static uint64_t offset_to_gpa(const void *address)
{
    return (uint64_t)(uintptr_t)address ^ 0x7000000000ull;
}

static uint64_t untranslatable(const void *address)
{
    (void)address;
    return HV_GPA_INVALID;
}

TEST(whv_lib_blocks_go_through_translation)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    hv_set_address_to_gpa(offset_to_gpa);
    uint8_t exit[224];
    CHECK_HR(WHvRunVirtualProcessor(p, 0, exit, sizeof exit), S_OK);
    CHECK_EQ(fake.log[0].in_gpa, offset_to_gpa(fake.log[0].in));
    CHECK_EQ(fake.log[0].out_gpa, offset_to_gpa(fake.log[0].out));
    /* A block without a GPA never reaches the transport. */
    hv_set_address_to_gpa(untranslatable);
    CHECK_HR(WHvRunVirtualProcessor(p, 0, exit, sizeof exit), E_ACCESSDENIED);
    CHECK_EQ(fake.calls, 1);
    fake_finish();
}

/* The default transport on a machine without this hypervisor answers instead of executing VMCALL
 * (which would raise #UD). */
TEST(whv_lib_default_transport_without_hypervisor)
{
    hv_set_transport(NULL);
    hv_set_address_to_gpa(NULL);
    CHECK(!hv_is_present());
    WHV_PARTITION_HANDLE p = NULL;
    CHECK_HR(WHvCreatePartition(&p), 0xC0351000u);
    CHECK(p == NULL);
}

/* A whole VMM session against the fake, as a client would drive it. */
TEST(whv_lib_session)
{
    fake_start();
    WHV_PARTITION_HANDLE p = NULL;
    CHECK_HR(WHvCreatePartition(&p), S_OK);
    WHV_PARTITION_PROPERTY prop;
    memset(&prop, 0, sizeof prop);
    prop.ProcessorCount = 1;
    CHECK_HR(WHvSetPartitionProperty(p, WHvPartitionPropertyCodeProcessorCount, &prop, sizeof prop), S_OK);
    CHECK_HR(WHvSetupPartition(p), S_OK);
    CHECK_HR(WHvMapGpaRange(p, SOURCE, 0, 16 * PAGE, WHvMapGpaRangeFlagRead | WHvMapGpaRangeFlagWrite), S_OK);
    CHECK_HR(WHvCreateVirtualProcessor(p, 0, 0), S_OK);
    const WHV_REGISTER_NAME rip = WHvX64RegisterRip;
    WHV_REGISTER_VALUE value = { .Reg64 = 0x7C00 };
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, &rip, 1, &value), S_OK);
    WHV_RUN_VP_EXIT_CONTEXT exit;
    CHECK_HR(WHvRunVirtualProcessor(p, 0, &exit, sizeof exit), S_OK);
    CHECK_EQ(exit.ExitReason, WHvRunVpExitReasonX64Halt);
    value.Reg64 = 0;
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, &rip, 1, &value), S_OK);
    CHECK_EQ(value.Reg64, 0x7C00);
    CHECK_HR(WHvDeleteVirtualProcessor(p, 0), S_OK);
    CHECK_HR(WHvUnmapGpaRange(p, 0, 16 * PAGE), S_OK);
    CHECK_HR(WHvDeletePartition(p), S_OK);
    CHECK_HR(WHvDeletePartition(p), E_HANDLE);
    fake_finish();
}

/* ------------------------------------------------------------------------------------------------
 * Deferred register writes (api/whv_deferred.h): RIP and GPR writes after a Run ride on the next Run
 * ---------------------------------------------------------------------------------------------- */

static WHV_REGISTER_VALUE reg64(uint64_t v)
{
    WHV_REGISTER_VALUE r;
    memset(&r, 0, sizeof r);
    r.Reg64 = v;
    return r;
}

static HRESULT set_one(WHV_PARTITION_HANDLE p, UINT32 vp, WHV_REGISTER_NAME name, uint64_t v)
{
    WHV_REGISTER_VALUE r = reg64(v);
    return WHvSetVirtualProcessorRegisters(p, vp, &name, 1, &r);
}

static HRESULT run(WHV_PARTITION_HANDLE p, UINT32 vp)
{
    WHV_RUN_VP_EXIT_CONTEXT x;
    return WHvRunVirtualProcessor(p, vp, &x, sizeof x);
}

static uint64_t fake_register(WHV_PARTITION_HANDLE p, uint32_t name)
{
    return find_partition(handle_id(p))->registers[name].Reg64;
}

/* A VP that has just returned from a Run, with the call log cleared. */
static WHV_PARTITION_HANDLE after_a_run(UINT32 vp)
{
    WHV_PARTITION_HANDLE p = new_partition_with_vp(vp);
    CHECK_HR(run(p, vp), S_OK);
    fake.calls = 0;
    return p;
}

TEST(whv_lib_rip_after_a_run_rides_on_the_next_run)
{
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x1234), S_OK);
    CHECK_EQ(fake.calls, 0);                                   /* held, no hypercall */
    CHECK_HR(run(p, 0), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, HVCALL_SET_REGISTERS_AND_RUN_VP);
    uint8_t expected[16 + 4 + 12 + 16];                        /* head, one name, padding, one value */
    memset(expected, 0, sizeof expected);
    put64(expected, 0, handle_id(p));
    put32(expected, 8, 0);
    put32(expected, 12, 1);
    put32(expected, 16, WHvX64RegisterRip);
    put64(expected, 32, 0x1234);
    CHECK_EQ(fake.log[0].in_len, sizeof expected);
    CHECK_BYTES(fake.log[0].in_bytes, expected, sizeof expected);
    CHECK_EQ(fake_register(p, WHvX64RegisterRip), 0x1234);
    /* Sent once: the Run after that is a plain one. */
    CHECK_HR(run(p, 0), S_OK);
    CHECK_EQ(fake.log[1].code, HVCALL_RUN_VP);
    fake_finish();
}

TEST(whv_lib_held_writes_merge_later_wins)
{
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x10), S_OK);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRax, 0xAA), S_OK);
    WHV_REGISTER_NAME names[2] = { WHvX64RegisterRip, WHvX64RegisterRip };
    WHV_REGISTER_VALUE values[2] = { reg64(0x20), reg64(0x30) };
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, names, 2, values), S_OK);
    CHECK_EQ(fake.calls, 0);
    CHECK_HR(run(p, 0), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(registers_head(fake.log[0].in_bytes).count, 2);  /* RIP once, RAX */
    CHECK_EQ(fake_register(p, WHvX64RegisterRip), 0x30);
    CHECK_EQ(fake_register(p, WHvX64RegisterRax), 0xAA);
    fake_finish();
}

TEST(whv_lib_writes_before_any_run_are_made_at_once)
{
    fake_start();
    WHV_PARTITION_HANDLE p = new_partition_with_vp(0);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x7C00), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, HVCALL_SET_VP_REGISTERS);
    /* So does a write to a VP whose last Run failed: the hypervisor answers for it. */
    fake.fail_call = 2;
    fake.fail_status = HV_STATUS_INVALID_VP_INDEX;
    CHECK_HR(run(p, 0), WHV_E_VP_DOES_NOT_EXIST);
    fake.fail_call = 0;
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 1), S_OK);
    CHECK_EQ(fake.calls, 3);
    CHECK_EQ(fake.log[2].code, HVCALL_SET_VP_REGISTERS);
    fake_finish();
}

TEST(whv_lib_held_writes_go_out_before_a_read_or_another_write)
{
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x55), S_OK);
    WHV_REGISTER_NAME rip = WHvX64RegisterRip;
    WHV_REGISTER_VALUE v = reg64(0);
    CHECK_HR(WHvGetVirtualProcessorRegisters(p, 0, &rip, 1, &v), S_OK);
    CHECK_EQ(v.Reg64, 0x55);
    CHECK_EQ(fake.calls, 2);
    CHECK_EQ(fake.log[0].code, HVCALL_SET_VP_REGISTERS);
    CHECK_EQ(fake.log[1].code, HVCALL_GET_VP_REGISTERS);
    /* A register that is not held (CR0) goes at once, after the held RIP, in order. */
    fake.calls = 0;
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x66), S_OK);
    CHECK_HR(set_one(p, 0, WHvX64RegisterCr0, 0x11), S_OK);
    CHECK_EQ(fake.calls, 2);
    CHECK_EQ(fake.log[0].code, HVCALL_SET_VP_REGISTERS);
    CHECK_EQ(get32(fake.log[0].in_bytes, 16), WHvX64RegisterRip);
    CHECK_EQ(get32(fake.log[1].in_bytes, 16), WHvX64RegisterCr0);
    /* TranslateGva sees the VP as written. */
    fake.calls = 0;
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x77), S_OK);
    WHV_TRANSLATE_GVA_RESULT result;
    WHV_GUEST_PHYSICAL_ADDRESS gpa;
    CHECK_HR(WHvTranslateGva(p, 0, 0x1000, WHvTranslateGvaFlagValidateRead, &result, &gpa), S_OK);
    CHECK_EQ(fake.calls, 2);
    CHECK_EQ(fake.log[0].code, HVCALL_SET_VP_REGISTERS);
    CHECK_EQ(fake.log[1].code, HVCALL_TRANSLATE_GVA);
    CHECK_EQ(fake_register(p, WHvX64RegisterRip), 0x77);
    fake_finish();
}

TEST(whv_lib_held_writes_are_per_vp)
{
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    CHECK_HR(WHvCreateVirtualProcessor(p, 1, 0), S_OK);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRbx, 0xB0), S_OK);
    fake.calls = 0;
    CHECK_HR(run(p, 1), S_OK);                                 /* VP 1's Run carries nothing of VP 0's */
    CHECK_EQ(fake.log[0].code, HVCALL_RUN_VP);
    CHECK_HR(run(p, 0), S_OK);
    CHECK_EQ(fake.log[1].code, HVCALL_SET_REGISTERS_AND_RUN_VP);
    CHECK_EQ(fake_register(p, WHvX64RegisterRbx), 0xB0);
    fake_finish();
}

TEST(whv_lib_held_writes_die_with_the_vp_or_a_failed_call)
{
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x99), S_OK);
    CHECK_HR(WHvDeleteVirtualProcessor(p, 0), S_OK);
    CHECK_EQ(fake.calls, 1);                                   /* the delete only */
    CHECK_HR(WHvCreateVirtualProcessor(p, 0, 0), S_OK);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x5), S_OK);     /* a new VP: not held */
    CHECK_EQ(fake.log[2].code, HVCALL_SET_VP_REGISTERS);
    CHECK_HR(run(p, 0), S_OK);
    CHECK_EQ(fake.log[3].code, HVCALL_RUN_VP);
    /* A Run that fails leaves nothing armed: the next write is made at once. */
    fake.calls = 0;
    fake.fail_call = 1;
    fake.fail_status = HV_STATUS_INVALID_VP_STATE;
    CHECK_HR(run(p, 0), WHV_E_INVALID_VP_STATE);
    fake.fail_call = 0;
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x6), S_OK);
    CHECK_EQ(fake.calls, 2);
    CHECK_EQ(fake.log[1].code, HVCALL_SET_VP_REGISTERS);
    /* Deleting the partition drops what was held. */
    CHECK_HR(run(p, 0), S_OK);
    CHECK_HR(set_one(p, 0, WHvX64RegisterRip, 0x7), S_OK);
    fake.calls = 0;
    CHECK_HR(WHvDeletePartition(p), S_OK);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.log[0].code, HVCALL_DELETE_PARTITION);
    fake_finish();
}

TEST(whv_lib_only_rip_and_gprs_are_held)
{
    for (uint32_t name = 0; name < 0x100; name++)
        CHECK_EQ(whv_deferred_name_ok(name), name <= WHvX64RegisterRip);
    fake_start();
    WHV_PARTITION_HANDLE p = after_a_run(0);
    WHV_REGISTER_NAME names[2] = { WHvX64RegisterRip, WHvX64RegisterRflags };
    WHV_REGISTER_VALUE values[2] = { reg64(0x8), reg64(0x2) };
    CHECK_HR(WHvSetVirtualProcessorRegisters(p, 0, names, 2, values), S_OK);
    CHECK_EQ(fake.calls, 1);                                   /* a mixed call goes whole, at once */
    CHECK_EQ(fake.log[0].code, HVCALL_SET_VP_REGISTERS);
    fake_finish();
}
