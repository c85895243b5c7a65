#!/bin/sh
# The GDAL driver never loses an existing archive: gdal_translate -of DUCH to a plain file
# name that is a duch archive is refused with one message naming DUCH:<path> and
# -co APPEND_SUBDATASET=YES, and leaves the file byte for byte as it was (GDAL's
# CreateCopy deletes a plain destination first, through the driver that identifies it);
# DUCH:<path> and -co APPEND_SUBDATASET=YES append; a refused creation option leaves no
# file behind; the archive still opens with GDAL's SQLite driver. Skips (77) without a
# model.
. "${top_srcdir:?}/tests/cli_common.sh"
: "${GDAL_DRIVER_PATH:?}"
need_tools gdalinfo ogrinfo gdal_translate gdal_create ogr2ogr gdalmanage
need_model
[ -n "${DUCH_MODEL_LIB:-}" ] && [ -f "$DUCH_MODEL_LIB" ] || fail "no model library (DUCH_MODEL_LIB=${DUCH_MODEL_LIB:-}): it is built with duch"
export GDAL_DRIVER_PATH DUCH_MODEL_LIB DUCH_DEFAULT_MODEL
# run WHAT COMMAND...: must succeed; refused WHAT PATTERN COMMAND...: must fail with a
# message matching PATTERN (tests/cli_common.sh).
# sql FILE QUERY: one value through GDAL's SQLite driver (the archive as a plain file).
sql() {
    ogrinfo -ro -q "$1" -sql "$2" 2>/dev/null | sed -n 's/^ *[A-Za-z_(*)0-9]* ([A-Za-z0-9]*) = //p' | head -n 1
}
# rows FILE: every scene and tile row that matters, in a stable order.
rows() {
    ogrinfo -ro -q "$1" -sql "SELECT scene_id, path, checksum FROM scenes ORDER BY scene_id" 2>&1
    ogrinfo -ro -q "$1" -sql "SELECT tile_id, scene_id, x_off, y_off, width, height, hex(code) AS c FROM tiles ORDER BY tile_id" 2>&1
}
# no_files WHAT PATH: neither PATH nor its SQLite side files exist.
no_files() {
    for f in "$2" "$2-wal" "$2-shm" "$2-journal"; do
        [ -e "$f" ] && bad "$1: left $f behind"
    done
}
# unchanged WHAT: the archive is byte for byte the saved copy, and no side file is left.
unchanged() {
    cmp -s "$arch" "$tmp/saved.sqlite" || bad "$1: the archive changed"
    [ -e "$arch-wal" ] || [ -e "$arch-shm" ] && bad "$1: left a -wal or -shm file behind"
    [ "$(rows "$arch")" = "$saved_rows" ] || bad "$1: the archive's rows changed"
}

# Small georeferenced scenes (0.3 m pixels, UTM 10N), 512 x 512 px: 4 tiles of 256 each.
make_scene() { # NAME ULX SEED
    gdal_create -q -of GTiff -outsize 512 512 -bands 3 -ot Byte -a_srs EPSG:32610 \
        -a_ullr "$2" 4200000 "$(awk "BEGIN{print $2 + 153.6}")" 4199846.4 \
        -burn "$3" -burn "$(($3 * 3 % 256))" -burn "$(($3 * 7 % 256))" "$tmp/$1" || bad "gdal_create $1 failed"
}
make_scene s1.tif 500000 40; make_scene s2.tif 501000 80; make_scene s3.tif 502000 120
make_scene s4.tif 503000 160; make_scene s5.tif 504000 200
arch="$tmp/archive.sqlite"

# --- an archive of 3 scenes: a new plain name, DUCH:, a plain name with APPEND_SUBDATASET
run "create" gdal_translate -q -of DUCH "$tmp/s1.tif" "$arch" -co MODEL="$model" -co TILE_SIZE=256
run "append s2 (DUCH:)" gdal_translate -q -of DUCH "$tmp/s2.tif" "DUCH:$arch" -co TILE_SIZE=256
run "append s3 (APPEND_SUBDATASET)" gdal_translate -q -of DUCH "$tmp/s3.tif" "$arch" -co APPEND_SUBDATASET=YES -co TILE_SIZE=256
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 3 ] || bad "the archive does not hold 3 scenes"
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM tiles")" = 12 ] || bad "the archive does not hold 12 tiles"
cp "$arch" "$tmp/saved.sqlite"
saved_rows=$(rows "$arch")
echo "$saved_rows" | grep -q 's3.tif' || { bad "rows: no s3"; echo "$saved_rows"; }

# --- the plain name of an existing archive is refused, once, and nothing changes
refused "plain name" "DUCH:$arch" gdal_translate -q -of DUCH "$tmp/s4.tif" "$arch" -co TILE_SIZE=256
grep -q 'APPEND_SUBDATASET=YES' "$tmp/out" || { bad "plain name: the message does not name -co APPEND_SUBDATASET=YES"; cat "$tmp/out"; }
n=$(grep -c 'existing duch archive' "$tmp/out")
[ "$n" = 1 ] || { bad "plain name: the refusal was printed $n times, expected once"; cat "$tmp/out"; }
unchanged "plain name"
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 3 ] || bad "plain name: the archive no longer holds 3 scenes"
# The same with the option said out loud, and with a scene already in the archive.
refused "APPEND_SUBDATASET=NO" "DUCH:$arch" gdal_translate -q -of DUCH "$tmp/s4.tif" "$arch" -co APPEND_SUBDATASET=NO
unchanged "APPEND_SUBDATASET=NO"
refused "plain name, scene already in" "APPEND_SUBDATASET" gdal_translate -q -of DUCH "$tmp/s1.tif" "$arch"
unchanged "plain name, scene already in"
# A relative plain name too (GDAL deletes by the name as given).
(cd "$tmp" && gdal_translate -q -of DUCH s4.tif archive.sqlite) >"$tmp/out" 2>&1 && bad "relative plain name: succeeded"
grep -q "DUCH:archive.sqlite" "$tmp/out" || { bad "relative plain name: no message naming DUCH:archive.sqlite"; cat "$tmp/out"; }
unchanged "relative plain name"

# --- GDAL's other ways to delete it go to this driver's Delete, which refuses
gdalmanage identify "$arch" | grep -q ': DUCH$' || bad "gdalmanage identify does not name DUCH (is DUCH asked before SQLite?)"
gdalmanage delete "$arch" >"$tmp/out" 2>&1
grep -q "DUCH:$arch" "$tmp/out" || { bad "gdalmanage delete: no message"; cat "$tmp/out"; }
unchanged "gdalmanage delete"
printf '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}' >"$tmp/p.geojson"
ogr2ogr -f SQLite "$arch" "$tmp/p.geojson" >"$tmp/out" 2>&1
unchanged "ogr2ogr -f SQLite over the archive"

# --- still a plain SpatiaLite file for GDAL's SQLite driver (ogrinfo, QGIS)
ogrinfo -ro -so "$arch" >"$tmp/plain" 2>&1 || { bad "ogrinfo -so archive.sqlite failed"; cat "$tmp/plain"; }
grep -q "using driver \`SQLite'" "$tmp/plain" || { bad "ogrinfo archive.sqlite: not the SQLite driver"; cat "$tmp/plain"; }
grep -q '^[0-9]*: tiles' "$tmp/plain" || { bad "ogrinfo archive.sqlite: no tiles layer"; cat "$tmp/plain"; }
grep -q '^[0-9]*: scenes' "$tmp/plain" || { bad "ogrinfo archive.sqlite: no scenes layer"; cat "$tmp/plain"; }
ogrinfo -so "$arch" tiles >"$tmp/plain" 2>&1 || bad "ogrinfo (update) archive.sqlite tiles failed"
grep -q '^Feature Count: 12' "$tmp/plain" || { bad "ogrinfo archive.sqlite tiles: not 12 features"; cat "$tmp/plain"; }
gdalinfo "$arch" >"$tmp/out" 2>&1
grep -q 'DUCH' "$tmp/out" && { bad "gdalinfo archive.sqlite: the DUCH driver spoke"; cat "$tmp/out"; }
unchanged "ogrinfo and gdalinfo"

# --- a refused creation option: nothing created, an existing archive unchanged
for co in BANDS=9 BANDS=1,2,4 ALLOW_PIXEL=MAYBE APPEND_SUBDATASET=maybe THREADS=-1 \
          TILE_SIZE=big MIN_VALID=2 MODEL="$tmp/none.duchm"; do
    refused "new plain name, -co $co" "DUCH: " gdal_translate -q -of DUCH "$tmp/s4.tif" "$tmp/new.sqlite" -co "$co"
    no_files "new plain name, -co $co" "$tmp/new.sqlite"
    refused "new DUCH: name, -co $co" "DUCH: " gdal_translate -q -of DUCH "$tmp/s4.tif" "DUCH:$tmp/new.sqlite" -co "$co"
    no_files "new DUCH: name, -co $co" "$tmp/new.sqlite"
    refused "existing archive, -co $co" "DUCH: " gdal_translate -q -of DUCH "$tmp/s4.tif" "DUCH:$arch" -co "$co"
    unchanged "existing archive, -co $co"
done
refused "BANDS=9 message" "BANDS=9 names band 9, but the scene has 3 bands" \
    gdal_translate -q -of DUCH "$tmp/s4.tif" "$tmp/new.sqlite" -co BANDS=9
refused "ALLOW_PIXEL=MAYBE message" "ALLOW_PIXEL=MAYBE is not a boolean" \
    gdal_translate -q -of DUCH "$tmp/s4.tif" "$tmp/new.sqlite" -co ALLOW_PIXEL=MAYBE
no_files "the messages" "$tmp/new.sqlite"

# --- appending keeps working: DUCH: (4 scenes), then APPEND_SUBDATASET=YES (5 scenes)
run "append s4 (DUCH:)" gdal_translate -q -of DUCH "$tmp/s4.tif" "DUCH:$arch" -co TILE_SIZE=256
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 4 ] || bad "DUCH: append: not 4 scenes"
run "append s5 (APPEND_SUBDATASET=YES)" gdal_translate -q -of DUCH "$tmp/s5.tif" "$arch" -co APPEND_SUBDATASET=YES -co TILE_SIZE=256 -co ALLOW_PIXEL=no
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM scenes")" = 5 ] || bad "APPEND_SUBDATASET append: not 5 scenes"
[ "$(sql "$arch" "SELECT COUNT(*) AS n FROM tiles")" = 20 ] || bad "after both appends: not 20 tiles"
# The first three scenes' rows are still there as they were.
rows "$arch" >"$tmp/rows_now"
echo "$saved_rows" | grep 'path (String)' | while read -r line; do
    grep -qF "$line" "$tmp/rows_now" || echo "lost: $line"
done >"$tmp/lost"
[ -s "$tmp/lost" ] && { bad "rows lost by appending"; cat "$tmp/lost"; }

# --- a plain name that is not a duch archive: GDAL's usual replace (documented)
ogr2ogr -q -f SQLite "$tmp/other.sqlite" "$tmp/p.geojson" || bad "ogr2ogr -f SQLite failed"
run "plain name of another SQLite file" gdal_translate -q -of DUCH "$tmp/s1.tif" "$tmp/other.sqlite" -co TILE_SIZE=256
[ "$(sql "$tmp/other.sqlite" "SELECT COUNT(*) AS n FROM scenes")" = 1 ] || bad "another SQLite file was not replaced by a new archive"

[ "$failed" = 0 ] && echo "ok: an existing archive is refused (once, unchanged) under a plain name; DUCH: and APPEND_SUBDATASET=YES append; bad options create nothing"
exit "$failed"
