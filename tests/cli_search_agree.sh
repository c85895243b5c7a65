#!/bin/sh
# One search engine (issue 9): duch query --bbox, the DUCH: layer's BBOX and duch_knn
# return the same tiles as a brute force over the exact footprint boxes, for boxes that
# cut through tiles, touch their edges, miss them by one ulp; with the packed code
# blocks, with the rows (blocks stale after other SQL), after duch optimize, and for the
# GeoPackage geometry forms of duch_knn. tests/search_agree.py does the comparing.
set -u
: "${top_builddir:?}" "${top_srcdir:?}" "${GDAL_DRIVER_PATH:?}"
model=${DUCH_DEFAULT_MODEL:-}
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model at '$model'"; exit 77; }
scene=${DUCH_SHARED_DATA:-}/scenes/ucm_mosaic.tif
[ -f "$scene" ] || { echo "SKIP: no $scene (../shared/data)"; exit 77; }
py=/usr/bin/python3; [ -x "$py" ] || py=python3
export GDAL_DRIVER_PATH DUCH_QUIET=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# two overlapping crops of the held-out mosaic (made here, never stored in the project)
gdal_translate -q -srcwin 0 0 1024 768 "$scene" "$tmp/s1.tif" || { echo "FAIL: gdal_translate"; exit 1; }
gdal_translate -q -srcwin 640 384 1024 768 "$scene" "$tmp/s2.tif" || { echo "FAIL: gdal_translate"; exit 1; }
"$top_builddir/duch" index -q --model "$model" "$tmp/a.sqlite" "$tmp/s1.tif" "$tmp/s2.tif" ||
    { echo "FAIL: duch index"; exit 1; }
modsp=$(ls /usr/lib/*/mod_spatialite.so 2>/dev/null | head -n 1)
[ -n "$modsp" ] || modsp=mod_spatialite
exec "$py" "$top_srcdir/tests/search_agree.py" "$tmp/a.sqlite" "$modsp" \
    "$top_builddir/.libs/mod_duch.so" "$top_builddir/duch"
