"""Materialisation modes: byte-identical files; linked files are read-only."""
from __future__ import annotations

import os
import random
import stat
import sys

import pytest

import mvc
from mvc.errors import IntegrityError, InvalidInputError

MODES = ["copy", "hardlink", "auto"]


@pytest.fixture
def logged(project):
    d = project / "model"
    d.mkdir()
    # big.bin must span several chunks: FastCDC cuts random bytes at most every 4 MiB,
    # and fixed bytes keep the cut the same on every run.
    rnd = random.Random(7)
    files = {"small.txt": b"tokenizer" * 10, "big.bin": rnd.randbytes(9 << 20), "one.bin": rnd.randbytes(200_000)}
    for name, data in files.items():
        (d / name).write_bytes(data)
    with mvc.init() as run:
        run.log_model(str(d), name="M")
    return files


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_gives_identical_bytes(project, logged, mode):
    with mvc.init() as run:
        folder = run.use_model("M", root=str(project / f"out-{mode}"), link=mode)
    for name, data in logged.items():
        assert open(os.path.join(folder, name), "rb").read() == data


def test_linked_files_are_read_only(project, logged):
    folder = mvc.Api().artifact("M:v0").download(str(project / "out"), link="hardlink")
    for name in logged:
        path = os.path.join(folder, name)
        assert not os.path.islink(path)
        st = os.stat(path)
        assert not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        assert st.st_nlink >= 2


def test_use_never_writes_a_symlink(project, logged):
    """Issue 11: link='symlink' is refused (a link into the store would dangle once gc trims the
    whole-file cache), before anything is written; the CLI no longer offers it."""
    with pytest.raises(InvalidInputError, match="never writes symlinks") as ei:
        mvc.Api().artifact("M:v0").download(str(project / "out"), link="symlink")
    assert "hardlink" in ei.value.hint and not (project / "out").exists()
    from click.testing import CliRunner
    from mvc.cli import cli
    res = CliRunner().invoke(cli, ["use", "M:v0", "-o", str(project / "out"), "--link", "symlink"])
    assert res.exit_code == 2 and not (project / "out").exists()


def test_hardlink_twice_reuses_the_whole_file(project, logged):
    art = mvc.Api().artifact("M:v0")
    a = art.download(str(project / "a"), link="hardlink")
    b = art.download(str(project / "b"), link="hardlink")
    assert os.stat(os.path.join(a, "big.bin")).st_ino == os.stat(os.path.join(b, "big.bin")).st_ino
    assert os.path.isdir(project / ".mvc" / "files")


def test_copy_is_writable_and_independent(project, logged):
    folder = mvc.Api().artifact("M:v0").download(str(project / "out"))
    path = os.path.join(folder, "one.bin")
    with open(path, "r+b") as f:
        f.write(b"edited")
    mvc.Api().artifact("M:v0").verify()


def test_reflink_works_or_says_why(project, logged):
    art = mvc.Api().artifact("M:v0")
    try:
        folder = art.download(str(project / "out"), link="reflink")
    except InvalidInputError as e:
        assert "reflink" in e.message and "copy" in e.hint
        assert not (project / "out").exists()
    else:
        assert open(os.path.join(folder, "big.bin"), "rb").read() == logged["big.bin"]


def test_unknown_mode_refused(project, logged):
    with pytest.raises(InvalidInputError) as ei:
        mvc.Api().artifact("M:v0").download(str(project / "out"), link="teleport")
    assert "hardlink" in ei.value.hint and not (project / "out").exists()


def test_tampered_whole_file_is_not_linked(project, logged):
    art = mvc.Api().artifact("M:v0")
    art.download(str(project / "a"), link="hardlink")
    files = project / ".mvc" / "files"
    (cached,) = [os.path.join(r, f) for r, _, fs in os.walk(files) for f in fs]
    os.chmod(cached, 0o644)
    with open(cached, "r+b") as f:
        f.write(b"XX")
    folder = art.download(str(project / "b"), link="hardlink")
    assert open(os.path.join(folder, "big.bin"), "rb").read() == logged["big.bin"]


def test_corrupt_chunk_never_reaches_a_link(project, logged):
    from mvc.repo import Repository
    repo = Repository.find(str(project))
    v, _ = repo.resolve("M:v0")
    (ptr,) = [p for n, p in repo.entries(v) if n == "big.bin"]
    cid = ptr.chunks[1][0]
    path = repo.chunks.path(cid)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"XX")
    with pytest.raises(IntegrityError):
        mvc.Api().artifact("M:v0").download(str(project / "out"), link="hardlink")
    assert not (project / "out").exists()


def test_second_hardlink_reads_nothing(project, logged, monkeypatch):
    from mvc.store import linkmodes
    art = mvc.Api().artifact("M:v0")
    art.download(str(project / "a"), link="hardlink")
    hashed = []
    monkeypatch.setattr(linkmodes, "matches", lambda p, ptr: hashed.append(p))
    art.download(str(project / "b"), link="hardlink")
    assert hashed == []  # the stat cache vouches for the whole files (new links change ctime, not mtime)


def _tiles(ranges: list[tuple[int, int]], size: int) -> bool:
    at = 0
    for off, n in ranges:
        if off != at or n <= 0:
            return False
        at += n
    return at == size


@pytest.mark.parametrize("whole", [False, True], ids=["from chunks", "from a whole file"])
def test_large_copy_starts_its_flush_piece_by_piece(project, logged, monkeypatch, whole):
    """A large file's flush is started for each piece as it is written, covering it once, in order."""
    from mvc.store import linkmodes
    art = mvc.Api().artifact("M:v0")
    if whole:
        art.download(str(project / "linked"), link="hardlink")  # builds the whole file the copy then uses
    monkeypatch.setattr(linkmodes, "WRITEBACK_PIECE", 1 << 20)
    started: dict[int, list] = {}
    monkeypatch.setattr(linkmodes, "start_writeback", lambda fd, off, n: started.setdefault(fd, []).append((off, n)))
    folder = art.download(str(project / "out"))
    assert open(os.path.join(folder, "big.bin"), "rb").read() == logged["big.bin"]
    assert len(started) == 1  # one file is large enough; the small ones are left to the kernel
    (ranges,) = started.values()
    assert len(ranges) >= (9 if whole else 2) and _tiles(ranges, 9 << 20)


def test_start_writeback_reaches_the_kernel(tmp_path):
    from mvc import fsutil
    path = tmp_path / "f"
    with open(path, "wb") as f:
        f.write(b"x" * (1 << 20))
        f.flush()
        fsutil.start_writeback(f.fileno(), 0, 1 << 20)
        fsutil.start_writeback(-1, 0, 1)  # a hint: a bad descriptor is ignored, not raised
    if sys.platform.startswith("linux"):
        assert fsutil._sync_file_range[0] is not None
    assert path.read_bytes() == b"x" * (1 << 20)
