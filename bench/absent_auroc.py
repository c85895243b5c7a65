#!/usr/bin/env python3
"""Absent concepts (issue 11): does the best hit say whether the archive holds what was asked?

Scope: ucm_mosaic.tif indexed with MODEL, then the tiles of four classes deleted with plain
SQL (frozen choice, made before any tuning: airplane, beach, mobilehomepark, storagetanks;
an easy and a hard class of each kind), `duch optimize` run. Then every query of the frozen
user-worded sets (bench/user_queries.tsv, bench/user_queries_b.tsv: written without the
captions) asks the archive; a query of a deleted class is "absent", of a kept class
"present". Each score is turned into an AUROC, present against absent (1.0: every present
query scores above every absent one; ties count half):
  - top1_distance: the raw Hamming distance of the best hit (lower = present), the
    baseline issue 11 names (about 0.83 on a held-out mosaic);
  - confidence: the `confidence` column of duch_knn, where the archive's mod_duch has one.
A refused query (no known word) has no hit: it scores as the worst.

Baseline in the same run: 0.5, a score that knows nothing (ratio printed).

With --keep N, every present class also keeps only N of its tiles: the scores when a
present concept is rare in the archive (the mosaic holds 24 tiles of each class).

usage: bench/absent_auroc.py [--model MODEL] [--build DIR] [--archive FILE] [--keep N] [-v]
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import mosaic as mosaic_bench

ABSENT = ("airplane", "beach", "mobilehomepark", "storagetanks")
QUERY_SETS = ("user_queries.tsv", "user_queries_b.tsv")


def auroc(pos, neg):
    """P(score of a present query > score of an absent one), ties half."""
    if not pos or not neg:
        return float("nan")
    wins = 0.0
    for p in pos:
        for n in neg:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


def candidates(db, queries, bits):
    """AUROC of scores a confidence could be built from: the top-1 distance against the
    query's background (every tile's distance), and the share of the query's words the
    model knows."""
    import json
    import statistics
    n = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
    feats = {}
    for cls, text in queries:
        present = cls not in ABSENT
        try:
            d = [r[0] for r in db.execute("SELECT distance FROM duch_knn(?, ?)", (text, n))]
        except sqlite3.Error:
            d = []
        words = json.loads(db.execute("SELECT duch_text_explain(?)", (text,)).fetchone()[0])
        nw = len(words["used"]) + len(words["ignored"]) + len(words["mapped"])
        known = (len(words["used"]) + len(words["mapped"])) / nw if nw else 0.0
        if d:
            mu, sd = statistics.mean(d), statistics.pstdev(d) or 1.0
            f = {"top1_distance": -d[0], "z(top1) in background": (mu - d[0]) / sd,
                 "median - top1": statistics.median(d) - d[0],
                 "top10 mean z": (mu - statistics.mean(d[:10])) / sd,
                 "top10 - top1 spread": -(d[min(9, len(d) - 1)] - d[0]),
                 "tiles within top1 + 2": sum(1 for x in d if x <= d[0] + 2),
                 "tiles within 16 bits": sum(1 for x in d if x <= 16)}
        else:
            f = {"top1_distance": -(bits + 1), "z(top1) in background": -99.0,
                 "median - top1": -99.0, "top10 mean z": -99.0,
                 "top10 - top1 spread": -99.0, "tiles within top1 + 2": 0,
                 "tiles within 16 bits": 0}
        f["known word share"] = known
        f["z x known share"] = f["z(top1) in background"] * known
        for k, v in f.items():
            feats.setdefault(k, {True: [], False: []})[present].append(v)
    for k, v in feats.items():
        print(f"    candidate {k:24s} AUROC {auroc(v[True], v[False]):.3f}")


def main():
    ap = mosaic_bench.arguments(__doc__)
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per query")
    ap.add_argument("--keep", type=int, default=0, metavar="N",
                    help="also keep only N tiles of each present class (a seeded random "
                         "choice): how the scores fare when a present concept is rare")
    ap.add_argument("--reliability", metavar="TSV",
                    help="write the held-out reliability table of the confidence (the top 10 "
                         "hits of every query, right when the tile's class is the query's), "
                         "in the format of duch calibrate --reliability")
    ap.add_argument("--candidates", action="store_true",
                    help="also score candidate confidences from the query's own background "
                         "(all its distances in the archive) and from its words")
    a = ap.parse_args()
    truth = mosaic_bench.truth()
    if truth is None:
        return 77
    env = mosaic_bench.duch_env(a.build)
    work = tempfile.mkdtemp()
    try:
        archive = a.archive or os.path.join(work, "ucm.sqlite")
        if not os.path.exists(archive):
            subprocess.run([os.path.join(a.build, "duch"), "index", "-q", "--model", a.model, archive,
                            mosaic_bench.MOSAIC], env=env, check=True)
        db = sqlite3.connect(archive)
        db.enable_load_extension(True)
        db.load_extension("mod_spatialite")
        rows = list(db.execute("SELECT tile_id, x_off, y_off FROM tiles ORDER BY tile_id"))
        gone = [tid for tid, x, y in rows if truth.get((x, y)) in ABSENT]
        if a.keep > 0:
            import random
            rng = random.Random(1)
            by_class = {}
            for tid, x, y in rows:
                if truth.get((x, y)) not in ABSENT:
                    by_class.setdefault(truth.get((x, y)), []).append(tid)
            for tids in by_class.values():
                rng.shuffle(tids)
                gone += tids[a.keep:]
        db.executemany("DELETE FROM tiles WHERE tile_id = ?", [(t,) for t in gone])
        db.commit()
        left = db.execute("SELECT count(*) FROM tiles").fetchone()[0]
        db.close()
        subprocess.run([os.path.join(a.build, "duch"), "optimize", archive], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        db = sqlite3.connect(archive)
        db.enable_load_extension(True)
        db.load_extension(os.path.join(a.build, ".libs", "mod_duch.so"))
        bits = 64
        cols = [r[1] for r in db.execute("PRAGMA table_info(duch_knn)")]
        has_conf = "confidence" in cols
        print(f"model {a.model}; {len(gone)} tiles of {', '.join(ABSENT)} deleted"
              + (f" and all but {a.keep} of each other class" if a.keep > 0 else "") + f", {left} left")
        rel = [[0, 0.0, 0] for _ in range(10)]  # hits, sum of confidence, right
        top1 = [0, 0.0, 0]  # present queries: count, sum of top-1 confidence, right
        pos = {tid: truth.get((x, y)) for tid, x, y in rows}
        for qs in QUERY_SETS:
            queries = mosaic_bench.read_queries(os.path.join(mosaic_bench.TOP, "bench", qs))
            dist = {True: [], False: []}
            conf = {True: [], False: []}
            for cls, text in queries:
                present = cls not in ABSENT
                # one search: the top hit for the AUROC, the top 10 for the reliability table
                # (a hit's confidence does not depend on k)
                try:
                    hits = db.execute("SELECT tile_id, distance" + (", confidence" if has_conf else "")
                                      + " FROM duch_knn(?, 10)", (text,)).fetchall()
                except sqlite3.Error:
                    hits = []
                row = hits[0][1:] if hits else None
                if has_conf and row and row[1] is None:
                    has_conf = False  # the model has no confidence fit: NULL everywhere
                d = row[0] if row else bits + 1
                dist[present].append(-d)
                if has_conf:
                    conf[present].append(row[1] if row else 0.0)
                    for j, (tid, _, cf) in enumerate(hits):
                        right = pos.get(tid) == cls
                        b = min(9, int(cf * 10))
                        rel[b][0] += 1
                        rel[b][1] += cf
                        rel[b][2] += right
                        if j == 0 and present:
                            top1[0] += 1
                            top1[1] += cf
                            top1[2] += right
                if a.verbose:
                    print(f"  {'present' if present else 'ABSENT ':7s} {cls:18s} d={d:3d}"
                          + (f" conf={row[1]:.2f}" if has_conf and row else "") + f"  {text!r}")
            if a.candidates:
                candidates(db, queries, bits)
            r = auroc(dist[True], dist[False])
            line = (f"{qs:20s} {len(dist[True])} present, {len(dist[False])} absent queries: "
                    f"AUROC top1_distance {r:.3f} (ratio to 0.5: {r / 0.5:.2f}x)")
            if has_conf:
                c = auroc(conf[True], conf[False])
                mp = sum(conf[True]) / len(conf[True]) if conf[True] else float("nan")
                ma = sum(conf[False]) / len(conf[False]) if conf[False] else float("nan")
                line += (f"; confidence {c:.3f} ({c / 0.5:.2f}x), mean top-1 confidence "
                         f"present {mp:.2f} absent {ma:.2f}")
            print(line)
        if has_conf and top1[0]:
            n, sc, right = top1
            print(f"present queries of both sets: top-1 hit right {right / n:.3f}, "
                  f"its mean confidence {sc / n:.3f} ({n} queries)")
        if a.reliability and has_conf:
            with open(a.reliability, "w") as f:
                f.write("bin\thits\tmean_confidence\tobserved_precision\n")
                for b, (n, sc, right) in enumerate(rel):
                    if n:
                        f.write(f"{b / 10:.1f}-{(b + 1) / 10:.1f}\t{n}\t{sc / n:.3f}\t{right / n:.3f}\n")
            print("wrote", a.reliability)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
