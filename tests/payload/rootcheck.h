/* Shared by the parts of rootcheck.efi. */
#ifndef TESTS_PAYLOAD_ROOTCHECK_H
#define TESTS_PAYLOAD_ROOTCHECK_H
#include <stdint.h>
#include "tests/payload/console.h"   /* check() and note() */
uint64_t pool_pages_used(void);
void check_partitions(void);
#endif
