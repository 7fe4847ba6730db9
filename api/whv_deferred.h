/* Register writes the WHV library holds back until the VP's next Run (docs/whv-library.md, "Deferred
 * register writes"). The VMM loop's "RIP = Rip + InstructionLength, Run" then costs one hypercall
 * (HVCALL_SET_REGISTERS_AND_RUN_VP) instead of two, with the caller's semantics unchanged: only writes
 * that cannot fail are held (RIP and the GPRs of a VP that exists and is not running), and any other
 * call that could observe the VP's registers sends them first. */
#ifndef API_WHV_DEFERRED_H
#define API_WHV_DEFERRED_H

#include <stdbool.h>
#include <stdint.h>
#include "api/hv_abi.h"
#include "api/whv_platform.h"
#include "arch/x86/spinlock.h"

#define WHV_DEFERRED_SLOTS 16  /* slots, direct-mapped by (partition, vp); a VP without one writes at once */

struct whv_deferred_writes {
    uint32_t count;
    uint32_t names[HV_RUN_REGISTERS_MAX];
    WHV_REGISTER_VALUE values[HV_RUN_REGISTERS_MAX];
};

struct whv_deferred_slot {
    bool armed;                /* the VP's last call here was a Run that returned S_OK */
    uint64_t partition;
    uint32_t vp;
    struct whv_deferred_writes writes;
};

/* The table (api/whv_deferred.c): direct-mapped by (partition, vp), so every operation touches one
 * slot; the two on every Run's path are inline below (a call costs as much as a dozen instructions in
 * Bochs' ticks, docs/bench.md). The lock covers only the table; no hypercall is made under it. */
struct whv_deferred_table {
    struct spinlock lock;
    struct whv_deferred_slot slot[WHV_DEFERRED_SLOTS];
};
extern struct whv_deferred_table whv_deferred_table;

static inline struct whv_deferred_slot *whv_deferred_slot_of(uint64_t partition, uint32_t vp)
{
    return &whv_deferred_table.slot[(partition * HV_MAX_VPS_PER_PARTITION + vp) % WHV_DEFERRED_SLOTS];
}

/* The slot armed for (partition, vp), or NULL. */
static inline struct whv_deferred_slot *whv_deferred_find(uint64_t partition, uint32_t vp)
{
    struct whv_deferred_slot *s = whv_deferred_slot_of(partition, vp);
    return s->armed && s->partition == partition && s->vp == vp ? s : 0;
}

/* RIP or a GPR: a name whose every value the hypervisor accepts. */
bool whv_deferred_name_ok(uint32_t name);

/* After a Run of (partition, vp) returned S_OK. A free slot, or one armed with nothing held, is
 * taken (the VP that loses it only pays a hypercall for its next write); one with writes held is not. */
static inline void whv_deferred_arm(uint64_t partition, uint32_t vp)
{
    spin_lock(&whv_deferred_table.lock);
    struct whv_deferred_slot *s = whv_deferred_slot_of(partition, vp);
    if (!s->armed || s->writes.count == 0) {
        s->armed = true;
        s->partition = partition;
        s->vp = vp;
        s->writes.count = 0;
    }
    spin_unlock(&whv_deferred_table.lock);
}
/* Holds the writes when the VP is armed and every name is RIP or a GPR; false: make them now. */
bool whv_deferred_add(uint64_t partition, uint32_t vp, const WHV_REGISTER_NAME *names, uint32_t count,
                      const WHV_REGISTER_VALUE *values);
/* A Run is starting: the held writes (returned count, copied to out) and the VP no longer armed (a
 * write from another thread while it runs must reach the hypervisor, which refuses it). */
uint32_t whv_deferred_take(struct whv_deferred_slot *s, struct whv_deferred_writes *out);
static inline uint32_t whv_deferred_take_for_run(uint64_t partition, uint32_t vp, struct whv_deferred_writes *out)
{
    uint32_t n = 0;
    spin_lock(&whv_deferred_table.lock);
    struct whv_deferred_slot *s = whv_deferred_find(partition, vp);
    if (s) {
        n = s->writes.count ? whv_deferred_take(s, out) : 0;
        s->armed = false;
    }
    spin_unlock(&whv_deferred_table.lock);
    return n;
}
/* Another call on the VP is starting: the held writes, to be made first; the VP stays armed. */
uint32_t whv_deferred_take_for_flush(uint64_t partition, uint32_t vp, struct whv_deferred_writes *out);
/* The VP's state is unknown (a failed call) or gone (deleted): nothing held, not armed. */
void whv_deferred_disarm(uint64_t partition, uint32_t vp);
void whv_deferred_forget_partition(uint64_t partition);

#endif
