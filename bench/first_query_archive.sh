#!/bin/sh
# bench/first_query_archive.sh BUILDDIR N OUT: a real archive of N + (mosaic) tiles for
# bench/first_query.sh. The held-out UCM mosaic is indexed with the default model, then
# N rows with random 64-bit codes and 0.001-degree footprints on a grid are added by
# SQL (as another program would), which leaves the packed code blocks stale; then
# `duch optimize` packs them. About 5 minutes and 2.7 GB for N = 10 000 000.
set -eu
builddir=$1 n=$2 out=$3
duch="$builddir/duch"
mosaic=${DUCH_SHARED_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}/scenes/ucm_mosaic.tif
model=${DUCH_DEFAULT_MODEL:-$(cd "$(dirname "$0")/.." && pwd)/model/default.duchm}
export DUCH_MODEL_LIB="${DUCH_MODEL_LIB:-$builddir/.libs/libduch_model.so}"
rm -f "$out" "$out-wal" "$out-shm" "$out.done"
echo "first_query_archive: indexing $mosaic" >&2
"$duch" index -q --model "$model" "$out" "$mosaic"
bits=$(sqlite3 "$out" "SELECT bits FROM duch_model")
[ "$bits" = 64 ] || { echo "first_query_archive: the model makes $bits-bit codes, this script adds 64-bit ones" >&2; exit 1; }
echo "first_query_archive: adding $n rows by SQL" >&2
t0=$(date +%s)
sqlite3 "$out" <<SQL
.load mod_spatialite
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $n - 1)
INSERT INTO tiles(scene_id, x_off, y_off, width, height, code, footprint)
SELECT 1, (i % 4000) * 256, (i / 4000) * 256, 256, 256, randomblob(8),
       BuildMbr(-100.0 + (i % 4000) * 0.001, 30.0 + (i / 4000) * 0.001,
                -100.0 + (i % 4000 + 1) * 0.001, 30.0 + (i / 4000 + 1) * 0.001, 4326)
  FROM s;
COMMIT;
SQL
echo "first_query_archive: rows added in $(( $(date +%s) - t0 )) s" >&2
"$duch" info "$out" | grep '^search:' >&2
"$duch" optimize -q "$out"
"$duch" info "$out" | grep -E '^(tiles|search):' >&2
touch "$out.done"
