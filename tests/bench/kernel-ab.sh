#!/usr/bin/env bash
# tests/bench/kernel-ab.sh - A/B of the quantized decode kernels of two source trees, timed in
# turns in one process (kernel_ab.c), so that the machine's drift hits both alike. A
# developer's benchmark, never run by the suite; it lives under tests/ because it links the
# kernels' own objects, which tools/ (the public API only) may not.
#
#   tests/bench/kernel-ab.sh A B [TYPE...]
# A and B: a git revision of this repository, or "." for the working tree. TYPEs (default:
# every one) from q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q2_k q3_k q4_k q5_k q6_k iq4_xs. For each
# type three lines: 2 threads streaming (5632 x 2048 x 8 matrices, past the L3), 1 thread
# streaming, 1 thread in L2 (192 x 2048); KAB_REPS turns each (15; in L2 ten times that).
# KAB_TOKENS (default 1) tokens a call: above 1 the small-batch (gemm) kernels.
# x86 only (the kernels this CPU runs); nothing else may run meanwhile.
#
# Each tree's kernels/ are built (make, the Makefile's flags) into $KAB_DIR (default
# /tmp/kernel-ab), linked into one relocatable object, and every symbol made local but
# tlm_kernels_get, tlm_il_group and tlm_il_rows, renamed A_... / B_... (and A's reference
# quantizers): two builds of the same names in one program.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '6,13p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${KAB_DIR:-/tmp/kernel-ab}
reps=${KAB_REPS:-15}
tokens=${KAB_TOKENS:-1}
rev_a=$1 rev_b=$2
shift 2
types=${*:-q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q2_k q3_k q4_k q5_k q6_k iq4_xs}
mkdir -p "$dir"

side() { # name rev: the tree's kernels as $dir/name.o
    local name=$1 rev=$2 src=$dir/src-$1
    if [ "$rev" = . ]; then
        src=$repo
    else
        rm -rf "$src" && mkdir -p "$src"
        git -C "$repo" archive "$rev" | tar -x -C "$src"
    fi
    local objs
    objs=$(cd "$src" && ls kernels/*.c | grep -v -E '_(neon|dotprod|i8mm)\.c$' |
        sed "s|^|$dir/build-$name/|; s|\.c\$|.o|")
    make -s -C "$src" BUILD="$dir/build-$name" -j"$(nproc)" $objs
    ld -r -o "$dir/$name.o" $objs
    local keep=(-G "${name}_kernels_get" -G "${name}_il_group" -G "${name}_il_rows")
    if [ "$name" = A ]; then
        for q in q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q2_K q3_K q4_K q5_K q6_K iq4_xs; do
            keep+=(-G "tlm_quantize_${q}_ref")
        done
    fi
    objcopy --redefine-sym tlm_kernels_get="${name}_kernels_get" \
        --redefine-sym tlm_il_group="${name}_il_group" \
        --redefine-sym tlm_il_rows="${name}_il_rows" "${keep[@]}" "$dir/$name.o"
}

side A "$rev_a"
side B "$rev_b"
cc -std=c11 -O2 -fopenmp -I"$repo/kernels" -o "$dir/kernel_ab" "$here/kernel_ab.c" \
    "$dir/A.o" "$dir/B.o" -lm
echo "A = $rev_a, B = $rev_b; median of $reps turns each"
status=0
for t in $types; do
    "$dir/kernel_ab" "$t" "$reps" 5632 2048 8 2 "$tokens" || status=1
    "$dir/kernel_ab" "$t" "$reps" 5632 2048 8 1 "$tokens" || status=1
    "$dir/kernel_ab" "$t" $((reps * 10)) 192 2048 1 1 "$tokens" || status=1
done
exit $status
