/* Public WHV-compatible API of the hypervisor (x64).
 *
 * Same names, numeric values and byte layouts as Microsoft's Windows Hypervisor Platform headers
 * (WinHvPlatformDefs.h / WinHvPlatform.h), so a VMM written against those compiles and runs against this
 * one. Written from the facts in docs/whv-abi-facts.md and Microsoft's public documentation; every layout
 * the facts give is pinned by the _Static_asserts at the end, and the bitfield positions by
 * tests/host/test_whv_layout.c.
 *
 * Freestanding C11 (GNU dialect for anonymous members and typed bitfields): needs only <stdint.h> and
 * <stddef.h>. Define HVX_HAVE_WIN_TYPES before including it when the Windows base types (UINT32, BOOL,
 * HRESULT, ...) already come from elsewhere. */
#ifndef API_WHV_PLATFORM_H
#define API_WHV_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* The layouts, enum widths and the ms_abi calling convention below are those of x86-64 only. */
#if !defined(__x86_64__)
#error "api/whv_platform.h describes the x64 WHV ABI and needs an x86-64 target"
#endif

/* ---------------------------------------------------------------------------------------------------
 * Windows base types
 * ------------------------------------------------------------------------------------------------- */

/* A translation unit that also includes <windows.h> (minwindef.h) already has these. */
#if !defined(HVX_HAVE_WIN_TYPES) && !defined(_MINWINDEF_)
#define HVX_HAVE_WIN_TYPES 1
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int32_t INT32;
typedef int32_t BOOL;    /* Windows BOOL is a 32-bit int, not C's _Bool */
typedef int32_t HRESULT; /* negative = failure, see FAILED() */
#ifndef VOID
#define VOID void
#endif
#endif

/* Every WHv* entry point uses the Microsoft x64 calling convention, also when called from a SysV
 * program: arguments in RCX, RDX, R8, R9 and the stack, XMM6-15 callee-saved. */
#ifndef WINAPI
#define WINAPI __attribute__((ms_abi))
#endif

typedef VOID *WHV_PARTITION_HANDLE;
typedef UINT64 WHV_GUEST_PHYSICAL_ADDRESS;
typedef UINT64 WHV_GUEST_VIRTUAL_ADDRESS;

/* ---------------------------------------------------------------------------------------------------
 * HRESULTs
 *
 * Each one is guarded so winerror.h's definitions, which carry the same values, win when both appear.
 * ------------------------------------------------------------------------------------------------- */

#ifndef SUCCEEDED
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#endif
#ifndef FAILED
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#endif

#ifndef S_OK
#define S_OK ((HRESULT)0x00000000)
#endif
#ifndef E_INVALIDARG
#define E_INVALIDARG ((HRESULT)0x80070057)
#endif
#ifndef E_OUTOFMEMORY
#define E_OUTOFMEMORY ((HRESULT)0x8007000E)
#endif
#ifndef E_ACCESSDENIED
#define E_ACCESSDENIED ((HRESULT)0x80070005)
#endif
#ifndef E_HANDLE
#define E_HANDLE ((HRESULT)0x80070006)
#endif
#ifndef E_FAIL
#define E_FAIL ((HRESULT)0x80004005)
#endif
#ifndef E_NOTIMPL
#define E_NOTIMPL ((HRESULT)0x80004001)
#endif
#ifndef E_POINTER
#define E_POINTER ((HRESULT)0x80004003)
#endif
#ifndef E_UNEXPECTED
#define E_UNEXPECTED ((HRESULT)0x8000FFFF)
#endif

/* WHV facility (0x37) errors. */
#ifndef WHV_E_UNKNOWN_CAPABILITY
#define WHV_E_UNKNOWN_CAPABILITY ((HRESULT)0x80370300)
#endif
#ifndef WHV_E_INSUFFICIENT_BUFFER
#define WHV_E_INSUFFICIENT_BUFFER ((HRESULT)0x80370301)
#endif
#ifndef WHV_E_UNKNOWN_PROPERTY
#define WHV_E_UNKNOWN_PROPERTY ((HRESULT)0x80370302)
#endif
#ifndef WHV_E_UNSUPPORTED_HYPERVISOR_CONFIG
#define WHV_E_UNSUPPORTED_HYPERVISOR_CONFIG ((HRESULT)0x80370303)
#endif
#ifndef WHV_E_INVALID_PARTITION_CONFIG
#define WHV_E_INVALID_PARTITION_CONFIG ((HRESULT)0x80370304)
#endif
#ifndef WHV_E_GPA_RANGE_NOT_FOUND
#define WHV_E_GPA_RANGE_NOT_FOUND ((HRESULT)0x80370305)
#endif
#ifndef WHV_E_VP_ALREADY_EXISTS
#define WHV_E_VP_ALREADY_EXISTS ((HRESULT)0x80370306)
#endif
#ifndef WHV_E_VP_DOES_NOT_EXIST
#define WHV_E_VP_DOES_NOT_EXIST ((HRESULT)0x80370307)
#endif
#ifndef WHV_E_INVALID_VP_STATE
#define WHV_E_INVALID_VP_STATE ((HRESULT)0x80370308)
#endif
#ifndef WHV_E_INVALID_VP_REGISTER_NAME
#define WHV_E_INVALID_VP_REGISTER_NAME ((HRESULT)0x80370309)
#endif

/* A hypervisor status (Hyper-V numbering, 16 bits) reaches WHV callers as 0xC0350000 | status; the names
 * are winerror.h's for the statuses this hypervisor returns. */
#define HVX_HRESULT_FROM_HV_STATUS(status) ((HRESULT)(0xC0350000u | (UINT16)(status)))

#ifndef ERROR_HV_INVALID_HYPERCALL_CODE
#define ERROR_HV_INVALID_HYPERCALL_CODE ((HRESULT)0xC0350002)
#endif
#ifndef ERROR_HV_INVALID_HYPERCALL_INPUT
#define ERROR_HV_INVALID_HYPERCALL_INPUT ((HRESULT)0xC0350003)
#endif
#ifndef ERROR_HV_INVALID_ALIGNMENT
#define ERROR_HV_INVALID_ALIGNMENT ((HRESULT)0xC0350004)
#endif
#ifndef ERROR_HV_INVALID_PARAMETER
#define ERROR_HV_INVALID_PARAMETER ((HRESULT)0xC0350005)
#endif
#ifndef ERROR_HV_ACCESS_DENIED
#define ERROR_HV_ACCESS_DENIED ((HRESULT)0xC0350006)
#endif
#ifndef ERROR_HV_INVALID_PARTITION_STATE
#define ERROR_HV_INVALID_PARTITION_STATE ((HRESULT)0xC0350007)
#endif
#ifndef ERROR_HV_OPERATION_DENIED
#define ERROR_HV_OPERATION_DENIED ((HRESULT)0xC0350008)
#endif
#ifndef ERROR_HV_UNKNOWN_PROPERTY
#define ERROR_HV_UNKNOWN_PROPERTY ((HRESULT)0xC0350009)
#endif
#ifndef ERROR_HV_PROPERTY_VALUE_OUT_OF_RANGE
#define ERROR_HV_PROPERTY_VALUE_OUT_OF_RANGE ((HRESULT)0xC035000A)
#endif
#ifndef ERROR_HV_INSUFFICIENT_MEMORY
#define ERROR_HV_INSUFFICIENT_MEMORY ((HRESULT)0xC035000B)
#endif

/* ---------------------------------------------------------------------------------------------------
 * Register names
 *
 * A UINT32 in the ABI; GCC gives an enum whose values all fit in 32 bits unsigned the size of an
 * unsigned int (asserted below), so arrays of these match Windows' arrays element for element.
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_REGISTER_NAME {
    /* General-purpose registers, RIP, RFLAGS */
    WHvX64RegisterRax = 0x00000000,
    WHvX64RegisterRcx = 0x00000001,
    WHvX64RegisterRdx = 0x00000002,
    WHvX64RegisterRbx = 0x00000003,
    WHvX64RegisterRsp = 0x00000004,
    WHvX64RegisterRbp = 0x00000005,
    WHvX64RegisterRsi = 0x00000006,
    WHvX64RegisterRdi = 0x00000007,
    WHvX64RegisterR8 = 0x00000008,
    WHvX64RegisterR9 = 0x00000009,
    WHvX64RegisterR10 = 0x0000000A,
    WHvX64RegisterR11 = 0x0000000B,
    WHvX64RegisterR12 = 0x0000000C,
    WHvX64RegisterR13 = 0x0000000D,
    WHvX64RegisterR14 = 0x0000000E,
    WHvX64RegisterR15 = 0x0000000F,
    WHvX64RegisterRip = 0x00000010,
    WHvX64RegisterRflags = 0x00000011,

    /* Segment registers (value: Segment) */
    WHvX64RegisterEs = 0x00000012,
    WHvX64RegisterCs = 0x00000013,
    WHvX64RegisterSs = 0x00000014,
    WHvX64RegisterDs = 0x00000015,
    WHvX64RegisterFs = 0x00000016,
    WHvX64RegisterGs = 0x00000017,
    WHvX64RegisterLdtr = 0x00000018,
    WHvX64RegisterTr = 0x00000019,

    /* Descriptor-table registers (value: Table) */
    WHvX64RegisterIdtr = 0x0000001A,
    WHvX64RegisterGdtr = 0x0000001B,

    /* Control registers */
    WHvX64RegisterCr0 = 0x0000001C,
    WHvX64RegisterCr2 = 0x0000001D,
    WHvX64RegisterCr3 = 0x0000001E,
    WHvX64RegisterCr4 = 0x0000001F,
    WHvX64RegisterCr8 = 0x00000020,

    /* Debug registers */
    WHvX64RegisterDr0 = 0x00000021,
    WHvX64RegisterDr1 = 0x00000022,
    WHvX64RegisterDr2 = 0x00000023,
    WHvX64RegisterDr3 = 0x00000024,
    WHvX64RegisterDr6 = 0x00000025,
    WHvX64RegisterDr7 = 0x00000026,

    /* Extended control register, and the nested-virtualization shadows of the control registers */
    WHvX64RegisterXCr0 = 0x00000027,
    WHvX64RegisterVirtualCr0 = 0x00000028,
    WHvX64RegisterVirtualCr3 = 0x00000029,
    WHvX64RegisterVirtualCr4 = 0x0000002A,
    WHvX64RegisterVirtualCr8 = 0x0000002B,

    /* Floating-point and vector registers (values: Reg128, Fp, FpControlStatus, XmmControlStatus) */
    WHvX64RegisterXmm0 = 0x00001000,
    WHvX64RegisterXmm1 = 0x00001001,
    WHvX64RegisterXmm2 = 0x00001002,
    WHvX64RegisterXmm3 = 0x00001003,
    WHvX64RegisterXmm4 = 0x00001004,
    WHvX64RegisterXmm5 = 0x00001005,
    WHvX64RegisterXmm6 = 0x00001006,
    WHvX64RegisterXmm7 = 0x00001007,
    WHvX64RegisterXmm8 = 0x00001008,
    WHvX64RegisterXmm9 = 0x00001009,
    WHvX64RegisterXmm10 = 0x0000100A,
    WHvX64RegisterXmm11 = 0x0000100B,
    WHvX64RegisterXmm12 = 0x0000100C,
    WHvX64RegisterXmm13 = 0x0000100D,
    WHvX64RegisterXmm14 = 0x0000100E,
    WHvX64RegisterXmm15 = 0x0000100F,
    WHvX64RegisterFpMmx0 = 0x00001010,
    WHvX64RegisterFpMmx1 = 0x00001011,
    WHvX64RegisterFpMmx2 = 0x00001012,
    WHvX64RegisterFpMmx3 = 0x00001013,
    WHvX64RegisterFpMmx4 = 0x00001014,
    WHvX64RegisterFpMmx5 = 0x00001015,
    WHvX64RegisterFpMmx6 = 0x00001016,
    WHvX64RegisterFpMmx7 = 0x00001017,
    WHvX64RegisterFpControlStatus = 0x00001018,
    WHvX64RegisterXmmControlStatus = 0x00001019,

    /* MSRs */
    WHvX64RegisterTsc = 0x00002000,
    WHvX64RegisterEfer = 0x00002001,
    WHvX64RegisterKernelGsBase = 0x00002002,
    WHvX64RegisterApicBase = 0x00002003,
    WHvX64RegisterPat = 0x00002004,
    WHvX64RegisterSysenterCs = 0x00002005,
    WHvX64RegisterSysenterEip = 0x00002006,
    WHvX64RegisterSysenterEsp = 0x00002007,
    WHvX64RegisterStar = 0x00002008,
    WHvX64RegisterLstar = 0x00002009,
    WHvX64RegisterCstar = 0x0000200A,
    WHvX64RegisterSfmask = 0x0000200B,
    WHvX64RegisterInitialApicId = 0x0000200C,

    /* MTRRs: variable ranges as base/mask pairs 0..F, then the fixed ranges */
    WHvX64RegisterMsrMtrrCap = 0x0000200D,
    WHvX64RegisterMsrMtrrDefType = 0x0000200E,
    WHvX64RegisterMsrMtrrPhysBase0 = 0x00002010,
    WHvX64RegisterMsrMtrrPhysBase1 = 0x00002011,
    WHvX64RegisterMsrMtrrPhysBase2 = 0x00002012,
    WHvX64RegisterMsrMtrrPhysBase3 = 0x00002013,
    WHvX64RegisterMsrMtrrPhysBase4 = 0x00002014,
    WHvX64RegisterMsrMtrrPhysBase5 = 0x00002015,
    WHvX64RegisterMsrMtrrPhysBase6 = 0x00002016,
    WHvX64RegisterMsrMtrrPhysBase7 = 0x00002017,
    WHvX64RegisterMsrMtrrPhysBase8 = 0x00002018,
    WHvX64RegisterMsrMtrrPhysBase9 = 0x00002019,
    WHvX64RegisterMsrMtrrPhysBaseA = 0x0000201A,
    WHvX64RegisterMsrMtrrPhysBaseB = 0x0000201B,
    WHvX64RegisterMsrMtrrPhysBaseC = 0x0000201C,
    WHvX64RegisterMsrMtrrPhysBaseD = 0x0000201D,
    WHvX64RegisterMsrMtrrPhysBaseE = 0x0000201E,
    WHvX64RegisterMsrMtrrPhysBaseF = 0x0000201F,
    WHvX64RegisterMsrMtrrPhysMask0 = 0x00002040,
    WHvX64RegisterMsrMtrrPhysMask1 = 0x00002041,
    WHvX64RegisterMsrMtrrPhysMask2 = 0x00002042,
    WHvX64RegisterMsrMtrrPhysMask3 = 0x00002043,
    WHvX64RegisterMsrMtrrPhysMask4 = 0x00002044,
    WHvX64RegisterMsrMtrrPhysMask5 = 0x00002045,
    WHvX64RegisterMsrMtrrPhysMask6 = 0x00002046,
    WHvX64RegisterMsrMtrrPhysMask7 = 0x00002047,
    WHvX64RegisterMsrMtrrPhysMask8 = 0x00002048,
    WHvX64RegisterMsrMtrrPhysMask9 = 0x00002049,
    WHvX64RegisterMsrMtrrPhysMaskA = 0x0000204A,
    WHvX64RegisterMsrMtrrPhysMaskB = 0x0000204B,
    WHvX64RegisterMsrMtrrPhysMaskC = 0x0000204C,
    WHvX64RegisterMsrMtrrPhysMaskD = 0x0000204D,
    WHvX64RegisterMsrMtrrPhysMaskE = 0x0000204E,
    WHvX64RegisterMsrMtrrPhysMaskF = 0x0000204F,
    WHvX64RegisterMsrMtrrFix64k00000 = 0x00002070,
    WHvX64RegisterMsrMtrrFix16k80000 = 0x00002071,
    WHvX64RegisterMsrMtrrFix16kA0000 = 0x00002072,
    WHvX64RegisterMsrMtrrFix4kC0000 = 0x00002073,
    WHvX64RegisterMsrMtrrFix4kC8000 = 0x00002074,
    WHvX64RegisterMsrMtrrFix4kD0000 = 0x00002075,
    WHvX64RegisterMsrMtrrFix4kD8000 = 0x00002076,
    WHvX64RegisterMsrMtrrFix4kE0000 = 0x00002077,
    WHvX64RegisterMsrMtrrFix4kE8000 = 0x00002078,
    WHvX64RegisterMsrMtrrFix4kF0000 = 0x00002079,
    WHvX64RegisterMsrMtrrFix4kF8000 = 0x0000207A,

    /* More MSRs */
    WHvX64RegisterTscAux = 0x0000207B,
    WHvX64RegisterBndcfgs = 0x0000207C,
    WHvX64RegisterMCount = 0x0000207E,
    WHvX64RegisterACount = 0x0000207F,
    WHvX64RegisterSpecCtrl = 0x00002084,
    WHvX64RegisterPredCmd = 0x00002085,
    WHvX64RegisterTscVirtualOffset = 0x00002087,
    WHvX64RegisterTsxCtrl = 0x00002088,
    WHvX64RegisterXss = 0x0000208B,
    WHvX64RegisterUCet = 0x0000208C,
    WHvX64RegisterSCet = 0x0000208D,
    WHvX64RegisterSsp = 0x0000208E,
    WHvX64RegisterPl0Ssp = 0x0000208F,
    WHvX64RegisterPl1Ssp = 0x00002090,
    WHvX64RegisterPl2Ssp = 0x00002091,
    WHvX64RegisterPl3Ssp = 0x00002092,
    WHvX64RegisterInterruptSspTableAddr = 0x00002093,
    WHvX64RegisterTscDeadline = 0x00002095,
    WHvX64RegisterTscAdjust = 0x00002096,
    WHvX64RegisterUmwaitControl = 0x00002098,
    WHvX64RegisterXfd = 0x00002099,
    WHvX64RegisterXfdErr = 0x0000209A,
    WHvX64RegisterMsrIa32MiscEnable = 0x000020A0,
    WHvX64RegisterIa32FeatureControl = 0x000020A1,
    WHvX64RegisterIa32VmxBasic = 0x000020A2,
    WHvX64RegisterIa32VmxPinbasedCtls = 0x000020A3,
    WHvX64RegisterIa32VmxProcbasedCtls = 0x000020A4,
    WHvX64RegisterIa32VmxExitCtls = 0x000020A5,
    WHvX64RegisterIa32VmxEntryCtls = 0x000020A6,
    WHvX64RegisterIa32VmxMisc = 0x000020A7,
    WHvX64RegisterIa32VmxCr0Fixed0 = 0x000020A8,
    WHvX64RegisterIa32VmxCr0Fixed1 = 0x000020A9,
    WHvX64RegisterIa32VmxCr4Fixed0 = 0x000020AA,
    WHvX64RegisterIa32VmxCr4Fixed1 = 0x000020AB,
    WHvX64RegisterIa32VmxVmcsEnum = 0x000020AC,
    WHvX64RegisterIa32VmxProcbasedCtls2 = 0x000020AD,
    WHvX64RegisterIa32VmxEptVpidCap = 0x000020AE,
    WHvX64RegisterIa32VmxTruePinbasedCtls = 0x000020AF,
    WHvX64RegisterIa32VmxTrueProcbasedCtls = 0x000020B0,
    WHvX64RegisterIa32VmxTrueExitCtls = 0x000020B1,
    WHvX64RegisterIa32VmxTrueEntryCtls = 0x000020B2,
    WHvX64RegisterAmdVmHsavePa = 0x000020B3,
    WHvX64RegisterAmdVmCr = 0x000020B4,

    /* Local APIC (only with in-hypervisor APIC emulation) */
    WHvX64RegisterApicId = 0x00003002,
    WHvX64RegisterApicVersion = 0x00003003,
    WHvX64RegisterApicTpr = 0x00003008,
    WHvX64RegisterApicPpr = 0x0000300A,
    WHvX64RegisterApicEoi = 0x0000300B,
    WHvX64RegisterApicLdr = 0x0000300D,
    WHvX64RegisterApicSpurious = 0x0000300F,
    WHvX64RegisterApicIsr0 = 0x00003010,
    WHvX64RegisterApicIsr1 = 0x00003011,
    WHvX64RegisterApicIsr2 = 0x00003012,
    WHvX64RegisterApicIsr3 = 0x00003013,
    WHvX64RegisterApicIsr4 = 0x00003014,
    WHvX64RegisterApicIsr5 = 0x00003015,
    WHvX64RegisterApicIsr6 = 0x00003016,
    WHvX64RegisterApicIsr7 = 0x00003017,
    WHvX64RegisterApicTmr0 = 0x00003018,
    WHvX64RegisterApicTmr1 = 0x00003019,
    WHvX64RegisterApicTmr2 = 0x0000301A,
    WHvX64RegisterApicTmr3 = 0x0000301B,
    WHvX64RegisterApicTmr4 = 0x0000301C,
    WHvX64RegisterApicTmr5 = 0x0000301D,
    WHvX64RegisterApicTmr6 = 0x0000301E,
    WHvX64RegisterApicTmr7 = 0x0000301F,
    WHvX64RegisterApicIrr0 = 0x00003020,
    WHvX64RegisterApicIrr1 = 0x00003021,
    WHvX64RegisterApicIrr2 = 0x00003022,
    WHvX64RegisterApicIrr3 = 0x00003023,
    WHvX64RegisterApicIrr4 = 0x00003024,
    WHvX64RegisterApicIrr5 = 0x00003025,
    WHvX64RegisterApicIrr6 = 0x00003026,
    WHvX64RegisterApicIrr7 = 0x00003027,
    WHvX64RegisterApicEse = 0x00003028,
    WHvX64RegisterApicIcr = 0x00003030,
    WHvX64RegisterApicLvtTimer = 0x00003032,
    WHvX64RegisterApicLvtThermal = 0x00003033,
    WHvX64RegisterApicLvtPerfmon = 0x00003034,
    WHvX64RegisterApicLvtLint0 = 0x00003035,
    WHvX64RegisterApicLvtLint1 = 0x00003036,
    WHvX64RegisterApicLvtError = 0x00003037,
    WHvX64RegisterApicInitCount = 0x00003038,
    WHvX64RegisterApicCurrentCount = 0x00003039,
    WHvX64RegisterApicDivide = 0x0000303E,
    WHvX64RegisterApicSelfIpi = 0x0000303F,

    /* Synthetic interrupt controller */
    WHvRegisterSint0 = 0x00004000,
    WHvRegisterSint1 = 0x00004001,
    WHvRegisterSint2 = 0x00004002,
    WHvRegisterSint3 = 0x00004003,
    WHvRegisterSint4 = 0x00004004,
    WHvRegisterSint5 = 0x00004005,
    WHvRegisterSint6 = 0x00004006,
    WHvRegisterSint7 = 0x00004007,
    WHvRegisterSint8 = 0x00004008,
    WHvRegisterSint9 = 0x00004009,
    WHvRegisterSint10 = 0x0000400A,
    WHvRegisterSint11 = 0x0000400B,
    WHvRegisterSint12 = 0x0000400C,
    WHvRegisterSint13 = 0x0000400D,
    WHvRegisterSint14 = 0x0000400E,
    WHvRegisterSint15 = 0x0000400F,
    WHvRegisterScontrol = 0x00004010,
    WHvRegisterSversion = 0x00004011,
    WHvRegisterSiefp = 0x00004012,
    WHvRegisterSimp = 0x00004013,
    WHvRegisterEom = 0x00004014,

    /* Hypervisor-defined (synthetic) MSRs, nested-virtualization state */
    WHvRegisterVpRuntime = 0x00005000,
    WHvX64RegisterHypercall = 0x00005001,
    WHvRegisterGuestOsId = 0x00005002,
    WHvRegisterVpAssistPage = 0x00005013,
    WHvRegisterReferenceTsc = 0x00005017,
    WHvRegisterReferenceTscSequence = 0x0000501A,
    WHvX64RegisterNestedGuestState = 0x00005050,
    WHvX64RegisterNestedCurrentVmGpa = 0x00005051,
    WHvX64RegisterNestedVmxInvEpt = 0x00005052,
    WHvX64RegisterNestedVmxInvVpid = 0x00005053,

    /* Interrupt and event state (values: PendingInterruption, InterruptState, ExceptionEvent /
     * ExtIntEvent, DeliverabilityNotifications, InternalActivity, PendingDebugException) */
    WHvRegisterPendingInterruption = 0x80000000,
    WHvRegisterInterruptState = 0x80000001,
    WHvRegisterPendingEvent = 0x80000002,
    WHvRegisterPendingEvent0 = 0x80000002, /* the name early SDKs used */
    WHvRegisterPendingEvent1 = 0x80000003,
    WHvX64RegisterDeliverabilityNotifications = 0x80000004,
    WHvRegisterDeliverabilityNotifications = 0x80000004,
    WHvRegisterInternalActivityState = 0x80000005,
    WHvX64RegisterPendingDebugException = 0x80000006,
    WHvRegisterPendingEvent2 = 0x80000007,
    WHvRegisterPendingEvent3 = 0x80000008,
} WHV_REGISTER_NAME;

/* ---------------------------------------------------------------------------------------------------
 * Register values
 * ------------------------------------------------------------------------------------------------- */

/* 16-byte aligned like an XMM register, which makes every type that embeds it (WHV_REGISTER_VALUE,
 * the hypercall and exit contexts) 16-byte aligned too. */
typedef union __attribute__((aligned(16))) WHV_UINT128 {
    struct {
        UINT64 Low64;
        UINT64 High64;
    };
    UINT32 Dword[4];
} WHV_UINT128;

/* An x87 register in its 80-bit format, padded to 16 bytes. */
typedef union WHV_X64_FP_REGISTER {
    struct {
        UINT64 Mantissa;
        UINT64 BiasedExponent : 15;
        UINT64 Sign : 1;
        UINT64 Reserved : 48;
    };
    WHV_UINT128 AsUINT128;
} WHV_X64_FP_REGISTER;

/* The x87 half of the FXSAVE header. */
typedef union WHV_X64_FP_CONTROL_STATUS_REGISTER {
    struct {
        UINT16 FpControl;
        UINT16 FpStatus;
        UINT8 FpTag; /* abridged tag: one bit per register, 1 = valid */
        UINT8 Reserved;
        UINT16 LastFpOp;
        union {
            UINT64 LastFpRip; /* 64-bit mode */
            struct {          /* legacy modes */
                UINT32 LastFpEip;
                UINT16 LastFpCs;
                UINT16 Reserved2;
            };
        };
    };
    WHV_UINT128 AsUINT128;
} WHV_X64_FP_CONTROL_STATUS_REGISTER;

/* The SSE half of the FXSAVE header: last data pointer and MXCSR / MXCSR_MASK. */
typedef union WHV_X64_XMM_CONTROL_STATUS_REGISTER {
    struct {
        union {
            UINT64 LastFpRdp; /* 64-bit mode */
            struct {          /* legacy modes */
                UINT32 LastFpDp;
                UINT16 LastFpDs;
                UINT16 Reserved;
            };
        };
        UINT32 XmmStatusControl;
        UINT32 XmmStatusControlMask;
    };
    WHV_UINT128 AsUINT128;
} WHV_X64_XMM_CONTROL_STATUS_REGISTER;

/* Attributes are the VMX access-rights bits 0..15 with bits 8..11 clear. There is no "unusable" bit:
 * an unusable segment reads back with Present = 0. Limit is the byte limit (granularity applied). */
typedef struct WHV_X64_SEGMENT_REGISTER {
    UINT64 Base;
    UINT32 Limit;
    UINT16 Selector;
    union {
        struct {
            UINT16 SegmentType : 4;
            UINT16 NonSystemSegment : 1;
            UINT16 DescriptorPrivilegeLevel : 2;
            UINT16 Present : 1;
            UINT16 Reserved : 4;
            UINT16 Available : 1;
            UINT16 Long : 1;
            UINT16 Default : 1;
            UINT16 Granularity : 1;
        };
        UINT16 Attributes;
    };
} WHV_X64_SEGMENT_REGISTER;

/* GDTR / IDTR. The padding puts Limit right before Base, as SGDT stores them. */
typedef struct WHV_X64_TABLE_REGISTER {
    UINT16 Pad[3];
    UINT16 Limit;
    UINT64 Base;
} WHV_X64_TABLE_REGISTER;

typedef union WHV_X64_INTERRUPT_STATE_REGISTER {
    struct {
        UINT64 InterruptShadow : 1; /* blocking by STI or MOV SS */
        UINT64 NmiMasked : 1;
        UINT64 Reserved : 62;
    };
    UINT64 AsUINT64;
} WHV_X64_INTERRUPT_STATE_REGISTER;

typedef enum WHV_X64_PENDING_INTERRUPTION_TYPE {
    WHvX64PendingInterrupt = 0,
    WHvX64PendingNmi = 2,
    WHvX64PendingException = 3,
} WHV_X64_PENDING_INTERRUPTION_TYPE;

/* An event to inject at the next entry (the VMCS entry-interruption fields, rearranged). */
typedef union WHV_X64_PENDING_INTERRUPTION_REGISTER {
    struct {
        UINT32 InterruptionPending : 1;
        UINT32 InterruptionType : 3; /* WHV_X64_PENDING_INTERRUPTION_TYPE */
        UINT32 DeliverErrorCode : 1;
        UINT32 InstructionLength : 4;
        UINT32 NestedEvent : 1;
        UINT32 Reserved : 6; /* always zero */
        UINT32 InterruptionVector : 16;
        UINT32 ErrorCode;
    };
    UINT64 AsUINT64;
} WHV_X64_PENDING_INTERRUPTION_REGISTER;

typedef enum WHV_X64_PENDING_EVENT_TYPE {
    WHvX64PendingEventException = 0,
    WHvX64PendingEventExtInt = 5,
    WHvX64PendingEventSvmNestedExit = 7,
    WHvX64PendingEventVmxNestedExit = 8,
} WHV_X64_PENDING_EVENT_TYPE;

/* WHvRegisterPendingEvent holding WHvX64PendingEventException: an exception with its payload (CR2 for
 * #PF, the DR6 bits for #DB). */
typedef union WHV_X64_PENDING_EXCEPTION_EVENT {
    struct {
        UINT32 EventPending : 1;
        UINT32 EventType : 3; /* WHV_X64_PENDING_EVENT_TYPE */
        UINT32 Reserved0 : 4;
        UINT32 DeliverErrorCode : 1;
        UINT32 Reserved1 : 7;
        UINT32 Vector : 16;
        UINT32 ErrorCode;
        UINT64 ExceptionParameter;
    };
    WHV_UINT128 AsUINT128;
} WHV_X64_PENDING_EXCEPTION_EVENT;

/* WHvRegisterPendingEvent holding WHvX64PendingEventExtInt: an external interrupt. */
typedef union WHV_X64_PENDING_EXT_INT_EVENT {
    struct {
        UINT64 EventPending : 1;
        UINT64 EventType : 3; /* WHV_X64_PENDING_EVENT_TYPE */
        UINT64 Reserved0 : 4;
        UINT64 Vector : 8;
        UINT64 Reserved1 : 48;
        UINT64 Reserved2;
    };
    WHV_UINT128 AsUINT128;
} WHV_X64_PENDING_EXT_INT_EVENT;

/* One-shot requests for an X64InterruptWindow exit: armed before a run, cleared by the exit. */
typedef union WHV_DELIVERABILITY_NOTIFICATIONS_REGISTER {
    struct {
        UINT64 NmiNotification : 1;
        UINT64 InterruptNotification : 1;
        UINT64 InterruptPriority : 4; /* exit once the TPR allows this priority class */
        UINT64 Reserved : 42;
        UINT64 Sint : 16;
    };
    UINT64 AsUINT64;
} WHV_DELIVERABILITY_NOTIFICATIONS_REGISTER, WHV_X64_DELIVERABILITY_NOTIFICATIONS_REGISTER;

typedef union WHV_INTERNAL_ACTIVITY_REGISTER {
    struct {
        UINT64 StartupSuspend : 1; /* an AP waiting for INIT-SIPI */
        UINT64 HaltSuspend : 1;
        UINT64 IdleSuspend : 1;
        UINT64 Reserved : 61;
    };
    UINT64 AsUINT64;
} WHV_INTERNAL_ACTIVITY_REGISTER;

typedef union WHV_X64_PENDING_DEBUG_EXCEPTION {
    UINT64 AsUINT64;
    struct {
        UINT64 Breakpoint0 : 1;
        UINT64 Breakpoint1 : 1;
        UINT64 Breakpoint2 : 1;
        UINT64 Breakpoint3 : 1;
        UINT64 SingleStep : 1;
        UINT64 Reserved0 : 59;
    };
} WHV_X64_PENDING_DEBUG_EXCEPTION;

/* One register's value: which member is meaningful follows from the WHV_REGISTER_NAME. Narrow values
 * (Reg8..Reg64) sit in the low bytes; the rest of the 16 bytes is zero on reads. */
typedef union WHV_REGISTER_VALUE {
    WHV_UINT128 Reg128;
    UINT64 Reg64;
    UINT32 Reg32;
    UINT16 Reg16;
    UINT8 Reg8;
    WHV_X64_FP_REGISTER Fp;
    WHV_X64_FP_CONTROL_STATUS_REGISTER FpControlStatus;
    WHV_X64_XMM_CONTROL_STATUS_REGISTER XmmControlStatus;
    WHV_X64_SEGMENT_REGISTER Segment;
    WHV_X64_TABLE_REGISTER Table;
    WHV_X64_INTERRUPT_STATE_REGISTER InterruptState;
    WHV_X64_PENDING_INTERRUPTION_REGISTER PendingInterruption;
    WHV_DELIVERABILITY_NOTIFICATIONS_REGISTER DeliverabilityNotifications;
    WHV_X64_PENDING_EXCEPTION_EVENT ExceptionEvent;
    WHV_X64_PENDING_EXT_INT_EVENT ExtIntEvent;
    WHV_INTERNAL_ACTIVITY_REGISTER InternalActivity;
    WHV_X64_PENDING_DEBUG_EXCEPTION PendingDebugException;
} WHV_REGISTER_VALUE;

/* ---------------------------------------------------------------------------------------------------
 * Capabilities (WHvGetCapability)
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_CAPABILITY_CODE {
    /* Hypervisor features */
    WHvCapabilityCodeHypervisorPresent = 0x00000000,
    WHvCapabilityCodeFeatures = 0x00000001,
    WHvCapabilityCodeExtendedVmExits = 0x00000002,
    WHvCapabilityCodeExceptionExitBitmap = 0x00000003,
    WHvCapabilityCodeX64MsrExitBitmap = 0x00000004,
    WHvCapabilityCodeGpaRangePopulateFlags = 0x00000005,
    WHvCapabilityCodeSchedulerFeatures = 0x00000006,

    /* Host processor properties */
    WHvCapabilityCodeProcessorVendor = 0x00001000,
    WHvCapabilityCodeProcessorFeatures = 0x00001001,
    WHvCapabilityCodeProcessorClFlushSize = 0x00001002,
    WHvCapabilityCodeProcessorXsaveFeatures = 0x00001003,
    WHvCapabilityCodeProcessorClockFrequency = 0x00001004,
    WHvCapabilityCodeInterruptClockFrequency = 0x00001005,
    WHvCapabilityCodeProcessorFeaturesBanks = 0x00001006,
    WHvCapabilityCodeProcessorFrequencyCap = 0x00001007,
    WHvCapabilityCodeSyntheticProcessorFeaturesBanks = 0x00001008,
    WHvCapabilityCodeProcessorPerfmonFeatures = 0x00001009,
    WHvCapabilityCodePhysicalAddressWidth = 0x0000100A,

    /* VMX capability MSRs offered to nested guests */
    WHvCapabilityCodeVmxBasic = 0x00002000,
    WHvCapabilityCodeVmxPinbasedCtls = 0x00002001,
    WHvCapabilityCodeVmxProcbasedCtls = 0x00002002,
    WHvCapabilityCodeVmxExitCtls = 0x00002003,
    WHvCapabilityCodeVmxEntryCtls = 0x00002004,
    WHvCapabilityCodeVmxMisc = 0x00002005,
    WHvCapabilityCodeVmxCr0Fixed0 = 0x00002006,
    WHvCapabilityCodeVmxCr0Fixed1 = 0x00002007,
    WHvCapabilityCodeVmxCr4Fixed0 = 0x00002008,
    WHvCapabilityCodeVmxCr4Fixed1 = 0x00002009,
    WHvCapabilityCodeVmxVmcsEnum = 0x0000200A,
    WHvCapabilityCodeVmxProcbasedCtls2 = 0x0000200B,
    WHvCapabilityCodeVmxEptVpidCap = 0x0000200C,
    WHvCapabilityCodeVmxTruePinbasedCtls = 0x0000200D,
    WHvCapabilityCodeVmxTrueProcbasedCtls = 0x0000200E,
    WHvCapabilityCodeVmxTrueExitCtls = 0x0000200F,
    WHvCapabilityCodeVmxTrueEntryCtls = 0x00002010,
} WHV_CAPABILITY_CODE;

typedef union WHV_CAPABILITY_FEATURES {
    struct {
        UINT64 PartialUnmap : 1;
        UINT64 LocalApicEmulation : 1;
        UINT64 Xsave : 1;
        UINT64 DirtyPageTracking : 1;
        UINT64 SpeculationControl : 1;
        UINT64 ApicRemoteRead : 1;
        UINT64 IdleSuspend : 1;
        UINT64 VirtualPciDeviceSupport : 1;
        UINT64 IommuSupport : 1;
        UINT64 VpHotAddRemove : 1;
        UINT64 DeviceAccessTracking : 1;
        UINT64 ReservedX640 : 1;
        UINT64 Reserved : 52;
    };
    UINT64 AsUINT64;
} WHV_CAPABILITY_FEATURES;

/* Exits beyond the standard set, enabled per partition (property ExtendedVmExits) from those the
 * capability of the same name reports. */
typedef union WHV_EXTENDED_VM_EXITS {
    struct {
        UINT64 X64CpuidExit : 1;
        UINT64 X64MsrExit : 1;
        UINT64 ExceptionExit : 1;
        UINT64 X64RdtscExit : 1;
        UINT64 X64ApicSmiExitTrap : 1;
        UINT64 HypercallExit : 1;
        UINT64 X64ApicInitSipiExitTrap : 1;
        UINT64 X64ApicWriteLint0ExitTrap : 1;
        UINT64 X64ApicWriteLint1ExitTrap : 1;
        UINT64 X64ApicWriteSvrExitTrap : 1;
        UINT64 UnknownSynicConnection : 1;
        UINT64 RetargetUnknownVpciDevice : 1;
        UINT64 X64ApicWriteLdrExitTrap : 1;
        UINT64 X64ApicWriteDfrExitTrap : 1;
        UINT64 GpaAccessFaultExit : 1;
        UINT64 Reserved : 49;
    };
    UINT64 AsUINT64;
} WHV_EXTENDED_VM_EXITS;

typedef enum WHV_PROCESSOR_VENDOR {
    WHvProcessorVendorAmd = 0x0000,
    WHvProcessorVendorIntel = 0x0001,
    WHvProcessorVendorHygon = 0x0002,
    WHvProcessorVendorArm = 0x0010,
} WHV_PROCESSOR_VENDOR;

/* The processor feature banks are 64 named CPUID-derived bits each; this header gives them as raw
 * words (bit numbering as in Microsoft's documentation). */
typedef union WHV_PROCESSOR_FEATURES {
    UINT64 AsUINT64;
} WHV_PROCESSOR_FEATURES, WHV_X64_PROCESSOR_FEATURES;

typedef union WHV_PROCESSOR_FEATURES1 {
    UINT64 AsUINT64;
} WHV_PROCESSOR_FEATURES1, WHV_X64_PROCESSOR_FEATURES1;

#define WHV_PROCESSOR_FEATURES_BANKS_COUNT 2

typedef struct WHV_PROCESSOR_FEATURES_BANKS {
    UINT32 BanksCount; /* in: banks the caller passes, at most WHV_PROCESSOR_FEATURES_BANKS_COUNT */
    UINT32 Reserved0;
    union {
        struct {
            WHV_PROCESSOR_FEATURES Bank0;
            WHV_PROCESSOR_FEATURES1 Bank1;
        };
        UINT64 AsUINT64[WHV_PROCESSOR_FEATURES_BANKS_COUNT];
    };
} WHV_PROCESSOR_FEATURES_BANKS;

typedef union WHV_SYNTHETIC_PROCESSOR_FEATURES {
    UINT64 AsUINT64;
} WHV_SYNTHETIC_PROCESSOR_FEATURES;

#define WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS_COUNT 1

typedef struct WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS {
    UINT32 BanksCount;
    UINT32 Reserved0;
    union {
        struct {
            WHV_SYNTHETIC_PROCESSOR_FEATURES Bank0;
        };
        UINT64 AsUINT64[WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS_COUNT];
    };
} WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS;

/* XSAVE-managed features (named because VMMs test XsaveSupport before touching XSAVE state). */
typedef union WHV_PROCESSOR_XSAVE_FEATURES {
    struct {
        UINT64 XsaveSupport : 1;
        UINT64 XsaveoptSupport : 1;
        UINT64 AvxSupport : 1;
        UINT64 Avx2Support : 1;
        UINT64 FmaSupport : 1;
        UINT64 MpxSupport : 1;
        UINT64 Avx512Support : 1;
        UINT64 Avx512DQSupport : 1;
        UINT64 Avx512CDSupport : 1;
        UINT64 Avx512BWSupport : 1;
        UINT64 Avx512VLSupport : 1;
        UINT64 XsaveCompSupport : 1;
        UINT64 XsaveSupervisorSupport : 1;
        UINT64 Xcr1Support : 1;
        UINT64 Avx512BitalgSupport : 1;
        UINT64 Avx512IfmaSupport : 1;
        UINT64 Avx512VBmiSupport : 1;
        UINT64 Avx512VBmi2Support : 1;
        UINT64 Avx512VnniSupport : 1;
        UINT64 GfniSupport : 1;
        UINT64 VaesSupport : 1;
        UINT64 Avx512VPopcntdqSupport : 1;
        UINT64 VpclmulqdqSupport : 1;
        UINT64 Avx512Bf16Support : 1;
        UINT64 Avx512Vp2IntersectSupport : 1;
        UINT64 Avx512Fp16Support : 1;
        UINT64 XfdSupport : 1;
        UINT64 AmxTileSupport : 1;
        UINT64 AmxBf16Support : 1;
        UINT64 AmxInt8Support : 1;
        UINT64 AvxVnniSupport : 1;
        UINT64 AvxIfmaSupport : 1;
        UINT64 AvxNeConvertSupport : 1;
        UINT64 AvxVnniInt8Support : 1;
        UINT64 AvxVnniInt16Support : 1;
        UINT64 Avx10_1_256Support : 1;
        UINT64 Avx10_1_512Support : 1;
        UINT64 AmxFp16Support : 1;
        UINT64 Reserved : 26;
    };
    UINT64 AsUINT64;
} WHV_PROCESSOR_XSAVE_FEATURES;

typedef union WHV_PROCESSOR_PERFMON_FEATURES {
    struct {
        UINT64 PmuSupport : 1;
        UINT64 LbrSupport : 1;
        UINT64 Reserved : 62;
    };
    UINT64 AsUINT64;
} WHV_PROCESSOR_PERFMON_FEATURES;

/* MSR accesses that exit (with ExtendedVmExits.X64MsrExit) even though the hypervisor could handle them. */
typedef union WHV_X64_MSR_EXIT_BITMAP {
    UINT64 AsUINT64;
    struct {
        UINT64 UnhandledMsrs : 1;
        UINT64 TscMsrWrite : 1;
        UINT64 TscMsrRead : 1;
        UINT64 ApicBaseMsrWrite : 1;
        UINT64 MiscEnableMsrRead : 1;
        UINT64 McUpdatePatchLevelMsrRead : 1;
        UINT64 Reserved : 58;
    };
} WHV_X64_MSR_EXIT_BITMAP;

typedef union WHV_ADVISE_GPA_RANGE_POPULATE_FLAGS {
    UINT32 AsUINT32;
    struct {
        UINT32 Prefetch : 1;
        UINT32 AvoidHardFaults : 1;
        UINT32 Reserved : 30;
    };
} WHV_ADVISE_GPA_RANGE_POPULATE_FLAGS;

typedef struct WHV_CAPABILITY_PROCESSOR_FREQUENCY_CAP {
    UINT32 IsSupported : 1;
    UINT32 Reserved : 31;
    UINT32 HighestFrequencyMhz;
    UINT32 NominalFrequencyMhz;
    UINT32 LowestFrequencyMhz;
    UINT32 FrequencyStepMhz;
} WHV_CAPABILITY_PROCESSOR_FREQUENCY_CAP;

typedef union WHV_SCHEDULER_FEATURES {
    struct {
        UINT64 CpuReserve : 1;
        UINT64 CpuCap : 1;
        UINT64 CpuWeight : 1;
        UINT64 CpuGroupId : 1;
        UINT64 DisableSmt : 1;
        UINT64 Reserved : 59;
    };
    UINT64 AsUINT64;
} WHV_SCHEDULER_FEATURES;

/* Output buffer of WHvGetCapability: the member named like the WHV_CAPABILITY_CODE is written. */
typedef union WHV_CAPABILITY {
    BOOL HypervisorPresent;
    WHV_CAPABILITY_FEATURES Features;
    WHV_EXTENDED_VM_EXITS ExtendedVmExits;
    WHV_PROCESSOR_VENDOR ProcessorVendor;
    WHV_PROCESSOR_FEATURES ProcessorFeatures;
    WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS SyntheticProcessorFeaturesBanks;
    UINT8 ProcessorClFlushSize; /* in 8-byte units, as CPUID.1:EBX[15:8] */
    UINT64 ProcessorClockFrequency;
    WHV_PROCESSOR_FEATURES_BANKS ProcessorFeaturesBanks;
    WHV_ADVISE_GPA_RANGE_POPULATE_FLAGS GpaRangePopulateFlags;
    WHV_CAPABILITY_PROCESSOR_FREQUENCY_CAP ProcessorFrequencyCap;
    WHV_SCHEDULER_FEATURES SchedulerFeatures;
    UINT32 PhysicalAddressWidth;
    UINT64 NestedFeatureRegister;
    WHV_PROCESSOR_XSAVE_FEATURES ProcessorXsaveFeatures;
    UINT64 InterruptClockFrequency;
    WHV_PROCESSOR_PERFMON_FEATURES ProcessorPerfmonFeatures;
    WHV_X64_MSR_EXIT_BITMAP X64MsrExitBitmap;
    UINT64 ExceptionExitBitmap;
} WHV_CAPABILITY;

/* ---------------------------------------------------------------------------------------------------
 * Partition properties (WHvGetPartitionProperty / WHvSetPartitionProperty)
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_PARTITION_PROPERTY_CODE {
    WHvPartitionPropertyCodeExtendedVmExits = 0x00000001,
    WHvPartitionPropertyCodeExceptionExitBitmap = 0x00000002,
    WHvPartitionPropertyCodeSeparateSecurityDomain = 0x00000003,
    WHvPartitionPropertyCodeNestedVirtualization = 0x00000004,
    WHvPartitionPropertyCodeX64MsrExitBitmap = 0x00000005,
    WHvPartitionPropertyCodePrimaryNumaNode = 0x00000006,
    WHvPartitionPropertyCodeCpuReserve = 0x00000007,
    WHvPartitionPropertyCodeCpuCap = 0x00000008,
    WHvPartitionPropertyCodeCpuWeight = 0x00000009,
    WHvPartitionPropertyCodeCpuGroupId = 0x0000000A,
    WHvPartitionPropertyCodeProcessorFrequencyCap = 0x0000000B,
    WHvPartitionPropertyCodeAllowDeviceAssignment = 0x0000000C,
    WHvPartitionPropertyCodeDisableSmt = 0x0000000D,
    WHvPartitionPropertyCodeProcessorFeatures = 0x00001001,
    WHvPartitionPropertyCodeProcessorClFlushSize = 0x00001002,
    WHvPartitionPropertyCodeCpuidExitList = 0x00001003,
    WHvPartitionPropertyCodeCpuidResultList = 0x00001004,
    WHvPartitionPropertyCodeLocalApicEmulationMode = 0x00001005,
    WHvPartitionPropertyCodeProcessorXsaveFeatures = 0x00001006,
    WHvPartitionPropertyCodeProcessorClockFrequency = 0x00001007,
    WHvPartitionPropertyCodeInterruptClockFrequency = 0x00001008,
    WHvPartitionPropertyCodeApicRemoteReadSupport = 0x00001009,
    WHvPartitionPropertyCodeProcessorFeaturesBanks = 0x0000100A,
    WHvPartitionPropertyCodeReferenceTime = 0x0000100B,
    WHvPartitionPropertyCodeSyntheticProcessorFeaturesBanks = 0x0000100C,
    WHvPartitionPropertyCodeCpuidResultList2 = 0x0000100D,
    WHvPartitionPropertyCodeProcessorPerfmonFeatures = 0x0000100E,
    WHvPartitionPropertyCodeMsrActionList = 0x0000100F,
    WHvPartitionPropertyCodeUnimplementedMsrAction = 0x00001010,
    WHvPartitionPropertyCodePhysicalAddressWidth = 0x00001011,
    WHvPartitionPropertyCodeProcessorCount = 0x00001FFF,
} WHV_PARTITION_PROPERTY_CODE;

/* Element of CpuidResultList: a fixed answer for one leaf (subleaf-independent). */
typedef struct WHV_X64_CPUID_RESULT {
    UINT32 Function;
    UINT32 Reserved[3];
    UINT32 Eax;
    UINT32 Ebx;
    UINT32 Ecx;
    UINT32 Edx;
} WHV_X64_CPUID_RESULT;

typedef enum WHV_X64_CPUID_RESULT2_FLAGS {
    WHvX64CpuidResult2FlagSubleafSpecific = 0x00000001,
    WHvX64CpuidResult2FlagVpSpecific = 0x00000002,
} WHV_X64_CPUID_RESULT2_FLAGS;

typedef struct WHV_CPUID_OUTPUT {
    UINT32 Eax;
    UINT32 Ebx;
    UINT32 Ecx;
    UINT32 Edx;
} WHV_CPUID_OUTPUT;

/* Element of CpuidResultList2: the bits set in Mask are replaced by those of Output. */
typedef struct WHV_X64_CPUID_RESULT2 {
    UINT32 Function;
    UINT32 Index;
    UINT32 VpIndex;
    WHV_X64_CPUID_RESULT2_FLAGS Flags;
    WHV_CPUID_OUTPUT Output;
    WHV_CPUID_OUTPUT Mask;
} WHV_X64_CPUID_RESULT2;

typedef enum WHV_MSR_ACTION {
    WHvMsrActionArchitectureDefault = 0,
    WHvMsrActionIgnoreWriteReadZero = 1,
    WHvMsrActionExit = 2,
} WHV_MSR_ACTION;

typedef struct WHV_MSR_ACTION_ENTRY {
    UINT32 Index;
    UINT8 ReadAction;  /* WHV_MSR_ACTION */
    UINT8 WriteAction; /* WHV_MSR_ACTION */
    UINT16 Reserved;
} WHV_MSR_ACTION_ENTRY;

/* Vectors for ExceptionExitBitmap (bit 1 << vector). */
typedef enum WHV_EXCEPTION_TYPE {
    WHvX64ExceptionTypeDivideErrorFault = 0x00,
    WHvX64ExceptionTypeDebugTrapOrFault = 0x01,
    WHvX64ExceptionTypeBreakpointTrap = 0x03,
    WHvX64ExceptionTypeOverflowTrap = 0x04,
    WHvX64ExceptionTypeBoundRangeFault = 0x05,
    WHvX64ExceptionTypeInvalidOpcodeFault = 0x06,
    WHvX64ExceptionTypeDeviceNotAvailableFault = 0x07,
    WHvX64ExceptionTypeDoubleFaultAbort = 0x08,
    WHvX64ExceptionTypeInvalidTaskStateSegmentFault = 0x0A,
    WHvX64ExceptionTypeSegmentNotPresentFault = 0x0B,
    WHvX64ExceptionTypeStackFault = 0x0C,
    WHvX64ExceptionTypeGeneralProtectionFault = 0x0D,
    WHvX64ExceptionTypePageFault = 0x0E,
    WHvX64ExceptionTypeFloatingPointErrorFault = 0x10,
    WHvX64ExceptionTypeAlignmentCheckFault = 0x11,
    WHvX64ExceptionTypeMachineCheckAbort = 0x12,
    WHvX64ExceptionTypeSimdFloatingPointFault = 0x13,
    WHvX64ExceptionTypeControlProtectionFault = 0x15,
} WHV_EXCEPTION_TYPE;

typedef enum WHV_X64_LOCAL_APIC_EMULATION_MODE {
    WHvX64LocalApicEmulationModeNone = 0,
    WHvX64LocalApicEmulationModeXApic = 1,
    WHvX64LocalApicEmulationModeX2Apic = 2,
} WHV_X64_LOCAL_APIC_EMULATION_MODE;

/* Property buffer. Its size (48, from CpuidResultList2) is what many clients pass as the buffer size,
 * so setters accept any size at least the property's natural one. The list members are variable
 * length: a client passes as many elements as the buffer size covers. */
typedef union WHV_PARTITION_PROPERTY {
    WHV_EXTENDED_VM_EXITS ExtendedVmExits;
    WHV_PROCESSOR_FEATURES ProcessorFeatures;
    WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS SyntheticProcessorFeaturesBanks;
    UINT8 ProcessorClFlushSize;
    UINT32 ProcessorCount;
    BOOL SeparateSecurityDomain;
    BOOL NestedVirtualization;
    UINT64 ProcessorClockFrequency;
    WHV_PROCESSOR_FEATURES_BANKS ProcessorFeaturesBanks;
    UINT64 ReferenceTime;
    UINT16 PrimaryNumaNode;
    UINT32 CpuReserve;
    UINT32 CpuCap;
    UINT32 CpuWeight;
    UINT64 CpuGroupId;
    UINT32 ProcessorFrequencyCap;
    BOOL AllowDeviceAssignment;
    BOOL DisableSmt;
    UINT32 PhysicalAddressWidth;
    WHV_PROCESSOR_XSAVE_FEATURES ProcessorXsaveFeatures;
    UINT32 CpuidExitList[1]; /* CPUID leaves that exit */
    UINT64 ExceptionExitBitmap;
    BOOL ApicRemoteRead;
    WHV_X64_MSR_EXIT_BITMAP X64MsrExitBitmap;
    WHV_PROCESSOR_PERFMON_FEATURES ProcessorPerfmonFeatures;
    UINT64 InterruptClockFrequency;
    WHV_X64_CPUID_RESULT CpuidResultList[1];
    WHV_X64_CPUID_RESULT2 CpuidResultList2[1];
    WHV_MSR_ACTION_ENTRY MsrActionList[1];
    WHV_MSR_ACTION UnimplementedMsrAction;
    WHV_X64_LOCAL_APIC_EMULATION_MODE LocalApicEmulationMode;
} WHV_PARTITION_PROPERTY;

/* ---------------------------------------------------------------------------------------------------
 * Guest memory (WHvMapGpaRange, WHvTranslateGva, WHvReadGpaRange / WHvWriteGpaRange)
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_MAP_GPA_RANGE_FLAGS {
    WHvMapGpaRangeFlagNone = 0x00000000,
    WHvMapGpaRangeFlagRead = 0x00000001,
    WHvMapGpaRangeFlagWrite = 0x00000002,
    WHvMapGpaRangeFlagExecute = 0x00000004,
    WHvMapGpaRangeFlagTrackDirtyPages = 0x00000008,
} WHV_MAP_GPA_RANGE_FLAGS;

typedef enum WHV_TRANSLATE_GVA_FLAGS {
    WHvTranslateGvaFlagNone = 0x00000000,
    WHvTranslateGvaFlagValidateRead = 0x00000001,
    WHvTranslateGvaFlagValidateWrite = 0x00000002,
    WHvTranslateGvaFlagValidateExecute = 0x00000004,
    WHvTranslateGvaFlagPrivilegeExempt = 0x00000008, /* check as CPL 0 */
    WHvTranslateGvaFlagSetPageTableBits = 0x00000010, /* set accessed/dirty as the access would */
    WHvTranslateGvaFlagEnforceSmap = 0x00000100,
    WHvTranslateGvaFlagOverrideSmap = 0x00000200,
} WHV_TRANSLATE_GVA_FLAGS;

typedef enum WHV_TRANSLATE_GVA_RESULT_CODE {
    WHvTranslateGvaResultSuccess = 0,
    WHvTranslateGvaResultPageNotPresent = 1,
    WHvTranslateGvaResultPrivilegeViolation = 2,
    WHvTranslateGvaResultInvalidPageTableFlags = 3,
    WHvTranslateGvaResultGpaUnmapped = 4,
    WHvTranslateGvaResultGpaNoReadAccess = 5,
    WHvTranslateGvaResultGpaNoWriteAccess = 6,
    WHvTranslateGvaResultGpaIllegalOverlayAccess = 7,
    WHvTranslateGvaResultIntercept = 8,
} WHV_TRANSLATE_GVA_RESULT_CODE;

typedef struct WHV_TRANSLATE_GVA_RESULT {
    WHV_TRANSLATE_GVA_RESULT_CODE ResultCode;
    UINT32 Reserved;
} WHV_TRANSLATE_GVA_RESULT;

/* Largest DataSizeInBytes of WHvReadGpaRange / WHvWriteGpaRange. */
#define WHV_READ_WRITE_GPA_RANGE_MAX_SIZE 16

typedef enum WHV_CACHE_TYPE {
    WHvCacheTypeUncached = 0,
    WHvCacheTypeWriteCombining = 1,
    WHvCacheTypeWriteThrough = 4,
    WHvCacheTypeWriteProtected = 5,
    WHvCacheTypeWriteBack = 6,
} WHV_CACHE_TYPE;

typedef union WHV_INPUT_VTL {
    UINT8 AsUINT8;
    struct {
        UINT8 TargetVtl : 4;
        UINT8 UseTargetVtl : 1;
        UINT8 Reserved : 3;
    };
} WHV_INPUT_VTL;

/* Passed by value (one 64-bit register) to WHvReadGpaRange / WHvWriteGpaRange. */
typedef union WHV_ACCESS_GPA_CONTROLS {
    UINT64 AsUINT64;
    struct {
        WHV_CACHE_TYPE CacheType;
        WHV_INPUT_VTL InputVtl;
        UINT8 Reserved;
        UINT16 Reserved1;
    };
} WHV_ACCESS_GPA_CONTROLS;

/* ---------------------------------------------------------------------------------------------------
 * Exit reasons and exit contexts (WHvRunVirtualProcessor)
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_RUN_VP_EXIT_REASON {
    WHvRunVpExitReasonNone = 0x00000000,

    /* Standard exits */
    WHvRunVpExitReasonMemoryAccess = 0x00000001,
    WHvRunVpExitReasonX64IoPortAccess = 0x00000002,
    /* 0x00000003 is reserved: an early preview's X64LegacyFpError, retired from the shipping headers.
     * Never reported, never reused. */
    WHvRunVpExitReasonUnrecoverableException = 0x00000004,
    WHvRunVpExitReasonInvalidVpRegisterValue = 0x00000005,
    WHvRunVpExitReasonUnsupportedFeature = 0x00000006,
    WHvRunVpExitReasonX64InterruptWindow = 0x00000007,
    WHvRunVpExitReasonX64Halt = 0x00000008,
    WHvRunVpExitReasonX64ApicEoi = 0x00000009,
    WHvRunVpExitReasonSynicSintDeliverable = 0x0000000A,

    /* Exits enabled through the ExtendedVmExits partition property */
    WHvRunVpExitReasonX64MsrAccess = 0x00001000,
    WHvRunVpExitReasonX64Cpuid = 0x00001001,
    WHvRunVpExitReasonException = 0x00001002,
    WHvRunVpExitReasonX64Rdtsc = 0x00001003,
    WHvRunVpExitReasonX64ApicSmiTrap = 0x00001004,
    WHvRunVpExitReasonHypercall = 0x00001005,
    WHvRunVpExitReasonX64ApicInitSipiTrap = 0x00001006,
    WHvRunVpExitReasonX64ApicWriteTrap = 0x00001007,

    /* Exits caused by the host */
    WHvRunVpExitReasonCanceled = 0x00002001,
} WHV_RUN_VP_EXIT_REASON;

/* Summary of the VP state at the exit; every field equals what the register calls would return. */
typedef union WHV_X64_VP_EXECUTION_STATE {
    struct {
        UINT16 Cpl : 2;
        UINT16 Cr0Pe : 1;
        UINT16 Cr0Am : 1;
        UINT16 EferLma : 1;
        UINT16 DebugActive : 1;
        UINT16 InterruptionPending : 1;
        UINT16 Reserved0 : 5;
        UINT16 InterruptShadow : 1;
        UINT16 Reserved1 : 3;
    };
    UINT16 AsUINT16;
} WHV_X64_VP_EXECUTION_STATE;

typedef struct WHV_X64_VP_EXIT_CONTEXT {
    WHV_X64_VP_EXECUTION_STATE ExecutionState;
    UINT8 InstructionLength : 4; /* of the exiting instruction where the exit has one, else 0 */
    UINT8 Cr8 : 4;
    UINT8 Reserved;
    UINT32 Reserved2;
    WHV_X64_SEGMENT_REGISTER Cs;
    UINT64 Rip;
    UINT64 Rflags;
} WHV_X64_VP_EXIT_CONTEXT, WHV_VP_EXIT_CONTEXT;

/* WHvRunVpExitReasonMemoryAccess */
typedef enum WHV_MEMORY_ACCESS_TYPE {
    WHvMemoryAccessRead = 0,
    WHvMemoryAccessWrite = 1,
    WHvMemoryAccessExecute = 2,
} WHV_MEMORY_ACCESS_TYPE;

typedef union WHV_MEMORY_ACCESS_INFO {
    struct {
        UINT32 AccessType : 2; /* WHV_MEMORY_ACCESS_TYPE */
        UINT32 GpaUnmapped : 1;
        UINT32 GvaValid : 1;
        UINT32 Reserved : 28;
    };
    UINT32 AsUINT32;
} WHV_MEMORY_ACCESS_INFO;

typedef struct WHV_MEMORY_ACCESS_CONTEXT {
    UINT8 InstructionByteCount; /* bytes fetched at CS.base + RIP, not the instruction's length */
    UINT8 Reserved[3];
    UINT8 InstructionBytes[16];
    WHV_MEMORY_ACCESS_INFO AccessInfo;
    WHV_GUEST_PHYSICAL_ADDRESS Gpa;
    WHV_GUEST_VIRTUAL_ADDRESS Gva; /* valid when AccessInfo.GvaValid */
} WHV_MEMORY_ACCESS_CONTEXT;

/* WHvRunVpExitReasonX64IoPortAccess */
typedef union WHV_X64_IO_PORT_ACCESS_INFO {
    struct {
        UINT32 IsWrite : 1;
        UINT32 AccessSize : 3; /* 1, 2 or 4 bytes */
        UINT32 StringOp : 1;
        UINT32 RepPrefix : 1;
        UINT32 Reserved : 26;
    };
    UINT32 AsUINT32;
} WHV_X64_IO_PORT_ACCESS_INFO;

/* Rax, Rcx, Rsi, Rdi, Ds and Es are the values before the instruction, for the VMM's emulation. */
typedef struct WHV_X64_IO_PORT_ACCESS_CONTEXT {
    UINT8 InstructionByteCount;
    UINT8 Reserved[3];
    UINT8 InstructionBytes[16];
    WHV_X64_IO_PORT_ACCESS_INFO AccessInfo;
    UINT16 PortNumber;
    UINT16 Reserved2[3];
    UINT64 Rax;
    UINT64 Rcx;
    UINT64 Rsi;
    UINT64 Rdi;
    WHV_X64_SEGMENT_REGISTER Ds;
    WHV_X64_SEGMENT_REGISTER Es;
} WHV_X64_IO_PORT_ACCESS_CONTEXT;

/* WHvRunVpExitReasonX64MsrAccess */
typedef union WHV_X64_MSR_ACCESS_INFO {
    struct {
        UINT32 IsWrite : 1;
        UINT32 Reserved : 31;
    };
    UINT32 AsUINT32;
} WHV_X64_MSR_ACCESS_INFO;

typedef struct WHV_X64_MSR_ACCESS_CONTEXT {
    WHV_X64_MSR_ACCESS_INFO AccessInfo;
    UINT32 MsrNumber; /* ECX */
    UINT64 Rax;
    UINT64 Rdx;
} WHV_X64_MSR_ACCESS_CONTEXT;

/* WHvRunVpExitReasonX64Cpuid: the inputs, and what the hypervisor would answer. */
typedef struct WHV_X64_CPUID_ACCESS_CONTEXT {
    UINT64 Rax;
    UINT64 Rcx;
    UINT64 Rdx;
    UINT64 Rbx;
    UINT64 DefaultResultRax;
    UINT64 DefaultResultRcx;
    UINT64 DefaultResultRdx;
    UINT64 DefaultResultRbx;
} WHV_X64_CPUID_ACCESS_CONTEXT;

/* WHvRunVpExitReasonException */
typedef union WHV_VP_EXCEPTION_INFO {
    struct {
        UINT32 ErrorCodeValid : 1;
        UINT32 SoftwareException : 1;
        UINT32 Reserved : 30;
    };
    UINT32 AsUINT32;
} WHV_VP_EXCEPTION_INFO;

typedef struct WHV_VP_EXCEPTION_CONTEXT {
    UINT8 InstructionByteCount;
    UINT8 Reserved[3];
    UINT8 InstructionBytes[16];
    WHV_VP_EXCEPTION_INFO ExceptionInfo;
    UINT8 ExceptionType; /* the vector, WHV_EXCEPTION_TYPE */
    UINT8 Reserved2[3];
    UINT32 ErrorCode;
    UINT64 ExceptionParameter; /* #PF: the faulting address (guest CR2 not yet written); #DB: DR6 bits */
} WHV_VP_EXCEPTION_CONTEXT;

/* WHvRunVpExitReasonUnsupportedFeature */
typedef enum WHV_X64_UNSUPPORTED_FEATURE_CODE {
    WHvUnsupportedFeatureIntercept = 1,
    WHvUnsupportedFeatureTaskSwitchTss = 2,
} WHV_X64_UNSUPPORTED_FEATURE_CODE;

typedef struct WHV_X64_UNSUPPORTED_FEATURE_CONTEXT {
    WHV_X64_UNSUPPORTED_FEATURE_CODE FeatureCode;
    UINT32 Reserved;
    UINT64 FeatureParameter;
} WHV_X64_UNSUPPORTED_FEATURE_CONTEXT;

/* WHvRunVpExitReasonCanceled */
typedef enum WHV_RUN_VP_CANCEL_REASON {
    WHvRunVpCancelReasonUser = 0, /* WHvCancelRunVirtualProcessor */
    WhvRunVpCancelReasonUser = 0, /* the spelling of Microsoft's documentation */
} WHV_RUN_VP_CANCEL_REASON;

typedef struct WHV_RUN_VP_CANCELED_CONTEXT {
    WHV_RUN_VP_CANCEL_REASON CancelReason;
} WHV_RUN_VP_CANCELED_CONTEXT;

/* WHvRunVpExitReasonX64InterruptWindow */
typedef struct WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT {
    WHV_X64_PENDING_INTERRUPTION_TYPE DeliverableType;
} WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT;

/* WHvRunVpExitReasonX64ApicEoi */
typedef struct WHV_X64_APIC_EOI_CONTEXT {
    UINT32 InterruptVector;
} WHV_X64_APIC_EOI_CONTEXT;

/* WHvRunVpExitReasonX64Rdtsc */
typedef union WHV_X64_RDTSC_INFO {
    struct {
        UINT64 IsRdtscp : 1;
        UINT64 Reserved : 63;
    };
    UINT64 AsUINT64;
} WHV_X64_RDTSC_INFO;

typedef struct WHV_X64_RDTSC_CONTEXT {
    UINT64 TscAux;
    UINT64 VirtualOffset;
    UINT64 Tsc;
    UINT64 ReferenceTime;
    WHV_X64_RDTSC_INFO RdtscInfo;
} WHV_X64_RDTSC_CONTEXT;

/* WHvRunVpExitReasonX64ApicSmiTrap */
typedef struct WHV_X64_APIC_SMI_CONTEXT {
    UINT64 ApicIcr;
} WHV_X64_APIC_SMI_CONTEXT;

/* WHvRunVpExitReasonHypercall: the hypercall's register inputs at the VMCALL. */
#define WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS 6

typedef struct WHV_X64_HYPERCALL_CONTEXT {
    UINT64 Rax;
    UINT64 Rbx;
    UINT64 Rcx;
    UINT64 Rdx;
    UINT64 R8;
    UINT64 Rsi;
    UINT64 Rdi;
    UINT64 Reserved0;
    WHV_UINT128 XmmRegisters[WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS];
    UINT64 Reserved1[2];
} WHV_X64_HYPERCALL_CONTEXT, WHV_HYPERCALL_CONTEXT;

/* WHvRunVpExitReasonX64ApicInitSipiTrap */
typedef struct WHV_X64_APIC_INIT_SIPI_CONTEXT {
    UINT64 ApicIcr;
} WHV_X64_APIC_INIT_SIPI_CONTEXT;

/* WHvRunVpExitReasonX64ApicWriteTrap: Type is the APIC register's offset. */
typedef enum WHV_X64_APIC_WRITE_TYPE {
    WHvX64ApicWriteTypeLdr = 0xD0,
    WHvX64ApicWriteTypeDfr = 0xE0,
    WHvX64ApicWriteTypeSvr = 0xF0,
    WHvX64ApicWriteTypeLint0 = 0x350,
    WHvX64ApicWriteTypeLint1 = 0x360,
} WHV_X64_APIC_WRITE_TYPE;

typedef struct WHV_X64_APIC_WRITE_CONTEXT {
    WHV_X64_APIC_WRITE_TYPE Type;
    UINT32 Reserved;
    UINT64 WriteValue;
} WHV_X64_APIC_WRITE_CONTEXT;

/* WHvRunVpExitReasonSynicSintDeliverable */
typedef struct WHV_SYNIC_SINT_DELIVERABLE_CONTEXT {
    UINT16 DeliverableSints;
    UINT16 Reserved1;
    UINT32 Reserved2;
} WHV_SYNIC_SINT_DELIVERABLE_CONTEXT;

/* The exit buffer of WHvRunVirtualProcessor. SDKs before the Hypercall payload had a 144-byte struct
 * (the IoPortAccess payload ends there) and clients built with them still pass 144: a run accepts
 * that size and writes no more than it, and refuses smaller buffers with WHV_E_INSUFFICIENT_BUFFER. */
#define WHV_RUN_VP_EXIT_CONTEXT_LEGACY_SIZE 144

typedef struct WHV_RUN_VP_EXIT_CONTEXT {
    WHV_RUN_VP_EXIT_REASON ExitReason;
    UINT32 Reserved;
    WHV_VP_EXIT_CONTEXT VpContext;
    union {
        WHV_MEMORY_ACCESS_CONTEXT MemoryAccess;
        WHV_X64_IO_PORT_ACCESS_CONTEXT IoPortAccess;
        WHV_X64_MSR_ACCESS_CONTEXT MsrAccess;
        WHV_X64_CPUID_ACCESS_CONTEXT CpuidAccess;
        WHV_VP_EXCEPTION_CONTEXT VpException;
        WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT InterruptWindow;
        WHV_X64_UNSUPPORTED_FEATURE_CONTEXT UnsupportedFeature;
        WHV_RUN_VP_CANCELED_CONTEXT CancelReason;
        WHV_X64_APIC_EOI_CONTEXT ApicEoi;
        WHV_X64_RDTSC_CONTEXT ReadTsc;
        WHV_X64_APIC_SMI_CONTEXT ApicSmi;
        WHV_HYPERCALL_CONTEXT Hypercall;
        WHV_X64_APIC_INIT_SIPI_CONTEXT ApicInitSipi;
        WHV_X64_APIC_WRITE_CONTEXT ApicWrite;
        WHV_SYNIC_SINT_DELIVERABLE_CONTEXT SynicSintDeliverable;
        UINT64 AsUINT64[22];
    };
} WHV_RUN_VP_EXIT_CONTEXT;

/* ---------------------------------------------------------------------------------------------------
 * Interrupts (WHvRequestInterrupt)
 * ------------------------------------------------------------------------------------------------- */

typedef enum WHV_INTERRUPT_TYPE {
    WHvX64InterruptTypeFixed = 0,
    WHvX64InterruptTypeLowestPriority = 1,
    WHvX64InterruptTypeNmi = 4,
    WHvX64InterruptTypeInit = 5,
    WHvX64InterruptTypeSipi = 6,
    WHvX64InterruptTypeLocalInt1 = 9,
} WHV_INTERRUPT_TYPE;

typedef enum WHV_INTERRUPT_DESTINATION_MODE {
    WHvX64InterruptDestinationModePhysical = 0,
    WHvX64InterruptDestinationModeLogical = 1,
} WHV_INTERRUPT_DESTINATION_MODE;

typedef enum WHV_INTERRUPT_TRIGGER_MODE {
    WHvX64InterruptTriggerModeEdge = 0,
    WHvX64InterruptTriggerModeLevel = 1,
} WHV_INTERRUPT_TRIGGER_MODE;

typedef struct WHV_INTERRUPT_CONTROL {
    UINT64 Type : 8;            /* WHV_INTERRUPT_TYPE */
    UINT64 DestinationMode : 4; /* WHV_INTERRUPT_DESTINATION_MODE */
    UINT64 TriggerMode : 4;     /* WHV_INTERRUPT_TRIGGER_MODE */
    UINT64 Reserved : 48;
    UINT32 Destination; /* APIC ID, or logical destination */
    UINT32 Vector;
} WHV_INTERRUPT_CONTROL;

/* ---------------------------------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------------------------------- */

/* Platform */
HRESULT WINAPI WHvGetCapability(WHV_CAPABILITY_CODE CapabilityCode, VOID *CapabilityBuffer,
                                UINT32 CapabilityBufferSizeInBytes, UINT32 *WrittenSizeInBytes);

/* Partitions: create, set properties, set up, (reset,) delete */
HRESULT WINAPI WHvCreatePartition(WHV_PARTITION_HANDLE *Partition);
HRESULT WINAPI WHvSetupPartition(WHV_PARTITION_HANDLE Partition);
HRESULT WINAPI WHvResetPartition(WHV_PARTITION_HANDLE Partition);
HRESULT WINAPI WHvDeletePartition(WHV_PARTITION_HANDLE Partition);
HRESULT WINAPI WHvGetPartitionProperty(WHV_PARTITION_HANDLE Partition, WHV_PARTITION_PROPERTY_CODE PropertyCode,
                                       VOID *PropertyBuffer, UINT32 PropertyBufferSizeInBytes,
                                       UINT32 *WrittenSizeInBytes);
HRESULT WINAPI WHvSetPartitionProperty(WHV_PARTITION_HANDLE Partition, WHV_PARTITION_PROPERTY_CODE PropertyCode,
                                       const VOID *PropertyBuffer, UINT32 PropertyBufferSizeInBytes);

/* Guest physical memory */
HRESULT WINAPI WHvMapGpaRange(WHV_PARTITION_HANDLE Partition, VOID *SourceAddress,
                              WHV_GUEST_PHYSICAL_ADDRESS GuestAddress, UINT64 SizeInBytes,
                              WHV_MAP_GPA_RANGE_FLAGS Flags);
HRESULT WINAPI WHvUnmapGpaRange(WHV_PARTITION_HANDLE Partition, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                UINT64 SizeInBytes);
HRESULT WINAPI WHvTranslateGva(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_VIRTUAL_ADDRESS Gva,
                               WHV_TRANSLATE_GVA_FLAGS TranslateFlags, WHV_TRANSLATE_GVA_RESULT *TranslationResult,
                               WHV_GUEST_PHYSICAL_ADDRESS *Gpa);
HRESULT WINAPI WHvReadGpaRange(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                               WHV_ACCESS_GPA_CONTROLS Controls, VOID *Data, UINT32 DataSizeInBytes);
HRESULT WINAPI WHvWriteGpaRange(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                WHV_ACCESS_GPA_CONTROLS Controls, const VOID *Data, UINT32 DataSizeInBytes);
HRESULT WINAPI WHvQueryGpaRangeDirtyBitmap(WHV_PARTITION_HANDLE Partition, WHV_GUEST_PHYSICAL_ADDRESS GuestAddress,
                                           UINT64 RangeSizeInBytes, UINT64 *Bitmap, UINT32 BitmapSizeInBytes);

/* Virtual processors */
HRESULT WINAPI WHvCreateVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, UINT32 Flags);
HRESULT WINAPI WHvDeleteVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex);
HRESULT WINAPI WHvRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, VOID *ExitContext,
                                      UINT32 ExitContextSizeInBytes);
HRESULT WINAPI WHvCancelRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex, UINT32 Flags);
HRESULT WINAPI WHvGetVirtualProcessorRegisters(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex,
                                               const WHV_REGISTER_NAME *RegisterNames, UINT32 RegisterCount,
                                               WHV_REGISTER_VALUE *RegisterValues);
HRESULT WINAPI WHvSetVirtualProcessorRegisters(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex,
                                               const WHV_REGISTER_NAME *RegisterNames, UINT32 RegisterCount,
                                               const WHV_REGISTER_VALUE *RegisterValues);
HRESULT WINAPI WHvRequestInterrupt(WHV_PARTITION_HANDLE Partition, const WHV_INTERRUPT_CONTROL *Interrupt,
                                   UINT32 InterruptControlSize);

/* ---------------------------------------------------------------------------------------------------
 * Layout checks: every size and offset of docs/whv-abi-facts.md, plus the sizes of Microsoft's headers
 * for the types the facts do not list. Bitfield positions are checked by tests/host/test_whv_layout.c.
 * ------------------------------------------------------------------------------------------------- */

#define HVX_WHV_OFFSET(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
#define HVX_WHV_SIZE(type, size) _Static_assert(sizeof(type) == (size), "sizeof " #type)

/* Base types and enums: every UINT32 of the ABI. */
HVX_WHV_SIZE(BOOL, 4);
HVX_WHV_SIZE(HRESULT, 4);
HVX_WHV_SIZE(WHV_REGISTER_NAME, 4);
HVX_WHV_SIZE(WHV_CAPABILITY_CODE, 4);
HVX_WHV_SIZE(WHV_PARTITION_PROPERTY_CODE, 4);
HVX_WHV_SIZE(WHV_PROCESSOR_VENDOR, 4);
HVX_WHV_SIZE(WHV_X64_LOCAL_APIC_EMULATION_MODE, 4);
HVX_WHV_SIZE(WHV_EXCEPTION_TYPE, 4);
HVX_WHV_SIZE(WHV_X64_CPUID_RESULT2_FLAGS, 4);
HVX_WHV_SIZE(WHV_MSR_ACTION, 4);
HVX_WHV_SIZE(WHV_MAP_GPA_RANGE_FLAGS, 4);
HVX_WHV_SIZE(WHV_TRANSLATE_GVA_FLAGS, 4);
HVX_WHV_SIZE(WHV_TRANSLATE_GVA_RESULT_CODE, 4);
HVX_WHV_SIZE(WHV_CACHE_TYPE, 4);
HVX_WHV_SIZE(WHV_RUN_VP_EXIT_REASON, 4);
HVX_WHV_SIZE(WHV_MEMORY_ACCESS_TYPE, 4);
HVX_WHV_SIZE(WHV_X64_UNSUPPORTED_FEATURE_CODE, 4);
HVX_WHV_SIZE(WHV_RUN_VP_CANCEL_REASON, 4);
HVX_WHV_SIZE(WHV_X64_PENDING_INTERRUPTION_TYPE, 4);
HVX_WHV_SIZE(WHV_X64_PENDING_EVENT_TYPE, 4);
HVX_WHV_SIZE(WHV_X64_APIC_WRITE_TYPE, 4);
HVX_WHV_SIZE(WHV_INTERRUPT_TYPE, 4);
HVX_WHV_SIZE(WHV_INTERRUPT_DESTINATION_MODE, 4);
HVX_WHV_SIZE(WHV_INTERRUPT_TRIGGER_MODE, 4);

/* Register values */
HVX_WHV_SIZE(WHV_UINT128, 16);
_Static_assert(_Alignof(WHV_UINT128) == 16, "WHV_UINT128 is 16-byte aligned");
HVX_WHV_OFFSET(WHV_UINT128, Low64, 0);
HVX_WHV_OFFSET(WHV_UINT128, High64, 8);
HVX_WHV_SIZE(WHV_X64_FP_REGISTER, 16);
HVX_WHV_OFFSET(WHV_X64_FP_REGISTER, Mantissa, 0);
HVX_WHV_SIZE(WHV_X64_FP_CONTROL_STATUS_REGISTER, 16);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, FpControl, 0);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, FpStatus, 2);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, FpTag, 4);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, LastFpOp, 6);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, LastFpRip, 8);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, LastFpEip, 8);
HVX_WHV_OFFSET(WHV_X64_FP_CONTROL_STATUS_REGISTER, LastFpCs, 12);
HVX_WHV_SIZE(WHV_X64_XMM_CONTROL_STATUS_REGISTER, 16);
HVX_WHV_OFFSET(WHV_X64_XMM_CONTROL_STATUS_REGISTER, LastFpRdp, 0);
HVX_WHV_OFFSET(WHV_X64_XMM_CONTROL_STATUS_REGISTER, LastFpDs, 4);
HVX_WHV_OFFSET(WHV_X64_XMM_CONTROL_STATUS_REGISTER, XmmStatusControl, 8);
HVX_WHV_OFFSET(WHV_X64_XMM_CONTROL_STATUS_REGISTER, XmmStatusControlMask, 12);
HVX_WHV_SIZE(WHV_X64_SEGMENT_REGISTER, 16);
HVX_WHV_OFFSET(WHV_X64_SEGMENT_REGISTER, Base, 0);
HVX_WHV_OFFSET(WHV_X64_SEGMENT_REGISTER, Limit, 8);
HVX_WHV_OFFSET(WHV_X64_SEGMENT_REGISTER, Selector, 12);
HVX_WHV_OFFSET(WHV_X64_SEGMENT_REGISTER, Attributes, 14);
HVX_WHV_SIZE(WHV_X64_TABLE_REGISTER, 16);
HVX_WHV_OFFSET(WHV_X64_TABLE_REGISTER, Pad, 0);
HVX_WHV_OFFSET(WHV_X64_TABLE_REGISTER, Limit, 6);
HVX_WHV_OFFSET(WHV_X64_TABLE_REGISTER, Base, 8);
HVX_WHV_SIZE(WHV_X64_INTERRUPT_STATE_REGISTER, 8);
HVX_WHV_SIZE(WHV_X64_PENDING_INTERRUPTION_REGISTER, 8);
HVX_WHV_OFFSET(WHV_X64_PENDING_INTERRUPTION_REGISTER, ErrorCode, 4);
HVX_WHV_SIZE(WHV_X64_PENDING_EXCEPTION_EVENT, 16);
HVX_WHV_OFFSET(WHV_X64_PENDING_EXCEPTION_EVENT, ErrorCode, 4);
HVX_WHV_OFFSET(WHV_X64_PENDING_EXCEPTION_EVENT, ExceptionParameter, 8);
HVX_WHV_SIZE(WHV_X64_PENDING_EXT_INT_EVENT, 16);
HVX_WHV_SIZE(WHV_DELIVERABILITY_NOTIFICATIONS_REGISTER, 8);
HVX_WHV_SIZE(WHV_INTERNAL_ACTIVITY_REGISTER, 8);
HVX_WHV_SIZE(WHV_X64_PENDING_DEBUG_EXCEPTION, 8);
HVX_WHV_SIZE(WHV_REGISTER_VALUE, 16);
_Static_assert(_Alignof(WHV_REGISTER_VALUE) == 16, "WHV_REGISTER_VALUE is 16-byte aligned");

/* Capabilities and partition properties */
HVX_WHV_SIZE(WHV_CAPABILITY_FEATURES, 8);
HVX_WHV_SIZE(WHV_EXTENDED_VM_EXITS, 8);
HVX_WHV_SIZE(WHV_PROCESSOR_FEATURES, 8);
HVX_WHV_SIZE(WHV_PROCESSOR_FEATURES1, 8);
HVX_WHV_SIZE(WHV_PROCESSOR_FEATURES_BANKS, 24);
HVX_WHV_OFFSET(WHV_PROCESSOR_FEATURES_BANKS, Bank0, 8);
HVX_WHV_OFFSET(WHV_PROCESSOR_FEATURES_BANKS, Bank1, 16);
HVX_WHV_SIZE(WHV_SYNTHETIC_PROCESSOR_FEATURES, 8);
HVX_WHV_SIZE(WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS, 16);
HVX_WHV_OFFSET(WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS, Bank0, 8);
HVX_WHV_SIZE(WHV_PROCESSOR_XSAVE_FEATURES, 8);
HVX_WHV_SIZE(WHV_PROCESSOR_PERFMON_FEATURES, 8);
HVX_WHV_SIZE(WHV_X64_MSR_EXIT_BITMAP, 8);
HVX_WHV_SIZE(WHV_ADVISE_GPA_RANGE_POPULATE_FLAGS, 4);
HVX_WHV_SIZE(WHV_CAPABILITY_PROCESSOR_FREQUENCY_CAP, 20);
HVX_WHV_SIZE(WHV_SCHEDULER_FEATURES, 8);
HVX_WHV_SIZE(WHV_CAPABILITY, 24);
HVX_WHV_SIZE(WHV_X64_CPUID_RESULT, 32);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Function, 0);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Reserved, 4);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Eax, 16);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Ebx, 20);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Ecx, 24);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT, Edx, 28);
HVX_WHV_SIZE(WHV_CPUID_OUTPUT, 16);
HVX_WHV_SIZE(WHV_X64_CPUID_RESULT2, 48);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT2, Flags, 12);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT2, Output, 16);
HVX_WHV_OFFSET(WHV_X64_CPUID_RESULT2, Mask, 32);
HVX_WHV_SIZE(WHV_MSR_ACTION_ENTRY, 8);
HVX_WHV_SIZE(WHV_PARTITION_PROPERTY, 48);

/* Guest memory */
HVX_WHV_SIZE(WHV_TRANSLATE_GVA_RESULT, 8);
HVX_WHV_OFFSET(WHV_TRANSLATE_GVA_RESULT, ResultCode, 0);
HVX_WHV_OFFSET(WHV_TRANSLATE_GVA_RESULT, Reserved, 4);
HVX_WHV_SIZE(WHV_INPUT_VTL, 1);
HVX_WHV_SIZE(WHV_ACCESS_GPA_CONTROLS, 8);
HVX_WHV_OFFSET(WHV_ACCESS_GPA_CONTROLS, CacheType, 0);
HVX_WHV_OFFSET(WHV_ACCESS_GPA_CONTROLS, InputVtl, 4);

/* Exit context header */
HVX_WHV_SIZE(WHV_X64_VP_EXECUTION_STATE, 2);
HVX_WHV_SIZE(WHV_VP_EXIT_CONTEXT, 40);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, ExecutionState, 0);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, Reserved, 3);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, Reserved2, 4);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, Cs, 8);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, Rip, 24);
HVX_WHV_OFFSET(WHV_VP_EXIT_CONTEXT, Rflags, 32);

/* Exit payloads */
HVX_WHV_SIZE(WHV_MEMORY_ACCESS_INFO, 4);
HVX_WHV_SIZE(WHV_MEMORY_ACCESS_CONTEXT, 40);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, InstructionByteCount, 0);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, Reserved, 1);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, InstructionBytes, 4);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, AccessInfo, 20);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, Gpa, 24);
HVX_WHV_OFFSET(WHV_MEMORY_ACCESS_CONTEXT, Gva, 32);

HVX_WHV_SIZE(WHV_X64_IO_PORT_ACCESS_INFO, 4);
HVX_WHV_SIZE(WHV_X64_IO_PORT_ACCESS_CONTEXT, 96);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, InstructionByteCount, 0);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Reserved, 1);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, InstructionBytes, 4);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, AccessInfo, 20);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, PortNumber, 24);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Reserved2, 26);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rax, 32);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rcx, 40);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rsi, 48);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rdi, 56);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Ds, 64);
HVX_WHV_OFFSET(WHV_X64_IO_PORT_ACCESS_CONTEXT, Es, 80);

HVX_WHV_SIZE(WHV_X64_MSR_ACCESS_INFO, 4);
HVX_WHV_SIZE(WHV_X64_MSR_ACCESS_CONTEXT, 24);
HVX_WHV_OFFSET(WHV_X64_MSR_ACCESS_CONTEXT, AccessInfo, 0);
HVX_WHV_OFFSET(WHV_X64_MSR_ACCESS_CONTEXT, MsrNumber, 4);
HVX_WHV_OFFSET(WHV_X64_MSR_ACCESS_CONTEXT, Rax, 8);
HVX_WHV_OFFSET(WHV_X64_MSR_ACCESS_CONTEXT, Rdx, 16);

HVX_WHV_SIZE(WHV_X64_CPUID_ACCESS_CONTEXT, 64);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, Rax, 0);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, Rcx, 8);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, Rdx, 16);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, Rbx, 24);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRax, 32);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRcx, 40);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRdx, 48);
HVX_WHV_OFFSET(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRbx, 56);

HVX_WHV_SIZE(WHV_VP_EXCEPTION_INFO, 4);
HVX_WHV_SIZE(WHV_VP_EXCEPTION_CONTEXT, 40);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, InstructionByteCount, 0);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, Reserved, 1);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, InstructionBytes, 4);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, ExceptionInfo, 20);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, ExceptionType, 24);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, Reserved2, 25);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, ErrorCode, 28);
HVX_WHV_OFFSET(WHV_VP_EXCEPTION_CONTEXT, ExceptionParameter, 32);

HVX_WHV_SIZE(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, 16);
HVX_WHV_OFFSET(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, FeatureCode, 0);
HVX_WHV_OFFSET(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, Reserved, 4);
HVX_WHV_OFFSET(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, FeatureParameter, 8);

HVX_WHV_SIZE(WHV_RUN_VP_CANCELED_CONTEXT, 4);
HVX_WHV_SIZE(WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT, 4);
HVX_WHV_SIZE(WHV_X64_APIC_EOI_CONTEXT, 4);

HVX_WHV_SIZE(WHV_X64_RDTSC_INFO, 8);
HVX_WHV_SIZE(WHV_X64_RDTSC_CONTEXT, 40);
HVX_WHV_OFFSET(WHV_X64_RDTSC_CONTEXT, TscAux, 0);
HVX_WHV_OFFSET(WHV_X64_RDTSC_CONTEXT, VirtualOffset, 8);
HVX_WHV_OFFSET(WHV_X64_RDTSC_CONTEXT, Tsc, 16);
HVX_WHV_OFFSET(WHV_X64_RDTSC_CONTEXT, ReferenceTime, 24);
HVX_WHV_OFFSET(WHV_X64_RDTSC_CONTEXT, RdtscInfo, 32);

HVX_WHV_SIZE(WHV_HYPERCALL_CONTEXT, 176);
_Static_assert(_Alignof(WHV_HYPERCALL_CONTEXT) == 16, "WHV_HYPERCALL_CONTEXT is 16-byte aligned");
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rax, 0);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rbx, 8);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rcx, 16);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rdx, 24);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, R8, 32);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rsi, 40);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Rdi, 48);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Reserved0, 56);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, XmmRegisters, 64);
HVX_WHV_OFFSET(WHV_HYPERCALL_CONTEXT, Reserved1, 160);

HVX_WHV_SIZE(WHV_X64_APIC_SMI_CONTEXT, 8);
HVX_WHV_OFFSET(WHV_X64_APIC_SMI_CONTEXT, ApicIcr, 0);
HVX_WHV_SIZE(WHV_X64_APIC_INIT_SIPI_CONTEXT, 8);
HVX_WHV_OFFSET(WHV_X64_APIC_INIT_SIPI_CONTEXT, ApicIcr, 0);
HVX_WHV_SIZE(WHV_X64_APIC_WRITE_CONTEXT, 16);
HVX_WHV_OFFSET(WHV_X64_APIC_WRITE_CONTEXT, Type, 0);
HVX_WHV_OFFSET(WHV_X64_APIC_WRITE_CONTEXT, Reserved, 4);
HVX_WHV_OFFSET(WHV_X64_APIC_WRITE_CONTEXT, WriteValue, 8);
HVX_WHV_SIZE(WHV_SYNIC_SINT_DELIVERABLE_CONTEXT, 8);

/* The exit context: every payload starts at 48; only Hypercall reaches past the legacy 144 bytes. */
HVX_WHV_SIZE(WHV_RUN_VP_EXIT_CONTEXT, 224);
_Static_assert(_Alignof(WHV_RUN_VP_EXIT_CONTEXT) == 16, "WHV_RUN_VP_EXIT_CONTEXT is 16-byte aligned");
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ExitReason, 0);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, Reserved, 4);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, VpContext, 8);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, MemoryAccess, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, MsrAccess, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, CpuidAccess, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, VpException, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, InterruptWindow, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, UnsupportedFeature, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, CancelReason, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ApicEoi, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ReadTsc, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ApicSmi, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, Hypercall, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ApicInitSipi, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, ApicWrite, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, SynicSintDeliverable, 48);
HVX_WHV_OFFSET(WHV_RUN_VP_EXIT_CONTEXT, AsUINT64, 48);
_Static_assert(offsetof(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess) + sizeof(WHV_X64_IO_PORT_ACCESS_CONTEXT) ==
                   WHV_RUN_VP_EXIT_CONTEXT_LEGACY_SIZE,
               "the legacy exit context ends with the largest pre-Hypercall payload");

/* Interrupts */
HVX_WHV_SIZE(WHV_INTERRUPT_CONTROL, 16);
HVX_WHV_OFFSET(WHV_INTERRUPT_CONTROL, Destination, 8);
HVX_WHV_OFFSET(WHV_INTERRUPT_CONTROL, Vector, 12);

#undef HVX_WHV_OFFSET
#undef HVX_WHV_SIZE

#endif
