# workloads.mk - build rules for build/farsight-workloads, the paper's four workloads
# in one multi-call program (included by the top-level Makefile; honours $(BUILD),
# $(CC)/$(CXX), $(CFLAGS)/$(CXXFLAGS) and $(SANFLAGS), so SAN=asan/tsan builds work).
#
# Libraries: LEMON (header-only) for mcf, libxgboost for xgboost, igraph only
# for the cross-check test (tests/test_workloads_igraph.c).

WL_C_SRC := $(wildcard workloads/*.c)
WL_CXX_SRC := $(wildcard workloads/*.cc)
WL_OBJ := $(WL_C_SRC:%.c=$(BUILD)/obj/%.o) $(WL_CXX_SRC:%.cc=$(BUILD)/obj/%.o)
WL_BIN := $(BUILD)/farsight-workloads
WL_LIBS := -lxgboost -lm
# LEMON's headers use the `register` keyword and deprecated copies that gcc warns
# about under C++17, and gcc -O2 sees a false maybe-uninitialized through their
# inlined push_back; they are not our code.
WL_CXXFLAGS := $(CXXFLAGS) -Iworkloads -Wno-register -Wno-deprecated-copy -Wno-class-memaccess \
	-Wno-maybe-uninitialized

workloads: $(WL_BIN)

$(WL_BIN): $(WL_OBJ)
	$(CXX) -o $@ $^ $(LDFLAGS) $(WL_LIBS)

$(BUILD)/obj/workloads/%.o: workloads/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(WL_CXXFLAGS) -MMD -MP -c $< -o $@

# The igraph cross-check links the graph kernels themselves (not the whole program),
# so it tests exactly the code the workloads run.
WL_GRAPH_OBJ := $(BUILD)/obj/workloads/graph.o $(BUILD)/obj/workloads/pagerank.o \
	$(BUILD)/obj/workloads/sssp.o $(BUILD)/obj/workloads/common.o
$(BUILD)/tests/test_workloads_igraph: tests/test_workloads_igraph.c $(WL_GRAPH_OBJ) tests/testlib.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Iworkloads $(shell pkg-config --cflags igraph 2>/dev/null) -o $@ $< \
		$(WL_GRAPH_OBJ) $(LDFLAGS) -ligraph $(LDLIBS)

-include $(WL_OBJ:.o=.d)
