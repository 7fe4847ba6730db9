; Guest code for hostile.efi's child partitions: one blob copied to GPA 0x1000 of each child. The VMM
; starts a VP at GUEST_CODE + one of the offsets exported below, in unreal mode (real mode, DS flat 4 GiB)
; for the 16-bit probes, in 32-bit protected mode for the VMX probes. RAX and RBX are the arguments.
bits 64
default rel

section .rodata
global guest_blob, guest_blob_size
global g_read, g_write, g_vmcall, g_ud_handler, g_ud2, g_count, g_init_mmio, g_init_x2apic
global g_reset_cf9, g_reset_92, g_apic_disable, g_readloop
global g_out_al, g_halt, g_progress
global g_vmx_probes, g_vmx_probe_count, g_vmx_names

align 16
guest_blob:
bits 16
read:                       ; AL = byte at GPA EBX, reported by an OUT to port 0x80
    a32 mov al, [ebx]
    out 0x80, al
    hlt
write:                      ; byte at GPA EBX = AL
    a32 mov [ebx], al
    out 0x80, al
    hlt
readloop:                   ; read GPA EBX, report, and again from the top (the VMM re-runs it)
    a32 mov al, [ebx]
    out 0x80, al
    jmp readloop
vmcall_probe:               ; a child's hypercall attempt: RCX/RDX/R8 as the root's ABI would take them
    vmcall
    out 0x81, al            ; reached only if VMCALL completed like an instruction
    hlt
ud_handler:                 ; real-mode IVT[6] points here: the #UD reached the guest
    mov al, 0x66
    out 0x82, al
    hlt
ud2_probe:
    ud2
    hlt
count:                      ; EAX = EBX + (EBX-1) + ... + 1, reported by an OUT to port 0x84
    xor eax, eax
    mov ecx, ebx
.l: add eax, ecx
    dec ecx
    jnz .l
    out 0x84, eax
    hlt
init_mmio:                  ; an INIT IPI through the xAPIC ICR at GPA EBX (0xFEE00300)
    a32 mov dword [ebx], eax
    out 0x80, al
    hlt
init_x2apic:                ; an INIT IPI through the x2APIC ICR MSR
    mov ecx, 0x830
    xor edx, edx
    wrmsr
    out 0x80, al
    hlt
reset_cf9:                  ; the PCI reset control register: full reset
    mov dx, 0xcf9
    mov al, 6
    out dx, al
    hlt
reset_92:                   ; the fast A20 / reset port
    mov al, 1
    out 0x92, al
    hlt
apic_disable:               ; clear IA32_APIC_BASE.EN, read it back
    mov ecx, 0x1b
    rdmsr
    and eax, 0xFFFFF7FF
    wrmsr
    rdmsr
    out 0x84, eax
    hlt
out_al:                     ; SET_REGISTERS_AND_RUN_VP: the Run starts here with the RAX it set; AL on port 0x85
    out 0x85, al
    hlt
halt:                       ; a Run that stops at once (Halt exit, RIP past the HLT)
    hlt
progress:                   ; [EBX] += 1 (times this code started), then [EBX+4] counted down to 0 in memory
    a32 inc dword [ebx]     ; (so a restarted run still ends); [EBX] reported on port 0x86
.l: a32 dec dword [ebx+4]
    jnz .l
    a32 mov eax, [ebx]
    out 0x86, al
    hlt

bits 32                     ; protected mode: these reach the VM exit, not the real-mode #UD
vmx0: vmxon [eax]
    hlt
vmx1: vmxoff
    hlt
vmx2: vmlaunch
    hlt
vmx3: vmresume
    hlt
vmx4: vmptrld [eax]
    hlt
vmx5: vmptrst [eax]
    hlt
vmx6: vmclear [eax]
    hlt
vmx7: vmread ebx, ecx
    hlt
vmx8: vmwrite ecx, ebx
    hlt
vmx9: invept eax, [ebx]
    hlt
vmx10: invvpid eax, [ebx]
    hlt
vmx11: db 0x0f, 0x01, 0xd4  ; vmfunc
    hlt
vmx12: db 0x0f, 0x37        ; getsec
    hlt
vmx13: vmcall
    hlt
guest_blob_end:
bits 64

align 4
guest_blob_size: dd guest_blob_end - guest_blob
g_read: dd read - guest_blob
g_write: dd write - guest_blob
g_readloop: dd readloop - guest_blob
g_vmcall: dd vmcall_probe - guest_blob
g_ud_handler: dd ud_handler - guest_blob
g_ud2: dd ud2_probe - guest_blob
g_count: dd count - guest_blob
g_init_mmio: dd init_mmio - guest_blob
g_init_x2apic: dd init_x2apic - guest_blob
g_reset_cf9: dd reset_cf9 - guest_blob
g_reset_92: dd reset_92 - guest_blob
g_apic_disable: dd apic_disable - guest_blob
g_out_al: dd out_al - guest_blob
g_halt: dd halt - guest_blob
g_progress: dd progress - guest_blob
g_vmx_probes:
    dd vmx0 - guest_blob, vmx1 - guest_blob, vmx2 - guest_blob, vmx3 - guest_blob, vmx4 - guest_blob
    dd vmx5 - guest_blob, vmx6 - guest_blob, vmx7 - guest_blob, vmx8 - guest_blob, vmx9 - guest_blob
    dd vmx10 - guest_blob, vmx11 - guest_blob, vmx12 - guest_blob, vmx13 - guest_blob
g_vmx_probe_count: dd 14
g_vmx_names: db "VMXON", 0, "VMXOFF", 0, "VMLAUNCH", 0, "VMRESUME", 0, "VMPTRLD", 0, "VMPTRST", 0
    db "VMCLEAR", 0, "VMREAD", 0, "VMWRITE", 0, "INVEPT", 0, "INVVPID", 0, "VMFUNC", 0, "GETSEC", 0
    db "VMCALL", 0
section .note.GNU-stack noalloc noexec nowrite progbits
