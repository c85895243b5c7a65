#!/bin/sh
# What a newcomer sees (issue 12): duch index's warnings, one line each with no blank lines
# between them, and none at all with -q; the contact sheet's labels (rank and distance
# under each tile); a saved result's geometry named footprint, as in tiles and scenes,
# and a result saved by an older duch (geometry named "geometry") replaced by a new save.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create sqlite3
py=/usr/bin/python3
$py -c 'from osgeo import gdal' 2>/dev/null || skip "python3-gdal missing"

# Two scenes much coarser than the model (10 m pixels): each gets two warnings.
for i in 1 2; do
    gdal_create -q -of GTiff -outsize 200 200 -bands 3 -ot Byte -burn $((40 * i)) -burn 150 -burn 90 \
        -a_srs EPSG:32610 -a_ullr $((500000 + 3000 * i)) 4200000 $((502000 + 3000 * i)) 4198000 \
        "$tmp/c$i.tif" || fail gdal_create
done
"$duch" index --model "$model" "$tmp/a.sqlite" "$tmp/c1.tif" "$tmp/c2.tif" >"$tmp/out" 2>"$tmp/err" ||
    fail "index: $(cat "$tmp/err")"
w=$(grep -c '^duch: warning: ' "$tmp/err")
[ "$w" -ge 2 ] || { cat "$tmp/err"; fail "index: $w warnings, expected at least 2"; }
if grep -qn '^$' "$tmp/err"; then cat -A "$tmp/err"; fail "index: blank lines among its messages"; fi
grep -q 'scenes indexed' "$tmp/err" || fail "index: no summary without -q"
"$duch" index -q --model "$model" "$tmp/b.sqlite" "$tmp/c1.tif" "$tmp/c2.tif" >"$tmp/out" 2>"$tmp/err" ||
    fail "index -q: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "index -q printed on stderr"; }
# -q keeps what failed
printf 'not a raster' >"$tmp/bad.tif"
"$duch" index -q --model "$model" "$tmp/b.sqlite" "$tmp/bad.tif" 2>"$tmp/err" && fail "index -q of a bad file succeeded"
grep -q 'bad.tif' "$tmp/err" || fail "index -q of a bad file: no message naming it"

# The contact sheet: 5 columns of 160 px cells with a 20 px label below each; the label
# has dark pixels (the text), the tiles of these scenes are not dark.
"$duch" query -q "$tmp/a.sqlite" "a green field" -k 7 --quicklook "$tmp/q.png" --save hits >/dev/null ||
    fail "query --quicklook"
$py - "$tmp/q.png" <<'PY' || fail "contact sheet labels"
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1])
w, h = ds.RasterXSize, ds.RasterYSize
assert (w, h) == (5 * 160 + 6 * 4, 2 * (160 + 20) + 3 * 4), (w, h)
px = ds.GetRasterBand(1).ReadAsArray()
for i in range(7):
    ox, oy = 4 + (i % 5) * 164, 4 + (i // 5) * 184
    label = px[oy + 160:oy + 180, ox:ox + 160]
    dark = int((label < 60).sum())
    assert dark > 40, f"hit {i + 1}: {dark} dark pixels in its label"
    assert int((px[oy:oy + 160, ox:ox + 160] < 20).sum()) == 0, f"hit {i + 1}: black in the tile"
# an empty cell (8th) has no label
label = px[4 + 184 + 160:4 + 184 + 180, 4 + 2 * 164:4 + 2 * 164 + 160]
assert int((label < 60).sum()) == 0, "a label under no tile"
print("labels ok")
PY

# Saved hits: geometry column "footprint", registered, with its spatial index.
g=$(sq "$tmp/a.sqlite" "SELECT f_geometry_column FROM geometry_columns WHERE f_table_name = 'hits'")
[ "$g" = footprint ] || fail "saved hits: geometry column '$g', expected footprint"
[ "$(sq "$tmp/a.sqlite" "SELECT count(*) FROM hits WHERE footprint IS NOT NULL")" = 7 ] || fail "saved hits: 7 footprints expected"
[ "$(sq "$tmp/a.sqlite" "SELECT count(*) FROM sqlite_master WHERE name = 'idx_hits_footprint'")" = 1 ] ||
    fail "saved hits: no spatial index idx_hits_footprint"

# A table saved by an older duch (geometry named "geometry") is replaced by a new save.
sqlite3 "$tmp/a.sqlite" >"$tmp/out" 2>&1 <<'SQL' || fail "making an old-style saved table: $(cat "$tmp/out")"
.load mod_spatialite
CREATE TABLE old (fid INTEGER PRIMARY KEY, rank INTEGER NOT NULL, distance INTEGER NOT NULL,
  tile_id INTEGER NOT NULL, scene_id INTEGER, scene TEXT, x_off INTEGER, y_off INTEGER,
  width INTEGER, height INTEGER, query TEXT);
SELECT AddGeometryColumn('old', 'geometry', 4326, 'POLYGON', 'XY');
SELECT CreateSpatialIndex('old', 'geometry');
INSERT INTO duch_saved (name, query, hits, saved_at) VALUES ('old', 'x', 0, '2026-11-01T00:00:00Z');
SQL
"$duch" query -q "$tmp/a.sqlite" "a green field" -k 3 --save old >/dev/null 2>"$tmp/err" ||
    fail "--save over an old-style saved table: $(cat "$tmp/err")"
g=$(sq "$tmp/a.sqlite" "SELECT group_concat(f_geometry_column) FROM geometry_columns WHERE f_table_name = 'old'")
[ "$g" = footprint ] || fail "old saved table replaced: geometry columns '$g', expected footprint"
[ "$(sq "$tmp/a.sqlite" "SELECT count(*) FROM sqlite_master WHERE name LIKE 'idx_old_geometry%'")" = 0 ] ||
    fail "old saved table replaced: its old spatial index is left"
echo "ok"
