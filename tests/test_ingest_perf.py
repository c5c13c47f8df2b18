"""Behaviour of the fast paths of ingest and materialise (not their timing):
mapped and ring-buffered span reads, the plain pointer codec, the stat cache's
per-folder preload and deferred rows, and chunk presence inside a batch."""
from __future__ import annotations

import io
import json
import os
import struct
import time

import format2_ref
import pytest

from mvc import canonical
from mvc.errors import IntegrityError
from mvc.store import ingest
from mvc.store.chunkers import SpanFile, TENSOR_PIECE, read_span
from mvc.store.chunks import DirChunkStore, MemoryChunkStore, chunk_id
from mvc.store.ingest import ingest_file, ingest_tree
from mvc.store.materialise import materialise
from mvc.store.pointer import Pointer
from mvc.store.safetensors import SafetensorsChunker
from mvc.store.statcache import StatCache


def _safetensors(path, sizes: list[int]) -> bytes:
    header, off = {}, 0
    for i, n in enumerate(sizes):
        header[f"t{i}"] = {"dtype": "U8", "shape": [n], "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    data = struct.pack("<Q", len(h)) + h + os.urandom(off)
    with open(path, "wb") as f:
        f.write(data)
    t = time.time() - 10
    os.utime(path, (t, t))
    return data


def _expected_ids(data: bytes) -> list[tuple[str, int]]:
    pieces = SafetensorsChunker().chunks(io.BytesIO(data), len(data))
    return [(chunk_id(bytes(p)), len(p)) for p in pieces]


def test_mapped_spans_give_the_normative_cut_and_bytes(tmp_path):
    data = _safetensors(tmp_path / "m.safetensors", [3 * (1 << 20), TENSOR_PIECE + 12345, 700_000, 5])
    store = MemoryChunkStore()
    ptr, new = ingest_file(store, str(tmp_path / "m.safetensors"))
    assert list(ptr.chunks) == _expected_ids(data)
    assert b"".join(store.get(c) for c, _ in ptr.chunks) == data and new == len(data)


def test_ring_buffers_are_reused_but_never_while_a_piece_is_held(tmp_path):
    """Without a mappable file, spans land in reused buffers: a view is intact
    until ``slots`` further reads, which is what ingest relies on."""
    blob = os.urandom(5 * 4096)
    f = SpanFile(io.BufferedReader(io.BytesIO(blob)), slots=3)
    assert f.fd is None
    views = list(read_span(f, len(blob), 4096))
    assert [bytes(v) for v in views[-3:]] == [blob[i * 4096:(i + 1) * 4096] for i in (2, 3, 4)]
    assert bytes(views[0]) != blob[:4096]  # its buffer was reused by the fourth read


def test_mapped_span_of_a_file_that_shrank_ends_early(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(os.urandom(3 * 4096))
    with open(p, "rb") as raw:
        f = SpanFile(raw, slots=2)
        first = f.ring_read(4096)
        os.truncate(p, 5000)
        assert len(f.ring_read(4096)) == 5000 - 4096 and len(f.ring_read(4096)) == 0
        assert len(first) == 4096


@pytest.mark.parametrize("chunks,exe", [((), False), ((("a" * 64, 7),), True),
                                        (tuple((f"{i:064x}", i * 1000) for i in range(1, 6)), False)])
def test_plain_pointer_codec_is_the_canonical_encoding(chunks, exe):
    p = Pointer(size=sum(n for _, n in chunks), digest="blake3:" + "c" * 64, chunks=chunks, executable=exe)
    assert p.encode() == canonical.dumps(p.to_dict())
    assert Pointer.decode(p.encode()) == p
    fresh = Pointer(size=p.size, digest=p.digest, chunks=p.chunks, executable=exe)  # nothing kept yet
    assert Pointer.decode(p.encode()).encode() == fresh.encode() == p.encode()  # what a decode keeps is canonical


def test_plain_pointer_decoder_still_refuses_inconsistent_sizes():
    p = Pointer(size=4000, digest="blake3:" + "a" * 64, chunks=(("b" * 64, 4000),)).encode()
    with pytest.raises(IntegrityError):
        Pointer.decode(p.replace(b",4000]", b",3999]"))
    with pytest.raises(IntegrityError):
        Pointer.decode(p.replace(b'"size":4000', b'"size":04000'))


def _folder(root, n: int) -> None:
    for i in range(n):
        d = root / f"d{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        _write_aged(d / f"f{i}.txt", os.urandom(100 + i))


def _write_aged(path, data: bytes) -> None:
    path.write_bytes(data)
    t = time.time() - 10
    os.utime(path, (t, t))


def test_relog_of_a_folder_loads_the_stat_cache_in_one_query_and_reads_nothing(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _folder(src, 30)
    store, cache = DirChunkStore(str(tmp_path / "store")), StatCache(str(tmp_path / "state.db"))
    first, new = ingest_tree(store, str(src), cache=cache)
    assert new > 0
    reads, queries = [], []
    real = ingest._store_file
    monkeypatch.setattr(ingest, "_store_file", lambda *a: reads.append(a[1]) or real(*a))
    cache._conn().set_trace_callback(lambda sql: queries.append(sql) if sql.startswith("SELECT") else None)
    again, new2 = ingest_tree(store, str(src), cache=cache)
    assert again == first and new2 == 0 and reads == []
    assert len(queries) == 1
    _write_aged(src / "d0" / "f0.txt", b"changed")
    third, _ = ingest_tree(store, str(src), cache=cache)
    assert reads == [str(src / "d0" / "f0.txt")] and dict(third)["d0/f0.txt"] != dict(first)["d0/f0.txt"]


def test_stat_cache_rows_are_written_at_commit_and_dropped_on_rollback(tmp_path):
    p = tmp_path / "a.bin"
    _write_aged(p, b"x" * 100)
    store = MemoryChunkStore()
    cache = StatCache(str(tmp_path / "state.db"))
    ptr, _ = ingest_file(store, str(p), cache=cache)
    assert cache.lookup(str(p), os.stat(p)) == ptr  # visible to this cache before commit
    assert StatCache(str(tmp_path / "state.db")).lookup(str(p), os.stat(p)) is None
    cache.rollback()
    assert cache.lookup(str(p), os.stat(p)) is None
    ingest_file(store, str(p), cache=cache)
    cache.commit()
    assert StatCache(str(tmp_path / "state.db")).lookup(str(p), os.stat(p)) == ptr


def test_missing_sees_a_chunk_deleted_after_the_batch_snapshot(tmp_path):
    src = tmp_path / "src"
    _folder(src, 12)  # >= 8 small chunks: packed
    store = DirChunkStore(str(tmp_path / "store"))
    entries, _ = ingest_tree(store, str(src))
    cids = [c for _, p in entries for c, _ in p.chunks]
    assert store.packs.locate(cids[0]) is not None and store.missing(cids) == []
    with store.batch():
        store.delete(cids[0])
    assert store.missing(cids) == [cids[0]]


def test_materialise_from_mapped_chunks_is_verified(tmp_path):
    data = _safetensors(tmp_path / "m.safetensors", [2 * (1 << 20), 3 * (1 << 20)])
    store = DirChunkStore(str(tmp_path / "store"))
    ptr, _ = ingest_file(store, str(tmp_path / "m.safetensors"))
    out = materialise(store, [("m.safetensors", ptr)], str(tmp_path / "out"))
    assert (tmp_path / "out" / "m.safetensors").read_bytes() == data and out == str(tmp_path / "out")
    victim = store.path(ptr.chunks[1][0])
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:
        f.seek(10)
        f.write(b"\xff")
    with pytest.raises(IntegrityError):
        materialise(store, [("m.safetensors", ptr)], str(tmp_path / "out2"))
    assert not (tmp_path / "out2").exists()


def test_copy_out_copies_by_kernel_and_falls_back_to_a_buffer(tmp_path, monkeypatch):
    data = _safetensors(tmp_path / "m.safetensors", [2 * (1 << 20), 3 * (1 << 20), 5])
    store = DirChunkStore(str(tmp_path / "store"))
    ptr, _ = ingest_file(store, str(tmp_path / "m.safetensors"))
    calls = []
    real = os.copy_file_range
    monkeypatch.setattr(os, "copy_file_range", lambda *a: calls.append(a) or real(*a))
    materialise(store, [("m.safetensors", ptr)], str(tmp_path / "out"))
    assert (tmp_path / "out" / "m.safetensors").read_bytes() == data and len(calls) >= len(ptr.chunks) - 1

    def refuse(*a):
        raise OSError(18, "cross-device")  # EXDEV: the kernel cannot copy between these files
    monkeypatch.setattr(os, "copy_file_range", refuse)
    materialise(store, [("m.safetensors", ptr)], str(tmp_path / "out2"))
    assert (tmp_path / "out2" / "m.safetensors").read_bytes() == data


def test_copy_out_refuses_a_chunk_file_of_the_wrong_size(tmp_path):
    _safetensors(tmp_path / "m.safetensors", [2 * (1 << 20), 3 * (1 << 20)])
    store = DirChunkStore(str(tmp_path / "store"))
    ptr, _ = ingest_file(store, str(tmp_path / "m.safetensors"))
    victim = store.path(ptr.chunks[2][0])
    os.chmod(victim, 0o644)
    with open(victim, "ab") as f:
        f.write(b"x")
    with pytest.raises(IntegrityError, match="pointer says"):
        materialise(store, [("m.safetensors", ptr)], str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_worker_runs_calls_in_order_and_hands_back_errors():
    from mvc.store.worker import Worker
    w, seen = Worker("test-worker"), []
    tasks = [w.submit(seen.append, i) for i in range(50)]
    bad = w.submit(lambda: 1 / 0)
    assert [t.result() for t in tasks] == [None] * 50 and seen == list(range(50))
    with pytest.raises(ZeroDivisionError):
        bad.result()
    w.shutdown(wait=True)
    assert not w.thread.is_alive()


def test_cli_start_does_not_import_concurrent_futures():
    import subprocess
    import sys
    code = ("import sys, mvc.cli.main, mvc.api, mvc.cli.commands.use, mvc.cli.commands.log, mvc.store.ingest;"
            "print(sorted(m for m in ('concurrent.futures', 'logging', 'difflib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_new_tensor_chunks_of_a_batch_are_copied_by_kernel_and_checked(tmp_path, monkeypatch):
    data = _safetensors(tmp_path / "m.safetensors", [2 * (1 << 20), 3 * (1 << 20)])
    store = DirChunkStore(str(tmp_path / "store"))
    calls = []
    real = os.copy_file_range
    monkeypatch.setattr(os, "copy_file_range", lambda *a: calls.append(a[3]) or real(*a))
    (fe_ptr,), _ = ingest_tree(store, str(tmp_path / "m.safetensors"))
    ptr = fe_ptr[1]
    header_len = ptr.chunks[0][1]
    assert calls == [header_len, header_len + 2 * (1 << 20)]  # the two tensor spans, from their file offsets
    assert b"".join(store.get(c) for c, _ in ptr.chunks) == data


def test_kernel_copied_chunk_whose_source_changed_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    _safetensors(path, [2 * (1 << 20)])
    store = DirChunkStore(str(tmp_path / "store"))
    real = os.copy_file_range

    def change_then_copy(src, dst, count, offset):  # the file changes after hashing, before the copy
        os.pwrite(src_w, b"\x00" * 16, offset)
        return real(src, dst, count, offset)
    src_w = os.open(path, os.O_WRONLY)
    monkeypatch.setattr(os, "copy_file_range", change_then_copy)
    try:
        with pytest.raises(IntegrityError, match="written wrong"):
            ingest_tree(store, str(path))
    finally:
        os.close(src_w)
    assert not list(store.ids())


@pytest.mark.parametrize("now", [b"x" * 100, os.urandom(5000), os.urandom(3 << 20)], ids=["shrank", "grew", "grew large"])
def test_small_file_that_changed_after_its_stat_is_stored_as_read(tmp_path, now):
    """A file stat'ed small and changed before it is read: stored as it is when read, whole."""
    p = tmp_path / "f.bin"
    p.write_bytes(os.urandom(1000))
    st = os.stat(p)
    p.write_bytes(now)
    store = DirChunkStore(str(tmp_path / "store"))
    with store.batch():
        ptr, _ = ingest_file(store, str(p), st=st)
    pieces = [store.get(cid) for cid, _ in ptr.chunks]
    assert ptr.size == len(now) and ptr.digest == format2_ref.file_digest(pieces)
    assert b"".join(pieces) == now
    assert (len(ptr.chunks) > 1) == (len(now) > (1 << 20))  # grown large: chunked as a large file
