#!/bin/sh
# bench/knn.sh: duch_knn vs sqlite-vec, and the Hamming kernels (not part of make check).
#   make bench-knn                      (from the build folder), or
#   bench/knn.sh BUILDDIR [SIZES]       SIZES default 1000000,10000000
# Environment: BENCH_DIR (where the test databases and sqlite-vec go; default
# /tmp/duch_bench, about 1 GB for 10M codes), QUERIES (default 50).
set -e
builddir=${1:-.}
sizes=${2:-1000000,10000000}
dir=${BENCH_DIR:-/tmp/duch_bench}
mkdir -p "$dir"
vec0="$dir/npm/node_modules/sqlite-vec-linux-x64/vec0.so"
if [ ! -f "$vec0" ]; then
    command -v npm >/dev/null || { echo "knn.sh: npm is needed to install sqlite-vec" >&2; exit 1; }
    echo "installing sqlite-vec 0.1.9 (npm package sqlite-vec-linux-x64) into $dir/npm" >&2
    npm install --silent --prefix "$dir/npm" sqlite-vec-linux-x64@0.1.9 >&2
fi
mod="$builddir/.libs/mod_duch.so"
[ -f "$mod" ] || { echo "knn.sh: $mod not built (make first)" >&2; exit 1; }
[ -x "$builddir/bench/knn_bench" ] || { echo "knn.sh: build bench/knn_bench first (make bench-knn)" >&2; exit 1; }
echo "duch knn benchmark: $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)"
exec "$builddir/bench/knn_bench" --mod-duch "$mod" --vec0 "$vec0" --dir "$dir" \
    --sizes "$sizes" --queries "${QUERIES:-50}"
