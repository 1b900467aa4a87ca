#!/usr/bin/env python3
"""Derives the extra inputs and targets of examples/fashion_two_heads.nn from
Fashion-MNIST, as gzipped IDX files of unsigned bytes:

  fashion-meta-SET.idx.gz  [N, 3]: mean grey level of the image (0..255), and
                           9 x the number of rows and of columns holding ink
                           (a grey level above 32), 0..252
  fashion-kind-SET.idx.gz  [N]: the garment's kind: 0 top (T-shirt, pullover,
                           dress, coat, shirt), 1 trouser, 2 footwear
                           (sandal, sneaker, ankle boot), 3 bag

Usage: fashion_meta.py [DATASET_DIR] [OUT_DIR]
(defaults /usr/share/datasets/fashion-mnist and this file's directory).
gzip's header carries no name or time, so the files are the same bytes on
every run.
"""
import gzip
import os
import struct
import sys

KIND = [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


def write_idx(path, dims, payload):
    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as f:
            f.write(header + payload)


def meta(img):
    rows = sum(1 for r in range(28) if max(img[28 * r:28 * r + 28]) > 32)
    cols = sum(1 for c in range(28) if max(img[c::28]) > 32)
    return bytes([sum(img) // 784, 9 * rows, 9 * cols])


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    for name in ("train", "t10k"):
        (n, h, w), pixels = read_idx(os.path.join(src, name + "-images-idx3-ubyte.gz"))
        _, labels = read_idx(os.path.join(src, name + "-labels-idx1-ubyte.gz"))
        feats = b"".join(meta(pixels[i * h * w:(i + 1) * h * w]) for i in range(n))
        write_idx(os.path.join(dst, "fashion-meta-%s.idx.gz" % name), (n, 3), feats)
        write_idx(os.path.join(dst, "fashion-kind-%s.idx.gz" % name), (n,), bytes(KIND[l] for l in labels))


if __name__ == "__main__":
    main()
