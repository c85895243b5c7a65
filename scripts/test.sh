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
# The README's "Using it" lines, as written, against an installed duch (make install into
# the configured prefix, /usr/local: root), then make uninstall (and install again).
if [ "$rc" = 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        if make -s install >install.log 2>&1; then
            "$top/scripts/readme_check.sh" --uninstall "$build" || rc=1
        else
            tail -n 30 install.log
            echo "make install failed"
            rc=1
        fi
    else
        echo "readme check: skipped (make install into the prefix needs root)"
    fi
fi
exit "$rc"
