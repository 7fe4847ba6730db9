; VM-exit entry and VM (re)entry. The host GS base is this CPU's struct cpu; gs:CPU_CURRENT_REGS points
; at the registers of whatever guest runs here. Offsets come from vmx/regs_layout.h (checked in C).
bits 64
default rel
%include "regs_layout.inc"

section .text
extern vmx_exit_handler
extern vmx_resume_failed

%macro LOAD_GUEST_GPRS 0
    mov rax, [gs:CPU_CURRENT_REGS]
    mov rcx, [rax + REGS_RCX]
    mov rdx, [rax + REGS_RDX]
    mov rbx, [rax + REGS_RBX]
    mov rbp, [rax + REGS_RBP]
    mov rsi, [rax + REGS_RSI]
    mov rdi, [rax + REGS_RDI]
    mov r8,  [rax + REGS_R8]
    mov r9,  [rax + REGS_R9]
    mov r10, [rax + REGS_R10]
    mov r11, [rax + REGS_R11]
    mov r12, [rax + REGS_R12]
    mov r13, [rax + REGS_R13]
    mov r14, [rax + REGS_R14]
    mov r15, [rax + REGS_R15]
    mov rax, [rax + REGS_RAX]
%endmacro

; Host RIP of every VMCS. RSP = the CPU's host stack top (16-byte aligned), interrupts off.
global vmx_exit_entry
vmx_exit_entry:
    push rax
    mov rax, [gs:CPU_CURRENT_REGS]
    mov [rax + REGS_RCX], rcx
    mov [rax + REGS_RDX], rdx
    mov [rax + REGS_RBX], rbx
    mov [rax + REGS_RBP], rbp
    mov [rax + REGS_RSI], rsi
    mov [rax + REGS_RDI], rdi
    mov [rax + REGS_R8], r8
    mov [rax + REGS_R9], r9
    mov [rax + REGS_R10], r10
    mov [rax + REGS_R11], r11
    mov [rax + REGS_R12], r12
    mov [rax + REGS_R13], r13
    mov [rax + REGS_R14], r14
    mov [rax + REGS_R15], r15
    pop rcx
    mov [rax + REGS_RAX], rcx
    mov rdi, [gs:CPU_SELF]
    call vmx_exit_handler
.after_handler:
    ; The handler may have switched the current VMCS (a Run hypercall donating this CPU to a child, or
    ; the child's run ending): a VMCS that was cleared must be VMLAUNCHed, not resumed.
    cmp dword [gs:CPU_LAUNCH_PENDING], 0
    jne .launch
    LOAD_GUEST_GPRS
    vmresume
    jmp .failed
.launch:
    mov dword [gs:CPU_LAUNCH_PENDING], 0
    LOAD_GUEST_GPRS
    vmlaunch
.failed:
    ; Only reached when VM entry failed: report with the flags that say how.
    pushfq
    pop rsi
    mov rdi, [gs:CPU_SELF]
    call vmx_resume_failed          ; does not return

; Resumes whatever VMCS is current, from a C path that cannot return to the stub (a failed child entry
; reported to the root): a fresh host stack, then the stub's own resume path.
global vmx_exit_resume
vmx_exit_resume:
    mov rsp, [gs:CPU_HOST_STACK_TOP]
    jmp vmx_exit_entry.after_handler

; int vmx_launch(void): VMLAUNCH the current VMCS with the current guest registers. Returns only on
; VMfail: 1 = VMfailInvalid, 2 = VMfailValid. Callee-saved registers are not needed afterwards: on
; success this stack frame is abandoned.
global vmx_launch
vmx_launch:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    LOAD_GUEST_GPRS
    vmlaunch
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    mov eax, 1
    jc .out
    mov eax, 2
.out:
    ret
section .note.GNU-stack noalloc noexec nowrite progbits
