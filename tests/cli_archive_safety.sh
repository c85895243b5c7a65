#!/bin/sh
# The archive under concurrent and careless use (issue 8): a scene is stored once (-j 2
# with the same scene twice, two processes at once), `--save` replaces only what duch
# saved, codes that do not fit the stored model are reported by every front end and
# refused by `duch index`, a read-only archive is not written even by root, and a first
# run that fails leaves no archive behind.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create

# Small UTM scenes, 0.3 m pixels: 260 px tiles, a 3x2 grid each.
for i in 1 2 3; do
    gdal_create -q -of GTiff -outsize 600 400 -bands 3 -ot Byte -burn $((40 * i)) -burn $((200 - 30 * i)) -burn 90 \
        -a_srs EPSG:32610 -a_ullr $((500000 + 1000 * i)) 4200000 $((500180 + 1000 * i)) 4199880 \
        "$tmp/s$i.tif" || fail "gdal_create"
done
"$duch" index --model "$model" "$tmp/ref.sqlite" "$tmp/s1.tif" || fail "reference run"
per_scene=$(sq "$tmp/ref.sqlite" "SELECT count(*) FROM tiles")

# 1a. The same scene twice in one run with -j 2: stored once.
"$duch" index -j 2 --model "$model" "$tmp/j2.sqlite" "$tmp/s1.tif" "$tmp/s1.tif" 2>"$tmp/err" ||
    fail "-j 2 same scene twice: $(cat "$tmp/err")"
[ "$(sq "$tmp/j2.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "-j 2 x x: $(sq "$tmp/j2.sqlite" "SELECT count(*) FROM scenes") scene rows"
[ "$(sq "$tmp/j2.sqlite" "SELECT count(*) FROM tiles")" = "$per_scene" ] || fail "-j 2 x x: tiles stored twice"
# The same file under another name (a symlink) is the same scene too.
ln -s "$tmp/s1.tif" "$tmp/link.tif"
"$duch" index -j 2 "$tmp/j2.sqlite" "$tmp/link.tif" "$tmp/s1.tif" || fail "symlink run"
[ "$(sq "$tmp/j2.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "a symlinked scene was stored again"

# 1b. Three processes started together on the same scenes, into a new archive: each
# scene once. (Each process encodes, then writes; the check under the write lock decides.)
pids=""
for p in 1 2 3; do
    "$duch" index --model "$model" "$tmp/par.sqlite" "$tmp/s1.tif" "$tmp/s2.tif" 2>"$tmp/par$p.err" &
    pids="$pids $!"
done
p=0
for pid in $pids; do
    p=$((p + 1))
    wait "$pid" || fail "process $p: $(cat "$tmp/par$p.err")"
done
[ "$(sq "$tmp/par.sqlite" "SELECT count(*) FROM scenes")" = 2 ] ||
    fail "3 processes at once: $(sq "$tmp/par.sqlite" "SELECT count(*) FROM scenes") scene rows for 2 scenes"
[ "$(sq "$tmp/par.sqlite" "SELECT count(*) FROM tiles")" = $((2 * per_scene)) ] || fail "3 processes: tiles stored twice"
[ "$(sq "$tmp/par.sqlite" "SELECT count(*) FROM scenes WHERE complete = 1 AND writer IS NULL")" = 2 ] ||
    fail "3 processes: scenes not complete"
[ "$(sq "$tmp/par.sqlite" "PRAGMA integrity_check")" = ok ] || fail "integrity after concurrent writers"

# An archive of the previous duch (no scenes.writer / updated_at, no tiles_code_len
# index) is upgraded in place when opened for writing, and keeps its rows.
cp "$tmp/ref.sqlite" "$tmp/v1.sqlite"
sq "$tmp/v1.sqlite" "DROP INDEX tiles_code_len; ALTER TABLE scenes DROP COLUMN writer; ALTER TABLE scenes DROP COLUMN updated_at;" ||
    fail "making an old-style archive"
"$duch" query "$tmp/v1.sqlite" "a building" -k 2 >/dev/null || fail "query of an old-style archive"
"$duch" index "$tmp/v1.sqlite" "$tmp/s1.tif" "$tmp/s2.tif" 2>"$tmp/err" || fail "appending to an old-style archive: $(cat "$tmp/err")"
[ "$(sq "$tmp/v1.sqlite" "SELECT count(*) FROM scenes WHERE complete = 1")" = 2 ] || fail "old-style archive: scenes after append"
[ "$(sq "$tmp/v1.sqlite" "SELECT count(*) FROM sqlite_master WHERE name = 'tiles_code_len'")" = 1 ] || fail "old-style archive: no index added"
[ "$(sq "$tmp/v1.sqlite" "SELECT count(*) FROM pragma_table_info('scenes') WHERE name IN ('writer', 'updated_at')")" = 2 ] ||
    fail "old-style archive: columns not added"

# 3. --save replaces only what duch saved.
q="a building"
"$duch" query "$tmp/ref.sqlite" "$q" -k 3 --save hits >/dev/null || fail "--save hits"
[ "$(sq "$tmp/ref.sqlite" "SELECT count(*) FROM hits")" = 3 ] || fail "saved hits"
"$duch" query "$tmp/ref.sqlite" "$q" -k 2 --save hits >/dev/null || fail "--save hits again (replace)"
[ "$(sq "$tmp/ref.sqlite" "SELECT count(*) FROM hits")" = 2 ] || fail "saved hits not replaced"
[ "$(sq "$tmp/ref.sqlite" "SELECT hits FROM duch_saved WHERE name = 'hits'")" = 2 ] || fail "duch_saved record"
sq "$tmp/ref.sqlite" "CREATE TABLE notes (id INTEGER PRIMARY KEY, txt TEXT); INSERT INTO notes VALUES (1, 'mine');"
"$duch" query "$tmp/ref.sqlite" "$q" -k 2 --save notes >/dev/null 2>"$tmp/err"
[ $? = 1 ] || fail "--save over a user's table should fail"
grep -q "not saved by duch" "$tmp/err" || fail "--save refusal message: $(cat "$tmp/err")"
[ "$(sq "$tmp/ref.sqlite" "SELECT txt FROM notes")" = mine ] || fail "--save dropped the user's table"
"$duch" query "$tmp/ref.sqlite" "$q" -k 2 --save NOTES >/dev/null 2>&1 && fail "--save NOTES (other case) accepted"
[ "$(sq "$tmp/ref.sqlite" "SELECT txt FROM notes")" = mine ] || fail "--save NOTES dropped the user's table"
# A duch-saved name that the user replaced with a table of their own is theirs now.
sqlite3 -cmd ".load mod_spatialite" "$tmp/ref.sqlite" "SELECT DisableSpatialIndex('hits', 'footprint'); SELECT DiscardGeometryColumn('hits', 'footprint'); DROP TABLE idx_hits_footprint; DROP TABLE hits; CREATE TABLE hits (x TEXT); INSERT INTO hits VALUES ('keep');" >/dev/null
"$duch" query "$tmp/ref.sqlite" "$q" -k 2 --save hits >/dev/null 2>&1 && fail "--save over a replaced table accepted"
[ "$(sq "$tmp/ref.sqlite" "SELECT x FROM hits")" = keep ] || fail "--save dropped a table the user put in its place"
[ "$(sq "$tmp/ref.sqlite" "PRAGMA integrity_check")" = ok ] || fail "integrity after --save"

# 4. Codes that do not fit the stored model: every front end says so; index refuses.
cp "$tmp/ref.sqlite" "$tmp/mixed.sqlite"
sq "$tmp/mixed.sqlite" "UPDATE tiles SET code = x'0102' WHERE tile_id = (SELECT max(tile_id) FROM tiles)"
"$duch" query "$tmp/mixed.sqlite" "a building" -k 50 >/dev/null 2>"$tmp/err"
[ $? = 1 ] || fail "duch query on a code of the wrong length should fail"
grep -q "do not fit" "$tmp/err" || fail "duch query message: $(cat "$tmp/err")"
"$duch" index "$tmp/mixed.sqlite" "$tmp/s2.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "duch index into a mixed archive should fail"
grep -q "do not fit" "$tmp/err" || fail "duch index message: $(cat "$tmp/err")"
[ "$(sq "$tmp/mixed.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "duch index added to a mixed archive"
"$duch" info "$tmp/mixed.sqlite" >"$tmp/out" 2>&1 && fail "duch info on a mixed archive exit 0"
grep -q DAMAGED "$tmp/out" || fail "duch info does not report the codes"
if [ -n "${GDAL_DRIVER_PATH:-}" ] && [ -f "${GDAL_DRIVER_PATH}/gdal_DUCH.so" ]; then
    ogrinfo -ro -al -q "DUCH:$tmp/mixed.sqlite" -oo QUERY="a building" >/dev/null 2>"$tmp/err" &&
        fail "DUCH: layer on a mixed archive opened"
    grep -q "do not fit" "$tmp/err" || fail "DUCH: layer message: $(cat "$tmp/err")"
fi
# All codes of another length than duch_model says (a tampered model row).
cp "$tmp/ref.sqlite" "$tmp/tampered.sqlite"
sq "$tmp/tampered.sqlite" "UPDATE duch_model SET bits = 128"
"$duch" query "$tmp/tampered.sqlite" --code 0123456789abcdef0123456789abcdef -k 5 >/dev/null 2>"$tmp/err"
[ $? = 1 ] || fail "query with a tampered model row answered"
grep -q "do not fit" "$tmp/err" || fail "tampered model row message: $(cat "$tmp/err")"
"$duch" index "$tmp/tampered.sqlite" "$tmp/s2.tif" 2>/dev/null && fail "index into a tampered archive"
[ "$(sq "$tmp/tampered.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "index added to a tampered archive"

# 5. A read-only archive is not written, also by root (mode bits, not access()).
cp "$tmp/ref.sqlite" "$tmp/ro.sqlite"
before=$(sha256sum "$tmp/ro.sqlite" | cut -d' ' -f1)
chmod 444 "$tmp/ro.sqlite"
"$duch" index "$tmp/ro.sqlite" "$tmp/s2.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "duch index wrote a chmod 444 archive"
grep -q "read-only" "$tmp/err" || fail "read-only message: $(cat "$tmp/err")"
"$duch" query "$tmp/ro.sqlite" "a building" -k 2 --save hits2 >/dev/null 2>"$tmp/err"
[ $? = 1 ] || fail "--save wrote a chmod 444 archive"
grep -q "read-only" "$tmp/err" || fail "--save read-only message: $(cat "$tmp/err")"
"$duch" query "$tmp/ro.sqlite" "a building" -k 2 >/dev/null || fail "query of a read-only archive"
[ "$(sha256sum "$tmp/ro.sqlite" | cut -d' ' -f1)" = "$before" ] || fail "the read-only archive changed"
# ... and a folder without write bits (SQLite would create the -wal file there).
mkdir "$tmp/rodir"
cp "$tmp/ref.sqlite" "$tmp/rodir/a.sqlite"
chmod 555 "$tmp/rodir"
"$duch" index "$tmp/rodir/a.sqlite" "$tmp/s2.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "duch index wrote into a chmod 555 folder"
grep -q "not writable" "$tmp/err" || fail "read-only folder message: $(cat "$tmp/err")"
"$duch" index --model "$model" "$tmp/rodir/new.sqlite" "$tmp/s2.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "duch index created an archive in a chmod 555 folder"
[ ! -e "$tmp/rodir/new.sqlite" ] || fail "archive created in a read-only folder"
chmod 755 "$tmp/rodir"

# An image with no valid pixel is not a query (it would match black tiles at distance 0):
# the CLI, SQL duch_image_code and the DUCH: layer's IMAGE= all refuse it.
gdal_create -q -of GTiff -outsize 300 300 -bands 1 -ot Float32 -burn -9999 -a_nodata -9999 \
    -a_srs EPSG:32610 -a_ullr 500000 4200000 500090 4199910 "$tmp/nodata.tif" || fail "gdal_create nodata"
"$duch" query "$tmp/ref.sqlite" --image "$tmp/nodata.tif" -k 3 >/dev/null 2>"$tmp/err"
[ $? = 1 ] || fail "--image with no valid pixel answered"
grep -q "no valid pixel" "$tmp/err" || fail "--image no valid pixel message: $(cat "$tmp/err")"
if [ -f "$top_builddir/.libs/mod_duch.so" ]; then
    DUCH_LIB="$top_builddir/.libs/libduch.so" sqlite3 -cmd ".load $top_builddir/.libs/mod_duch" "$tmp/ref.sqlite" \
        "SELECT hex(duch_image_code('$tmp/nodata.tif'))" >/dev/null 2>"$tmp/err" && fail "duch_image_code of no valid pixel"
    grep -q "no valid pixel" "$tmp/err" || fail "duch_image_code message: $(cat "$tmp/err")"
fi
if [ -n "${GDAL_DRIVER_PATH:-}" ] && [ -f "${GDAL_DRIVER_PATH}/gdal_DUCH.so" ]; then
    ogrinfo -ro -al -q "DUCH:$tmp/ref.sqlite" -oo IMAGE="$tmp/nodata.tif" >/dev/null 2>"$tmp/err" &&
        fail "IMAGE= with no valid pixel opened"
    grep -q "no valid pixel" "$tmp/err" || fail "IMAGE= message: $(cat "$tmp/err")"
fi

# A first run that fails leaves no archive (so none is locked to its model).
"$duch" index --model "$model" "$tmp/none1.sqlite" "$tmp/missing.tif" 2>/dev/null; [ $? = 1 ] || fail "missing scene"
[ ! -e "$tmp/none1.sqlite" ] || fail "a run on a missing scene left an archive"
"$duch" index --model "$model" --bands 9,8,7 "$tmp/none2.sqlite" "$tmp/s1.tif" 2>"$tmp/err"; [ $? = 1 ] || fail "bad band"
[ ! -e "$tmp/none2.sqlite" ] || fail "a run with a bad band left an archive"
grep -q "9" "$tmp/err" || fail "bad band message: $(cat "$tmp/err")"
echo ok
