# Host-side coverage-guided fuzzing of the pure modules (docs/fuzzing.md, "Host fuzzing"): one libFuzzer
# harness per target, built with clang and ASan + UBSan into $(BUILD)/fuzz/.
#   make fuzz-host-build   the harnesses only (tools/test-fuzz-host.sh, the `make test` tier, runs this)
#   make fuzz-host         longer runs: FUZZ_SECONDS (default 60) per harness, then one summary line
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -DHOST_TEST -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt

FUZZ_TARGETS := exitc exit_decode guest_walk hypercall_validate gpa_map
# The module(s) each harness drives. exitc: not exitc_nasm.c (the harness assembles `code` blocks with a
# fake, NASM is not what is fuzzed) nor exitc_main.c.
FUZZ_SRCS_exitc              := tools/exitc.c tools/exitc_buffer.c tools/exitc_names.c tools/exitc_script.c
FUZZ_SRCS_exit_decode        := vmx/exit_decode.c vmx/segment.c
FUZZ_SRCS_guest_walk         := vmx/guest_walk.c
FUZZ_SRCS_hypercall_validate := vmx/hypercall_validate.c
FUZZ_SRCS_gpa_map            := vmx/gpa_map.c vmx/ept.c arch/x86/mtrr.c tests/host/fake_alloc.c
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

define FUZZ_RULE
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz.h tests/fuzz/coverage-ignore.txt $(FUZZ_SRCS_$(1)) $(HEADERS)
	@mkdir -p $$(dir $$@)
	@echo "  FUZZ-CC $$@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

.PHONY: fuzz-host fuzz-host-build
fuzz-host-build: $(FUZZ_BINS)

fuzz-host: fuzz-host-build
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tools/test-fuzz-host.sh --long
