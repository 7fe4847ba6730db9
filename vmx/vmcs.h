/* Typed VMCS accessors. Each checks the width that bits 14:13 of the encoding name: with a constant
 * field a mismatch is a compile error; otherwise vmcs_access_fault() reports it and stops. */
#ifndef VMX_VMCS_H
#define VMX_VMCS_H

#include <stdint.h>
#include "vmx/vmcs_fields.h"

void vmcs_access_fault(uint32_t field, int width_expected, int failed_instruction)
    __attribute__((noreturn, cold));
extern void vmcs_width_compile_error(void)
    __attribute__((error("VMCS field used with an accessor of the wrong width")));

#define VMCS_CHECK_WIDTH(field, w)                                                       \
    do {                                                                                 \
        if (__builtin_constant_p(field)) {                                               \
            if (VMCS_FIELD_WIDTH(field) != (w)) vmcs_width_compile_error();              \
        } else if (VMCS_FIELD_WIDTH(field) != (w)) {                                     \
            vmcs_access_fault(field, w, 0);                                              \
        }                                                                                \
    } while (0)

static inline __attribute__((always_inline)) uint64_t vmcs_read_raw(uint32_t field)
{
    uint64_t v;
    uint8_t failed;
    __asm__ volatile("vmread %2, %0; setna %1" : "=rm"(v), "=qm"(failed) : "r"((uint64_t)field) : "cc");
    if (__builtin_expect(failed, 0))
        vmcs_access_fault(field, VMCS_FIELD_WIDTH(field), 1);
    return v;
}

static inline __attribute__((always_inline)) void vmcs_write_raw(uint32_t field, uint64_t v)
{
    uint8_t failed;
    __asm__ volatile("vmwrite %1, %2; setna %0" : "=qm"(failed) : "rm"(v), "r"((uint64_t)field) : "cc");
    if (__builtin_expect(failed, 0))
        vmcs_access_fault(field, VMCS_FIELD_WIDTH(field), 2);
}

#define DEFINE_VMCS_ACCESS(suffix, type, width)                                          \
    static inline __attribute__((always_inline)) type vmcs_read##suffix(uint32_t f)      \
    { VMCS_CHECK_WIDTH(f, width); return (type)vmcs_read_raw(f); }                       \
    static inline __attribute__((always_inline)) void vmcs_write##suffix(uint32_t f, type v) \
    { VMCS_CHECK_WIDTH(f, width); vmcs_write_raw(f, v); }
DEFINE_VMCS_ACCESS(16, uint16_t, VMCS_W16)
DEFINE_VMCS_ACCESS(32, uint32_t, VMCS_W32)
DEFINE_VMCS_ACCESS(64, uint64_t, VMCS_W64)
DEFINE_VMCS_ACCESS(nat, uint64_t, VMCS_WNAT)
#undef DEFINE_VMCS_ACCESS

#endif
