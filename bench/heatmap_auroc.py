#!/usr/bin/python3
"""Heat maps on ucm_mosaic (issue 14): how well a query's heat map marks its class.

For each query of the frozen user-worded set (bench/user_queries.tsv, 6 per class, 16
classes), `duch query ARCHIVE TEXT --heatmap OUT.tif` is run and the raster is read back
with GDAL. Every cell is sampled at its centre, mapped to the mosaic image it lies in
(ucm_mosaic.truth.csv), and the AUROC of that class's cells against all other cells is
taken (ties count half). Reported: the mean per class and over all queries.

Archives: the mosaic indexed without overlap (a cell is a tile), and with --overlap 128
(cells of 128 px, each the mean of the 4 tiles that cover it; also --combine max).

Baseline in the same run: today's ranking, the AUROC of the same classes when the tiles
are ranked by Hamming distance alone (duch_knn over all 384 tiles, score = -distance), and
random scores (0.5).

With --picture PNG it draws, for four queries, the heat map's cells (no imagery) with the
query's class cells outlined, and the per-class AUROC (matplotlib).

usage: bench/heatmap_auroc.py [--model MODEL] [--build DIR] [--picture PNG] [-v]
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

import mosaic as mosaic_bench
from osgeo import gdal


def auroc(pos, neg):
    """P(score of a positive > score of a negative), ties half (Mann-Whitney)."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        mid = (i + j + 1) / 2.0  # mean 1-based rank of the tie group
        rank_sum += mid * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def heat_cells(duch, archive, text, env, extra):
    """[(pixel_x, pixel_y, score)] of the heat map's cells (centres in scene pixels)."""
    out = os.path.join(tempfile.mkdtemp(), "heat.tif")
    r = subprocess.run([duch, "query", "-q", "-k", "1", archive, text, "--heatmap", out] + extra,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:  # refused (no known word)
        return [], None, None
    ds = gdal.Open(out)
    gt = ds.GetGeoTransform()
    step = int(ds.GetMetadataItem("DUCH_STEP_PX"))
    a = ds.GetRasterBand(1).ReadAsArray()
    cells = []
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            if a[r, c] >= 0:
                cells.append(((c + 0.5) * step, (r + 0.5) * step, float(a[r, c])))
    os.unlink(out)
    return cells, a, gt


def main():
    ap = mosaic_bench.arguments(__doc__)
    ap.add_argument("--queries", default=os.path.join(mosaic_bench.TOP, "bench", "user_queries.tsv"))
    ap.add_argument("--picture", help="write the picture here (PNG)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    truth = mosaic_bench.truth()
    if truth is None:
        return 77
    queries = mosaic_bench.read_queries(a.queries)
    env = mosaic_bench.duch_env(a.build)
    duch = os.path.join(a.build, "duch")
    tmp = tempfile.mkdtemp()
    arch = {}
    for name, opts in (("plain", []), ("overlap128", ["--overlap", "128"])):
        arch[name] = os.path.join(tmp, name + ".sqlite")
        subprocess.run([duch, "index", "-q", "--model", a.model] + opts + [arch[name], mosaic_bench.MOSAIC],
                       env=env, check=True)

    def cls_at(x, y):
        return truth.get((int(x) // 256 * 256, int(y) // 256 * 256))

    # the baseline: the ranking by distance alone, over all tiles
    db = sqlite3.connect(arch["plain"])
    db.enable_load_extension(True)
    db.load_extension(os.path.join(a.build, ".libs", "mod_duch.so"))
    pos = {tid: (x, y) for tid, x, y in db.execute("SELECT tile_id, x_off, y_off FROM tiles")}

    runs = [("ranking by distance (baseline)", None, None),
            ("heat map, no overlap", "plain", []),
            ("heat map, overlap 128, mean", "overlap128", []),
            ("heat map, overlap 128, max", "overlap128", ["--combine", "max"])]
    results, pictures = {}, []
    for label, which, extra in runs:
        per_class = {}
        for cls, text in queries:
            if which is None:
                try:
                    rows = db.execute("SELECT tile_id, distance FROM duch_knn(?, 384)", (text,)).fetchall()
                except sqlite3.Error:
                    rows = []
                scored = [(pos[t][0] + 128, pos[t][1] + 128, -d) for t, d in rows]
            else:
                scored, grid, gt = heat_cells(duch, arch[which], text, env, extra)
                if grid is not None and which == "plain" and len(pictures) < 4 and cls not in [p[0] for p in pictures]:
                    pictures.append((cls, text, grid))
            p = [s for x, y, s in scored if cls_at(x, y) == cls]
            n = [s for x, y, s in scored if cls_at(x, y) != cls]
            v = auroc(p, n)
            if v != v:  # a refused query scores as random
                v = 0.5
            per_class.setdefault(cls, []).append(v)
            if a.verbose:
                print(f"  {label[:20]:20s} {cls:18s} {v:.3f} {text!r}")
        results[label] = per_class
    print(f"model {a.model}; {len(queries)} queries from {os.path.basename(a.queries)}; "
          f"ucm_mosaic.tif {len(truth)} cells of 256 px")
    labels = [r[0] for r in runs]
    print(f"{'class':18s} " + " ".join(f"{l[:26]:>26s}" for l in labels))
    classes = sorted(results[labels[0]])
    for cls in classes:
        print(f"{cls:18s} " + " ".join(f"{sum(results[l][cls]) / len(results[l][cls]):26.3f}" for l in labels))
    means = {}
    for l in labels:
        allv = [v for vs in results[l].values() for v in vs]
        means[l] = sum(allv) / len(allv)
    print(f"{'mean':18s} " + " ".join(f"{means[l]:26.3f}" for l in labels))
    base = means[labels[0]]
    print("ratio to the ranking baseline: " +
          ", ".join(f"{l}: {means[l] / base:.3f}" for l in labels[1:]) + "; random scores: 0.500")
    if a.picture:
        draw(a.picture, pictures, truth, results, labels, classes)
    return 0


def draw(path, pictures, truth, results, labels, classes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    fig = plt.figure(figsize=(14, 7.5))
    for i, (cls, text, grid) in enumerate(pictures):
        ax = fig.add_axes([0.09 + 0.29 * (i % 2), 0.52 - 0.45 * (i // 2), 0.27, 0.38])
        m = grid.copy()
        m[m < 0] = float("nan")
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        for (x, y), c in truth.items():
            if c == cls:
                ax.add_patch(Rectangle((x / 256 - 0.5, y / 256 - 0.5), 1, 1, fill=False, ec="red", lw=1.2))
        ax.set_title(f"{text!r} (red: {cls})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, cax=fig.add_axes([0.03, 0.25, 0.012, 0.5]), label="confidence")
    ax = fig.add_axes([0.8, 0.1, 0.18, 0.8])
    ys = range(len(classes))
    for k, l in enumerate(labels[:3]):
        ax.barh([y + 0.27 * (k - 1) for y in ys],
                [sum(results[l][c]) / len(results[l][c]) for c in classes], height=0.27, label=l)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(classes, fontsize=8)
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("AUROC of the class's cells")
    ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("duch heat maps on ucm_mosaic: user-worded queries (bench/heatmap_auroc.py)")
    fig.savefig(path, dpi=80)
    print(f"picture: {path}")


if __name__ == "__main__":
    sys.exit(main())
