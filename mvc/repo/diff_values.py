"""How much a tensor changed, streamed in bounded blocks (docs/design.md, "Diff").

For two tensors of the same dtype and shape: bytes that differ, max |a - b|,
the relative L2 norm of the change ||a - b|| / ||a|| and the cosine similarity
a.b / (||a|| ||b||).  Values are widened to float64 ``BLOCK_ELEMENTS`` at a time, so
memory stays at a few MiB whatever the tensor's size.  F32, F16 and BF16 blocks go through
a compiled one-pass kernel (mvc/repo/_diffkernel.c) where it was built; every other numeric
type, and all of them without the kernel, through numpy (BF16, which numpy lacks, is widened
by hand: its 16 bits are the top half of a float32).  Quantised and other types compare as
bytes only.
"""
from __future__ import annotations

import math
import sys

BLOCK_ELEMENTS = 1 << 15  # per side per step: float64 arrays of 256 KiB, which stay in the CPU's cache
KERNEL_BLOCK_ELEMENTS = 1 << 17  # per side per step through the kernel, which keeps no arrays: 20% faster than 32 Ki
DOT_ROW = 8192  # float64 elements per BLAS dot (see _sum_squares); BLOCK_ELEMENTS is a multiple
BYTES_BLOCK = 256 << 10   # per side per step for types compared as bytes

# dtype name (safetensors and GGUF spell these the same) -> numpy dtype; BF16 is handled apart
NUMERIC = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "u1"}


ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
            "U16": 2, "U8": 1, "BOOL": 1}


class Change:
    """Running totals over the blocks of one tensor pair.  A reader puts each block's bytes
    straight into ``sides`` (side a's, then side b's: one buffer, made once per tensor, since a
    fresh array per block cost page faults: docs/performance.md, "Diff"); each block is compared
    in one pass by the compiled kernel (mvc/repo/_diffkernel.c) where it is built and the dtype is
    a float it knows, else by numpy (``_NumpyBlocks``).  Both give a block's totals: bytes
    changed, the sums of a*a, b*b and (a-b)^2, and max |a-b|."""

    def __init__(self, dtype: str):
        import numpy as np
        self.dtype = dtype
        self.values = dtype in NUMERIC
        kernel = _kernel()
        self._kind = KERNEL_KINDS.get(dtype) if kernel else None
        elements = BLOCK_ELEMENTS if self._kind is None else KERNEL_BLOCK_ELEMENTS
        self.block = ITEMSIZE[dtype] * elements if self.values else BYTES_BLOCK  # bytes per step
        self.bytes_changed = 0
        self.max_abs = 0.0
        self.d2 = self.a2 = self.b2 = 0.0
        self._raw = np.empty(2 * self.block, np.uint8)
        view = memoryview(self._raw)
        self.sides = (view[:self.block], view[self.block:])  # where a reader puts each side's block
        self._compare = kernel.compare if self._kind is not None else None
        self._numpy = None if self._compare else _NumpyBlocks(dtype, self._raw, self.block)

    def add_sides(self, n: int) -> None:
        """The block of ``n`` bytes a reader has put in each of ``sides``."""
        a, b = self.sides[0][:n], self.sides[1][:n]
        if self._compare:
            self._merge(self._compare(self._kind, a, b), a, b)
        else:
            self._merge(self._numpy.sides(n) if n == self.block else self._numpy.compare(a, b), a, b)

    def add(self, a, b) -> None:
        """One block of each side (equal lengths, at most ``self.block`` bytes; any buffer)."""
        if self._compare and len(a) % ITEMSIZE[self.dtype] == 0:
            self._merge(self._compare(self._kind, a, b), a, b)
        elif self._compare:  # a torn last element (never from a checked header): bytes only
            self.bytes_changed += count_changed(a, b)
        else:
            self._merge(self._numpy.compare(a, b), a, b)

    def _merge(self, totals, a, b) -> None:
        changed, a2, b2, d2, m = totals
        self.bytes_changed += changed
        if a2 is None:
            return
        if d2 != d2:  # a NaN difference: perhaps NaN (or an infinity) in the same place on both sides
            d2, m = _masked_delta(self.dtype, a, b)
        self.a2 += a2
        self.b2 += b2
        self.d2 += d2
        if m > self.max_abs or m != m:  # a NaN, once seen, stays (max() would drop it)
            self.max_abs = m

    def result(self) -> dict:
        """bytes_changed, and (numeric types) max_abs_delta, rel_l2, cosine: each None when undefined
        (a zero norm, or a NaN or infinity among the values; max_abs_delta only among the elements
        that changed)."""
        if not self.values:
            return {"bytes_changed": self.bytes_changed, "max_abs_delta": None, "rel_l2": None, "cosine": None}
        norm_a = math.sqrt(self.a2)
        return {"bytes_changed": self.bytes_changed, "max_abs_delta": _finite(self.max_abs),
                "rel_l2": _finite(math.sqrt(self.d2) / norm_a) if norm_a else None,
                "cosine": _cosine(self.a2, self.b2, self.d2)}


class _NumpyBlocks:
    """A block's totals by numpy, where the kernel is not built (or for a dtype it does not know):
    values widened to float64 in arrays made once per tensor; a full block's two sides, adjacent
    in ``raw``, take one numpy call per step for both (XOR, widen, sums of squares)."""

    def __init__(self, dtype: str, raw, block: int):
        import numpy as np
        self.dtype = dtype
        self.values = dtype in NUMERIC
        self._xor = np.empty(block, np.uint8)
        self._raw = raw
        words = raw.view(_WORDS[0])
        half = len(words) // 2
        self._words = (words[:half], words[half:], self._xor.view(_WORDS[0]))
        self._sides = (memoryview(raw)[:block], memoryview(raw)[block:])
        if self.values:
            elements = block // ITEMSIZE[dtype]
            self._z = np.empty(2 * elements)  # both sides' values: x then y
            self._x, self._y = self._z[:elements], self._z[elements:]
            self._z_rows = self._z.reshape(-1, DOT_ROW)
            self._x_rows = self._x.reshape(-1, DOT_ROW)
            # BF16 -> float32 by writing its 16 bits into the top half of each zeroed 32-bit word
            self._bf16 = np.zeros(4 * elements, np.uint16) if dtype == "BF16" else None

    def sides(self, n: int) -> tuple:
        """The totals of the full block in ``raw``'s two halves."""
        import numpy as np
        wa, wb, wx = self._words
        np.bitwise_xor(wa, wb, out=wx)
        changed = int(np.count_nonzero(self._xor))
        if not self.values:
            return changed, None, None, None, None
        if not changed:
            s = _sum_squares(self._widen(self._sides[0], self._x))
            return 0, s, s, 0.0, 0.0
        self._widen(self._raw, self._z)  # both sides at once: side a's values, then side b's
        sums = _row_dots(self._z_rows).tolist()
        d = np.subtract(self._x, self._y, out=self._x)
        return (changed, math.fsum(sums[:len(sums) // 2]), math.fsum(sums[len(sums) // 2:]),
                math.fsum(_row_dots(self._x_rows).tolist()), _max_abs(d))

    def compare(self, a, b) -> tuple:
        """The totals of one block of each side (any buffers, equal lengths)."""
        import numpy as np
        changed = count_changed(a, b, self._xor)
        if not self.values or len(a) % ITEMSIZE[self.dtype]:
            return changed, None, None, None, None
        x = self._widen(a, self._x)
        if not changed:
            s = _sum_squares(x)
            return 0, s, s, 0.0, 0.0
        y = self._widen(b, self._y)
        a2, b2 = _sum_squares(x), _sum_squares(y)
        d = np.subtract(x, y, out=x)
        return changed, a2, b2, _sum_squares(d), _max_abs(d)

    def _widen(self, data, out):
        """The values of ``data`` as float64, in ``out`` (its first len(data) / itemsize elements)."""
        return _widen(self.dtype, data, out, self._bf16)


def count_changed(a, b, scratch=None) -> int:
    """Bytes that differ: XOR as the widest words the length allows (into ``scratch``, at least
    len(a) bytes, if given), then count the nonzero bytes of the result (one pass each, no
    boolean array)."""
    import numpy as np
    n = len(a)
    words = _WORDS[n & 7]
    out = (scratch if scratch is not None else np.empty(n, np.uint8))[:n]
    np.bitwise_xor(np.frombuffer(a, words), np.frombuffer(b, words), out=out.view(words))
    return int(np.count_nonzero(out))


def _widen(dtype: str, data, out, bf16_scratch=None):
    import numpy as np
    raw = np.frombuffer(data, NUMERIC[dtype])
    dst = out[:len(raw)]
    if dtype == "BF16":
        if _LITTLE and bf16_scratch is not None:
            wide = bf16_scratch[:2 * len(raw)]
            wide[1::2] = raw
            np.copyto(dst, wide.view(np.float32))
        else:
            np.copyto(dst, (raw.astype(np.uint32) << 16).view(np.float32))
    else:
        np.copyto(dst, raw, casting="unsafe")
    return dst


def _max_abs(d) -> float:
    """max |d| without an abs() copy; NaN if d holds one."""
    import numpy as np
    return max(float(np.maximum.reduce(d)), -float(np.minimum.reduce(d))) if d.size else 0.0


def _masked_delta(dtype: str, a, b) -> tuple[float, float]:
    """sum (a-b)^2 and max |a-b| of a block whose differences hold a NaN, counting an element
    whose bytes are the same on both sides as no change (a NaN or an infinity left where it was
    is not a change); rare, so numpy with fresh arrays."""
    import numpy as np
    n = len(a) // ITEMSIZE[dtype]
    x, y = _widen(dtype, a, np.empty(n)), _widen(dtype, b, np.empty(n))
    same = np.frombuffer(a, f"u{ITEMSIZE[dtype]}") == np.frombuffer(b, f"u{ITEMSIZE[dtype]}")
    with np.errstate(invalid="ignore"):
        d = np.where(same, 0.0, x - y)
    return _sum_squares(d), _max_abs(d)


def _kernel():
    """The compiled kernel module, or None where it was not built (no C compiler at install)
    or the machine is big-endian (it reads little-endian elements)."""
    global _KERNEL
    if _KERNEL is False:
        try:
            from . import _diffkernel as kernel
        except ImportError:
            kernel = None
        _KERNEL = kernel if _LITTLE else None
    return _KERNEL


_KERNEL = False  # not looked for yet
KERNEL_KINDS = {"F32": 0, "F16": 1, "BF16": 2}  # dtypes the kernel compares (its element kinds)


_LITTLE = sys.byteorder == "little"
_WORDS = {r: f"u{next(w for w in (8, 4, 2, 1) if r % w == 0)}" for r in range(8)}  # len % 8 -> widest XOR word


def _sum_squares(v) -> float:
    """v . v in float64, as BLAS dots of ``DOT_ROW`` elements each (one call for all of them):
    3x faster than einsum.  Not one dot of the whole block: OpenBLAS spreads a dot of over
    10,000 elements over its threads, which made it 5-10x slower on a busy 2-core machine;
    one this short stays on the calling thread (docs/performance.md, "Diff")."""
    import numpy as np
    n = len(v) - len(v) % DOT_ROW
    total = math.fsum(_row_dots(v[:n].reshape(-1, DOT_ROW)).tolist()) if n else 0.0
    if n < len(v):
        total += float(np.dot(v[n:], v[n:]))
    return total


def _row_dots(m):
    """The dot of each row of ``m`` with itself (np.vecdot from numpy 2; a stacked matmul before)."""
    import numpy as np
    if hasattr(np, "vecdot"):
        return np.vecdot(m, m)
    return np.matmul(m[:, None, :], m[:, :, None])


def _cosine(a2: float, b2: float, d2: float) -> float | None:
    """a.b / (|a| |b|), with a.b = (|a|^2 + |b|^2 - |a-b|^2) / 2: one sum fewer per block than a
    third dot product, and exact enough in float64 (its error is ~1e-16 of |a| |b|)."""
    if not (a2 and b2):
        return None
    c = _finite((a2 + b2 - d2) / (2 * math.sqrt(a2) * math.sqrt(b2)))
    return None if c is None else max(-1.0, min(1.0, c))  # rounding can step just past +-1


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
