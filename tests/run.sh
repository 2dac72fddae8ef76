#!/usr/bin/env bash
# Runs every test program and Python check, then prints one total line
# "total: N passed, N failed, N skipped". Each test prints its own
# "test_NAME: N passed, N failed, N skipped" line (tests/harness.h, tests/testlib.py).
#
# A test fails, whatever its own line says, when it exits non-zero, crashes (a signal), prints
# no such line, or when a sanitizer report appears in its output. Sanitizers exit with their
# own code, SANITIZER_EXIT (66), never the 1 or 2 a tool uses to refuse its input, so a
# "must refuse" check cannot pass on a sanitizer report or a leak (tests/testlib.py watches
# every tool the Python tests run; C tests compare exact exit codes). With CI set (CI=true,
# as .ci/run does), a test whose data or dependency is missing fails instead of skipping.
# Each test's line ends with the seconds it took (what CI's time budget is made of).
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
PY=${TLM_PYTHON:-/usr/bin/python3}
export TLM_BUILD=$(cd "$build" && pwd)
export TLM_SHARED=${TLM_SHARED:-$(cd "$here/../.." && pwd)/shared}
export TLM_SANITIZER_EXIT=66
# appended last, so they win over the same options given by the caller
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=$TLM_SANITIZER_EXIT"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=$TLM_SANITIZER_EXIT"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=$TLM_SANITIZER_EXIT:print_stacktrace=1"
# what ASan, LeakSanitizer and UBSan print (tests/testlib.py looks for the same)
report='ERROR: (Address|Leak)Sanitizer|SUMMARY: UndefinedBehaviorSanitizer|^[^ ]+:[0-9]+:[0-9]+: runtime error: |==[0-9]+==ERROR: '
passed=0 failed=0 skipped=0

tally() {  # name, exit code, output, seconds it took
    local line p f s why=""
    line=$(printf '%s\n' "$3" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ "$2" -eq "$TLM_SANITIZER_EXIT" ]; then why="exit $2: a sanitizer report"
    elif [ "$2" -gt 128 ]; then why="killed by signal $(($2 - 128))"
    elif printf '%s\n' "$3" | grep -qE "$report"; then why="a sanitizer report in its output"
    fi
    if [ -n "$why" ]; then
        printf '%s\n' "$3" | grep -E "$report" | head -n 5
        echo "FAIL $1: $why"
    fi
    if [ -z "$line" ]; then
        echo "FAIL $1: no result line (exit $2)"; failed=$((failed + 1)); return
    fi
    p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    if { [ "$2" -ne 0 ] || [ -n "$why" ]; } && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    echo "$line ($4 s)"
}

for t in $(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort); do
    t0=$SECONDS
    out=$("$t" 2>&1); rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 30
    tally "$(basename "$t")" $rc "$out" $((SECONDS - t0))
done
for t in $(ls "$here"/test_*.py 2>/dev/null | sort); do
    t0=$SECONDS
    out=$("$PY" "$t" 2>&1); rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 40
    tally "$(basename "$t")" $rc "$out" $((SECONDS - t0))
done
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
