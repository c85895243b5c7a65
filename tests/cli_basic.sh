#!/bin/sh
# duch --help / --version / unknown commands behave.
set -u
: "${top_builddir:?}"
duch="$top_builddir/duch"
fail() { echo "FAIL: $*" >&2; exit 1; }
"$duch" --help | grep -q '^usage: duch' || fail "--help"
"$duch" --version | grep -q '^duch [0-9]' || fail "--version"
"$duch" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no command should exit 2"
out=$("$duch" frobnicate 2>&1); [ $? -eq 2 ] || fail "unknown command should exit 2"
echo "$out" | grep -q "unknown command 'frobnicate'" || fail "unknown command message: $out"
# every listed command has --help that exits 0
for c in $("$duch" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}'); do
    "$duch" "$c" --help >/dev/null || fail "duch $c --help"
done
echo ok
