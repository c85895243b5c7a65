#!/usr/bin/env python3
"""Text -> tile precision@10 on user-worded queries (issue 10).

Scope: the frozen query set bench/user_queries.tsv (96 queries, 6 per class, written
without reading the training captions: keywords, synonyms, plurals, phrases, sentences)
against ucm_mosaic.tif (the 384 retrieval-split images of ../shared/data, unseen by a model
trained on the train split), indexed with MODEL. For each query: duch_knn(text, 10) in one
SQLite connection with mod_duch, precision@10 against ucm_mosaic.truth.csv, and what the
model understood (duch_text_explain). A query with no known word is "refused" and scores 0.

Baseline in the same run: random ranking, whose expected precision is the class share
(24 of 384 cells = 0.0625).

usage: bench/user_precision.py [--model MODEL] [--build DIR] [--archive FILE] [-v]
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import mosaic as mosaic_bench


def main():
    ap = mosaic_bench.arguments(__doc__)
    ap.add_argument("--queries", default=os.path.join(mosaic_bench.TOP, "bench", "user_queries.tsv"))
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per query")
    a = ap.parse_args()
    mosaic = mosaic_bench.MOSAIC
    truth = mosaic_bench.truth()
    if truth is None:
        return 77
    queries = mosaic_bench.read_queries(a.queries)
    env = mosaic_bench.duch_env(a.build)
    archive = a.archive or os.path.join(tempfile.mkdtemp(), "ucm.sqlite")
    if not os.path.exists(archive):
        subprocess.run([os.path.join(a.build, "duch"), "index", "-q", "--model", a.model, archive, mosaic],
                       env=env, check=True)
    db = sqlite3.connect(archive)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(a.build, ".libs", "mod_duch.so"))
    pos = {tid: (x, y) for tid, x, y in db.execute("SELECT tile_id, x_off, y_off FROM tiles")}
    per_class, refused, by_len = {}, 0, {"one word": [], "more words": []}
    ignored_words = {}
    for cls, text in queries:
        words = json.loads(db.execute("SELECT duch_text_explain(?)", (text,)).fetchone()[0])
        for w in words["ignored"]:
            ignored_words[w] = ignored_words.get(w, 0) + 1
        try:
            hits = [pos[t] for (t,) in db.execute("SELECT tile_id FROM duch_knn(?, 10)", (text,))]
            p = sum(truth.get(h) == cls for h in hits) / 10
        except sqlite3.Error:
            p, hits = 0.0, None
            refused += 1
        per_class.setdefault(cls, []).append(p)
        by_len["one word" if len(text.split()) == 1 else "more words"].append(p)
        if a.verbose:
            print(f"{cls:18s} {p:4.1f}  {text!r:48s} ignored {words['ignored']}" +
                  ("  REFUSED" if hits is None else ""))
    print(f"model {a.model}; {len(queries)} queries from {os.path.basename(a.queries)}")
    print(f"{'class':18s} P@10 (mean of {len(queries) // len(per_class)})")
    for cls in sorted(per_class):
        v = per_class[cls]
        print(f"{cls:18s} {sum(v) / len(v):.2f}")
    allp = [p for v in per_class.values() for p in v]
    mean = sum(allp) / len(allp)
    print(f"{'mean':18s} {mean:.3f}")
    for k, v in by_len.items():
        if v:
            print(f"  {k:16s} {sum(v) / len(v):.3f} ({len(v)} queries)")
    print(f"refused (no known word): {refused} of {len(queries)} ({100 * refused / len(queries):.1f}%)")
    print(f"random ranking baseline: {24 / 384:.4f} (ratio {mean / (24 / 384):.1f}x)")
    top_ignored = sorted(ignored_words.items(), key=lambda kv: -kv[1])[:15]
    print("most ignored words: " + ", ".join(f"{w} ({n})" for w, n in top_ignored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
