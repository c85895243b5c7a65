"""Open a duch archive in QGIS (headless): the tiles layer and a saved hits layer are
valid with the right counts and extent, and a map of the hits over the tiles renders.

usage: python3 qgis_layers.py ARCHIVE HITS_TABLE EXPECTED_HITS OUT_PNG [QUERY]
With QUERY, also open the query's hits through the DUCH GDAL driver, as QGIS's
"Add vector layer" does (DUCH:ARCHIVE|option:QUERY=...|option:K=...).
Exit 0 pass, 1 fail, 77 when QGIS is not installed."""
import os
import sqlite3
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
try:
    from qgis.core import (QgsApplication, QgsDataSourceUri, QgsVectorLayer, QgsRasterLayer, QgsMapSettings,
                           QgsMapRendererSequentialJob, QgsFillSymbol, QgsRectangle)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
except ImportError as e:
    print("SKIP: QGIS Python bindings missing (python3-qgis):", e)
    sys.exit(77)

archive, hits_table, expected_hits, out_png = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
query = sys.argv[5] if len(sys.argv) > 5 else None


def fail(msg):
    print("FAIL:", msg, flush=True)
    os._exit(1)


db = sqlite3.connect(archive)
n_tiles = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
n_scenes = db.execute("SELECT count(*) FROM scenes").fetchone()[0]
db.close()

app = QgsApplication([], False)
app.initQgis()
try:
    layers = {}
    for provider in ("spatialite", "ogr"):
        for table, geom, count in (("tiles", "footprint", n_tiles), ("scenes", "footprint", n_scenes),
                                   (hits_table, "footprint", expected_hits)):
            if provider == "spatialite":
                uri = QgsDataSourceUri()
                uri.setDatabase(archive)
                uri.setDataSource("", table, geom)
                layer = QgsVectorLayer(uri.uri(), table, "spatialite")
            else:
                layer = QgsVectorLayer(f"{archive}|layername={table}", table, "ogr")
            if not layer.isValid():
                fail(f"{provider}: layer {table} is not valid")
            if layer.featureCount() != count:
                fail(f"{provider}: layer {table} has {layer.featureCount()} features, expected {count}")
            if layer.crs().authid() != "EPSG:4326":
                fail(f"{provider}: layer {table} CRS is {layer.crs().authid()}, expected EPSG:4326")
            ext = layer.extent()
            if ext.isEmpty() or not (-360 <= ext.xMinimum() <= ext.xMaximum() <= 360):
                fail(f"{provider}: layer {table} has a bad extent {ext.toString()}")
            if provider == "spatialite":
                layers[table] = layer
            print(f"ok {provider} {table}: {layer.featureCount()} features, extent {ext.toString(6)}")

    if query:
        uri = f"DUCH:{archive}|option:QUERY={query}|option:K={expected_hits}"
        # QGIS opens every OGR layer for update first: the read-only hits must not make it
        # log an error ("ERROR 6: no update access" did)
        logged = []
        QgsApplication.messageLog().messageReceived.connect(
            lambda msg, tag, level: logged.append(f"{tag}: {msg}"))
        layer = QgsVectorLayer(uri, "duch hits", "ogr")
        if not layer.isValid():
            fail(f"DUCH driver layer {uri} is not valid")
        errors = [m for m in logged if "ERROR" in m or "rror" in m]
        if errors:
            fail(f"opening the DUCH driver layer logged {errors}")
        if layer.featureCount() != expected_hits or layer.crs().authid() != "EPSG:4326":
            fail(f"DUCH driver layer: {layer.featureCount()} features in {layer.crs().authid()}")
        ranks = sorted(f["rank"] for f in layer.getFeatures())
        if ranks != list(range(1, expected_hits + 1)):
            fail(f"DUCH driver layer ranks {ranks}")
        print(f"ok DUCH driver layer: {layer.featureCount()} hits of '{query}'")
        # the same name as a raster layer (Add Raster Layer): the query's heat map
        heat = QgsRasterLayer(f"DUCH:{archive}|option:QUERY={query}", "duch heat map", "gdal")
        if not heat.isValid():
            fail(f"DUCH heat map raster layer is not valid: {heat.error().message()}")
        prov = heat.dataProvider()
        stats = prov.bandStatistics(1)
        if prov.sourceNoDataValue(1) != -1 or not (0 <= stats.minimumValue <= stats.maximumValue <= 1):
            fail(f"heat map: nodata {prov.sourceNoDataValue(1)}, range {stats.minimumValue}..{stats.maximumValue}")
        best = max(f["confidence"] or 0 for f in layer.getFeatures())
        if abs(stats.maximumValue - best) > 1e-5:
            fail(f"heat map maximum {stats.maximumValue} is not the best hit's confidence {best}")
        print(f"ok DUCH heat map raster layer: {heat.width()} x {heat.height()} cells in "
              f"{heat.crs().authid()}, max {stats.maximumValue:.3f} = the best hit's confidence")

    # The hits lie inside the tiles' extent.
    outer = QgsRectangle(layers["tiles"].extent())
    outer.grow(1e-6)  # extents of different providers differ in the last digits
    if not outer.contains(layers[hits_table].extent()):
        fail("hits extent is not inside the tiles extent")

    # Render hits (red) over tiles (grey outlines).
    layers["tiles"].setRenderer(layers["tiles"].renderer().clone())
    layers["tiles"].renderer().setSymbol(QgsFillSymbol.createSimple(
        {"color": "0,0,0,0", "outline_color": "90,90,90", "outline_width": "0.2"}))
    layers[hits_table].renderer().setSymbol(QgsFillSymbol.createSimple(
        {"color": "255,0,0,200", "outline_color": "255,0,0"}))
    ms = QgsMapSettings()
    ms.setLayers([layers[hits_table], layers["tiles"]])
    ms.setDestinationCrs(layers["tiles"].crs())
    ext = QgsRectangle(layers["tiles"].extent())
    ext.scale(1.05)
    ms.setExtent(ext)
    ms.setOutputSize(QSize(800, 600))
    ms.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    if not img.save(out_png, "PNG"):
        fail(f"cannot save {out_png}")
    red = sum(1 for y in range(0, img.height(), 2) for x in range(0, img.width(), 2)
              if QColor(img.pixel(x, y)).red() > 200 and QColor(img.pixel(x, y)).green() < 80)
    if red == 0:
        fail("no hit drawn in the rendered map")
    print(f"ok rendered {out_png} ({red} red sample pixels)")
finally:
    sys.stdout.flush()
# QGIS 3.22's Python teardown can crash after a successful run (layers destroyed after
# the application): leave without it.
os._exit(0)
