; A hypercall attempted from CPL 3 of the root partition, for tests/payload/hostile_ring3_check.c.
; The C side has already (interrupts off): loaded a copy of the firmware's GDT with ring-3 code and data
; descriptors appended, pointed the firmware IDT's #GP gate at r3_gp_trap, and made the user page
; (stub + stack) user-accessible. The root's TR is the one the hypervisor gave it (selector 0, base 0,
; a 64-bit busy TSS): its RSP0 lives at linear address 4, saved here and put back before returning.
;
; uint64_t ring3_vmcall(code, in_gpa, out_gpa, user_page, user_cs, user_ss)
;   rdi      rsi     rdx      rcx        r8       r9
; The user page starts with: vmcall; cli  (CLI at CPL 3 with IOPL 0 raises #GP: the way back when the
; VMCALL did complete). Returns RAX as the trap saw it; r3_rip, r3_err, r3_cs tell where the #GP hit.
bits 64
default rel

section .data
global r3_rip, r3_err, r3_cs, r3_rax
r3_rip: dq 0
r3_err: dq 0
r3_cs: dq 0
r3_rax: dq 0
saved_rsp: dq 0
saved_rsp0: dq 0
saved_ds: dw 0
saved_es: dw 0
saved_fs: dw 0
saved_gs: dw 0
saved_ss: dw 0

section .bss
alignb 16
r3_stack: resb 8192
r3_stack_top:

section .text
global ring3_vmcall, r3_gp_trap
ring3_vmcall:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [saved_rsp], rsp
    mov ax, ds
    mov [saved_ds], ax
    mov ax, es
    mov [saved_es], ax
    mov ax, fs
    mov [saved_fs], ax
    mov ax, gs
    mov [saved_gs], ax
    mov ax, ss
    mov [saved_ss], ax
    mov rax, [abs 4]                ; the TSS's RSP0
    mov [saved_rsp0], rax
    lea rax, [r3_stack_top]
    mov [abs 4], rax
    mov r10, rdx                    ; out
    push r9                         ; SS
    lea rax, [rcx + 4096 - 64]
    push rax                        ; RSP
    pushfq                          ; RFLAGS (IF is 0)
    push r8                         ; CS
    push rcx                        ; RIP: the stub
    mov rcx, rdi                    ; code
    mov rdx, rsi                    ; in
    mov r8, r10                     ; out
    mov rax, 0x5A5A5A5A             ; what RAX holds if nothing writes it
    iretq

; The #GP at CPL 3 arrives here on r3_stack (from RSP0), CPL 0.
r3_gp_trap:
    mov [r3_rax], rax
    pop rax                         ; error code
    mov [r3_err], rax
    mov rax, [rsp]
    mov [r3_rip], rax
    mov rax, [rsp + 8]
    mov [r3_cs], rax
    mov ax, [saved_ss]
    mov ss, ax
    mov rsp, [saved_rsp]
    mov ax, [saved_ds]
    mov ds, ax
    mov ax, [saved_es]
    mov es, ax
    mov ax, [saved_fs]
    mov fs, ax
    mov ax, [saved_gs]
    mov gs, ax
    mov rax, [saved_rsp0]
    mov [abs 4], rax
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    mov rax, [r3_rax]
    ret

; void lgdt_ptr(const void *desc_ptr)
global load_gdtr
load_gdtr:
    lgdt [rdi]
    ret
section .note.GNU-stack noalloc noexec nowrite progbits
