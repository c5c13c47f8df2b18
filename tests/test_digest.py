"""Format 2's content ids (docs/format.md, "Pointer blobs"): chunk ids are BLAKE3 of the chunk,
a file's digest is composed from its chunk ids.  Golden values are literal hex computed once
with the `blake3` module (never with mvc's code); tests/format2_ref.py is the same definition
written from the spec.  Also: what a log records equals `mvc hash`, a planted chunk is never
kept by a log nor materialised, and each byte is hashed once on use."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import blake3
import format2_ref
import pytest

import mvc
from mvc.errors import IntegrityError
from mvc.store import digest
from mvc.store.chunkers import TENSOR_PIECE

ABC_ID = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"  # BLAKE3("abc"), the spec's vector
EMPTY_FILE = "blake3:e69cb6ffa8dba7196e93acedc484d4929debc46a8465bdfa8db4ac1f2dbe4df2"
ABC_FILE_BODY = bytes.fromhex("6d76632d66696c652d763200" + ABC_ID + "0300000000000000")
ABC_FILE = "blake3:663cdfee1800ee3234d4445fe08a80f3b089efe3d0d790b17b1794b89563f240"
TWO_IDS = ("955ddfbf1efade57480fbf6019f3ab768198a04a85e5bae4cf2d1ee04f03e18b",   # b"hello "
           "26e70f0a438787ee143979a9b519a4a330ea21e0a23d31fcb47051e70b8fe5ad")   # b"world\n"
TWO_FILE = "blake3:fbfc2eb886d2e446351cc5230c836d479c12a4cfc4b4d2fecbccd227ac47a948"
MVC = [os.path.join(os.path.dirname(sys.executable), "mvc")]


# ---- golden vectors -----------------------------------------------------------
def test_chunk_id_golden():
    assert digest.chunk_id(b"abc") == ABC_ID == format2_ref.chunk_id(b"abc")
    assert [digest.chunk_id(b"hello "), digest.chunk_id(b"world\n")] == list(TWO_IDS)
    big = blake3.blake3(b"big").digest(length=TENSOR_PIECE + 3)  # hashed on every core: the same id
    assert digest.chunk_id(big) == blake3.blake3(big).hexdigest()


def test_file_digest_golden():
    assert ABC_FILE_BODY[:12] == b"mvc-file-v2\x00" and ABC_FILE_BODY[-8:] == struct.pack("<Q", 3)
    assert "blake3:" + blake3.blake3(ABC_FILE_BODY).hexdigest() == ABC_FILE
    assert digest.file_digest([(ABC_ID, 3)]) == ABC_FILE == format2_ref.whole(b"abc")
    assert digest.file_digest([]) == EMPTY_FILE == format2_ref.whole(b"")
    assert digest.file_digest([(TWO_IDS[0], 6), (TWO_IDS[1], 6)]) == TWO_FILE
    assert format2_ref.file_digest([b"hello ", b"world\n"]) == TWO_FILE
    assert digest.file_digest([(TWO_IDS[1], 6), (TWO_IDS[0], 6)]) != TWO_FILE  # order counts
    assert digest.file_digest([(TWO_IDS[0], 7), (TWO_IDS[1], 5)]) != TWO_FILE  # so do lengths


def test_hash_file_golden(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    assert digest.hash_file(str(tmp_path / "abc")) == (ABC_FILE, 3)
    assert digest.hash_file(str(tmp_path / "empty")) == (EMPTY_FILE, 0)


# ---- what a log records is what `mvc hash` says -------------------------------
def _safetensors(sizes: list[int], seed: bytes) -> bytes:
    header, off = {}, 0
    for i, n in enumerate(sizes):
        header[f"t{i}"] = {"dtype": "U8", "shape": [n], "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blake3.blake3(seed).digest(length=off)


@pytest.fixture
def folder(project):
    d = project / "model"
    (d / "sub").mkdir(parents=True)
    (d / "empty.txt").write_bytes(b"")
    (d / "config.json").write_bytes(b'{"a": 1}')
    (d / "one-mib.bin").write_bytes(os.urandom(1 << 20))                  # the largest one-chunk file
    (d / "sub" / "cdc.bin").write_bytes(os.urandom(3 << 20))              # FastCDC
    (d / "sub" / "w.safetensors").write_bytes(_safetensors([5000, TENSOR_PIECE + 7, 300], b"w"))  # > 16 MiB
    return d


def _pieces(repo, ptr) -> list[bytes]:
    return [repo.chunks.get(cid) for cid, _ in ptr.chunks]


def test_log_records_what_hash_file_and_the_spec_say(folder):
    with mvc.init() as run:
        art = run.log_model(str(folder), name="M")
    api = mvc.Api()
    repo = api.repo
    v, _ = repo.resolve("proj/M:v0")
    entries = repo.entries(v)
    assert len(entries) == 5
    for path, ptr in entries:
        assert (ptr.digest, ptr.size) == mvc.hash_file(folder / path), path
        assert ptr.digest == format2_ref.file_digest(_pieces(repo, ptr)), path        # the spec, independently
        assert [c for c, _ in ptr.chunks] == [format2_ref.chunk_id(p) for p in _pieces(repo, ptr)]
        assert b"".join(_pieces(repo, ptr)) == (folder / path).read_bytes()
    h = mvc.hash_folder(folder)
    assert h.digest == art.digest == v.record["digest"]
    assert h.files == sorted((p, ptr.digest, ptr.size) for p, ptr in entries)
    assert h.size == v.record["size"]


def test_hash_command_matches_the_logged_version(folder, project):
    env = dict(os.environ, MVC_SERVER="0")
    out = subprocess.run(MVC + ["-q", "log", str(folder), "--name", "M", "--json"], capture_output=True, text=True,
                         env=env, check=True)
    logged = json.loads(out.stdout)
    out = subprocess.run(MVC + ["hash", str(folder), "--json"], capture_output=True, text=True, env=env, check=True)
    hashed = json.loads(out.stdout)
    assert hashed["digest"] == logged["digest"] and hashed["size"] == logged["size"]
    show = json.loads(subprocess.run(MVC + ["show", "M:v0", "--json"], capture_output=True, text=True, env=env,
                                     check=True).stdout)
    assert {(f["path"], f["digest"], f["size"]) for f in show["files"]} == \
        {(f["path"], f["digest"], f["size"]) for f in hashed["files"]}
    text = subprocess.run(MVC + ["hash", str(folder)], capture_output=True, text=True, env=env, check=True).stdout
    assert text.splitlines()[-1].startswith(f"artifact {logged['digest']}  {logged['size']}  5 files")
    one = folder / "sub" / "w.safetensors"
    line = subprocess.run(MVC + ["hash", str(one)], capture_output=True, text=True, env=env, check=True).stdout
    assert line == f"{mvc.hash_file(one)[0]}  {one.stat().st_size}  {one}\n"


def test_hash_file_refuses_a_folder(folder):
    with pytest.raises(mvc.InvalidInputError, match="folder"):
        mvc.hash_file(folder)


# ---- a planted chunk is never kept, never materialised --------------------------
def _plant(store_path: str, cid: str, data: bytes) -> str:
    path = os.path.join(store_path, "chunks", cid[:2], cid[2:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o644)
        os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o444)
    return path


@pytest.mark.parametrize("size", [300_000, 5 << 20], ids=["one chunk", "chunked"])
@pytest.mark.parametrize("other", ["same length", "other length"])
def test_planted_chunk_is_written_over_by_the_log(project, size, other):
    """Bytes planted under the BLAKE3 id of bytes a user is about to log: the log's dedup
    does not take them for the real ones; it writes the right bytes, and use delivers them."""
    src = project / "w.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    first = data[:size] if size <= 1 << 20 else None
    repo = mvc.Api(create=True).repo
    if first is None:  # the first chunk as the log will cut it
        first = _pieces_of(src)[0]
    cid = format2_ref.chunk_id(first)
    planted = bytes(b ^ 0xFF for b in first) if other == "same length" else first[:-1]
    path = _plant(repo.path, cid, planted)
    with mvc.init() as run:
        run.log_model(str(src), name="M")
    assert open(path, "rb").read() == first                  # the log wrote the right bytes over the plant
    out = mvc.Api().artifact("M:v0").download(str(project / "out"))
    assert (project / "out" / "w.bin").read_bytes() == data
    assert out


def _pieces_of(path) -> list[bytes]:
    from mvc.store.chunkers import select_chunker
    data = path.read_bytes()
    import io
    return [bytes(p) for p in select_chunker(str(path), len(data), data[:65536]).chunks(io.BytesIO(data), len(data))]


def test_chunk_replaced_after_it_was_vouched_for_is_checked_again(project):
    """A chunk the store wrote (and vouched for) that is later replaced by other bytes (a new
    file: new inode and mtime) is read and checked by the next log that dedups against it."""
    data = os.urandom(400_000)
    (project / "a.bin").write_bytes(data)
    with mvc.init() as run:
        run.log_model(str(project / "a.bin"), name="A")
    repo = mvc.Api().repo
    cid = format2_ref.chunk_id(data)
    path = _plant(repo.path, cid, os.urandom(len(data)))
    with pytest.raises(IntegrityError):                        # use never delivers the planted bytes
        mvc.Api().artifact("A:v0").download(str(project / "bad"))
    assert not (project / "bad").exists()
    (project / "b.bin").write_bytes(data)                      # the same bytes logged again elsewhere
    with mvc.init() as run:
        run.log_model(str(project / "b.bin"), name="B")
    assert open(path, "rb").read() == data                     # written back by the log
    mvc.Api().artifact("A:v0").download(str(project / "good"))
    assert (project / "good" / "a.bin").read_bytes() == data


def test_planted_packed_chunk_is_not_kept(project):
    """Small chunks live in packs: a pack copy with other bytes is not taken for the real one
    either; the log writes a loose copy, which every read finds before the pack."""
    files = {f"f{i}.txt": os.urandom(2000) for i in range(10)}
    d = project / "small"
    d.mkdir()
    for n, b in files.items():
        (d / n).write_bytes(b)
    repo = mvc.Api(create=True).repo
    with mvc.init() as run:
        run.log_model(str(d), name="S")
    pack = next(p for p in os.listdir(os.path.join(repo.path, "packs")) if p.endswith(".pack"))
    pack_path = os.path.join(repo.path, "packs", pack)
    os.chmod(pack_path, 0o644)
    blob = bytearray(open(pack_path, "rb").read())
    blob[0] ^= 0xFF                                            # the first chunk's bytes, in the pack
    open(pack_path, "wb").write(bytes(blob))
    d2 = project / "copy"
    d2.mkdir()
    for n, b in files.items():
        (d2 / n).write_bytes(b)
    with mvc.init() as run:
        run.log_model(str(d2), name="S2")
    for name in ("S", "S2"):
        out = project / f"out-{name}"
        mvc.Api().artifact(f"{name}:v0").download(str(out))
        assert {n: (out / n).read_bytes() for n in files} == files


# ---- each byte is hashed once on use, once on a log of known bytes ------------------
class _Counting:
    def __init__(self, real, tally):
        self.real, self.tally = real, tally

    def update(self, data):
        self.tally.append(memoryview(data).nbytes)
        self.real.update(data)

    def hexdigest(self):
        return self.real.hexdigest()


@pytest.fixture
def hashed(monkeypatch):
    """Bytes BLAKE3 hashed over chunk and file contents (digest._hasher is the one way in)."""
    tally: list[int] = []
    real = digest._hasher
    monkeypatch.setattr(digest, "_hasher", lambda size: _Counting(real(size), tally))
    return tally


@pytest.mark.parametrize("link", ["copy", "hardlink"])
def test_use_hashes_each_byte_once(folder, project, hashed, link):
    with mvc.init() as run:
        run.log_model(str(folder), name="M")
    size = mvc.hash_folder(folder).size
    hashed.clear()
    mvc.Api().artifact("M:v0").download(str(project / "out"), link=link)
    if link == "copy":
        assert sum(hashed) == size
    else:  # a one-chunk file's whole file is its loose chunk, which the log checked and vouched for
        assert sum(hashed) == size - (1 << 20) - len(b'{"a": 1}')
    if link == "hardlink":                                     # the whole files are built: later uses read nothing
        hashed.clear()
        mvc.Api().artifact("M:v0").download(str(project / "out2"), link=link)
        assert sum(hashed) == 0


def test_log_hashes_each_byte_once_plus_the_write_check_of_new_bytes(folder, project, hashed):
    size = mvc.hash_folder(folder).size
    hashed.clear()
    with mvc.init() as run:
        run.log_model(str(folder), name="M")
    assert sum(hashed) == 2 * size        # the id of every chunk, and the write check of each new one
    copy = project / "copy"
    os.rename(folder, copy)               # the same bytes at a new path: no stat-cache hit, every chunk known
    hashed.clear()
    with mvc.init() as run:
        run.log_model(str(copy), name="M")
    assert sum(hashed) == size            # dedup trusts the chunks it vouched for: nothing is read twice


# ---- a chunk list edited under a sound digest is refused before any write ----------------
def test_chunk_list_that_does_not_compose_is_refused_before_any_write(tmp_path):
    from mvc.repo.repository import artifact_digest, check_digest
    from mvc.store import MemoryChunkStore, Pointer
    from mvc.store.materialise import materialise
    store = MemoryChunkStore()
    a, b = os.urandom(1000), os.urandom(2000)
    ca, cb = store.put(a)[0], store.put(b)[0]
    good = Pointer(size=3000, digest=format2_ref.file_digest([a, b]), chunks=((ca, 1000), (cb, 2000)))
    swapped = Pointer(size=3000, digest=good.digest, chunks=((cb, 2000), (ca, 1000)))  # same bytes, other order
    materialise(store, [("f.bin", good)], str(tmp_path / "ok"))
    assert (tmp_path / "ok" / "f.bin").read_bytes() == a + b
    with pytest.raises(IntegrityError, match="'f.bin'.*does not compose") as ei:
        materialise(store, [("ok.txt", good), ("f.bin", swapped)], str(tmp_path / "bad"), "p/M:v0")
    assert "p/M:v0" in str(ei.value) and "fsck" in ei.value.hint
    assert not (tmp_path / "bad").exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".")]
    entries = [("f.bin", swapped)]
    with pytest.raises(IntegrityError, match="'f.bin'.*does not compose"):  # use, verify and fsck's check
        check_digest("p/M:v0", {"digest": artifact_digest(entries)}, entries)
