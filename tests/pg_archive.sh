#!/bin/sh
# The PostGIS archive, on a PostgreSQL cluster of the test's own (tests/pg_common.sh):
#   - duch index PG:... by concurrent workers on overlapping scene lists stores each scene
#     once, with exactly the rows of the SQLite archive;
#   - kill -9 of a worker inside a scene leaves committed chunks, and the rerun resumes;
#   - duch query, duch info, the DUCH: layer and the extension's SQL functions give the
#     same answers as the SQLite archive and mod_duch on the same rows;
#   - bad input gets a clear error (codes that do not fit, no archive, no server, k, box).
. "$top_srcdir/tests/cli_common.sh"
. "$top_srcdir/tests/pg_common.sh"
need_model
need_tools psql gdal_create sqlite3 ogrinfo
pg_start

# three scenes: the real ones when ../shared/data is there, else made here
data="${DUCH_SHARED_DATA:-}/scenes"
if [ -f "$data/RGB.byte.tif" ] && [ -f "$data/SP27GTIF.TIF" ] && [ -f "$data/L7_ETMs.tif" ]; then
    s1=$data/RGB.byte.tif s2=$data/SP27GTIF.TIF s3=$data/L7_ETMs.tif
else
    for i in 1 2 3; do
        gdal_create -q -of GTiff -outsize 700 500 -bands 3 -ot Byte -burn $((50 * i)) -burn 120 \
            -burn $((200 - 40 * i)) -a_srs EPSG:32610 -a_ullr $((500000 + 2000 * i)) 4200000 \
            $((500700 + 2000 * i)) 4199500 "$tmp/s$i.tif" || fail gdal_create
    done
    s1=$tmp/s1.tif s2=$tmp/s2.tif s3=$tmp/s3.tif
fi
ref=$tmp/ref.sqlite
"$duch" index -q --model "$model" "$ref" "$s1" "$s2" "$s3" || fail "index into SQLite"

# --- one writer, the scenes in the same order: the same tile ids as SQLite
pg_db serial
serial=$pgc
"$duch" index -q --model "$model" "PG:$serial" "$s1" "$s2" "$s3" || fail "index into PostGIS"
rows_sqlite() {
    sqlite3 "$ref" "SELECT t.tile_id, s.path, t.x_off, t.y_off, t.width, t.height, lower(hex(t.code))
                    FROM tiles t JOIN scenes s USING (scene_id) ORDER BY t.tile_id" | tr '|' ' '
}
rows_pg() {
    psqlq -d "$1" -F ' ' -c "SELECT t.tile_id, s.path, t.x_off, t.y_off, t.width, t.height,
                             encode(t.code, 'hex') FROM tiles t JOIN scenes s USING (scene_id)
                             ORDER BY t.tile_id"
}
rows_sqlite >"$tmp/rows.sqlite"
rows_pg serial >"$tmp/rows.serial"
[ -s "$tmp/rows.sqlite" ] || fail "no tiles in the SQLite archive"
cmp -s "$tmp/rows.sqlite" "$tmp/rows.serial" || fail "PostGIS rows differ from SQLite's: $(diff "$tmp/rows.sqlite" "$tmp/rows.serial" | head -5)"
ntiles=$(wc -l <"$tmp/rows.sqlite")
echo "ok serial: $ntiles tiles, the same rows as SQLite"
# footprints: the same rings (to 1e-9 degrees) as SpatiaLite's
sqlite3 -cmd ".load mod_spatialite" "$ref" \
    "SELECT tile_id, round(ST_X(PointN(ExteriorRing(footprint), 3)), 9), round(ST_Y(PointN(ExteriorRing(footprint), 3)), 9) FROM tiles ORDER BY tile_id" \
    2>/dev/null | tr '|' ' ' >"$tmp/fp.sqlite"
psqlq -d serial -F ' ' -c "SELECT tile_id, round(ST_X(ST_PointN(ST_ExteriorRing(footprint), 3))::numeric, 9)::float8,
                             round(ST_Y(ST_PointN(ST_ExteriorRing(footprint), 3))::numeric, 9)::float8 FROM tiles ORDER BY tile_id" >"$tmp/fp.pg"
[ -s "$tmp/fp.sqlite" ] && { cmp -s "$tmp/fp.sqlite" "$tmp/fp.pg" || fail "footprints differ: $(diff "$tmp/fp.sqlite" "$tmp/fp.pg" | head -4)"; }

# --- the same again: every scene is already there
"$duch" index --model "$model" "PG:$serial" "$s1" "$s2" "$s3" >"$tmp/again.txt" 2>&1 || fail "index again: $(cat "$tmp/again.txt")"
grep -q "0 scenes indexed, 3 already there" "$tmp/again.txt" || fail "index again: $(cat "$tmp/again.txt")"

# --- four writers at once, overlapping lists: each scene once, the same rows
pg_db multi
multi=$pgc
pids=""
for order in "$s1 $s2 $s3" "$s2 $s3 $s1" "$s3 $s1 $s2" "$s1 $s3 $s2"; do
    # shellcheck disable=SC2086
    "$duch" index -q --model "$model" --chunk 64 "PG:$multi" $order >"$tmp/w.$$.$(echo "$order" | cksum | cut -c1-6)" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a concurrent writer failed: $(cat "$tmp"/w.* | head -20)"; done
[ "$(psqlq -d multi -c "SELECT count(*), count(DISTINCT path), sum(complete) FROM scenes")" = "3|3|3" ] ||
    fail "concurrent writers: scenes $(psqlq -d multi -c "SELECT path, complete FROM scenes")"
cut -d' ' -f2- "$tmp/rows.sqlite" | sort >"$tmp/set.sqlite"
rows_pg multi | cut -d' ' -f2- | sort >"$tmp/set.multi"
cmp -s "$tmp/set.sqlite" "$tmp/set.multi" || fail "concurrent writers stored other rows than one SQLite run ($(wc -l <"$tmp/set.multi") vs $ntiles)"
echo "ok 4 concurrent writers: 3 scenes, $ntiles tiles, each once"

# wait_tiles DB N: until DB holds N tiles (at most 30 s); $n gets the count seen
wait_tiles() {
    n=0 i=0
    while [ "$i" -lt 600 ]; do
        n=$(psql -X -At -d "$1" -c "SELECT count(*) FROM tiles" 2>/dev/null || echo 0)
        [ "${n:-0}" -ge "$2" ] && return 0
        i=$((i + 1))
        sleep 0.05
    done
}

# --- kill -9 inside a scene, then resume
gdal_create -q -of GTiff -outsize 3000 3000 -bands 3 -ot Byte -burn 90 -burn 140 -burn 60 \
    -a_srs EPSG:32610 -a_ullr 510000 4200000 513000 4197000 "$tmp/big.tif" || fail gdal_create
pg_db killed
"$duch" index -q --model "$model" --chunk 16 "$tmp/big.sqlite" "$tmp/big.tif" || fail "index big into SQLite"
"$duch" index -q --model "$model" --chunk 16 "PG:$pgc" "$tmp/big.tif" >"$tmp/killed.txt" 2>&1 &
victim=$!
wait_tiles killed 48
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
state=$(psqlq -d killed -c "SELECT complete, (SELECT count(*) FROM tiles) % 16 FROM scenes")
[ "$state" = "0|0" ] || fail "after kill -9: scene state '$state' (complete 0, whole chunks of 16 expected; $n tiles seen)"
"$duch" info "PG:$pgc" >"$tmp/info.txt" 2>&1
grep -q "incomplete: *1 scenes" "$tmp/info.txt" || fail "duch info after kill: $(cat "$tmp/info.txt")"
"$duch" index --model "$model" --chunk 16 "PG:$pgc" "$tmp/big.tif" >"$tmp/resume.txt" 2>&1 || fail "resume: $(cat "$tmp/resume.txt")"
grep -q "resumed" "$tmp/resume.txt" || fail "the rerun did not say it resumed: $(cat "$tmp/resume.txt")"
sqlite3 "$tmp/big.sqlite" "SELECT x_off, y_off, lower(hex(code)) FROM tiles ORDER BY tile_id" | tr '|' ' ' >"$tmp/big.a"
psqlq -d killed -F ' ' -c "SELECT x_off, y_off, encode(code, 'hex') FROM tiles ORDER BY tile_id" >"$tmp/big.b"
cmp -s "$tmp/big.a" "$tmp/big.b" || fail "killed and resumed: rows differ from one clean run ($(wc -l <"$tmp/big.b") vs $(wc -l <"$tmp/big.a"))"
[ "$(psqlq -d killed -c "SELECT complete, tile_count FROM scenes")" = "1|$(wc -l <"$tmp/big.a" | tr -d ' ')" ] ||
    fail "resumed scene row: $(psqlq -d killed -c "SELECT complete, tile_count FROM scenes")"
echo "ok kill -9 after $n tiles, resumed: $(wc -l <"$tmp/big.b") tiles as one clean run"

# --- SIGINT inside a scene: the encoded chunks are committed, the scene released, resumed
pg_db interrupted
"$duch" index -q --model "$model" --chunk 16 "PG:$pgc" "$tmp/big.tif" >"$tmp/int.txt" 2>&1 &
victim=$!
wait_tiles interrupted 48
kill -INT "$victim"
st=0; wait "$victim" || st=$?
[ "$st" = 130 ] || fail "SIGINT: exit status $st, not 130: $(cat "$tmp/int.txt")"
[ "$(psqlq -d interrupted -c "SELECT complete, writer IS NULL FROM scenes")" = "0|t" ] ||
    fail "SIGINT: scene $(psqlq -d interrupted -c "SELECT complete, writer FROM scenes")"
"$duch" index --model "$model" --chunk 16 "PG:$pgc" "$tmp/big.tif" >"$tmp/resume2.txt" 2>&1 || fail "resume after SIGINT"
grep -q "1 resumed" "$tmp/resume2.txt" || fail "no resume after SIGINT: $(cat "$tmp/resume2.txt")"
psqlq -d interrupted -F ' ' -c "SELECT x_off, y_off, encode(code, 'hex') FROM tiles ORDER BY tile_id" >"$tmp/big.c"
cmp -s "$tmp/big.a" "$tmp/big.c" || fail "interrupted and resumed: rows differ from one clean run"
echo "ok SIGINT: exit 130, released, resumed to the rows of one clean run"

# --- a run that writes nothing makes nothing: no tables in the database
pg_db untouched
printf 'not a raster' >"$tmp/bad.tif"
"$duch" index -q --model "$model" "PG:$pgc" "$tmp/bad.tif" "$tmp/missing.tif" >/dev/null 2>&1 &&
    fail "indexing only bad scenes succeeded"
[ "$(psqlq -d untouched -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] ||
    fail "a run that wrote nothing made tables: $(psqlq -d untouched -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")"
echo "ok a run that writes nothing leaves the database as it was"

# --- the same hits as the SQLite archive: duch query, the DUCH: layer
for q in "a river with trees" "many buildings" "green" "dense residential area with roads"; do
    for box in "" "--bbox -78.2,24.0,-77.0,25.0" "--bbox -120.6,38.2,-120.3,38.6"; do
        # shellcheck disable=SC2086
        "$duch" query "$ref" "$q" -k 25 --format csv $box >"$tmp/q.sqlite" 2>/dev/null || fail "query SQLite '$q'"
        # shellcheck disable=SC2086
        "$duch" query "PG:$serial" "$q" -k 25 --format csv $box >"$tmp/q.pg" 2>"$tmp/q.err" || fail "query PG '$q': $(cat "$tmp/q.err")"
        cmp -s "$tmp/q.sqlite" "$tmp/q.pg" || fail "query '$q' $box: PostGIS hits differ: $(diff "$tmp/q.sqlite" "$tmp/q.pg" | head -4)"
    done
done
echo "ok duch query: the same hits as SQLite (4 texts x 3 boxes, k = 25)"
ogrinfo -ro -q -al "DUCH:$ref" -oo QUERY="a river with trees" -oo K=7 2>/dev/null | grep -E "tile_id|confidence" >"$tmp/l.sqlite"
ogrinfo -ro -q -al "DUCH:PG:$serial" -oo QUERY="a river with trees" -oo K=7 2>&1 | grep -E "tile_id|confidence" >"$tmp/l.pg"
[ "$(grep -c tile_id "$tmp/l.pg")" = 7 ] && cmp -s "$tmp/l.sqlite" "$tmp/l.pg" || fail "DUCH:PG: layer differs: $(diff "$tmp/l.sqlite" "$tmp/l.pg" | head -4)"
# --- heat maps and regions: the same from PostGIS as from SQLite
for sc in 1 2 3; do
    for a in "$ref" "PG:$serial"; do
        case $a in PG:*) n=PG ;; *) n=SQ ;; esac
        "$duch" query -q "$a" "a river with trees" -k 1 --scene $sc --heatmap "$tmp/h$sc$n.tif" \
            --regions "$tmp/r$sc$n.geojson" --region-min 0.3 >/dev/null || fail "heat map of scene $sc from $a"
    done
    /usr/bin/python3 -c 'import sys
from osgeo import gdal
a, b = (gdal.Open(p) for p in sys.argv[1:3])
sys.exit(0 if (a.ReadAsArray() == b.ReadAsArray()).all() and a.GetGeoTransform() == b.GetGeoTransform()
         and a.GetSpatialRef().IsSame(b.GetSpatialRef()) else 1)' "$tmp/h${sc}SQ.tif" "$tmp/h${sc}PG.tif" \
        || fail "scene $sc: the PostGIS heat map differs from SQLite's"
    cmp -s "$tmp/r${sc}SQ.geojson" "$tmp/r${sc}PG.geojson" || fail "scene $sc: the PostGIS regions differ"
done
"$duch" query -q "PG:$serial" "a river with trees" --heatmap "$tmp/hu.tif" -k 1 2>"$tmp/hu.err" >/dev/null
"$duch" query -q "$ref" "a river with trees" --heatmap "$tmp/hu2.tif" -k 1 2>"$tmp/hu2.err" >/dev/null
cmp -s "$tmp/hu.err" "$tmp/hu2.err" || fail "union heat map: PostGIS and SQLite differ: $(cat "$tmp/hu.err" "$tmp/hu2.err")"
echo "ok heat maps and regions: the same from PostGIS as from SQLite (3 scenes)"
echo "ok DUCH:PG: layer"

# --- the extension against mod_duch, on the same rows
ext="$top_builddir/.libs/mod_duch"
code=$(sqlite3 "$ref" "SELECT lower(hex(code)) FROM tiles WHERE tile_id = 5")
cmp_sql() { # WHAT SQLITE_SQL PG_SQL
    sqlite3 -cmd ".load mod_spatialite" -cmd ".load $ext" "$ref" "$2" 2>&1 | tr '|' ' ' >"$tmp/s.a"
    psqlq -d serial -F ' ' -c "$3" >"$tmp/s.b" 2>&1
    [ -s "$tmp/s.a" ] && cmp -s "$tmp/s.a" "$tmp/s.b" ||
        fail "$1: $(diff "$tmp/s.a" "$tmp/s.b" | head -4; echo ...; tail -2 "$tmp/s.b")"
}
cmp_sql "text" "SELECT tile_id, distance, printf('%.12f', confidence) FROM duch_knn('a river with trees', 30)" \
    "SELECT tile_id, distance, to_char(confidence, 'FM0.000000000000') FROM duch_knn('a river with trees', 30)"
cmp_sql "code" "SELECT tile_id, distance, coalesce(confidence, -1) FROM duch_knn(x'$code', 40)" \
    "SELECT tile_id, distance, coalesce(confidence, -1) FROM duch_knn('\\x$code'::bytea, 40)"
cmp_sql "box" "SELECT tile_id, distance FROM duch_knn('buildings', 15, -78.2, 24.0, -77.0, 25.0)" \
    "SELECT tile_id, distance FROM duch_knn('buildings', 15, -78.2, 24.0, -77.0, 25.0)"
cmp_sql "geometry" "SELECT tile_id, distance FROM duch_knn('buildings', 15, BuildMbr(-78.2, 24.0, -77.0, 25.0, 4326))" \
    "SELECT tile_id, distance FROM duch_knn('buildings', 15, ST_MakeEnvelope(-78.2, 24.0, -77.0, 25.0, 4326))"
cmp_sql "hamming" "SELECT duch_hamming(x'$code', code) FROM tiles ORDER BY tile_id LIMIT 50" \
    "SELECT duch_hamming('\\x$code'::bytea, code) FROM tiles ORDER BY tile_id LIMIT 50"
cmp_sql "text code" "SELECT lower(hex(duch_text_code('green trees')))" "SELECT encode(duch_text_code('green trees'), 'hex')"
cmp_sql "explain" "SELECT duch_text_explain('a golf course near houses')" "SELECT duch_text_explain('a golf course near houses')"
# the session's cache follows changes to tiles
psqlq -d serial -c "SELECT count(*) FROM duch_knn('green', 5)" >/dev/null
left=$(psqlq -d serial -c "SELECT count(*) FROM duch_knn('green', 5); DELETE FROM tiles WHERE tile_id IN (SELECT tile_id FROM duch_knn('green', 1)); SELECT count(*) FROM duch_knn('green', 1000000)" | tail -1)
[ "$left" = $((ntiles - 1)) ] || fail "after a DELETE the search saw $left tiles, not $((ntiles - 1))"
echo "ok extension: the same rows as mod_duch (text, code, box, geometry, hamming, explain); follows a DELETE"

# --- errors
refused_sql() { # WHAT PATTERN SQL
    if psql -X -At -d serial -c "$3" >"$tmp/e.txt" 2>&1 || ! grep -q -- "$2" "$tmp/e.txt"; then
        fail "$1: $(cat "$tmp/e.txt")"
    fi
}
refused_sql "k 0" "k must be between 1 and" "SELECT * FROM duch_knn('trees', 0)"
refused_sql "NULL k" "k must be" "SELECT * FROM duch_knn('trees', NULL)"
refused_sql "half a box" "must be 4 finite numbers" "SELECT * FROM duch_knn('trees', 5, 1, 2)"
refused_sql "box outside" "outside longitude" "SELECT * FROM duch_knn('trees', 5, -200, 0, 10, 10)"
refused_sql "code length" "the query code has 4 bytes" "SELECT * FROM duch_knn('\\x01020304'::bytea, 5)"
refused_sql "no known word" "vocabulary" "SELECT * FROM duch_knn('zzqx', 5)"
refused_sql "hamming lengths" "different lengths" "SELECT duch_hamming('\\x01'::bytea, '\\x0102'::bytea)"
psqlq -c "CREATE EXTENSION duch CASCADE" >/dev/null
psql -X -At -c "SELECT * FROM duch_knn('trees', 3)" >"$tmp/e.txt" 2>&1 && fail "duch_knn without an archive: $(cat "$tmp/e.txt")"
grep -q "no duch_model table" "$tmp/e.txt" || fail "duch_knn without an archive: $(cat "$tmp/e.txt")"
refused "no server" "cannot connect" "$duch" query "PG:dbname=x host=$tmp/nowhere" trees
refused "no archive" "no duch archive" "$duch" query "PG:$pg" trees
refused "query with no text" "empty" "$duch" query "PG:$serial" "  "
# a model that does not match the archive: refused, nothing written
if [ -d "${DUCH_SHARED_DATA:-}/ucm" ]; then
    "$duch" calibrate "$model" --data "$DUCH_SHARED_DATA/ucm" -o "$tmp/other.duchm" -q || fail "calibrate"
    before=$(psqlq -d serial -c "SELECT count(*) FROM tiles")
    refused "another model" "does not match" "$duch" index -q --model "$tmp/other.duchm" "PG:$serial" "$tmp/big.tif"
    [ "$(psqlq -d serial -c "SELECT count(*) FROM tiles")" = "$before" ] || fail "another model: tiles were written"
fi
# codes that do not fit the model: refused by index and query, reported by info
psqlq -d multi -c "ALTER TABLE tiles DROP CONSTRAINT tiles_code_len; UPDATE tiles SET code = '\\x0102'::bytea WHERE tile_id = (SELECT min(tile_id) FROM tiles)" >/dev/null
refused "index into damaged" "do not fit" "$duch" index -q --model "$model" "PG:$multi" "$tmp/big.tif"
refused "query damaged" "mixed lengths\|do not fit" "$duch" query "PG:$multi" trees
"$duch" info "PG:$multi" >"$tmp/info2.txt" 2>&1 && fail "duch info on damaged codes exited 0"
grep -q "DAMAGED" "$tmp/info2.txt" || fail "duch info: $(cat "$tmp/info2.txt")"
[ "$(psqlq -d multi -c "SELECT count(*) FROM scenes")" = 3 ] || fail "the refused index wrote a scene"
echo "ok errors"

# --- saved hits, through GDAL's PostgreSQL driver
"$duch" query "PG:$serial" "a river with trees" -k 6 --save river_hits >/dev/null 2>&1 || fail "query --save"
ogrinfo -ro -so "PG:$serial" river_hits >"$tmp/ogr.txt" 2>&1 || fail "ogrinfo saved hits: $(cat "$tmp/ogr.txt")"
grep -q "Feature Count: 6" "$tmp/ogr.txt" || fail "saved hits in ogrinfo: $(cat "$tmp/ogr.txt")"
psqlq -d serial -c "CREATE TABLE mine (x int)" >/dev/null
refused "save over a table of the user's" "not replacing it" "$duch" query "PG:$serial" trees --save mine
[ "$(psqlq -d serial -c "SELECT count(*) FROM duch_saved")" = 1 ] || fail "duch_saved"
echo "ok saved hits"

# --- duch optimize, and no password in messages
"$duch" optimize "PG:$serial" >"$tmp/opt.txt" 2>&1 || fail "optimize: $(cat "$tmp/opt.txt")"
grep -q "analyzed" "$tmp/opt.txt" || fail "optimize: $(cat "$tmp/opt.txt")"
"$duch" index --model "$model" "PG:$serial password=sekrit" "$s1" >"$tmp/pw.txt" 2>&1 || fail "index with a password: $(cat "$tmp/pw.txt")"
"$duch" info "PG:$serial password=sekrit" >>"$tmp/pw.txt" 2>&1 || fail "info with a password"
"$duch" query "PG:dbname=nosuch host=$pg_dir user=duch password=sekrit" trees >>"$tmp/pw.txt" 2>&1 && fail "query of a missing database"
! grep -q sekrit "$tmp/pw.txt" || fail "a password in the output: $(grep sekrit "$tmp/pw.txt")"
grep -q "password=\*\*\*" "$tmp/pw.txt" || fail "the masked password is not shown: $(cat "$tmp/pw.txt")"
echo "ok optimize; passwords masked"

# --- QGIS (headless) opens tiles, scenes and the saved hits through its PostGIS provider
py=/usr/bin/python3; [ -x "$py" ] || py=python3
if "$py" -c 'import qgis.core' 2>/dev/null; then
    "$py" "$top_srcdir/tests/qgis_pg.py" "$pg_dir" serial duch $((ntiles - 1)) 3 river_hits 6 \
        "$tmp/map.png" "a river with trees" || fail "QGIS"
else
    echo "note: python3-qgis missing: the QGIS part was not run"
fi
exit "$failed" # refused/run (tests/cli_common.sh) count their failures there
