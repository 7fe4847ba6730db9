/* Hypercall handlers: (cpu, input GPA, output GPA) -> hv_status. vmx/hypercall.c dispatches by code. */
#ifndef VMX_HYPERCALLS_H
#define VMX_HYPERCALLS_H
#include <stdint.h>
#include "vmx/percpu.h"

typedef uint16_t hypercall_fn(struct cpu *c, uint64_t in_gpa, uint64_t out_gpa);

/* Copies a validated block between root memory and the hypervisor (api/hv_abi.h block rules). */
uint16_t read_root_block(uint64_t gpa, void *dst, uint64_t len);
uint16_t write_root_block(uint64_t gpa, const void *src, uint64_t len);
uint16_t check_root_block(uint64_t gpa, uint64_t len);

hypercall_fn hc_create_partition, hc_delete_partition, hc_set_partition_property, hc_get_partition_property,
             hc_setup_partition, hc_map_gpa_range, hc_unmap_gpa_range, hc_create_vp, hc_delete_vp, hc_run_vp, hc_set_registers_and_run_vp,
             hc_cancel_run_vp, hc_get_vp_registers, hc_set_vp_registers, hc_translate_gva,
             hc_read_gpa, hc_write_gpa;

#endif
