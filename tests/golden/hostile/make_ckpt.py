#!/usr/bin/env python3
"""Writes the hostile checkpoints in ckpt/ with their golden .cmd files.

Each file is a checkpoint of tiny.nn (format version 2, the v2_* files, or
version 1, which nnc still reads; docs/checkpoint.md) with one field made wrong, most of them with a correct size, layout hash and
CRC-32, as a hand-made file would have.  The expected messages are the .out
files beside them, written by `tests/golden/run.sh ./nnc --update` and read
by a person before they are committed.  Only the standard library is used;
run it from anywhere after changing a case:  python3 make_ckpt.py
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ckpt")
REPO_DIR = "tests/golden/hostile"   # paths in .cmd files are relative to the repository root

PARAM, STATE = 0, 1
SLOTS = [("out.w", PARAM, [2, 1]), ("out.b", PARAM, [1]), ("adam.t", STATE, []),
         ("adam.m/out.w", STATE, [2, 1]), ("adam.v/out.w", STATE, [2, 1]),
         ("adam.m/out.b", STATE, [1]), ("adam.v/out.b", STATE, [1])]


def numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


class Tensor:
    def __init__(self, name, kind, dims, values=None):
        self.name = name.encode() if isinstance(name, str) else name
        self.kind, self.dims = kind, list(dims)
        self.values = values if values is not None else [0.25 * (i + 1) for i in range(numel(dims))]


def base_tensors(epoch=(0, 0, 0, 0, 0, 0)):
    t = [Tensor("train.epoch", STATE, [6], list(epoch))]
    t += [Tensor(n, k, d) for n, k, d in SLOTS]
    t += [Tensor("best:" + n, STATE, d) for n, k, d in SLOTS]
    return t


M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def layout_hash(tensors):
    total = 0
    for t in tensors:
        h = fnv1a(0xCBF29CE484222325, t.name + b"\0")
        h = fnv1a(h, struct.pack("<ii", t.kind, len(t.dims)))
        for d in t.dims:
            h = fnv1a(h, struct.pack("<I", d & 0xFFFFFFFF))
        total = (total + mix64(h)) & M64
    return mix64(total ^ len(tensors))


def checkpoint(tensors=None, epoch=2, step=6, best=0.5, bad=0, rng=(1, 2, 3, 4), model=b"tiny",
               version=1, count=None, size=None, lhash=None, crc=None, trailing=b"", raw_tensors=None):
    """The bytes of a checkpoint; any field can be forced to a wrong value."""
    tensors = base_tensors() if tensors is None else tensors
    body = b""
    for t in tensors:
        body += struct.pack("<H", len(t.name)) + t.name + struct.pack("<BB", t.kind, len(t.dims))
        body += b"".join(struct.pack("<I", d & 0xFFFFFFFF) for d in t.dims)
        body += b"".join(struct.pack("<f", v) for v in t.values)
    if raw_tensors is not None:
        body = raw_tensors
    head = struct.pack("<qqdq", epoch, step, best, bad) + struct.pack("<4Q", *rng)
    head += struct.pack("<IH", len(tensors) if count is None else count, len(model)) + model
    data = b"NNCK" + struct.pack("<I", version)
    whole = len(data) + 8 + 8 + len(head) + len(body) + 4
    data += struct.pack("<QQ", whole if size is None else size, layout_hash(tensors) if lhash is None else lhash)
    data += head + body
    data += struct.pack("<I", zlib.crc32(data) if crc is None else crc)
    return data + trailing


def edit(tensors, which, **changes):
    for t in tensors:
        if t.name == which.encode():
            for k, v in changes.items():
                setattr(t, k, v)
    return tensors


def mid_epoch(batch=2, steps=1, hi=1.5, lo=0.0, correct=0, n=None):
    """A checkpoint stopped inside epoch 3 of tiny.nn (3 steps of batch 2)."""
    n = batch * steps if n is None else n
    return checkpoint(base_tensors((batch, steps, hi, lo, correct, n)), step=7)


def align64(n):
    return (n + 63) // 64 * 64


def v2_tensors():
    return [Tensor(n, k, d) for n, k, d in SLOTS] + [Tensor("best:" + n, STATE, d) for n, k, d in SLOTS]


def checkpoint_v2(tensors=None, epoch=2, step=6, best=0.5, bad=0, rng=(1, 2, 3, 4), base_lr=0.0, lr_scale=1.0,
                  plateau_best=float("inf"), plateau_bad=0, epoch_batch=0, epoch_steps=0, sums=(), nsums=None,
                  model=b"tiny", count=None, size=None, offsets=None, extra=b""):
    """The bytes of a version 2 checkpoint; any field can be forced to a wrong value."""
    tensors = v2_tensors() if tensors is None else tensors
    head = struct.pack("<qqdq", epoch, step, best, bad) + struct.pack("<4Q", *rng)
    head += struct.pack("<dddqqq", base_lr, lr_scale, plateau_best, plateau_bad, epoch_batch, epoch_steps)
    head += struct.pack("<I", len(sums) if nsums is None else nsums) + b"".join(struct.pack("<d", v) for v in sums)
    head += struct.pack("<IH", len(tensors) if count is None else count, len(model)) + model
    table, block = b"", b""
    for i, t in enumerate(tensors):
        off = len(block) if offsets is None or offsets[i] is None else offsets[i]
        table += struct.pack("<H", len(t.name)) + t.name + struct.pack("<BB", t.kind, len(t.dims))
        table += b"".join(struct.pack("<I", d & 0xFFFFFFFF) for d in t.dims) + struct.pack("<Q", off & M64)
        data = b"".join(struct.pack("<f", v) for v in t.values)
        block += data + bytes(align64(len(data)) - len(data))
    before = 4 + 4 + 8 + 8 + len(head) + len(table)
    body = head + table + bytes(align64(before) - before) + block + extra
    whole = 4 + 4 + 8 + 8 + len(body) + 4
    data = b"NNCK" + struct.pack("<IQQ", 2, whole if size is None else size, layout_hash(tensors)) + body
    return data + struct.pack("<I", zlib.crc32(data))


def v2_mid_epoch(batch=2, steps=1, sums=None, **kw):
    """Stopped inside epoch 3 of tiny.nn: loss sum and samples (no classes)."""
    return checkpoint_v2(step=7, epoch_batch=batch, epoch_steps=steps,
                         sums=(1.5, batch * steps) if sums is None else sums, **kw)


NAN, INF = float("nan"), float("inf")
GOOD = checkpoint()
CASES = {
    # the file itself
    "empty": b"",
    "not_a_checkpoint": b"PK\x03\x04" + GOOD[4:],
    "truncated_magic": GOOD[:3],
    "truncated_header": GOOD[:60],
    "truncated_data": GOOD[:-9],
    "trailing_data": GOOD + b"\0",
    "version_0": checkpoint(version=0),
    "version_huge": checkpoint(version=0xFFFFFFFF),
    "size_zero": checkpoint(size=0),
    "size_huge": checkpoint(size=M64),
    "crc_wrong": checkpoint(crc=0x12345678),
    "layout_hash_wrong": checkpoint(lhash=1),
    # the training position in the header
    "epoch_negative": checkpoint(epoch=-3),
    "epoch_huge": checkpoint(epoch=1 << 40, step=1 << 41),
    "step_negative": checkpoint(step=-1),
    "step_before_epoch": checkpoint(epoch=5, step=4),
    "step_huge": checkpoint(step=(1 << 63) - 1),
    "bad_epochs_negative": checkpoint(bad=-1),
    "bad_epochs_past_epoch": checkpoint(bad=3),
    "best_loss_nan": checkpoint(best=NAN),
    "rng_zero": checkpoint(rng=(0, 0, 0, 0)),
    # the tensor table
    "count_huge": checkpoint(count=0xFFFFFFFF),
    "count_zero_with_tensors": checkpoint(count=0),
    "name_empty": checkpoint(edit(base_tensors(), "out.b", name=b"")),
    "name_nul": checkpoint(edit(base_tensors(), "out.b", name=b"out\0b")),
    # hashed as C strings, as nnc's hash once read them: a reader that took the
    # name for "" passed it to ckpt_write, which aborted
    "name_nul_first": checkpoint(edit(base_tensors(), "out.b", name=b"\0b"),
                                 lhash=layout_hash(edit(base_tensors(), "out.b", name=b""))),
    "name_escape": checkpoint(edit(base_tensors(), "out.b", name=b"out.\x1b[2Jb")),
    "model_name_nul": checkpoint(model=b"ti\0ny"),
    "name_twice": checkpoint(edit(base_tensors(), "out.b", name=b"out.w", dims=[2, 1], values=[1, 2])),
    "kind_2": checkpoint(edit(base_tensors(), "out.w", kind=2)),
    "rank_7": checkpoint(edit(base_tensors(), "out.b", dims=[1] * 7, values=[1])),
    "rank_255": checkpoint(count=1, raw_tensors=struct.pack("<H", 5) + b"out.w" + bytes([0, 255]) + bytes(64)),
    "dim_zero": checkpoint(edit(base_tensors(), "out.w", dims=[2, 0], values=[])),
    "dims_overflow": checkpoint(edit(base_tensors(), "out.w", dims=[65536, 65536, 65536, 65536, 0], values=[])),
    "dims_huge": checkpoint(edit(base_tensors(), "out.w", dims=[65536, 65536, 65536, 65536], values=[])),
    "dim_negative": checkpoint(edit(base_tensors(), "out.w", dims=[-2, 1], values=[])),
    "data_short": checkpoint(edit(base_tensors(), "out.w", dims=[2, 3])),
    # against the model
    "kind_swapped": checkpoint(edit(base_tensors(), "out.w", kind=STATE)),
    "shape_other": checkpoint(edit(base_tensors(), "out.w", dims=[3, 1], values=[1, 2, 3])),
    "tensor_missing": checkpoint([t for t in base_tensors() if t.name != b"adam.m/out.b"]),
    "best_missing": checkpoint([t for t in base_tensors() if t.name != b"best:out.b"]),
    # the interrupted epoch (train.epoch)
    "epoch_steps_3e9": mid_epoch(steps=3e9),
    "epoch_steps_past_end": mid_epoch(steps=3),
    "epoch_steps_fraction": mid_epoch(steps=1.5, n=3),
    "epoch_batch_nan": mid_epoch(batch=NAN, n=2),
    "epoch_batch_negative": mid_epoch(batch=-2, n=2),
    "epoch_batch_zero": mid_epoch(batch=0, n=2),
    "epoch_batch_other": mid_epoch(batch=1),
    "epoch_loss_nan": mid_epoch(hi=NAN),
    "epoch_loss_inf": mid_epoch(lo=-INF),
    "epoch_samples_wrong": mid_epoch(n=5),
    "epoch_correct_without_classes": mid_epoch(correct=1),
    "epoch_zero_steps_with_samples": mid_epoch(steps=0, n=2),
    "epoch_shape": checkpoint(edit(base_tensors(), "train.epoch", dims=[3], values=[2, 1, 0])),
    "epoch_param": checkpoint(edit(base_tensors(), "train.epoch", kind=PARAM)),
}
V2_CASES = {
    "v2_truncated": checkpoint_v2()[:100],
    "v2_size_small": checkpoint_v2(size=100),
    "v2_epoch_negative": checkpoint_v2(epoch=-3),
    "v2_step_huge": checkpoint_v2(step=(1 << 63) - 1),
    "v2_best_loss_nan": checkpoint_v2(best=NAN),
    "v2_rng_zero": checkpoint_v2(rng=(0, 0, 0, 0)),
    # the learning-rate schedule
    "v2_base_lr_negative": checkpoint_v2(base_lr=-0.1),
    "v2_base_lr_nan": checkpoint_v2(base_lr=NAN),
    "v2_base_lr_inf": checkpoint_v2(base_lr=INF),
    "v2_lr_scale_zero": checkpoint_v2(lr_scale=0.0),
    "v2_lr_scale_above_1": checkpoint_v2(lr_scale=2.0),
    "v2_lr_scale_nan": checkpoint_v2(lr_scale=NAN),
    "v2_plateau_best_nan": checkpoint_v2(plateau_best=NAN),
    "v2_plateau_bad_negative": checkpoint_v2(plateau_bad=-1),
    "v2_plateau_bad_past_epoch": checkpoint_v2(plateau_bad=3),
    # the epoch under way
    "v2_epoch_steps_3e9": v2_mid_epoch(steps=3000000000),
    "v2_epoch_steps_negative": v2_mid_epoch(steps=-1),
    "v2_epoch_steps_past_end": v2_mid_epoch(steps=3),
    "v2_epoch_batch_negative": v2_mid_epoch(batch=-2, sums=(1.5, 2)),
    "v2_epoch_batch_huge": v2_mid_epoch(batch=1 << 40, sums=(1.5, 2)),
    "v2_epoch_batch_zero": v2_mid_epoch(batch=0, sums=(1.5, 2)),
    "v2_epoch_batch_other": v2_mid_epoch(batch=1),
    "v2_epoch_sums_count_huge": v2_mid_epoch(nsums=0xFFFFFFFF),
    "v2_epoch_sums_count_65": v2_mid_epoch(sums=(0.0,) * 65),
    "v2_epoch_sums_other_model": v2_mid_epoch(sums=(1.5, 2, 1)),
    "v2_epoch_loss_nan": v2_mid_epoch(sums=(NAN, 2)),
    "v2_epoch_loss_inf": v2_mid_epoch(sums=(-INF, 2)),
    "v2_epoch_samples_wrong": v2_mid_epoch(sums=(1.5, 5)),
    "v2_epoch_sums_without_steps": checkpoint_v2(sums=(1.5, 2)),
    "v2_epoch_batch_without_steps": checkpoint_v2(epoch_batch=2),
    # the tensor table and the data block
    "v2_count_huge": checkpoint_v2(count=0xFFFFFFFF),
    "v2_name_nul": checkpoint_v2(edit(v2_tensors(), "out.b", name=b"out\0b")),
    "v2_dims_overflow": checkpoint_v2(edit(v2_tensors(), "out.w", dims=[65536, 65536, 65536, 65536, 0], values=[])),
    "v2_dims_huge": checkpoint_v2(edit(v2_tensors(), "out.w", dims=[65536, 65536, 65536, 65536], values=[])),
    "v2_offset_unaligned": checkpoint_v2(offsets=[None, 65] + [None] * 12),
    "v2_offset_past_end": checkpoint_v2(offsets=[None, 1 << 20] + [None] * 12),
    "v2_offset_huge": checkpoint_v2(offsets=[None, M64 - 63] + [None] * 12),
    "v2_overlap": checkpoint_v2(offsets=[None, 0] + [None] * 12),
    "v2_unused_bytes": checkpoint_v2(extra=bytes(64)),
    "v2_kind_swapped": checkpoint_v2(edit(v2_tensors(), "out.w", kind=STATE)),
    "v2_tensor_missing": checkpoint_v2([t for t in v2_tensors() if t.name != b"adam.m/out.b"]),
    "v2_best_missing": checkpoint_v2([t for t in v2_tensors() if t.name != b"best:out.b"]),
}
# well-formed files that must load
GOOD_CASES = {"good": GOOD, "good_mid_epoch": mid_epoch(), "v2_good": checkpoint_v2(),
              "v2_good_mid_epoch": v2_mid_epoch()}

TRAIN = "train {d}/tiny.nn --resume {d}/ckpt/{name}.ckpt --quiet"
OTHER = {  # cases read by another command: every reader refuses the same way
    "crc_wrong": "predict {d}/tiny.nn --weights {d}/ckpt/{name}.ckpt --input {d}/tiny.csv",
    "dims_overflow": "compile {d}/tiny.nn --weights {d}/ckpt/{name}.ckpt -o /tmp/nnc-golden-never-written.o",
    "name_nul": "train {d}/tiny.nn --init {d}/ckpt/{name}.ckpt --quiet",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in {**CASES, **V2_CASES, **GOOD_CASES}.items():
        with open(os.path.join(OUT, name + ".ckpt"), "wb") as f:
            f.write(data)
        with open(os.path.join(OUT, name + ".cmd"), "w") as f:
            f.write(OTHER.get(name, TRAIN).format(d=REPO_DIR, name=name) + "\n")


if __name__ == "__main__":
    main()
