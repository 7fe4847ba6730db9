/* Event injection and instruction completion for VM exits (SDM vol. 3, 27.6 and 28.2). */
#ifndef VMX_INJECT_H
#define VMX_INJECT_H
#include <stdbool.h>
#include <stdint.h>

enum { VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_UD = 6, VEC_DF = 8, VEC_GP = 13, VEC_PF = 14 };

void inject_hw_exception(uint8_t vector, int has_error, uint32_t error);
/* The exceptions that push an error code in protected mode: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP
 * (SDM vol. 3, Table 6-1). VM entry requires the injection's error-code bit to match (26.2.1.3). */
static inline bool exception_has_error_code(unsigned vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}
static inline void inject_ud(void) { inject_hw_exception(VEC_UD, 0, 0); }
static inline void inject_gp0(void) { inject_hw_exception(VEC_GP, 1, 0); }
/* Completes the exiting instruction: RIP += its length; STI / MOV SS blocking ends with it. */
void advance_rip(void);
/* CPL of the guest: SS.DPL (SDM vol. 3, 5.5). */
unsigned guest_cpl(void);
#endif
