#!/bin/sh
# index_ogr: an archive written by index/ is a plain SpatiaLite file: ogrinfo lists tiles
# and scenes as layers; GDAL (OGR_SQLITE_LOAD_EXTENSIONS), sqlite3 + mod_spatialite and
# the spatialite shell query it with mod_duch; duch info summarises it.
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
a="$TMP/archive.sqlite"
"$mk" create "$a" 95 64 || { echo "FAIL: could not create the archive" >&2; exit 1; }

if command -v ogrinfo >/dev/null 2>&1; then
    ogrinfo -ro "$a" > "$TMP/layers" 2>&1
    grep -q '^1: scenes (Polygon)' "$TMP/layers" && grep -q '^2: tiles (Polygon)' "$TMP/layers" ||
        { fail "ogrinfo does not list scenes and tiles as polygon layers"; cat "$TMP/layers" >&2; }
    ogrinfo -ro -so -al "$a" > "$TMP/so" 2>&1
    for want in 'Feature Count: 95' 'Feature Count: 2' 'code: Binary' 'ID\["EPSG",4326\]' \
                'Extent: (10.000000, 50.000000) - (10.100000, 50.10'; do
        grep -q "$want" "$TMP/so" || fail "ogrinfo -so -al: no '$want'"
    done
    # mod_duch inside GDAL
    OGR_SQLITE_LOAD_EXTENSIONS="$EXT.so" ogrinfo -ro "$a" -sql \
        "SELECT k.tile_id, k.distance, s.path FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 37),
         3, 10.061, 50.031, 10.069, 50.039) AS k JOIN tiles t USING (tile_id) JOIN scenes s USING (scene_id)" \
        > "$TMP/ogr" 2>&1
    grep -q 'tile_id (Integer) = 37' "$TMP/ogr" && grep -q 'distance (Integer) = 0' "$TMP/ogr" &&
        grep -q 'path (String) = /data/scene_A.tif' "$TMP/ogr" ||
        { fail "duch_knn through GDAL's SQLite driver"; cat "$TMP/ogr" >&2; }
    echo "ogrinfo: layers, schema and duch_knn through OGR_SQLITE_LOAD_EXTENSIONS ok"
else
    echo "no ogrinfo: GDAL checks skipped"
fi

# sqlite3 with mod_spatialite then mod_duch: the box through the spatial index, joined
if have_mod_spatialite; then
    sql "$a" spatialite > "$TMP/out" 2>&1 <<'SQL'
SELECT k.tile_id, k.distance, AsText(t.footprint), s.path
  FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 37), 1, BuildMbr(10.061, 50.031, 10.069, 50.039, 4326)) AS k
  JOIN tiles t USING (tile_id) JOIN scenes s USING (scene_id);
SELECT count(*) FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 37), 10, 10.055, 50.025, 10.065, 50.035);
SELECT 'mismatch' FROM tiles q
 WHERE (SELECT group_concat(tile_id || ':' || distance) FROM duch_knn(q.code, 7))
       IS NOT (SELECT group_concat(tile_id || ':' || d) FROM
               (SELECT tile_id, duch_hamming(code, q.code) d FROM tiles ORDER BY d, tile_id LIMIT 7));
SQL
    printf '%s\n' "37|0|POLYGON((10.06 50.03, 10.07 50.03, 10.07 50.04, 10.06 50.04, 10.06 50.03))|/data/scene_A.tif" \
        "4" > "$TMP/want"
    cmp -s "$TMP/out" "$TMP/want" || { fail "sqlite3 + mod_spatialite + mod_duch on an archive"; cat "$TMP/out" >&2; }
fi
if command -v spatialite >/dev/null 2>&1; then
    printf '.load %s\nSELECT tile_id, distance FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 5), 1);\n' "$EXT" |
        spatialite -batch "$a" > "$TMP/out" 2>&1
    [ "$(cat "$TMP/out")" = "5|0" ] || { fail "spatialite shell with mod_duch"; cat "$TMP/out" >&2; }
fi

# a read-only connection (and a read-only file) can search
chmod a-w "$a"
printf 'SELECT tile_id, distance FROM duch_knn((SELECT code FROM tiles WHERE tile_id = 9), 1);\n' |
    sqlite3 -batch -readonly -cmd ".load $EXT" "$a" > "$TMP/out" 2>&1
[ "$(cat "$TMP/out")" = "9|0" ] || { fail "duch_knn on a read-only connection"; cat "$TMP/out" >&2; }
chmod u+w "$a"

# duch info's archive summary
"$mk" info "$a" > "$TMP/info" 2>&1
for want in 'schema version: 2' 'model:          stand-in-model (64-bit codes' 'scenes:         2' \
            'tiles:          95' 'bits:           64' 'extent:         10.000000 50.000000 10.100000 50.100000'; do
    grep -qF "$want" "$TMP/info" || { fail "info: no '$want'"; cat "$TMP/info" >&2; }
done
echo "not a database" > "$TMP/text.sqlite"
if "$mk" info "$TMP/text.sqlite" > "$TMP/info" 2>&1; then
    fail "info accepted a text file"
fi
grep -q "not a duch archive" "$TMP/info" || { fail "info: no clear message for a non-archive"; cat "$TMP/info" >&2; }
"$mk" info "$TMP/missing.sqlite" > "$TMP/info" 2>&1 && fail "info accepted a missing file"
grep -q "no such archive" "$TMP/info" || { fail "info: no clear message for a missing file"; cat "$TMP/info" >&2; }
[ "$FAILS" -eq 0 ]
