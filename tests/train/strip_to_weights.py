"""Writes a weights-only safetensors file (what PyTorch's save_file would write: no kestrel
metadata, no optimizer state) from a kestrel checkpoint. Usage: strip_to_weights.py IN OUT"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
tensors = {k: v for k, v in header.items() if k != "__metadata__" and not k.startswith("optimizer.")}
out_header, chunks, offset = {}, [], 0
for name in sorted(tensors):
    begin, end = tensors[name]["data_offsets"]
    chunks.append(data[begin:end])
    out_header[name] = {"dtype": tensors[name]["dtype"], "shape": tensors[name]["shape"],
                        "data_offsets": [offset, offset + end - begin]}
    offset += end - begin
text = json.dumps(out_header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
