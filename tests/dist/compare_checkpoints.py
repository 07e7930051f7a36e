"""Compares the parameters of two kestrel checkpoints (safetensors files, read with the standard
library only). Prints the largest absolute difference and the largest difference relative to
|a| + ATOL, and exits 1 when the latter exceeds RTOL, when the tensors' names, dtypes or shapes
differ, or when the files disagree on epoch and step.

  compare_checkpoints.py A B --rtol 1e-5 --atol 1e-3 [--optimizer]

--optimizer also compares the optimizer's state tensors; --rtol 0 demands identical bits."""
import argparse
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        if t["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {t['dtype']}, expected F32")
        tensors[name] = (t["shape"], struct.unpack(f"<{(end - begin) // 4}f", data[begin:end]))
    return meta, tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, required=True)
    p.add_argument("--atol", type=float, default=1e-3)
    p.add_argument("--optimizer", action="store_true")
    args = p.parse_args()
    meta_a, a = read(args.a)
    meta_b, b = read(args.b)
    for key in ("epoch", "step"):
        if meta_a.get(key) != meta_b.get(key):
            sys.exit(f"{key}: {meta_a.get(key)} in {args.a} but {meta_b.get(key)} in {args.b}")
    names = sorted(n for n in a if args.optimizer or not n.startswith("optimizer."))
    other = sorted(n for n in b if args.optimizer or not n.startswith("optimizer."))
    if names != other:
        sys.exit(f"different tensors: {names} vs {other}")
    worst_abs, worst_rel, where, count = 0.0, 0.0, "", 0
    for name in names:
        (shape_a, va), (shape_b, vb) = a[name], b[name]
        if shape_a != shape_b:
            sys.exit(f"{name}: shape {shape_a} vs {shape_b}")
        for i, (x, y) in enumerate(zip(va, vb)):
            d = abs(x - y)
            rel = d / (abs(x) + args.atol)
            count += 1
            worst_abs = max(worst_abs, d)
            if rel > worst_rel:
                worst_rel, where = rel, f"{name}[{i}]: {x!r} vs {y!r}"
    print(f"{count} values: max |a - b| = {worst_abs:.3g}, max |a - b| / (|a| + {args.atol:g}) = "
          f"{worst_rel:.3g}{' at ' + where if where else ''}")
    if worst_rel > args.rtol:
        sys.exit(f"FAIL: {worst_rel:.3g} exceeds the tolerance {args.rtol:g}")


if __name__ == "__main__":
    main()
