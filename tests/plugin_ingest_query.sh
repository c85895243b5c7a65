#!/bin/sh
# The GDAL driver end to end with a model: gdal_translate -of DUCH indexes generated
# georeferenced GeoTIFFs (create, skip on rerun, append), the archive stays a
# SpatiaLite file for GDAL's SQLite driver, and DUCH:archive opens the hits of a text or
# image query in ogrinfo and ogr2ogr. Skips (77) without a model.
. "${top_srcdir:?}/tests/cli_common.sh"
: "${GDAL_DRIVER_PATH:?}"
need_tools gdalinfo ogrinfo gdal_translate gdal_create ogr2ogr
need_model
[ -n "${DUCH_MODEL_LIB:-}" ] && [ -f "$DUCH_MODEL_LIB" ] || fail "no model library (DUCH_MODEL_LIB=${DUCH_MODEL_LIB:-}): it is built with duch"
export GDAL_DRIVER_PATH DUCH_MODEL_LIB

# run WHAT COMMAND...: must succeed and print no error or warning.
run() {
    what=$1; shift
    if ! "$@" >"$tmp/out" 2>&1; then
        bad "$what: exit status $?"; cat "$tmp/out"
    elif grep -Eq 'ERROR|Warning' "$tmp/out"; then
        bad "$what: printed an error or warning"; cat "$tmp/out"
    fi
}
# sql FILE QUERY: one value through GDAL's SQLite driver (the archive as a plain file).
sql() {
    ogrinfo -ro -q "$1" -sql "$2" 2>/dev/null | sed -n 's/^ *[A-Za-z_(*)0-9]* ([A-Za-z0-9]*) = //p' | head -n 1
}
# features DATASET OPTIONS...: number of hits ogrinfo lists.
features() {
    ds=$1; shift
    ogrinfo -ro -al -q "$ds" "$@" 2>"$tmp/err" | grep -c '^OGRFeature(hits):'
}

# Two small scenes, 0.3 m pixels (the UCM ground resolution), UTM 10N, with texture.
# s1: 1024 x 1024 px; s2: 768 x 512 px, 1 km east. Tiles of 256 px: 16 + 6.
make_scene() { # NAME W H ULX SEED
    gdal_create -q -of GTiff -outsize "$2" "$3" -bands 3 -ot Byte -a_srs EPSG:32610 \
        -a_ullr "$4" 4200000 "$(awk "BEGIN{print $4 + $2 * 0.3}")" "$(awk "BEGIN{print 4200000 - $3 * 0.3}")" \
        -burn "$5" -burn "$(($5 * 3 % 256))" -burn "$(($5 * 7 % 256))" "$tmp/$1" || return 1
}
make_scene s1.tif 1024 1024 500000 40 || bad "gdal_create s1.tif failed"
make_scene s2.tif 768 512 501000 200 || bad "gdal_create s2.tif failed"
arch="$tmp/archive.sqlite"

# --- create
run "create" gdal_translate -of DUCH "$tmp/s1.tif" "$arch" -co MODEL="$model" -co TILE_SIZE=256
grep -q '100 - done' "$tmp/out" || { bad "no progress bar"; cat "$tmp/out"; }
[ -f "$arch" ] || bad "no archive created"
ogrinfo -ro -so "$arch" >"$tmp/plain" 2>&1
grep -q "using driver \`SQLite'" "$tmp/plain" || { bad "the archive is not opened by GDAL's SQLite driver"; cat "$tmp/plain"; }
n_scenes=$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")
n_tiles=$(sql "$arch" "SELECT COUNT(*) AS n FROM tiles")
[ "$n_scenes" = 1 ] || bad "scenes after create: '$n_scenes', expected 1"
[ "$n_tiles" = 16 ] || bad "tiles after create: '$n_tiles', expected 16 (1024/256 squared)"

# --- rerun into DUCH:archive: the scene is skipped, nothing added
gdal_translate -q -of DUCH "$tmp/s1.tif" "DUCH:$arch" --debug on >"$tmp/out" 2>&1 || { bad "rerun failed"; cat "$tmp/out"; }
grep -q 'already in the archive' "$tmp/out" || { bad "rerun: the scene was not reported as skipped"; cat "$tmp/out"; }
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM tiles")" = 16 ] || bad "rerun changed the tile count"

# --- append a second scene: DUCH: destination, and APPEND_SUBDATASET=YES on a plain name
run "append (DUCH:)" gdal_translate -q -of DUCH "$tmp/s2.tif" "DUCH:$arch" -co TILE_SIZE=256
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 2 ] || bad "append: scenes is not 2"
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM tiles")" = 22 ] || bad "append: tiles is not 16 + 6"
run "rerun (APPEND_SUBDATASET)" gdal_translate -q -of DUCH "$tmp/s2.tif" "$arch" -co APPEND_SUBDATASET=YES -co TILE_SIZE=256
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 2 ] || bad "APPEND_SUBDATASET: scenes is not 2"

# --- a model other than the stored one is refused
cp "$arch" "$tmp/copy.sqlite"
if gdal_translate -q -of DUCH "$tmp/s1.tif" "DUCH:$tmp/copy.sqlite" -co MODEL="$tmp/s1.tif" >"$tmp/out" 2>&1; then
    bad "a non-model MODEL was accepted"
fi
grep -q 'ERROR' "$tmp/out" || { bad "bad MODEL: no error message"; cat "$tmp/out"; }

# --- query: text
q="many buildings and green trees along a road"
n=$(features "DUCH:$arch" -oo QUERY="$q" -oo K=3)
[ "$n" = 3 ] || { bad "QUERY K=3 listed '$n' features"; cat "$tmp/err"; }
ogrinfo -ro -al "DUCH:$arch" -oo QUERY="$q" -oo K=3 >"$tmp/info" 2>&1
grep -q "using driver \`DUCH'" "$tmp/info" || bad "ogrinfo did not use the DUCH driver"
grep -q '^Geometry: Polygon' "$tmp/info" || bad "layer geometry is not Polygon"
grep -q '^Feature Count: 3' "$tmp/info" || bad "Feature Count is not 3"
grep -q 'ID\["EPSG",4326\]' "$tmp/info" || bad "layer SRS is not EPSG:4326"
for f in rank distance tile_id scene_id scene_path x_off y_off width height; do
    grep -q "^$f: " "$tmp/info" || bad "no field $f"
done
grep -q "scene_path (String) = .*/s[12].tif" "$tmp/info" || bad "scene_path does not name a scene"
grep -q '^  rank (Integer) = 1$' "$tmp/info" || bad "no rank 1"
grep -q '^  rank (Integer) = 3$' "$tmp/info" || bad "no rank 3"
# All 22 tiles when K is larger than the archive.
[ "$(features "DUCH:$arch" -oo QUERY="$q" -oo K=1000)" = 22 ] || bad "K=1000 does not list all 22 tiles"
# Default K is 10.
[ "$(features "DUCH:$arch" -oo QUERY="$q")" = 10 ] || bad "default K is not 10"
# Distances never decrease with the rank.
ogrinfo -ro -al -q "DUCH:$arch" -oo QUERY="$q" -oo K=22 2>/dev/null |
    sed -n 's/^  distance (Integer) = //p' >"$tmp/dist"
sort -n -c "$tmp/dist" 2>/dev/null || bad "distances are not in rank order"

# --- query: bounding box (EPSG:4326). s1 is near -123.0,37.947; s2 1 km east.
[ "$(features "DUCH:$arch" -oo QUERY="$q" -oo K=50 -oo BBOX=10,10,11,11)" = 0 ] || bad "a far BBOX returned hits"
[ "$(features "DUCH:$arch" -oo QUERY="$q" -oo K=50 -oo BBOX=-123.001,37.94,-122.996,37.95)" = 16 ] || bad "BBOX around s1 does not return its 16 tiles"
# An OGR spatial filter on the hits layer.
n=$(features "DUCH:$arch" -oo QUERY="$q" -oo K=50 -spat -123.001 37.94 -122.996 37.95)
[ "$n" = 16 ] || bad "-spat around s1 returned '$n' hits, expected 16"

# --- query by example: a tile's own scene
n=$(features "DUCH:$arch" -oo IMAGE="$tmp/s2.tif" -oo K=5)
[ "$n" = 5 ] || { bad "IMAGE K=5 listed '$n' features"; cat "$tmp/err"; }

# --- ogr2ogr to GeoJSON
run "ogr2ogr" ogr2ogr -f GeoJSON "$tmp/hits.geojson" "DUCH:$arch" -oo QUERY="$q" -oo K=3
grep -q '"type": "FeatureCollection"' "$tmp/hits.geojson" || bad "GeoJSON: no FeatureCollection"
[ "$(grep -c '"rank": ' "$tmp/hits.geojson")" = 3 ] || bad "GeoJSON: not 3 features"
grep -q '"type": "Polygon"' "$tmp/hits.geojson" || bad "GeoJSON: no polygon"
grep -q '"coordinates": \[ \[ \[ -12[23]\.' "$tmp/hits.geojson" || { bad "GeoJSON: coordinates are not lon/lat near -123"; head -c 600 "$tmp/hits.geojson"; }

# --- errors that need an archive
if ogrinfo -ro "DUCH:$arch" -oo QUERY="zzzqqq xxyyzz" >"$tmp/out" 2>&1; then bad "an out-of-vocabulary query succeeded"; fi
grep -q 'vocabulary' "$tmp/out" || { bad "out-of-vocabulary query: unclear error"; cat "$tmp/out"; }
if ogrinfo -ro "DUCH:$tmp/s1.tif" -oo QUERY="$q" >"$tmp/out" 2>&1; then bad "a GeoTIFF opened as an archive"; fi
grep -q 'ERROR' "$tmp/out" || bad "a GeoTIFF as archive: no error"

# --- tiler warnings reach GDAL as warnings (once hung: a CPLError inside the pipeline's
# warning callback went back into the tiler's GDAL error handler, under the pipeline's lock)
gdal_create -q -of GTiff -outsize 64 64 -bands 3 -burn 90 -a_srs EPSG:32610 \
    -a_ullr 500000 4200000 519200 4180800 "$tmp/coarse.tif" || bad "gdal_create coarse.tif failed"
to=; command -v timeout >/dev/null 2>&1 && to="timeout 300"
$to gdal_translate -q -of DUCH "$tmp/coarse.tif" "DUCH:$tmp/coarse.sqlite" -co MODEL="$model" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 0 ] || { bad "coarse scene: exit status $rc (124: hung)"; cat "$tmp/out"; }
grep -qE '^Warning 1: DUCH: .*coarse.tif: .*(coarser than the model|raised to the minimum)' "$tmp/out" || { bad "coarse scene: no warning"; cat "$tmp/out"; }

# --- a plain destination name that is an existing archive is refused, not replaced
# (more in tests/plugin_existing.sh)
if gdal_translate -q -of DUCH "$tmp/s2.tif" "$arch" -co MODEL="$model" -co TILE_SIZE=256 >"$tmp/out" 2>&1; then
    bad "plain name of an existing archive: succeeded"
fi
grep -q "DUCH:$arch" "$tmp/out" || { bad "plain name: no message naming DUCH:$arch"; cat "$tmp/out"; }
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 2 ] || bad "plain name: the archive no longer holds its 2 scenes"

[ "$failed" = 0 ] && echo "ok: gdal_translate -of DUCH indexes, skips, appends; DUCH: opens query hits in ogrinfo and ogr2ogr"
exit "$failed"
