/* The compiled form of exit scripts (docs: /work/shared/docs/exit-scripts.md), written by the host
 * compiler tools/exitc and read by the runner in the root partition (tests/payload/exitrun.c).
 *
 * A pack is a header followed by records. Every record is { u16 op, u16 reserved (0), u32 length }
 * followed by `length` payload bytes, then zero padding to an 8-byte boundary. All integers are
 * little-endian. Strings are NUL-terminated and their bytes are counted in `length`. Records of one test
 * lie between PACK_TEST_BEGIN and PACK_TEST_END; statements appear in script order. A test the compiler
 * could not compile holds a PACK_ERROR record and nothing executable: the runner reports it as a failing
 * test with the message (which names the file, the line and the reason). */
#ifndef TOOLS_EXIT_PACK_H
#define TOOLS_EXIT_PACK_H

#include <stdint.h>

#define PACK_MAGIC "HVXEXIT1"
#define PACK_VERSION 1
#define PACK_FILE_NAME "exits.pack"   /* beside the runner on the ESP: \EFI\hvx\exits.pack */
#define PACK_MAX_BYTES (8u << 20)

struct pack_header {
    char magic[8];          /* PACK_MAGIC, no NUL */
    uint32_t version;       /* PACK_VERSION */
    uint32_t test_count;
};

struct pack_record { uint16_t op; uint16_t reserved; uint32_t length; };

enum pack_op {
    PACK_TEST_BEGIN = 1,    /* char name[] ; then char source[] ("file:line" of the `test` line)     */
    PACK_TEST_END = 2,      /* empty */
    PACK_ERROR = 3,         /* char message[]: "file:line: reason"                                    */
    PACK_MODE = 4,          /* u32 mode (enum pack_mode)                                              */
    PACK_MAP = 5,           /* u64 gpa, u64 size, u32 flags (WHV_MAP_GPA_RANGE_FLAGS), u32 0         */
    PACK_UNMAP = 6,         /* u64 gpa, u64 size                                                      */
    PACK_PROPERTY = 7,      /* u32 code (WHV_PARTITION_PROPERTY_CODE), u32 size, u8 value[size]      */
    PACK_BYTES = 8,         /* u64 gpa, u8 bytes[length - 8]: assembled `code` or `data` bytes       */
    PACK_START_RIP = 9,     /* u64 rip: the first `code` block's GPA                                  */
    PACK_SET_REG = 10,      /* u32 name (WHV_REGISTER_NAME), u32 0, u8 value[16] (WHV_REGISTER_VALUE)*/
    PACK_RUN = 11,          /* u32 exit-context buffer size (224 unless `run SIZE`), u32 line         */
    PACK_EXPECT = 12,       /* struct pack_expect, then char text[] ("file:line: FIELD")              */
    PACK_EXPECT_BYTES = 13, /* u32 offset, u32 count, u8 bytes[count], char text[]: prefix of InstructionBytes */
    PACK_EXPECT_REG = 14,   /* u32 name, u32 0, u8 value[16], char text[]: WHvGetVirtualProcessorRegisters, compare Reg64 (or 16 bytes for 128-bit registers) */
    PACK_ADVANCE = 15,      /* empty: Rip = last VpContext.Rip + VpContext.InstructionLength          */
    PACK_CANCEL = 16,       /* empty: WHvCancelRunVirtualProcessor now                                */
};

enum pack_mode { PACK_MODE_REAL = 0, PACK_MODE_PROTECTED = 1, PACK_MODE_LONG = 2 };

/* One field of WHV_RUN_VP_EXIT_CONTEXT, resolved by the compiler from its path: bytes [offset,
 * offset + size) read as a little-endian integer, then, when bit_width is not 0, bits
 * [bit_offset, bit_offset + bit_width) of it. */
struct pack_expect {
    uint32_t offset;
    uint16_t size;          /* 1, 2, 4 or 8 */
    uint8_t bit_offset;
    uint8_t bit_width;      /* 0: the whole field */
    uint64_t value;
};

_Static_assert(sizeof(struct pack_header) == 16, "pack header layout");
_Static_assert(sizeof(struct pack_record) == 8, "pack record layout");
_Static_assert(sizeof(struct pack_expect) == 16, "pack expect layout");

#endif
