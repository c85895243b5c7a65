"""What the mosaic benches share (bench/ucm_precision.py, bench/user_precision.py): the
common options, ucm_mosaic.tif and its truth, and the environment duch runs in."""
import argparse
import csv
import os

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENES = os.path.join(TOP, "..", "shared", "data", "scenes")
MOSAIC = os.path.abspath(os.path.join(SCENES, "ucm_mosaic.tif"))


def arguments(doc):
    """An argument parser with --model, --build and --archive."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(TOP, "model", "default.duchm"))
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--archive", help="reuse/keep this archive (default: a temporary one)")
    return ap


def truth():
    """{(pixel_x, pixel_y): class} of the mosaic's cells, or None without the mosaic."""
    if not os.path.exists(MOSAIC):
        print("needs ../shared/data/scenes/ucm_mosaic.tif")
        return None
    cells = {}
    with open(os.path.join(SCENES, "ucm_mosaic.truth.csv")) as f:
        for r in csv.DictReader(f):
            cells[(int(r["pixel_x"]), int(r["pixel_y"]))] = r["class"]
    return cells


def read_queries(path):
    """[(class, query)] of a frozen query set (class<TAB>query lines, # comments)."""
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cls, text = line.rstrip("\n").split("\t")
            out.append((cls, text))
    return out


def duch_env(build):
    """The environment for duch: quiet, and the build's model library."""
    env = dict(os.environ, DUCH_QUIET="1")
    env.setdefault("DUCH_MODEL_LIB", os.path.join(build, ".libs", "libduch_model.so"))
    return env
