#!/bin/sh
# The test command: install dependencies (as root), build, and run `make check`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
build=$("$top/scripts/build.sh")
cd "$build"
rc=0
make -j"$(nproc)" check || rc=$?
# One plain summary line from the automake harness's results.
results=$(find . -name '*.trs' -exec cat {} + 2>/dev/null | grep '^:test-result:' || true)
pass=$(printf '%s\n' "$results" | grep -c ' PASS' || true)
fail=$(printf '%s\n' "$results" | grep -cE ' (FAIL|ERROR|XPASS)' || true)
skip=$(printf '%s\n' "$results" | grep -c ' SKIP' || true)
if [ "$rc" != 0 ]; then
    find . -name 'test-suite.log' -exec cat {} + 2>/dev/null | tail -n 200
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
