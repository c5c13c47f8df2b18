"""StoredFile.blocks, the diff's streamed read of tensor bytes (issue 14): chunk files are read
with pread and hashed as they are read, so every byte of each chunk touched, inside the range or
not, must be hashed once and checked against the chunk's id before the iterator ends."""
from __future__ import annotations

import os

import numpy as np
import pytest

import mvc
from mvc.errors import IntegrityError
from mvc.repo.diff_read import StoredFile
from mvc.store.chunks import DirChunkStore, MemoryChunkStore
from test_diff import file_of, log_dir
from test_diff_cli import _big
from reliability_kit import flip_byte

KiB = 1 << 10


def _chunks(store, sizes: list[int]):
    """Loose chunks of random bytes of ``sizes``; returns (pointer chunk list, the file's bytes)."""
    rng = np.random.default_rng(3)
    out, data = [], b""
    for n in sizes:
        piece = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        cid, _ = store.put(piece)
        out.append((cid, n))
        data += piece
    return out, data


def _flip(path: str, at: int) -> None:
    flip_byte(path, at, 0x40)


@pytest.fixture
def dir_store(tmp_path):
    return DirChunkStore(str(tmp_path / "s"))


@pytest.mark.parametrize("start, n, step", [(0, 700 * KiB, 64 * KiB), (1000, 5000, 4096),
                                            (300 * KiB - 7, 20, 8), (123, 700 * KiB - 500, 96 * KiB + 3)])
def test_blocks_give_the_bytes_across_chunk_boundaries(dir_store, start, n, step):
    chunks, data = _chunks(dir_store, [300 * KiB, 250 * KiB, 150 * KiB])
    f = StoredFile(dir_store, chunks, "v0: m")
    pieces = [bytes(p) for p in f.blocks(start, n, step)]
    assert b"".join(pieces) == data[start:start + n]
    assert all(len(p) == step for p in pieces[:-1]) and 0 < len(pieces[-1]) <= step
    touched = {i for i, (_, size) in enumerate(chunks)
               if sum(s for _, s in chunks[:i]) < start + n and sum(s for _, s in chunks[:i + 1]) > start}
    assert f.bytes_read == sum(chunks[i][1] for i in touched)  # whole chunks, each once


@pytest.mark.parametrize("where", ["inside the range", "before the range", "after the range", "last byte"])
def test_a_flipped_byte_anywhere_in_a_touched_chunk_is_caught(dir_store, where):
    """The range is bytes 1000-6000 of one 300 KiB chunk: the bytes around it are hashed too."""
    chunks, _ = _chunks(dir_store, [300 * KiB])
    at = {"inside the range": 3000, "before the range": 10, "after the range": 100 * KiB,
          "last byte": 300 * KiB - 1}[where]
    _flip(dir_store.path(chunks[0][0]), at)
    f = StoredFile(dir_store, chunks, "v0: m")
    got = []
    with pytest.raises(IntegrityError, match=f"chunk {chunks[0][0]} is corrupt"):
        for piece in f.blocks(1000, 5000, 4096):
            got.append(bytes(piece))
    assert sum(map(len, got)) == 5000  # every piece came out: the check is at the end, before the loop ends


def test_a_chunk_file_of_the_wrong_length_is_refused(dir_store):
    chunks, _ = _chunks(dir_store, [200 * KiB])
    path = dir_store.path(chunks[0][0])
    os.chmod(path, 0o644)
    with open(path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(IntegrityError, match="holds 204801 bytes, its pointer says 204800"):
        list(StoredFile(dir_store, chunks, "v0: m").blocks(0, 100, 100))


def test_a_range_past_the_file_is_refused(dir_store):
    chunks, _ = _chunks(dir_store, [200 * KiB])
    with pytest.raises(IntegrityError, match="run past"):
        list(StoredFile(dir_store, chunks, "v0: m").blocks(100 * KiB, 101 * KiB, 4096))


def test_chunks_without_a_file_of_their_own_are_verified_by_the_store():
    store = MemoryChunkStore()
    chunks, data = _chunks(store, [50 * KiB, 70 * KiB])
    f = StoredFile(store, chunks, "v0: m")
    assert b"".join(bytes(p) for p in f.blocks(40 * KiB, 60 * KiB, 7 * KiB)) == data[40 * KiB:100 * KiB]
    store._chunks[chunks[1][0]] = b"\0" * (70 * KiB)  # a bad copy: the store's own check refuses it
    with pytest.raises(IntegrityError, match="corrupt"):
        list(StoredFile(store, chunks, "v0: m").blocks(40 * KiB, 60 * KiB, 7 * KiB))


def test_a_diff_over_a_corrupt_tensor_chunk_raises_and_returns_nothing(project):
    """End to end: the new version's chunk of a changed tensor is damaged in its last byte (the
    byte the diff reads last): Api().diff raises IntegrityError instead of returning figures."""
    log_dir(project, {"m.safetensors": _big(8, set())})
    log_dir(project, {"m.safetensors": _big(8, {5})})
    api = mvc.Api()
    d = api.diff("M:v0", "M:v1")
    assert [t["name"] for t in file_of(d, "m.safetensors")["tensors"]["changed"]] == ["t05"]
    v, _ = api.repo.resolve("M:v1")
    ptr = dict(api.repo.entries(v))["m.safetensors"]
    cid, n = ptr.chunks[1 + 5]  # the header's chunk, then one per tensor
    assert n == 256 * KiB
    _flip(api.repo.chunks.path(cid), n - 1)
    with pytest.raises(IntegrityError, match=f"chunk {cid} is corrupt"):
        api.diff("M:v0", "M:v1")
