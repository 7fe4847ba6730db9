/* exitc, the exit-script compiler: turns *.exits scripts (/work/shared/docs/exit-scripts.md, with the
 * repository's extensions in docs/exit-scripts.md) into the pack that the in-root runner executes
 * (tools/exit_pack.h). Shared by its files and by tests/host/test_exitc.c.
 *
 *   exitc.c         compile entry: inputs (files, directories), the pack image, writing it
 *   exitc_script.c  the statements of one script, each test compiled to its records or to an error
 *   exitc_names.c   WHV names: registers, exit reasons, properties, exit-context field paths
 *   exitc_nasm.c    `code` blocks through NASM
 *   exitc_buffer.c  growable byte buffers and pack records
 *   exitc_main.c    main(): the command line only, so the tests link everything else */
#ifndef TOOLS_EXITC_API_H
#define TOOLS_EXITC_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tools/exit_pack.h"

/* ---- memory, byte buffers and records (exitc_buffer.c). Allocation failure ends the program: exitc
 * is a short-lived host tool and has nothing sensible to do without memory. */

void *exitc_realloc(void *p, size_t size);
char *exitc_string_copy(const char *s, size_t n);   /* the first n bytes of s, NUL-terminated */

struct exitc_buffer {
    uint8_t *bytes;
    size_t size, capacity;
};

void exitc_buffer_append(struct exitc_buffer *b, const void *data, size_t size);
void exitc_buffer_append_string(struct exitc_buffer *b, const char *s);   /* with its NUL */
void exitc_buffer_free(struct exitc_buffer *b);

/* A record is written as begin, payload appends, end: end fills in the length and pads to 8 bytes. */
size_t exitc_record_begin(struct exitc_buffer *b, uint16_t op);
void exitc_record_end(struct exitc_buffer *b, size_t begin);

/* ---- WHV names (exitc_names.c) */

struct exitc_name_value {
    const char *name;
    uint64_t value;
};

/* Register kinds decide a value's syntax: segments and table registers take several numbers, the
 * 128-bit registers up to 32 hex digits, the rest one 64-bit number. */
enum exitc_register_kind { EXITC_REG_64, EXITC_REG_128, EXITC_REG_SEGMENT, EXITC_REG_TABLE };

int exitc_register_lookup(const char *name, uint32_t *value, enum exitc_register_kind *kind);

/* How a property's value is written in a script. */
enum exitc_property_form {
    EXITC_PROPERTY_NUMBER,      /* one number, stored in `size` bytes */
    EXITC_PROPERTY_BIT_NAMES,   /* a number or `+`-joined bit names (and numbers), OR-ed */
    EXITC_PROPERTY_LEAF_LIST,   /* comma-separated u32 values (CpuidExitList) */
    EXITC_PROPERTY_RAW_BYTES,   /* hex bytes: a list of `size`-byte elements, or exactly `size` bytes */
};

struct exitc_property {
    const char *name;
    uint32_t code;              /* WHV_PARTITION_PROPERTY_CODE */
    uint32_t size;              /* the WHV_PARTITION_PROPERTY member's size (of one element for lists) */
    enum exitc_property_form form;
    int list;                   /* any number of `size`-byte elements (CpuidExitList, CpuidResultList...) */
    const struct exitc_name_value *bit_names;   /* BIT_NAMES: name -> mask, NULL-terminated */
};

const struct exitc_property *exitc_property_lookup(const char *name);

/* A field of WHV_RUN_VP_EXIT_CONTEXT resolved from its path ("IoPortAccess.AccessInfo.IsWrite",
 * "Hypercall.XmmRegisters[2].High64"): `expect` as the pack stores it (value 0). `instruction_bytes`:
 * the path names an InstructionBytes array, compared by hex prefix (PACK_EXPECT_BYTES at expect.offset,
 * at most `byte_capacity` bytes). `value_names`: names the field's values may be given by (the exit
 * reasons for ExitReason), NULL-terminated, or NULL; `value_kind` names them in messages. */
struct exitc_field {
    struct pack_expect expect;
    int instruction_bytes;
    uint32_t byte_capacity;
    const struct exitc_name_value *value_names;
    const char *value_kind;
};

/* 1 when `path` names a field; else 0 with the reason in `why`. */
int exitc_field_resolve(const char *path, struct exitc_field *out, char *why, size_t why_size);

/* Looks `name` up in a NULL-terminated table; 1 when found. */
int exitc_name_lookup(const struct exitc_name_value *table, const char *name, uint64_t *value);

/* ---- `code` blocks (exitc_nasm.c) */

enum exitc_assembly {
    EXITC_ASSEMBLED,            /* `out` holds the bytes */
    EXITC_NASM_REJECTED,        /* a script error: `why` holds NASM's first error, *line its block line */
    EXITC_NASM_UNAVAILABLE,     /* no temporary files or no nasm: an environment error, in `why` */
};

/* Assembles NASM `source` as `bits` (16, 32, 64) code at `org`. *line is the 1-based line of `source`
 * NASM's first error names, 0 when it names none. */
enum exitc_assembly exitc_assemble(unsigned bits, uint64_t org, const char *source, struct exitc_buffer *out,
                                   unsigned *line, char *why, size_t why_size);

/* ---- scripts and packs (exitc_script.c, exitc.c) */

struct exitc_test_name;   /* the names seen so far, for "unique in its directory" */

struct exitc_pack {
    struct exitc_buffer records;   /* every test's records, in input order */
    uint32_t test_count;
    uint32_t error_count;          /* tests compiled to a PACK_ERROR */
    struct exitc_test_name *names;
    char fatal[512];               /* an environment error (nasm missing): no pack is written */
};

/* Appends the tests of one script. `file` names it in messages ("file:line: reason") and decides the
 * directory its test names must be unique in. Each script error also goes to `diag` (may be NULL). */
void exitc_compile_script(struct exitc_pack *pack, const char *file, const char *text, FILE *diag);

/* The pack file: header, then the records. */
void exitc_pack_image(const struct exitc_pack *pack, struct exitc_buffer *image);
void exitc_pack_free(struct exitc_pack *pack);

/* The whole tool: compiles `paths` (files, or directories whose *.exits files are taken in name order)
 * into the pack `out_path`. Returns 0 when the pack was written (script errors are failing tests inside
 * it), 2 on a usage, I/O or environment error. `diag` (not NULL) gets the reasons, each script error and
 * a summary line. */
int exitc_compile(const char *const *paths, int n, const char *out_path, FILE *diag);

#endif
