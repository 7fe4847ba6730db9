/* Shared by the parts of rootcheck.efi. */
#ifndef TESTS_PAYLOAD_ROOTCHECK_H
#define TESTS_PAYLOAD_ROOTCHECK_H
#include <stdint.h>
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t pool_pages_used(void);
void check_partitions(void);
#endif
