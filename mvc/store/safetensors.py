"""Tensor-aligned chunking for safetensors files (docs/format.md, "Chunking").

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
(``{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``,
offsets relative to the end of the header), then the tensor bytes.  The cut:

1. the first ``8 + N`` bytes (length and header) are one chunk;
2. each tensor's bytes start a new chunk, from its ``begin`` up to the next
   tensor's ``begin`` (or the end of the file);
3. a span longer than ``TENSOR_PIECE`` is cut every ``TENSOR_PIECE`` bytes from
   its start.

So an unchanged tensor is an unchanged chunk whatever happens to the others.  A
header that does not parse or does not fit the file falls back to FastCDC.
"""
from __future__ import annotations

import json
import struct

from .chunkers import Chunker, read_span

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

MAX_HEADER = 100 << 20  # the reference implementation's own limit


def looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= min(MAX_HEADER, size - 8)


def tensor_starts(header: bytes, data_len: int) -> list[int] | None:
    """Sorted distinct tensor start offsets (relative to the data), or None if
    the header is malformed or its offsets do not fit the data."""
    try:
        index = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(index, dict):
        return None
    starts = set()
    for name, info in index.items():
        if name == "__metadata__":
            continue
        offs = info.get("data_offsets") if isinstance(info, dict) else None
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
                or not 0 <= offs[0] <= offs[1] <= data_len):
            return None
        if offs[0] < offs[1]:
            starts.add(offs[0])
    return sorted(starts | {0}) if data_len else []


class SafetensorsChunker(Chunker):
    name = "safetensors"

    def chunks(self, f: BinaryIO, size: int) -> Iterator[bytes]:
        head = f.read(8)
        (n,) = struct.unpack("<Q", head) if len(head) == 8 else (size,)
        header = f.read(n) if 8 + n <= size and n <= MAX_HEADER else b""
        starts = tensor_starts(header, size - 8 - n) if len(header) == n else None
        if starts is None:
            from .cdc import CDC
            f.seek(0)
            yield from CDC.chunks(f, size)
            return
        yield head + header
        data_len = size - 8 - n
        for begin, end in zip(starts, starts[1:] + [data_len]):
            yield from read_span(f, end - begin)
