#!/bin/sh
# Heat maps and regions (duch query --heatmap / --regions / --scene / --combine, the
# heat-map --quicklook, and the DUCH driver's raster): on the real ucm_mosaic.tif and on
# small scenes made here.
#   - georeferencing: each tile's cell centre lies in the tile's window in the scene's CRS
#     and inside its footprint in EPSG:4326; the raster's CRS is the scene's;
#   - values: a cell holds its tile's confidence as duch query gives it; with --overlap,
#     the mean (or --combine max) of the tiles whose window holds the cell's centre;
#   - nodata (-1) where no tile lies; COG layout; union of scenes (same CRS: their CRS;
#     mixed: EPSG:4326) equal to each scene's own map; --scene by id and by path;
#   - regions: adjacent tiles merged (GEOS), one region per connected group per scene,
#     the tile counts and scores right, GeoPackage and GeoJSON; the overlay PNG;
#   - the driver: gdal_translate DUCH:... -oo QUERY= gives the same raster;
#   - errors: clear messages, and nothing written on failure.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create gdal_translate gdalinfo ogrinfo sqlite3
py=/usr/bin/python3
$py -c 'from osgeo import gdal, ogr, osr' 2>/dev/null || skip "python3-gdal missing"
mosaic=${DUCH_SHARED_DATA:-$top_srcdir/../shared/data}/scenes/ucm_mosaic.tif
[ -f "$mosaic" ] || skip "no $mosaic"

m="$tmp/m.sqlite"
"$duch" index -q --model "$model" "$m" "$mosaic" || fail "index the mosaic"
"$duch" index -q --model "$model" --overlap 128 "$tmp/o.sqlite" "$mosaic" || fail "index with overlap"
q="boats in a harbor"
run "heatmap" "$duch" query -q "$m" "$q" -k 1 --heatmap "$tmp/h.tif"
run "hits csv" "$duch" query -q "$m" "$q" -k 384 --format csv -o "$tmp/all.csv"
run "heatmap overlap mean" "$duch" query -q "$tmp/o.sqlite" "$q" -k 1 --heatmap "$tmp/om.tif"
run "heatmap overlap max" "$duch" query -q "$tmp/o.sqlite" "$q" -k 1 --heatmap "$tmp/ox.tif" --combine max
run "hits csv overlap" "$duch" query -q "$tmp/o.sqlite" "$q" -k 10000 --format csv -o "$tmp/oall.csv"
gdalinfo "$tmp/h.tif" | grep -q "LAYOUT=COG" || bad "the heat map is not a COG"
run "driver raster" gdal_translate -q "DUCH:$m" -oo "QUERY=$q" "$tmp/d.tif"
gdalinfo "DUCH:$m" -oo "QUERY=$q" > "$tmp/dinfo" 2>&1 || bad "gdalinfo DUCH: raster"
grep -q "^Driver: DUCH" "$tmp/dinfo" || { bad "gdalinfo: not the DUCH driver"; cat "$tmp/dinfo"; }
grep -q "DUCH_SCORE=confidence" "$tmp/dinfo" || bad "gdalinfo: no DUCH_SCORE metadata"
# opened as every kind (QGIS's raster provider does): the hits layer and the heat map
$py -c 'import sys
from osgeo import gdal
ds = gdal.OpenEx("DUCH:" + sys.argv[1], open_options=["QUERY=" + sys.argv[2], "K=7"])
ok = ds and ds.RasterCount == 1 and ds.GetLayerCount() == 1 and ds.GetLayer(0).GetFeatureCount() == 7
sys.exit(0 if ok and (ds.GetRasterBand(1).ReadAsArray() >= 0).all() else 1)' "$m" "$q" || bad "DUCH: opened as both kinds"

$py - "$tmp" "$mosaic" <<'PY' || bad "mosaic heat maps"
import csv, sys
from osgeo import gdal, ogr, osr
d, mosaic = sys.argv[1], sys.argv[2]
bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what); bad = 1
scene = gdal.Open(mosaic)
sgt = scene.GetGeoTransform()
h = gdal.Open(d + "/h.tif")
gt = h.GetGeoTransform()
band = h.GetRasterBand(1)
a = band.ReadAsArray()
check(a.shape == (16, 24), "mosaic heat map shape %r" % (a.shape,))
check(band.GetNoDataValue() == -1, "nodata %r" % band.GetNoDataValue())
check(h.GetSpatialRef().IsSame(scene.GetSpatialRef()), "heat map CRS is not the scene's")
check(abs(gt[0] - sgt[0]) < 1e-6 and abs(gt[3] - sgt[3]) < 1e-6 and abs(gt[1] - 256 * sgt[1]) < 1e-6
      and abs(gt[5] - 256 * sgt[5]) < 1e-6, "geotransform %r vs scene %r" % (gt, sgt))
src = h.GetSpatialRef().Clone(); src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
wgs = osr.SpatialReference(); wgs.ImportFromEPSG(4326); wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
ct = osr.CoordinateTransformation(src, wgs)
rows = list(csv.DictReader(open(d + "/all.csv")))
check(len(rows) == 384, "%d hits" % len(rows))
for r in rows:
    x, y, w, hh = (int(r[k]) for k in ("x_off", "y_off", "width", "height"))
    c, l = x // 256, y // 256
    cx, cy = gt[0] + (c + 0.5) * gt[1], gt[3] + (l + 0.5) * gt[5]
    # in the scene's CRS: inside the tile's window
    px, py = (cx - sgt[0]) / sgt[1], (cy - sgt[3]) / sgt[5]
    check(x <= px < x + w and y <= py < y + hh, "cell %d,%d centre not in tile %s's window" % (c, l, r["tile_id"]))
    # in EPSG:4326: inside the tile's footprint
    lon, lat, _ = ct.TransformPoint(cx, cy)
    fp = ogr.CreateGeometryFromWkt(r["footprint_wkt"])
    check(fp.Contains(ogr.CreateGeometryFromWkt("POINT (%r %r)" % (lon, lat))),
          "cell %d,%d centre (%f, %f) not in tile %s's footprint" % (c, l, lon, lat, r["tile_id"]))
    check(abs(a[l, c] - float(r["confidence"])) < 1e-5, "cell %d,%d = %f, tile confidence %s" % (c, l, a[l, c], r["confidence"]))
    if bad:
        break
def arr(p):
    ds = gdal.Open(d + "/" + p)  # kept until the band is read (GDAL's Python needs it)
    return ds.GetRasterBand(1).ReadAsArray()
dd = arr("d.tif")
check((dd == a).all(), "gdal_translate DUCH: differs from --heatmap")
# overlap 128: cells of 128 px, each the mean / max of the tiles holding its centre
om, ox = arr("om.tif"), arr("ox.tif")
check(om.shape == (32, 48), "overlap heat map shape %r" % (om.shape,))
cover = {}
for r in csv.DictReader(open(d + "/oall.csv")):
    x, y, w, hh = (int(r[k]) for k in ("x_off", "y_off", "width", "height"))
    for l in range(32):
        for c in range(48):
            cx, cy = c * 128 + 64, l * 128 + 64
            if x <= cx < x + w and y <= cy < y + hh:
                cover.setdefault((l, c), []).append(float(r["confidence"]))
check(len(cover) == 48 * 32, "%d cells covered" % len(cover))
check(max(len(v) for v in cover.values()) == 4, "a cell is covered by at most %d tiles" % max(len(v) for v in cover.values()))
for (l, c), v in cover.items():
    check(abs(om[l, c] - sum(v) / len(v)) < 1e-5, "overlap mean at %d,%d: %f vs %f" % (l, c, om[l, c], sum(v) / len(v)))
    check(abs(ox[l, c] - max(v)) < 1e-5, "overlap max at %d,%d: %f vs %f" % (l, c, ox[l, c], max(v)))
    if bad:
        break
sys.exit(bad)
PY

# Small scenes: s1 and s2 side by side in UTM 10N, s3 in EPSG:3857 a little east; s4 has a
# nodata half (its tiles there are not indexed).
gdal_create -q -of GTiff -outsize 520 260 -bands 3 -ot Byte -burn 40 -burn 170 -burn 90 \
    -a_srs EPSG:32610 -a_ullr 501000 4200000 501156 4199922 "$tmp/s1.tif" || fail gdal_create
gdal_create -q -of GTiff -outsize 520 260 -bands 3 -ot Byte -burn 120 -burn 60 -burn 200 \
    -a_srs EPSG:32610 -a_ullr 501156 4200000 501312 4199922 "$tmp/s2.tif" || fail gdal_create
$py - "$tmp" <<'PY' || fail "make scenes"
import sys
import numpy as np
from osgeo import gdal, osr
d = sys.argv[1]
# s3: in Web Mercator, a few hundred metres east of s1/s2
src = osr.SpatialReference(); src.ImportFromEPSG(32610); src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
dst = osr.SpatialReference(); dst.ImportFromEPSG(3857); dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(501600, 4200000)
ds = gdal.GetDriverByName("GTiff").Create(d + "/s3.tif", 520, 260, 3, gdal.GDT_Byte)
ds.SetProjection(dst.ExportToWkt()); ds.SetGeoTransform((x, 0.38, 0, y, 0, -0.38))
for b in range(3):
    ds.GetRasterBand(b + 1).Fill(60 + 50 * b)
ds = None
# s4: the right half nodata
ds = gdal.GetDriverByName("GTiff").Create(d + "/s4.tif", 1040, 260, 3, gdal.GDT_Byte)
ds.SetProjection(src.ExportToWkt()); ds.SetGeoTransform((503000, 0.3, 0, 4200000, 0, -0.3))
for b in range(3):
    a = np.full((260, 1040), 90 + 40 * b, np.uint8); a[:, 520:] = 0
    ds.GetRasterBand(b + 1).WriteArray(a); ds.GetRasterBand(b + 1).SetNoDataValue(0)
ds = None
PY
u="$tmp/u.sqlite"
"$duch" index -q --model "$model" "$u" "$tmp/s1.tif" "$tmp/s2.tif" || fail "index s1 s2"
run "union heatmap" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/u.tif" --regions "$tmp/u.gpkg" --region-min 0
run "scene 1 by id" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/u1.tif" --scene 1
run "scene 2 by path" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/u2.tif" --scene "$tmp/s2.tif"
# --bbox: only s1's tiles (a box inside s1, in lon/lat): s2 is left out of the union
box=$($py -c 'from osgeo import osr
s = osr.SpatialReference(); s.ImportFromEPSG(32610); s.SetAxisMappingStrategy(0)
w = osr.SpatialReference(); w.ImportFromEPSG(4326); w.SetAxisMappingStrategy(0)
ct = osr.CoordinateTransformation(s, w)
(x0, y0, _), (x1, y1, _) = ct.TransformPoint(501010, 4199930), ct.TransformPoint(501140, 4199990)
print("%.7f,%.7f,%.7f,%.7f" % (x0, y0, x1, y1))')
run "bbox heatmap" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/ub.tif" --bbox "$box"
"$duch" query -q "$u" "a meadow" --bbox "$box" --format csv -o "$tmp/ub.csv" || bad "bbox hits"
run "regions geojson" "$duch" query -q "$u" "a meadow" --regions "$tmp/u.geojson" --region-min 0
run "overlay" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/u.tif" --quicklook "$tmp/u.png"
"$duch" index -q --model "$model" "$u" "$tmp/s3.tif" || fail "index s3"
run "mixed CRS union" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/mix.tif"
"$duch" index -q --model "$model" "$tmp/n.sqlite" "$tmp/s4.tif" || fail "index s4"
run "nodata heatmap" "$duch" query -q "$tmp/n.sqlite" "a meadow" --heatmap "$tmp/n.tif" --quicklook "$tmp/n.png"
run "image query heatmap" "$duch" query -q "$u" --image "$tmp/s1.tif" --heatmap "$tmp/img.tif"

$py - "$tmp" <<'PY' || bad "small scenes"
import json, sys
from osgeo import gdal, ogr
d = sys.argv[1]
bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what); bad = 1
def arr(p):
    ds = gdal.Open(d + "/" + p)  # kept until the band is read (GDAL's Python needs it)
    return ds.GetRasterBand(1).ReadAsArray()
u, u1, u2 = arr("u.tif"), arr("u1.tif"), arr("u2.tif")
check(u1.shape == (1, 2) and u2.shape == (1, 2), "scene grids %r %r" % (u1.shape, u2.shape))
check(u.shape == (1, 4), "union shape %r" % (u.shape,))
check((u[:, :2] == u1).all() and (u[:, 2:] == u2).all(), "union %r != scenes %r %r" % (u, u1, u2))
check(gdal.Open(d + "/u.tif").GetSpatialRef().GetAuthorityCode(None) == "32610", "same-CRS union not in UTM 10N")
mix = gdal.Open(d + "/mix.tif")
check(mix.GetSpatialRef().GetAuthorityCode(None) == "4326", "mixed-CRS union not in EPSG:4326")
mv = mix.GetRasterBand(1).ReadAsArray()
check((mv == -1).any() and (mv >= 0).sum() >= 6, "mixed union: %d scored cells, nodata between" % (mv >= 0).sum())
# --bbox: s1's grid alone, each cell its tile's confidence among the box's hits
import csv
ub = arr("ub.tif")
ubc = sorted(float(r["confidence"]) for r in csv.DictReader(open(d + "/ub.csv")))
check(ub.shape == u1.shape and gdal.Open(d + "/ub.tif").GetGeoTransform() == gdal.Open(d + "/u1.tif").GetGeoTransform(),
      "--bbox inside s1: not s1's grid")
check(len(ubc) == 2 and max(abs(a - b) for a, b in zip(sorted(ub.ravel()), ubc)) < 1e-5,
      "--bbox cells %r, hits' confidences %r" % (ub, ubc))
n = arr("n.tif")
check(n.shape == (1, 4) and (n[0, :2] >= 0).all() and (n[0, 2:] == -1).all(), "nodata cells: %r" % n)
img = gdal.Open(d + "/img.tif")
check(img.GetMetadataItem("DUCH_SCORE") == "similarity", "image query scores %r" % img.GetMetadataItem("DUCH_SCORE"))
for path in ("u.gpkg", "u.geojson"):
    ds = ogr.Open(d + "/" + path)
    lyr = ds.GetLayer(0)
    feats = list(lyr)
    # every tile of a scene, adjacent, merged into one region per scene
    check(len(feats) == 2, "%s: %d regions, 2 expected" % (path, len(feats)))
    check(sorted(f["tiles"] for f in feats) == [2, 2], "%s: tiles %r" % (path, [f["tiles"] for f in feats]))
    check(sorted(f["scene"].rsplit("/", 1)[1] for f in feats) == ["s1.tif", "s2.tif"], "%s scenes" % path)
    check(all(f["query"] == "a meadow" and 0 <= f["mean"] <= f["best"] <= 1 for f in feats), "%s fields" % path)
    check(lyr.GetSpatialRef().GetAuthorityCode(None) == "4326", "%s not in EPSG:4326" % path)
    g = feats[0].GetGeometryRef()
    check(g.GetGeometryName() == "POLYGON" and g.GetGeometryRef(0).GetPointCount() >= 5, "%s geometry" % path)
png = gdal.Open(d + "/u.png")
check(png.RasterXSize == 1024 and png.RasterCount == 3, "overlay %dx%d" % (png.RasterXSize, png.RasterYSize))
sys.exit(bad)
PY

# errors: clear, and nothing written
refused "regions .shp" "gpkg or a .geojson" "$duch" query "$u" "a meadow" --regions "$tmp/r.shp"
refused "scene alone" "go with --heatmap" "$duch" query "$u" "a meadow" --scene 1
refused "combine" "mean or max" "$duch" query "$u" "a meadow" --heatmap "$tmp/x.tif" --combine median
refused "region-min" "between 0 and 1" "$duch" query "$u" "a meadow" --regions "$tmp/x.gpkg" --region-min 2
refused "no such scene" "holds no scene '99'" "$duch" query "$u" "a meadow" --heatmap "$tmp/x.tif" --scene 99
refused "no folder" "cannot write" "$duch" query "$u" "a meadow" --heatmap "$tmp/nope/x.tif"
refused "driver combine" "COMBINE must be mean or max" gdal_translate -q "DUCH:$u" -oo QUERY=meadow -oo COMBINE=x "$tmp/x2.tif"
refused "driver scene" "holds no scene" gdal_translate -q "DUCH:$u" -oo QUERY=meadow -oo SCENE=nope.tif "$tmp/x3.tif"
ls "$tmp" | grep -q -e "^x" -e "part" && { bad "a failed run left a file"; ls "$tmp"; }
# a scene without georeferencing (--allow-pixel): its heat map on the pixel grid, no CRS;
# no regions (they are lon/lat)
gdal_create -q -of GTiff -outsize 600 300 -bands 3 -ot Byte -burn 90 -burn 120 -burn 60 "$tmp/px.tif" || fail gdal_create
"$duch" index -q --model "$model" --allow-pixel "$tmp/px.sqlite" "$tmp/px.tif" || fail "index px"
"$duch" query -q "$tmp/px.sqlite" "a meadow" --heatmap "$tmp/px_h.tif" --quicklook "$tmp/px.png" >"$tmp/out" 2>&1 \
    || { bad "pixel scene heat map"; cat "$tmp/out"; }
grep -q "ERROR" "$tmp/out" && { bad "pixel scene heat map: GDAL error"; cat "$tmp/out"; }
gdalinfo "$tmp/px_h.tif" | grep -q "^Coordinate System is:" && bad "pixel scene heat map has a CRS"
refused "pixel scene regions" "need a georeferenced scene" "$duch" query "$tmp/px.sqlite" "a meadow" --regions "$tmp/x.gpkg"
# a union too large for one raster: scenes far apart in different CRSs
gdal_create -q -of GTiff -outsize 520 260 -bands 3 -ot Byte -burn 90 -burn 90 -burn 90 \
    -a_srs EPSG:32633 -a_ullr 400000 5000000 400156 4999922 "$tmp/far.tif" || fail gdal_create
"$duch" index -q --model "$model" "$u" "$tmp/far.tif" || fail "index far"
refused "huge union" "give --scene" "$duch" query "$u" "a meadow" --heatmap "$tmp/x.tif"
run "huge union, one scene" "$duch" query -q "$u" "a meadow" --heatmap "$tmp/far_only.tif" --scene "$tmp/far.tif"
# --scene all: one heat map per scene, named with its scene_id, each the scene's own
mkdir -p "$tmp/all"
run "scene all" "$duch" query -q "$u" "a meadow" --scene all --heatmap "$tmp/all/h.tif" --regions "$tmp/all/r.gpkg" --region-min 0
[ "$(ls "$tmp/all" | tr '\n' ' ')" = "h_1.tif h_2.tif h_3.tif h_4.tif r_1.gpkg r_2.gpkg r_3.gpkg r_4.gpkg " ] || bad "--scene all wrote: $(ls "$tmp/all")"
run "scene 3" "$duch" query -q "$u" "a meadow" --scene 3 --heatmap "$tmp/h3.tif"
$py -c 'import sys
from osgeo import gdal
a, b = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
sys.exit(0 if (a.ReadAsArray() == b.ReadAsArray()).all() and a.GetGeoTransform() == b.GetGeoTransform() else 1)' \
    "$tmp/all/h_3.tif" "$tmp/h3.tif" || bad "--scene all: h_3.tif is not --scene 3"
exit "$failed"
