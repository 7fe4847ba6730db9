/* VMX instructions (SDM vol. 3, ch. 31). Each returns 0 on VMsucceed, 1 on VMfailInvalid (CF) and
 * 2 on VMfailValid (ZF; the reason is in the VM-instruction error field). */
#ifndef VMX_VMX_OPS_H
#define VMX_VMX_OPS_H

#include <stdint.h>

enum vmx_result { VMX_OK = 0, VMX_FAIL_INVALID = 1, VMX_FAIL_VALID = 2 };

#define VMX_RESULT_FROM_FLAGS(cf, zf) ((cf) ? VMX_FAIL_INVALID : (zf) ? VMX_FAIL_VALID : VMX_OK)

#define DEFINE_VMX_PTR_OP(name, insn)                                                    \
    static inline enum vmx_result name(uint64_t pa)                                      \
    {                                                                                    \
        uint8_t cf, zf;                                                                  \
        __asm__ volatile(insn " %2; setc %0; setz %1"                                    \
                         : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");             \
        return VMX_RESULT_FROM_FLAGS(cf, zf);                                            \
    }
DEFINE_VMX_PTR_OP(vmxon, "vmxon")
DEFINE_VMX_PTR_OP(vmclear, "vmclear")
DEFINE_VMX_PTR_OP(vmptrld, "vmptrld")
#undef DEFINE_VMX_PTR_OP

static inline void vmxoff(void) { __asm__ volatile("vmxoff" ::: "cc", "memory"); }

enum invept_type { INVEPT_SINGLE_CONTEXT = 1, INVEPT_ALL_CONTEXT = 2 };

static inline enum vmx_result invept(enum invept_type type, uint64_t eptp)
{
    struct { uint64_t eptp, reserved; } desc = { eptp, 0 };
    uint8_t cf, zf;
    __asm__ volatile("invept %2, %3; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf) : "m"(desc), "r"((uint64_t)type) : "cc", "memory");
    return VMX_RESULT_FROM_FLAGS(cf, zf);
}

#endif
