/* The hypercall ABI between the root partition and the hypervisor. Documented in docs/hypercall-abi.md;
 * this header is its machine-readable half and is versioned with it.
 *
 * Calling convention (TLFS style): VMCALL at CPL 0 in the root partition with
 *   RCX = call code, RDX = GPA of the input block (0 if none), R8 = GPA of the output block;
 *   on return RAX = status; every other register is preserved. */
#ifndef API_HV_ABI_H
#define API_HV_ABI_H

#include <stddef.h>
#include <stdint.h>

#define HV_ABI_VERSION_MAJOR 1
#define HV_ABI_VERSION_MINOR 3
#define HV_ABI_VERSION ((HV_ABI_VERSION_MAJOR << 16) | HV_ABI_VERSION_MINOR)

/* CPUID leaves the hypervisor adds (CPUID.1:ECX bit 31 tells they exist). */
#define HV_CPUID_VENDOR_LEAF   0x40000000u  /* EAX = max leaf; EBX:ECX:EDX = "HVXmicrovisr" */
#define HV_CPUID_VERSION_LEAF  0x40000001u  /* EAX = HV_ABI_VERSION; EBX = HV_INTERFACE_ID */
#define HV_CPUID_MAX_LEAF      HV_CPUID_VERSION_LEAF
#define HV_SIGNATURE           "HVXmicrovisr"
#define HV_INTERFACE_ID        0x31585648u  /* "HVX1" */

enum hv_call_code {
    HVCALL_GET_VERSION = 0x0001,  /* out: struct hv_version_out */
    HVCALL_GET_STATS   = 0x0002,  /* out: struct hv_stats_out */
    /* Partitions (ABI 1.1). Inputs start with the partition id; ids are never 0 and never reused
     * while the hypervisor runs, so a stale id fails cleanly instead of naming a new partition. */
    HVCALL_CREATE_PARTITION = 0x0010,        /* out: struct hv_partition_out */
    HVCALL_DELETE_PARTITION = 0x0011,        /* in: struct hv_partition_in */
    HVCALL_SET_PARTITION_PROPERTY = 0x0012,  /* in: struct hv_property_in + value */
    HVCALL_GET_PARTITION_PROPERTY = 0x0013,  /* in: struct hv_property_in; out: hv_property_out + value */
    HVCALL_SETUP_PARTITION = 0x0014,         /* in: struct hv_partition_in */
    HVCALL_MAP_GPA_RANGE = 0x0015,           /* in: struct hv_map_gpa_in */
    HVCALL_UNMAP_GPA_RANGE = 0x0016,         /* in: struct hv_unmap_gpa_in */
    HVCALL_CREATE_VP = 0x0017,               /* in: struct hv_vp_in */
    HVCALL_DELETE_VP = 0x0018,               /* in: struct hv_vp_in */
    HVCALL_RUN_VP = 0x0019,                  /* in: struct hv_vp_in; out: WHV_RUN_VP_EXIT_CONTEXT (224) */
    HVCALL_CANCEL_RUN_VP = 0x001A,           /* in: struct hv_vp_in */
    HVCALL_GET_VP_REGISTERS = 0x001B,        /* in: hv_vp_registers_in + names; out: values */
    HVCALL_SET_VP_REGISTERS = 0x001C,        /* in: hv_vp_registers_in + names + values */
    HVCALL_TRANSLATE_GVA = 0x001D,           /* in: struct hv_translate_gva_in; out: hv_translate_gva_out */
    HVCALL_READ_GPA = 0x001E,                /* in: struct hv_gpa_access_in; out: size bytes */
    HVCALL_WRITE_GPA = 0x001F,               /* in: struct hv_gpa_access_in + size bytes */
    /* ABI 1.3: SET_VP_REGISTERS then RUN_VP in one call, for the VMM loop's "advance RIP, run again". */
    HVCALL_SET_REGISTERS_AND_RUN_VP = 0x0020, /* in: as SET_VP_REGISTERS (RIP and GPRs only); out: as RUN_VP */
};

/* Hyper-V status numbering (TLFS); the management library reports them as 0xC0350000 | status. */
enum hv_status {
    HV_STATUS_SUCCESS = 0,
    HV_STATUS_INVALID_HYPERCALL_CODE = 2,
    HV_STATUS_INVALID_HYPERCALL_INPUT = 3,
    HV_STATUS_INVALID_ALIGNMENT = 4,
    HV_STATUS_INVALID_PARAMETER = 5,
    HV_STATUS_ACCESS_DENIED = 6,
    HV_STATUS_INVALID_PARTITION_STATE = 7,
    HV_STATUS_OPERATION_DENIED = 8,
    HV_STATUS_UNKNOWN_PROPERTY = 9,
    HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE = 0xA,
    HV_STATUS_INSUFFICIENT_MEMORY = 0xB,
    HV_STATUS_INVALID_PARTITION_ID = 0xD,    /* no such partition (never created, or deleted) */
    HV_STATUS_INVALID_VP_INDEX = 0xE,        /* no such virtual processor */
    HV_STATUS_INVALID_VP_STATE = 0x15,       /* e.g. deleting a VP that is running */
    HV_STATUS_INSUFFICIENT_BUFFER = 0x33,    /* an output buffer smaller than the natural size */
    HV_STATUS_INVALID_REGISTER_VALUE = 0x50, /* a value invalid on its own (not a combination) */
    /* hvx-specific, above the TLFS range */
    HVX_STATUS_VP_ALREADY_EXISTS = 0x1001,
    HVX_STATUS_UNKNOWN_REGISTER_NAME = 0x1002,
};

/* Blocks are 8-byte aligned, lie wholly in RAM the root owns, and never exceed HV_MAX_BLOCK_BYTES. */
#define HV_BLOCK_ALIGN 8
#define HV_MAX_BLOCK_BYTES 4096

#define HV_VERSION_MAGIC 0x31585648u /* "HVX1" */
struct hv_version_out {
    uint32_t magic;             /* HV_VERSION_MAGIC */
    uint32_t abi_version;       /* HV_ABI_VERSION */
    char build_id[48];          /* NUL-terminated, e.g. "hvx 0.1.0 (git 1a2b3c4)" */
    uint64_t hv_base;           /* the hypervisor's physical memory: hidden from the root */
    uint64_t hv_size;
    uint32_t cpus_virtualized;  /* logical CPUs now running under the hypervisor */
    uint32_t cpus_total;        /* logical CPUs the loader found */
    uint64_t features;          /* reserved, 0 */
};
_Static_assert(sizeof(struct hv_version_out) == 88, "hv_version_out layout");
_Static_assert(offsetof(struct hv_version_out, hv_base) == 56, "hv_version_out layout");

#define HV_STATS_EXIT_REASONS 80
struct hv_stats_out {
    uint64_t exits[HV_STATS_EXIT_REASONS]; /* per VMX basic exit reason, all CPUs */
    uint64_t pool_pages_total;
    uint64_t pool_pages_used;
    uint64_t pool_pages_free;
    uint64_t root_ept_pages;       /* paging-structure pages of the root partition's EPT */
    uint64_t hidden_access_faults; /* root accesses to hypervisor memory answered with #GP */
    uint64_t hypercalls;           /* hypercalls served, all CPUs */
    uint32_t cpus_virtualized;
    uint32_t reserved;
};
_Static_assert(sizeof(struct hv_stats_out) == 80 * 8 + 7 * 8, "hv_stats_out layout");
_Static_assert(offsetof(struct hv_stats_out, pool_pages_total) == 640, "hv_stats_out layout");

/* ---- partition calls (ABI 1.1) */

#define HV_MAX_PARTITIONS 16          /* live partitions at once */
#define HV_MAX_VPS_PER_PARTITION 4
#define HV_MAX_REGISTERS_PER_CALL 64  /* names (4 bytes) and values (16 bytes) fit one 4 KiB block */

struct hv_partition_in { uint64_t partition; };
struct hv_partition_out { uint64_t partition; };

struct hv_property_in {
    uint64_t partition;
    uint32_t code;            /* WHV_PARTITION_PROPERTY_CODE */
    uint32_t size;            /* bytes of value that follow (set) or the caller's buffer size (get) */
    /* set: uint8_t value[size] follows, at most HV_MAX_BLOCK_BYTES - 16 */
};
struct hv_property_out {
    uint32_t written;         /* natural size of the property */
    uint32_t reserved;
    /* uint8_t value[written] follows */
};

struct hv_map_gpa_in {
    uint64_t partition;
    uint64_t source;          /* root GPA of the memory to map (page aligned, root RAM) */
    uint64_t gpa;             /* guest-physical address in the partition */
    uint64_t size;
    uint32_t flags;           /* WHV_MAP_GPA_RANGE_FLAGS */
    uint32_t reserved;
};
struct hv_unmap_gpa_in { uint64_t partition; uint64_t gpa; uint64_t size; };

struct hv_vp_in {
    uint64_t partition;
    uint32_t vp;
    uint32_t flags;           /* 0 */
};

struct hv_vp_registers_in {
    uint64_t partition;
    uint32_t vp;
    uint32_t count;           /* 1 .. HV_MAX_REGISTERS_PER_CALL */
    /* uint32_t names[count], then (set only) padding to 16 bytes and WHV_REGISTER_VALUE values[count] */
};

_Static_assert(sizeof(struct hv_property_in) == 16, "hv_property_in layout");
_Static_assert(sizeof(struct hv_map_gpa_in) == 40, "hv_map_gpa_in layout");
_Static_assert(sizeof(struct hv_unmap_gpa_in) == 24, "hv_unmap_gpa_in layout");
_Static_assert(sizeof(struct hv_vp_in) == 16, "hv_vp_in layout");
_Static_assert(sizeof(struct hv_vp_registers_in) == 16, "hv_vp_registers_in layout");
_Static_assert(16 + HV_MAX_REGISTERS_PER_CALL * 4 + HV_MAX_REGISTERS_PER_CALL * 16 <= HV_MAX_BLOCK_BYTES,
               "a full register call fits one block");

struct hv_translate_gva_in {
    uint64_t partition;
    uint32_t vp;
    uint32_t flags;           /* WHV_TRANSLATE_GVA_FLAGS */
    uint64_t gva;
};
struct hv_translate_gva_out {
    uint32_t result_code;     /* WHV_TRANSLATE_GVA_RESULT_CODE */
    uint32_t reserved;
    uint64_t gpa;             /* valid when result_code is Success */
};

#define HV_MAX_GPA_ACCESS_BYTES 1024  /* one READ_GPA / WRITE_GPA call; the library splits larger ones */
struct hv_gpa_access_in {
    uint64_t partition;
    uint32_t vp;
    uint32_t size;            /* 1 .. HV_MAX_GPA_ACCESS_BYTES; WRITE_GPA: the bytes follow */
    uint64_t gpa;
};
_Static_assert(sizeof(struct hv_translate_gva_in) == 24, "hv_translate_gva_in layout");
_Static_assert(sizeof(struct hv_translate_gva_out) == 16, "hv_translate_gva_out layout");
_Static_assert(sizeof(struct hv_gpa_access_in) == 24, "hv_gpa_access_in layout");

/* Offset of the values in a SET_VP_REGISTERS input block with `count` names. */
static inline uint32_t hv_registers_values_offset(uint32_t count)
{
    return (uint32_t)((sizeof(struct hv_vp_registers_in) + count * 4u + 15u) & ~15u);
}

/* HVCALL_SET_REGISTERS_AND_RUN_VP names only registers whose every value is valid, so applying them
 * cannot fail once the VP is claimed: RAX..R15 (WHV names 0..15) and RIP (16). A name given twice
 * takes its later value, as in SET_VP_REGISTERS. */
#define HV_RUN_REGISTERS_MAX 17u
static inline int hv_run_register_name_ok(uint32_t name)
{
    return name <= 16u;   /* WHvX64RegisterRax .. WHvX64RegisterR15, WHvX64RegisterRip */
}

/* ---- HVCALL_SELF_CHECK (0x0003): the hypervisor's view of itself, for fuzzers and health checks. */
#define HVCALL_SELF_CHECK 0x0003      /* out: struct hv_self_check_out */
struct hv_self_check_out {
    uint64_t checksum;        /* FNV-1a over the qwords of the core's text and rodata (immutable image) */
    uint64_t image_bytes;     /* bytes checksummed: __core_start .. __core_text_end */
    uint32_t partitions;      /* live child partitions */
    uint32_t vps;             /* live virtual processors, all partitions */
    uint64_t reserved;        /* 0 */
};
_Static_assert(sizeof(struct hv_self_check_out) == 32, "hv_self_check_out layout");
_Static_assert(offsetof(struct hv_self_check_out, image_bytes) == 8, "hv_self_check_out layout");
_Static_assert(offsetof(struct hv_self_check_out, partitions) == 16, "hv_self_check_out layout");
_Static_assert(offsetof(struct hv_self_check_out, vps) == 20, "hv_self_check_out layout");
_Static_assert(offsetof(struct hv_self_check_out, reserved) == 24, "hv_self_check_out layout");

#endif
