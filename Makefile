# libtinylm - build, test and install.
#   make            library, tools and tests
#   make test       build, then run every test (ends with one "N passed, N failed" line)
#   make WERROR=1   the same with warnings as errors (CI builds every stage so)
#   make install    library, header and pkg-config file (PREFIX, LIBDIR, INCLUDEDIR, DESTDIR);
#                   make install-tools adds the tools to BINDIR; make uninstall removes both

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(WERROR),-Werror)
CPPFLAGS := -I/usr/include/stb -D_GNU_SOURCE

# Platform: Linux (GNU ld: soname, $ORIGIN) or macOS (UNAME_S=Darwin: .dylib with an install
# name, @loader_path; Apple clang has no -fopenmp, so OpenMP is Homebrew's libomp through
# -Xpreprocessor, and stb, cJSON, PCRE2 come from Homebrew's prefix). `make -n UNAME_S=Darwin`
# shows the macOS commands on any machine (tests/arm64/macos_link.sh checks them).
UNAME_S ?= $(shell uname -s)
ifeq ($(UNAME_S),Darwin)
BREW_PREFIX ?= $(shell brew --prefix 2>/dev/null || echo /opt/homebrew)
LIBOMP      ?= $(shell brew --prefix libomp 2>/dev/null || echo $(BREW_PREFIX)/opt/libomp)
OMP_CFLAGS  := -Xpreprocessor -fopenmp -I$(LIBOMP)/include
OMP_LDFLAGS := -L$(LIBOMP)/lib -lomp
CPPFLAGS    += -I$(BREW_PREFIX)/include -I$(BREW_PREFIX)/include/stb
LDFLAGS     ?= -L$(BREW_PREFIX)/lib
else
OMP_CFLAGS  := -fopenmp
OMP_LDFLAGS := -fopenmp
endif
ALLFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS) $(call layer_includes,$<) $(OMP_CFLAGS) -fPIC \
           -fvisibility=hidden $(EXTRA_CFLAGS)

# Layers (docs/design.md). Each folder of lib/ is one layer and sees the headers of its own
# folder and of the layers listed for it, nothing else: an include that reaches across is a
# build error, not a review comment. kernels/ sees only itself; tools/ only the public header.
LAYERS        := base format tokenizer model runtime sampling chat
USES_base     := base
USES_format   := base format
USES_tokenizer := base format tokenizer
USES_model    := base format tokenizer model
USES_runtime  := base format tokenizer model runtime
USES_sampling := base sampling
USES_chat     := base tokenizer chat
# the -I flags of a source file, by its folder: lib/<layer>/, kernels/, tools/ or tests/
layer_of       = $(word 2,$(subst /, ,$1))
lib_includes   = -Iinclude $(foreach l,$(USES_$(call layer_of,$1)),-Ilib/$l) \
                 $(if $(filter model runtime,$(call layer_of,$1)),-Ikernels)
test_includes  = -Iinclude $(foreach l,$(LAYERS),-Ilib/$l) -Ikernels -Itests
layer_includes = $(if $(filter lib/%,$1),$(call lib_includes,$1),$(if $(filter kernels/%,$1),\
                 -Ikernels,$(if $(filter tools/%,$1),-Iinclude -Itools,$(test_includes))))
LDLIBS  := -lcjson -lpcre2-8 -lm -lpthread
LDFLAGS_ALL = $(OMP_LDFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS)

# The version has one source, include/tinylm.h; the soname and tinylm.pc follow it. While the
# major version is 0 a minor release may change the ABI, so the soname carries the minor too.
version_part = $(shell sed -n 's/^\#define TLM_VERSION_$1 \([0-9]*\).*/\1/p' include/tinylm.h)
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SOVERSION := $(if $(filter 0,$(call version_part,MAJOR)),0.$(call version_part,MINOR),$(call version_part,MAJOR))
ifeq ($(UNAME_S),Darwin) # libtinylm.0.2.0.dylib, found as @rpath/libtinylm.0.2.dylib
SHLIB      := libtinylm.dylib
SHLIB_REAL := libtinylm.$(VERSION).dylib
SONAME     := libtinylm.$(SOVERSION).dylib
SHLIB_LINK := -dynamiclib -install_name @rpath/$(SONAME) -compatibility_version $(SOVERSION) \
              -current_version $(VERSION)
RPATH_UP   := -Wl,-rpath,@loader_path/..
else
SHLIB      := libtinylm.so
SHLIB_REAL := libtinylm.so.$(VERSION)
SONAME     := libtinylm.so.$(SOVERSION)
SHLIB_LINK := -shared -Wl,-soname,$(SONAME)
RPATH_UP   := -Wl,-rpath,'$$ORIGIN/..'
endif

# SIMD variants: each file alone is built for its instruction set (never -march=native).
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
VNNI_FLAGS   := $(AVX512_FLAGS) -mavx512vnni
BF16_FLAGS   := $(AVX512_FLAGS) -mavx512bf16

# Target architecture, from the compiler (so CC=aarch64-linux-gnu-gcc cross-builds): x86-64
# builds the *_avx2* / *_avx512* kernel files, AArch64 the *_neon* / *_dotprod* / *_i8mm* ones
# (dispatch.c names only the tables of its architecture); any other target, the references.
TARGET  := $(shell $(CC) -dumpmachine)
ARCH    := $(if $(filter x86_64% i686% i386%,$(TARGET)),x86,$(if $(filter aarch64% arm64%,$(TARGET)),arm64,other))
X86_KERNELS := $(wildcard kernels/*_avx2*.c kernels/*_avx512*.c)
ARM_KERNELS := $(wildcard kernels/*_neon*.c kernels/*_dotprod*.c kernels/*_i8mm*.c)
OTHER_ARCH_KERNELS := $(if $(filter x86,$(ARCH)),$(ARM_KERNELS),$(if $(filter arm64,$(ARCH)),$(X86_KERNELS),$(X86_KERNELS) $(ARM_KERNELS)))
# AdvSIMD (NEON) is part of ARMv8-A: the *_neon* files need no flag. Dot product (SDOT/UDOT) is
# ARMv8.2's FEAT_DotProd, SMMLA ARMv8.6's FEAT_I8MM (optional from 8.2: named on its own).
DOTPROD_FLAGS := -march=armv8.2-a+dotprod
I8MM_FLAGS    := -march=armv8.2-a+dotprod+i8mm

LIB_SRC    := $(filter-out $(OTHER_ARCH_KERNELS),$(wildcard lib/*/*.c) $(wildcard kernels/*.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC   := $(wildcard tools/tlm-*.c)
TOOLS      := $(TOOL_SRC:tools/%.c=$(BUILD)/%)
# tlm-server alone needs libmicrohttpd: without its header the other tools still build
HAVE_MHD   := $(shell $(CC) -E -include microhttpd.h -x c /dev/null >/dev/null 2>&1 && echo 1)
TOOLS      := $(if $(HAVE_MHD),$(TOOLS),$(filter-out $(BUILD)/tlm-server,$(TOOLS)))
TOOL_COMMON := $(filter-out tools/tlm-%.c,$(wildcard tools/*.c))
TOOL_COMMON_OBJ := $(TOOL_COMMON:%.c=$(BUILD)/%.o)
TEST_SRC   := $(wildcard tests/*/test_*.c)
TESTS      := $(TEST_SRC:%.c=$(BUILD)/%)
EXAMPLES   := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

# *_avx512vnni* files: AVX-512 plus VNNI; *_avx512bf16*: AVX-512 plus AVX512_BF16; *_avx512*:
# AVX-512; *_avx2*: AVX2 (first match wins)
# *_i8mm*: dot product plus i8mm; *_dotprod*: dot product (AArch64)
isa_flags = $(if $(findstring _avx512vnni,$1),$(VNNI_FLAGS),$(if $(findstring _avx512bf16,$1),$(BF16_FLAGS),$(if $(findstring _avx512,$1),$(AVX512_FLAGS),$(if $(findstring _avx2,$1),$(AVX2_FLAGS),$(if $(findstring _i8mm,$1),$(I8MM_FLAGS),$(if $(findstring _dotprod,$1),$(DOTPROD_FLAGS)))))))

.PHONY: all lib tools test install install-lib install-tools uninstall clean asan ubsan fuzz \
        fuzz-build print-includes format-check
all: lib $(TOOLS) $(TESTS) $(EXAMPLES)
lib: $(BUILD)/libtinylm.a $(BUILD)/$(SHLIB)
tools: $(TOOLS)

# The SIMD kernel files get line tables only (-g1: enough for backtraces, sanitizer reports and
# perf): -g's variable tracking over their unrolled bodies tripled the build (gcc 12:
# qmatmul_lowk_avx512vnni.c 87 s -> 29 s, qmatmul_lowk_neon.c over 4 minutes under -g).
SIMD_DEBUG ?= -g1
simd_debug = $(if $(filter $(X86_KERNELS) $(ARM_KERNELS),$1),$(SIMD_DEBUG))

$(BUILD)/%.o: %.c $(wildcard include/*.h lib/*/*.h kernels/*.h tools/*.h tests/*.h tests/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) $(call isa_flags,$<) $(call simd_debug,$<) -c $< -o $@

$(BUILD)/libtinylm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/$(SHLIB_REAL): $(LIB_OBJ)
	$(CC) $(SHLIB_LINK) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

$(BUILD)/$(SHLIB): $(BUILD)/$(SHLIB_REAL)
	ln -sf $(SHLIB_REAL) $(BUILD)/$(SONAME)
	ln -sf $(SHLIB_REAL) $@

$(BUILD)/tlm-%: $(BUILD)/tools/tlm-%.o $(TOOL_COMMON_OBJ) $(BUILD)/libtinylm.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

# tlm-server alone links libmicrohttpd; its HTTP, JSON and slot code lives in tools/server/.
SERVER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/server/*.c))
$(SERVER_OBJ) $(BUILD)/tools/tlm-server.o: $(wildcard tools/server/*.h)
$(BUILD)/tlm-server: $(BUILD)/tools/tlm-server.o $(SERVER_OBJ) $(TOOL_COMMON_OBJ) $(BUILD)/libtinylm.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS) -lmicrohttpd

# GCC 12's AArch64 loop vectorizer crashes (ICE in vect_transform_reduction) on two test mains;
# the tests lose nothing without it.
ifeq ($(ARCH),arm64)
$(BUILD)/tests/%.o: override EXTRA_CFLAGS += -fno-tree-vectorize
endif

# Tests may reach every internal header: they link the static library.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libtinylm.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

# examples/: programs as an embedder writes them, seeing only the public header and linked
# against the shared library (found next to them through the rpath); make test runs them.
$(BUILD)/examples/%: examples/%.c examples/common.h include/tinylm.h $(BUILD)/$(SHLIB)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -Iinclude -o $@ $< -L$(BUILD) -ltinylm \
	    $(RPATH_UP) -pthread $(EXTRA_LDFLAGS)

test: all
	@bash tests/run.sh $(BUILD)

# Every C file tracked by git against the root .clang-format (clang-format 14, Debian 12's):
# one line per file that differs, then the suite's total line (a file is a case).
format-check:
	@bad=0; n=0; for f in $$(git ls-files '*.c' '*.h'); do n=$$((n + 1)); \
	    clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || { echo "FAIL format: $$f"; bad=$$((bad + 1)); }; \
	done; echo "total: $$((n - bad)) passed, $$bad failed, 0 skipped"; [ $$bad -eq 0 ]

# The -I flags a file gets from its folder (tests/test_layers.py resolves includes with them).
print-includes:
	@echo $(call layer_includes,$(FILE))

# The whole suite under a sanitizer, each build in its own directory: ASan (with LeakSanitizer)
# and UBSan (float-cast-overflow too). tests/run.sh makes every report exit 66, a code no tool
# uses for a refusal, and fails the test whose run shows one, even a run meant to be refused.
# A BUILD given to make (make asan BUILD=x, or in the environment) is the folder, as for a
# plain build; without one each target keeps its own (build-asan, build-ubsan).
SAN_FLAGS := -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_BUILD  = $(if $(filter file default,$(origin BUILD)),build-$@,$(BUILD))
asan:
	$(MAKE) BUILD=$(SAN_BUILD) OPT=-O1 EXTRA_CFLAGS="-fsanitize=address $(SAN_FLAGS)" \
	    EXTRA_LDFLAGS="-fsanitize=address" test

ubsan:
	$(MAKE) BUILD=$(SAN_BUILD) OPT=-O1 EXTRA_CFLAGS="-fsanitize=undefined,float-cast-overflow \
	    $(SAN_FLAGS)" EXTRA_LDFLAGS="-fsanitize=undefined" test

# libFuzzer targets (tests/fuzz/fuzz_*.c, clang only), built with ASan + UBSan; seeds come from
# tests/fuzz/seeds.c. Each runs FUZZ_SECONDS, FUZZ_JOBS at a time; any crash fails. (At -O1 under
# the sanitizers clang may not honour the kernels' unroll pragmas: that warning is off here.)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_BUILD   ?= build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow $(SAN_FLAGS)
FUZZ_BINS     = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	$(MAKE) CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) OPT=-O1 EXTRA_LDFLAGS="$(FUZZ_SAN)" \
	    EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-pass-failed" fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

fuzz-build: $(FUZZ_BINS) $(BUILD)/fuzz/seeds

# Kernels keep ASan and coverage but not UBSan here: clang 14's UBSan takes minutes on the
# AVX-512 kernels (make ubsan checks them with gcc). The fuzzers run the scalar kernels
# (TLM_ISA=ref, tests/fuzz/run.sh), so the SIMD kernel files are only linked: they build
# without sanitizers or coverage (clang took 179 s on qmatmul_avx512vnni.c with them, 17 s
# without; make asan and make ubsan check them).
$(FUZZ_BUILD)/kernels/%.o: override EXTRA_CFLAGS += -fno-sanitize=undefined,float-cast-overflow
$(X86_KERNELS:%.c=$(FUZZ_BUILD)/%.o): override EXTRA_CFLAGS := -Wno-pass-failed

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libtinylm.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

# tlm-server's request parser lives with the server
# (its own rule: the server objects must come before libtinylm.a, whose JSON Schema converter
# structured.o uses)
$(BUILD)/fuzz/fuzz_server_request: $(BUILD)/tests/fuzz/fuzz_server_request.o \
    $(BUILD)/tools/server/openai.o $(BUILD)/tools/server/buf.o \
    $(BUILD)/tools/server/structured.o $(BUILD)/tools/server/tool_prompt.o \
    $(BUILD)/tools/server/tool_reply.o $(BUILD)/libtinylm.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

$(BUILD)/fuzz/seeds: $(BUILD)/tests/fuzz/seeds.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lm

# install needs only the library's own dependencies (cJSON, PCRE2, OpenMP): no tool is built.
install: install-lib
install-lib: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(BUILD)/libtinylm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/$(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	install -m 644 include/tinylm.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' tinylm.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/tinylm.pc

install-tools: tools
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libtinylm.a $(DESTDIR)$(LIBDIR)/$(SHLIB) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL) \
	    $(DESTDIR)$(INCLUDEDIR)/tinylm.h $(DESTDIR)$(PKGCONFIGDIR)/tinylm.pc \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS)))

clean:
	rm -rf build build-asan build-ubsan build-fuzz
