#!/usr/bin/env python3
"""Writes the seed corpora in corpus/ from files the repository already has.

nn:   every example, diagnostic and hostile .nn file.
data: the example CSVs and the hostile CSV and IDX files, each behind the
      three mode bytes fuzz_data.c reads (format, gzip, cut, target kind;
      widths; the IDX split), in several modes.
ckpt: the well-formed hostile checkpoints of both versions and a few broken
      ones.
cache: written by hand (a real entry of examples/course_graph.nn, from
      XDG_CACHE_HOME=DIR nnc train examples/course_graph.nn, and its header
      alone); this script leaves them as they are.
Seeds are named after their source; rerun after adding files.  Standard
library only: python3 tests/fuzz/make_seeds.py
"""
import glob
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(kind, name, data):
    os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
    with open(os.path.join(CORPUS, kind, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def nn_seeds():
    for pattern in ["examples/*.nn", "tests/golden/diag/*.nn", "tests/golden/hostile/nn/*.nn",
                    "tests/golden/hostile/*.nn"]:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            prefix = os.path.basename(os.path.dirname(path))
            out("nn", f"{prefix}-{os.path.basename(path)}", read(path))


def mode(idx=0, gzip=0, cut=0, kind=0, header=0, first=0):
    return idx | gzip << 1 | cut << 2 | kind << 3 | header << 5 | first << 6


def widths(nfeat, width):
    return (nfeat - 1) | (width - 1) << 3


def data_seeds():
    csvs = {"xor": ("examples/data/xor.csv", 2, 1, 1), "regression": ("examples/data/regression.csv", 3, 1, 1),
            "course_chain": ("examples/data/course_chain.csv", 1, 1, 1)}
    for name, (path, nfeat, width, header) in csvs.items():
        text = read(os.path.join(ROOT, path))
        for tag, m in [("class", mode(kind=0, header=header)), ("real", mode(kind=1, header=header)),
                       ("features", mode(kind=2)), ("gz", mode(gzip=1, kind=1, header=header)),
                       ("gzcut", mode(gzip=1, cut=1, kind=1, header=header))]:
            out("data", f"csv-{name}-{tag}", bytes([m, widths(nfeat, width), 200]) + text)
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/golden/hostile/data/*.csv"))):
        out("data", "csv-" + os.path.basename(path), bytes([mode(kind=0), widths(2, 2), 0]) + read(path))
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/golden/hostile/data/*-images"))):
        img, lab = read(path), read(path.replace("-images", "-labels"))
        size = max(len(img), len(lab))   # equal halves: the split byte 128 cuts between them
        pair = img + bytes(size - len(img)) + lab + bytes(size - len(lab))
        name = os.path.basename(path).replace("-images", "")
        out("data", "idx-" + name, bytes([mode(idx=1, kind=0), widths(4, 2), 128]) + pair)


def ckpt_seeds():
    for name in ["good", "good_mid_epoch", "v2_good", "v2_good_mid_epoch", "dims_huge", "v2_overlap",
                 "v2_offset_unaligned", "epoch_steps_past_end", "v2_epoch_sums_other_model", "name_twice"]:
        shutil.copy(os.path.join(ROOT, "tests/golden/hostile/ckpt", name + ".ckpt"),
                    os.path.join(CORPUS, "ckpt", name + ".ckpt"))


def main():
    os.makedirs(os.path.join(CORPUS, "ckpt"), exist_ok=True)
    nn_seeds()
    data_seeds()
    ckpt_seeds()


if __name__ == "__main__":
    main()
