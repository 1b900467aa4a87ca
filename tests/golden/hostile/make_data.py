#!/usr/bin/env python3
"""Writes the hostile data files in data/ with a model and a golden .cmd each.

Every case is a CSV file or an IDX pair (plain or gzipped) with one thing
wrong: a size in a header that is zero, huge, "negative" (all bits set) or a
value that is NaN or infinite, a truncation, damage, a label out of range.
Each gets a small model, NAME.nn, that trains on it, and NAME.cmd runs
`nnc train` on that model; the expected message is NAME.out, written by
`tests/golden/run.sh ./nnc --update` and read by a person before it is
committed.  Standard library only; run it from anywhere: python3 make_data.py
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
REPO_DIR = "tests/golden/hostile/data"

MODEL = """# {name}: trains on a hostile data file (make_data.py).
model m

input  x : {shape}
target y : class(3)

out = dense(flatten(x), 3)

loss cross_entropy(out, y)

train {{
  data   = {source}
  epochs = 1
  batch  = 2
}}
"""


def gz(data):
    return gzip.compress(data, mtime=0)


def flip(data, at):
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


GOOD_CSV = b"0.5,1,0\n1,0.25,1\n2,2,2\n0,0,1\n"
CSV = {
    "csv_good": GOOD_CSV,
    "csv_empty": b"",
    "csv_blank_lines": b"\n  \n\t\n",
    "csv_too_few_columns": b"0.5,1,0\n1,1\n",
    "csv_too_many_columns": b"0.5,1,0,7\n",
    "csv_nan": b"nan,1,0\n",
    "csv_inf": b"1e400,1,0\n",
    "csv_label_negative": b"0.5,1,-1\n",
    "csv_label_fraction": b"0.5,1,0.5\n",
    "csv_label_huge": b"0.5,1,1e300\n",
    "csv_label_nan": b"0.5,1,nan\n",
    "csv_empty_field": b"0.5,,0\n",
    "csv_nul_in_field": b"0.5\0,1,0\n",
    "csv_long_field": b"1" * 100 + b",1,0\n",
    "csv_binary": bytes(range(256)),
    "csv_gz_good": gz(GOOD_CSV),
    "csv_gz_truncated": gz(GOOD_CSV * 50)[:40],
    "csv_gz_corrupt": flip(gz(GOOD_CSV * 50), 30),
    "csv_gz_header_only": gz(GOOD_CSV)[:10],
}


def idx(type_byte, dims, payload, rank=None):
    head = bytes([0, 0, type_byte, len(dims) if rank is None else rank])
    return head + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims) + payload


def images(n=2, payload=None, **kw):
    return idx(0x08, [n, 2, 2], bytes(i % 256 for i in range(4 * n)) if payload is None else payload, **kw)


def labels(n=2, payload=None):
    return idx(0x08, [n], bytes(i % 3 for i in range(n)) if payload is None else payload)


FLOAT_NAN = struct.pack(">f", float("nan"))
IDX = {  # name: (images file, labels file)
    "idx_good": (images(), labels()),
    "idx_gz_good": (gz(images()), gz(labels())),
    "idx_empty": (b"", labels()),
    "idx_magic": (b"\x01\x02" + images()[2:], labels()),
    "idx_type_unknown": (idx(0x07, [2, 2, 2], bytes(8)), labels()),
    "idx_rank_zero": (idx(0x08, [], b"", rank=0), labels()),
    "idx_rank_huge": (idx(0x08, [], bytes(64), rank=255), labels()),
    "idx_header_truncated": (images()[:6], labels()),
    "idx_count_zero": (images(n=0, payload=b""), labels(n=0, payload=b"")),
    "idx_count_huge": (idx(0x08, [0xFFFFFFFF, 2, 2], bytes(8)), idx(0x08, [0xFFFFFFFF], bytes(2))),
    "idx_dim_zero": (idx(0x08, [2, 0, 2], b""), labels()),
    "idx_dim_huge": (idx(0x08, [2, 0xFFFFFFFF, 0xFFFFFFFF], bytes(8)), labels()),
    "idx_data_truncated": (images()[:-3], labels()),
    "idx_float_nan": (idx(0x0D, [2, 2, 2], struct.pack(">f", 1.0) * 5 + FLOAT_NAN + struct.pack(">f", 1.0) * 2),
                      labels()),
    "idx_float64_inf": (idx(0x0E, [1, 2, 2], struct.pack(">d", float("-inf")) * 4), labels(n=1)),
    "idx_labels_count": (images(), labels(n=3)),
    "idx_label_out_of_range": (images(), labels(payload=bytes([0, 7]))),
    "idx_label_negative": (images(), idx(0x09, [2], bytes([0, 0xFF]))),
    "idx_labels_two_wide": (images(), idx(0x08, [2, 2], bytes(4))),
    "idx_gz_truncated": (gz(images(n=200))[:30], labels(n=200)),
    "idx_gz_corrupt": (flip(gz(images(n=200)), 20), labels(n=200)),
}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def case(name, shape, source):
    write(os.path.join(OUT, name + ".nn"), MODEL.format(name=name, shape=shape, source=source).encode())
    write(os.path.join(OUT, name + ".cmd"), f"train {REPO_DIR}/{name}.nn --quiet\n".encode())


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in CSV.items():
        ext = ".csv.gz" if "_gz_" in name else ".csv"
        write(os.path.join(OUT, name + ext), data)
        case(name, "[2]", f'csv("{name}{ext}")')
    for name, (img, lab) in IDX.items():
        write(os.path.join(OUT, name + "-images"), img)
        write(os.path.join(OUT, name + "-labels"), lab)
        case(name, "[2, 2]", f'idx(images = "{name}-images", labels = "{name}-labels")')


if __name__ == "__main__":
    main()
