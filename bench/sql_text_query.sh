#!/bin/sh
# Text query end to end in SQL (encode + search) over N tiles, through mod_duch in the
# sqlite3 shell: the first query of a new connection (model load + code cache fill), then
# warm queries; next to duch_knn with a code (the baseline: search only) in the same run.
#
# usage: bench/sql_text_query.sh [N] [BUILD_DIR]      (N default 1000000)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
build=${2:-$top/build}
export DUCH_MODEL_LIB=${DUCH_MODEL_LIB:-$build/.libs/libduch_model.so}
export DUCH_LIB=${DUCH_LIB:-$build/.libs/libduch.so}
model=${DUCH_DEFAULT_MODEL:-$top/model/default.duchm}
ext=$build/.libs/mod_duch
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export DUCH_QUIET=1

# An archive with the model (one small real-looking scene), then N random 64-bit codes.
gdal_create -q -of GTiff -outsize 256 256 -bands 3 -burn 90 -burn 120 -burn 80 -a_srs EPSG:32610 \
    -a_ullr 500000 4200000 500078.03 4199921.97 "$tmp/s.tif"
"$build/duch" index -q --model "$model" "$tmp/a.sqlite" "$tmp/s.tif"
sqlite3 "$tmp/a.sqlite" ".load mod_spatialite" "
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $n)
INSERT INTO tiles(scene_id, x_off, y_off, width, height, code) SELECT 1, 0, 0, 1, 1, randomblob(8) FROM c;"
echo "== scope: mod_duch in sqlite3 $(sqlite3 --version | cut -d' ' -f1), $(sqlite3 "$tmp/a.sqlite" 'SELECT count(*) FROM tiles') tiles of 64 bits, model $(basename "$model"), $(nproc) cores"

q="a river with green banks"
code=$(sqlite3 "$tmp/a.sqlite" ".load $ext" "SELECT hex(duch_text_code('$q'))")
{
    echo ".load $ext"
    echo ".timer on"
    echo "SELECT 'first', count(*) FROM duch_knn('$q', 20);"
    for i in 1 2 3 4 5 6 7 8 9 10; do echo "SELECT 'text', count(*) FROM duch_knn('$q', 20);"; done
    for i in 1 2 3 4 5 6 7 8 9 10; do echo "SELECT 'code', count(*) FROM duch_knn(x'$code', 20);"; done
} > "$tmp/run.sql"
sqlite3 "$tmp/a.sqlite" < "$tmp/run.sql" > "$tmp/out" 2>&1
# A new connection: the model load alone (no search).
{ echo ".load $ext"; echo ".timer on"; echo "SELECT 'load', length(duch_text_code('$q'));"; } |
    sqlite3 "$tmp/a.sqlite" >> "$tmp/out" 2>&1
python3 - "$tmp/out" <<'PY'
import sys, statistics
rows, label = {}, None
for line in open(sys.argv[1]):
    if line.startswith("Run Time:"):
        rows.setdefault(label, []).append(float(line.split()[3]) * 1000)
    elif "|" in line:
        label = line.split("|")[0]
first, load = rows["first"][0], rows["load"][0]
t, c = statistics.median(rows["text"]), statistics.median(rows["code"])
print(f"first text query in a new connection (model load + cache fill + encode + search): {first:.1f} ms")
print(f"model load + one text encode alone (new connection, duch_text_code): {load:.1f} ms")
print(f"warm text query (encode + search), median of 10: {t:.2f} ms")
print(f"warm code query (search only, baseline), median of 10: {c:.2f} ms")
print(f"encode overhead (text - code): {t - c:.2f} ms; sqlite3 .timer resolution is 1 ms")
PY
