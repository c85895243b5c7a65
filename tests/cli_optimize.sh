#!/bin/sh
# duch optimize and the packed code blocks (issue 9): a new archive's blocks are current;
# other SQL makes them stale and queries stay exact through the rows; duch index on a
# stale archive keeps them stale (never half-current); duch optimize and SELECT
# duch_optimize() make them current again; a schema-1 archive is read as it is and
# upgraded in place, never lost, when opened for writing; errors are clear.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
duch="$top_builddir/duch"
model=${DUCH_DEFAULT_MODEL:-}
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model at '$model'"; exit 77; }
export DUCH_QUIET=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
q() { "$duch" query -q "$1" "many buildings and green trees" -k 12 --format csv 2>&1; }
search_line() { "$duch" info "$1" | sed -n 's/^search: *//p'; }
modsp=$(ls /usr/lib/*/mod_spatialite.so 2>/dev/null | head -n 1)
sql() { sqlite3 -cmd ".load ${modsp:-mod_spatialite}" "$@"; }

for i in 1 2 3; do
    gdal_create -q -of GTiff -outsize 768 512 -bands 3 -ot Byte -burn $((50 * i)) -burn $((90 + 20 * i)) \
        -burn $((200 - 40 * i)) -a_srs EPSG:32610 -a_ullr $((500000 + 300 * i)) 4200000 \
        $((500230 + 300 * i)) 4199846 "$tmp/s$i.tif" || { echo "FAIL: gdal_create"; exit 1; }
done
a="$tmp/a.sqlite"
"$duch" index -q --model "$model" "$a" "$tmp/s1.tif" "$tmp/s2.tif" || { echo "FAIL: index"; exit 1; }
[ "$(sqlite3 "$a" "SELECT value FROM duch_metadata WHERE key = 'schema_version'")" = 2 ] || bad "new archive is not schema 2"
[ "$(sqlite3 "$a" "PRAGMA page_size")" = 65536 ] || bad "new archive does not have 64 KiB pages"
case "$(search_line "$a")" in "packed code blocks, current"*) ;; *) bad "new archive: search: $(search_line "$a")";; esac
[ "$(sqlite3 "$a" "SELECT sum(ntiles) FROM duch_code_blocks")" = "$(sqlite3 "$a" "SELECT count(*) FROM tiles")" ] ||
    bad "the blocks do not hold every tile"
q "$a" > "$tmp/blocks.csv"

# other SQL deletes two tiles: the blocks are stale, the query sees exactly the rows
sql "$a" "DELETE FROM tiles WHERE tile_id IN (SELECT tile_id FROM tiles ORDER BY tile_id LIMIT 2)"
case "$(search_line "$a")" in "reads the rows: the tiles were changed"*) ;; *) bad "after DELETE: search: $(search_line "$a")";; esac
q "$a" > "$tmp/rows.csv"
gone=$(sqlite3 "$a" "SELECT count(*) FROM tiles WHERE tile_id <= 2")
[ "$gone" = 0 ] || bad "DELETE did not delete"
if cut -d, -f4 "$tmp/rows.csv" | grep -qx '1\|2'; then bad "a deleted tile is still found"; fi
# the expected answer: brute force over the rows with mod_duch
sql -cmd ".load $top_builddir/.libs/mod_duch.so" "$a" \
    "SELECT tile_id, duch_hamming(code, duch_text_code('many buildings and green trees')) AS d FROM tiles ORDER BY d, tile_id LIMIT 12" \
    | tr '|' ',' > "$tmp/brute.txt"
awk -F, 'NR > 1 {print $4 "," $2}' "$tmp/rows.csv" > "$tmp/rows.txt"
cmp -s "$tmp/rows.txt" "$tmp/brute.txt" || { bad "rows path differs from the brute force"; diff "$tmp/rows.txt" "$tmp/brute.txt" | head; }

# duch index on a stale archive: the new scene's chunk writes no block, the blocks stay stale
"$duch" index -q "$a" "$tmp/s3.tif" || bad "index into a stale archive"
case "$(search_line "$a")" in "reads the rows"*) ;; *) bad "index made stale blocks current: $(search_line "$a")";; esac
q "$a" > "$tmp/rows3.csv"

# duch optimize: current again, same answer
"$duch" optimize "$a" 2> "$tmp/opt.err" || bad "optimize: $(cat "$tmp/opt.err")"
grep -q "packed [0-9]* tile codes" "$tmp/opt.err" || bad "optimize summary: $(cat "$tmp/opt.err")"
case "$(search_line "$a")" in "packed code blocks, current"*) ;; *) bad "after optimize: search: $(search_line "$a")";; esac
q "$a" > "$tmp/opt.csv"
cmp -s "$tmp/rows3.csv" "$tmp/opt.csv" || { bad "optimize changed the answer"; diff "$tmp/rows3.csv" "$tmp/opt.csv" | head; }
[ "$(sqlite3 "$a" "SELECT sum(ntiles) FROM duch_code_blocks")" = "$(sqlite3 "$a" "SELECT count(*) FROM tiles")" ] ||
    bad "optimize: the blocks do not hold every tile"

# SQL: duch_optimize() after an UPDATE by SQL
sql "$a" "UPDATE tiles SET code = x'0000000000000000' WHERE tile_id = (SELECT max(tile_id) FROM tiles)"
case "$(search_line "$a")" in "reads the rows"*) ;; *) bad "after UPDATE: $(search_line "$a")";; esac
n=$(sql -cmd ".load $top_builddir/.libs/mod_duch.so" "$a" "SELECT duch_optimize()")
[ "$n" = "$(sqlite3 "$a" "SELECT count(*) FROM tiles")" ] || bad "duch_optimize() returned '$n'"
case "$(search_line "$a")" in "packed code blocks, current"*) ;; *) bad "after duch_optimize(): $(search_line "$a")";; esac
out=$(sql -cmd ".load $top_builddir/.libs/mod_duch.so" -readonly "$a" "SELECT duch_optimize()" 2>&1) &&
    bad "duch_optimize() on a read-only connection succeeded"
echo "$out" | grep -q "duch_optimize: the database is read-only" || bad "read-only duch_optimize(): $out"

# errors: a code of the wrong length is refused and nothing changes
cp "$a" "$tmp/bad.sqlite"
sql "$tmp/bad.sqlite" "UPDATE tiles SET code = x'00' WHERE tile_id = (SELECT max(tile_id) FROM tiles)"
"$duch" optimize "$tmp/bad.sqlite" 2> "$tmp/bad.err" && bad "optimize accepted a 1-byte code"
grep -q "has 1 bytes\|codes of 8 and 1 bytes\|1-byte" "$tmp/bad.err" || bad "bad code message: $(cat "$tmp/bad.err")"
case "$(search_line "$tmp/bad.sqlite")" in "reads the rows"*) ;; *) bad "a failed optimize changed the blocks";; esac
"$duch" optimize "$tmp/missing.sqlite" 2> "$tmp/miss.err" && bad "optimize of a missing archive succeeded"
grep -q "no such archive" "$tmp/miss.err" || bad "missing archive message: $(cat "$tmp/miss.err")"
"$duch" optimize 2>/dev/null; [ $? = 2 ] || bad "optimize without an archive: not a usage error"
"$duch" optimize --help | grep -q "usage: duch optimize" || bad "optimize --help"

# a schema-1 archive: as duch 0.1 wrote it (no blocks, no triggers, version 1)
cp "$a" "$tmp/v1.sqlite"
sqlite3 "$tmp/v1.sqlite" "DROP TRIGGER duch_tiles_changed_insert; DROP TRIGGER duch_tiles_changed_update;
    DROP TRIGGER duch_tiles_changed_delete; DROP TABLE duch_code_blocks; DROP TABLE duch_box_blocks;
    DROP TABLE duch_blocks_version; UPDATE duch_metadata SET value = '1' WHERE key = 'schema_version'"
sum_before=$(sqlite3 "$tmp/v1.sqlite" "SELECT count(*), sum(length(code)), group_concat(hex(code), '') FROM tiles" | md5sum)
case "$(search_line "$tmp/v1.sqlite")" in "reads the rows: the archive has no packed code blocks"*) ;;
    *) bad "v1 archive: search: $(search_line "$tmp/v1.sqlite")";; esac
q "$tmp/v1.sqlite" > "$tmp/v1.csv"
[ "$(sqlite3 "$tmp/v1.sqlite" "SELECT value FROM duch_metadata WHERE key = 'schema_version'")" = 1 ] ||
    bad "a read-only query changed the schema version"
"$duch" optimize -q "$tmp/v1.sqlite" || bad "optimize (upgrade) of a v1 archive"
[ "$(sqlite3 "$tmp/v1.sqlite" "SELECT value FROM duch_metadata WHERE key = 'schema_version'")" = 2 ] ||
    bad "the v1 archive was not upgraded to 2"
sum_after=$(sqlite3 "$tmp/v1.sqlite" "SELECT count(*), sum(length(code)), group_concat(hex(code), '') FROM tiles" | md5sum)
[ "$sum_before" = "$sum_after" ] || bad "the upgrade changed the tiles"
case "$(search_line "$tmp/v1.sqlite")" in "packed code blocks, current"*) ;; *) bad "upgraded: $(search_line "$tmp/v1.sqlite")";; esac
q "$tmp/v1.sqlite" > "$tmp/v2.csv"
cmp -s "$tmp/v1.csv" "$tmp/v2.csv" || { bad "the upgrade changed the answer"; diff "$tmp/v1.csv" "$tmp/v2.csv" | head; }
ogrinfo -ro -q "$tmp/v1.sqlite" 2>&1 | grep -q "tiles (Polygon)" || bad "ogrinfo no longer lists tiles after the upgrade"

# a newer schema is refused by optimize and query alike, and left alone
cp "$a" "$tmp/v9.sqlite"
sqlite3 "$tmp/v9.sqlite" "UPDATE duch_metadata SET value = '9' WHERE key = 'schema_version'"
"$duch" optimize "$tmp/v9.sqlite" 2> "$tmp/v9.err" && bad "optimize of a schema-9 archive succeeded"
grep -q "newer than this duch" "$tmp/v9.err" || bad "schema 9 message: $(cat "$tmp/v9.err")"
[ $fail = 0 ] && echo "ok: duch optimize, stale blocks, SQL duch_optimize(), schema 1 upgrade"
exit $fail
