; The loader's side of the world switch. hv_enter(entry, host_cr3, args) runs on one CPU: it switches to
; the core's page tables and calls the core. On success the core VMLAUNCHes this very context, and the
; CPU resumes at hv_resumed in VMX non-root with the firmware's CR3: it returns 0 to the caller as the
; root partition. If the core returns, it failed: back to the firmware's CR3, status in RAX.
; Both page tables identity-map this code and the stack, so the CR3 switch is safe here.
bits 64
default rel
section .text

; uint64_t hv_enter(uint64_t entry, uint64_t host_cr3, const struct core_entry_args *args)  [SysV]
; core entry: int64_t core_cpu_entry(args, resume_rip, resume_rsp, firmware_cr3, rflags)
global hv_enter
hv_enter:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    pushfq
    cli
    mov r12, cr3
    mov r13, rdi
    mov r14, rsi
    mov rdi, rdx
    lea rsi, [rel hv_resumed]
    mov rdx, rsp
    mov rcx, r12
    mov r8, [rsp]
    mov cr3, r14
    call r13
    mov cr3, r12
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

hv_resumed:
    popfq
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    xor eax, eax
    ret
section .note.GNU-stack noalloc noexec nowrite progbits
