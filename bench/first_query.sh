#!/bin/sh
# bench/first_query.sh: the first query of a new connection, with the packed code blocks
# against the rows (the path before them), and whole `duch query` processes (issue 9).
#   make bench-first-query              (from the build folder), or
#   bench/first_query.sh BUILDDIR [N]   N synthetic tiles, default 10000000
# Environment: BENCH_DIR (default /tmp/duch_bench; the 10M archive takes 2.7 GB and
# about 10 minutes to build once, then it is reused), RUNS (default 7).
set -eu
builddir=${1:-.}
n=${2:-10000000}
dir=${BENCH_DIR:-/tmp/duch_bench}
mkdir -p "$dir"
here=$(cd "$(dirname "$0")" && pwd)
archive="$dir/first_query_$n.sqlite"
[ -x "$builddir/bench/first_query" ] || { echo "first_query.sh: build bench/first_query first (make bench-first-query)" >&2; exit 1; }
[ -f "$archive.done" ] || sh "$here/first_query_archive.sh" "$builddir" "$n" "$archive"
# the duch a user runs: the installed one (make install) when there is one
bin=${DUCH_BIN:-$builddir/install/bin/duch}
[ -x "$bin" ] || bin="$builddir/duch"
echo "duch binary: $bin"
export DUCH_MODEL_LIB="${DUCH_MODEL_LIB:-$builddir/.libs/libduch_model.so}"
echo "duch first-query benchmark: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$builddir/bench/first_query" --archive "$archive" --mod-duch "$builddir/.libs/mod_duch.so" \
    --duch "$bin" --runs "${RUNS:-7}"
