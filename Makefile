# libtinylm - build, test and install.
#   make            library, tools and tests
#   make test       build, then run every test (ends with one "N passed, N failed" line)
#   make install    PREFIX=/usr/local: library, header and pkg-config file

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
CPPFLAGS := -Iinclude -Ilib -Ikernels -I/usr/include/stb -D_GNU_SOURCE
ALLFLAGS = -std=c11 $(WARN) $(CFLAGS) $(CPPFLAGS) -fopenmp -fPIC -fvisibility=hidden $(EXTRA_CFLAGS)
LDLIBS  := -lcjson -lpcre2-8 -lm -lpthread
LDFLAGS_ALL = -fopenmp $(LDFLAGS) $(EXTRA_LDFLAGS)

# SIMD variants: each file alone is built for its instruction set (never -march=native).
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c

LIB_SRC    := $(wildcard lib/*.c) $(wildcard kernels/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC   := $(wildcard tools/tlm-*.c)
TOOLS      := $(TOOL_SRC:tools/%.c=$(BUILD)/%)
TOOL_COMMON := $(filter-out tools/tlm-%.c,$(wildcard tools/*.c))
TOOL_COMMON_OBJ := $(TOOL_COMMON:%.c=$(BUILD)/%.o)
TEST_SRC   := $(wildcard tests/lib/test_*.c) $(wildcard tests/kernels/test_*.c)
TESTS      := $(TEST_SRC:%.c=$(BUILD)/%)

.PHONY: all test install clean asan ubsan
all: $(BUILD)/libtinylm.a $(BUILD)/libtinylm.so $(TOOLS) $(TESTS)

$(BUILD)/%.o: %.c $(wildcard include/*.h lib/*.h kernels/*.h tools/*.h tests/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) $(if $(findstring _avx512,$<),$(AVX512_FLAGS),$(if $(findstring _avx2,$<),$(AVX2_FLAGS))) -c $< -o $@

$(BUILD)/libtinylm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtinylm.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

$(BUILD)/tlm-%: $(BUILD)/tools/tlm-%.o $(TOOL_COMMON_OBJ) $(BUILD)/libtinylm.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

# Tests may reach internal headers (lib/, kernels/): they link the static library.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libtinylm.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS)

test: all
	@bash tests/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" OPT=-O1 test

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libtinylm.a $(BUILD)/libtinylm.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/tinylm.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' tinylm.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tinylm.pc

clean:
	rm -rf build build-asan
