#!/bin/sh
# bench/pg_knn.sh: search and indexing in PostgreSQL (not part of make check).
#   make bench-pg            (from the build folder), or
#   bench/pg_knn.sh BUILDDIR [TILES] [WRITERS]      TILES default 1000000, WRITERS "1 2 4"
# On a private cluster (tests/pg_common.sh: initdb, pg_ctl on a socket folder, no TCP):
#   1. TILES synthetic 64-bit codes with footprints in a PostGIS archive;
#   2. the extension's duch_knn (first call of a session: the cache load; then warm calls)
#      against plain SQL on the same rows, ORDER BY bit_count(code # q), tile_id LIMIT k
#      on a bit(64) copy of the codes, checking that both return the same tiles;
#   3. mod_duch on a SQLite copy of the same rows;
#   4. WRITERS concurrent `duch index` processes on overlapping lists of 8 scenes against
#      one process on all of them.
# Prints times in ms and ratios against the named baseline, and the backend's memory.
set -eu
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=$(cd "${1:-.}" && pwd)
n=${2:-1000000}
writers=${3:-1 2 4}
duch="$top_builddir/duch"
model="$top_srcdir/model/default.duchm"
[ -x "$duch" ] || { echo "pg_knn.sh: $duch not built" >&2; exit 1; }
tmp=$(mktemp -d)
fail() { echo "pg_knn.sh: $*" >&2; exit 1; }
. "$top_srcdir/tests/pg_common.sh"
pg_start
pg_db bench
export DUCH_QUIET=1
echo "duch PostgreSQL benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(psql -XAtc 'SHOW server_version'), $(date -u +%Y-%m-%dT%H:%MZ)"

# 1. the archive: one real index run (schema, model), then TILES rows made in SQL
gdal_create -q -of GTiff -outsize 400 400 -bands 3 -ot Byte -burn 90 -burn 140 -burn 60 \
    -a_srs EPSG:32610 -a_ullr 500000 4200000 500400 4199600 "$tmp/seed.tif"
"$duch" index -q --model "$model" "PG:$pgc" "$tmp/seed.tif"
t0=$(date +%s.%N)
psqlq -d bench -c "TRUNCATE tiles; INSERT INTO tiles (scene_id, x_off, y_off, width, height, code, footprint)
  SELECT 1, i % 10000, i / 10000, 64, 64, substring(decode(md5(i::text), 'hex') from 1 for 8),
         ST_MakeEnvelope(lon, lat, lon + 0.001, lat + 0.001, 4326)
  FROM (SELECT i, ((i * 7919) % 359000) / 1000.0 - 179.5 AS lon, ((i * 104729) % 169000) / 1000.0 - 84.5 AS lat
        FROM generate_series(1::bigint, $n) i) g;
  CREATE TABLE plain AS SELECT tile_id, ('x' || encode(code, 'hex'))::bit(64) AS cb FROM tiles;" >/dev/null
psqlq -d bench -c "VACUUM ANALYZE tiles" -c "VACUUM ANALYZE plain" >/dev/null
t1=$(date +%s.%N)
echo "rows: $n tiles made in $(echo "$t1 - $t0" | bc) s; tiles table $(psqlq -d bench -c "SELECT pg_size_pretty(pg_total_relation_size('tiles'))")"

# query codes: 20 tiles' own codes
psqlq -d bench -c "SELECT encode(code, 'hex') FROM tiles WHERE tile_id % ($n / 20) = 7 ORDER BY tile_id LIMIT 20" >"$tmp/q.txt"
nq=$(wc -l <"$tmp/q.txt")

# 2. one session: duch_knn (first, then warm), the plain SQL, a text and a box query
{
    printf '%s\n' '\timing on'
    echo 'SELECT pg_backend_pid() AS pid \gset'
    echo '\setenv BPID :pid'
    echo '\! grep RssAnon /proc/$BPID/status'
    echo "SELECT 'first'; SELECT count(*) FROM duch_knn('\\x$(head -1 "$tmp/q.txt")'::bytea, 10);"
    echo '\! grep RssAnon /proc/$BPID/status'
    while read -r q; do
        echo "SELECT 'knn'; SELECT string_agg(tile_id::text, ',') FROM duch_knn('\\x$q'::bytea, 10);"
        echo "SELECT 'plain'; SELECT string_agg(tile_id::text, ',') FROM (SELECT tile_id FROM plain ORDER BY bit_count(cb # x'$q'::bit(64)), tile_id LIMIT 10) s;"
    done <"$tmp/q.txt"
    head -10 "$tmp/q.txt" | while read -r q; do
        echo "EXPLAIN ANALYZE SELECT * FROM duch_knn('\\x$q'::bytea, 10);"
        echo "EXPLAIN ANALYZE SELECT tile_id FROM plain ORDER BY bit_count(cb # x'$q'::bit(64)), tile_id LIMIT 10;"
    done
    for i in 1 2 3 4 5; do
        echo "SELECT 'text'; SELECT count(*) FROM duch_knn('a river with trees', 10);"
        echo "SELECT 'box'; SELECT count(*) FROM duch_knn('\\x$(head -1 "$tmp/q.txt")'::bytea, 10, -10, -10, 10, 10);"
    done
} >"$tmp/s.sql"
psql -X -At -d bench -f "$tmp/s.sql" >"$tmp/s.out" 2>&1 || fail "the session: $(tail "$tmp/s.out")"
[ -z "${BENCH_KEEP:-}" ] || cp "$tmp/s.sql" "$tmp/s.out" "$BENCH_KEEP"
awk '
  /^RssAnon/ { rss[++nr] = $2 }
  /^Function Scan on duch_knn/ { ex = "knn" }
  /^Limit/ { ex = "plain" }
  /^Execution Time:/ { e[ex] = e[ex] " " $3 }
  /^(first|knn|plain|text|box)$/ { kind = $1; skip = 1; next }
  /^Time:/ { if (skip) { skip = 0; next } if (kind != "") { t[kind] = t[kind] " " $2; cnt[kind]++ } ; kind2 = kind; kind = "" ; next }
  /^[0-9,]+$/ && kind == "knn" { knn[++nk] = $0 }
  /^[0-9,]+$/ && kind == "plain" { pl[++np] = $0 }
  function med(s,   a, n, i, j, x) { n = split(s, a, " "); for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x } return n ? a[int((n + 1) / 2)] : 0 }
  END {
    same = 0; for (i = 1; i <= nk; i++) if (knn[i] == pl[i]) same++
    printf "duch_knn first call (reads the rows into the packed cache): %.1f ms; backend private memory (RssAnon) %d -> %d kB (+%.0f MB)\n", med(t["first"]), rss[1], rss[2], (rss[2] - rss[1]) / 1024
    printf "duch_knn warm, code query, k = 10: median %.2f ms over %d\n", med(t["knn"]), cnt["knn"]
    printf "plain SQL ORDER BY bit_count(code # q), tile_id LIMIT 10 (baseline): median %.1f ms over %d\n", med(t["plain"]), cnt["plain"]
    printf "ratio: duch_knn is %.0fx faster than plain SQL; the same top 10 in %d of %d queries\n", med(t["plain"]) / med(t["knn"]), same, nk
    printf "server-side execution (EXPLAIN ANALYZE, 10 queries): duch_knn median %.3f ms, plain SQL %.1f ms: %.0fx\n", med(e["knn"]), med(e["plain"]), med(e["plain"]) / med(e["knn"])
    printf "duch_knn warm, text query (C text encoder included): median %.2f ms\n", med(t["text"])
    printf "duch_knn warm, code query in a 20 x 20 degree box: median %.2f ms\n", med(t["box"])
  }' "$tmp/s.out"

# 3. mod_duch on a SQLite copy of the same rows
psqlq -d bench -c "\\copy (SELECT tile_id, encode(code, 'hex') FROM tiles ORDER BY tile_id) TO '$tmp/codes.csv' CSV" >/dev/null
py=/usr/bin/python3; [ -x "$py" ] || py=python3
"$py" - "$tmp/codes.csv" "$tmp/copy.sqlite" <<'EOF'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB)")
with open(sys.argv[1]) as f:
    db.executemany("INSERT INTO tiles VALUES (?, ?)", ((int(a), bytes.fromhex(b)) for a, b in csv.reader(f)))
db.commit()
EOF
"$py" - "$tmp/copy.sqlite" "$top_builddir/.libs/mod_duch" "$tmp/q.txt" "$tmp/l.ids" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.enable_load_extension(True)
db.load_extension(sys.argv[2])
qs = [bytes.fromhex(l.strip()) for l in open(sys.argv[3]) if l.strip()]
t0 = time.perf_counter()
db.execute("SELECT count(*) FROM duch_knn(?, 10)", (qs[0],)).fetchone()
first = (time.perf_counter() - t0) * 1000
times, out = [], []
for q in qs:
    t0 = time.perf_counter()
    ids = [r[0] for r in db.execute("SELECT tile_id FROM duch_knn(?, 10)", (q,))]
    times.append((time.perf_counter() - t0) * 1000)
    out.append(",".join(map(str, ids)))
times.sort()
print(f"mod_duch on a SQLite copy (rows, no code blocks): first call {first:.1f} ms, warm median {times[len(times) // 2]:.2f} ms")
open(sys.argv[4], "w").write("\n".join(out) + "\n")
EOF
grep -A2 "^knn$" "$tmp/s.out" | grep -E '^[0-9,]+$' >"$tmp/k.ids" || true
cmp -s "$tmp/l.ids" "$tmp/k.ids" && echo "mod_duch and the extension: the same top 10 in all $nq queries" ||
    echo "mod_duch and the extension DIFFER: $(diff "$tmp/l.ids" "$tmp/k.ids" | head -3)"

# 4. concurrent indexers: 8 scenes, WRITERS processes on overlapping lists
for i in 1 2 3 4 5 6 7 8; do
    gdal_create -q -of GTiff -outsize 1600 1600 -bands 3 -ot Byte -burn $((20 * i)) -burn 140 -burn 60 \
        -a_srs EPSG:32610 -a_ullr $((500000 + 2000 * i)) 4200000 $((501600 + 2000 * i)) 4198400 "$tmp/w$i.tif"
done
scenes="$tmp/w1.tif $tmp/w2.tif $tmp/w3.tif $tmp/w4.tif $tmp/w5.tif $tmp/w6.tif $tmp/w7.tif $tmp/w8.tif"
base=""
for w in $writers; do
    pg_db "idx$w"
    th=$(( $(nproc) / w )); [ "$th" -ge 1 ] || th=1
    t0=$(date +%s.%N)
    pids=""
    for j in $(seq 1 "$w"); do
        # worker j starts at scene j: the lists overlap, each scene is written once
        # shellcheck disable=SC2086
        list=$(echo $scenes $scenes | tr ' ' '\n' | tail -n +"$j" | head -8 | tr '\n' ' ')
        # shellcheck disable=SC2086
        "$duch" index -q --model "$model" --threads "$th" "PG:$pgc" $list &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p"; done
    t1=$(date +%s.%N)
    tiles=$(psqlq -d "idx$w" -c "SELECT count(*) FROM tiles")
    once=$(psqlq -d "idx$w" -c "SELECT CASE WHEN count(*) = count(DISTINCT path) AND sum(complete) = 8 THEN 'yes' ELSE 'NO' END FROM scenes")
    s=$(echo "$t1 - $t0" | bc)
    rate=$(echo "scale=1; $tiles / $s" | bc)
    [ -n "$base" ] || base=$rate
    echo "indexing: $w writer(s) x $th thread(s): $tiles tiles in $s s, $rate tiles/s; ratio to 1 writer $(echo "scale=2; $rate / $base" | bc); each scene once: $once"
done
