#!/usr/bin/env bash
# tests/arm64/run.sh - cross-builds libtinylm for AArch64 (Debian's aarch64-linux-gnu-gcc and the
# arm64 builds of its libraries) and runs it under qemu-user, at each ARM level:
#   - every kernel test (tests/kernels), each SIMD level against the reference, on qemu's "max"
#     CPU (AdvSIMD + dot product + i8mm, so the neon, dotprod and i8mm tables are all compared);
#     the float-only heavy tests (matmul, attention_rows) capped at TLM_ISA=neon, since the
#     dotprod and i8mm tables hold the same float kernels;
#   - test_dispatch on cortex-a53 (AdvSIMD only), cortex-a76 (+ dot product) and max (+ i8mm),
#     under each TLM_ISA: detection and the levels;
#   - the other C tests once, on max (but test_tokenizer, which bounds its own run time);
#   - the stories260K greedy text at ref, neon, dotprod and i8mm (test_stories_levels.py);
#   - tests/test_architectures.py against the NumPy reference (1e-4) through the cross-built
#     tlm-logits, on max (TLM_RUN).
#   - the macOS build's link and compile lines, by make -n UNAME_S=Darwin (macos_link.sh).
# One thread everywhere: Debian 12's qemu-aarch64 (7.2) hangs when libgomp starts a second one,
# so OMP_NUM_THREADS=1 and OMP_THREAD_LIMIT=1 (the latter caps the tests' num_threads(N)
# regions too: their thread-count checks then run on one thread). Nothing is timed here.
# Ends with "total: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
build=${1:-build-arm64}
CC_ARM=${CC_ARM:-aarch64-linux-gnu-gcc}
SYSROOT=${ARM_SYSROOT:-/usr/aarch64-linux-gnu}
QEMU="qemu-aarch64 -L $SYSROOT"
export OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1
export TLM_SHARED=${TLM_SHARED:-$(cd .. && pwd)/shared}
PY=${TLM_PYTHON:-/usr/bin/python3}
passed=0 failed=0 skipped=0

make -j2 CC="$CC_ARM" BUILD="$build" all >/dev/null || { echo "cross-build failed"; echo "total: 0 passed, 1 failed, 0 skipped"; exit 1; }
export TLM_BUILD=$(cd "$build" && pwd)

tally() {  # label, exit code, output[, seconds it took]
    local line p f s
    line=$(printf '%s\n' "$3" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $1: no result line (exit $2)"; failed=$((failed + 1)); return
    fi
    p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    echo "[$1] $line${4:+ ($4 s)}"
}

run_c() {  # label, cpu, TLM_ISA (or ""), test binary: prints "label<TAB>rc<TAB>output" to a file
    local out rc
    out=$(env ${3:+TLM_ISA=$3} timeout 1800 $QEMU -cpu "$2" "$4" 2>&1); rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 20
    tally "$1" $rc "$out"
}

# detection and levels on three CPU models
for cpu in cortex-a53 cortex-a76 max; do
    for isa in "" ref neon dotprod i8mm; do
        run_c "dispatch -cpu $cpu TLM_ISA=${isa:-unset}" "$cpu" "$isa" "$build/tests/kernels/test_dispatch"
    done
done

# the tests, two at a time (each is one thread); results gathered in order. A C test that runs
# a tool (test_malformed: tlm-info) finds it in TLM_BUILD: there, wrappers that run the
# cross-built tools under qemu.
jobs_dir=$(mktemp -d)
mkdir -p "$jobs_dir/tools"
for tool in "$TLM_BUILD"/tlm-*; do
    printf '#!/bin/sh\nexec %s -cpu max %s "$@"\n' "$QEMU" "$tool" > "$jobs_dir/tools/${tool##*/}"
    chmod +x "$jobs_dir/tools/${tool##*/}"
done
list=()
# the longest under emulation first (their seconds in the last CI: 201, 171, 140, 64, 58), so
# that the other tests fill the second slot instead of leaving one idle at the end
slow=" test_quant_b32 test_attention_rows test_quant_matmul test_api test_matmul "
all=$(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort)
ordered=()
for s in $slow; do ordered+=($(printf '%s\n' $all | grep "/$s\$")); done
for t in $all; do [[ $slow == *" $(basename "$t") "* ]] || ordered+=("$t"); done
for t in "${ordered[@]}"; do
    case $(basename "$t") in
        test_dispatch) continue ;;
        test_tokenizer) continue ;; # bounds its own encoding time: meaningless under emulation
        test_weights_memory) continue ;; # measures resident memory: under qemu-user, the emulator's
        test_matmul|test_attention_rows) isa=neon ;;
        *) isa="" ;;
    esac
    list+=("$t|$isa")
done
printf '%s\n' "${list[@]}" | xargs -P 2 -I{} bash -c '
    t=${1%|*}; isa=${1#*|}; name=$(basename "$t")
    t0=$SECONDS
    out=$(env ${isa:+TLM_ISA=$isa} TLM_BUILD="$2/tools" timeout 1800 '"$QEMU"' -cpu max "$t" 2>&1)
    echo $? > "$2/$name.rc"
    echo $((SECONDS - t0)) > "$2/$name.sec"
    printf "%s\n" "$out" > "$2/$name.out"' _ {} "$jobs_dir"
for entry in "${list[@]}"; do
    t=${entry%|*}; isa=${entry#*|}; name=$(basename "$t")
    rc=$(cat "$jobs_dir/$name.rc" 2>/dev/null || echo 1)
    out=$(cat "$jobs_dir/$name.out" 2>/dev/null)
    [ "$rc" -ne 0 ] && printf '%s\n' "$out" | tail -n 20
    tally "$name -cpu max${isa:+ TLM_ISA=$isa}" "$rc" "$out" "$(cat "$jobs_dir/$name.sec" 2>/dev/null)"
done
rm -rf "$jobs_dir"

t0=$SECONDS
out=$(TLM_QEMU="$QEMU" "$PY" tests/arm64/test_stories_levels.py 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 20
tally test_stories_levels $rc "$out" $((SECONDS - t0))

t0=$SECONDS
out=$(TLM_RUN="$QEMU -cpu max" "$PY" tests/test_architectures.py 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 30
tally "test_architectures -cpu max" $rc "$out" $((SECONDS - t0))

out=$(bash tests/arm64/macos_link.sh 2>&1); rc=$?
[ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 20
tally test_macos_link $rc "$out"

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
