# tests/cli_common.sh: what the shell tests of duch's front ends share (sourced, with
# top_srcdir and top_builddir from the test environment, tests/local.mk's
# AM_TESTS_ENVIRONMENT):
#   duch, model       the built duch and the test model (DUCH_DEFAULT_MODEL)
#   tmp               a temporary folder, removed at exit (read-only parts included)
#   skip MSG          exit 77 (automake's SKIP) saying what is missing
#   need_model        skip unless the test model is there
#   need_tools T...   skip unless each program T is installed
#   fail MSG          stop the test: it failed
#   sq DB SQL         one sqlite3 query
# Tests that go on after a failure, counting (the GDAL driver's): bad MSG records one in
# $failed; refused WHAT PATTERN CMD... runs CMD, which must fail with output matching
# PATTERN; run WHAT CMD... runs CMD, which must succeed. They end with exit "$failed".
set -u
: "${top_builddir:?}"
duch="$top_builddir/duch"
model=${DUCH_DEFAULT_MODEL:-}
export DUCH_QUIET=1
tmp=$(mktemp -d) || exit 99
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

skip() { echo "SKIP: $*"; exit 77; }
need_model() { [ -n "$model" ] && [ -f "$model" ] || skip "no model at '$model' (DUCH_DEFAULT_MODEL)"; }
need_tools() {
    for t; do command -v "$t" >/dev/null 2>&1 || skip "$t not installed"; done
}
fail() { echo "FAIL: $*" >&2; exit 1; }
sq() { sqlite3 "$1" "$2"; }

failed=0
bad() { echo "FAIL: $*"; failed=1; }
run() {
    what=$1; shift
    "$@" >"$tmp/out" 2>&1 || { bad "$what: exit status $?"; cat "$tmp/out"; }
}
refused() {
    what=$1 pattern=$2; shift 2
    if "$@" >"$tmp/out" 2>&1; then
        bad "$what: succeeded"; cat "$tmp/out"
    elif ! grep -q -- "$pattern" "$tmp/out"; then
        bad "$what: no message matching '$pattern'"; cat "$tmp/out"
    fi
}
