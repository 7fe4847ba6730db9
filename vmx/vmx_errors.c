/* Names for logs and VMCS dumps: a failed VM entry or an unexpected exit must say what happened. */
#include "vmx/vmx_errors.h"

static const char *const instruction_errors[] = {
    [VMERR_VMCALL_IN_ROOT] = "VMCALL executed in VMX root operation",
    [VMERR_VMCLEAR_INVALID_ADDR] = "VMCLEAR with invalid physical address",
    [VMERR_VMCLEAR_VMXON_PTR] = "VMCLEAR with VMXON pointer",
    [VMERR_VMLAUNCH_NONCLEAR_VMCS] = "VMLAUNCH with non-clear VMCS",
    [VMERR_VMRESUME_NONLAUNCHED_VMCS] = "VMRESUME with non-launched VMCS",
    [VMERR_VMRESUME_AFTER_VMXOFF] = "VMRESUME after VMXOFF",
    [VMERR_ENTRY_INVALID_CONTROL] = "VM entry with invalid control field(s)",
    [VMERR_ENTRY_INVALID_HOST_STATE] = "VM entry with invalid host-state field(s)",
    [VMERR_VMPTRLD_INVALID_ADDR] = "VMPTRLD with invalid physical address",
    [VMERR_VMPTRLD_VMXON_PTR] = "VMPTRLD with VMXON pointer",
    [VMERR_VMPTRLD_BAD_REVISION] = "VMPTRLD with incorrect VMCS revision identifier",
    [VMERR_UNSUPPORTED_FIELD] = "VMREAD/VMWRITE from/to unsupported VMCS component",
    [VMERR_WRITE_READONLY_FIELD] = "VMWRITE to read-only VMCS component",
    [VMERR_VMXON_IN_ROOT] = "VMXON executed in VMX root operation",
    [VMERR_ENTRY_INVALID_EXECUTIVE_VMCS] = "VM entry with invalid executive-VMCS pointer",
    [VMERR_ENTRY_NONLAUNCHED_EXECUTIVE_VMCS] = "VM entry with non-launched executive VMCS",
    [VMERR_ENTRY_EXECUTIVE_NOT_VMXON] = "VM entry with executive-VMCS pointer not VMXON pointer",
    [VMERR_VMCALL_NONCLEAR_VMCS] = "VMCALL with non-clear VMCS",
    [VMERR_VMCALL_INVALID_EXIT_CONTROL] = "VMCALL with invalid VM-exit control fields",
    [VMERR_VMCALL_BAD_MSEG_REVISION] = "VMCALL with incorrect MSEG revision identifier",
    [VMERR_VMXOFF_DUAL_MONITOR] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
    [VMERR_VMCALL_BAD_SMM_FEATURES] = "VMCALL with invalid SMM-monitor features",
    [VMERR_ENTRY_INVALID_EXEC_CONTROL_EXECUTIVE] =
        "VM entry with invalid VM-execution control fields in executive VMCS",
    [VMERR_ENTRY_MOV_SS_BLOCKING] = "VM entry with events blocked by MOV SS",
    [VMERR_INVALID_INVEPT_INVVPID_OPERAND] = "invalid operand to INVEPT/INVVPID",
};

static const char *const exit_reasons[VMX_EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_NMI] = "exception or NMI", [EXIT_EXTERNAL_INTERRUPT] = "external interrupt",
    [EXIT_TRIPLE_FAULT] = "triple fault", [EXIT_INIT] = "INIT signal", [EXIT_SIPI] = "SIPI",
    [EXIT_IO_SMI] = "I/O SMI", [EXIT_OTHER_SMI] = "other SMI",
    [EXIT_INTERRUPT_WINDOW] = "interrupt window", [EXIT_NMI_WINDOW] = "NMI window",
    [EXIT_TASK_SWITCH] = "task switch", [EXIT_CPUID] = "CPUID", [EXIT_GETSEC] = "GETSEC",
    [EXIT_HLT] = "HLT", [EXIT_INVD] = "INVD", [EXIT_INVLPG] = "INVLPG", [EXIT_RDPMC] = "RDPMC",
    [EXIT_RDTSC] = "RDTSC", [EXIT_RSM] = "RSM", [EXIT_VMCALL] = "VMCALL", [EXIT_VMCLEAR] = "VMCLEAR",
    [EXIT_VMLAUNCH] = "VMLAUNCH", [EXIT_VMPTRLD] = "VMPTRLD", [EXIT_VMPTRST] = "VMPTRST",
    [EXIT_VMREAD] = "VMREAD", [EXIT_VMRESUME] = "VMRESUME", [EXIT_VMWRITE] = "VMWRITE",
    [EXIT_VMXOFF] = "VMXOFF", [EXIT_VMXON] = "VMXON", [EXIT_CR_ACCESS] = "control-register access",
    [EXIT_DR_ACCESS] = "MOV DR", [EXIT_IO] = "I/O instruction", [EXIT_RDMSR] = "RDMSR",
    [EXIT_WRMSR] = "WRMSR", [EXIT_ENTRY_FAIL_GUEST_STATE] = "VM-entry failure: invalid guest state",
    [EXIT_ENTRY_FAIL_MSR_LOAD] = "VM-entry failure: MSR loading", [EXIT_MWAIT] = "MWAIT",
    [EXIT_MONITOR_TRAP_FLAG] = "monitor trap flag", [EXIT_MONITOR] = "MONITOR",
    [EXIT_PAUSE] = "PAUSE", [EXIT_ENTRY_FAIL_MACHINE_CHECK] = "VM-entry failure: machine check",
    [EXIT_TPR_BELOW_THRESHOLD] = "TPR below threshold", [EXIT_APIC_ACCESS] = "APIC access",
    [EXIT_VIRTUALIZED_EOI] = "virtualized EOI", [EXIT_GDTR_IDTR] = "GDTR/IDTR access",
    [EXIT_LDTR_TR] = "LDTR/TR access", [EXIT_EPT_VIOLATION] = "EPT violation",
    [EXIT_EPT_MISCONFIG] = "EPT misconfiguration", [EXIT_INVEPT] = "INVEPT",
    [EXIT_RDTSCP] = "RDTSCP", [EXIT_PREEMPTION_TIMER] = "VMX-preemption timer expired",
    [EXIT_INVVPID] = "INVVPID", [EXIT_WBINVD] = "WBINVD", [EXIT_XSETBV] = "XSETBV",
    [EXIT_APIC_WRITE] = "APIC write", [EXIT_RDRAND] = "RDRAND", [EXIT_INVPCID] = "INVPCID",
    [EXIT_VMFUNC] = "VMFUNC", [EXIT_ENCLS] = "ENCLS", [EXIT_RDSEED] = "RDSEED",
    [EXIT_PML_FULL] = "page-modification log full", [EXIT_XSAVES] = "XSAVES",
    [EXIT_XRSTORS] = "XRSTORS",
};

const char *vm_instruction_error_name(uint32_t err)
{
    if (err < sizeof instruction_errors / sizeof instruction_errors[0] && instruction_errors[err])
        return instruction_errors[err];
    return "unknown";
}

const char *vmx_exit_reason_name(uint32_t basic_reason)
{
    if (basic_reason < VMX_EXIT_REASON_COUNT && exit_reasons[basic_reason])
        return exit_reasons[basic_reason];
    return "unknown";
}
