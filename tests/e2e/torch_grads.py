#!/usr/bin/python3
"""Gradients of random conv/pool models: nnc's reference evaluator (`nnc grad
--at ... --all`, double precision) against PyTorch in float64, at the point
nnc prints (its inputs and initial weights, to 9 digits).  Strides, padding,
dilation and groups are drawn per model; every gradient must agree within
1e-5 relative to its tensor's largest element (and 1e-9 absolute).

  torch_grads.py NNC WORKDIR [--models N] [--seed S]
"""
import random
import re
import subprocess
import sys

import torch
import torch.nn.functional as F


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_layer(rng, c, h, w):
    """A random conv2d fitting [c,h,w]: its arguments and output shape."""
    while True:
        g = rng.choice([g for g in (1, 2, 3) if c % g == 0])
        o = g * rng.choice((1, 2))
        k = rng.choice((1, 2, 3))
        s = rng.choice((1, 1, 2))
        d = rng.choice((1, 2)) if k > 1 else 1
        p = rng.randint(0, d * (k - 1))
        oh, ow = out_size(h, k, s, p, d), out_size(w, k, s, p, d)
        if oh >= 3 and ow >= 3:
            return dict(o=o, k=k, s=s, p=p, d=d, g=g), (o, oh, ow)


def pool_layer(rng, c, h, w):
    kind = rng.choice(("max", "avg"))
    size = rng.choice((2, 3))
    s = rng.choice((1, 2, size))
    p = rng.randint(0, size // 2)
    return dict(kind=kind, size=size, s=s, p=p), (c, out_size(h, size, s, p, 1), out_size(w, size, s, p, 1))


def random_model(rng, i):
    c, h, w = rng.choice((1, 2, 4, 6)), rng.randint(6, 10), rng.randint(6, 10)
    layers, shape = [], (c, h, w)
    for _ in range(rng.choice((1, 2))):
        conv, shape = conv_layer(rng, *shape)
        layers.append(("conv", conv))
        if rng.random() < 0.7:
            pool, shape = pool_layer(rng, *shape)
            layers.append(("pool", pool))
    gap = rng.random() < 0.5
    return dict(name=f"m{i}", x=(c, h, w), layers=layers, flat=shape[0] * shape[1] * shape[2], gap=gap,
                channels=shape[0], classes=3, y=rng.randrange(3))


def nn_source(m):
    lines = [f"model {m['name']}", "input x : [%d, %d, %d]" % m["x"], f"target y : class({m['classes']})"]
    prev = "x"
    for j, (kind, a) in enumerate(m["layers"]):
        name = f"l{j}"
        if kind == "conv":
            lines.append(f"{name} = tanh(conv2d({prev}, {a['o']}, {a['k']}, stride = {a['s']}, padding = {a['p']}, "
                         f"dilation = {a['d']}, groups = {a['g']}))")
        else:
            lines.append(f"{name} = {a['kind']}_pool2d({prev}, {a['size']}, stride = {a['s']}, padding = {a['p']})")
        prev = name
    logits = f"dense(flatten({prev}), {m['classes']})"
    if m["gap"]:
        lines.append(f"side = dense(global_avg_pool({prev}), {m['classes']})")
        logits += " + side"
    lines += [f"logits = {logits}", "loss cross_entropy(logits, y)"]
    return "\n".join(lines) + "\n"


VALUE = re.compile(r"^(grad )?([\w.]+)(?: \[([0-9,]*)\])? = (.*?)(?:  \(.*\))?$")


def parse(text):
    """{name: tensor} of the values and gradients nnc printed."""
    vals, grads, loss = {}, {}, None
    for line in text.splitlines():
        mt = VALUE.match(line)
        if not mt:
            continue
        grad, name, shape, rest = mt.groups()
        if rest.startswith("class "):
            vals[name] = int(rest.split()[1])
            continue
        nums = [float(t) for t in rest.split()]
        dims = [int(t) for t in shape.split(",")] if shape else []
        t = torch.tensor(nums, dtype=torch.float64).reshape(dims)
        if name == "loss":
            loss = t
        else:
            (grads if grad else vals)[name] = t
    return vals, grads, loss


def torch_loss(m, v):
    x = v["x"].clone().requires_grad_(True).unsqueeze(0)
    h = x
    for j, (kind, a) in enumerate(m["layers"]):
        if kind == "conv":
            h = torch.tanh(F.conv2d(h, v[f"l{j}.w"], v[f"l{j}.b"], stride=a["s"], padding=a["p"], dilation=a["d"],
                                groups=a["g"]))
        elif a["kind"] == "max":
            h = F.max_pool2d(h, a["size"], stride=a["s"], padding=a["p"])
        else:
            h = F.avg_pool2d(h, a["size"], stride=a["s"], padding=a["p"], count_include_pad=True)
    logits = h.flatten(1) @ v["logits.w"] + v["logits.b"]
    if m["gap"]:
        logits = logits + h.mean((2, 3)) @ v["side.w"] + v["side.b"]
    return F.cross_entropy(logits, torch.tensor([v["y"]]))


def param_shapes(m):
    """Each parameter's shape (nnc prints a one-element tensor as a bare number)."""
    shapes, c = {}, m["x"][0]
    for j, (kind, a) in enumerate(m["layers"]):
        if kind == "conv":
            shapes[f"l{j}.w"], shapes[f"l{j}.b"] = (a["o"], c // a["g"], a["k"], a["k"]), (a["o"],)
            c = a["o"]
    shapes["logits.w"], shapes["logits.b"] = (m["flat"], m["classes"]), (m["classes"],)
    if m["gap"]:
        shapes["side.w"], shapes["side.b"] = (m["channels"], m["classes"]), (m["classes"],)
    shapes["x"] = m["x"]
    return shapes


def check(nnc, workdir, m):
    path = f"{workdir}/{m['name']}.nn"
    with open(path, "w") as f:
        f.write(nn_source(m))
    r = subprocess.run([nnc, "grad", path, "--at", f"y={m['y']}", "--all", "--input-grads"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return [f"nnc grad failed: {r.stderr.strip()}"]
    vals, grads, loss = parse(r.stdout)
    for k, shape in param_shapes(m).items():
        for d in (vals, grads):
            if k in d and d[k].numel() == 1:
                d[k] = d[k].reshape(shape)
    params = {k: t.clone().requires_grad_(True) for k, t in vals.items() if k not in ("x", "y")}
    x = vals["x"].clone().requires_grad_(True)
    tl = torch_loss(m, {**params, "x": x, "y": vals["y"]})
    tl.backward()
    want = {k: p.grad for k, p in params.items()}
    want["x"] = x.grad
    bad = []
    if loss is None or abs(float(loss) - tl.item()) > 1e-5 * max(1.0, abs(tl.item())):
        bad.append(f"loss: nnc {loss}, torch {tl.item()}")
    for k, w in want.items():
        g = grads.get(k)
        if g is None or g.shape != w.shape:
            bad.append(f"grad {k}: nnc printed {None if g is None else list(g.shape)}, torch {list(w.shape)}")
            continue
        err = (g - w).abs().max().item()
        if err > 1e-5 * w.abs().max().item() + 1e-9:
            bad.append(f"grad {k}: max difference {err:.3g} (largest element {w.abs().max().item():.3g})")
    return bad


def main():
    nnc, workdir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[sys.argv.index("--models") + 1]) if "--models" in sys.argv else 12
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    rng = random.Random(seed)
    failed = 0
    for i in range(n):
        m = random_model(rng, i)
        bad = check(nnc, workdir, m)
        desc = "; ".join(f"{k} {a}" for k, a in m["layers"])
        print(f"{m['name']}: x {list(m['x'])}, {desc}: {'ok' if not bad else 'FAIL'}")
        for b in bad:
            print("  " + b)
        failed += bool(bad)
    print(f"{n - failed} of {n} models: gradients equal PyTorch's (float64, 1e-5 relative)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
