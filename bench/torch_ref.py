#!/usr/bin/python3
"""PyTorch reference for `make bench`: the job `nnc train` runs for an MLP
(ReLU hidden layers, cross-entropy, Adam lr 1e-3), one epoch over the first
--samples Fashion-MNIST training images (default all 60,000) in a shuffled
order, on the CPU with a fixed thread count.  Prints one line:
  samples_per_s=... cpu_samples_per_s=... epoch_s=... threads=... blas_threads=... flush_denormal=0|1
(cpu_samples_per_s: over the process's CPU time, all threads, as nnc train
--timings reports it).

  bench/torch_ref.py --layers 784,256,128,10 --batch 64 --threads 1 --flush-denormal

Fairness: torch.set_num_threads does not limit the OpenBLAS library that
Debian's torch uses for Linear, so its thread count is set through ctypes too;
--flush-denormal turns flush-to-zero on, as nnc train does (Adam's moments
otherwise turn denormal).  The epoch's shuffle and gather are timed, as in
nnc's samples/s; --warmup steps run first, untimed.  2-thread runs want
OMP_WAIT_POLICY=PASSIVE on a 2-core machine (make bench sets it).
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
    """OpenBLAS's own thread count (0 when OpenBLAS is not loadable)."""
    try:
        ob = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return 0
    ob.openblas_set_num_threads(n)
    return ob.openblas_get_num_threads()


def mlp(layers):
    mods = []
    for i in range(len(layers) - 1):
        mods.append(nn.Linear(layers[i], layers[i + 1]))
        if i < len(layers) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="784,256,128,10", help="layer widths, input first")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=0, help="first N training images (0: all)")
    ap.add_argument("--flush-denormal", action="store_true")
    ap.add_argument("--warmup", type=int, default=20)
    a = ap.parse_args()
    layers = [int(v) for v in a.layers.split(",")]
    torch.set_num_threads(a.threads)
    blas_threads = set_blas_threads(a.threads)
    torch.set_flush_denormal(a.flush_denormal)
    torch.manual_seed(0)
    X = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz")).reshape(60000, 784)
    y = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    n = a.samples if 0 < a.samples < len(X) else len(X)
    X = torch.from_numpy(X[:n].astype(np.float32) / 255.0)
    y = torch.from_numpy(y[:n])
    assert layers[0] == X.shape[1] and layers[-1] == 10, "Fashion-MNIST: 784 features, 10 classes"
    model = mlp(layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        j = i * a.batch % max(n - a.batch, 1)
        step(X[j:j + a.batch], y[j:j + a.batch])
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(n)
    Xs, ys = X[perm], y[perm]
    for i in range(0, n, a.batch):
        loss = step(Xs[i:i + a.batch], ys[i:i + a.batch])
    loss.item()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"samples_per_s={n / dt:.1f} cpu_samples_per_s={n / cpu:.1f} epoch_s={dt:.3f} threads={torch.get_num_threads()} "
          f"blas_threads={blas_threads} flush_denormal={int(a.flush_denormal)}")


if __name__ == "__main__":
    main()
