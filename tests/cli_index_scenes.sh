#!/bin/sh
# Index every raster of ../shared/data/scenes with the shipped model: all succeed, the
# ucm_mosaic grid lines up with the 256x256 cells of ucm_mosaic.truth.csv (384 tiles, each
# tile's offsets a cell), ogrinfo sees the right count, and a query returns hits.
. "${top_srcdir:?}/tests/cli_common.sh"
data=${DUCH_SHARED_DATA:-}/scenes
[ -f "$data/ucm_mosaic.tif" ] || skip "no ../shared/data/scenes"
need_model
scenes=$(ls "$data"/*.tif "$data"/*.TIF 2>/dev/null)
# shellcheck disable=SC2086
"$duch" index -j 2 --model "$model" "$tmp/all.sqlite" $scenes 2>"$tmp/err" || fail "index: $(cat "$tmp/err")"
n=$(echo "$scenes" | wc -l)
[ "$(sqlite3 "$tmp/all.sqlite" "SELECT count(*) FROM scenes WHERE complete = 1")" = "$n" ] || fail "not all $n scenes indexed"
for s in $scenes; do
    c=$(sqlite3 "$tmp/all.sqlite" "SELECT count(*) FROM tiles t JOIN scenes s USING (scene_id) WHERE s.path LIKE '%/$(basename "$s")'")
    [ "$c" -gt 0 ] || fail "no tile for $s"
    echo "ok $(basename "$s"): $c tiles"
done
# ucm_mosaic: 384 tiles, exactly the truth cells.
sqlite3 "$tmp/all.sqlite" "SELECT t.x_off || ',' || t.y_off || ',' || t.width || ',' || t.height FROM tiles t
    JOIN scenes s USING (scene_id) WHERE s.path LIKE '%/ucm_mosaic.tif' ORDER BY t.y_off, t.x_off" > "$tmp/tiles.txt"
tail -n +2 "$data/ucm_mosaic.truth.csv" | awk -F, '{print $3 "," $4 ",256,256"}' | sort -t, -k2,2n -k1,1n > "$tmp/cells.txt"
[ "$(wc -l < "$tmp/tiles.txt")" = 384 ] || fail "ucm_mosaic: $(wc -l < "$tmp/tiles.txt") tiles, expected 384"
cmp -s "$tmp/tiles.txt" "$tmp/cells.txt" || fail "ucm_mosaic tiles do not match the truth cells"
echo "ok ucm_mosaic: 384 tiles on the 256x256 truth cells"
total=$(sqlite3 "$tmp/all.sqlite" "SELECT count(*) FROM tiles")
ogrinfo -ro -so "$tmp/all.sqlite" tiles | grep -q "Feature Count: $total" || fail "ogrinfo tiles count != $total"
"$duch" query "$tmp/all.sqlite" "a parking lot full of cars" -k 5 --format csv > "$tmp/q.csv" || fail "query"
[ "$(wc -l < "$tmp/q.csv")" = 6 ] || fail "query: 5 hits expected"
echo ok
