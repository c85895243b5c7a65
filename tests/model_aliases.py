"""Write a copy of a .duchm model with an "aliases" object added to its header.

usage: model_aliases.py IN OUT JSON-OBJECT   e.g. '{"crimson": "red"}'
The file layout (docs/model.md): "DUCHMODL" | u32 version | u32 0 | u64 payload length |
payload (u32 header length | header JSON | tensors) | u64 FNV-1a 64 of every byte before it
(format 2: the standard offset basis; format 1: the basis a digit short).
"""
import json
import struct
import sys

src, dst, aliases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
b = open(src, "rb").read()
assert b[:8] == b"DUCHMODL"
version = struct.unpack_from("<I", b, 8)[0]
(hlen,) = struct.unpack_from("<I", b, 24)
header = json.loads(b[28:28 + hlen])
header["aliases"] = aliases
h = json.dumps(header, separators=(",", ":")).encode()
payload = struct.pack("<I", len(h)) + h + b[28 + hlen:-8]
body = b[:8] + struct.pack("<II", version, 0) + struct.pack("<Q", len(payload)) + payload
basis = 14695981039346656037 if version >= 2 else 1469598103934665603
x = basis
for c in body:
    x = ((x ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
open(dst, "wb").write(body + struct.pack("<Q", x))
