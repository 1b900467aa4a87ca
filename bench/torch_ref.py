#!/usr/bin/python3
"""PyTorch reference for `make bench`: the same job as examples/fashion_mlp.nn
(784-256-128-10, ReLU, cross-entropy, Adam lr 1e-3, batch 64), trained for one
epoch on the full Fashion-MNIST training set, on the CPU, with a fixed thread
count.  Prints one line: samples_per_s=... epoch_s=... threads=...

Fairness: torch.set_num_threads does not limit the OpenBLAS library that
Debian's torch uses for Linear, so its thread count is set through ctypes too;
flush-to-zero is on, as in nnc (Adam's moments otherwise turn denormal).
"""
import argparse
import ctypes
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def set_blas_threads(n):
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    set_blas_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    X = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz")).reshape(60000, 784)
    X = torch.from_numpy(X.astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        step(X[i * a.batch:(i + 1) * a.batch], y[i * a.batch:(i + 1) * a.batch])
    t0 = time.perf_counter()
    perm = torch.randperm(X.shape[0])
    Xs, ys = X[perm], y[perm]
    for i in range(0, X.shape[0], a.batch):
        loss = step(Xs[i:i + a.batch], ys[i:i + a.batch])
    loss.item()
    dt = time.perf_counter() - t0
    print(f"samples_per_s={X.shape[0] / dt:.0f} epoch_s={dt:.3f} threads={a.threads}")


if __name__ == "__main__":
    main()
