/* vmx_caps: control adjustment and CR fixing against capability MSRs read in Bochs 2.7
 * (docs/testing-facts.md, cpu model corei7_skylake_x unless noted). */
#include "check.h"
#include "vmx/vmx_caps.h"

#define BIT(n) (1u << (n))

/* Control bits (SDM vol. 3, 24.6-24.8). */
#define PROC_HLT_EXITING BIT(7)
#define PROC_CR3_LOAD_EXITING BIT(15)
#define PROC_CR3_STORE_EXITING BIT(16)
#define PROC_MONITOR_TRAP_FLAG BIT(27)
#define PROC_USE_MSR_BITMAPS BIT(28)
#define PROC_ACTIVATE_SECONDARY BIT(31)
#define PROC2_EPT BIT(1)
#define PROC2_RDTSCP BIT(3)
#define PROC2_VPID BIT(5)
#define PROC2_UNRESTRICTED_GUEST BIT(7)
#define PROC2_XSAVES BIT(20)
#define PROC2_MODE_BASED_EPT_EXEC BIT(22)
#define PROC2_SUBPAGE_WRITE BIT(23)
#define EXIT_SAVE_DEBUG_CONTROLS BIT(2)
#define EXIT_HOST_ADDR_SPACE_SIZE BIT(9)
#define EXIT_SAVE_EFER BIT(20)
#define EXIT_LOAD_EFER BIT(21)
#define ENTRY_LOAD_DEBUG_CONTROLS BIT(2)
#define ENTRY_IA32E_GUEST BIT(9)
#define ENTRY_LOAD_EFER BIT(15)

static const struct vmx_caps skylake_x = {
    .basic = 0x00d810000000002bull,
    .pinbased = 0x0000007f00000016ull,
    .procbased = 0xf7f9fffe0401e172ull,
    .exit = 0x007fffff00036dffull,
    .entry = 0x0000ffff000011ffull,
    .misc = 0x00000000600401e0ull,
    .cr0_fixed0 = 0x80000021ull,
    .cr0_fixed1 = 0xffffffffull,
    .cr4_fixed0 = 0x2000ull,
    .cr4_fixed1 = 0x3727ffull,
    .procbased2 = 0x02177fff00000000ull,
    .ept_vpid = 0x00000f0106334141ull,
    .true_pinbased = 0x0000007f00000016ull,
    .true_procbased = 0xf7f9fffe04006172ull,
    .true_exit = 0x007fffff00036dfbull,
    .true_entry = 0x0000ffff000011fbull,
    .vmfunc = 0x1ull,
};

static struct vmx_caps without_true_controls(void)
{
    struct vmx_caps c = skylake_x;
    c.basic &= ~VMX_BASIC_TRUE_CTLS;
    return c;
}

/* Only the TRUE MSR lets CR3-load/store exiting (default1 class) be 0. */
TEST(vmx_caps_proc_default1_true_controls)
{
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC, 0, 0, &v), 0);
    CHECK_EQ(v, 0x04006172);
    CHECK_EQ(v & (PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING), 0);
}

TEST(vmx_caps_proc_default1_without_true_controls)
{
    struct vmx_caps c = without_true_controls();
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC, 0, 0, &v), 0);
    CHECK_EQ(v, 0x0401e172);
}

/* With bit 55 clear the TRUE fields are not consulted even when they hold something. */
TEST(vmx_caps_non_true_msrs_ignore_true_fields)
{
    struct vmx_caps c = without_true_controls();
    uint32_t v = 0;
    c.true_pinbased = c.true_exit = c.true_entry = 0;
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PIN, 0, 0, &v), 0);
    CHECK_EQ(v, 0x16);
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_EXIT, EXIT_HOST_ADDR_SPACE_SIZE, 0, &v), 0);
    CHECK_EQ(v, 0x00036fff);
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_ENTRY, 0, 0, &v), 0);
    CHECK_EQ(v, 0x000011ff);
}

TEST(vmx_caps_proc_wanted_bits)
{
    uint32_t v = 0;
    uint32_t want = PROC_HLT_EXITING | PROC_USE_MSR_BITMAPS | PROC_ACTIVATE_SECONDARY;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC, want, want, &v), 0);
    CHECK_EQ(v, 0x04006172 | want);
}

/* skylake_x lacks the monitor trap flag: wanted it is dropped, needed it fails. */
TEST(vmx_caps_proc_monitor_trap_flag_missing)
{
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC, PROC_MONITOR_TRAP_FLAG, 0, &v), 0);
    CHECK_EQ(v, 0x04006172);
    v = 0;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC, PROC_HLT_EXITING, PROC_MONITOR_TRAP_FLAG,
                                 &v), -1);
    CHECK_EQ(v, 0x04006172 | PROC_HLT_EXITING);
}

TEST(vmx_caps_pin_default1)
{
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PIN, 0, 0, &v), 0);
    CHECK_EQ(v, 0x16);
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PIN, BIT(7), BIT(7), &v), -1);
    CHECK_EQ(v, 0x16);
}

TEST(vmx_caps_entry_long_mode_guest)
{
    uint32_t v = 0, want = ENTRY_IA32E_GUEST | ENTRY_LOAD_EFER;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_ENTRY, want, want, &v), 0);
    CHECK_EQ(v, 0x000093fb);
    CHECK_EQ(v & ENTRY_LOAD_DEBUG_CONTROLS, 0);
}

TEST(vmx_caps_entry_load_debug_controls_forced_without_true)
{
    struct vmx_caps c = without_true_controls();
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_ENTRY, ENTRY_IA32E_GUEST, 0, &v), 0);
    CHECK_EQ(v, 0x000013ff);
    CHECK(v & ENTRY_LOAD_DEBUG_CONTROLS);
}

TEST(vmx_caps_exit_long_mode_host)
{
    uint32_t v = 0, want = EXIT_HOST_ADDR_SPACE_SIZE | EXIT_SAVE_EFER | EXIT_LOAD_EFER;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_EXIT, want, want, &v), 0);
    CHECK_EQ(v, 0x00336ffb);
    CHECK_EQ(v & EXIT_SAVE_DEBUG_CONTROLS, 0);
}

TEST(vmx_caps_exit_bit_beyond_allowed1)
{
    uint32_t v = 0;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_EXIT, 0, BIT(23), &v), -1);
    CHECK_EQ(v, 0x00036dfb);
}

TEST(vmx_caps_proc2_allowed_from_skylake_x)
{
    uint32_t v = 0;
    uint32_t want = PROC2_EPT | PROC2_UNRESTRICTED_GUEST | PROC2_VPID | PROC2_RDTSCP | PROC2_XSAVES;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC2, want, want, &v), 0);
    CHECK_EQ(v, want);
}

TEST(vmx_caps_proc2_not_allowed_bits)
{
    uint32_t v = 0;
    uint32_t want = PROC2_EPT | PROC2_MODE_BASED_EPT_EXEC | PROC2_SUBPAGE_WRITE;
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC2, want, 0, &v), 0);
    CHECK_EQ(v, PROC2_EPT);
    CHECK_EQ(vmx_adjust_controls(&skylake_x, VMX_CTL_PROC2, PROC2_EPT, PROC2_MODE_BASED_EPT_EXEC, &v),
             -1);
    CHECK_EQ(v, PROC2_EPT);
}

TEST(vmx_caps_proc2_tigerlake_adds_subpage_write)
{
    struct vmx_caps c = skylake_x;
    uint32_t v = 0;
    c.basic = 0x01d8100000000004ull;
    c.procbased2 = 0x02977fff00000000ull;
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC2, 0, PROC2_SUBPAGE_WRITE, &v), 0);
    CHECK_EQ(v, PROC2_SUBPAGE_WRITE);
}

/* Without the 1-setting of "activate secondary controls" the PROC2 MSR does not exist. */
TEST(vmx_caps_proc2_absent_without_activate_secondary)
{
    struct vmx_caps c = skylake_x;
    uint32_t v = 0xffffffff;
    c.true_procbased &= ~((uint64_t)PROC_ACTIVATE_SECONDARY << 32);
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC2, PROC2_EPT, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC2, 0, PROC2_EPT, &v), -1);
    CHECK_EQ(v, 0);
}

/* The secondary-controls check follows the MSR that bit 55 selects. */
TEST(vmx_caps_proc2_follows_selected_proc_msr)
{
    struct vmx_caps c = without_true_controls();
    uint32_t v = 0;
    c.true_procbased = 0;
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC2, 0, PROC2_EPT, &v), 0);
    CHECK_EQ(v, PROC2_EPT);
    c.procbased &= ~((uint64_t)PROC_ACTIVATE_SECONDARY << 32);
    CHECK_EQ(vmx_adjust_controls(&c, VMX_CTL_PROC2, 0, PROC2_EPT, &v), -1);
}

/* OVMF's CR0 at the loader already satisfies the fixed bits. */
TEST(vmx_caps_cr0_ovmf_unchanged)
{
    CHECK_EQ(vmx_fix_cr0(&skylake_x, 0x80010033ull, false), 0x80010033ull);
    CHECK_EQ(vmx_fix_cr0(&skylake_x, 0x80010033ull, true), 0x80010033ull);
}

/* Real-mode CR0 after reset (CD, NW, ET): NE is always forced; PE and PG only without unrestricted guest. */
TEST(vmx_caps_cr0_real_mode)
{
    CHECK_EQ(vmx_fix_cr0(&skylake_x, 0x60000010ull, false), 0xe0000031ull);
    CHECK_EQ(vmx_fix_cr0(&skylake_x, 0x60000010ull, true), 0x60000030ull);
}

TEST(vmx_caps_cr0_fixed1_clears)
{
    CHECK_EQ(vmx_fix_cr0(&skylake_x, 0xffffffff80000021ull, false), 0x80000021ull);
}

TEST(vmx_caps_cr4_gets_vmxe)
{
    CHECK_EQ(vmx_fix_cr4(&skylake_x, 0x668ull), 0x2668ull);
    CHECK_EQ(vmx_fix_cr4(&skylake_x, 0x800000ull), 0x2000ull);   /* CET (bit 23) not allowed here */
}

TEST(vmx_caps_revision_and_region_size)
{
    struct vmx_caps tigerlake = { .basic = 0x01d8100000000004ull };
    CHECK_EQ(vmx_revision(&skylake_x), 0x2b);
    CHECK_EQ(vmx_region_size(&skylake_x), 4096);
    CHECK_EQ(vmx_revision(&tigerlake), 4);
    CHECK_EQ(vmx_region_size(&tigerlake), 4096);
}

/* Bit 31 of IA32_VMX_BASIC is always 0 and bits 47:45 are not part of the size. */
TEST(vmx_caps_basic_field_masks)
{
    struct vmx_caps c = { .basic = 0x0000e80080000abcull };
    CHECK_EQ(vmx_revision(&c), 0xabc);
    CHECK_EQ(vmx_region_size(&c), 0x800);
}
