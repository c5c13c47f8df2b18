"""Content-defined chunking (FastCDC 2020 through pyfastcdc) for large files
that have no tensor index, so an insertion moves only the cuts near it.

Parameters are normative (docs/format.md, "Chunking"): average 1 MiB, minimum
256 KiB, maximum 4 MiB, normalisation level 1, seed 0 (the paper's gear table).
"""
from __future__ import annotations

from pyfastcdc import FastCDC

from .chunkers import Chunker, MiB

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

AVG, MIN, MAX = 1 * MiB, 256 * 1024, 4 * MiB
WINDOW = 8 * MiB  # read window; must be >= MAX so every cut but the last in a window is final


class CdcChunker(Chunker):
    name = "fastcdc-1m"

    def __init__(self, avg: int = AVG, min_size: int = MIN, max_size: int = MAX, window: int = WINDOW):
        assert window >= max_size
        self._cdc = FastCDC(avg, min_size=min_size, max_size=max_size, normalized_chunking=1, seed=0)
        self.window = window

    def chunks(self, f: BinaryIO, size: int) -> Iterator[memoryview]:
        """Cut windows of the file; the last chunk of a window may have been cut
        by the window's end, so it is carried into the next window and re-cut.
        Chunks are memoryviews of immutable window buffers (zero copy)."""
        carry, left = b"", size
        while True:
            # A buffer no larger than what is left (+1 byte to see the end): a
            # zeroed 8 MiB window costs ~4 ms, more than cutting a 2 MiB file.
            want = min(self.window, max(left, 0) + 1)
            buf = bytearray(len(carry) + want)
            buf[:len(carry)] = carry
            view = memoryview(buf)
            n = f.readinto(view[len(carry):])
            left -= n
            total = len(carry) + n
            if not total:
                return
            pieces = [c.data for c in self._cdc.cut_buf(view[:total])]
            if n < want:  # end of file (a regular file reads short only there): everything left is final
                yield from pieces
                return
            yield from pieces[:-1]
            carry = bytes(pieces[-1])


CDC = CdcChunker()
