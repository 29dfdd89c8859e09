# fuzz.mk - libFuzzer targets (included by the Makefile).  `make fuzz` builds them
# with clang; tools/fuzz-memd.sh runs the memd request parser for a bounded time.
# util.c writes files through fds.c (fs_out_open keeps its descriptor high), so both.
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -D_GNU_SOURCE
FUZZ_MEMD_SRC := fuzz/memd_fuzz.c src/memd/parse.c src/memd/store.c src/common/sha256.c \
	src/common/util.c src/common/fds.c

.PHONY: fuzz
fuzz: build/fuzz/memd_fuzz

build/fuzz/memd_fuzz: $(FUZZ_MEMD_SRC) src/memd/memd.h src/proto/memd_proto.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_MEMD_SRC) -lsodium
