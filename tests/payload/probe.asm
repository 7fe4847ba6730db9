; Probes that expect a #GP from the hypervisor, for tests/payload/rootcheck.c. probe_gp_install() points
; the firmware's IDT vector 13 at gp_trap; a #GP then resumes at the probe's recovery label.
bits 64
default rel

section .data
global gp_count
gp_count: dq 0
gp_recover_rip: dq 0

section .text
global gp_trap
gp_trap:
    add rsp, 8                      ; the #GP error code
    push rax
    mov rax, [rel gp_recover_rip]
    mov [rsp + 8], rax              ; return to the recovery label, not the faulting instruction
    lock inc qword [rel gp_count]
    pop rax
    iretq

%macro ARM 1
    lea rax, [rel %1]
    mov [rel gp_recover_rip], rax
%endmacro

; int probe_write64(uint64_t addr, uint64_t value): 1 when the write raised #GP
global probe_write64
probe_write64:
    ARM .faulted
    mov [rdi], rsi
    xor eax, eax
    ret
.faulted:
    mov eax, 1
    ret

; int probe_rdmsr(uint32_t msr): 1 when RDMSR raised #GP
global probe_rdmsr
probe_rdmsr:
    ARM .faulted
    mov ecx, edi
    rdmsr
    xor eax, eax
    ret
.faulted:
    mov eax, 1
    ret

; int probe_exec(uint64_t addr): 1 when fetching at addr raised #GP (the call's return address is
; still on the stack then)
global probe_exec
probe_exec:
    ARM .faulted
    call rdi
    xor eax, eax
    ret
.faulted:
    add rsp, 8
    mov eax, 1
    ret

; uint64_t probe_vmcall(code, in, out): a hypercall, RAX = status
global probe_vmcall
probe_vmcall:
    mov rcx, rdi
    mov r8, rdx
    mov rdx, rsi
    vmcall
    ret
section .note.GNU-stack noalloc noexec nowrite progbits
