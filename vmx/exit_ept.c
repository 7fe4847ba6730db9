/* EPT violations from the root. Its EPT maps all physical memory 1:1 except the hypervisor's pages,
 * which read as all ones and fault on write or fetch. The instruction length is undefined for this exit
 * (SDM vol. 3, 28.2.5), so a write cannot be skipped: the root gets #GP(0) instead, and we count it.
 * Physical addresses beyond the boot-time map (e.g. a 64-bit BAR placed later) are mapped on demand. */
#include "arch/x86/log.h"
#include "arch/x86/spinlock.h"
#include "vmx/exits.h"
#include "vmx/hv.h"
#include "vmx/inject.h"
#include "vmx/vmcs.h"

#define EPT_QUAL_READ  (1u << 0)
#define EPT_QUAL_WRITE (1u << 1)
#define EPT_QUAL_FETCH (1u << 2)

static struct spinlock root_ept_lock;

static const char *access_name(uint64_t q)
{
    return (q & EPT_QUAL_WRITE) ? "write" : (q & EPT_QUAL_FETCH) ? "fetch" : "read";
}

/* Maps the 2 MiB (or, if its memory type is mixed, the 4 KiB) identity frame around gpa. Adding an
 * entry where none was needs no INVEPT: not-present translations are never cached. */
static int map_identity(uint64_t base, uint64_t size, unsigned type)
{
    spin_lock(&root_ept_lock);
    int st = ept_map(&hv.root_ept, base, base, size, EPT_RWX, type);
    spin_unlock(&root_ept_lock);
    return st;
}

/* Maps the 2 MiB identity frame around gpa, or its 4 KiB page when the frame's memory type is mixed or
 * part of it is mapped already. EEXIST on the 4 KiB page means another CPU just mapped it. Adding an
 * entry where none was needs no INVEPT: not-present translations are never cached. */
static int map_on_demand(uint64_t gpa)
{
    unsigned type;
    uint64_t frame = gpa & ~0x1FFFFFull, page = gpa & ~0xFFFull;
    if (mtrr_range_type(&hv.mtrr, frame, 0x200000, &type) && map_identity(frame, 0x200000, type) == EPT_OK)
        return 1;
    if (!mtrr_range_type(&hv.mtrr, page, 0x1000, &type))
        type = MT_UC;
    int st = map_identity(page, 0x1000, type);
    return st == EPT_OK || st == EPT_EEXIST;
}

void exit_ept_violation(struct cpu *c)
{
    uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDR);
    uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
    const struct hv_handoff *h = hv.handoff;
    if (gpa >= h->hv_base && gpa < h->hv_base + h->hv_size) {
        if (++c->hidden_access_faults <= 4)
            log_warn("cpu %u: root %s of hypervisor memory at %llx (rip %llx): #GP", c->index,
                     access_name(q), (unsigned long long)gpa,
                     (unsigned long long)vmcs_readnat(VMCS_GUEST_RIP));
        inject_gp0();
        return;
    }
    if (gpa >> hv.mtrr.phys_bits == 0 && map_on_demand(gpa))
        return;
    log_error("root %s at %llx cannot be mapped (qualification %llx)", access_name(q),
              (unsigned long long)gpa, (unsigned long long)q);
    hv_panic(c, "unresolvable EPT violation in the root partition");
}

void exit_ept_misconfig(struct cpu *c)
{
    log_error("EPT misconfiguration at gpa %llx", (unsigned long long)vmcs_read64(VMCS_GUEST_PHYSICAL_ADDR));
    hv_panic(c, "EPT misconfiguration");
}
