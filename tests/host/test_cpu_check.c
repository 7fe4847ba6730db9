#include "check.h"
#include <string.h>
#include "boot/cpu_check.h"

static uint64_t fc_value;
static int fc_reads;
static uint64_t read_fc(void) { fc_reads++; return fc_value; }

TEST(cpu_check_decisions)
{
    fc_reads = 0;
    CHECK(strstr(vtx_unavailable_reason("AuthenticAMD", 1u << 5, read_fc), "not an Intel CPU"));
    CHECK(strstr(vtx_unavailable_reason("GenuineIntel", 0, read_fc), "VMX[bit 5] is 0"));
    CHECK_EQ(fc_reads, 0);   /* the MSR is never touched without VT-x: it would #GP */
    fc_value = 0x1;          /* locked, VMX off */
    CHECK(strstr(vtx_unavailable_reason("GenuineIntel", 1u << 5, read_fc), "disabled by the firmware"));
    fc_value = 0x0;          /* unlocked: the core enables and locks it */
    CHECK(vtx_unavailable_reason("GenuineIntel", 1u << 5, read_fc) == 0);
    fc_value = 0x5;          /* locked with VMX outside SMX */
    CHECK(vtx_unavailable_reason("GenuineIntel", 1u << 5, read_fc) == 0);
}
