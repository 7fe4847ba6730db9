/* Switching what VMX leaves alone between the root and a VP (vmx/vp_switch.h). The order matters for
 * isolation: every FPU/extended component this hypervisor manages is loaded from the incoming side's
 * image (or set to its init state) with XCR0 opened to all of them, so nothing of the outgoing side stays
 * in a register the incoming side could enable later with XSETBV. */
#include "vmx/vp_switch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/string.h"
#include "vmx/vmcs.h"

#define XCR0_X87 0x1ull
#define XCR0_SSE 0x2ull
#define XCR0_AVX 0x4ull
#define XCR0_AVX512 0xE0ull          /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_PKRU 0x200ull
#define XCR0_MANAGED (XCR0_X87 | XCR0_SSE | XCR0_AVX | XCR0_AVX512 | XCR0_PKRU)

#define XSAVE_HEADER 512             /* XSTATE_BV at 512, XCOMP_BV at 520 */
#define FXSAVE_FCW 0
#define FXSAVE_MXCSR 24
#define FXSAVE_ST0 32
#define FXSAVE_XMM0 160

static const uint32_t switched_msrs[6] = { 0xC0000102, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000103 };

static struct {
    bool ready, xsave, tsc_aux;
    uint64_t mask;                   /* components a VP may use; the VP's image holds only these */
    uint32_t root_area_bytes;        /* the root may enable every component the CPU has */
    uint32_t mxcsr_mask;
} sw;

/* The end of the last component of `mask` in the standard (non-compacted) XSAVE format. */
static uint32_t xsave_end(uint64_t mask)
{
    uint32_t end = XSAVE_HEADER + 64;
    for (unsigned i = 2; i < 64; i++) {
        if (!(mask & (1ull << i)))
            continue;
        struct cpuid_regs c = cpuid(0xD, i);
        if (c.ebx + c.eax > end)
            end = c.ebx + c.eax;
    }
    return end;
}

void vp_switch_init(void)
{
    if (sw.ready)
        return;
    sw.tsc_aux = cpuid(0x80000000u, 0).eax >= 0x80000001u && (cpuid(0x80000001u, 0).edx & (1u << 27));
    sw.xsave = (cpuid(1, 0).ecx & CPUID1_ECX_XSAVE) && cpuid(0, 0).eax >= 0xD;
    sw.mask = XCR0_X87 | XCR0_SSE;
    sw.root_area_bytes = 512;
    if (sw.xsave) {
        struct cpuid_regs d = cpuid(0xD, 0);
        uint64_t m = (((uint64_t)d.edx << 32) | d.eax) & XCR0_MANAGED;
        if ((m & XCR0_AVX512) != XCR0_AVX512 || !(m & XCR0_AVX))
            m &= ~XCR0_AVX512;
        if (!(m & XCR0_SSE))
            m &= ~(XCR0_AVX | XCR0_AVX512);
        if (xsave_end(m) > 4096)     /* a VP's image is one page */
            m &= XCR0_X87 | XCR0_SSE | XCR0_AVX;
        sw.mask = m;
        sw.root_area_bytes = d.ecx > XSAVE_HEADER + 64 ? d.ecx : XSAVE_HEADER + 64;
    }
    uint8_t probe[512] __attribute__((aligned(16)));
    memset(probe, 0, sizeof probe);
    __asm__ volatile("fxsave64 %0" : "=m"(probe));
    memcpy(&sw.mxcsr_mask, probe + 28, 4);
    if (sw.mxcsr_mask == 0)
        sw.mxcsr_mask = 0xFFBF;      /* SDM vol. 1, 11.6.6: a zero MXCSR_MASK means the default */
    sw.ready = true;
}

uint32_t vp_mxcsr_mask(void)
{
    return sw.mxcsr_mask;
}

uint32_t vp_switch_root_area_pages(void)
{
    vp_switch_init();
    return (sw.root_area_bytes + 4095) / 4096;
}

uint64_t vp_xcr0_allowed(void)
{
    return sw.mask;
}

bool vp_xcr0_valid(uint64_t x)
{
    if (!(x & XCR0_X87) || (x & ~sw.mask))
        return false;
    if ((x & XCR0_AVX) && !(x & XCR0_SSE))
        return false;
    if ((x & XCR0_AVX512) && ((x & XCR0_AVX512) != XCR0_AVX512 || !(x & XCR0_AVX)))
        return false;
    return true;
}

static inline uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static inline void xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void xsave_to(uint64_t pa, uint64_t rfbm)
{
    __asm__ volatile("xsave64 (%0)" : : "r"(pa), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)) : "memory");
}

static inline void xrstor_from(uint64_t pa, uint64_t rfbm)
{
    __asm__ volatile("xrstor64 (%0)" : : "r"(pa), "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)) : "memory");
}

static inline void fxsave_to(uint64_t pa) { __asm__ volatile("fxsave64 (%0)" : : "r"(pa) : "memory"); }
static inline void fxrstor_from(uint64_t pa) { __asm__ volatile("fxrstor64 (%0)" : : "r"(pa) : "memory"); }

/* The register API reads the legacy region as the truth: where XSAVE recorded a component in its init
 * state (XSTATE_BV bit clear, region possibly stale), write the init values there and mark it present. */
static void normalize_legacy(uint64_t pa)
{
    uint8_t *a = (uint8_t *)(uintptr_t)pa;
    uint64_t *bv = (uint64_t *)(a + XSAVE_HEADER);
    if (!(*bv & XCR0_X87)) {
        memset(a, 0, FXSAVE_MXCSR);                 /* FSW, FTW (all empty), FOP, FIP, FDP */
        a[FXSAVE_FCW] = 0x7F; a[FXSAVE_FCW + 1] = 0x03;
        memset(a + FXSAVE_ST0, 0, 128);
        *bv |= XCR0_X87;
    }
    if (!(*bv & XCR0_SSE)) {
        memset(a + FXSAVE_XMM0, 0, 256);
        *bv |= XCR0_SSE;
    }
}

/* XCR0 while images are saved and loaded: every component of the VP's set and of the root's. XSAVE and
 * XRSTOR only reach components enabled in XCR0, and SSE registers are live whatever XCR0 says (a root or
 * VP with XCR0 = 1 still uses XMM through FXSR), so XCR0 is opened before the save, not after it. */
static inline uint64_t switch_xcr0(const struct cpu *c)
{
    return sw.mask | c->root_xcr0;
}

static void fpu_to_vp(struct cpu *c, struct vp *v)
{
    if (!sw.xsave) {
        fxsave_to(c->root_fpu_pa);
        fxrstor_from(v->fpu_pa);
        return;
    }
    c->root_xcr0 = xgetbv0();
    uint64_t all = switch_xcr0(c);
    if (c->root_xcr0 != all)
        xsetbv0(all);
    /* XSAVE writes XSTATE_BV only for the components it saves: clear stale bits of an earlier, larger
     * root XCR0, which XRSTOR would refuse (#GP) or load. */
    *(volatile uint64_t *)(uintptr_t)(c->root_fpu_pa + XSAVE_HEADER) = 0;
    xsave_to(c->root_fpu_pa, all);
    xrstor_from(v->fpu_pa, all);     /* the root's components the VP has no image of: init state */
    if (v->xcr0 != all)
        xsetbv0(v->xcr0);
}

static void fpu_to_root(struct cpu *c, struct vp *v)
{
    if (!sw.xsave) {
        fxsave_to(v->fpu_pa);
        fxrstor_from(c->root_fpu_pa);
        return;
    }
    uint64_t all = switch_xcr0(c);
    if (v->xcr0 != all)
        xsetbv0(all);
    xsave_to(v->fpu_pa, sw.mask);
    xrstor_from(c->root_fpu_pa, all);
    if (c->root_xcr0 != all)
        xsetbv0(c->root_xcr0);
}

_Static_assert(offsetof(struct vp, syscall_msrs[5]) == offsetof(struct vp, tsc_aux), "syscall_msrs order");

static unsigned msr_count(void)
{
    return sw.tsc_aux ? 6 : 5;
}

#define KERNEL_GS_BASE_INDEX 0       /* the one switched MSR the root changes without an exit (SWAPGS) */
#define TSC_AUX_INDEX 5
#define EFER_SCE (1ull << 0)

/* STAR, LSTAR, CSTAR and SFMASK do nothing until SYSCALL is enabled (EFER.SCE): a VP without it runs
 * with the root's values in the CPU and its own in struct vp, and its RDMSR/WRMSR of them (which exit)
 * use those. KERNEL_GS_BASE (SWAPGS) and TSC_AUX (RDTSCP, RDPID) are live whatever EFER says. */
static bool syscall_only(int index)
{
    return index > KERNEL_GS_BASE_INDEX && index < TSC_AUX_INDEX;
}

bool vp_switch_root_msr_cached(uint32_t msr)
{
    return vp_switched_msr_index(msr) > KERNEL_GS_BASE_INDEX;
}

unsigned vp_switch_root_msrs_cached(uint32_t out[5])
{
    unsigned n = 0;
    for (unsigned i = KERNEL_GS_BASE_INDEX + 1; i < msr_count(); i++)
        out[n++] = switched_msrs[i];
    return n;
}

void vp_switch_root_msr_written(struct cpu *c, uint32_t msr)
{
    if (vp_switch_root_msr_cached(msr))
        c->root_msrs_cached = false;
}

static void read_root_msrs(struct cpu *c)
{
    c->root_msrs[KERNEL_GS_BASE_INDEX] = rdmsr(switched_msrs[KERNEL_GS_BASE_INDEX]);
    if (c->root_msrs_cached)
        return;
    for (unsigned i = KERNEL_GS_BASE_INDEX + 1; i < msr_count(); i++)
        c->root_msrs[i] = rdmsr(switched_msrs[i]);
    c->root_msrs_cached = true;
}

/* The register API checked the values; a refusal here would leave the root's value in place, so the
 * VP's slot is set to what the CPU holds instead. */
static void load_vp_msr(struct cpu *c, struct vp *v, unsigned i)
{
    uint64_t *slot = &v->syscall_msrs[i];
    if (*slot != c->root_msrs[i] && wrmsr_safe(switched_msrs[i], *slot) != 0)
        *slot = c->root_msrs[i];
}

static void load_syscall_msrs(struct cpu *c, struct vp *v)
{
    for (int i = KERNEL_GS_BASE_INDEX + 1; i < TSC_AUX_INDEX; i++)
        load_vp_msr(c, v, (unsigned)i);
    c->run_syscall_msrs_loaded = true;
}

static void msrs_to_vp(struct cpu *c, struct vp *v)
{
    read_root_msrs(c);
    load_vp_msr(c, v, KERNEL_GS_BASE_INDEX);
    if (sw.tsc_aux)
        load_vp_msr(c, v, TSC_AUX_INDEX);
    c->run_syscall_msrs_loaded = false;
    if (vmcs_read64(VMCS_GUEST_EFER) & EFER_SCE)
        load_syscall_msrs(c, v);
}

void vp_switch_efer_written(struct cpu *c, struct vp *v)
{
    if (!c->run_syscall_msrs_loaded && (vmcs_read64(VMCS_GUEST_EFER) & EFER_SCE))
        load_syscall_msrs(c, v);
}

static void restore_root_msr(const struct cpu *c, const struct vp *v, unsigned i)
{
    if (v->syscall_msrs[i] != c->root_msrs[i])
        wrmsr(switched_msrs[i], c->root_msrs[i]);
}

/* The mirror of msrs_to_vp: what the Run loaded goes back, nothing else. */
static void msrs_to_root(struct cpu *c, struct vp *v)
{
    v->kernel_gs_base = rdmsr(switched_msrs[KERNEL_GS_BASE_INDEX]);   /* SWAPGS changes it without an exit */
    restore_root_msr(c, v, KERNEL_GS_BASE_INDEX);
    if (sw.tsc_aux)
        restore_root_msr(c, v, TSC_AUX_INDEX);
    if (c->run_syscall_msrs_loaded)
        for (unsigned i = KERNEL_GS_BASE_INDEX + 1; i < TSC_AUX_INDEX; i++)
            restore_root_msr(c, v, i);
    c->run_syscall_msrs_loaded = false;
}

#define DR_ACCESS(n)                                                                                       \
    static inline uint64_t read_dr##n(void) { uint64_t x; __asm__ volatile("mov %%dr" #n ", %0" : "=r"(x)); return x; } \
    static inline void write_dr##n(uint64_t x) { __asm__ volatile("mov %0, %%dr" #n : : "r"(x)); }
DR_ACCESS(0)
DR_ACCESS(1)
DR_ACCESS(2)
DR_ACCESS(3)
DR_ACCESS(6)
#undef DR_ACCESS

/* DR7 is in the VMCS; DR0-DR3 and DR6 are not. DR6 is switched at every Run: the CPU writes it on any
 * #DB the VP takes (single-step, INT1), breakpoints or not. DR0-DR3 do nothing unless DR7 enables a
 * breakpoint, so a VP whose DR7 enables none runs with the root's in the CPU and MOV DR exiting on
 * (vmx/vp_vmcs.c); its first MOV DR loads its own (vp_switch_load_debug_registers) and re-executes. */
static void dr03_save(uint64_t dr[4])
{
    dr[0] = read_dr0(); dr[1] = read_dr1(); dr[2] = read_dr2(); dr[3] = read_dr3();
}

/* MOV to a debug register serializes the CPU: write only those that differ from what it holds (the
 * values just saved from the other side). */
static void dr03_load(const uint64_t dr[4], const uint64_t held[4])
{
    if (dr[0] != held[0]) write_dr0(dr[0]);
    if (dr[1] != held[1]) write_dr1(dr[1]);
    if (dr[2] != held[2]) write_dr2(dr[2]);
    if (dr[3] != held[3]) write_dr3(dr[3]);
}

void vp_switch_load_debug_registers(struct cpu *c, struct vp *v)
{
    dr03_save(c->root_dr);
    dr03_load(v->dr, c->root_dr);
    c->run_drs_loaded = true;
}

void vp_switch_to_vp(struct cpu *c, struct vp *v)
{
    c->root_cr2 = read_cr2();
    write_cr2(v->cr2);
    fpu_to_vp(c, v);
    msrs_to_vp(c, v);
    c->root_dr6 = read_dr6();
    if (v->dr6 != c->root_dr6)
        write_dr6(v->dr6);
    if (c->run_drs_loaded)     /* set by vp_vmcs_acquire from the VP's DR7 */
        vp_switch_load_debug_registers(c, v);
}

void vp_switch_to_root(struct cpu *c, struct vp *v)
{
    v->cr2 = read_cr2();
    write_cr2(c->root_cr2);
    fpu_to_root(c, v);
    msrs_to_root(c, v);
    v->dr6 = read_dr6();
    if (v->dr6 != c->root_dr6)
        write_dr6(c->root_dr6);
    if (c->run_drs_loaded) {
        dr03_save(v->dr);
        dr03_load(c->root_dr, v->dr);
        c->run_drs_loaded = false;
    }
}

int vp_switched_msr_index(uint32_t msr)
{
    switch (msr) {
    case 0xC0000102: return 0;
    case 0xC0000081: return 1;
    case 0xC0000082: return 2;
    case 0xC0000083: return 3;
    case 0xC0000084: return 4;
    case 0xC0000103: return sw.tsc_aux ? 5 : -1;
    default: return -1;
    }
}

uint64_t vp_switched_msr_read(const struct cpu *c, const struct vp *v, int index)
{
    if (syscall_only(index) && !c->run_syscall_msrs_loaded)
        return v->syscall_msrs[index];
    return rdmsr(switched_msrs[index]);
}

/* The CPU judges the value (non-canonical, reserved bits) in every case: where the VP's value is not
 * loaded, the root's goes back at once. */
bool vp_switched_msr_write(const struct cpu *c, struct vp *v, int index, uint64_t value)
{
    bool ok = wrmsr_safe(switched_msrs[index], value) == 0;
    if (syscall_only(index) && !c->run_syscall_msrs_loaded)
        wrmsr(switched_msrs[index], c->root_msrs[index]);
    if (ok)
        v->syscall_msrs[index] = value;
    return ok;
}

uint8_t *vp_fpu_legacy(struct vp *v)
{
    if (sw.xsave)
        normalize_legacy(v->fpu_pa);   /* here, not after every Run: the register API is the rare path */
    return (uint8_t *)(uintptr_t)v->fpu_pa;
}

void vp_fpu_legacy_written(struct vp *v)
{
    *(uint64_t *)(uintptr_t)(v->fpu_pa + XSAVE_HEADER) |= XCR0_X87 | XCR0_SSE;
}

void vp_fpu_reset(struct vp *v)
{
    uint8_t *a = (uint8_t *)(uintptr_t)v->fpu_pa;
    memset(a, 0, 4096);
    a[FXSAVE_FCW] = 0x7F; a[FXSAVE_FCW + 1] = 0x03;
    a[FXSAVE_MXCSR] = 0x80; a[FXSAVE_MXCSR + 1] = 0x1F;
    if (sw.xsave)
        vp_fpu_legacy_written(v);
}
