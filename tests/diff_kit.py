"""Builders for the diff tests and bench/diff.py: safetensors and GGUF files written byte by
byte from their specs (no safetensors or gguf package), so the tests pin the formats."""
from __future__ import annotations

import json
import struct

import numpy as np

ST_CODES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
            "U8": "u1", "BOOL": "u1"}


def bf16_bytes(values) -> bytes:
    """float32 values rounded down to bfloat16 (their top 16 bits), as bytes."""
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


def tensor_bytes(dtype: str, values) -> bytes:
    if dtype == "BF16":
        return bf16_bytes(values)
    return np.asarray(values).astype(ST_CODES[dtype]).tobytes()


def safetensors(tensors: dict, metadata: dict | None = None) -> bytes:
    """``tensors``: name -> (dtype, shape, raw bytes).  Written as the spec says: u64 header length,
    JSON header (offsets relative to the data), data in the header's order."""
    header, blobs, pos = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write_safetensors_stream(path, tensors: list, fill) -> None:
    """A large safetensors file without holding it: ``tensors`` is [(name, dtype, shape, nbytes)],
    ``fill(name, nbytes)`` yields the tensor's bytes in pieces."""
    header, pos = {}, 0
    for name, dtype, shape, nbytes in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, _, _, nbytes in tensors:
            for piece in fill(name, nbytes):
                f.write(piece)


def _gguf_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "I8": 24, "I16": 25, "I32": 26, "BF16": 30}


def gguf(tensors: dict, kv: dict | None = None, alignment: int = 32) -> bytes:
    """A GGUF v3 file.  ``tensors``: name -> (ggml type name, dims in GGUF order, raw bytes);
    ``kv``: string or u32 values (plus one string array, to exercise skipping)."""
    kv = dict(kv or {})
    out = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(kv) + 2)]
    out.append(_gguf_str("general.alignment") + struct.pack("<II", 4, alignment))
    vocab = ["a", "bb", "ccc"]
    out.append(_gguf_str("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, len(vocab))
               + b"".join(_gguf_str(t) for t in vocab))
    for k, v in kv.items():
        out.append(_gguf_str(k) + (struct.pack("<I", 8) + _gguf_str(v) if isinstance(v, str)
                                   else struct.pack("<II", 4, v)))
    pos, blobs = 0, []
    for name, (gtype, dims, raw) in tensors.items():
        pos += -pos % alignment
        out.append(_gguf_str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
                   + struct.pack("<IQ", GGML[gtype], pos))
        blobs.append((pos, raw))
        pos += len(raw)
    head = b"".join(out)
    head += b"\0" * (-len(head) % alignment)
    data = bytearray(pos)
    for off, raw in blobs:
        data[off:off + len(raw)] = raw
    return head + bytes(data)
