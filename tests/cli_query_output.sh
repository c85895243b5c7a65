#!/bin/sh
# duch query --format csv and geojson, written by OGR's CSV and GeoJSON drivers: the
# columns users read (names and order), quoting, footprints as WKT and as RFC 7946
# polygons, -o under any name (a file, never a folder), an existing file replaced, and a
# failed write that leaves nothing behind.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create ogrinfo sqlite3
py=/usr/bin/python3
$py -c 'from osgeo import ogr' 2>/dev/null || skip "python3-gdal missing"

# Two small UTM scenes (0.3 m pixels: 260 px tiles, 4 valid tiles each); one has a comma
# and a quote in its name.
gdal_create -q -of GTiff -outsize 600 400 -bands 3 -ot Byte -burn 40 -burn 170 -burn 90 \
    -a_srs EPSG:32610 -a_ullr 501000 4200000 501180 4199880 "$tmp/s1.tif" || fail gdal_create
gdal_create -q -of GTiff -outsize 600 400 -bands 3 -ot Byte -burn 120 -burn 60 -burn 200 \
    -a_srs EPSG:32610 -a_ullr 502000 4200000 502180 4199880 "$tmp/s,2\".tif" || fail gdal_create
a="$tmp/a.sqlite"
"$duch" index -q --model "$model" "$a" "$tmp/s1.tif" "$tmp/s,2\".tif" || fail "index"
n=$(sqlite3 "$a" "SELECT count(*) FROM tiles")
[ "$n" = 8 ] || fail "8 tiles expected, $n indexed"

"$duch" query "$a" "a parking lot" -k 8 --format csv > "$tmp/q.csv" || fail "csv to stdout"
"$duch" query "$a" "a parking lot" -k 8 --format csv -o "$tmp/q.txt" || fail "csv -o q.txt"
[ -f "$tmp/q.txt" ] || fail "csv -o q.txt did not write a file"
cmp -s "$tmp/q.csv" "$tmp/q.txt" || fail "csv: stdout and -o differ"
echo stale > "$tmp/q.geojson"
"$duch" query "$a" "a parking lot" -k 8 --format geojson -o "$tmp/q.geojson" || fail "geojson -o (existing file)"
"$duch" query "$a" "a parking lot" -k 8 --format geojson > "$tmp/q2.json" || fail "geojson to stdout"
cmp -s "$tmp/q.geojson" "$tmp/q2.json" || fail "geojson: stdout and -o differ"
"$duch" query "$a" "a parking lot" -k 8 > "$tmp/q.text" || fail "text"
[ "$(head -1 "$tmp/q.text" | tr -s ' ')" = "rank dist conf tile_id window scene" ] || fail "text header: $(head -1 "$tmp/q.text")"

$py - "$tmp" <<'PY' || fail "csv / geojson content"
import csv, json, sys
from osgeo import ogr
d = sys.argv[1]
names = ["rank", "distance", "confidence", "tile_id", "scene_id", "scene", "x_off", "y_off", "width", "height"]
def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)

rows = list(csv.reader(open(d + "/q.csv", newline="")))
check(rows[0] == names + ["footprint_wkt"], "csv header %r" % rows[0])
rows = rows[1:]
check(len(rows) == 8, "csv: %d rows, 8 expected" % len(rows))
check([int(r[0]) for r in rows] == list(range(1, 9)), "csv ranks")
dist = [int(r[1]) for r in rows]
check(dist == sorted(dist), "csv distances not ascending: %r" % dist)
check({r[5] for r in rows} == {d + "/s1.tif", d + '/s,2".tif'}, "csv scenes %r" % {r[5] for r in rows})
check(len({r[3] for r in rows}) == 8, "csv tile ids not distinct")
for r in rows:
    g = ogr.CreateGeometryFromWkt(r[10])
    check(g is not None and g.GetGeometryName() == "POLYGON", "csv footprint_wkt %r" % r[10][:80])
    ring = g.GetGeometryRef(0)
    check(ring.GetPoint_2D(0) == ring.GetPoint_2D(ring.GetPointCount() - 1), "csv ring not closed")
    lon, lat = ring.GetPoint_2D(0)
    check(-123.1 < lon < -122.9 and 37.9 < lat < 38.0, "csv ring not lon/lat: %r" % ((lon, lat),))

gj = json.load(open(d + "/q.geojson"))
check(gj["type"] == "FeatureCollection" and "crs" not in gj, "geojson: not an RFC 7946 collection")
fs = gj["features"]
check(len(fs) == 8, "geojson: %d features" % len(fs))
for i, (f, r) in enumerate(zip(fs, rows)):
    p = f["properties"]
    check(list(p) == names, "geojson property names %r" % list(p))
    ints = [k for k in names if k != "confidence"]
    check([str(p[k]) for k in ints] == [r[names.index(k)] for k in ints],
          "geojson feature %d differs from csv row" % i)
    # confidence: a number in 0..1 in both, or empty (csv) and null (geojson) alike
    c = p["confidence"]
    check((c is None and r[2] == "") or (c is not None and 0 <= c <= 1 and abs(c - float(r[2])) < 1e-9),
          "geojson confidence %r, csv %r" % (c, r[2]))
    check(isinstance(p["rank"], int) and isinstance(p["tile_id"], int), "geojson numbers")
    g = f["geometry"]
    check(g["type"] == "Polygon" and len(g["coordinates"]) == 1, "geojson geometry %r" % g["type"])
    ring = g["coordinates"][0]
    check(ring[0] == ring[-1] and len(ring) >= 4, "geojson ring not closed")
    check(all(-123.1 < x < -122.9 and 37.9 < y < 38.0 for x, y in ring), "geojson ring not lon/lat")
    area = sum(ring[j][0] * ring[j + 1][1] - ring[j + 1][0] * ring[j][1] for j in range(len(ring) - 1))
    check(area > 0, "geojson exterior ring not counter-clockwise (RFC 7946)")
PY

# ogrinfo reads both back (the footprint of the csv as a geometry when asked).
[ "$(ogrinfo -ro -q -al "$tmp/q.geojson" | grep -c '^  POLYGON')" = 8 ] || fail "ogrinfo geojson"
[ "$(ogrinfo -ro -q -al -oo GEOM_POSSIBLE_NAMES=footprint_wkt -oo KEEP_GEOM_COLUMNS=NO "$tmp/q.csv" |
     grep -c '^  POLYGON')" = 8 ] || fail "ogrinfo csv"

# A write that fails: exit 1, a message naming the file, nothing left behind.
mkdir "$tmp/out"
"$duch" query "$a" "a parking lot" --format csv -o "$tmp/out/none/q.csv" 2>"$tmp/err"
[ $? = 1 ] || fail "csv into a missing folder should fail"
grep -q "cannot write $tmp/out/none/q.csv" "$tmp/err" || fail "csv failure message: $(cat "$tmp/err")"
chmod a-w "$tmp/out"
if [ ! -w "$tmp/out" ]; then # (root writes anyway)
    "$duch" query "$a" "a parking lot" --format geojson -o "$tmp/out/q.geojson" 2>"$tmp/err"
    [ $? = 1 ] || fail "geojson into a read-only folder should fail"
    grep -q "cannot write $tmp/out/q.geojson" "$tmp/err" || fail "geojson failure message: $(cat "$tmp/err")"
fi
chmod u+w "$tmp/out"
[ -z "$(ls -A "$tmp/out")" ] || fail "a failed write left $(ls -A "$tmp/out")"
echo ok
