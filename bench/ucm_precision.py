#!/usr/bin/env python3
"""Quality as a user sees it: index ucm_mosaic.tif, query each of its 16 classes with a short
natural caption (written here, not taken from the captions file), and measure precision@10
against ucm_mosaic.truth.csv. Then image->tile: query with one tile of each class (the first
cell of that class in the truth table) and measure precision@10 over the 10 nearest OTHER
tiles (the query tile itself is left out).

Baseline in the same run: random ranking, whose expected precision is the class share
(24 of 384 cells = 0.0625).

usage: bench/ucm_precision.py [--model MODEL] [--build DIR] [--archive FILE]
"""
import csv
import os
import subprocess
import sys
import tempfile
import time

import mosaic as mosaic_bench

QUERIES = {
    "agricultural": "rows of green crops in a farm field",
    "airplane": "an airplane parked at an airport",
    "baseballdiamond": "a baseball field with a sandy diamond",
    "beach": "waves on a sandy beach next to the sea",
    "buildings": "large buildings with flat roofs",
    "harbor": "many boats docked in a harbor",
    "intersection": "two roads crossing at an intersection",
    "mediumresidential": "houses with yards along curved streets",
    "mobilehomepark": "rows of mobile homes packed closely together",
    "overpass": "a highway overpass with bridges over roads",
    "parkinglot": "a parking lot full of cars",
    "river": "a river with green banks",
    "runway": "a long straight runway with white markings",
    "sparseresidential": "a few scattered houses surrounded by trees and grass",
    "storagetanks": "round white storage tanks",
    "tenniscourt": "a tennis court next to some trees",
}


def main():
    a = mosaic_bench.arguments(__doc__).parse_args()
    mosaic = mosaic_bench.MOSAIC
    truth = mosaic_bench.truth()
    if truth is None:
        return 77
    env = mosaic_bench.duch_env(a.build)
    duch = os.path.join(a.build, "duch")
    tmp = tempfile.mkdtemp()
    archive = a.archive or os.path.join(tmp, "ucm.sqlite")
    t0 = time.time()
    subprocess.run([duch, "index", "--model", a.model, archive, mosaic], env=env, check=True)
    t_index = time.time() - t0

    def query(args, k):
        out = subprocess.run([duch, "query", archive, *args, "-k", str(k), "--format", "csv"],
                             env=env, check=True, capture_output=True, text=True).stdout
        return [(int(r["x_off"]), int(r["y_off"])) for r in csv.DictReader(out.splitlines())]

    print(f"model {a.model}; indexed {mosaic} in {t_index:.1f} s")
    print(f"{'class':18s} {'text P@10':>9s} {'image P@10':>10s}  query")
    tp, ip = [], []
    t_q = []
    for cls, text in QUERIES.items():
        t1 = time.time()
        hits = query([text], 10)
        t_q.append(time.time() - t1)
        p_text = sum(truth.get(h) == cls for h in hits) / 10
        cell = next(xy for xy, c in sorted(truth.items(), key=lambda kv: (kv[0][1], kv[0][0])) if c == cls)
        hits = [h for h in query(["--image", mosaic, "--window", f"{cell[0]},{cell[1]},256,256"], 11) if h != cell][:10]
        p_img = sum(truth.get(h) == cls for h in hits) / 10
        tp.append(p_text)
        ip.append(p_img)
        print(f"{cls:18s} {p_text:9.2f} {p_img:10.2f}  \"{text}\"")
    print(f"{'mean':18s} {sum(tp)/len(tp):9.3f} {sum(ip)/len(ip):10.3f}")
    print(f"random ranking baseline: {24/384:.4f} (ratio text/random {sum(tp)/len(tp)/(24/384):.1f}x)")
    print(f"duch query wall time per text query (process start + model load + search): "
          f"median {sorted(t_q)[len(t_q)//2]*1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
