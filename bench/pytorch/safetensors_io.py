"""safetensors files written and read by hand (Debian's PyTorch 1.13 comes without the
safetensors package): an 8-byte little-endian header length, a JSON header of dtype, shape and
data offsets per tensor, then the data, row-major little-endian. Tensors are laid out by
element size (largest first), then by name, as the reference writer does, so each starts
aligned; the header is padded with spaces to a multiple of 8."""
import json
import struct

import numpy as np
import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}
_NUMPY = {"F32": np.float32, "I64": np.int64, "I32": np.int32}


def save(path, tensors):
    """tensors: {name: torch.Tensor} of f32, i64 or i32, any device."""
    arrays = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    order = sorted(arrays, key=lambda k: (-arrays[k].element_size(), k))
    header, chunks, offset = {}, [], 0
    for name in order:
        t = arrays[name]
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def load(path):
    """{name: torch.Tensor} of every tensor in the file (metadata dropped)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=_NUMPY[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out
