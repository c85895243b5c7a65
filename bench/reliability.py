#!/usr/bin/python3
"""Reliability diagram of a confidence fit: observed precision against mean confidence,
per tenth, from the TSV that `duch calibrate --reliability FILE` writes.

    duch calibrate MODEL --data ../shared/data/ucm -o OUT --reliability rel.tsv
    python3 bench/reliability.py rel.tsv [more.tsv ...] -o reliability.png

Prints each table with its expected calibration error (ECE: the hit-weighted mean of
|observed - mean confidence|) and, with -o, draws them (matplotlib) beside the diagonal
a perfectly calibrated fit would follow."""
import argparse
import sys


def read(path):
    rows = []
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        if head != ["bin", "hits", "mean_confidence", "observed_precision"]:
            sys.exit("%s: not a duch calibrate --reliability table (header %r)" % (path, head))
        for line in f:
            b, n, mc, op = line.rstrip("\n").split("\t")
            rows.append((b, int(n), float(mc), float(op)))
    if not rows:
        sys.exit("%s: no rows" % path)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="TSV files from duch calibrate --reliability")
    ap.add_argument("-o", help="PNG to draw")
    ap.add_argument("--title", default="duch confidence: reliability on held-out captions")
    a = ap.parse_args()
    tabs = [(p, read(p)) for p in a.tables]
    for p, rows in tabs:
        total = sum(r[1] for r in rows)
        ece = sum(r[1] * abs(r[3] - r[2]) for r in rows) / total
        print("%s: %d hits, ECE %.3f" % (p, total, ece))
        print("  %-8s %6s %8s %8s" % ("bin", "hits", "mean", "observed"))
        for b, n, mc, op in rows:
            print("  %-8s %6d %8.3f %8.3f" % (b, n, mc, op))
    if not a.o:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("drawing needs matplotlib (Debian: apt-get install python3-matplotlib)")
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfectly calibrated")
    for p, rows in tabs:
        xs = [r[2] for r in rows]
        ys = [r[3] for r in rows]
        sizes = [max(8, 200 * r[1] / max(x[1] for x in rows)) for r in rows]
        ax.plot(xs, ys, lw=1.2, label=p.rsplit("/", 1)[-1])
        ax.scatter(xs, ys, s=sizes, alpha=0.6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence of the hits in the bin")
    ax.set_ylabel("observed precision (hit has the query's class)")
    ax.set_title(a.title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.o)
    print("wrote", a.o)


if __name__ == "__main__":
    main()
