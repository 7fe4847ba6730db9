/* Guest linear -> guest physical translation through the guest's own paging structures, and the
 * instruction-byte fetch built on it (pure; the core and the host tests).
 *
 * Users: WHvTranslateGva, and the MemoryAccess / IoPortAccess / Exception exits, whose up to 16
 * InstructionBytes VMX does not provide: they are fetched from CS.base + RIP (docs/whv-abi-facts.md).
 *
 * Guest-physical memory is reached only through struct guest_memory, which consults the partition's
 * GPA map (its EPT permissions), so a paging structure the VMM has not mapped is reported, not read.
 *
 * Paging modes (Intel SDM vol. 3, 4.1.1, Table 4-1), chosen from the state given:
 *   CR0.PG = 0                          none: linear = physical; linear addresses are 32 bits (real mode
 *                                       with A20 enabled, or protected mode without paging).
 *   CR0.PG = 1, CR4.PAE = 0             32-bit paging (4.3): 4 KiB pages, and 4 MiB pages when CR4.PSE = 1
 *                                       (PSE-36 address bits 39:32 in PDE bits 20:13).
 *   CR0.PG = 1, CR4.PAE = 1, EFER.LMA=0 PAE paging (4.4). The four PDPTEs are read from CR3 (32-byte
 *                                       aligned) at each walk; real hardware loads them into PDPTE registers
 *                                       when CR3 is loaded (4.4.1) and walks those, so a guest that edited
 *                                       its PDPT without reloading CR3 may get a different answer here.
 *   CR0.PG = 1, CR4.PAE = 1, EFER.LMA=1 4-level paging (4.5), or 5-level when CR4.LA57 = 1; 2 MiB and
 *                                       1 GiB pages. The CPU is assumed to support 1 GiB pages (CPUID
 *                                       80000001H:EDX[26]; the hardware walks the guest's tables, so the
 *                                       guest's CPUID view does not matter): a PDPTE with PS = 1 maps a page.
 * Outside 4-/5-level paging only bits 31:0 of a linear address are used.
 *
 * Checks, in the order the hardware makes them (4.7): per level, not present (P = 0) ->
 * PageNotPresent, then a reserved bit set -> InvalidPageTableFlags (bits MAXPHYADDR and up of an
 * address field, XD when EFER.NXE = 0, PS in a PML4E/PML5E, the reserved bits of a large-page entry and
 * of a PAE PDPTE); only after a complete translation the access rights (4.6) -> PrivilegeViolation.
 * A non-canonical address under 4-/5-level paging has no translation: PageNotPresent (the hardware
 * raises #GP instead; WHV has no result code for it).
 *
 * Access rights (4.6) for the ValidateRead / ValidateWrite / ValidateExecute flags, at the guest's CPL
 * (CPL 3 is user mode) or as CPL 0 with PrivilegeExempt:
 *   user mode:        every access needs U/S = 1 at every level; writes also R/W = 1 at every level.
 *   supervisor mode:  writes need R/W = 1 at every level only when CR0.WP = 1.
 *   execute:          XD = 0 at every level when EFER.NXE = 1 (PAE and 4-/5-level paging only; 32-bit
 *                     paging has no XD bit); in supervisor mode with CR4.SMEP = 1 the page must not be a
 *                     user-mode page (U/S = 1 at every level).
 * PAE PDPTEs carry no rights (their R/W, U/S and XD positions are reserved). With no Validate flag only
 * the translation is made. Omitted: SMAP (WHV checks it only with EnforceSmap; the flags
 * EnforceSmap/OverrideSmap are ignored here), protection keys (CR4.PKE/PKS), and segment limits.
 *
 * Accessed and dirty flags (4.8) are written only when SetPageTableBits is given and the translation
 * and its checks succeed (the SDM leaves the timing open; Intel CPUs are reported to walk first and
 * update A/D only after a successful walk, as KVM's walker does): A in every entry used (PAE PDPTEs
 * have none), D in the entry that maps the page when ValidateWrite is given. Each update is a one-byte
 * store of bits 7:0 of the entry as read, made only where a bit is missing; unlike the hardware's
 * locked update, a concurrent guest change to those bits between the read and the store is lost. An
 * entry in guest memory without write permission -> GpaNoWriteAccess (entries nearer the root may
 * already have been updated).
 *
 * The final GPA is not checked against the GPA map: translating is not accessing (the caller reads
 * or writes it through the map). */
#ifndef VMX_GUEST_WALK_H
#define VMX_GUEST_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include "api/whv_platform.h"

/* What guest_memory's callbacks return: 0, or the WHV_TRANSLATE_GVA_RESULT_CODE for the failure, which
 * guest_translate passes on unchanged when a paging structure cannot be read or updated. */
enum guest_mem_status {
    GUEST_MEM_OK = 0,
    GUEST_MEM_UNMAPPED = WHvTranslateGvaResultGpaUnmapped,   /* no GPA range maps it */
    GUEST_MEM_NO_READ = WHvTranslateGvaResultGpaNoReadAccess,
    GUEST_MEM_NO_WRITE = WHvTranslateGvaResultGpaNoWriteAccess,
};

/* Guest-physical memory of one partition. read/write move len bytes at gpa; a call never crosses a
 * 4 KiB page. On failure they return a guest_mem_status (and need not have moved anything). write is
 * called only for SetPageTableBits (one byte per entry updated). */
struct guest_memory {
    void *ctx;
    int (*read)(void *ctx, uint64_t gpa, void *buf, uint32_t len);
    int (*write)(void *ctx, uint64_t gpa, const void *buf, uint32_t len);
};

/* The guest state that paging depends on. efer: LMA (bit 10) selects 4-/5-level paging, NXE (bit 11)
 * enables XD. cpl: 0..3. maxphyaddr: CPUID.80000008H:EAX[7:0] as the guest runs on it, 36..52. */
struct guest_paging_state {
    uint64_t cr0, cr3, cr4, efer;
    unsigned cpl;
    uint32_t maxphyaddr;
};

/* WHvTranslateGva: translates gva under the rules above. flags: WHV_TRANSLATE_GVA_FLAGS (ValidateRead,
 * ValidateWrite, ValidateExecute, PrivilegeExempt, SetPageTableBits; other bits are ignored: the API
 * layer validates them). Returns a WHV_TRANSLATE_GVA_RESULT_CODE: Success with *gpa set, or
 * PageNotPresent, PrivilegeViolation, InvalidPageTableFlags, or the guest_mem_status of a paging
 * structure that could not be read (GpaUnmapped, GpaNoReadAccess) or updated (GpaNoWriteAccess); *gpa is
 * left alone on failure. Never returns Intercept or GpaIllegalOverlayAccess. */
int guest_translate(const struct guest_memory *m, const struct guest_paging_state *s, uint64_t gva,
                    unsigned flags, uint64_t *gpa);

#define GUEST_FETCH_MAX 16u

/* The instruction bytes at CS.base + RIP, fetched as the guest would fetch them: translated with
 * ValidateExecute at the guest's CPL (no A/D updates) and read through m, one page at a time.
 * long_mode: the guest is in 64-bit mode (EFER.LMA and CS.L): the linear address is rip itself (the
 * CS base counts as 0 in 64-bit mode, SDM 3.4.4) and must be canonical. Otherwise it is cs_base + rip and
 * every byte's linear address is truncated to 32 bits, so a fetch at the top of the 4 GiB space wraps
 * to 0 (the IP itself is not wrapped at 0xFFFF in real mode and no segment limit is checked; A20 is
 * taken as enabled, so real mode reaches up to 0x10FFEF without a 1 MiB wrap).
 * Stops at the first page that does not translate, is not executable or cannot be read (EPT execute
 * permission is not asked for: bytes the VMM may read are enough for decoding). Returns the number of
 * bytes fetched, 0..16, which are out[0..count); out[count..16) are zeroed. */
uint32_t guest_fetch_instruction(const struct guest_memory *m, const struct guest_paging_state *s,
                                 uint64_t cs_base, uint64_t rip, bool long_mode,
                                 uint8_t out[GUEST_FETCH_MAX]);

#endif
