# farsight build.  `make` builds everything into build/ (or build-$(SAN)/ with
# SAN=asan or SAN=tsan); `make test` builds and runs the test suite.
#
# Layout (each folder is one part of the architecture, see docs/ARCHITECTURE.md):
#   src/common    what every part uses: util (errors, logging, time), the settings table
#   src/trace     the event-trace format, synthetic traces, replay (the simulator)
#   src/runtime   arena, page states, pager, local cache and reclaim, stats
#   src/backend   far-memory backends (mem, tcp)
#   src/proto     the memd wire protocol, shared by the tcp backend and memd
#   src/prefetch  prefetcher policies
#   src/model     future maps, tokenizer, RetNet, training
#   src/preload   libfarsight-preload.so (malloc/mmap shim)
#   src/memd      the memory server
#   src/bench     the bench harness (`farsight bench`)
#   src/cli       the `farsight` command
#   workloads     the paper's workloads (farsight-workloads)
#   tests         one standalone program per behaviour (test_*.c)

CC ?= cc
CXX ?= c++
SAN ?=
BUILD ?= build$(if $(SAN),-$(SAN),)

WARN := -Wall -Wextra -Wno-unused-parameter
OPT ?= -O2 -g
PREFIX ?= /usr/local
CFLAGS_BASE := -std=gnu11 $(WARN) $(OPT) -fPIC -pthread -Iinclude -Isrc -D_GNU_SOURCE \
	-DFS_DATADIR='"$(PREFIX)/share/farsight"'
ifeq ($(SAN),asan)
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SAN),tsan)
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
CFLAGS := $(CFLAGS_BASE) $(SANFLAGS) $(EXTRA_CFLAGS)
CXXFLAGS := -std=gnu++17 $(WARN) $(OPT) -pthread -Iinclude $(SANFLAGS)
LDFLAGS := -pthread $(SANFLAGS)
# liblz4, libzstd: the zmem backend's compressors; libhiredis: the redis backend's client
# (Debian liblz4-dev, libzstd-dev, libhiredis-dev).
LDLIBS := -llz4 -lzstd -lhiredis -lsodium -lm

LIB_SRC := $(wildcard src/common/*.c src/trace/*.c src/runtime/*.c src/backend/*.c src/proto/*.c \
	src/prefetch/*.c src/model/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PRELOAD_SRC := $(wildcard src/preload/*.c)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(wildcard src/cli/*.c src/bench/*.c src/memd/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)
TEST_HELPER_BIN := $(TEST_HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIB := $(BUILD)/libfarsight.a
PRELOAD := $(BUILD)/libfarsight-preload.so
CLI := $(BUILD)/farsight

.PHONY: all test check demo bench clean workloads install-deps install
all: $(LIB) $(PRELOAD) $(CLI) workloads $(TEST_BIN) $(TEST_HELPER_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The preload shim links jemalloc (its allocator for far-memory arenas) statically
# where possible, so that the program's own allocator symbols cannot shadow it.
PRELOAD_LIBS ?= -ljemalloc
$(PRELOAD): $(PRELOAD_OBJ) $(LIB_OBJ)
	$(CC) -shared -Wl,-z,now -o $@ $^ $(LDFLAGS) $(PRELOAD_LIBS) -ldl $(LDLIBS)

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) -o $@ $(CLI_OBJ) $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/testlib.h $(wildcard tests/helpers/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/helpers/%.c tests/helpers/expect.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

-include workloads/workloads.mk
-include fuzz/fuzz.mk

test: all
	BUILD=$(BUILD) tests/run.sh

# The README's two commands: each installs what a fresh machine lacks, then builds.
check: install-deps
	$(MAKE) all
	$(MAKE) test

demo: install-deps
	$(MAKE) all
	BUILD=$(BUILD) tools/demo.sh

# Pretrained models (models/*.fsm) from recorded traces; a few minutes, not run by CI.
.PHONY: models
models: all
	FARSIGHT_BIN=$(BUILD)/farsight tools/make-models.sh

bench: all
	BUILD=$(BUILD) bench/run-micro.sh

install-deps:
	tools/install-deps.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the farsight command and the workloads
# in bin, the preload library in lib/farsight (farsight run looks there), the models
# in share/farsight/models (the default model is found there), the man page and docs.
# The installed tree works from any directory.
install: $(CLI) $(PRELOAD) workloads
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/farsight \
		$(DESTDIR)$(PREFIX)/share/farsight/models $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/doc/farsight
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/farsight
	if [ -e $(BUILD)/farsight-workloads ]; then \
		install -m 755 $(BUILD)/farsight-workloads $(DESTDIR)$(PREFIX)/bin/; fi
	install -m 644 $(PRELOAD) $(DESTDIR)$(PREFIX)/lib/farsight/
	install -m 644 models/*.fsm $(DESTDIR)$(PREFIX)/share/farsight/models/
	tools/gen-man.sh $(CLI) >$(DESTDIR)$(PREFIX)/share/man/man1/farsight.1
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/farsight/

clean:
	rm -rf build build-asan build-tsan

-include $(LIB_OBJ:.o=.d) $(PRELOAD_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
