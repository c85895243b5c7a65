#!/bin/sh
# sql_knn: duch_knn against a brute-force ORDER BY duch_hamming(code, q), tile_id LIMIT k
# on random codes of several lengths (short codes give many ties), with and without a
# bounding box (with the spatial index and without), and across two connections.
. "$top_srcdir/tests/sql_common.sh"

# compare DB NBYTES: 40 queries (k 1, 10, 100, 2000) over the tiles of DB
compare() {
    db=$1 nbytes=$2 front=${3-}
    sql "$db" $front > "$TMP/out" 2>&1 <<SQL
DROP TABLE IF EXISTS queries;
CREATE TABLE queries(qid INTEGER PRIMARY KEY, code BLOB, k INTEGER);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40)
INSERT INTO queries SELECT i, randomblob($nbytes), CASE i % 4 WHEN 0 THEN 1 WHEN 1 THEN 10
                                                    WHEN 2 THEN 100 ELSE 2000 END FROM c;
-- a query equal to a stored code: distance 0 first
INSERT INTO queries VALUES (41, (SELECT code FROM tiles ORDER BY rowid LIMIT 1 OFFSET 17), 5);
SELECT 'mismatch', qid FROM queries q
 WHERE (SELECT group_concat(tile_id || ':' || distance, ',') FROM duch_knn(q.code, q.k))
       IS NOT (SELECT group_concat(tile_id || ':' || d, ',') FROM
               (SELECT tile_id, duch_hamming(code, q.code) AS d FROM tiles
                WHERE code IS NOT NULL ORDER BY d, tile_id LIMIT q.k));
SELECT 'rows', sum((SELECT count(*) FROM duch_knn(q.code, q.k))) FROM queries q;
SQL
}

for nbytes in 2 3 8 16 24 128; do
    db="$TMP/r$nbytes.sqlite"
    # tile_ids scattered and not the rowid; some NULL codes
    sql "$db" <<SQL
CREATE TABLE tiles(tile_id INTEGER NOT NULL, code BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000)
INSERT INTO tiles SELECT (i * 7919) % 3001 * 3 - 50, CASE WHEN i % 97 = 0 THEN NULL
                                                      ELSE randomblob($nbytes) END FROM c;
SQL
    compare "$db" "$nbytes"
    if grep -q mismatch "$TMP/out" || ! grep -q '^rows|' "$TMP/out"; then
        fail "$nbytes-byte codes: duch_knn differs from brute force"
        cat "$TMP/out" >&2
    else
        echo "$nbytes-byte codes: 41 queries agree with brute force ($(grep '^rows' "$TMP/out"))"
    fi
done

# another connection's commit is seen (SQLITE_FCNTL_DATA_VERSION), in WAL mode and not
db="$TMP/two.sqlite"
for mode in wal delete; do
    rm -f "$db"
    sqlite3 -batch "$db" > "$TMP/out" 2>&1 <<SQL
PRAGMA journal_mode = $mode;
.load $EXT
CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB);
INSERT INTO tiles VALUES (1, x'ffffffff');
SELECT 'before', tile_id, distance FROM duch_knn(x'00000000', 1);
.connection 1
.open $db
INSERT INTO tiles VALUES (2, x'00000000');
.connection 0
SELECT 'after insert', tile_id, distance FROM duch_knn(x'00000000', 1);
.connection 1
UPDATE tiles SET code = x'0000ffff' WHERE tile_id = 2;
.connection 0
SELECT 'after update', tile_id, distance FROM duch_knn(x'00000000', 1);
SQL
    printf '%s\n' "$mode" "before|1|32" "after insert|2|0" "after update|2|16" > "$TMP/want"
    if ! cmp -s "$TMP/out" "$TMP/want"; then
        fail "another connection's writes ($mode mode)"
        cat "$TMP/out" >&2
    else
        echo "writes of another connection are seen ($mode mode)"
    fi
done

# bounding boxes against brute force, through the spatial index and without it
if have_mod_spatialite; then
    db="$TMP/box.sqlite"
    sql "$db" spatialite > /dev/null <<SQL
SELECT InitSpatialMetaData(1, 'WGS84_ONLY');
CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB);
SELECT AddGeometryColumn('tiles', 'footprint', 4326, 'POLYGON', 'XY');
SELECT CreateSpatialIndex('tiles', 'footprint');
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 4000)
INSERT INTO tiles(tile_id, code, footprint)
SELECT i * 2, randomblob(4), BuildMbr(x, y, x + 0.37, y + 0.29, 4326) FROM
  (SELECT i, (abs(random()) % 36000) / 100.0 - 180 AS x, (abs(random()) % 17000) / 100.0 - 85 AS y FROM c);
CREATE TABLE boxes(bid INTEGER PRIMARY KEY, x0, y0, x1, y1, code BLOB, k);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 30)
INSERT INTO boxes SELECT i, x, y, x + w, y + w / 2, randomblob(4), 1 + i % 3 * 20 FROM
  (SELECT i, (abs(random()) % 30000) / 100.0 - 170 AS x, (abs(random()) % 14000) / 100.0 - 80 AS y,
          i * 1.7 AS w FROM c);
SQL
    for pass in index scan; do
        if [ $pass = scan ]; then
            sql "$db" spatialite > /dev/null <<SQL
SELECT DisableSpatialIndex('tiles', 'footprint');
DROP TABLE idx_tiles_footprint;
SQL
        fi
        sql "$db" spatialite > "$TMP/out" 2>&1 <<SQL
SELECT 'mismatch', bid FROM boxes b
 WHERE (SELECT group_concat(tile_id || ':' || distance, ',') FROM duch_knn(b.code, b.k, b.x0, b.y0, b.x1, b.y1))
       IS NOT (SELECT group_concat(tile_id || ':' || d, ',') FROM
               (SELECT tile_id, duch_hamming(code, b.code) AS d FROM tiles
                WHERE MbrMinX(footprint) <= b.x1 AND MbrMaxX(footprint) >= b.x0
                  AND MbrMinY(footprint) <= b.y1 AND MbrMaxY(footprint) >= b.y0
                ORDER BY d, tile_id LIMIT b.k));
SELECT 'rows', sum((SELECT count(*) FROM duch_knn(b.code, b.k, BuildMbr(b.x0, b.y0, b.x1, b.y1)))) FROM boxes b;
SQL
        if grep -q mismatch "$TMP/out" || ! grep -q '^rows|' "$TMP/out"; then
            fail "bounding boxes ($pass): duch_knn differs from brute force"
            cat "$TMP/out" >&2
        else
            echo "30 boxes agree with brute force, $pass ($(grep '^rows' "$TMP/out"))"
        fi
    done
else
    echo "no mod_spatialite: bounding boxes not checked"
fi
[ "$FAILS" -eq 0 ]
