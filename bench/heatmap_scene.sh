#!/bin/sh
# Heat map of one big scene (issue 14): a SIDE x SIDE raster (default 40000), made as a
# GDAL VRT that resamples a real scene of ../shared/data (nothing is written but the
# VRT), indexed with --tile-size 256 --overlap 128 (step 128 px), then:
#   duch query ARCHIVE TEXT --heatmap     (every tile scored, cells at the step, COG)
#   gdal_translate DUCH:ARCHIVE -oo QUERY (the same through the GDAL driver)
#   duch query --regions                  (GEOS-merged hit tiles)
#   duch query --heatmap --quicklook      (the heat map over the scene, 1024 px PNG)
# each timed with its peak memory (/usr/bin/time), next to the baseline of the same run:
# duch query -k 10 on the same archive (the query alone, top 10 of all codes).
#
# usage: bench/heatmap_scene.sh [BUILD] [SIDE]     (make bench-heatmap)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
side=${2:-40000}
src=$top/../shared/data/scenes/ucm_mosaic.tif
[ -f "$src" ] || { echo "needs $src"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DUCH_MODEL_LIB=${DUCH_MODEL_LIB:-$build/.libs/libduch_model.so}
export GDAL_DRIVER_PATH=$build/.libs
duch=$build/duch
model=${MODEL:-$top/model/default.duchm}
gdal_translate -q -of VRT -outsize "$side" "$side" -r bilinear "$src" "$tmp/big.vrt"
echo "scene: $side x $side px (VRT over ucm_mosaic.tif), tile 256 px, overlap 128 (step 128)"
t0=$(date +%s.%N)
"$duch" index -q --model "$model" --tile-size 256 --overlap 128 "$tmp/a.sqlite" "$tmp/big.vrt"
t1=$(date +%s.%N)
tiles=$(sqlite3 "$tmp/a.sqlite" "SELECT count(*) FROM tiles")
printf 'indexed %s tiles in %.1f s\n' "$tiles" "$(echo "$t1 - $t0" | bc)"
run() { # label, command...: wall seconds and peak RSS, best of 3 runs
    label=$1; shift
    best=""; rss=""
    for i in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
        read -r s kb <"$tmp/time"
        if [ -z "$best" ] || [ "$(echo "$s < $best" | bc)" = 1 ]; then best=$s; rss=$kb; fi
    done
    printf '%-50s %7.2f s  %7.1f MB peak RSS\n' "$label" "$best" "$(echo "$rss / 1024" | bc -l)"
}
run "baseline: duch query -k 10" "$duch" query -q -k 10 "$tmp/a.sqlite" "river"
base=$best
run "duch query --heatmap (COG)" "$duch" query -q -k 10 "$tmp/a.sqlite" "river" --heatmap "$tmp/h.tif"
heat=$best
run "gdal_translate DUCH: -oo QUERY (GeoTIFF)" gdal_translate -q "DUCH:$tmp/a.sqlite" -oo QUERY=river "$tmp/h2.tif"
run "duch query --regions (GeoPackage)" "$duch" query -q -k 10 "$tmp/a.sqlite" "river" --regions "$tmp/r.gpkg"
run "duch query --heatmap --quicklook (1024 px PNG)" "$duch" query -q -k 10 "$tmp/a.sqlite" "river" --heatmap "$tmp/h.tif" --quicklook "$tmp/h.png"
gdalinfo "$tmp/h.tif" | grep -E '^Size is'
printf 'regions: %s\n' "$(ogrinfo -q -sql 'SELECT count(*) FROM regions' "$tmp/r.gpkg" | grep -o '= [0-9]*' | head -1)"
printf 'heat map / query alone: %.1fx the time\n' "$(echo "$heat / $base" | bc -l)"
