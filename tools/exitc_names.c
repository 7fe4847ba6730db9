/* The WHV names a script may use, all taken from api/whv_platform.h so they cannot drift from it:
 * register names (the enum constants), exit reasons, partition properties (sizes from the members of
 * WHV_PARTITION_PROPERTY), and every field of WHV_RUN_VP_EXIT_CONTEXT (offsets and sizes from offsetof
 * and sizeof; bitfield positions found by setting the bitfield in a zeroed struct, since offsetof cannot
 * name a bitfield). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "api/whv_platform.h"
#include "tools/exitc_api.h"

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MEMBER_SIZE(T, F) sizeof(((T *)0)->F)

int exitc_name_lookup(const struct exitc_name_value *table, const char *name, uint64_t *value)
{
    for (; table && table->name; table++)
        if (strcmp(table->name, name) == 0) {
            *value = table->value;
            return 1;
        }
    return 0;
}

/* ---- registers: WHV_REGISTER_NAME without its WHvX64Register / WHvRegister prefix */

#define X64(n) { #n, WHvX64Register##n },
#define SYN(n) { #n, WHvRegister##n },

static const struct exitc_name_value register_names[] = {
    X64(Rax) X64(Rcx) X64(Rdx) X64(Rbx) X64(Rsp) X64(Rbp) X64(Rsi) X64(Rdi) X64(R8) X64(R9) X64(R10) X64(R11)
    X64(R12) X64(R13) X64(R14) X64(R15) X64(Rip) X64(Rflags)
    X64(Es) X64(Cs) X64(Ss) X64(Ds) X64(Fs) X64(Gs) X64(Ldtr) X64(Tr)
    X64(Idtr) X64(Gdtr)
    X64(Cr0) X64(Cr2) X64(Cr3) X64(Cr4) X64(Cr8)
    X64(Dr0) X64(Dr1) X64(Dr2) X64(Dr3) X64(Dr6) X64(Dr7)
    X64(XCr0) X64(VirtualCr0) X64(VirtualCr3) X64(VirtualCr4) X64(VirtualCr8)
    X64(Xmm0) X64(Xmm1) X64(Xmm2) X64(Xmm3) X64(Xmm4) X64(Xmm5) X64(Xmm6) X64(Xmm7) X64(Xmm8) X64(Xmm9)
    X64(Xmm10) X64(Xmm11) X64(Xmm12) X64(Xmm13) X64(Xmm14) X64(Xmm15)
    X64(FpMmx0) X64(FpMmx1) X64(FpMmx2) X64(FpMmx3) X64(FpMmx4) X64(FpMmx5) X64(FpMmx6) X64(FpMmx7)
    X64(FpControlStatus) X64(XmmControlStatus)
    X64(Tsc) X64(Efer) X64(KernelGsBase) X64(ApicBase) X64(Pat) X64(SysenterCs) X64(SysenterEip)
    X64(SysenterEsp) X64(Star) X64(Lstar) X64(Cstar) X64(Sfmask) X64(InitialApicId)
    X64(MsrMtrrCap) X64(MsrMtrrDefType)
    X64(MsrMtrrPhysBase0) X64(MsrMtrrPhysBase1) X64(MsrMtrrPhysBase2) X64(MsrMtrrPhysBase3)
    X64(MsrMtrrPhysBase4) X64(MsrMtrrPhysBase5) X64(MsrMtrrPhysBase6) X64(MsrMtrrPhysBase7)
    X64(MsrMtrrPhysBase8) X64(MsrMtrrPhysBase9) X64(MsrMtrrPhysBaseA) X64(MsrMtrrPhysBaseB)
    X64(MsrMtrrPhysBaseC) X64(MsrMtrrPhysBaseD) X64(MsrMtrrPhysBaseE) X64(MsrMtrrPhysBaseF)
    X64(MsrMtrrPhysMask0) X64(MsrMtrrPhysMask1) X64(MsrMtrrPhysMask2) X64(MsrMtrrPhysMask3)
    X64(MsrMtrrPhysMask4) X64(MsrMtrrPhysMask5) X64(MsrMtrrPhysMask6) X64(MsrMtrrPhysMask7)
    X64(MsrMtrrPhysMask8) X64(MsrMtrrPhysMask9) X64(MsrMtrrPhysMaskA) X64(MsrMtrrPhysMaskB)
    X64(MsrMtrrPhysMaskC) X64(MsrMtrrPhysMaskD) X64(MsrMtrrPhysMaskE) X64(MsrMtrrPhysMaskF)
    X64(MsrMtrrFix64k00000) X64(MsrMtrrFix16k80000) X64(MsrMtrrFix16kA0000) X64(MsrMtrrFix4kC0000)
    X64(MsrMtrrFix4kC8000) X64(MsrMtrrFix4kD0000) X64(MsrMtrrFix4kD8000) X64(MsrMtrrFix4kE0000)
    X64(MsrMtrrFix4kE8000) X64(MsrMtrrFix4kF0000) X64(MsrMtrrFix4kF8000)
    X64(TscAux) X64(Bndcfgs) X64(MCount) X64(ACount) X64(SpecCtrl) X64(PredCmd) X64(TscVirtualOffset)
    X64(TsxCtrl) X64(Xss) X64(UCet) X64(SCet) X64(Ssp) X64(Pl0Ssp) X64(Pl1Ssp) X64(Pl2Ssp) X64(Pl3Ssp)
    X64(InterruptSspTableAddr) X64(TscDeadline) X64(TscAdjust) X64(UmwaitControl) X64(Xfd) X64(XfdErr)
    X64(MsrIa32MiscEnable) X64(Ia32FeatureControl) X64(Ia32VmxBasic) X64(Ia32VmxPinbasedCtls)
    X64(Ia32VmxProcbasedCtls) X64(Ia32VmxExitCtls) X64(Ia32VmxEntryCtls) X64(Ia32VmxMisc)
    X64(Ia32VmxCr0Fixed0) X64(Ia32VmxCr0Fixed1) X64(Ia32VmxCr4Fixed0) X64(Ia32VmxCr4Fixed1)
    X64(Ia32VmxVmcsEnum) X64(Ia32VmxProcbasedCtls2) X64(Ia32VmxEptVpidCap) X64(Ia32VmxTruePinbasedCtls)
    X64(Ia32VmxTrueProcbasedCtls) X64(Ia32VmxTrueExitCtls) X64(Ia32VmxTrueEntryCtls) X64(AmdVmHsavePa)
    X64(AmdVmCr)
    X64(ApicId) X64(ApicVersion) X64(ApicTpr) X64(ApicPpr) X64(ApicEoi) X64(ApicLdr) X64(ApicSpurious)
    X64(ApicIsr0) X64(ApicIsr1) X64(ApicIsr2) X64(ApicIsr3) X64(ApicIsr4) X64(ApicIsr5) X64(ApicIsr6)
    X64(ApicIsr7) X64(ApicTmr0) X64(ApicTmr1) X64(ApicTmr2) X64(ApicTmr3) X64(ApicTmr4) X64(ApicTmr5)
    X64(ApicTmr6) X64(ApicTmr7) X64(ApicIrr0) X64(ApicIrr1) X64(ApicIrr2) X64(ApicIrr3) X64(ApicIrr4)
    X64(ApicIrr5) X64(ApicIrr6) X64(ApicIrr7) X64(ApicEse) X64(ApicIcr) X64(ApicLvtTimer)
    X64(ApicLvtThermal) X64(ApicLvtPerfmon) X64(ApicLvtLint0) X64(ApicLvtLint1) X64(ApicLvtError)
    X64(ApicInitCount) X64(ApicCurrentCount) X64(ApicDivide) X64(ApicSelfIpi)
    SYN(Sint0) SYN(Sint1) SYN(Sint2) SYN(Sint3) SYN(Sint4) SYN(Sint5) SYN(Sint6) SYN(Sint7) SYN(Sint8)
    SYN(Sint9) SYN(Sint10) SYN(Sint11) SYN(Sint12) SYN(Sint13) SYN(Sint14) SYN(Sint15)
    SYN(Scontrol) SYN(Sversion) SYN(Siefp) SYN(Simp) SYN(Eom)
    SYN(VpRuntime) X64(Hypercall) SYN(GuestOsId) SYN(VpAssistPage) SYN(ReferenceTsc)
    SYN(ReferenceTscSequence) X64(NestedGuestState) X64(NestedCurrentVmGpa) X64(NestedVmxInvEpt)
    X64(NestedVmxInvVpid)
    /* DeliverabilityNotifications exists with both prefixes, one value: listed once. */
    SYN(PendingInterruption) SYN(InterruptState) SYN(PendingEvent) SYN(PendingEvent0) SYN(PendingEvent1)
    X64(DeliverabilityNotifications) SYN(InternalActivityState) X64(PendingDebugException)
    SYN(PendingEvent2) SYN(PendingEvent3)
    { NULL, 0 },
};

#undef X64
#undef SYN

/* The same split as the runner's expect-reg (tests/payload/exitrun_check.c): these compare 16 bytes. */
static int register_is_128_bit(uint32_t name)
{
    return (name >= WHvX64RegisterXmm0 && name <= WHvX64RegisterXmmControlStatus) ||
           name == WHvRegisterPendingEvent || name == WHvRegisterPendingEvent1 ||
           name == WHvRegisterPendingEvent2 || name == WHvRegisterPendingEvent3;
}

static enum exitc_register_kind register_kind(uint32_t name)
{
    if (name >= WHvX64RegisterEs && name <= WHvX64RegisterTr)
        return EXITC_REG_SEGMENT;
    if (name == WHvX64RegisterIdtr || name == WHvX64RegisterGdtr)
        return EXITC_REG_TABLE;
    return register_is_128_bit(name) ? EXITC_REG_128 : EXITC_REG_64;
}

int exitc_register_lookup(const char *name, uint32_t *value, enum exitc_register_kind *kind)
{
    uint64_t v;
    if (!exitc_name_lookup(register_names, name, &v))
        return 0;
    *value = (uint32_t)v;
    *kind = register_kind(*value);
    return 1;
}

/* ---- value names of enum-typed fields, without their prefixes */

#define REASON(n) { #n, WHvRunVpExitReason##n },
static const struct exitc_name_value exit_reasons[] = {
    REASON(None) REASON(MemoryAccess) REASON(X64IoPortAccess) REASON(UnrecoverableException)
    REASON(InvalidVpRegisterValue) REASON(UnsupportedFeature) REASON(X64InterruptWindow) REASON(X64Halt)
    REASON(X64ApicEoi) REASON(SynicSintDeliverable) REASON(X64MsrAccess) REASON(X64Cpuid) REASON(Exception)
    REASON(X64Rdtsc) REASON(X64ApicSmiTrap) REASON(Hypercall) REASON(X64ApicInitSipiTrap)
    REASON(X64ApicWriteTrap) REASON(Canceled)
    { NULL, 0 },
};
#undef REASON

#define EXCEPTION(n) { #n, WHvX64ExceptionType##n },
static const struct exitc_name_value exception_types[] = {
    EXCEPTION(DivideErrorFault) EXCEPTION(DebugTrapOrFault) EXCEPTION(BreakpointTrap) EXCEPTION(OverflowTrap)
    EXCEPTION(BoundRangeFault) EXCEPTION(InvalidOpcodeFault) EXCEPTION(DeviceNotAvailableFault)
    EXCEPTION(DoubleFaultAbort) EXCEPTION(InvalidTaskStateSegmentFault) EXCEPTION(SegmentNotPresentFault)
    EXCEPTION(StackFault) EXCEPTION(GeneralProtectionFault) EXCEPTION(PageFault)
    EXCEPTION(FloatingPointErrorFault) EXCEPTION(AlignmentCheckFault) EXCEPTION(MachineCheckAbort)
    EXCEPTION(SimdFloatingPointFault) EXCEPTION(ControlProtectionFault)
    { NULL, 0 },
};
#undef EXCEPTION

static const struct exitc_name_value memory_access_types[] = {
    { "Read", WHvMemoryAccessRead }, { "Write", WHvMemoryAccessWrite }, { "Execute", WHvMemoryAccessExecute },
    { NULL, 0 },
};

static const struct exitc_name_value unsupported_feature_codes[] = {
    { "Intercept", WHvUnsupportedFeatureIntercept }, { "TaskSwitchTss", WHvUnsupportedFeatureTaskSwitchTss },
    { NULL, 0 },
};

static const struct exitc_name_value cancel_reasons[] = {
    { "User", WHvRunVpCancelReasonUser },
    { NULL, 0 },
};

static const struct exitc_name_value pending_interruption_types[] = {
    { "Interrupt", WHvX64PendingInterrupt }, { "Nmi", WHvX64PendingNmi }, { "Exception", WHvX64PendingException },
    { NULL, 0 },
};

static const struct exitc_name_value apic_write_types[] = {
    { "Ldr", WHvX64ApicWriteTypeLdr }, { "Dfr", WHvX64ApicWriteTypeDfr }, { "Svr", WHvX64ApicWriteTypeSvr },
    { "Lint0", WHvX64ApicWriteTypeLint0 }, { "Lint1", WHvX64ApicWriteTypeLint1 },
    { NULL, 0 },
};

/* ---- field descriptions
 *
 * A bitfield is described by a setter that stores all ones into it in a zeroed object of its enclosing
 * type: the bits that come out set are the field's. Each type's bitfields are listed once (the X-macro
 * lists below), which generates both the setters and the table entries. */

struct exitc_field_desc {
    const char *name;
    uint32_t offset;   /* in the enclosing type */
    uint32_t size;     /* of the field, or of one element of an array */
    uint32_t count;    /* array elements; 0: not an array */
    const struct exitc_field_desc *members;
    void (*set_bits)(void *object, uint64_t ones);
    int instruction_bytes;
    const struct exitc_name_value *value_names;
    const char *value_kind;
};

#define BIT_SETTER(T, F) \
    static void set_##T##_##F(void *object, uint64_t ones) { ((T *)object)->F = ones; }
#define BITS(T, F) { .name = #F, .set_bits = set_##T##_##F },
#define SCALAR(T, F) { .name = #F, .offset = offsetof(T, F), .size = MEMBER_SIZE(T, F) },
#define NAMED(T, F, names, kind) \
    { .name = #F, .offset = offsetof(T, F), .size = MEMBER_SIZE(T, F), .value_names = names, .value_kind = kind },
#define NESTED(T, F, m) { .name = #F, .offset = offsetof(T, F), .size = MEMBER_SIZE(T, F), .members = m },
#define ARRAY(T, F, m)                                                                                 \
    { .name = #F, .offset = offsetof(T, F), .size = MEMBER_SIZE(T, F[0]),                             \
      .count = MEMBER_SIZE(T, F) / MEMBER_SIZE(T, F[0]), .members = m },
#define INSTRUCTION_BYTES(T)                                                                           \
    { .name = "InstructionBytes", .offset = offsetof(T, InstructionBytes), .size = 1,                 \
      .count = MEMBER_SIZE(T, InstructionBytes), .instruction_bytes = 1 },
#define END { .name = NULL }

#define SEGMENT_BITS(X)                                                                                \
    X(WHV_X64_SEGMENT_REGISTER, SegmentType) X(WHV_X64_SEGMENT_REGISTER, NonSystemSegment)            \
    X(WHV_X64_SEGMENT_REGISTER, DescriptorPrivilegeLevel) X(WHV_X64_SEGMENT_REGISTER, Present)        \
    X(WHV_X64_SEGMENT_REGISTER, Reserved) X(WHV_X64_SEGMENT_REGISTER, Available)                      \
    X(WHV_X64_SEGMENT_REGISTER, Long) X(WHV_X64_SEGMENT_REGISTER, Default)                            \
    X(WHV_X64_SEGMENT_REGISTER, Granularity)
#define EXECUTION_STATE_BITS(X)                                                                        \
    X(WHV_X64_VP_EXECUTION_STATE, Cpl) X(WHV_X64_VP_EXECUTION_STATE, Cr0Pe)                           \
    X(WHV_X64_VP_EXECUTION_STATE, Cr0Am) X(WHV_X64_VP_EXECUTION_STATE, EferLma)                       \
    X(WHV_X64_VP_EXECUTION_STATE, DebugActive) X(WHV_X64_VP_EXECUTION_STATE, InterruptionPending)     \
    X(WHV_X64_VP_EXECUTION_STATE, Reserved0) X(WHV_X64_VP_EXECUTION_STATE, InterruptShadow)           \
    X(WHV_X64_VP_EXECUTION_STATE, Reserved1)
#define VP_CONTEXT_BITS(X) X(WHV_VP_EXIT_CONTEXT, InstructionLength) X(WHV_VP_EXIT_CONTEXT, Cr8)
#define MEMORY_ACCESS_INFO_BITS(X)                                                                     \
    X(WHV_MEMORY_ACCESS_INFO, GpaUnmapped) X(WHV_MEMORY_ACCESS_INFO, GvaValid)                        \
    X(WHV_MEMORY_ACCESS_INFO, Reserved)
#define IO_PORT_ACCESS_INFO_BITS(X)                                                                    \
    X(WHV_X64_IO_PORT_ACCESS_INFO, IsWrite) X(WHV_X64_IO_PORT_ACCESS_INFO, AccessSize)                \
    X(WHV_X64_IO_PORT_ACCESS_INFO, StringOp) X(WHV_X64_IO_PORT_ACCESS_INFO, RepPrefix)                \
    X(WHV_X64_IO_PORT_ACCESS_INFO, Reserved)
#define MSR_ACCESS_INFO_BITS(X) X(WHV_X64_MSR_ACCESS_INFO, IsWrite) X(WHV_X64_MSR_ACCESS_INFO, Reserved)
#define EXCEPTION_INFO_BITS(X)                                                                         \
    X(WHV_VP_EXCEPTION_INFO, ErrorCodeValid) X(WHV_VP_EXCEPTION_INFO, SoftwareException)              \
    X(WHV_VP_EXCEPTION_INFO, Reserved)
#define RDTSC_INFO_BITS(X) X(WHV_X64_RDTSC_INFO, IsRdtscp) X(WHV_X64_RDTSC_INFO, Reserved)
/* Property bit names: the one-bit fields only (a Reserved run is not a flag). */
#define EXTENDED_VM_EXITS_BITS(X)                                                                      \
    X(WHV_EXTENDED_VM_EXITS, X64CpuidExit) X(WHV_EXTENDED_VM_EXITS, X64MsrExit)                       \
    X(WHV_EXTENDED_VM_EXITS, ExceptionExit) X(WHV_EXTENDED_VM_EXITS, X64RdtscExit)                    \
    X(WHV_EXTENDED_VM_EXITS, X64ApicSmiExitTrap) X(WHV_EXTENDED_VM_EXITS, HypercallExit)              \
    X(WHV_EXTENDED_VM_EXITS, X64ApicInitSipiExitTrap) X(WHV_EXTENDED_VM_EXITS, X64ApicWriteLint0ExitTrap) \
    X(WHV_EXTENDED_VM_EXITS, X64ApicWriteLint1ExitTrap) X(WHV_EXTENDED_VM_EXITS, X64ApicWriteSvrExitTrap) \
    X(WHV_EXTENDED_VM_EXITS, UnknownSynicConnection) X(WHV_EXTENDED_VM_EXITS, RetargetUnknownVpciDevice) \
    X(WHV_EXTENDED_VM_EXITS, X64ApicWriteLdrExitTrap) X(WHV_EXTENDED_VM_EXITS, X64ApicWriteDfrExitTrap) \
    X(WHV_EXTENDED_VM_EXITS, GpaAccessFaultExit)
#define MSR_EXIT_BITMAP_BITS(X)                                                                        \
    X(WHV_X64_MSR_EXIT_BITMAP, UnhandledMsrs) X(WHV_X64_MSR_EXIT_BITMAP, TscMsrWrite)                 \
    X(WHV_X64_MSR_EXIT_BITMAP, TscMsrRead) X(WHV_X64_MSR_EXIT_BITMAP, ApicBaseMsrWrite)               \
    X(WHV_X64_MSR_EXIT_BITMAP, MiscEnableMsrRead) X(WHV_X64_MSR_EXIT_BITMAP, McUpdatePatchLevelMsrRead)

SEGMENT_BITS(BIT_SETTER)
EXECUTION_STATE_BITS(BIT_SETTER)
VP_CONTEXT_BITS(BIT_SETTER)
MEMORY_ACCESS_INFO_BITS(BIT_SETTER)
BIT_SETTER(WHV_MEMORY_ACCESS_INFO, AccessType)
IO_PORT_ACCESS_INFO_BITS(BIT_SETTER)
MSR_ACCESS_INFO_BITS(BIT_SETTER)
EXCEPTION_INFO_BITS(BIT_SETTER)
RDTSC_INFO_BITS(BIT_SETTER)
EXTENDED_VM_EXITS_BITS(BIT_SETTER)
MSR_EXIT_BITMAP_BITS(BIT_SETTER)

static const struct exitc_field_desc segment_fields[] = {
    SCALAR(WHV_X64_SEGMENT_REGISTER, Base) SCALAR(WHV_X64_SEGMENT_REGISTER, Limit)
    SCALAR(WHV_X64_SEGMENT_REGISTER, Selector) SCALAR(WHV_X64_SEGMENT_REGISTER, Attributes)
    SEGMENT_BITS(BITS) END
};

static const struct exitc_field_desc execution_state_fields[] = {
    EXECUTION_STATE_BITS(BITS) SCALAR(WHV_X64_VP_EXECUTION_STATE, AsUINT16) END
};

static const struct exitc_field_desc vp_context_fields[] = {
    NESTED(WHV_VP_EXIT_CONTEXT, ExecutionState, execution_state_fields) VP_CONTEXT_BITS(BITS)
    SCALAR(WHV_VP_EXIT_CONTEXT, Reserved) SCALAR(WHV_VP_EXIT_CONTEXT, Reserved2)
    NESTED(WHV_VP_EXIT_CONTEXT, Cs, segment_fields) SCALAR(WHV_VP_EXIT_CONTEXT, Rip)
    SCALAR(WHV_VP_EXIT_CONTEXT, Rflags) END
};

static const struct exitc_field_desc memory_access_info_fields[] = {
    { .name = "AccessType", .set_bits = set_WHV_MEMORY_ACCESS_INFO_AccessType,
      .value_names = memory_access_types, .value_kind = "memory access type" },
    MEMORY_ACCESS_INFO_BITS(BITS) SCALAR(WHV_MEMORY_ACCESS_INFO, AsUINT32) END
};

static const struct exitc_field_desc memory_access_fields[] = {
    SCALAR(WHV_MEMORY_ACCESS_CONTEXT, InstructionByteCount) ARRAY(WHV_MEMORY_ACCESS_CONTEXT, Reserved, NULL)
    INSTRUCTION_BYTES(WHV_MEMORY_ACCESS_CONTEXT)
    NESTED(WHV_MEMORY_ACCESS_CONTEXT, AccessInfo, memory_access_info_fields)
    SCALAR(WHV_MEMORY_ACCESS_CONTEXT, Gpa) SCALAR(WHV_MEMORY_ACCESS_CONTEXT, Gva) END
};

static const struct exitc_field_desc io_port_access_info_fields[] = {
    IO_PORT_ACCESS_INFO_BITS(BITS) SCALAR(WHV_X64_IO_PORT_ACCESS_INFO, AsUINT32) END
};

static const struct exitc_field_desc io_port_access_fields[] = {
    SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, InstructionByteCount)
    ARRAY(WHV_X64_IO_PORT_ACCESS_CONTEXT, Reserved, NULL) INSTRUCTION_BYTES(WHV_X64_IO_PORT_ACCESS_CONTEXT)
    NESTED(WHV_X64_IO_PORT_ACCESS_CONTEXT, AccessInfo, io_port_access_info_fields)
    SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, PortNumber) ARRAY(WHV_X64_IO_PORT_ACCESS_CONTEXT, Reserved2, NULL)
    SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rax) SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rcx)
    SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rsi) SCALAR(WHV_X64_IO_PORT_ACCESS_CONTEXT, Rdi)
    NESTED(WHV_X64_IO_PORT_ACCESS_CONTEXT, Ds, segment_fields)
    NESTED(WHV_X64_IO_PORT_ACCESS_CONTEXT, Es, segment_fields) END
};

static const struct exitc_field_desc msr_access_info_fields[] = {
    MSR_ACCESS_INFO_BITS(BITS) SCALAR(WHV_X64_MSR_ACCESS_INFO, AsUINT32) END
};

static const struct exitc_field_desc msr_access_fields[] = {
    NESTED(WHV_X64_MSR_ACCESS_CONTEXT, AccessInfo, msr_access_info_fields)
    SCALAR(WHV_X64_MSR_ACCESS_CONTEXT, MsrNumber) SCALAR(WHV_X64_MSR_ACCESS_CONTEXT, Rax)
    SCALAR(WHV_X64_MSR_ACCESS_CONTEXT, Rdx) END
};

static const struct exitc_field_desc cpuid_access_fields[] = {
    SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, Rax) SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, Rcx)
    SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, Rdx) SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, Rbx)
    SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRax) SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRcx)
    SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRdx) SCALAR(WHV_X64_CPUID_ACCESS_CONTEXT, DefaultResultRbx)
    END
};

static const struct exitc_field_desc exception_info_fields[] = {
    EXCEPTION_INFO_BITS(BITS) SCALAR(WHV_VP_EXCEPTION_INFO, AsUINT32) END
};

static const struct exitc_field_desc vp_exception_fields[] = {
    SCALAR(WHV_VP_EXCEPTION_CONTEXT, InstructionByteCount) ARRAY(WHV_VP_EXCEPTION_CONTEXT, Reserved, NULL)
    INSTRUCTION_BYTES(WHV_VP_EXCEPTION_CONTEXT)
    NESTED(WHV_VP_EXCEPTION_CONTEXT, ExceptionInfo, exception_info_fields)
    NAMED(WHV_VP_EXCEPTION_CONTEXT, ExceptionType, exception_types, "exception type")
    ARRAY(WHV_VP_EXCEPTION_CONTEXT, Reserved2, NULL) SCALAR(WHV_VP_EXCEPTION_CONTEXT, ErrorCode)
    SCALAR(WHV_VP_EXCEPTION_CONTEXT, ExceptionParameter) END
};

static const struct exitc_field_desc interrupt_window_fields[] = {
    NAMED(WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT, DeliverableType, pending_interruption_types,
          "pending interruption type")
    END
};

static const struct exitc_field_desc unsupported_feature_fields[] = {
    NAMED(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, FeatureCode, unsupported_feature_codes, "unsupported feature code")
    SCALAR(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, Reserved)
    SCALAR(WHV_X64_UNSUPPORTED_FEATURE_CONTEXT, FeatureParameter) END
};

static const struct exitc_field_desc cancel_reason_fields[] = {
    NAMED(WHV_RUN_VP_CANCELED_CONTEXT, CancelReason, cancel_reasons, "cancel reason") END
};

static const struct exitc_field_desc apic_eoi_fields[] = { SCALAR(WHV_X64_APIC_EOI_CONTEXT, InterruptVector) END };

static const struct exitc_field_desc rdtsc_info_fields[] = {
    RDTSC_INFO_BITS(BITS) SCALAR(WHV_X64_RDTSC_INFO, AsUINT64) END
};

static const struct exitc_field_desc read_tsc_fields[] = {
    SCALAR(WHV_X64_RDTSC_CONTEXT, TscAux) SCALAR(WHV_X64_RDTSC_CONTEXT, VirtualOffset)
    SCALAR(WHV_X64_RDTSC_CONTEXT, Tsc) SCALAR(WHV_X64_RDTSC_CONTEXT, ReferenceTime)
    NESTED(WHV_X64_RDTSC_CONTEXT, RdtscInfo, rdtsc_info_fields) END
};

static const struct exitc_field_desc apic_smi_fields[] = { SCALAR(WHV_X64_APIC_SMI_CONTEXT, ApicIcr) END };

static const struct exitc_field_desc uint128_fields[] = {
    SCALAR(WHV_UINT128, Low64) SCALAR(WHV_UINT128, High64) ARRAY(WHV_UINT128, Dword, NULL) END
};

static const struct exitc_field_desc hypercall_fields[] = {
    SCALAR(WHV_HYPERCALL_CONTEXT, Rax) SCALAR(WHV_HYPERCALL_CONTEXT, Rbx) SCALAR(WHV_HYPERCALL_CONTEXT, Rcx)
    SCALAR(WHV_HYPERCALL_CONTEXT, Rdx) SCALAR(WHV_HYPERCALL_CONTEXT, R8) SCALAR(WHV_HYPERCALL_CONTEXT, Rsi)
    SCALAR(WHV_HYPERCALL_CONTEXT, Rdi) SCALAR(WHV_HYPERCALL_CONTEXT, Reserved0)
    ARRAY(WHV_HYPERCALL_CONTEXT, XmmRegisters, uint128_fields) ARRAY(WHV_HYPERCALL_CONTEXT, Reserved1, NULL) END
};

static const struct exitc_field_desc apic_init_sipi_fields[] = {
    SCALAR(WHV_X64_APIC_INIT_SIPI_CONTEXT, ApicIcr) END
};

static const struct exitc_field_desc apic_write_fields[] = {
    NAMED(WHV_X64_APIC_WRITE_CONTEXT, Type, apic_write_types, "APIC write type")
    SCALAR(WHV_X64_APIC_WRITE_CONTEXT, Reserved) SCALAR(WHV_X64_APIC_WRITE_CONTEXT, WriteValue) END
};

static const struct exitc_field_desc synic_sint_deliverable_fields[] = {
    SCALAR(WHV_SYNIC_SINT_DELIVERABLE_CONTEXT, DeliverableSints)
    SCALAR(WHV_SYNIC_SINT_DELIVERABLE_CONTEXT, Reserved1) SCALAR(WHV_SYNIC_SINT_DELIVERABLE_CONTEXT, Reserved2) END
};

static const struct exitc_field_desc exit_context_fields[] = {
    NAMED(WHV_RUN_VP_EXIT_CONTEXT, ExitReason, exit_reasons, "exit reason")
    SCALAR(WHV_RUN_VP_EXIT_CONTEXT, Reserved)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, VpContext, vp_context_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, MemoryAccess, memory_access_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, IoPortAccess, io_port_access_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, MsrAccess, msr_access_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, CpuidAccess, cpuid_access_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, VpException, vp_exception_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, InterruptWindow, interrupt_window_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, UnsupportedFeature, unsupported_feature_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, CancelReason, cancel_reason_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, ApicEoi, apic_eoi_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, ReadTsc, read_tsc_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, ApicSmi, apic_smi_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, Hypercall, hypercall_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, ApicInitSipi, apic_init_sipi_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, ApicWrite, apic_write_fields)
    NESTED(WHV_RUN_VP_EXIT_CONTEXT, SynicSintDeliverable, synic_sint_deliverable_fields)
    ARRAY(WHV_RUN_VP_EXIT_CONTEXT, AsUINT64, NULL) END
};

static const struct exitc_field_desc extended_vm_exits_bits[] = { EXTENDED_VM_EXITS_BITS(BITS) END };
static const struct exitc_field_desc msr_exit_bitmap_bits[] = { MSR_EXIT_BITMAP_BITS(BITS) END };

/* ---- bitfield positions */

struct bit_range {
    uint32_t first, count;   /* in bits, from the start of the enclosing object */
};

/* Large enough and aligned enough for every enclosing type above. */
typedef union {
    WHV_RUN_VP_EXIT_CONTEXT context;
    uint8_t bytes[sizeof(WHV_RUN_VP_EXIT_CONTEXT)];
} scratch_object;

static struct bit_range bits_of(const struct exitc_field_desc *f)
{
    scratch_object scratch;
    memset(&scratch, 0, sizeof scratch);
    f->set_bits(&scratch, ~0ull);
    struct bit_range r = { 0, 0 };
    for (uint32_t bit = 0; bit < 8 * sizeof scratch.bytes; bit++)
        if (scratch.bytes[bit / 8] >> (bit % 8) & 1) {
            if (r.count == 0)
                r.first = bit;
            r.count = bit + 1 - r.first;
        }
    return r;
}

/* The smallest naturally aligned 1/2/4/8-byte integer holding the bitfield. A bitfield lies inside one
 * aligned storage unit of its declared type (at most 8 bytes), so the search always ends by 8. */
static void bits_expect(const struct exitc_field_desc *f, uint32_t base, struct pack_expect *e)
{
    struct bit_range r = bits_of(f);
    uint32_t first = base * 8 + r.first, last = first + r.count - 1, size = 1;
    while (size < 8 && first / (8 * size) != last / (8 * size))
        size *= 2;
    e->offset = first / (8 * size) * size;
    e->size = (uint16_t)size;
    e->bit_offset = (uint8_t)(first - e->offset * 8);
    e->bit_width = (uint8_t)r.count;
}

/* ---- field paths: Name(.Name)* where an array member takes [INDEX] */

struct path_step {
    char name[64];
    int indexed;
    unsigned long index;
};

/* Reads one step at *at; 0 when the text there is not NAME or NAME[DIGITS]. */
static int step_parse(const char **at, struct path_step *s)
{
    size_t n = strspn(*at, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || n >= sizeof s->name)
        return 0;
    memcpy(s->name, *at, n);
    s->name[n] = 0;
    *at += n;
    s->indexed = **at == '[';
    if (!s->indexed)
        return 1;
    char *end;
    s->index = strtoul(*at + 1, &end, 10);
    if (end == *at + 1 || *end != ']')
        return 0;
    *at = end + 1;
    return 1;
}

static const struct exitc_field_desc *member_find(const struct exitc_field_desc *members, const char *name)
{
    for (; members && members->name; members++)
        if (strcmp(members->name, name) == 0)
            return members;
    return NULL;
}

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return 0;
}

/* The end of the path at a whole field or array element: an integer the runner can read. */
static int scalar_end(const char *path, const struct exitc_field_desc *f, uint32_t offset, struct exitc_field *out,
                      char *why, size_t why_size)
{
    if (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8)
        return fail(why, why_size, "field `%s` is a %u-byte structure: name one of its fields", path, f->size);
    out->expect.offset = offset;
    out->expect.size = (uint16_t)f->size;
    out->value_names = f->value_names;
    out->value_kind = f->value_kind;
    return 1;
}

/* An array named without an index: only InstructionBytes means something whole (a hex prefix). */
static int array_end(const char *path, const struct exitc_field_desc *f, uint32_t offset, struct exitc_field *out,
                     char *why, size_t why_size)
{
    if (!f->instruction_bytes)
        return fail(why, why_size, "field `%s` is an array: name one element, [0] to [%u]", path, f->count - 1);
    out->expect.offset = offset;
    out->expect.size = 1;
    out->instruction_bytes = 1;
    out->byte_capacity = f->count;
    return 1;
}

int exitc_field_resolve(const char *path, struct exitc_field *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    const struct exitc_field_desc *members = exit_context_fields;
    uint32_t base = 0;
    const char *at = path;
    for (;;) {
        struct path_step s;
        if (!step_parse(&at, &s) || (*at != 0 && *at != '.'))
            return fail(why, why_size, "bad field path `%s`", path);
        const struct exitc_field_desc *f = member_find(members, s.name);
        if (!f)
            return fail(why, why_size, "unknown field `%s`", path);
        int last = *at == 0;
        if (f->set_bits) {
            if (!last || s.indexed)
                return fail(why, why_size, "bad field path `%s`: a bitfield has no parts", path);
            bits_expect(f, base, &out->expect);
            out->value_names = f->value_names;
            out->value_kind = f->value_kind;
            return 1;
        }
        uint32_t offset = base + f->offset;
        if (s.indexed && f->count == 0)
            return fail(why, why_size, "field `%s`: `%s` is not an array", path, s.name);
        if (s.indexed && s.index >= f->count)
            return fail(why, why_size, "field `%s`: index out of range 0..%u", path, f->count - 1);
        if (s.indexed)
            offset += (uint32_t)s.index * f->size;
        if (last)
            return f->count && !s.indexed ? array_end(path, f, offset, out, why, why_size)
                                          : scalar_end(path, f, offset, out, why, why_size);
        if (f->count && !s.indexed)
            return fail(why, why_size, "field `%s`: index the array before naming a member", path);
        if (!f->members)
            return fail(why, why_size, "unknown field `%s`", path);
        members = f->members;
        base = offset;
        at++;
    }
}

/* ---- properties: WHV_PARTITION_PROPERTY_CODE without its prefix, sizes from WHV_PARTITION_PROPERTY */

static const struct exitc_name_value *bit_names_of(const struct exitc_field_desc *bits, struct exitc_name_value *out)
{
    struct exitc_name_value *at = out;
    for (; bits->name; bits++) {
        struct bit_range r = bits_of(bits);
        *at++ = (struct exitc_name_value){ bits->name, 1ull << r.first };
    }
    *at = (struct exitc_name_value){ NULL, 0 };
    return out;
}

#define PROPERTY_MEMBER(name, member, form)                                                          \
    { #name, WHvPartitionPropertyCode##name, MEMBER_SIZE(WHV_PARTITION_PROPERTY, member), form, 0, NULL }
#define PROPERTY(name, form) PROPERTY_MEMBER(name, name, form)
/* A variable-length list: `size` is one element's. */
#define PROPERTY_LIST(name, form) \
    { #name, WHvPartitionPropertyCode##name, MEMBER_SIZE(WHV_PARTITION_PROPERTY, name[0]), form, 1, NULL }

static struct exitc_property properties[] = {
    PROPERTY(ExtendedVmExits, EXITC_PROPERTY_BIT_NAMES),
    PROPERTY(ExceptionExitBitmap, EXITC_PROPERTY_NUMBER),
    PROPERTY(SeparateSecurityDomain, EXITC_PROPERTY_NUMBER),
    PROPERTY(NestedVirtualization, EXITC_PROPERTY_NUMBER),
    PROPERTY(X64MsrExitBitmap, EXITC_PROPERTY_BIT_NAMES),
    PROPERTY(PrimaryNumaNode, EXITC_PROPERTY_NUMBER),
    PROPERTY(CpuReserve, EXITC_PROPERTY_NUMBER),
    PROPERTY(CpuCap, EXITC_PROPERTY_NUMBER),
    PROPERTY(CpuWeight, EXITC_PROPERTY_NUMBER),
    PROPERTY(CpuGroupId, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorFrequencyCap, EXITC_PROPERTY_NUMBER),
    PROPERTY(AllowDeviceAssignment, EXITC_PROPERTY_NUMBER),
    PROPERTY(DisableSmt, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorFeatures, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorClFlushSize, EXITC_PROPERTY_NUMBER),
    PROPERTY_LIST(CpuidExitList, EXITC_PROPERTY_LEAF_LIST),
    PROPERTY_LIST(CpuidResultList, EXITC_PROPERTY_RAW_BYTES),
    PROPERTY(LocalApicEmulationMode, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorXsaveFeatures, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorClockFrequency, EXITC_PROPERTY_NUMBER),
    PROPERTY(InterruptClockFrequency, EXITC_PROPERTY_NUMBER),
    PROPERTY_MEMBER(ApicRemoteReadSupport, ApicRemoteRead, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorFeaturesBanks, EXITC_PROPERTY_RAW_BYTES),
    PROPERTY(ReferenceTime, EXITC_PROPERTY_NUMBER),
    PROPERTY(SyntheticProcessorFeaturesBanks, EXITC_PROPERTY_RAW_BYTES),
    PROPERTY_LIST(CpuidResultList2, EXITC_PROPERTY_RAW_BYTES),
    PROPERTY(ProcessorPerfmonFeatures, EXITC_PROPERTY_NUMBER),
    PROPERTY_LIST(MsrActionList, EXITC_PROPERTY_RAW_BYTES),
    PROPERTY(UnimplementedMsrAction, EXITC_PROPERTY_NUMBER),
    PROPERTY(PhysicalAddressWidth, EXITC_PROPERTY_NUMBER),
    PROPERTY(ProcessorCount, EXITC_PROPERTY_NUMBER),
};

/* Bit names come from the bitfields at first use (setting each one in a zeroed union). */
static void properties_init(void)
{
    static struct exitc_name_value extended_vm_exits[ELEMENTS(extended_vm_exits_bits)];
    static struct exitc_name_value msr_exit_bitmap[ELEMENTS(msr_exit_bitmap_bits)];
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < ELEMENTS(properties); i++) {
        if (properties[i].code == WHvPartitionPropertyCodeExtendedVmExits)
            properties[i].bit_names = bit_names_of(extended_vm_exits_bits, extended_vm_exits);
        if (properties[i].code == WHvPartitionPropertyCodeX64MsrExitBitmap)
            properties[i].bit_names = bit_names_of(msr_exit_bitmap_bits, msr_exit_bitmap);
    }
}

const struct exitc_property *exitc_property_lookup(const char *name)
{
    properties_init();
    for (size_t i = 0; i < ELEMENTS(properties); i++)
        if (strcmp(properties[i].name, name) == 0)
            return &properties[i];
    return NULL;
}
