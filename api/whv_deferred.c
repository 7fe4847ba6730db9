/* The table of register writes the library holds back (api/whv_deferred.h, docs/whv-library.md); the two
 * operations on every Run's path are inline in the header. A slot is "armed" for a VP whose last call
 * through this library was a Run that returned S_OK: the VP exists and is not running, so a write of
 * RIP or a GPR cannot fail and may wait for the next Run. */
#include "api/whv_deferred.h"
#include "arch/x86/spinlock.h"
#include "arch/x86/string.h"

struct whv_deferred_table whv_deferred_table;

/* Moves the slot's writes to the caller (only those there are: this is on every Run's path) and
 * empties it; returns how many. */
uint32_t whv_deferred_take(struct whv_deferred_slot *s, struct whv_deferred_writes *out)
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

uint32_t whv_deferred_take_for_flush(uint64_t partition, uint32_t vp, struct whv_deferred_writes *out)
{
    uint32_t n = 0;
    spin_lock(&whv_deferred_table.lock);
    struct whv_deferred_slot *s = whv_deferred_find(partition, vp);
    if (s)
        n = whv_deferred_take(s, out);   /* still armed: the flush does not run the VP */
    spin_unlock(&whv_deferred_table.lock);
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
    spin_lock(&whv_deferred_table.lock);
    struct whv_deferred_slot *s = whv_deferred_find(partition, vp);
    if (s && count > 0) {
        /* Names are distinct within a slot and there are HV_RUN_REGISTERS_MAX of them: it never fills. */
        for (uint32_t i = 0; i < count; i++)
            merge(&s->writes, (uint32_t)names[i], &values[i]);
        held = true;
    }
    spin_unlock(&whv_deferred_table.lock);
    return held;
}

void whv_deferred_disarm(uint64_t partition, uint32_t vp)
{
    spin_lock(&whv_deferred_table.lock);
    struct whv_deferred_slot *s = whv_deferred_find(partition, vp);
    if (s) {
        s->armed = false;
        s->writes.count = 0;
    }
    spin_unlock(&whv_deferred_table.lock);
}

void whv_deferred_forget_partition(uint64_t partition)
{
    spin_lock(&whv_deferred_table.lock);
    for (unsigned i = 0; i < WHV_DEFERRED_SLOTS; i++)
        if (whv_deferred_table.slot[i].partition == partition) {
            whv_deferred_table.slot[i].armed = false;
            whv_deferred_table.slot[i].writes.count = 0;
        }
    spin_unlock(&whv_deferred_table.lock);
}
