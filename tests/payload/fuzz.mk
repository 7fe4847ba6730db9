# The in-hypervisor hypercall fuzzer (docs/fuzzing.md, "In-hypervisor hypercall fuzzer"): fuzz.efi runs in
# the root partition under the hypervisor in Bochs, then chain-loads the exit-script suite.
#   make fuzz                    FUZZ_CALLS (default 200000) hypercalls from seed FUZZ_SEED (default 1)
#   make fuzz FUZZ_SEED=7 FUZZ_CASE=123   only case 123 of seed 7, every step traced (a reproducer)
# The `make test` tier (tools/test-fuzz.sh) makes a shorter run of the same image.
FUZZ_SEED  ?= 1
FUZZ_CALLS ?= 200000
FUZZ_CASE  ?=
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/efi/%.o,$(wildcard tests/payload/fuzz*.c)) \
             $(BUILD)/efi/tests/payload/console.o $(BUILD)/efi/api/whv_lib.o $(BUILD)/efi/api/whv_deferred.o $(BUILD)/efi/api/hv_transport.o \
             $(BUILD)/efi/arch/x86/format.o $(BUILD)/efi/arch/x86/string_ops.o
$(BUILD)/fuzz.so: $(FUZZ_OBJS)

.PHONY: fuzz
fuzz: $(BUILD)/fuzz.efi $(BUILD)/exits.efi $(BUILD)/exitc $(BUILD)/loader.efi
	BUILD=$(BUILD) FUZZ_CASE=$(FUZZ_CASE) tools/run-fuzz.sh $(FUZZ_SEED) $(FUZZ_CALLS)

# The fuzz tier of `make test` boots this image.
test: $(BUILD)/fuzz.efi
