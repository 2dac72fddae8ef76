#!/usr/bin/env bash
# Runs every test program and Python check, then prints one total "N passed, N failed" line.
# Each test prints its own "name: N passed, N failed[, N skipped]" line; a test that crashes
# or prints no such line counts as one failure.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
PY=${TLM_PYTHON:-/usr/bin/python3}
export TLM_BUILD=$(cd "$build" && pwd)
export TLM_SHARED=${TLM_SHARED:-$(cd "$here/../.." && pwd)/shared}
passed=0 failed=0 skipped=0

tally() {  # name, exit code, output
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
    echo "$line"
}

for t in $(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort); do
    out=$("$t" 2>&1); rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 30
    tally "$(basename "$t")" $rc "$out"
done
for t in $(ls "$here"/test_*.py 2>/dev/null | sort); do
    out=$("$PY" "$t" 2>&1); rc=$?
    [ $rc -ne 0 ] && printf '%s\n' "$out" | tail -n 40
    tally "$(basename "$t")" $rc "$out"
done
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
