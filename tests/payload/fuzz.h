/* fuzz.efi, the in-hypervisor hypercall fuzzer (docs/fuzzing.md, "In-hypervisor hypercall fuzzer"):
 * shared between the firmware side (tests/payload/fuzz.c: configuration, memory, traps, checks, output)
 * and the engine (tests/payload/fuzz_engine.c: cases, the reference model, minimization). */
#ifndef TESTS_PAYLOAD_FUZZ_H
#define TESTS_PAYLOAD_FUZZ_H

#include <stdint.h>

/* ---- what fuzz.c provides */

/* One hypercall: VMCALL with a trap for #UD/#GP/#PF raised at that instruction (a hypervisor fault:
 * the status is then FUZZ_ROOT_FAULT | vector). Every call the fuzzer and the WHV library make goes
 * through it, and is counted. */
#define FUZZ_ROOT_FAULT 0xFA000000ull
uint64_t fuzz_call(uint64_t code, uint64_t in_gpa, uint64_t out_gpa);
extern uint64_t fuzz_calls;
extern uint64_t fuzz_run_regs_hypercalls;   /* of them, HVCALL_SET_REGISTERS_AND_RUN_VP */

void fuzz_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A progress mark on port 0xE9 (Bochs' --e9 file): survives a hypervisor panic. */
void fuzz_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog that bounds a Run: armed before every Run, it cancels (partition, vp) when the run
 * takes longer than one firmware timer period; disarm returns 1 when it fired. */
void fuzz_watchdog_arm(uint64_t partition, uint32_t vp);
int fuzz_watchdog_disarm(void);

/* ---- the environment the engine fuzzes in */

#define FUZZ_ARENA_PAGES 32      /* guest memory: every valid map is sourced here */
#define FUZZ_BLOCK_PAGES 8       /* hypercall blocks: in at page 0, out at page 4 */
#define FUZZ_BLOCK_IN 0
#define FUZZ_BLOCK_OUT (4 * 4096)

struct fuzz_env {
    uint64_t seed;
    uint64_t calls_target;       /* stop starting new cases once this many hypercalls were made */
    int64_t only_case;           /* >= 0: run this case alone, with a trace of every step */
    uint64_t hv_base, hv_size;   /* from GET_VERSION */
    uint64_t ram_top;            /* end of the highest RAM range of the memory map */
    uint64_t arena;              /* FUZZ_ARENA_PAGES pages, page aligned */
    uint64_t blocks;             /* FUZZ_BLOCK_PAGES pages */
    uint64_t edge_page;          /* 0, or a page we own that ends a RAM range (a hole follows) */
    uint64_t hv_below_page;      /* 0, or the page just below hv_base, which we own */
};

struct fuzz_result {
    uint64_t cases;
    uint64_t findings;           /* model mismatches (a must-fail call succeeded counts as a fault too) */
    uint64_t faults;             /* hypervisor faults: root exceptions, broken answers, must-fail successes */
    uint64_t leak_cases;         /* cases after which the pool was not back at its level */
    uint64_t invalid_vp_exits;   /* InvalidVpRegisterValue exits (Bochs logs one VMENTER FAIL each) */
    uint64_t runs, canceled_runs, watchdog_fires;
    uint64_t run_regs_calls;         /* SET_REGISTERS_AND_RUN_VP steps (lifecycle, burst, raw code 0x20) */
    uint64_t run_regs_readbacks;     /* refused ones whose VP was read back before and after: unchanged */
    uint64_t run_regs_cancel_checks; /* ones Canceled at once whose writes were read back */
    uint64_t status_seen[16];    /* per status class, for the statistics line */
};

/* Runs cases until env->calls_target hypercalls were made (or the one case of only_case). Prints a
 * finding with its seed, its case and the shortest reproducing step sequence. */
void fuzz_run(const struct fuzz_env *env, struct fuzz_result *r);

/* Hypervisor health: GET_VERSION answers with the magic, and GET_STATS / SELF_CHECK answer. */
int fuzz_pool_used(uint64_t *pages);
int fuzz_self_check(uint64_t *checksum, uint32_t *partitions, uint32_t *vps);
int fuzz_version_ok(void);

#endif
