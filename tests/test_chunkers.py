"""Chunkers: the cuts are pinned by golden vectors (docs/format.md, "Chunking")."""
from __future__ import annotations

import io
import json
import struct

import blake3
import pytest

from mvc.store.cdc import CDC
from mvc.store.chunkers import SMALL_FILE, TENSOR_PIECE, WholeChunker, select_chunker
from mvc.store.gguf import GgufChunker
from mvc.store.safetensors import SafetensorsChunker

MiB = 1 << 20


def stream(seed: bytes, n: int) -> bytes:
    """Deterministic bytes from BLAKE3's extendable output, the same on every machine."""
    return blake3.blake3(seed).digest(length=n)


def cut(chunker, data: bytes) -> list[bytes]:
    return [bytes(c) for c in chunker.chunks(io.BytesIO(data), len(data))]


def ids(pieces) -> list[str]:
    """Format-2 chunk ids: BLAKE3 of each piece (the blake3 module, not mvc's code)."""
    return [blake3.blake3(p).hexdigest() for p in pieces]


def safetensors(tensors: dict[str, bytes], metadata=None) -> bytes:
    header, offset = {}, 0
    for name, data in tensors.items():
        header[name] = {"dtype": "F16", "shape": [len(data) // 2], "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(tensors.values())


# ---- golden vectors ---------------------------------------------------------
CDC_GOLDEN = [484783, 899897, 698185, 1143934, 1232463, 1311779, 707503, 861488]
CDC_IDS_DIGEST = "da87a3068ac12eb712cc66b2672432d18df3f0e07c2ac8d970c7b9e9b7de46c9"  # BLAKE3 of the joined ids


def test_cdc_golden_vector():
    data = stream(b"mvc-cdc-golden", 7 * MiB)
    pieces = cut(CDC, data)
    assert b"".join(pieces) == data
    assert [len(p) for p in pieces] == CDC_GOLDEN
    assert blake3.blake3("".join(ids(pieces)).encode()).hexdigest() == CDC_IDS_DIGEST


def test_safetensors_golden_vector():
    tensors = {"a": stream(b"a", 1000), "b": stream(b"b", TENSOR_PIECE + 5000), "c": stream(b"c", 2)}
    data = safetensors(tensors, {"format": "pt"})
    pieces = cut(SafetensorsChunker(), data)
    n = struct.unpack("<Q", data[:8])[0]
    assert [len(p) for p in pieces] == [8 + n, 1000, TENSOR_PIECE, 5000, 2]
    assert pieces[1] == tensors["a"] and pieces[4] == tensors["c"]
    assert b"".join(pieces) == data


def test_cuts_do_not_depend_on_read_window():
    from mvc.store.cdc import CdcChunker
    data = stream(b"window", 9 * MiB)
    assert ids(cut(CdcChunker(window=4 * MiB), data)) == ids(cut(CDC, data))


# ---- behaviour ----------------------------------------------------------------
def test_changed_tensor_changes_only_its_chunks():
    tensors = {f"t{i}": stream(bytes([i]), 300_000 + i) for i in range(6)}
    before = ids(cut(SafetensorsChunker(), safetensors(tensors)))
    tensors["t3"] = stream(b"fine-tuned", len(tensors["t3"]))
    after = ids(cut(SafetensorsChunker(), safetensors(tensors)))
    changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
    assert changed == [4]  # chunk 0 is the header (unchanged: same names, shapes, offsets)


def test_insertion_changes_only_nearby_chunks():
    data = stream(b"insert", 12 * MiB)
    edited = data[:6 * MiB] + b"inserted bytes" * 10 + data[6 * MiB:]
    before, after = set(ids(cut(CDC, data))), ids(cut(CDC, edited))
    fresh = [c for c in after if c not in before]
    assert 1 <= len(fresh) <= 2, fresh
    assert len(after) >= 8


@pytest.mark.parametrize("damage", ["json", "offsets", "length", "not-dict"])
def test_malformed_safetensors_header_falls_back_to_cdc(damage):
    good = safetensors({"a": stream(b"a", 2 * MiB)})
    n = struct.unpack("<Q", good[:8])[0]
    if damage == "json":
        data = good[:8] + b"{" + b"x" * (n - 1) + good[8 + n:]
    elif damage == "offsets":
        h = json.dumps({"a": {"dtype": "F16", "shape": [1], "data_offsets": [0, 10 * MiB]}}).encode().ljust(n)
        data = good[:8] + h + good[8 + n:]
    elif damage == "length":
        data = struct.pack("<Q", len(good)) + good[8:]
    else:
        data = good[:8] + b"[1]".ljust(n) + good[8 + n:]
    pieces = cut(SafetensorsChunker(), data)
    assert b"".join(pieces) == data
    assert ids(pieces) == ids(cut(CDC, data))


def gguf(tensors: list[bytes], alignment: int = 32) -> bytes:
    def s(b: bytes) -> bytes:
        return struct.pack("<Q", len(b)) + b
    kv = s(b"general.alignment") + struct.pack("<I", 4) + struct.pack("<I", alignment)
    kv += s(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + s(b"hi") + s(b"yo")
    infos, off = b"", 0
    for i, t in enumerate(tensors):
        infos += s(f"t{i}".encode()) + struct.pack("<I", 1) + struct.pack("<Q", len(t)) + struct.pack("<I", 0)
        infos += struct.pack("<Q", off)
        off += len(t) + (-len(t) % alignment)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 2) + kv + infos
    head += b"\0" * (-len(head) % alignment)
    return head + b"".join(t + b"\0" * (-len(t) % alignment) for t in tensors), len(head)


def test_gguf_cuts_on_tensors():
    tensors = [stream(b"g0", 100_000), stream(b"g1", 1_500_000)]
    data, head_len = gguf(tensors)
    assert isinstance(select_chunker("m.gguf", len(data), data[:65536]), GgufChunker)
    pieces = cut(GgufChunker(), data)
    assert b"".join(pieces) == data
    assert len(pieces[0]) == head_len and pieces[1].startswith(tensors[0]) and pieces[2] == tensors[1]


def test_truncated_gguf_falls_back_to_cdc():
    data, head_len = gguf([stream(b"g0", 2 * MiB)])
    data = data[:40] + stream(b"junk", 2 * MiB)
    assert ids(cut(GgufChunker(), data)) == ids(cut(CDC, data))


def test_selection():
    st = safetensors({"a": stream(b"a", 2 * MiB)})
    assert isinstance(select_chunker("x", SMALL_FILE, b"anything"), WholeChunker)
    assert isinstance(select_chunker("x", len(st), st[:65536]), SafetensorsChunker)
    assert select_chunker("x", 5 * MiB, b"\x00" * 100) is CDC
    assert cut(WholeChunker(), b"") == [] and cut(WholeChunker(), b"abc") == [b"abc"]
