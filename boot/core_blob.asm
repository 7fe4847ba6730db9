; The hypervisor core, linked by linker.ld and flattened by objcopy, embedded in the loader image.
section .rodata
align 16
global core_blob, core_blob_end
core_blob:
    incbin CORE_BIN
core_blob_end:
section .note.GNU-stack noalloc noexec nowrite progbits
