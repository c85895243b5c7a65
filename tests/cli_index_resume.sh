#!/bin/sh
# duch index end to end: create, append, skip, refuse another model, and survive kill -9
# in the middle of a scene's transaction (the rerun resumes and the result equals a
# clean run's).
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create

# Four small UTM scenes with different content (a gradient VRT shifted per scene).
for i in 1 2 3 4; do
    gdal_create -q -of GTiff -outsize 600 400 -bands 3 -ot Byte -burn $((40 * i)) -burn $((200 - 30 * i)) -burn 90 \
        -a_srs EPSG:32610 -a_ullr $((500000 + 1000 * i)) 4200000 $((500180 + 1000 * i)) 4199880 \
        "$tmp/s$i.tif" || fail "gdal_create"
done
# 0.3 m pixels, 78.03 m tiles -> 260 px tiles: a 3x2 grid per scene of which 4 tiles are valid enough

# A clean run of all four.
"$duch" index --model "$model" "$tmp/clean.sqlite" "$tmp"/s1.tif "$tmp"/s2.tif "$tmp"/s3.tif "$tmp"/s4.tif ||
    fail "clean index run"
clean_tiles=$(sq "$tmp/clean.sqlite" "SELECT count(*) FROM tiles")
[ "$clean_tiles" -gt 0 ] || fail "no tiles indexed"
[ "$(sq "$tmp/clean.sqlite" "SELECT count(*) FROM scenes WHERE complete = 1")" = 4 ] || fail "4 scenes expected"

# Killed after 1 scene + part of the next: SIGKILL inside a scene transaction, from
# tests/pipeline_kill (duch_ingest as duch index calls it, killed at a tile's insert).
per_scene=$((clean_tiles / 4))
"$top_builddir/tests/pipeline_kill" $((per_scene + 1)) -q --model "$model" "$tmp/a.sqlite" \
    "$tmp"/s1.tif "$tmp"/s2.tif "$tmp"/s3.tif "$tmp"/s4.tif
rc=$?
[ "$rc" = 137 ] || fail "expected tests/pipeline_kill to die by SIGKILL (137), got $rc"
# Consistent: only whole scenes, no tile without its scene, integrity ok.
[ "$(sq "$tmp/a.sqlite" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after kill"
done1=$(sq "$tmp/a.sqlite" "SELECT count(*) FROM scenes")
[ "$done1" = 1 ] || fail "after the kill 1 complete scene expected, found $done1"
orphans=$(sq "$tmp/a.sqlite" "SELECT count(*) FROM tiles WHERE scene_id NOT IN (SELECT scene_id FROM scenes WHERE complete = 1)")
[ "$orphans" = 0 ] || fail "$orphans tiles of incomplete scenes"
[ "$(sq "$tmp/a.sqlite" "SELECT count(*) FROM tiles")" = "$per_scene" ] || fail "partial scene rows visible"

# The same command again resumes: 1 skipped, 3 indexed; same rows as the clean run.
out=$("$duch" index --model "$model" "$tmp/a.sqlite" "$tmp"/s1.tif "$tmp"/s2.tif "$tmp"/s3.tif "$tmp"/s4.tif 2>&1) ||
    fail "resume run: $out"
echo "$out" | grep -q "3 scenes indexed, 1 already there, 0 failed" || fail "resume summary: $out"
q="SELECT s.path, t.x_off, t.y_off, t.width, t.height, hex(t.code) FROM tiles t JOIN scenes s USING(scene_id) ORDER BY 1,2,3"
[ "$(sq "$tmp/a.sqlite" "$q")" = "$(sq "$tmp/clean.sqlite" "$q")" ] || fail "resumed archive differs from a clean run"

# Again: everything skipped. Appending a new scene works.
out=$("$duch" index "$tmp/a.sqlite" "$tmp"/s1.tif 2>&1) || fail "rerun: $out"
echo "$out" | grep -q "0 scenes indexed, 1 already there" || fail "skip summary: $out"

# A scene that fails is reported, the others go on, the exit status is 1.
printf 'not a raster' > "$tmp/bad.tif"
"$duch" index -q "$tmp/b.sqlite" --model "$model" "$tmp/bad.tif" "$tmp/s1.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "a failing scene should make the exit status 1"
grep -q "bad.tif" "$tmp/err" || fail "the failing scene is not named: $(cat "$tmp/err")"
[ "$(sq "$tmp/b.sqlite" "SELECT count(*) FROM scenes")" = 1 ] || fail "the good scene was not indexed"

# @filelist and -j 2 give the same rows as the clean run.
printf '%s\n' "# scenes" "$tmp/s1.tif" "$tmp/s2.tif" "" "$tmp/s3.tif" "$tmp/s4.tif" > "$tmp/list.txt"
"$duch" index -q -j 2 --model "$model" "$tmp/c.sqlite" "@$tmp/list.txt" || fail "-j 2 @list"
[ "$(sq "$tmp/c.sqlite" "$q")" = "$(sq "$tmp/clean.sqlite" "$q")" ] || fail "-j 2 archive differs"

# Bad options are usage errors.
"$duch" index -q --overlap -1 "$tmp/d.sqlite" "$tmp/s1.tif" 2>/dev/null; [ $? = 2 ] || fail "--overlap -1"
"$duch" index -q --bands 1,2 "$tmp/d.sqlite" "$tmp/s1.tif" 2>/dev/null; [ $? = 2 ] || fail "--bands 1,2"
"$duch" index -q "$tmp/d.sqlite" 2>/dev/null; [ $? = 2 ] || fail "no scene"
# A model file that is not a model: clear error, nothing written.
printf 'garbage' > "$tmp/bad.duchm"
"$duch" index -q --model "$tmp/bad.duchm" "$tmp/e.sqlite" "$tmp/s1.tif" 2>"$tmp/err"
[ $? = 1 ] || fail "bad model should fail"
grep -q "bad.duchm" "$tmp/err" || fail "bad model message: $(cat "$tmp/err")"
[ ! -e "$tmp/e.sqlite" ] || fail "a run that failed on its model left an archive behind"
# An existing archive refuses another model, and keeps its rows.
"$duch" index -q --model "$tmp/bad.duchm" "$tmp/a.sqlite" "$tmp/s1.tif" 2>/dev/null; [ $? = 1 ] || fail "bad model on existing archive"
[ "$(sq "$tmp/a.sqlite" "SELECT count(*) FROM scenes")" = 4 ] || fail "existing archive changed"
# A raster without georeferencing is refused, and indexed with --allow-pixel (no footprint).
gdal_create -q -of GTiff -outsize 600 400 -bands 3 -ot Byte -burn 10 -burn 20 -burn 30 "$tmp/plain.tif" || fail gdal_create
"$duch" index -q --model "$model" "$tmp/p.sqlite" "$tmp/plain.tif" 2>"$tmp/err"; [ $? = 1 ] || fail "ungeoreferenced raster accepted"
grep -qi "georef\|geotransform" "$tmp/err" || fail "refusal message: $(cat "$tmp/err")"
grep -q "(allow_pixel) (duch index --allow-pixel)" "$tmp/err" || fail "refusal message names no option: $(cat "$tmp/err")"
"$duch" index -q --allow-pixel --tile-size 200 --model "$model" "$tmp/p.sqlite" "$tmp/plain.tif" || fail "--allow-pixel"
[ "$(sq "$tmp/p.sqlite" "SELECT count(*) FROM tiles WHERE footprint IS NULL")" = 6 ] || fail "--allow-pixel tiles"
echo ok
