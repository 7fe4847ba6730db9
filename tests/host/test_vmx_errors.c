/* Names come from SDM tables; a typo in an index would silently mislabel a failure in a VMCS dump. */
#include "check.h"
#include <string.h>
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_errors.h"

TEST(vmx_errors_instruction_error_names)
{
    CHECK(strcmp(vm_instruction_error_name(7), "VM entry with invalid control field(s)") == 0);
    CHECK(strcmp(vm_instruction_error_name(8), "VM entry with invalid host-state field(s)") == 0);
    CHECK(strcmp(vm_instruction_error_name(12), "VMREAD/VMWRITE from/to unsupported VMCS component") == 0);
    CHECK(strcmp(vm_instruction_error_name(14), "unknown") == 0);  /* 14 is reserved */
    CHECK(strcmp(vm_instruction_error_name(0), "unknown") == 0);
    CHECK(strcmp(vm_instruction_error_name(0xffffffffu), "unknown") == 0);
}

TEST(vmx_errors_exit_reason_names)
{
    CHECK(strcmp(vmx_exit_reason_name(10), "CPUID") == 0);
    CHECK(strcmp(vmx_exit_reason_name(30), "I/O instruction") == 0);
    CHECK(strcmp(vmx_exit_reason_name(48), "EPT violation") == 0);
    CHECK(strcmp(vmx_exit_reason_name(55), "XSETBV") == 0);
    CHECK(strcmp(vmx_exit_reason_name(35), "unknown") == 0);  /* reserved */
    CHECK(strcmp(vmx_exit_reason_name(VMX_EXIT_REASON_COUNT), "unknown") == 0);
}

/* The width bits 14:13 of encodings, as the typed accessors check them (SDM Appendix B). */
TEST(vmcs_field_widths_from_encoding)
{
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_GUEST_CS_SEL), VMCS_W16);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_HOST_TR_SEL), VMCS_W16);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_EPT_POINTER), VMCS_W64);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_GUEST_EFER), VMCS_W64);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_GUEST_PHYSICAL_ADDR), VMCS_W64);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_EXIT_REASON), VMCS_W32);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_GUEST_TR_AR), VMCS_W32);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_HOST_SYSENTER_CS), VMCS_W32);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_EXIT_QUALIFICATION), VMCS_WNAT);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_GUEST_RIP), VMCS_WNAT);
    CHECK_EQ(VMCS_FIELD_WIDTH(VMCS_HOST_RIP), VMCS_WNAT);
}
