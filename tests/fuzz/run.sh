#!/usr/bin/env bash
# Runs every libFuzzer target built by `make fuzz` for a bounded time, JOBS at a time (each
# fuzzer is one process on one core), from the seeds of tests/fuzz/seeds.c and
# tests/fuzz/seeds_arch.py. Prints one line per target (execs, coverage, corpus, crashes), the
# sums, and a last line "total: N passed, M failed, K skipped" counting targets. Any crash,
# leak, sanitizer report or timeout fails; so do missing seeds or vocabularies under CI
# (CI=true), which elsewhere only skip. The input is kept to reproduce with
#     BUILD/fuzz/fuzz_NAME BUILD/fuzz-out/crashes/fuzz_NAME-crash-...
# Usage: tests/fuzz/run.sh [BUILD [SECONDS [JOBS]]]
set -u
build=${1:-build-fuzz}
secs=${2:-60}
jobs=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
export TLM_SHARED=${TLM_SHARED:-$(cd "$here/../../.." && pwd)/shared}
export OMP_NUM_THREADS=1
# Scalar kernels: ASan does not see a read past a buffer inside AVX-512 masked loads, and the
# scalar references read every element they are given.
export TLM_ISA=${TLM_ISA:-ref}
out="$build/fuzz-out"
rm -rf "$out"
mkdir -p "$out/corpus" "$out/crashes" "$out/logs"
"$build/fuzz/seeds" "$out/seeds" || { echo "fuzz: cannot write seeds"; exit 1; }
in_ci() { case "${CI:-}" in ""|0|false|no) return 1 ;; *) return 0 ;; esac; }
missing_failed=0
if ! "${TLM_PYTHON:-/usr/bin/python3}" "$here/seeds_arch.py" "$out/seeds"; then
    echo "fuzz: no per-family model seeds (seeds_arch.py needs NumPy)"
    if in_ci; then echo "FAIL fuzz: seeds missing under CI"; missing_failed=1; fi
fi

targets=()
for f in "$build"/fuzz/fuzz_*; do
    [ -x "$f" ] && targets+=("$(basename "$f")")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $build/fuzz"; exit 1; }

run_one() {  # target
    local t=$1
    mkdir -p "$out/corpus/$t" "$out/seeds/$t"
    "$build/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
        -rss_limit_mb=3072 -artifact_prefix="$out/crashes/$t-" \
        "$out/corpus/$t" "$out/seeds/$t" >"$out/logs/$t.log" 2>&1
    echo $? >"$out/logs/$t.rc"
}

start=$(date +%s)
running=0
for t in "${targets[@]}"; do
    if [ "$t" = fuzz_tokenize ] && [ ! -d "$TLM_SHARED/vocab" ]; then
        echo skip >"$out/logs/$t.rc"
        continue
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

total_execs=0 total_crashes=0 ran=0 skipped=0 bad_targets=0 crashed=0
for t in "${targets[@]}"; do
    rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
    if [ "$rc" = skip ]; then
        if in_ci; then
            echo "FAIL $t: no vocabularies under $TLM_SHARED/vocab (CI)"
            bad_targets=$((bad_targets + 1))
        else
            echo "$t: skipped (no vocabularies under $TLM_SHARED/vocab)"
            skipped=$((skipped + 1))
        fi
        continue
    fi
    log="$out/logs/$t.log"
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    t_secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
    n_corpus=$(ls "$out/corpus/$t" | wc -l)
    crashes=$(ls "$out/crashes" | grep -c "^$t-" || true)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    printf '%s: %s execs in %s s, coverage %s, corpus %s, %s crashes\n' "$t" "${execs:-0}" \
        "${t_secs:-?}" "${cov:-?}" "$n_corpus" "$crashes"
    if [ "$crashes" -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|invariant|runtime error|==[0-9]+==|#[0-9]+ 0x' "$log" | head -n 40
    fi
    total_execs=$((total_execs + ${execs:-0}))
    total_crashes=$((total_crashes + crashes))
    [ "$crashes" -ne 0 ] && crashed=$((crashed + 1))
    ran=$((ran + 1))
done
echo "fuzz: $ran targets run ($skipped skipped), $total_execs execs, $total_crashes crashes," \
     "$(( $(date +%s) - start )) s"
# a target passes when it ran its time without a crash (tests/run.sh's total format)
bad_targets=$((bad_targets + crashed + missing_failed))
echo "total: $((ran - crashed)) passed, $bad_targets failed, $skipped skipped"
[ "$bad_targets" -eq 0 ]
