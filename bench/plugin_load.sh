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
# one DIR FILE: append "wall_ns cpu_ms" of one run (cpu = user + sys, from GNU time when
# installed: less sensitive than wall time to other work on a busy machine).
if [ -x /usr/bin/time ]; then
    one() {
        t0=$(now_ns)
        GDAL_DRIVER_PATH=$1 /usr/bin/time -f '%U %S' -o "$tmp/cpu" gdalinfo --formats >/dev/null 2>&1
        t1=$(now_ns)
        echo "$((t1 - t0)) $(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$tmp/cpu")" >>"$2"
    }
else
    one() {
        t0=$(now_ns)
        GDAL_DRIVER_PATH=$1 gdalinfo --formats >/dev/null 2>&1
        t1=$(now_ns)
        echo "$((t1 - t0)) 0" >>"$2"
    }
fi
# Warm the page cache.
for _ in 1 2 3; do one "$tmp/empty" "$tmp/warm"; one "$tmp/with" "$tmp/warm"; done
i=0
while [ "$i" -lt "$runs" ]; do
    one "$tmp/empty" "$tmp/base.runs"
    one "$tmp/with" "$tmp/with.runs"
    i=$((i + 1))
done
stats() { # FILE COLUMN SCALE -> "mean median"
    awk -v c="$2" -v k="$3" '{ print $c / k }' "$1" | sort -n | awk '{ v[NR] = $1; s += $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%.1f %.1f\n", s / NR, m }'
}
set -- $(stats "$tmp/base.runs" 1 1e6) $(stats "$tmp/with.runs" 1 1e6) \
       $(stats "$tmp/base.runs" 2 1) $(stats "$tmp/with.runs" 2 1)
awk -v bm="$1" -v bd="$2" -v wm="$3" -v wd="$4" -v cb="$6" -v cw="$8" 'BEGIN {
    printf "%-22s wall: mean %7.1f ms  median %7.1f ms   cpu (user+sys) median %6.1f ms\n", "baseline (no plugin)", bm, bd, cb
    printf "%-22s wall: mean %7.1f ms  median %7.1f ms   cpu (user+sys) median %6.1f ms\n", "with gdal_DUCH.so", wm, wd, cw
    printf "%-22s wall: mean %+7.1f ms  median %+7.1f ms   cpu (user+sys) median %+6.1f ms\n", "difference", wm - bm, wd - bd, cw - cb
    printf "ratio of wall medians: %.3f\n", wd / bd
    printf "%s\n", (wd - bd < 20) ? "OK: under 20 ms" : "OVER the 20 ms budget"
}'
