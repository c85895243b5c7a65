#!/bin/sh
# duch index commits long scenes in chunks (issue 8): kill -9 at any point, SIGINT or
# SIGTERM, then the same command again, gives exactly the rows of one clean run; the
# incomplete scene is visible as such in between; a resume with another grid is refused;
# the same long scene twice with -j 2 is stored once.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
py=/usr/bin/python3
$py -c 'from osgeo import gdal_array' 2>/dev/null || skip "python3-gdal (numpy) missing"

# Textured UTM scenes at 0.3 m (260 px tiles): big.tif 2600 px square = 10 x 10 tiles,
# huge.tif 3900 px = 15 x 15 tiles (long enough to be signalled while it runs).
$py - "$tmp" <<'PY' || fail "making the scenes"
import sys
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
srs = osr.SpatialReference(); srs.ImportFromEPSG(32610)
for name, side, seed in (("big", 2600, 1), ("huge", 3900, 2)):
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(3, side // 65 + 1, side // 65 + 1), dtype=np.uint8)
    img = np.repeat(np.repeat(blocks, 65, axis=1), 65, axis=2)[:, :side, :side]
    ds = gdal.GetDriverByName("GTiff").Create(f"{sys.argv[1]}/{name}.tif", side, side, 3, gdal.GDT_Byte,
                                              ["TILED=YES"])
    ds.SetGeoTransform((500000 + seed * 5000, 0.3, 0, 4200000, 0, -0.3))
    ds.SetProjection(srs.ExportToWkt())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img[b])
    ds = None
PY
rows="SELECT s.path, t.x_off, t.y_off, t.width, t.height, hex(t.code) FROM tiles t JOIN scenes s USING (scene_id) ORDER BY 1, 2, 3"
scene_ok="SELECT count(*) FROM scenes WHERE complete = 1 AND writer IS NULL AND tile_count = (SELECT count(*) FROM tiles)"

"$duch" index --chunk 7 --model "$model" "$tmp/clean.sqlite" "$tmp/big.tif" || fail "clean run"
total=$(sq "$tmp/clean.sqlite" "SELECT count(*) FROM tiles")
[ "$total" = 100 ] || fail "clean run: $total tiles, 100 expected"
[ "$(sq "$tmp/clean.sqlite" "$scene_ok")" = 1 ] || fail "clean run: scene row"

# kill -9 inside a chunk's transaction after N tiles written (tests/pipeline_kill: the
# insert of tile N + 1 raises SIGKILL), then rerun with duch index.
kill_run="$top_builddir/tests/pipeline_kill"
for n in 0 7 99; do
    a="$tmp/k$n.sqlite"
    "$kill_run" $n --chunk 7 --model "$model" "$a" "$tmp/big.tif"
    rc=$?
    [ "$rc" = 137 ] || fail "kill after $n: expected 137, got $rc"
    [ "$(sq "$a" "PRAGMA integrity_check")" = ok ] || fail "kill after $n: integrity_check"
    committed=$(( n / 7 * 7 ))
    [ "$(sq "$a" "SELECT count(*) FROM tiles")" = "$committed" ] ||
        fail "kill after $n: $(sq "$a" "SELECT count(*) FROM tiles") tiles stored, $committed expected (whole chunks)"
    if [ "$committed" -gt 0 ]; then
        # what readers see of an incomplete scene: its row (complete = 0, the dead writer),
        # the committed tiles, searchable; duch info says so
        [ "$(sq "$a" "SELECT complete, writer IS NOT NULL FROM scenes")" = "0|1" ] || fail "kill after $n: scene row"
        "$duch" info "$a" | grep -q "incomplete: *1 scenes, $committed tiles" || fail "kill after $n: duch info"
        [ "$("$duch" query "$a" "a parking lot" -k 1000 --format csv | tail -n +2 | wc -l)" = "$committed" ] ||
            fail "kill after $n: the committed tiles are not searchable"
    fi
    out=$("$duch" index --chunk 7 --model "$model" "$a" "$tmp/big.tif" 2>&1) || fail "rerun after kill at $n: $out"
    if [ "$committed" -gt 0 ]; then
        echo "$out" | grep -q "1 scenes indexed.*$((total - committed)) tiles written.*1 resumed" ||
            fail "rerun after kill at $n: summary: $out"
    fi
    [ "$(sq "$a" "$rows")" = "$(sq "$tmp/clean.sqlite" "$rows")" ] || fail "kill after $n + rerun differs from a clean run"
    [ "$(sq "$a" "$scene_ok")" = 1 ] || fail "kill after $n + rerun: scene row not complete"
done

# A resume with another grid is refused; the archive is unchanged.
"$kill_run" 20 --chunk 7 --model "$model" "$tmp/g.sqlite" "$tmp/big.tif"
[ $? = 137 ] || fail "kill after 20: not killed"
[ "$(sq "$tmp/g.sqlite" "SELECT count(*) FROM tiles")" = 14 ] || fail "kill after 20: not 2 chunks stored"
before=$(sq "$tmp/g.sqlite" "$rows")
"$duch" index --overlap 50 "$tmp/g.sqlite" "$tmp/big.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "resume with another --overlap accepted"
grep -q "resume it with the same tile size and overlap (give the same --tile-size and --overlap" "$tmp/err" ||
    fail "grid mismatch message: $(cat "$tmp/err")"
[ "$(sq "$tmp/g.sqlite" "$rows")" = "$before" ] || fail "the refused resume changed the archive"

# SIGINT, SIGTERM and an outside kill -9 while a long scene runs; then the same command.
"$duch" index --chunk 5 --model "$model" "$tmp/hclean.sqlite" "$tmp/huge.tif" || fail "clean run (huge)"
htotal=$(sq "$tmp/hclean.sqlite" "SELECT count(*) FROM tiles")
for sig in INT TERM KILL; do
    a="$tmp/sig$sig.sqlite"
    "$duch" index --chunk 5 --batch 1 --threads 1 --model "$model" "$a" "$tmp/huge.tif" 2>"$tmp/err" &
    pid=$!
    i=0
    until [ -f "$a" ] && [ "$(sq "$a" "SELECT count(*) FROM tiles" 2>/dev/null || echo 0)" -gt 10 ]; do
        i=$((i + 1)); [ $i -lt 600 ] || { kill -9 $pid; fail "$sig: no chunk committed in 60 s"; }
        sleep 0.1
    done
    kill -$sig $pid
    wait $pid
    rc=$?
    case $sig in INT) want=130;; TERM) want=143;; KILL) want=137;; esac
    [ "$rc" = "$want" ] || fail "SIG$sig: exit status $rc, $want expected: $(cat "$tmp/err")"
    [ "$(sq "$a" "PRAGMA integrity_check")" = ok ] || fail "SIG$sig: integrity_check"
    stored=$(sq "$a" "SELECT count(*) FROM tiles")
    [ "$stored" -gt 10 ] && [ "$stored" -lt "$htotal" ] || fail "SIG$sig: $stored of $htotal tiles stored"
    if [ $sig != KILL ]; then
        grep -q "stopping after the current chunk" "$tmp/err" || fail "SIG$sig: no message: $(cat "$tmp/err")"
        # a clean stop releases the scene for the next run
        [ "$(sq "$a" "SELECT complete, writer IS NULL FROM scenes")" = "0|1" ] || fail "SIG$sig: scene not released"
    fi
    out=$("$duch" index --chunk 5 --model "$model" "$a" "$tmp/huge.tif" 2>&1) || fail "SIG$sig rerun: $out"
    echo "$out" | grep -q "1 resumed" || fail "SIG$sig rerun did not resume: $out"
    [ "$(sq "$a" "$rows")" = "$(sq "$tmp/hclean.sqlite" "$rows")" ] || fail "SIG$sig + rerun differs from a clean run"
    [ "$(sq "$a" "$scene_ok")" = 1 ] || fail "SIG$sig + rerun: scene row not complete"
done

# The same long scene twice with -j 2: one worker indexes it, the other sees it busy.
"$duch" index -j 2 --chunk 5 --model "$model" "$tmp/j2.sqlite" "$tmp/big.tif" "$tmp/big.tif" 2>"$tmp/err" ||
    fail "-j 2 big big: $(cat "$tmp/err")"
[ "$(sq "$tmp/j2.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "-j 2 big big: scene stored twice"
[ "$(sq "$tmp/j2.sqlite" "$rows")" = "$(sq "$tmp/clean.sqlite" "$rows")" ] || fail "-j 2 big big: rows differ"
echo ok
