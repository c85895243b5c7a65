#!/bin/sh
# plugin_load.sh: what gdal_DUCH.so costs every GDAL program at start-up.
#
# Scope: wall time of `gdalinfo --formats` (GDAL 3.6 loads every plugin at every start),
# with GDAL_DRIVER_PATH naming a folder that holds only gdal_DUCH.so, against the
# baseline of the same command with GDAL_DRIVER_PATH naming an empty folder. Runs are
# interleaved (baseline, plugin, baseline, ...) so drifts in machine load hit both alike.
# Prints mean and median per run, the difference and the ratio; the goal is a difference
# under 20 ms. A shell loop of interleaved runs; HYPERFINE=1 uses hyperfine instead (it
# runs each command in a block, which a busy machine skews more).
#
#   sh bench/plugin_load.sh [BUILDDIR] [RUNS]     (default: . and 30)
set -eu
builddir=${1:-.}
runs=${2:-30}
plugin=$(cd "$builddir" && pwd)/.libs/gdal_DUCH.so
[ -f "$plugin" ] || { echo "no $plugin: build first (make)" >&2; exit 1; }
command -v gdalinfo >/dev/null 2>&1 || { echo "gdalinfo not found" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/empty" "$tmp/with"
ln -s "$plugin" "$tmp/with/gdal_DUCH.so"
# The plugin must really load in the "with" runs (and nothing else must).
GDAL_DRIVER_PATH=$tmp/with gdalinfo --formats 2>&1 | grep -q '^ *DUCH ' ||
    { echo "gdal_DUCH.so does not load from $tmp/with" >&2; exit 1; }
GDAL_DRIVER_PATH=$tmp/empty gdalinfo --formats 2>&1 | grep -q '^ *DUCH ' &&
    { echo "DUCH is registered without the plugin" >&2; exit 1; }
echo "gdalinfo --formats, $runs runs each; GDAL $(gdal-config --version 2>/dev/null || echo '?')"
echo "plugin: $plugin ($(ldd "$plugin" | grep -c '=>') shared libraries, $(ldd "$plugin" | grep -ci torch) of them libtorch)"

if [ "${HYPERFINE:-0}" = 1 ] && command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N -w 3 -r "$runs" \
        -n baseline "env GDAL_DRIVER_PATH=$tmp/empty gdalinfo --formats" \
        -n with-DUCH "env GDAL_DRIVER_PATH=$tmp/with gdalinfo --formats"
    exit 0
fi

now_ns() { date +%s%N; }
one() { # DIR -> elapsed ns
    t0=$(now_ns)
    GDAL_DRIVER_PATH=$1 gdalinfo --formats >/dev/null 2>&1
    t1=$(now_ns)
    echo $((t1 - t0))
}
# Warm the page cache.
for _ in 1 2 3; do one "$tmp/empty" >/dev/null; one "$tmp/with" >/dev/null; done
i=0
while [ "$i" -lt "$runs" ]; do
    one "$tmp/empty" >>"$tmp/base.ns"
    one "$tmp/with" >>"$tmp/with.ns"
    i=$((i + 1))
done
stats() { # FILE -> "mean median" in ms
    sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%.1f %.1f\n", s / NR / 1e6, m / 1e6 }'
}
set -- $(stats "$tmp/base.ns"); base_mean=$1 base_med=$2
set -- $(stats "$tmp/with.ns"); with_mean=$1 with_med=$2
awk -v bm="$base_mean" -v bd="$base_med" -v wm="$with_mean" -v wd="$with_med" 'BEGIN {
    printf "%-34s mean %7.1f ms   median %7.1f ms\n", "baseline (no plugin):", bm, bd
    printf "%-34s mean %7.1f ms   median %7.1f ms\n", "with gdal_DUCH.so:", wm, wd
    printf "%-34s mean %+7.1f ms   median %+7.1f ms   ratio %.3f (medians)\n",
           "difference:", wm - bm, wd - bd, wd / bd
    printf "%s\n", (wd - bd < 20) ? "OK: under 20 ms" : "OVER the 20 ms budget"
}'
