"""ckpt_close.py A B TOL: whether two nnc checkpoints of one model hold the
same parameters to TOL relative (per tensor, the norm of the difference over
the norm of A's values); prints the worst tensor.  The reader follows
docs/checkpoint.md."""
import math, struct, sys, zlib


def params(path):
    b = open(path, "rb").read()
    if b[:4] != b"NNCK" or struct.unpack_from("<I", b, 4)[0] != 2:
        sys.exit("%s: not a version 2 nnc checkpoint" % path)
    if zlib.crc32(b[:-4]) != struct.unpack_from("<I", b, len(b) - 4)[0]:
        sys.exit("%s: checksum mismatch" % path)
    (nsums,) = struct.unpack_from("<I", b, 136)
    at = 140 + 8 * nsums
    ntensors, namelen = struct.unpack_from("<IH", b, at)
    at += 6 + namelen
    table = []
    for _ in range(ntensors):
        (n,) = struct.unpack_from("<H", b, at)
        name, kind, ndim = b[at + 2:at + 2 + n].decode(), b[at + 2 + n], b[at + 3 + n]
        dims = struct.unpack_from("<%dI" % ndim, b, at + 4 + n)
        (offset,) = struct.unpack_from("<Q", b, at + 4 + n + 4 * ndim)
        at += 12 + n + 4 * ndim
        table.append((name, kind, dims, offset))
    data, out = (at + 63) // 64 * 64, {}
    for name, kind, dims, offset in table:
        count = 1
        for d in dims:
            count *= d
        if kind == 0:
            out[name] = struct.unpack_from("<%df" % count, b, data + offset)
    return out


a, b, tol = params(sys.argv[1]), params(sys.argv[2]), float(sys.argv[3])
if sorted(a) != sorted(b):
    sys.exit("the checkpoints hold different parameters")
worst, where = 0.0, ""
for name in a:
    scale = math.sqrt(sum(v * v for v in a[name])) or 1.0
    diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[name], b[name]))) / scale
    if diff >= worst:
        worst, where = diff, name
print("largest relative difference %.3g (%s)" % (worst, where))
sys.exit(0 if worst <= tol else 1)
