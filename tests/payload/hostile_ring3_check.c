/* The root at CPL 3 cannot make hypercalls (docs/hypercall-abi.md: #GP(0), nothing else happens).
 * A few instructions run at ring 3 of the root partition (tests/payload/hostile_ring3.asm); everything the
 * excursion changes is put back exactly, with interrupts off throughout:
 *   - GDTR: a copy of the firmware's GDT with a ring-3 code and data descriptor appended, then the
 *     firmware's GDTR again (base and limit compared afterwards);
 *   - IDT vector 13 (#GP): our trap, then the firmware's gate;
 *   - TR is not touched: the root's TR (selector 0, base 0, the busy TSS the hypervisor gave it) takes its
 *     RSP0 from linear address 4, whose 8 bytes are saved and restored around the excursion;
 *   - the user page's paging entries get U/S (CR0.WP off while editing), then their old values;
 *   - CR4.SMEP/SMAP, FS/GS bases and selectors: saved and restored. */
#include "tests/payload/hostile.h"
#include "arch/x86/cpu.h"
#include "arch/x86/string.h"

uint64_t ring3_vmcall(uint64_t code, uint64_t in, uint64_t out, uint64_t user_page, uint64_t user_cs,
                      uint64_t user_ss);
void load_gdtr(const struct desc_ptr *d);
extern char r3_gp_trap[];
extern uint64_t r3_rip, r3_err, r3_cs, r3_rax;

#define CR0_WP (1ull << 16)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define PTE_P 1ull
#define PTE_US 4ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000FFFFFFFFFF000ull

struct idt_gate { uint16_t lo, sel; uint8_t ist, attr; uint16_t mid; uint32_t hi, zero; };

static uint64_t gdt_copy[64] __attribute__((aligned(16)));
static struct { uint64_t *entry; uint64_t old; } saved_pte[4];
static unsigned saved_ptes;

/* Walks the root's page tables for va. With make_user: sets U/S at every level (recording the old
 * entries). Returns 1 when va is mapped. */
static int walk(uint64_t va, int make_user)
{
    uint64_t *table = (uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR);
    for (int level = 4; level >= 1; level--) {
        uint64_t *e = &table[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(*e & PTE_P))
            return 0;
        if (make_user && saved_ptes < 4) {
            saved_pte[saved_ptes].entry = e;
            saved_pte[saved_ptes].old = *e;
            saved_ptes++;
            *e |= PTE_US;
        }
        if (level == 1 || (level < 4 && (*e & PTE_PS)))
            return 1;
        table = (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
    }
    return 1;
}

struct r3_result { uint64_t rax, rip, err, cs; };

/* One hypercall attempt at CPL 3. */
static int at_ring3(uint8_t *user_page, uint64_t code, const void *in, void *out, struct r3_result *r)
{
    static const uint8_t stub[] = { 0x0F, 0x01, 0xC1, 0xFA, 0xF4 };   /* vmcall; cli; hlt */
    memcpy(user_page, stub, sizeof stub);
    uint64_t flags = read_rflags();
    __asm__ volatile("cli");
    struct desc_ptr gdtr = sgdt(), idtr = sidt();
    unsigned n = ((unsigned)gdtr.limit + 1 + 7) / 8;
    if (n + 2 > sizeof gdt_copy / 8) {
        if (flags & 0x200) __asm__ volatile("sti");
        return 0;
    }
    memset(gdt_copy, 0, sizeof gdt_copy);
    memcpy(gdt_copy, (const void *)(uintptr_t)gdtr.base, (size_t)gdtr.limit + 1);
    gdt_copy[n] = 0x00AFFA000000FFFFull;       /* 64-bit code, DPL 3 */
    gdt_copy[n + 1] = 0x00CFF2000000FFFFull;   /* data, DPL 3 */
    struct desc_ptr mine = { (uint16_t)((n + 2) * 8 - 1), (uint64_t)(uintptr_t)gdt_copy };
    struct idt_gate *idt = (struct idt_gate *)(uintptr_t)idtr.base;
    struct idt_gate gp_saved = idt[13];
    uint64_t h = (uint64_t)(uintptr_t)r3_gp_trap;
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    uint64_t fs_base = rdmsr(0xC0000100), gs_base = rdmsr(0xC0000101);
    if (cr4 & (CR4_SMEP | CR4_SMAP))
        write_cr4(cr4 & ~(CR4_SMEP | CR4_SMAP));
    write_cr0(cr0 & ~CR0_WP);
    saved_ptes = 0;
    int ok = walk((uint64_t)(uintptr_t)user_page, 1);
    write_cr3(read_cr3());
    if (ok) {
        load_gdtr(&mine);
        idt[13] = (struct idt_gate){ (uint16_t)h, read_cs(), 0, 0x8E, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0 };
        r->rax = ring3_vmcall(code, (uint64_t)(uintptr_t)in, (uint64_t)(uintptr_t)out, (uint64_t)(uintptr_t)user_page,
                              (n * 8) | 3, ((n + 1) * 8) | 3);
        r->rip = r3_rip;
        r->err = r3_err;
        r->cs = r3_cs;
        idt[13] = gp_saved;
        load_gdtr(&gdtr);
    }
    for (unsigned i = saved_ptes; i-- > 0;)
        *saved_pte[i].entry = saved_pte[i].old;
    write_cr3(read_cr3());
    write_cr0(cr0);
    if (cr4 & (CR4_SMEP | CR4_SMAP))
        write_cr4(cr4);
    wrmsr(0xC0000100, fs_base);
    wrmsr(0xC0000101, gs_base);
    struct desc_ptr g2 = sgdt(), i2 = sidt();
    ok = ok && g2.base == gdtr.base && g2.limit == gdtr.limit && i2.base == idtr.base && i2.limit == idtr.limit &&
         memcmp(&idt[13], &gp_saved, sizeof gp_saved) == 0 && read_tr() == 0;
    if (flags & 0x200)
        __asm__ volatile("sti");
    return ok;
}

static uint8_t out_block[4096] __attribute__((aligned(4096)));
static uint8_t in_block[64] __attribute__((aligned(64)));

void check_ring3(void)
{
    if (read_tr() != 0 || !walk(0, 0)) {
        check(0, "CPL 3: the root's TR is selector 0 with its TSS at linear 0, and page 0 is mapped (TR %x)",
              read_tr());
        return;
    }
    uint8_t *page = alloc_pages(1, EfiLoaderCode);
    if (!page) {
        check(0, "CPL 3: a page for the ring-3 stub");
        return;
    }
    struct r3_result r;
    uint64_t stub = (uint64_t)(uintptr_t)page;

    /* GET_VERSION from CPL 3: #GP(0) at the VMCALL, the output block untouched, RAX untouched. */
    memset(out_block, 0xCC, sizeof out_block);
    uint64_t calls0 = hypercalls_served();
    int ok = at_ring3(page, HVCALL_GET_VERSION, 0, out_block, &r);
    check(ok && r.rip == stub && r.err == 0 && (r.cs & 3) == 3 && r.rax == 0x5A5A5A5A && out_block[0] == 0xCC &&
          out_block[8] == 0xCC,
          "CPL 3 VMCALL GET_VERSION: #GP(%llu) at the VMCALL (rip stub+%lld, cs %llx), RAX and the output block untouched",
          (unsigned long long)r.err, (long long)(r.rip - stub), (unsigned long long)r.cs);
    check(ok, "CPL 3 excursion: GDTR, IDTR, the #GP gate and TR (0) are the firmware's again");

    /* CREATE_PARTITION from CPL 3: nothing created. */
    uint64_t used0 = pool_used();
    ok = at_ring3(page, HVCALL_CREATE_PARTITION, 0, out_block, &r);
    uint64_t used1 = pool_used();
    check(ok && r.rip == stub && r.err == 0 && used1 == used0 && out_block[0] == 0xCC,
          "CPL 3 VMCALL CREATE_PARTITION: #GP(0), pool unchanged (%llu -> %llu pages)",
          (unsigned long long)used0, (unsigned long long)used1);

    /* DELETE_PARTITION of a live partition from CPL 3: it still runs. */
    struct child ch;
    WHV_RUN_VP_EXIT_CONTEXT x;
    int made = child_new(&ch, 0x10000, 0, 0);
    struct hv_partition_in *pin = (struct hv_partition_in *)in_block;
    pin->partition = (uint64_t)(uintptr_t)ch.part;
    ok = made && at_ring3(page, HVCALL_DELETE_PARTITION, in_block, 0, &r);
    ok = ok && r.rip == stub && r.err == 0;
    HRESULT hr = made ? child_start(&ch, g_count, 0, 100) : E_FAIL;
    hr = SUCCEEDED(hr) ? child_run(&ch, &x) : hr;
    check(ok && SUCCEEDED(hr) && x.ExitReason == WHvRunVpExitReasonX64IoPortAccess && x.IoPortAccess.Rax == 5050,
          "CPL 3 VMCALL DELETE_PARTITION: #GP(0), the partition still runs (sum 1..100 = %llu)",
          (unsigned long long)(SUCCEEDED(hr) ? x.IoPortAccess.Rax : 0));
    if (made)
        child_free(&ch);

    /* The hypervisor counted none of the three: between two GET_STATS calls, the second is the only one
     * besides the partition calls made in between (counted here from the library calls above). */
    uint64_t c1 = hypercalls_served();
    ok = at_ring3(page, HVCALL_GET_STATS, 0, out_block, &r);
    uint64_t c2 = hypercalls_served();
    check(ok && c2 == c1 + 1 && r.rip == stub,
          "CPL 3 VMCALLs are not served: the hypervisor's hypercall count moved by %llu across one (the GET_STATS after it)",
          (unsigned long long)(c2 - c1));
    (void)calls0;
    check(hypervisor_answers(), "after the CPL 3 attempts the hypervisor answers CPL 0 hypercalls");
    free_pages(page, 1);
}
