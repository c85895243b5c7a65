#!/bin/sh
# The archive in stock tools: ogrinfo lists tiles and scenes, and QGIS (headless) opens
# the tiles layer and a hits layer saved by duch query --save, and renders them.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
duch="$top_builddir/duch"
model=${DUCH_DEFAULT_MODEL:-}
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model at '$model'"; exit 77; }
# QGIS's bindings belong to Debian's python3, whatever python3 is first on PATH.
py=/usr/bin/python3; [ -x "$py" ] || py=python3
"$py" -c 'import qgis.core' 2>/dev/null || { echo "SKIP: python3-qgis missing"; exit 77; }
export DUCH_QUIET=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for i in 1 2; do
    gdal_create -q -of GTiff -outsize 800 600 -bands 3 -ot Byte -burn $((60 * i)) -burn 120 -burn $((200 - 50 * i)) \
        -a_srs EPSG:32610 -a_ullr $((500000 + 1000 * i)) 4200000 $((500240 + 1000 * i)) 4199820 "$tmp/s$i.tif" ||
        fail gdal_create
done
"$duch" index -q --model "$model" "$tmp/a.sqlite" "$tmp/s1.tif" "$tmp/s2.tif" || fail "index"
saved=0
for word in trees buildings there a; do
    if "$duch" query "$tmp/a.sqlite" "$word" -k 5 --save hits >/dev/null 2>&1; then saved=1; break; fi
done
[ "$saved" = 1 ] || fail "query --save"
ogrinfo -ro -q "$tmp/a.sqlite" > "$tmp/ogr.txt" 2>&1 || fail "ogrinfo: $(cat "$tmp/ogr.txt")"
grep -q "tiles (Polygon)" "$tmp/ogr.txt" || fail "ogrinfo does not list tiles: $(cat "$tmp/ogr.txt")"
grep -q "scenes (Polygon)" "$tmp/ogr.txt" || fail "ogrinfo does not list scenes"
grep -q "hits (Polygon)" "$tmp/ogr.txt" || fail "ogrinfo does not list hits"
"$py" "$top_srcdir/tests/qgis_layers.py" "$tmp/a.sqlite" hits 5 "$tmp/map.png" "$word"
