"""Open a PostGIS duch archive in QGIS (headless), through its PostGIS provider, as a QGIS
user's database connection does: tiles, scenes and a saved hits table are valid layers
with the right counts, CRS and extent, and a map of the hits over the tiles renders; the
query's hits also open through the DUCH GDAL driver (DUCH:PG:...).

usage: python3 qgis_pg.py HOST DBNAME USER TILES SCENES HITS_TABLE HITS OUT_PNG QUERY
Exit 0 pass, 1 fail, 77 when QGIS is not installed."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
try:
    from qgis.core import (QgsApplication, QgsDataSourceUri, QgsVectorLayer, QgsMapSettings,
                           QgsMapRendererSequentialJob)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
except ImportError as e:
    print("SKIP: QGIS Python bindings missing (python3-qgis):", e)
    sys.exit(77)

host, dbname, user = sys.argv[1:4]
n_tiles, n_scenes = int(sys.argv[4]), int(sys.argv[5])
hits_table, n_hits, out_png, query = sys.argv[6], int(sys.argv[7]), sys.argv[8], sys.argv[9]


def fail(msg):
    print("FAIL:", msg, flush=True)
    os._exit(1)


app = QgsApplication([], False)
app.initQgis()
layers = {}
for table, count in (("tiles", n_tiles), ("scenes", n_scenes), (hits_table, n_hits)):
    uri = QgsDataSourceUri()
    uri.setConnection(host, "5432", dbname, user, "")
    uri.setDataSource("public", table, "footprint", "", "tile_id" if table == "tiles" else
                      "scene_id" if table == "scenes" else "fid")
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    if not layer.isValid():
        fail(f"postgres: layer {table} is not valid ({layer.error().summary()})")
    if layer.featureCount() != count:
        fail(f"postgres: layer {table} has {layer.featureCount()} features, expected {count}")
    if layer.crs().authid() != "EPSG:4326":
        fail(f"postgres: layer {table} CRS is {layer.crs().authid()}")
    ext = layer.extent()
    if ext.isEmpty() or not (-180 <= ext.xMinimum() <= ext.xMaximum() <= 180):
        fail(f"postgres: layer {table} has a bad extent {ext.toString()}")
    layers[table] = layer
    print(f"ok postgres {table}: {layer.featureCount()} features, extent {ext.toString(6)}")

uri = f"DUCH:PG:dbname={dbname} host={host} user={user}|option:QUERY={query}|option:K={n_hits}"
layer = QgsVectorLayer(uri, "duch hits", "ogr")
if not layer.isValid():
    fail(f"DUCH driver layer {uri} is not valid")
if layer.featureCount() != n_hits:
    fail(f"DUCH driver layer: {layer.featureCount()} features")
saved = sorted(f["tile_id"] for f in layers[hits_table].getFeatures())
live = sorted(f["tile_id"] for f in layer.getFeatures())
if saved != live:
    fail(f"saved hits {saved} differ from the DUCH:PG: layer's {live}")
print(f"ok DUCH:PG: layer: {layer.featureCount()} hits, the saved ones")

layers[hits_table].renderer().symbol().setColor(QColor(220, 30, 30))
ms = QgsMapSettings()
ms.setLayers([layers[hits_table], layers["tiles"]])
ext = layers[hits_table].extent()
ext.scale(3.0)  # the hits and the tiles around them
ms.setExtent(ext)
ms.setOutputSize(QSize(400, 300))
job = QgsMapRendererSequentialJob(ms)
job.start()
job.waitForFinished()
img = job.renderedImage()
if not img.save(out_png):
    fail(f"cannot write {out_png}")
red = sum(1 for x in range(0, 400, 4) for y in range(0, 300, 4)
          if QColor(img.pixel(x, y)).red() > 180 and QColor(img.pixel(x, y)).green() < 90)
if red == 0:
    fail("the rendered map shows no hit")
print(f"ok rendered {out_png}: {red} sampled hit pixels")
app.exitQgis()
os._exit(0)
