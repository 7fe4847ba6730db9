/* The table of register writes the library holds back (api/whv_deferred.h, docs/whv-library.md). A
 * slot is "armed" for a VP whose last call through this library was a Run that returned S_OK: the VP
 * exists and is not running, so a write of RIP or a GPR cannot fail and may wait for the next Run. The
 * lock covers only the table; no hypercall is made under it, so a long Run never holds anyone up. */
#include "api/whv_deferred.h"
#include "arch/x86/spinlock.h"
#include "arch/x86/string.h"

/* Direct-mapped by (partition, vp): every operation touches one slot, no search (this is on every Run's
 * path). Two VPs that share a slot take turns; one with writes held keeps it until they are sent. */
static struct {
    struct spinlock lock;
    struct whv_deferred_slot slot[WHV_DEFERRED_SLOTS];
} table;

static struct whv_deferred_slot *slot_of(uint64_t partition, uint32_t vp)
{
    return &table.slot[(partition * HV_MAX_VPS_PER_PARTITION + vp) % WHV_DEFERRED_SLOTS];
}

static struct whv_deferred_slot *find(uint64_t partition, uint32_t vp)
{
    struct whv_deferred_slot *s = slot_of(partition, vp);
    return s->armed && s->partition == partition && s->vp == vp ? s : NULL;
}

/* Moves the slot's writes to the caller (only those there are: this is on every Run's path) and
 * empties it; returns how many. */
static uint32_t take(struct whv_deferred_slot *s, struct whv_deferred_writes *out)
{
    uint32_t n = s->writes.count;
    out->count = n;
    for (uint32_t i = 0; i < n; i++) {
        out->names[i] = s->writes.names[i];
        out->values[i] = s->writes.values[i];
    }
    s->writes.count = 0;
    return n;
}

bool whv_deferred_name_ok(uint32_t name)
{
    return hv_run_register_name_ok(name);
}

void whv_deferred_arm(uint64_t partition, uint32_t vp)
{
    spin_lock(&table.lock);
    struct whv_deferred_slot *s = slot_of(partition, vp);
    /* A free slot, or one armed with nothing held: taking that one only costs its VP a hypercall for
     * its next write. A slot with writes held is never taken here. */
    if (!s->armed || s->writes.count == 0) {
        s->armed = true;
        s->partition = partition;
        s->vp = vp;
        s->writes.count = 0;
    }
    spin_unlock(&table.lock);
}

uint32_t whv_deferred_take_for_run(uint64_t partition, uint32_t vp, struct whv_deferred_writes *out)
{
    uint32_t n = 0;
    spin_lock(&table.lock);
    struct whv_deferred_slot *s = find(partition, vp);
    if (s) {
        n = take(s, out);
        s->armed = false;   /* running now: a write from another thread must reach the hypervisor */
    }
    spin_unlock(&table.lock);
    return n;
}

uint32_t whv_deferred_take_for_flush(uint64_t partition, uint32_t vp, struct whv_deferred_writes *out)
{
    uint32_t n = 0;
    spin_lock(&table.lock);
    struct whv_deferred_slot *s = find(partition, vp);
    if (s)
        n = take(s, out);   /* still armed: the flush does not run the VP */
    spin_unlock(&table.lock);
    return n;
}

/* Later writes of a name replace earlier ones, as they would in the VP. */
static void merge(struct whv_deferred_writes *w, uint32_t name, const WHV_REGISTER_VALUE *value)
{
    uint32_t i = 0;
    while (i < w->count && w->names[i] != name)
        i++;
    w->names[i] = name;
    w->values[i] = *value;
    if (i == w->count)
        w->count++;
}

bool whv_deferred_add(uint64_t partition, uint32_t vp, const WHV_REGISTER_NAME *names, uint32_t count,
                      const WHV_REGISTER_VALUE *values)
{
    for (uint32_t i = 0; i < count; i++)
        if (!whv_deferred_name_ok((uint32_t)names[i]))
            return false;
    bool held = false;
    spin_lock(&table.lock);
    struct whv_deferred_slot *s = find(partition, vp);
    if (s && count > 0) {
        /* Names are distinct within a slot and there are HV_RUN_REGISTERS_MAX of them: it never fills. */
        for (uint32_t i = 0; i < count; i++)
            merge(&s->writes, (uint32_t)names[i], &values[i]);
        held = true;
    }
    spin_unlock(&table.lock);
    return held;
}

void whv_deferred_disarm(uint64_t partition, uint32_t vp)
{
    spin_lock(&table.lock);
    struct whv_deferred_slot *s = find(partition, vp);
    if (s) {
        s->armed = false;
        s->writes.count = 0;
    }
    spin_unlock(&table.lock);
}

void whv_deferred_forget_partition(uint64_t partition)
{
    spin_lock(&table.lock);
    for (unsigned i = 0; i < WHV_DEFERRED_SLOTS; i++)
        if (table.slot[i].partition == partition) {
            table.slot[i].armed = false;
            table.slot[i].writes.count = 0;
        }
    spin_unlock(&table.lock);
}
