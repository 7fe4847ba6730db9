/* Pure decoders from a child partition's VM exit (exit qualification, VMCS fields, guest GPRs) to
 * Microsoft's WHV exit structures (api/whv_platform.h). Policy lives elsewhere: these functions only
 * translate formats (Intel SDM vol. 3 chapter 28; docs/whv-abi-facts.md) and decide nothing about
 * whether an exit reaches the VMM.
 *
 * VMCS fields are read only through struct vmcs_view, so the core passes a VMREAD-backed view and the
 * host tests a table. Each decoder reads only the fields its output needs (listed per function); a
 * field whose content the SDM leaves undefined for the exit at hand is never read.
 *
 * Every output is written whole: each decoder clears its struct before filling it, so every reserved
 * field and bit is zero. InstructionByteCount/InstructionBytes (MemoryAccess, IoPortAccess, Exception)
 * are left 0 here; the instruction-fetch module fills them from CS.base + RIP.
 *
 * Instruction lengths (VpContext.InstructionLength). VMCS_EXIT_INSTR_LEN is defined (SDM 28.2.5) for
 * the exits that WHV reports with a length:
 *   - CPUID (10), HLT (12), RDTSC (16), VMCALL (18), I/O (30), RDMSR (31), WRMSR (32), RDTSCP (51);
 *   - exception exits (0) for software exceptions (INT3, INTO: type 6) and privileged software
 *     exceptions (INT1: type 5);
 *   - task switches (9) started by CALL, IRET or JMP, or through an IDT task gate by a software
 *     interrupt or (privileged) software exception.
 * It is undefined (reported 0) for hardware exceptions, NMIs, triple faults, interrupt/NMI windows,
 * VM-entry failures, external interrupts and preemption timer exits. The SDM also defines it for
 * faults (EPT violations, hardware exceptions) met while delivering a software interrupt or exception;
 * WHV reports those at the faulting RIP with length 0 (MemoryAccess allows 0), so it is not used.
 * exit_decode_instruction_length() applies these rules. */
#ifndef VMX_EXIT_DECODE_H
#define VMX_EXIT_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include "api/whv_platform.h"
#include "arch/x86/cpu.h"
#include "vmx/percpu.h"

/* Read access to the current VMCS: read(ctx, field) returns the field's value zero-extended to 64 bits
 * (field encodings: vmx/vmcs_fields.h). */
struct vmcs_view {
    uint64_t (*read)(void *ctx, uint32_t field);
    void *ctx;
};

/* IA32_VMX_BASIC bit 54 (SDM Appendix A.1): the VM-exit instruction-information field is filled on
 * exits due to INS and OUTS. Without it that field is undefined and exit_decode_io() must not use it. */
#define VMX_BASIC_INS_OUTS_INFO (1ull << 54)

/* exit_decode_reason() for VMX exits that never become a WHV exit by themselves (the hypervisor
 * handles them; a pending cancel may still end the run with Canceled). Not a WHV_RUN_VP_EXIT_REASON
 * value: never store it in an exit context. */
#define EXIT_DECODE_HYPERVISOR ((WHV_RUN_VP_EXIT_REASON)0xFFFFFFFFu)

/* The WHV exit a VMX exit reason (the whole VMCS_EXIT_REASON field) becomes, per the table
 * "VMX basic exit reason -> WHV exit" of docs/whv-abi-facts.md:
 *   VM-entry failure (bit 31 set, whatever the basic reason) -> InvalidVpRegisterValue;
 *   0 -> Exception; 2 -> UnrecoverableException; 7, 8 -> X64InterruptWindow;
 *   9 -> UnsupportedFeature; 10 -> X64Cpuid; 12 -> X64Halt; 16, 51 -> X64Rdtsc; 18 -> Hypercall;
 *   30 -> X64IoPortAccess; 31, 32 -> X64MsrAccess; 33, 34 -> InvalidVpRegisterValue;
 *   48 -> MemoryAccess; every other basic reason (1, 52, unknown, out of range) ->
 *   EXIT_DECODE_HYPERVISOR.
 * Several rows are conditional (exception bitmap, CpuidExitList, ExtendedVmExits, deliverability
 * notifications): this gives the WHV exit when the condition holds; checking it is the caller's job.
 * The basic reason is bits 15:0 of the exit-reason field (SDM 25.9.1); bits 30:16 are flags, ignored. */
WHV_RUN_VP_EXIT_REASON exit_decode_reason(uint32_t exit_reason);

/* VMCS_EXIT_INSTR_LEN when the exit with this basic reason defines it (list above), else 0.
 * Reads EXIT_INTR_INFO for reason 0, EXIT_QUALIFICATION (and IDT_VECTORING_INFO for an IDT task gate)
 * for reason 9, then EXIT_INSTR_LEN only where it is defined. */
uint32_t exit_decode_instruction_length(const struct vmcs_view *v, uint32_t basic_reason);

/* WHV_VP_EXIT_CONTEXT (docs/whv-abi-facts.md "WHV_VP_EXIT_CONTEXT"):
 *   Cpl = SS.DPL (GUEST_SS_AR bits 6:5; the DPL of SS is kept even when SS is unusable);
 *   Cr0Pe, Cr0Am from the guest-visible CR0 = (GUEST_CR0 & ~mask) | (CR0_READ_SHADOW & mask);
 *   EferLma = GUEST_EFER bit 10 (the core saves IA32_EFER on exit);
 *   DebugActive = any of DR7 bits 7:0 (L0-L3, G0-G3);
 *   InterruptionPending = IDT_VECTORING_INFO valid (bit 31): an event was being delivered;
 *   InterruptShadow = GUEST_INTERRUPTIBILITY blocking by STI or MOV SS (bits 0, 1);
 *   InstructionLength = instruction_length (0 where undefined; a value above 15, which no instruction
 *   has, is reported as 0); Cr8 = cr8 & 0xF (the caller passes the guest's TPR[7:4]; 0 while the
 *   child's CR8 is not virtualized);
 *   Cs from GUEST_CS_{BASE,LIMIT,SEL,AR} (Attributes via segment_whv_attributes); Rip, Rflags.
 * Reads GUEST_SS_AR, GUEST_CR0, CR0_GUEST_HOST_MASK, CR0_READ_SHADOW, GUEST_EFER, GUEST_DR7,
 * IDT_VECTORING_INFO, GUEST_INTERRUPTIBILITY, the four GUEST_CS_* fields, GUEST_RIP, GUEST_RFLAGS. */
void exit_decode_vp_context(const struct vmcs_view *v, uint32_t instruction_length, uint8_t cr8,
                            WHV_VP_EXIT_CONTEXT *out);

/* What exit_decode_vp_context read on the way that the instruction fetch needs too, so an exit that
 * reports both reads each field once: the guest-visible CR0, EFER, CS base and access rights, SS access
 * rights (CPL), RIP. */
struct vp_context_raw {
    uint64_t cr0, efer, cs_base, rip;
    uint32_t cs_ar, ss_ar;
};
void exit_decode_vp_context_raw(const struct vmcs_view *v, uint32_t instruction_length, uint8_t cr8,
                                WHV_VP_EXIT_CONTEXT *out, struct vp_context_raw *raw);

/* WHV_X64_IO_PORT_ACCESS_CONTEXT from the I/O exit qualification (SDM Table 28-5: bits 2:0 size - 1,
 * bit 3 IN, bit 4 string, bit 5 REP, bits 31:16 port): IsWrite = !IN, AccessSize 1/2/4, StringOp,
 * RepPrefix, PortNumber. Rax, Rcx, Rsi, Rdi are regs' values (before the instruction) for every I/O
 * exit. For string I/O only: Es = ES (INS's destination; never overridable) and Ds = the source
 * segment of OUTS, which is the segment named in the instruction-information field bits 17:15
 * (SDM Table 28-8: DS unless overridden) when ins_outs_info (IA32_VMX_BASIC & VMX_BASIC_INS_OUTS_INFO),
 * else DS; for INS, Ds = DS. Ds and Es stay 0 for IN/OUT. InstructionByteCount stays 0 (see above).
 * Returns the string instruction's address size in bytes (instruction information bits 9:7: 0 -> 2,
 * 1 -> 4, 2 -> 8), which WHV has no field for; 0 for IN/OUT, without ins_outs_info or for an
 * undefined encoding.
 * Reads EXIT_QUALIFICATION; for string I/O also EXIT_INSTR_INFO (only with ins_outs_info) and the
 * GUEST_{ES,<source>}_{BASE,LIMIT,SEL,AR} fields. */
uint32_t exit_decode_io(const struct vmcs_view *v, const struct vcpu_regs *regs, bool ins_outs_info,
                        WHV_X64_IO_PORT_ACCESS_CONTEXT *out);

/* WHV_MEMORY_ACCESS_CONTEXT from an EPT violation (SDM Table 28-7): AccessType = Execute if bit 2
 * (instruction fetch) is set, else Write if bit 1, else Read (never 3); GpaUnmapped = gpa_unmapped (the
 * caller knows the partition's GPA map); GvaValid = bit 7; Gpa = GUEST_PHYSICAL_ADDR; Gva =
 * GUEST_LINEAR_ADDR when bit 7 is set, else 0. InstructionByteCount stays 0 (see above).
 * Reads EXIT_QUALIFICATION, GUEST_PHYSICAL_ADDR and, only when bit 7 is set, GUEST_LINEAR_ADDR. */
void exit_decode_ept_violation(const struct vmcs_view *v, bool gpa_unmapped, WHV_MEMORY_ACCESS_CONTEXT *out);

/* WHV_X64_MSR_ACCESS_CONTEXT for RDMSR (is_write false) or WRMSR: MsrNumber = ECX, Rax and Rdx the
 * whole registers. */
void exit_decode_msr(const struct vcpu_regs *regs, bool is_write, WHV_X64_MSR_ACCESS_CONTEXT *out);

/* WHV_X64_CPUID_ACCESS_CONTEXT: Rax, Rcx, Rdx, Rbx the whole registers at the CPUID;
 * DefaultResult* = default_result, the answer the hypervisor would give (zero-extended). */
void exit_decode_cpuid(const struct vcpu_regs *regs, const struct cpuid_regs *default_result,
                       WHV_X64_CPUID_ACCESS_CONTEXT *out);

/* WHV_VP_EXCEPTION_CONTEXT from an exception exit (basic reason 0; SDM 28.2.2 interruption
 * information: vector 7:0, type 10:8, error code valid 11): ExceptionType = vector; ErrorCodeValid and
 * ErrorCode (EXIT_INTR_ERROR); SoftwareException = type 6 (INT3, INTO) or 5 (INT1);
 * ExceptionParameter = the exit qualification for #PF (the faulting linear address; guest CR2 not yet
 * written), for #DB its DR6-format bits (B3-B0 3:0, BD 13, BS 14, RTM 16, with the qualification's
 * polarity: set = the condition occurred), else 0. InstructionByteCount stays 0 (see above).
 * Reads EXIT_INTR_INFO; EXIT_INTR_ERROR only when the error code is valid; EXIT_QUALIFICATION only
 * for #PF and #DB. */
void exit_decode_exception(const struct vmcs_view *v, WHV_VP_EXCEPTION_CONTEXT *out);

/* WHV_X64_UNSUPPORTED_FEATURE_CONTEXT for a task switch (basic reason 9): FeatureCode = TaskSwitchTss
 * (2), FeatureParameter = the selector of the TSS the guest switches to (exit qualification bits 15:0,
 * SDM Table 28-2; the source of the switch, bits 31:30, is not reported).
 * Reads EXIT_QUALIFICATION. */
void exit_decode_task_switch(const struct vmcs_view *v, WHV_X64_UNSUPPORTED_FEATURE_CONTEXT *out);

/* WHV_X64_RDTSC_CONTEXT: Tsc = host_tsc (the processor's TSC at the exit), VirtualOffset =
 * tsc_offset (the child's TSC offset, so the guest reads host_tsc + tsc_offset), TscAux = tsc_aux
 * (the guest's IA32_TSC_AUX, which RDTSCP returns in ECX), IsRdtscp; ReferenceTime 0 (no reference
 * clock is kept). */
void exit_decode_rdtsc(bool is_rdtscp, uint64_t host_tsc, uint64_t tsc_offset, uint64_t tsc_aux,
                       WHV_X64_RDTSC_CONTEXT *out);

/* WHV_HYPERCALL_CONTEXT: Rax, Rbx, Rcx, Rdx, R8, Rsi, Rdi from regs; XmmRegisters = xmm[0..5], the
 * guest's XMM0-XMM5 as 16 little-endian bytes each (the caller saves them: the core does not use SSE). */
void exit_decode_hypercall(const struct vcpu_regs *regs,
                           const uint8_t xmm[WHV_HYPERCALL_CONTEXT_MAX_XMM_REGISTERS][16],
                           WHV_HYPERCALL_CONTEXT *out);

/* WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT: DeliverableType = Nmi for an NMI window (basic reason 8),
 * Interrupt for an interrupt window (7). */
void exit_decode_interrupt_window(bool is_nmi, WHV_X64_INTERRUPTION_DELIVERABLE_CONTEXT *out);

/* WHV_RUN_VP_CANCELED_CONTEXT: CancelReason = User (0), the only reason WHV defines. */
void exit_decode_canceled(WHV_RUN_VP_CANCELED_CONTEXT *out);

#endif
