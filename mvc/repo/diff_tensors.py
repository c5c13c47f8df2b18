"""The tensor index of a stored safetensors or GGUF file, for `mvc diff`.

The chunkers (store/safetensors.py, store/gguf.py) only need where tensors start;
a diff needs each tensor's name, dtype, shape and byte range.  Headers come from
a store and are hostile until checked: every offset must fit the file, every
byte length must match dtype x shape, and a header over ``MAX_HEADER`` bytes (or
with more than ``MAX_TENSORS`` entries) is refused with ``IndexError_``, which
the diff turns into a byte-level comparison of the file.
"""
from __future__ import annotations

import bisect
import json
import math
import struct
from dataclasses import dataclass

from . import diff_json
from .diff_read import Cursor, StoredFile

MAX_HEADER = 16 << 20     # a safetensors header of 16 MiB lists ~150,000 tensors; real ones are < 2 MiB
MAX_GGUF_HEADER = 32 << 20  # GGUF headers carry the tokenizer's vocabulary: 5-10 MiB for 150,000 tokens
MAX_TENSORS = 1 << 20
MAX_DIMS = 16
MAX_META_VALUE = 4096     # GGUF metadata strings longer than this are summarised, not kept

# safetensors dtype -> bytes per element
ST_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}

# GGUF (ggml) type -> (name, elements per block, bytes per block); the quantised types compare as bytes
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
}
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class IndexError_(ValueError):
    """A header that cannot be trusted as a tensor index (the message says why)."""


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple
    start: int   # absolute offsets in the file
    end: int


@dataclass
class TensorIndex:
    format: str             # "safetensors" or "gguf"
    tensors: dict           # name -> Tensor
    metadata: dict | None   # safetensors __metadata__, GGUF key/values (scalars and short strings)


def sniff(f: StoredFile, path: str) -> str | None:
    """"safetensors", "gguf" or None, from the first bytes (and, for safetensors, the name).
    Without the name, a file is safetensors only when its first 8 bytes are a header length that
    fits the file and a '{' follows; a ``*.json`` file never is (``{"abc": {`` has its 9th byte
    '{' too, and its key diff must not be lost to a tensor index that cannot parse)."""
    head = f.read(0, 9)
    if head[:4] == b"GGUF":
        return "gguf"
    if path.endswith(".safetensors"):
        return "safetensors"
    if (not path.endswith(".json") and len(head) == 9 and head[8:9] == b"{"
            and 2 <= struct.unpack("<Q", head[:8])[0] <= f.size - 8):
        return "safetensors"
    return None


def read_index(f: StoredFile, fmt: str) -> TensorIndex:
    """The index of ``f``, or IndexError_ saying why its header cannot be trusted."""
    try:
        return _safetensors(f) if fmt == "safetensors" else _gguf(f)
    except IndexError_:
        raise
    except (ValueError, struct.error, RecursionError, OverflowError, MemoryError) as e:  # Cursor: ValueError
        raise IndexError_(f"{fmt} header does not parse ({e})") from None


# ---- safetensors -----------------------------------------------------------

def _safetensors(f: StoredFile) -> TensorIndex:
    (n,) = struct.unpack("<Q", f.read(0, 8))
    if n > MAX_HEADER:
        raise IndexError_(f"safetensors header claims {n} bytes, over the {MAX_HEADER >> 20} MiB a diff reads")
    if 8 + n > f.size:
        raise IndexError_(f"safetensors header claims {n} bytes but the file has {f.size}")
    try:
        index = json.loads(f.read(8, n), parse_constant=str, parse_float=diff_json.finite_float)  # as JSON files
    except ValueError as e:
        raise IndexError_(f"safetensors header is not JSON ({e})") from None
    if not isinstance(index, dict) or len(index) > MAX_TENSORS:
        raise IndexError_("safetensors header is not a JSON object of at most 2^20 entries")
    meta = index.pop("__metadata__", None)
    data_start, data_len = 8 + n, f.size - 8 - n
    tensors = {name: _st_tensor(name, info, data_start, data_len) for name, info in index.items()}
    _no_overlap(tensors.values(), "safetensors")
    return TensorIndex("safetensors", tensors, meta if isinstance(meta, dict) else None)


def _no_overlap(tensors, fmt: str) -> None:
    """Refuse tensors whose byte ranges overlap (the safetensors and GGUF loaders refuse them
    too): every tensor read could then cover the whole file, and a header of 200,000 such
    entries would make a diff of a 1 GiB file compare 200,000 GiB."""
    prev = None
    for t in sorted((t for t in tensors if t.end > t.start), key=lambda t: t.start):
        if prev is not None and t.start < prev.end:
            raise IndexError_(f"{fmt} tensors {prev.name!r} and {t.name!r} overlap "
                              f"(bytes {prev.start}-{prev.end} and {t.start}-{t.end})")
        prev = t


def _st_tensor(name: str, info, data_start: int, data_len: int) -> Tensor:
    if not isinstance(info, dict):
        raise IndexError_(f"tensor {name!r}: its entry is not an object")
    dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or len(dtype) > 32:
        raise IndexError_(f"tensor {name!r}: dtype {dtype!r} is not a short string")
    shape = _dims(name, shape)
    if (not isinstance(offs, list) or len(offs) != 2 or not all(_int(o) for o in offs)
            or not 0 <= offs[0] <= offs[1] <= data_len):
        raise IndexError_(f"tensor {name!r}: data_offsets {offs!r} do not fit the {data_len} bytes of data")
    size = ST_ITEMSIZE.get(dtype)
    if size is not None and math.prod(shape) * size != offs[1] - offs[0]:
        raise IndexError_(f"tensor {name!r}: {dtype} {list(shape)} needs {math.prod(shape) * size} bytes, "
                          f"its offsets span {offs[1] - offs[0]}")
    return Tensor(name, dtype, shape, data_start + offs[0], data_start + offs[1])


def _dims(name: str, shape) -> tuple:
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(_int(d) and d >= 0 for d in shape):
        raise IndexError_(f"tensor {name!r}: shape {str(shape)[:80]} is not a list of at most "
                          f"{MAX_DIMS} non-negative integers")
    return tuple(shape)


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# ---- GGUF ------------------------------------------------------------------

def _gguf(f: StoredFile) -> TensorIndex:
    c = Cursor(f, MAX_GGUF_HEADER)
    magic, version = struct.unpack("<4sI", c.take(8))
    if magic != b"GGUF" or version not in (2, 3):
        raise IndexError_(f"GGUF version {version} is not one this mvc reads (2 or 3)")
    n_tensors, n_kv = struct.unpack("<QQ", c.take(16))
    if n_tensors > MAX_TENSORS or n_kv > MAX_TENSORS:
        raise IndexError_(f"GGUF header claims {n_tensors} tensors and {n_kv} keys; at most 2^20 of each are read")
    meta, alignment = {}, 32
    for _ in range(n_kv):
        key = _gg_string(c)
        value = _gg_value(c, _gg_num(c, "I"))
        meta[key] = value
        if key == "general.alignment" and _int(value) and value > 0:
            alignment = value
    infos = [_gg_tensor_info(c) for _ in range(n_tensors)]
    data_start = -(-c.pos // alignment) * alignment
    if data_start > f.size:
        raise IndexError_(f"GGUF data section starts at {data_start}, past the end of the file ({f.size})")
    return TensorIndex("gguf", _gg_tensors(infos, data_start, f.size - data_start), meta)


def _gg_num(c: Cursor, fmt: str):
    return struct.unpack("<" + fmt, c.take(struct.calcsize(fmt)))[0]


def _gg_string(c: Cursor) -> str:
    return c.take(_gg_num(c, "Q")).decode("utf-8", "backslashreplace")


def _gg_value(c: Cursor, vtype: int):
    """A key's value: scalars and strings up to MAX_META_VALUE characters; anything else summarised
    (arrays are skipped over element by element, never held)."""
    if vtype in _SCALAR:
        return diff_json.finite(_gg_num(c, _SCALAR[vtype]))
    if vtype == _STRING:
        n = _gg_num(c, "Q")
        if n > MAX_META_VALUE:
            c.skip(n)
            return f"<string of {n} bytes>"
        return c.take(n).decode("utf-8", "backslashreplace")
    if vtype == _ARRAY:
        etype, count = _gg_num(c, "I"), _gg_num(c, "Q")
        if etype in _SCALAR:
            c.skip(struct.calcsize(_SCALAR[etype]) * count)
        elif etype == _STRING:
            c.skip_strings(count)
        else:
            raise IndexError_(f"GGUF array of value type {etype} is not one this mvc reads")
        return f"<array of {count}>"
    raise IndexError_(f"unknown GGUF value type {vtype}")


def _gg_tensor_info(c: Cursor) -> tuple:
    name = _gg_string(c)
    n_dims = _gg_num(c, "I")
    if n_dims > MAX_DIMS:
        raise IndexError_(f"GGUF tensor {name!r} claims {n_dims} dimensions")
    dims = struct.unpack(f"<{n_dims}Q", c.take(8 * n_dims))
    return name, dims, _gg_num(c, "I"), _gg_num(c, "Q")


def _gg_tensors(infos: list, data_start: int, data_len: int) -> dict:
    """Byte ranges from the type table; a type it does not know spans to the next tensor (found by
    bisection: a scan of every offset per tensor is quadratic in a hostile header's 2^20 tensors)."""
    offsets = sorted({off for *_, off in infos} | {data_len})
    out = {}
    for name, dims, gtype, off in infos:
        known = GGML_TYPES.get(gtype)
        if known:
            dtype, per_block, block_bytes = known
            elems = math.prod(dims)
            if elems % per_block:
                raise IndexError_(f"GGUF tensor {name!r}: {elems} elements are not whole {dtype} blocks")
            nbytes = elems // per_block * block_bytes
        else:
            dtype = f"GGML_TYPE_{gtype}"
            nbytes = offsets[min(bisect.bisect_right(offsets, off), len(offsets) - 1)] - off
        if off > data_len or off + nbytes > data_len:
            raise IndexError_(f"GGUF tensor {name!r} at offset {off} ({nbytes} bytes) runs past the data "
                              f"({data_len} bytes)")
        out[name] = Tensor(name, dtype, tuple(dims), data_start + off, data_start + off + nbytes)
    _no_overlap(out.values(), "GGUF")
    return out
