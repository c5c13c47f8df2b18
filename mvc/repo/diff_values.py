"""How much a tensor changed, streamed in bounded blocks (numpy; docs/design.md, "Diff").

For two tensors of the same dtype and shape: bytes that differ, max |a - b|,
the relative L2 norm of the change ||a - b|| / ||a|| and the cosine similarity
a.b / (||a|| ||b||).  Values are widened to float64 ``BLOCK_ELEMENTS`` at a time, so
memory stays at a few MiB whatever the tensor's size; BF16 (which numpy lacks) is
widened by hand: its 16 bits are the top half of a float32.  Quantised and other
types compare as bytes only.
"""
from __future__ import annotations

import math

BLOCK_ELEMENTS = 1 << 16  # per side per step: two float64 arrays of 512 KiB, which stay in the CPU's cache
BYTES_BLOCK = 4 << 20     # per side per step for types compared as bytes

# dtype name (safetensors and GGUF spell these the same) -> numpy dtype; BF16 is handled apart
NUMERIC = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "u1"}


ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
            "U16": 2, "U8": 1, "BOOL": 1}


class Change:
    """Running totals over the blocks of one tensor pair."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.values = dtype in NUMERIC
        self.block = ITEMSIZE[dtype] * BLOCK_ELEMENTS if self.values else BYTES_BLOCK  # bytes per step
        self.bytes_changed = 0
        self.max_abs = 0.0
        self.d2 = self.a2 = self.b2 = 0.0

    def add(self, a: bytes, b: bytes) -> None:
        import numpy as np
        if a == b:  # a memcmp: an unchanged stretch of a changed tensor adds only to the norms
            if self.values:
                x = _widen(a, self.dtype)
                s = float(np.einsum("i,i->", x, x))
                self.a2 += s
                self.b2 += s
            return
        ua, ub = np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8)
        self.bytes_changed += int(np.count_nonzero(ua != ub))
        if self.values and len(a) == len(b):
            self._add_values(_widen(a, self.dtype), _widen(b, self.dtype))

    def _add_values(self, x, y) -> None:
        """Sums of squares, then the difference in place of ``x``: two float64 arrays in all.
        einsum, not np.dot: numpy's BLAS spreads a dot over threads, which made it 5-10x
        slower on a busy 2-core machine (docs/performance.md, "Diff")."""
        import numpy as np
        self.a2 += float(np.einsum("i,i->", x, x))
        self.b2 += float(np.einsum("i,i->", y, y))
        d = np.subtract(x, y, out=x)
        self.d2 += float(np.einsum("i,i->", d, d))
        if d.size:
            m = max(float(d.max()), -float(d.min()))  # max |d| without an abs() copy
            if m > self.max_abs or m != m:  # a NaN, once seen, stays (max() would drop it)
                self.max_abs = m

    def result(self) -> dict:
        """bytes_changed, and (numeric types) max_abs_delta, rel_l2, cosine: each None when undefined
        (a zero norm, or a NaN or infinity among the values)."""
        if not self.values:
            return {"bytes_changed": self.bytes_changed, "max_abs_delta": None, "rel_l2": None, "cosine": None}
        norm_a = math.sqrt(self.a2)
        return {"bytes_changed": self.bytes_changed, "max_abs_delta": _finite(self.max_abs),
                "rel_l2": _finite(math.sqrt(self.d2) / norm_a) if norm_a else None,
                "cosine": _cosine(self.a2, self.b2, self.d2)}


def _widen(data: bytes, dtype: str):
    """The values of ``data`` as float64 (BF16: shifted into the top half of a float32 first)."""
    import numpy as np
    raw = np.frombuffer(data, NUMERIC[dtype])
    if dtype == "BF16":
        raw = (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float64)


def _cosine(a2: float, b2: float, d2: float) -> float | None:
    """a.b / (|a| |b|), with a.b = (|a|^2 + |b|^2 - |a-b|^2) / 2: one sum fewer per block than a
    third dot product, and exact enough in float64 (its error is ~1e-16 of |a| |b|)."""
    if not (a2 and b2):
        return None
    c = _finite((a2 + b2 - d2) / (2 * math.sqrt(a2) * math.sqrt(b2)))
    return None if c is None else max(-1.0, min(1.0, c))  # rounding can step just past +-1


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
