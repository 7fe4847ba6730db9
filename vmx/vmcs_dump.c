/* The VMCS dump printed on any unexpected exit or failed entry: every field that explains one. */
#include "arch/x86/cpu.h"
#include "arch/x86/log.h"
#include "arch/x86/serial.h"
#include "vmx/exits.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_errors.h"

#define F(name) { #name, VMCS_##name }
static const struct { const char *name; uint32_t field; } dump_fields[] = {
    F(VM_INSTR_ERROR), F(EXIT_REASON), F(EXIT_QUALIFICATION), F(EXIT_INTR_INFO), F(EXIT_INTR_ERROR),
    F(IDT_VECTORING_INFO), F(IDT_VECTORING_ERROR), F(EXIT_INSTR_LEN), F(EXIT_INSTR_INFO),
    F(GUEST_PHYSICAL_ADDR), F(GUEST_LINEAR_ADDR),
    F(PIN_CONTROLS), F(PROC_CONTROLS), F(PROC_CONTROLS2), F(EXIT_CONTROLS), F(ENTRY_CONTROLS),
    F(ENTRY_INTR_INFO), F(EXCEPTION_BITMAP), F(EPT_POINTER),
    F(GUEST_RIP), F(GUEST_RSP), F(GUEST_RFLAGS), F(GUEST_CR0), F(GUEST_CR3), F(GUEST_CR4),
    F(CR0_READ_SHADOW), F(CR4_READ_SHADOW), F(GUEST_EFER), F(GUEST_PAT), F(GUEST_DR7),
    F(GUEST_INTERRUPTIBILITY), F(GUEST_ACTIVITY_STATE), F(GUEST_PENDING_DBG),
    F(GUEST_CS_SEL), F(GUEST_CS_BASE), F(GUEST_CS_LIMIT), F(GUEST_CS_AR),
    F(GUEST_SS_SEL), F(GUEST_SS_BASE), F(GUEST_SS_LIMIT), F(GUEST_SS_AR),
    F(GUEST_DS_SEL), F(GUEST_DS_AR), F(GUEST_ES_SEL), F(GUEST_ES_AR),
    F(GUEST_FS_SEL), F(GUEST_FS_BASE), F(GUEST_FS_AR), F(GUEST_GS_SEL), F(GUEST_GS_BASE), F(GUEST_GS_AR),
    F(GUEST_LDTR_SEL), F(GUEST_LDTR_AR), F(GUEST_TR_SEL), F(GUEST_TR_BASE), F(GUEST_TR_LIMIT),
    F(GUEST_TR_AR), F(GUEST_GDTR_BASE), F(GUEST_GDTR_LIMIT), F(GUEST_IDTR_BASE), F(GUEST_IDTR_LIMIT),
    F(HOST_RIP), F(HOST_RSP), F(HOST_CR0), F(HOST_CR3), F(HOST_CR4), F(HOST_GS_BASE),
    F(HOST_TR_BASE), F(HOST_GDTR_BASE), F(HOST_IDTR_BASE), F(HOST_EFER),
};
#undef F

/* VMREAD that reports failure instead of stopping: a dump must go on past an unsupported field. */
static int vmcs_try_read(uint32_t field, uint64_t *v)
{
    uint8_t failed;
    __asm__ volatile("vmread %2, %0; setna %1" : "=rm"(*v), "=qm"(failed) : "r"((uint64_t)field) : "cc");
    return !failed;
}

void vmcs_dump(void)
{
    uint64_t reason = 0, err = 0;
    if (vmcs_try_read(VMCS_EXIT_REASON, &reason))
        log_error("VMCS dump: exit reason %llu (%s)%s", (unsigned long long)(reason & 0xFFFF),
                  vmx_exit_reason_name(reason & 0xFFFF), (reason >> 31) ? ", VM-entry failure" : "");
    if (vmcs_try_read(VMCS_VM_INSTR_ERROR, &err) && err)
        log_error("VMCS dump: VM-instruction error %llu (%s)", (unsigned long long)err,
                  vm_instruction_error_name((uint32_t)err));
    for (unsigned i = 0; i < sizeof dump_fields / sizeof dump_fields[0]; i++) {
        uint64_t v;
        if (vmcs_try_read(dump_fields[i].field, &v))
            log_error("  %-24s %llx", dump_fields[i].name, (unsigned long long)v);
        else
            log_error("  %-24s (unreadable)", dump_fields[i].name);
    }
}

void vmcs_access_fault(uint32_t field, int width_expected, int failed_instruction)
{
    static const char *const what[] = { "width mismatch", "VMREAD failed", "VMWRITE failed" };
    uint64_t err = 0;
    vmcs_try_read(VMCS_VM_INSTR_ERROR, &err);
    log_error("HV PANIC: VMCS access fault on field %x (width %d): %s, VM-instruction error %llu (%s)",
              field, width_expected, what[failed_instruction], (unsigned long long)err,
              vm_instruction_error_name((uint32_t)err));
    serial_drain();
    cpu_halt_forever();
}
