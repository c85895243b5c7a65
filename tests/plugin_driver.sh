#!/bin/sh
# The GDAL driver gdal_DUCH.so without a model: registration and documentation of its
# options, no libtorch in its links, Identify that leaves plain files other than duch
# archives to GDAL's own drivers, and clear errors for bad creation and open options (all
# checked before any model is loaded or any file created).
. "${top_srcdir:?}/tests/cli_common.sh"
: "${GDAL_DRIVER_PATH:?}"
plugin=${DUCH_GDAL_PLUGIN:-$top_builddir/.libs/gdal_DUCH.so}
need_tools gdalinfo ogrinfo gdal_translate gdal_create ogr2ogr gdalmanage ldd nm
[ -f "$plugin" ] || fail "$plugin was not built"
export GDAL_DRIVER_PATH
# Not a model: options must be refused before any model is loaded.
DUCH_MODEL_LIB=/nonexistent/libduch_model.so
DUCH_DEFAULT_MODEL=/nonexistent/default.duchm
export DUCH_MODEL_LIB DUCH_DEFAULT_MODEL
# expect_error WHAT PATTERN COMMAND...: the command fails and its output matches PATTERN.
expect_error() { refused "$@"; }

# --- registration and option lists
gdalinfo --formats >"$tmp/formats" 2>&1 || bad "gdalinfo --formats failed"
grep -q '^ *DUCH -raster,vector- (rw' "$tmp/formats" || { bad "gdalinfo --formats does not list DUCH"; cat "$tmp/formats"; }
grep -qi 'error' "$tmp/formats" && { bad "gdalinfo --formats printed an error"; grep -i error "$tmp/formats"; }
gdalinfo --format DUCH >"$tmp/fmt" 2>&1 || bad "gdalinfo --format DUCH failed"
for opt in MODEL TILE_SIZE OVERLAP BANDS MIN_VALID ALLOW_PIXEL THREADS APPEND_SUBDATASET \
           QUERY IMAGE K BBOX; do
    grep -q "<Option name=\"$opt\"" "$tmp/fmt" || bad "gdalinfo --format DUCH does not document $opt"
done
grep -q '<CreationOptionList>' "$tmp/fmt" || bad "no creation option list"
grep -q '<OpenOptionList>' "$tmp/fmt" || bad "no open option list"
grep -q 'Connection prefix: DUCH:' "$tmp/fmt" || bad "no connection prefix DUCH:"
grep -q 'Supports: CreateCopy()' "$tmp/fmt" || bad "CreateCopy not advertised"
grep -q 'Supports: Vector' "$tmp/fmt" || bad "vector capability not advertised"

# --- links: libduch and GDAL, never libtorch nor the model library (dlopen'ed on use)
ldd "$plugin" >"$tmp/ldd" 2>&1 || bad "ldd $plugin failed"
grep -Eqi 'torch|libc10|duch_model' "$tmp/ldd" && { bad "$plugin links libtorch / the model library:"; cat "$tmp/ldd"; }
grep -q 'not found' "$tmp/ldd" && { bad "$plugin has unresolved libraries:"; cat "$tmp/ldd"; }
grep -q 'libduch\.so' "$tmp/ldd" || bad "$plugin does not link libduch"
# Only the entry point GDAL looks for is exported (C functions and C++ classes hidden).
nm -D --defined-only "$plugin" | awk '$2 ~ /^[TDRB]$/ {print $3}' | grep -v '^_' >"$tmp/syms"
[ "$(cat "$tmp/syms")" = GDALRegister_DUCH ] || { bad "exported symbols:"; cat "$tmp/syms"; }

# --- Identify: plain files that are not duch archives stay with GDAL's own drivers
gdal_create -q -of GTiff -outsize 64 64 -bands 3 -burn 7 -a_srs EPSG:32610 \
    -a_ullr 500000 4200000 500019.2 4199980.8 "$tmp/scene.tif" || bad "gdal_create failed"
printf '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}' >"$tmp/p.geojson"
ogr2ogr -q -f SQLite -dsco SPATIALITE=YES "$tmp/plain.sqlite" "$tmp/p.geojson" || bad "ogr2ogr -f SQLite failed"
ogrinfo -ro -so "$tmp/plain.sqlite" >"$tmp/out" 2>&1 || bad "ogrinfo plain.sqlite failed"
grep -q "using driver \`SQLite'" "$tmp/out" || { bad "plain.sqlite is not opened by the SQLite driver"; cat "$tmp/out"; }
gdalinfo "$tmp/scene.tif" >"$tmp/out" 2>&1 && grep -q '^Driver: GTiff' "$tmp/out" || { bad "scene.tif not opened by GTiff"; cat "$tmp/out"; }
gdalmanage identify "$tmp/plain.sqlite" | grep -q ': SQLite$' || bad "gdalmanage identify plain.sqlite is not SQLite"
gdalmanage identify "$tmp/scene.tif" | grep -q ': GTiff$' || bad "gdalmanage identify scene.tif is not GTiff"

# --- open options, checked before the archive is touched
a="DUCH:$tmp/plain.sqlite"
expect_error "no QUERY/IMAGE" "give the open option QUERY=text or IMAGE=raster" ogrinfo -ro "$a"
expect_error "QUERY and IMAGE" "QUERY and IMAGE exclude each other" ogrinfo -ro "$a" -oo QUERY=river -oo IMAGE="$tmp/scene.tif"
expect_error "K=-1" "K=-1 is not an integer in \[1, 1000000\]" ogrinfo -ro "$a" -oo QUERY=river -oo K=-1
expect_error "K=abc" "K=abc is not an integer" ogrinfo -ro "$a" -oo QUERY=river -oo K=abc
expect_error "K=0" "K=0 is not an integer" ogrinfo -ro "$a" -oo QUERY=river -oo K=0
expect_error "BBOX 3 numbers" "BBOX=1,2,3: box .1,2,3. is not minx,miny,maxx,maxy" ogrinfo -ro "$a" -oo QUERY=river -oo BBOX=1,2,3
expect_error "BBOX text" "BBOX=a,b,c,d: box .a,b,c,d. is not minx,miny,maxx,maxy" ogrinfo -ro "$a" -oo QUERY=river -oo BBOX=a,b,c,d
expect_error "BBOX empty" "BBOX=10,10,5,20: empty box 10,10,5,20" ogrinfo -ro "$a" -oo QUERY=river -oo BBOX=10,10,5,20
expect_error "BBOX NaN" "must be 4 finite numbers" ogrinfo -ro "$a" -oo QUERY=river -oo BBOX=nan,1,2,3
expect_error "BBOX not degrees" "outside longitude" ogrinfo -ro "$a" -oo QUERY=river -oo BBOX=500000,4100000,600000,4200000
expect_error "missing archive" "archive '$tmp/missing.sqlite' does not exist" ogrinfo -ro "DUCH:$tmp/missing.sqlite" -oo QUERY=river
expect_error "missing IMAGE" "IMAGE '$tmp/none.tif' does not exist" ogrinfo -ro "$a" -oo IMAGE="$tmp/none.tif"
expect_error "raster open without a query" "give the open option QUERY=text or IMAGE=raster" gdalinfo "$a"
expect_error "raster open, bad COMBINE" "COMBINE must be mean or max" gdalinfo "$a" -oo QUERY=river -oo COMBINE=sum

# --- creation: a source without a file, bad creation options; nothing is created
d="DUCH:$tmp/new.sqlite"
expect_error "VRT source (-b)" "has no file on disk" gdal_translate -q -of DUCH -b 1 "$tmp/scene.tif" "$d"
expect_error "TILE_SIZE" "TILE_SIZE=big is not an integer" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co TILE_SIZE=big
expect_error "OVERLAP" "OVERLAP=64 must be less than TILE_SIZE=64" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co TILE_SIZE=64 -co OVERLAP=64
expect_error "BANDS" "BANDS=1,x is not one or three" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co BANDS=1,x
expect_error "BANDS=1,2" "BANDS=1,2 is not one or three" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co BANDS=1,2
expect_error "BANDS=0" "BANDS=0 is not" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co BANDS=0
expect_error "MIN_VALID" "MIN_VALID=2 is not a fraction" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co MIN_VALID=2
# BANDS against the source's band count (3), strict booleans, MODEL, THREADS.
expect_error "BANDS=9" "BANDS=9 names band 9, but the scene has 3 bands" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co BANDS=9
expect_error "BANDS=3,2,4" "BANDS=3,2,4 names band 4, but the scene has 3 bands" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co BANDS=3,2,4
expect_error "ALLOW_PIXEL=MAYBE" "ALLOW_PIXEL=MAYBE is not a boolean (YES/NO, TRUE/FALSE, ON/OFF, 1/0)" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co ALLOW_PIXEL=MAYBE
expect_error "ALLOW_PIXEL=" "ALLOW_PIXEL= is not a boolean" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co ALLOW_PIXEL=
expect_error "APPEND_SUBDATASET=sure" "APPEND_SUBDATASET=sure is not a boolean" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co APPEND_SUBDATASET=sure
expect_error "MODEL missing" "MODEL '$tmp/none.duchm' does not exist" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co MODEL="$tmp/none.duchm"
expect_error "MODEL a folder" "MODEL '$tmp' is not a file" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co MODEL="$tmp"
expect_error "MODEL empty" "MODEL= is empty" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co MODEL=
expect_error "THREADS" "THREADS=-1 is not an integer in \[0, 4096\]" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co THREADS=-1
# The same checks for a plain destination name.
expect_error "BANDS=9 (plain name)" "BANDS=9 names band 9" gdal_translate -q -of DUCH "$tmp/scene.tif" "$tmp/new.sqlite" -co BANDS=9
expect_error "ALLOW_PIXEL=2 (plain name)" "ALLOW_PIXEL=2 is not a boolean" gdal_translate -q -of DUCH "$tmp/scene.tif" "$tmp/new.sqlite" -co ALLOW_PIXEL=2
for f in "$tmp/new.sqlite" "$tmp/new.sqlite-wal" "$tmp/new.sqlite-shm" "$tmp/new.sqlite-journal"; do
    [ -e "$f" ] && bad "a refused gdal_translate created $f"
done
# Every boolean spelling passes the option check (the run then stops at the missing model).
for v in YES no True false ON off 1 0; do
    expect_error "ALLOW_PIXEL=$v" "DUCH_MODEL_LIB\|DUCH_DEFAULT_MODEL" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d" -co ALLOW_PIXEL=$v
done
rm -f "$tmp/new.sqlite" "$tmp/new.sqlite-wal" "$tmp/new.sqlite-shm"
# Without a model library, indexing says how to find one.
expect_error "no model" "DUCH_MODEL_LIB\|DUCH_DEFAULT_MODEL" gdal_translate -q -of DUCH "$tmp/scene.tif" "$d"

[ "$failed" = 0 ] && echo "ok: DUCH driver registered, documented, no libtorch, plain files left to GDAL's drivers, option errors clear and before any file"
exit "$failed"
