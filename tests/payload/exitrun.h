/* exits.efi, the exit-script runner: shared by its files.
 *
 *   exitrun.c        entry point: finds and loads the pack, runs the tests, prints the TAP lines, the
 *                    coverage line and "exits: N passed, N failed"
 *   exitrun_pack.c   pack validation and record walking (pure: no firmware, no hypervisor)
 *   exitrun_guest.c  one test's partition, VP, guest memory and runs, through the WHV API
 *   exitrun_check.c  the invariants every exit must keep, and the scripts' expectations
 *
 * Format of the scripts: /work/shared/docs/exit-scripts.md; format of the pack: tools/exit_pack.h. */
#ifndef TESTS_PAYLOAD_EXITRUN_H
#define TESTS_PAYLOAD_EXITRUN_H

#include <stddef.h>
#include <stdint.h>
#include "api/whv_platform.h"
#include "tools/exit_pack.h"

/* ---- the pack (exitrun_pack.c) */

struct pack {
    const uint8_t *bytes;
    uint64_t size;
};

struct record {
    uint16_t op;          /* enum pack_op */
    uint32_t length;      /* of the payload */
    const uint8_t *data;  /* the payload */
};

/* Fixed-size payloads, as tools/exit_pack.h describes them (read with memcpy: see record_read). */
struct pack_map { uint64_t gpa, size; uint32_t flags, reserved; };
struct pack_unmap { uint64_t gpa, size; };
struct pack_property { uint32_t code, size; };            /* then value[size] */
struct pack_set_reg { uint32_t name, reserved; uint8_t value[16]; };
struct pack_run { uint32_t size, line; };
struct pack_expect_bytes { uint32_t offset, count; };     /* then bytes[count], text */

#define PACK_FIRST_RECORD ((uint64_t)sizeof(struct pack_header))

/* 1 when the whole pack is well formed (header, every record, every payload, test nesting, test count);
 * else 0 with the first reason in why. */
int pack_validate(const struct pack *p, char *why, size_t why_size);

/* Walks a validated pack: *cursor starts at PACK_FIRST_RECORD; 0 after the last record. */
int pack_next(const struct pack *p, uint64_t *cursor, struct record *r);

/* The first `size` bytes of a payload, for the fixed-size payload structs above. */
void record_read(const struct record *r, void *out, size_t size);

/* The NUL-terminated string at byte `at` of a payload (validation guarantees the NUL). */
const char *record_string(const struct record *r, uint32_t at);

/* ---- one test */

#define TEST_MAX_MAPS 32
#define TEST_MAX_PROBLEMS 16
#define TEST_PROBLEM_BYTES 240
#define TEST_FILE_BYTES 128

struct guest_map {
    uint64_t gpa, size;
    uint64_t host;       /* root pages (BS->AllocatePages), kept until the test ends */
    int mapped;          /* 0 once an unmap covered the whole range */
};

struct test {
    const char *name;
    char file[TEST_FILE_BYTES];   /* the script's path: the test's source "file:line" without ":line" */
    uint32_t mode;                /* enum pack_mode */
    uint64_t start_rip;
    WHV_PARTITION_HANDLE part;
    int setup_done, vp_created, stopped;
    uint64_t runner_area;         /* root pages behind the runner's GPA 0xF0000-0xFFFFF, 0 if none */
    struct guest_map maps[TEST_MAX_MAPS];
    unsigned n_maps;
    uint64_t exception_bitmap;    /* the last ExceptionExitBitmap the partition accepted */
    uint32_t run_line;            /* script line of the last run */
    int have_exit;
    WHV_RUN_VP_EXIT_CONTEXT last; /* the last exit: the buffer's first SIZE bytes, the rest zero */
    unsigned n_problems;
    char problems[TEST_MAX_PROBLEMS][TEST_PROBLEM_BYTES];
};

/* A failed check or call: the test fails, its records go on running. */
void problem(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A problem after which the test's remaining records are skipped (they would only report its echoes). */
void stop(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when hr succeeded; else stops the test with "WHAT: CALL failed: HRESULT 0x...". */
int whv_ok(struct test *t, HRESULT hr, const char *what, const char *call);

/* ---- partitions, VPs, memory and runs (exitrun_guest.c) */

int watchdog_init(void);      /* 1: the timer that bounds every run exists */
void watchdog_fini(void);

void guest_begin(struct test *t);   /* creates the partition */
void guest_end(struct test *t);     /* deletes the VP and partition, frees every page of the test */
void guest_property(struct test *t, const struct record *r);
void guest_map(struct test *t, const struct record *r);
void guest_unmap(struct test *t, const struct record *r);
void guest_bytes(struct test *t, const struct record *r);
void guest_set_reg(struct test *t, const struct record *r);
void guest_run(struct test *t, const struct record *r);
void guest_advance(struct test *t);
void guest_cancel(struct test *t);
/* The VP exists after guest_vp (set up in the test's mode on first use); 0 when the test stopped. */
int guest_vp(struct test *t);
int guest_get_regs(struct test *t, const WHV_REGISTER_NAME *names, UINT32 count, WHV_REGISTER_VALUE *values,
                   const char *what);

/* ---- invariants and expectations (exitrun_check.c) */

#define EXIT_REASON_COUNT 19
extern const struct exit_reason_name { uint32_t reason; const char *name; } exit_reason_names[EXIT_REASON_COUNT];
extern uint64_t exit_reason_seen[EXIT_REASON_COUNT];   /* exits seen, whole run: the coverage line */

void check_exit(struct test *t);   /* after every successful run: counts it, checks the invariants */
void check_expect(struct test *t, const struct record *r);
void check_expect_bytes(struct test *t, const struct record *r);
void check_expect_reg(struct test *t, const struct record *r);

#endif
