/* api/whv_platform.h against docs/whv-abi-facts.md: numeric values, sizes and offsets again at run time
 * (so a wrong _Static_assert also shows up as a named failing test), and the bit position of every
 * bitfield, which offsetof cannot check: set the field through the struct, read the raw integer view. */
#include "check.h"
#include "api/whv_platform.h"

#include <string.h>

#define BIT64(n) (1ull << (n))

/* Zeroes a `type`, sets `field` to `value` and checks the raw view `raw` reads `expected`. */
#define CHECK_FIELD_BITS(type, raw, field, value, expected)                          \
    do {                                                                             \
        type u_;                                                                     \
        memset(&u_, 0, sizeof u_);                                                   \
        u_.field = (value);                                                          \
        CHECK_EQ(u_.raw, (expected));                                                \
    } while (0)

/* The same for a type without a raw member: its first 8 bytes are the raw view. */
static uint64_t first_qword(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define CHECK_FIELD_BITS_Q(type, field, value, expected)                             \
    do {                                                                             \
        type u_;                                                                     \
        memset(&u_, 0, sizeof u_);                                                   \
        u_.field = (value);                                                          \
        CHECK_EQ(first_qword(&u_), (expected));                                      \
    } while (0)

/* ------------------------------------------------------------------------------------------------
 * Numeric values
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_exit_reason_values)
{
    CHECK_EQ(WHvRunVpExitReasonNone, 0x0);
    CHECK_EQ(WHvRunVpExitReasonMemoryAccess, 0x1);
    CHECK_EQ(WHvRunVpExitReasonX64IoPortAccess, 0x2);
    CHECK_EQ(WHvRunVpExitReasonUnrecoverableException, 0x4);
    CHECK_EQ(WHvRunVpExitReasonInvalidVpRegisterValue, 0x5);
    CHECK_EQ(WHvRunVpExitReasonUnsupportedFeature, 0x6);
    CHECK_EQ(WHvRunVpExitReasonX64InterruptWindow, 0x7);
    CHECK_EQ(WHvRunVpExitReasonX64Halt, 0x8);
    CHECK_EQ(WHvRunVpExitReasonX64ApicEoi, 0x9);
    CHECK_EQ(WHvRunVpExitReasonSynicSintDeliverable, 0xA);
    CHECK_EQ(WHvRunVpExitReasonX64MsrAccess, 0x1000);
    CHECK_EQ(WHvRunVpExitReasonX64Cpuid, 0x1001);
    CHECK_EQ(WHvRunVpExitReasonException, 0x1002);
    CHECK_EQ(WHvRunVpExitReasonX64Rdtsc, 0x1003);
    CHECK_EQ(WHvRunVpExitReasonX64ApicSmiTrap, 0x1004);
    CHECK_EQ(WHvRunVpExitReasonHypercall, 0x1005);
    CHECK_EQ(WHvRunVpExitReasonX64ApicInitSipiTrap, 0x1006);
    CHECK_EQ(WHvRunVpExitReasonX64ApicWriteTrap, 0x1007);
    CHECK_EQ(WHvRunVpExitReasonCanceled, 0x2001);
}

/* 0x3 (the retired X64LegacyFpError) stays unused by every named exit reason. */
TEST(whv_exit_reason_3_reserved)
{
    static const WHV_RUN_VP_EXIT_REASON all[] = {
        WHvRunVpExitReasonNone,
        WHvRunVpExitReasonMemoryAccess,
        WHvRunVpExitReasonX64IoPortAccess,
        WHvRunVpExitReasonUnrecoverableException,
        WHvRunVpExitReasonInvalidVpRegisterValue,
        WHvRunVpExitReasonUnsupportedFeature,
        WHvRunVpExitReasonX64InterruptWindow,
        WHvRunVpExitReasonX64Halt,
        WHvRunVpExitReasonX64ApicEoi,
        WHvRunVpExitReasonSynicSintDeliverable,
        WHvRunVpExitReasonX64MsrAccess,
        WHvRunVpExitReasonX64Cpuid,
        WHvRunVpExitReasonException,
        WHvRunVpExitReasonX64Rdtsc,
        WHvRunVpExitReasonX64ApicSmiTrap,
        WHvRunVpExitReasonHypercall,
        WHvRunVpExitReasonX64ApicInitSipiTrap,
        WHvRunVpExitReasonX64ApicWriteTrap,
        WHvRunVpExitReasonCanceled,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK(all[i] != 0x3);
}

TEST(whv_register_name_values)
{
    static const struct {
        WHV_REGISTER_NAME name;
        uint32_t value;
    } regs[] = {
        { WHvX64RegisterRax, 0x0 },
        { WHvX64RegisterRcx, 0x1 },
        { WHvX64RegisterRdx, 0x2 },
        { WHvX64RegisterRbx, 0x3 },
        { WHvX64RegisterRsp, 0x4 },
        { WHvX64RegisterRbp, 0x5 },
        { WHvX64RegisterRsi, 0x6 },
        { WHvX64RegisterRdi, 0x7 },
        { WHvX64RegisterR8, 0x8 },
        { WHvX64RegisterR9, 0x9 },
        { WHvX64RegisterR10, 0xA },
        { WHvX64RegisterR11, 0xB },
        { WHvX64RegisterR12, 0xC },
        { WHvX64RegisterR13, 0xD },
        { WHvX64RegisterR14, 0xE },
        { WHvX64RegisterR15, 0xF },
        { WHvX64RegisterRip, 0x10 },
        { WHvX64RegisterRflags, 0x11 },
        { WHvX64RegisterEs, 0x12 },
        { WHvX64RegisterCs, 0x13 },
        { WHvX64RegisterSs, 0x14 },
        { WHvX64RegisterDs, 0x15 },
        { WHvX64RegisterFs, 0x16 },
        { WHvX64RegisterGs, 0x17 },
        { WHvX64RegisterLdtr, 0x18 },
        { WHvX64RegisterTr, 0x19 },
        { WHvX64RegisterIdtr, 0x1A },
        { WHvX64RegisterGdtr, 0x1B },
        { WHvX64RegisterCr0, 0x1C },
        { WHvX64RegisterCr2, 0x1D },
        { WHvX64RegisterCr3, 0x1E },
        { WHvX64RegisterCr4, 0x1F },
        { WHvX64RegisterCr8, 0x20 },
        { WHvX64RegisterDr0, 0x21 },
        { WHvX64RegisterDr1, 0x22 },
        { WHvX64RegisterDr2, 0x23 },
        { WHvX64RegisterDr3, 0x24 },
        { WHvX64RegisterDr6, 0x25 },
        { WHvX64RegisterDr7, 0x26 },
        { WHvX64RegisterXCr0, 0x27 },
        { WHvX64RegisterXmm0, 0x1000 },
        { WHvX64RegisterXmm1, 0x1001 },
        { WHvX64RegisterXmm2, 0x1002 },
        { WHvX64RegisterXmm3, 0x1003 },
        { WHvX64RegisterXmm4, 0x1004 },
        { WHvX64RegisterXmm5, 0x1005 },
        { WHvX64RegisterXmm6, 0x1006 },
        { WHvX64RegisterXmm7, 0x1007 },
        { WHvX64RegisterXmm8, 0x1008 },
        { WHvX64RegisterXmm9, 0x1009 },
        { WHvX64RegisterXmm10, 0x100A },
        { WHvX64RegisterXmm11, 0x100B },
        { WHvX64RegisterXmm12, 0x100C },
        { WHvX64RegisterXmm13, 0x100D },
        { WHvX64RegisterXmm14, 0x100E },
        { WHvX64RegisterXmm15, 0x100F },
        { WHvX64RegisterFpMmx0, 0x1010 },
        { WHvX64RegisterFpMmx1, 0x1011 },
        { WHvX64RegisterFpMmx2, 0x1012 },
        { WHvX64RegisterFpMmx3, 0x1013 },
        { WHvX64RegisterFpMmx4, 0x1014 },
        { WHvX64RegisterFpMmx5, 0x1015 },
        { WHvX64RegisterFpMmx6, 0x1016 },
        { WHvX64RegisterFpMmx7, 0x1017 },
        { WHvX64RegisterFpControlStatus, 0x1018 },
        { WHvX64RegisterXmmControlStatus, 0x1019 },
        { WHvX64RegisterTsc, 0x2000 },
        { WHvX64RegisterEfer, 0x2001 },
        { WHvX64RegisterKernelGsBase, 0x2002 },
        { WHvX64RegisterApicBase, 0x2003 },
        { WHvX64RegisterPat, 0x2004 },
        { WHvX64RegisterSysenterCs, 0x2005 },
        { WHvX64RegisterSysenterEip, 0x2006 },
        { WHvX64RegisterSysenterEsp, 0x2007 },
        { WHvX64RegisterStar, 0x2008 },
        { WHvX64RegisterLstar, 0x2009 },
        { WHvX64RegisterCstar, 0x200A },
        { WHvX64RegisterSfmask, 0x200B },
        { WHvX64RegisterTscAux, 0x207B },
        { WHvRegisterPendingInterruption, 0x80000000 },
        { WHvRegisterInterruptState, 0x80000001 },
        { WHvRegisterPendingEvent, 0x80000002 },
        { WHvX64RegisterDeliverabilityNotifications, 0x80000004 },
        { WHvRegisterInternalActivityState, 0x80000005 },
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
        CHECK_EQ(regs[i].name, regs[i].value);
    /* Aliases name the same register. */
    CHECK_EQ(WHvRegisterPendingEvent0, WHvRegisterPendingEvent);
    CHECK_EQ(WHvRegisterDeliverabilityNotifications, WHvX64RegisterDeliverabilityNotifications);
}

TEST(whv_hresult_values)
{
    CHECK_EQ((uint32_t)S_OK, 0x00000000u);
    CHECK_EQ((uint32_t)E_INVALIDARG, 0x80070057u);
    CHECK_EQ((uint32_t)E_OUTOFMEMORY, 0x8007000Eu);
    CHECK_EQ((uint32_t)E_ACCESSDENIED, 0x80070005u);
    CHECK_EQ((uint32_t)E_HANDLE, 0x80070006u);
    CHECK_EQ((uint32_t)E_FAIL, 0x80004005u);
    CHECK_EQ((uint32_t)E_NOTIMPL, 0x80004001u);
    CHECK_EQ((uint32_t)E_POINTER, 0x80004003u);
    CHECK_EQ((uint32_t)E_UNEXPECTED, 0x8000FFFFu);
    CHECK_EQ((uint32_t)WHV_E_UNKNOWN_CAPABILITY, 0x80370300u);
    CHECK_EQ((uint32_t)WHV_E_INSUFFICIENT_BUFFER, 0x80370301u);
    CHECK_EQ((uint32_t)WHV_E_UNKNOWN_PROPERTY, 0x80370302u);
    CHECK_EQ((uint32_t)WHV_E_UNSUPPORTED_HYPERVISOR_CONFIG, 0x80370303u);
    CHECK_EQ((uint32_t)WHV_E_INVALID_PARTITION_CONFIG, 0x80370304u);
    CHECK_EQ((uint32_t)WHV_E_GPA_RANGE_NOT_FOUND, 0x80370305u);
    CHECK_EQ((uint32_t)WHV_E_VP_ALREADY_EXISTS, 0x80370306u);
    CHECK_EQ((uint32_t)WHV_E_VP_DOES_NOT_EXIST, 0x80370307u);
    CHECK_EQ((uint32_t)WHV_E_INVALID_VP_STATE, 0x80370308u);
    CHECK_EQ((uint32_t)WHV_E_INVALID_VP_REGISTER_NAME, 0x80370309u);
}

TEST(whv_hresult_hv_status_and_macros)
{
    CHECK_EQ((uint32_t)ERROR_HV_INVALID_HYPERCALL_CODE, 0xC0350002u);
    CHECK_EQ((uint32_t)ERROR_HV_INVALID_HYPERCALL_INPUT, 0xC0350003u);
    CHECK_EQ((uint32_t)ERROR_HV_INVALID_ALIGNMENT, 0xC0350004u);
    CHECK_EQ((uint32_t)ERROR_HV_INVALID_PARAMETER, 0xC0350005u);
    CHECK_EQ((uint32_t)ERROR_HV_ACCESS_DENIED, 0xC0350006u);
    CHECK_EQ((uint32_t)ERROR_HV_INVALID_PARTITION_STATE, 0xC0350007u);
    CHECK_EQ((uint32_t)ERROR_HV_OPERATION_DENIED, 0xC0350008u);
    CHECK_EQ((uint32_t)ERROR_HV_UNKNOWN_PROPERTY, 0xC0350009u);
    CHECK_EQ((uint32_t)ERROR_HV_PROPERTY_VALUE_OUT_OF_RANGE, 0xC035000Au);
    CHECK_EQ((uint32_t)ERROR_HV_INSUFFICIENT_MEMORY, 0xC035000Bu);
    CHECK_EQ(HVX_HRESULT_FROM_HV_STATUS(5), ERROR_HV_INVALID_PARAMETER);
    CHECK_EQ(HVX_HRESULT_FROM_HV_STATUS(0xB), ERROR_HV_INSUFFICIENT_MEMORY);

    CHECK(SUCCEEDED(S_OK));
    CHECK(!FAILED(S_OK));
    CHECK(FAILED(E_FAIL));
    CHECK(FAILED(WHV_E_INSUFFICIENT_BUFFER));
    CHECK(FAILED(ERROR_HV_INVALID_PARAMETER));
    CHECK(!SUCCEEDED(E_INVALIDARG));
}

TEST(whv_property_and_capability_codes)
{
    CHECK_EQ(WHvPartitionPropertyCodeExtendedVmExits, 0x1);
    CHECK_EQ(WHvPartitionPropertyCodeExceptionExitBitmap, 0x2);
    CHECK_EQ(WHvPartitionPropertyCodeX64MsrExitBitmap, 0x5);
    CHECK_EQ(WHvPartitionPropertyCodeProcessorFeatures, 0x1001);
    CHECK_EQ(WHvPartitionPropertyCodeCpuidExitList, 0x1003);
    CHECK_EQ(WHvPartitionPropertyCodeCpuidResultList, 0x1004);
    CHECK_EQ(WHvPartitionPropertyCodeLocalApicEmulationMode, 0x1005);
    CHECK_EQ(WHvPartitionPropertyCodeProcessorCount, 0x1FFF);

    CHECK_EQ(WHvCapabilityCodeHypervisorPresent, 0);
    CHECK_EQ(WHvCapabilityCodeFeatures, 1);
    CHECK_EQ(WHvCapabilityCodeExtendedVmExits, 2);
    CHECK_EQ(WHvCapabilityCodeExceptionExitBitmap, 3);
    CHECK_EQ(WHvCapabilityCodeX64MsrExitBitmap, 4);
    CHECK_EQ(WHvCapabilityCodeProcessorVendor, 0x1000);
    CHECK_EQ(WHvCapabilityCodeProcessorFeatures, 0x1001);
    CHECK_EQ(WHvCapabilityCodeProcessorClFlushSize, 0x1002);
    CHECK_EQ(WHvCapabilityCodeProcessorXsaveFeatures, 0x1003);
    CHECK_EQ(WHvCapabilityCodeProcessorClockFrequency, 0x1004);
    CHECK_EQ(WHvCapabilityCodePhysicalAddressWidth, 0x100A);

    CHECK_EQ(WHvProcessorVendorIntel, 1);
    CHECK_EQ(WHvX64LocalApicEmulationModeNone, 0);
}

TEST(whv_flag_and_payload_enum_values)
{
    CHECK_EQ(WHvMapGpaRangeFlagNone, 0);
    CHECK_EQ(WHvMapGpaRangeFlagRead, 1);
    CHECK_EQ(WHvMapGpaRangeFlagWrite, 2);
    CHECK_EQ(WHvMapGpaRangeFlagExecute, 4);
    CHECK_EQ(WHvMapGpaRangeFlagTrackDirtyPages, 8);

    CHECK_EQ(WHvTranslateGvaFlagValidateRead, 1);
    CHECK_EQ(WHvTranslateGvaFlagValidateWrite, 2);
    CHECK_EQ(WHvTranslateGvaFlagValidateExecute, 4);
    CHECK_EQ(WHvTranslateGvaFlagPrivilegeExempt, 8);
    CHECK_EQ(WHvTranslateGvaFlagSetPageTableBits, 0x10);

    CHECK_EQ(WHvTranslateGvaResultSuccess, 0);
    CHECK_EQ(WHvTranslateGvaResultPageNotPresent, 1);
    CHECK_EQ(WHvTranslateGvaResultPrivilegeViolation, 2);
    CHECK_EQ(WHvTranslateGvaResultInvalidPageTableFlags, 3);
    CHECK_EQ(WHvTranslateGvaResultGpaUnmapped, 4);
    CHECK_EQ(WHvTranslateGvaResultGpaNoReadAccess, 5);
    CHECK_EQ(WHvTranslateGvaResultGpaNoWriteAccess, 6);
    CHECK_EQ(WHvTranslateGvaResultIntercept, 8);

    CHECK_EQ(WHvMemoryAccessRead, 0);
    CHECK_EQ(WHvMemoryAccessWrite, 1);
    CHECK_EQ(WHvMemoryAccessExecute, 2);
    CHECK_EQ(WHvUnsupportedFeatureIntercept, 1);
    CHECK_EQ(WHvUnsupportedFeatureTaskSwitchTss, 2);
    CHECK_EQ(WHvRunVpCancelReasonUser, 0);
    CHECK_EQ(WhvRunVpCancelReasonUser, 0);
    CHECK_EQ(WHvX64PendingInterrupt, 0);
    CHECK_EQ(WHvX64PendingNmi, 2);
    CHECK_EQ(WHvX64PendingException, 3);
}

/* ------------------------------------------------------------------------------------------------
 * Sizes and offsets (mirrors of the header's _Static_asserts)
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_struct_sizes)
{
    CHECK_EQ(sizeof(WHV_RUN_VP_EXIT_CONTEXT), 224);
    CHECK_EQ(_Alignof(WHV_RUN_VP_EXIT_CONTEXT), 16);
    CHECK_EQ(sizeof(WHV_VP_EXIT_CONTEXT), 40);
    CHECK_EQ(sizeof(WHV_X64_SEGMENT_REGISTER), 16);
    CHECK_EQ(sizeof(WHV_X64_TABLE_REGISTER), 16);
    CHECK_EQ(sizeof(WHV_UINT128), 16);
    CHECK_EQ(_Alignof(WHV_UINT128), 16);
    CHECK_EQ(sizeof(WHV_REGISTER_VALUE), 16);
    CHECK_EQ(_Alignof(WHV_REGISTER_VALUE), 16);
    CHECK_EQ(sizeof(WHV_X64_FP_REGISTER), 16);
    CHECK_EQ(sizeof(WHV_X64_FP_CONTROL_STATUS_REGISTER), 16);
    CHECK_EQ(sizeof(WHV_X64_XMM_CONTROL_STATUS_REGISTER), 16);
    CHECK_EQ(sizeof(WHV_X64_PENDING_INTERRUPTION_REGISTER), 8);
    CHECK_EQ(sizeof(WHV_X64_INTERRUPT_STATE_REGISTER), 8);
    CHECK_EQ(sizeof(WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER), 8);
    CHECK_EQ(sizeof(WHV_X64_PENDING_EXCEPTION_EVENT), 16);
    CHECK_EQ(sizeof(WHV_X64_PENDING_EXT_INT_EVENT), 16);
    CHECK_EQ(sizeof(WHV_MEMORY_ACCESS_CONTEXT), 40);
    CHECK_EQ(sizeof(WHV_X64_IO_PORT_ACCESS_CONTEXT), 96);
    CHECK_EQ(sizeof(WHV_X64_MSR_ACCESS_CONTEXT), 24);
    CHECK_EQ(sizeof(WHV_X64_CPUID_ACCESS_CONTEXT), 64);
    CHECK_EQ(sizeof(WHV_VP_EXCEPTION_CONTEXT), 40);
    CHECK_EQ(sizeof(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT), 16);
    CHECK_EQ(sizeof(WHV_RUN_VP_CANCELED_CONTEXT), 4);
    CHECK_EQ(sizeof(WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT), 4);
    CHECK_EQ(sizeof(WHV_X64_APIC_EOI_CONTEXT), 4);
    CHECK_EQ(sizeof(WHV_X64_RDTSC_CONTEXT), 40);
    CHECK_EQ(sizeof(WHV_HYPERCALL_CONTEXT), 176);
    CHECK_EQ(_Alignof(WHV_HYPERCALL_CONTEXT), 16);
    CHECK_EQ(sizeof(WHV_X64_APIC_SMI_CONTEXT), 8);
    CHECK_EQ(sizeof(WHV_X64_APIC_INIT_SIPI_CONTEXT), 8);
    CHECK_EQ(sizeof(WHV_X64_APIC_WRITE_CONTEXT), 16);
    CHECK_EQ(sizeof(WHV_PARTITION_PROPERTY), 48);
    CHECK_EQ(sizeof(WHV_TRANSLATE_GVA_RESULT), 8);
    CHECK_EQ(sizeof(WHV_X64_CPUID_RESULT), 32);
    CHECK_EQ(sizeof(WHV_INTERRUPT_CONTROL), 16);
    CHECK_EQ(sizeof(WHV_ACCESS_GPA_CONTROLS), 8);
    CHECK_EQ(sizeof(WHV_REGISTER_NAME), 4);
    CHECK_EQ(sizeof(WHV_RUN_VP_EXIT_REASON), 4);
    CHECK_EQ(sizeof(WHV_PARTITION_PROPERTY_CODE), 4);
    CHECK_EQ(sizeof(WHV_CAPABILITY_CODE), 4);
}

TEST(whv_exit_context_offsets)
{
    CHECK_EQ(offsetof(WHV_RUN_VP_EXIT_CONTEXT, ExitReason), 0);
    CHECK_EQ(offsetof(WHV_RUN_VP_EXIT_CONTEXT, Reserved), 4);
    CHECK_EQ(offsetof(WHV_RUN_VP_EXIT_CONTEXT, VpContext), 8);
    CHECK_EQ(offsetof(WHV_RUN_VP_EXIT_CONTEXT, MemoryAccess), 48);
    CHECK_EQ(offsetof(WHV_RUN_VP_EXIT_CONTEXT, Hypercall), 48);
    CHECK_EQ(offsetof(WHV_VP_EXIT_CONTEXT, Cs), 8);
    CHECK_EQ(offsetof(WHV_VP_EXIT_CONTEXT, Rip), 24);
    CHECK_EQ(offsetof(WHV_VP_EXIT_CONTEXT, Rflags), 32);
    CHECK_EQ(offsetof(WHV_X64_SEGMENT_REGISTER, Attributes), 14);
    CHECK_EQ(offsetof(WHV_MEMORY_ACCESS_CONTEXT, AccessInfo), 20);
    CHECK_EQ(offsetof(WHV_MEMORY_ACCESS_CONTEXT, Gpa), 24);
    CHECK_EQ(offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, PortNumber), 24);
    CHECK_EQ(offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, Ds), 64);
    CHECK_EQ(offsetof(WHV_X64_IO_PORT_ACCESS_CONTEXT, Es), 80);
    CHECK_EQ(offsetof(WHV_VP_EXCEPTION_CONTEXT, ExceptionType), 24);
    CHECK_EQ(offsetof(WHV_VP_EXCEPTION_CONTEXT, ExceptionParameter), 32);
    CHECK_EQ(offsetof(WHV_HYPERCALL_CONTEXT, XmmRegisters), 64);
    CHECK_EQ(offsetof(WHV_X64_TABLE_REGISTER, Limit), 6);
}

/* Clients built with the pre-Hypercall SDKs pass a 144-byte buffer: the header and every payload but
 * Hypercall must fit in it. */
TEST(whv_legacy_144_prefix)
{
#define FITS_144(member) \
    CHECK(offsetof(WHV_RUN_VP_EXIT_CONTEXT, member) + sizeof(((WHV_RUN_VP_EXIT_CONTEXT *)0)->member) <= 144)
    CHECK_EQ(WHV_RUN_VP_EXIT_CONTEXT_LEGACY_SIZE, 144);
    FITS_144(ExitReason);
    FITS_144(Reserved);
    FITS_144(VpContext);
    FITS_144(MemoryAccess);
    FITS_144(IoPortAccess);
    FITS_144(MsrAccess);
    FITS_144(CpuidAccess);
    FITS_144(VpException);
    FITS_144(InterruptWindow);
    FITS_144(UnsupportedFeature);
    FITS_144(CancelReason);
    FITS_144(ApicEoi);
    FITS_144(ReadTsc);
    FITS_144(ApicSmi);
    FITS_144(ApicInitSipi);
    FITS_144(ApicWrite);
    FITS_144(SynicSintDeliverable);
#undef FITS_144
    CHECK(offsetof(WHV_RUN_VP_EXIT_CONTEXT, Hypercall) + sizeof(WHV_HYPERCALL_CONTEXT) > 144);
}

/* ------------------------------------------------------------------------------------------------
 * Bitfield positions
 * ---------------------------------------------------------------------------------------------- */

TEST(whv_execution_state_bits)
{
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, Cpl, 3, 0x0003);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, Cr0Pe, 1, 1u << 2);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, Cr0Am, 1, 1u << 3);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, EferLma, 1, 1u << 4);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, DebugActive, 1, 1u << 5);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, InterruptionPending, 1, 1u << 6);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, Reserved0, 0x1F, 0x1Fu << 7);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, InterruptShadow, 1, 1u << 12);
    CHECK_FIELD_BITS(WHV_X64_VP_EXECUTION_STATE, AsUINT16, Reserved1, 7, 7u << 13);
}

/* InstructionLength is the low nibble and Cr8 the high nibble of byte 2 of WHV_VP_EXIT_CONTEXT. */
TEST(whv_vp_exit_context_length_cr8_byte)
{
    WHV_VP_EXIT_CONTEXT c;
    memset(&c, 0, sizeof c);
    c.InstructionLength = 0xA;
    CHECK_EQ(((const uint8_t *)&c)[2], 0x0A);
    memset(&c, 0, sizeof c);
    c.Cr8 = 0x5;
    CHECK_EQ(((const uint8_t *)&c)[2], 0x50);
    CHECK_EQ(((const uint8_t *)&c)[3], 0);
}

TEST(whv_segment_attribute_bits)
{
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, SegmentType, 0xB, 0x000B);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, NonSystemSegment, 1, 1u << 4);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, DescriptorPrivilegeLevel, 3, 3u << 5);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Present, 1, 1u << 7);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Reserved, 0xF, 0xFu << 8);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Available, 1, 1u << 12);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Long, 1, 1u << 13);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Default, 1, 1u << 14);
    CHECK_FIELD_BITS(WHV_X64_SEGMENT_REGISTER, Attributes, Granularity, 1, 1u << 15);
}

TEST(whv_memory_access_info_bits)
{
    CHECK_FIELD_BITS(WHV_MEMORY_ACCESS_INFO, AsUINT32, AccessType, WHvMemoryAccessExecute, 2);
    CHECK_FIELD_BITS(WHV_MEMORY_ACCESS_INFO, AsUINT32, AccessType, WHvMemoryAccessWrite, 1);
    CHECK_FIELD_BITS(WHV_MEMORY_ACCESS_INFO, AsUINT32, GpaUnmapped, 1, 1u << 2);
    CHECK_FIELD_BITS(WHV_MEMORY_ACCESS_INFO, AsUINT32, GvaValid, 1, 1u << 3);
}

TEST(whv_io_port_access_info_bits)
{
    CHECK_FIELD_BITS(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32, IsWrite, 1, 1u);
    CHECK_FIELD_BITS(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32, AccessSize, 4, 4u << 1);
    CHECK_FIELD_BITS(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32, AccessSize, 1, 1u << 1);
    CHECK_FIELD_BITS(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32, StringOp, 1, 1u << 4);
    CHECK_FIELD_BITS(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32, RepPrefix, 1, 1u << 5);
}

TEST(whv_msr_exception_rdtsc_info_bits)
{
    CHECK_FIELD_BITS(WHV_X64_MSR_ACCESS_INFO, AsUINT32, IsWrite, 1, 1u);
    CHECK_FIELD_BITS(WHV_VP_EXCEPTION_INFO, AsUINT32, ErrorCodeValid, 1, 1u);
    CHECK_FIELD_BITS(WHV_VP_EXCEPTION_INFO, AsUINT32, SoftwareException, 1, 1u << 1);
    CHECK_FIELD_BITS(WHV_X64_RDTSC_INFO, AsUINT64, IsRdtscp, 1, 1u);
}

TEST(whv_pending_interruption_bits)
{
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, InterruptionPending, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, InterruptionType, WHvX64PendingException,
                     3ull << 1);
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, DeliverErrorCode, 1, BIT64(4));
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, InstructionLength, 0xF, 0xFull << 5);
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, NestedEvent, 1, BIT64(9));
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, Reserved, 0x3F, 0x3Full << 10);
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, InterruptionVector, 0xABCD, 0xABCDull << 16);
    CHECK_FIELD_BITS(WHV_X64_PENDING_INTERRUPTION_REGISTER, AsUINT64, ErrorCode, 0x12345678u, 0x12345678ull << 32);
}

TEST(whv_interrupt_state_and_deliverability_bits)
{
    CHECK_FIELD_BITS(WHV_X64_INTERRUPT_STATE_REGISTER, AsUINT64, InterruptShadow, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_X64_INTERRUPT_STATE_REGISTER, AsUINT64, NmiMasked, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER, AsUINT64, NmiNotification, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER, AsUINT64, InterruptNotification, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER, AsUINT64, InterruptPriority, 0xF, 0xFull << 2);
    CHECK_FIELD_BITS(WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER, AsUINT64, Sint, 0xFFFF, 0xFFFFull << 48);
    CHECK_FIELD_BITS(WHV_INTERNAL_ACTIVITY_REGISTER, AsUINT64, StartupSuspend, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_INTERNAL_ACTIVITY_REGISTER, AsUINT64, HaltSuspend, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_INTERNAL_ACTIVITY_REGISTER, AsUINT64, IdleSuspend, 1, BIT64(2));
    CHECK_FIELD_BITS(WHV_X64_PENDING_DEBUG_EXCEPTION, AsUINT64, Breakpoint3, 1, BIT64(3));
    CHECK_FIELD_BITS(WHV_X64_PENDING_DEBUG_EXCEPTION, AsUINT64, SingleStep, 1, BIT64(4));
}

TEST(whv_pending_event_bits)
{
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.Low64, EventPending, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.Low64, EventType, 7, 7ull << 1);
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.Low64, DeliverErrorCode, 1, BIT64(8));
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.Low64, Vector, 0x0E, 0x0Eull << 16);
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.Low64, ErrorCode, 0xCAFE, 0xCAFEull << 32);
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXCEPTION_EVENT, AsUINT128.High64, ExceptionParameter, 0xFFFF800000001000ull,
                     0xFFFF800000001000ull);
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXT_INT_EVENT, AsUINT128.Low64, EventType, WHvX64PendingEventExtInt, 5ull << 1);
    CHECK_FIELD_BITS(WHV_X64_PENDING_EXT_INT_EVENT, AsUINT128.Low64, Vector, 0xEF, 0xEFull << 8);
}

TEST(whv_fp_register_bits)
{
    CHECK_FIELD_BITS(WHV_X64_FP_REGISTER, AsUINT128.Low64, Mantissa, 0x8000000000000001ull, 0x8000000000000001ull);
    CHECK_FIELD_BITS(WHV_X64_FP_REGISTER, AsUINT128.High64, BiasedExponent, 0x7FFF, 0x7FFFull);
    CHECK_FIELD_BITS(WHV_X64_FP_REGISTER, AsUINT128.High64, Sign, 1, BIT64(15));
}

TEST(whv_extended_vm_exits_bits)
{
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64CpuidExit, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64MsrExit, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, ExceptionExit, 1, BIT64(2));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64RdtscExit, 1, BIT64(3));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicSmiExitTrap, 1, BIT64(4));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, HypercallExit, 1, BIT64(5));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicInitSipiExitTrap, 1, BIT64(6));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicWriteLint0ExitTrap, 1, BIT64(7));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicWriteLint1ExitTrap, 1, BIT64(8));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicWriteSvrExitTrap, 1, BIT64(9));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, UnknownSynicConnection, 1, BIT64(10));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, RetargetUnknownVpciDevice, 1, BIT64(11));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicWriteLdrExitTrap, 1, BIT64(12));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, X64ApicWriteDfrExitTrap, 1, BIT64(13));
    CHECK_FIELD_BITS(WHV_EXTENDED_VM_EXITS, AsUINT64, GpaAccessFaultExit, 1, BIT64(14));
}

TEST(whv_msr_exit_bitmap_and_capability_bits)
{
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, UnhandledMsrs, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, TscMsrWrite, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, TscMsrRead, 1, BIT64(2));
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, ApicBaseMsrWrite, 1, BIT64(3));
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, MiscEnableMsrRead, 1, BIT64(4));
    CHECK_FIELD_BITS(WHV_X64_MSR_EXIT_BITMAP, AsUINT64, McUpdatePatchLevelMsrRead, 1, BIT64(5));

    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, PartialUnmap, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, LocalApicEmulation, 1, BIT64(1));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, Xsave, 1, BIT64(2));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, DirtyPageTracking, 1, BIT64(3));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, SpeculationControl, 1, BIT64(4));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, ApicRemoteRead, 1, BIT64(5));
    CHECK_FIELD_BITS(WHV_CAPABILITY_FEATURES, AsUINT64, IdleSuspend, 1, BIT64(6));

    CHECK_FIELD_BITS(WHV_PROCESSOR_XSAVE_FEATURES, AsUINT64, XsaveSupport, 1, BIT64(0));
    CHECK_FIELD_BITS(WHV_PROCESSOR_XSAVE_FEATURES, AsUINT64, AvxSupport, 1, BIT64(2));
    CHECK_FIELD_BITS(WHV_PROCESSOR_XSAVE_FEATURES, AsUINT64, AmxFp16Support, 1, BIT64(37));
}

/* Type:8, DestinationMode:4, TriggerMode:4 fill the low 16 bits of the first quadword. */
TEST(whv_interrupt_control_bits)
{
    CHECK_FIELD_BITS_Q(WHV_INTERRUPT_CONTROL, Type, WHvX64InterruptTypeLocalInt1, 9ull);
    CHECK_FIELD_BITS_Q(WHV_INTERRUPT_CONTROL, Type, 0xFF, 0xFFull);
    CHECK_FIELD_BITS_Q(WHV_INTERRUPT_CONTROL, DestinationMode, WHvX64InterruptDestinationModeLogical, BIT64(8));
    CHECK_FIELD_BITS_Q(WHV_INTERRUPT_CONTROL, TriggerMode, WHvX64InterruptTriggerModeLevel, BIT64(12));
    CHECK_FIELD_BITS_Q(WHV_INTERRUPT_CONTROL, Reserved, 1, BIT64(16));
}

/* CacheType is the low dword; InputVtl the byte above it (TargetVtl:4, UseTargetVtl:1). */
TEST(whv_access_gpa_controls_bits)
{
    CHECK_FIELD_BITS(WHV_ACCESS_GPA_CONTROLS, AsUINT64, CacheType, WHvCacheTypeWriteBack, 6ull);
    CHECK_FIELD_BITS(WHV_ACCESS_GPA_CONTROLS, AsUINT64, InputVtl.TargetVtl, 0xF, 0xFull << 32);
    CHECK_FIELD_BITS(WHV_ACCESS_GPA_CONTROLS, AsUINT64, InputVtl.UseTargetVtl, 1, BIT64(36));
}
