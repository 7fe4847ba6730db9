; Host exception entry stubs and the instructions that may fault on the root's behalf (RDMSR, WRMSR,
; XSETBV with root-chosen operands). A fault in one of those resumes at its fixup label: the exception
; table below lists (faulting instruction, fixup) pairs that arch/x86/idt.c consults.
bits 64
default rel

section .text
extern host_exception

%macro ISR_NOERR 1
isr_%1:
    push 0                      ; uniform frame: a dummy error code
    push %1
    jmp isr_common
%endmacro
%macro ISR_ERR 1
isr_%1:
    push %1
    jmp isr_common
%endmacro

%assign v 0
%rep 32
%if v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 || v == 21 || v == 29 || v == 30
    ISR_ERR v
%else
    ISR_NOERR v
%endif
%assign v v+1
%endrep

; The CPU aligned RSP to 16 before pushing its 5-qword frame; with vector, error code and 15 registers
; the frame is 22 qwords, so RSP is 16-aligned again at the call.
isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rbp
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    call host_exception
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rbp
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

; int rdmsr_safe(uint32_t msr, uint64_t *value): 0, or -1 when the MSR raised #GP.
global rdmsr_safe
rdmsr_safe:
    mov ecx, edi
.insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
.fixup:
    mov eax, -1
    ret

; int wrmsr_safe(uint32_t msr, uint64_t value)
global wrmsr_safe
wrmsr_safe:
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
.insn:
    wrmsr
    xor eax, eax
    ret
.fixup:
    mov eax, -1
    ret

; int xsetbv_safe(uint32_t xcr, uint64_t value)
global xsetbv_safe
xsetbv_safe:
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
.insn:
    xsetbv
    xor eax, eax
    ret
.fixup:
    mov eax, -1
    ret

section .rodata
global isr_stubs
isr_stubs:
%assign v 0
%rep 32
    dq isr_ %+ v
%assign v v+1
%endrep

global extable_start, extable_end
extable_start:
    dq rdmsr_safe.insn, rdmsr_safe.fixup
    dq wrmsr_safe.insn, wrmsr_safe.fixup
    dq xsetbv_safe.insn, xsetbv_safe.fixup
extable_end:
section .note.GNU-stack noalloc noexec nowrite progbits
