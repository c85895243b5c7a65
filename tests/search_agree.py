"""One search engine: duch query, the DUCH: layer and duch_knn return the same tiles.

Run by tests/cli_search_agree.sh: python3 search_agree.py ARCHIVE MOD_SPATIALITE MOD_DUCH DUCH.
For boxes that cut through tiles, touch tile edges exactly, miss them by one ulp, touch a
corner, hold nothing or the world, the three front ends must return the same (tile_id,
distance) list, equal to a brute force over the tiles' exact footprint boxes - with the
packed code blocks current, with them stale (rows), after `duch optimize`, and for the
GeoPackage geometry forms of duch_knn (a GPKG box argument; a plain table whose
footprints are GPKG blobs, before and after SELECT duch_optimize()).
"""
import csv
import io
import math
import os
import sqlite3
import subprocess
import sys

archive, mod_spatialite, mod_duch, duch = sys.argv[1:5]
TEXT = "many buildings and green trees along a road"
K = 50
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def connect(path):
    db = sqlite3.connect(path)
    db.enable_load_extension(True)
    db.load_extension(mod_spatialite)
    db.load_extension(mod_duch)
    return db


def brute(db, box, table="tiles"):
    rows = db.execute(
        f"SELECT tile_id, duch_hamming(code, duch_text_code(?)), MbrMinX(footprint),"
        f" MbrMinY(footprint), MbrMaxX(footprint), MbrMaxY(footprint) FROM {table}"
        " WHERE code IS NOT NULL", (TEXT,)).fetchall()
    out = []
    for tid, d, x0, y0, x1, y1 in rows:
        if box is not None:
            if x0 is None or not (x0 <= box[2] and x1 >= box[0] and y0 <= box[3] and y1 >= box[1]):
                continue
        out.append((d, tid))
    out.sort()
    return [(t, d) for d, t in out[:K]]


def knn(db, box, geom=None):
    if geom is not None:
        sql, args = "SELECT tile_id, distance FROM duch_knn(?, ?, %s)" % geom, (TEXT, K) + tuple(box)
    elif box is None:
        sql, args = "SELECT tile_id, distance FROM duch_knn(?, ?)", (TEXT, K)
    else:
        sql, args = "SELECT tile_id, distance FROM duch_knn(?, ?, ?, ?, ?, ?)", (TEXT, K) + tuple(box)
    return [tuple(r) for r in db.execute(sql, args).fetchall()]


def fmt_box(box):
    return ",".join(repr(float(v)) for v in box)


def cli(box):
    cmd = [duch, "query", archive, TEXT, "-k", str(K), "--format", "csv"]
    if box is not None:
        cmd += ["--bbox", fmt_box(box)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail("duch query %s: exit %d: %s" % (cmd[-1], p.returncode, p.stderr.strip()))
        return None
    return [(int(r["tile_id"]), int(r["distance"])) for r in csv.DictReader(io.StringIO(p.stdout))]


def layer(box):
    cmd = ["ogr2ogr", "-f", "CSV", "/vsistdout/", "DUCH:" + archive, "-oo", "QUERY=" + TEXT,
           "-oo", "K=%d" % K]
    if box is not None:
        cmd += ["-oo", "BBOX=" + fmt_box(box)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or "ERROR" in p.stderr:
        fail("DUCH: layer: exit %d: %s" % (p.returncode, p.stderr.strip()))
        return None
    return [(int(r["tile_id"]), int(r["distance"])) for r in csv.DictReader(io.StringIO(p.stdout))]


db = connect(archive)
fp = db.execute("SELECT tile_id, MbrMinX(footprint), MbrMinY(footprint), MbrMaxX(footprint),"
                " MbrMaxY(footprint) FROM tiles ORDER BY tile_id").fetchall()
if len(fp) < 10:
    fail("the fixture archive has only %d tiles" % len(fp))
    sys.exit(1)
_, x0, y0, x1, y1 = fp[len(fp) // 2]
cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
ext = db.execute("SELECT min(MbrMinX(footprint)), min(MbrMinY(footprint)), max(MbrMaxX(footprint)),"
                 " max(MbrMaxY(footprint)) FROM tiles").fetchone()
boxes = {
    "none": None,
    "cuts through tiles": (cx - 0.3 * w, cy - 0.7 * h, cx + 1.4 * w, cy + 0.6 * h),
    "touches an edge (minx = a tile's maxx)": (x1, cy - 0.1 * h, x1 + 0.5 * w, cy + 0.1 * h),
    "one ulp past that edge": (math.nextafter(x1, math.inf), cy - 0.1 * h, x1 + 0.5 * w, cy + 0.1 * h),
    "touches a corner only": (x1, y1, x1 + 0.001 * w, y1 + 0.001 * h),
    "a point inside a tile": (cx, cy, cx, cy),
    "holds no tile": (ext[2] + w, ext[3] + h, ext[2] + 2 * w, ext[3] + 2 * h),
    "the world": (-180.0, -90.0, 180.0, 90.0),
}
# the edge cases must really be edge cases of the fixture
edge = brute(db, boxes["touches an edge (minx = a tile's maxx)"])
past = brute(db, boxes["one ulp past that edge"])
if fp[len(fp) // 2][0] not in [t for t, _ in edge]:
    fail("fixture: the tile whose edge the box touches is not among the expected hits")
if fp[len(fp) // 2][0] in [t for t, _ in past]:
    fail("fixture: the box one ulp past the edge still expects that tile")
if brute(db, boxes["holds no tile"]):
    fail("fixture: the empty box expects hits")


def check(phase):
    db = connect(archive)
    for name, box in boxes.items():
        want = brute(db, box)
        got = {"duch_knn": knn(db, box), "duch query": cli(box), "DUCH: layer": layer(box)}
        if box is not None:
            got["duch_knn(geometry)"] = knn(db, box, "BuildMbr(?, ?, ?, ?, 4326)")
            if box[0] < box[2] and box[1] < box[3]:
                got["duch_knn(GeoPackage geometry)"] = knn(db, box, "AsGPB(BuildMbr(?, ?, ?, ?, 4326))")
        for who, res in got.items():
            if res is None:
                continue
            if res != want:
                fail("%s, box %s: %s returned %d hits %s..., brute force %d hits %s..." %
                     (phase, name, who, len(res), res[:4], len(want), want[:4]))
    db.close()
    print("ok: %s: %d boxes agree across duch query, the DUCH: layer and duch_knn" % (phase, len(boxes)))


def blocks_current():
    p = subprocess.run([duch, "info", archive], capture_output=True, text=True)
    return "packed code blocks, current" in p.stdout


if not blocks_current():
    fail("a fresh archive's blocks are not current")
check("packed code blocks")
w = connect(archive)
w.execute("UPDATE tiles SET x_off = x_off WHERE tile_id = (SELECT min(tile_id) FROM tiles)")
w.commit()
w.close()
if blocks_current():
    fail("an UPDATE of tiles by other SQL left the blocks marked current")
check("rows (blocks stale after other SQL)")
p = subprocess.run([duch, "optimize", "-q", archive], capture_output=True, text=True)
if p.returncode != 0 or not blocks_current():
    fail("duch optimize: exit %d %s; blocks current: %s" % (p.returncode, p.stderr, blocks_current()))
check("after duch optimize")

# a plain table (no archive) whose footprints are GeoPackage blobs: the row path, then
# the blocks that SELECT duch_optimize() writes for it
plain = archive + ".plain.sqlite"
if os.path.exists(plain):
    os.remove(plain)
src = connect(archive)
model = src.execute("SELECT model_id, bits, size, data, stored_at FROM duch_model").fetchone()
rows = src.execute("SELECT tile_id, code, AsGPB(footprint) FROM tiles").fetchall()
src.close()
pdb = connect(plain)
pdb.execute("CREATE TABLE duch_model(model_id TEXT PRIMARY KEY, bits INTEGER, size INTEGER,"
            " data BLOB, stored_at TEXT)")
pdb.execute("INSERT INTO duch_model VALUES (?,?,?,?,?)", model)
pdb.execute("CREATE TABLE tiles(tile_id INTEGER PRIMARY KEY, code BLOB, footprint BLOB)")
pdb.executemany("INSERT INTO tiles VALUES (?,?,?)", rows)
pdb.commit()
adb = connect(archive)
for phase in ("plain table, GeoPackage footprints, rows", "plain table after duch_optimize()"):
    for name, box in boxes.items():
        want = brute(adb, box)  # the archive holds the same footprints
        got = knn(pdb, box)
        if got != want:
            fail("%s, box %s: duch_knn %s..., brute force %s..." % (phase, name, got[:4], want[:4]))
    if phase.startswith("plain table, GeoPackage"):
        n = pdb.execute("SELECT duch_optimize()").fetchone()[0]
        if n != len(rows):
            fail("SELECT duch_optimize() packed %s tiles, the table has %d" % (n, len(rows)))
    print("ok: %s: %d boxes agree with the brute force" % (phase, len(boxes)))
pdb.close()
os.remove(plain)
sys.exit(1 if failures else 0)
