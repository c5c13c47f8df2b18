"""CLI output helpers: the progress meter, durations, sizes."""
from __future__ import annotations

import io
import time

import click
import pytest

from mvc.cli import output


class Tty(io.StringIO):
    def isatty(self):
        return True


# The meter itself (drawn only on a terminal, quiet, within a large file): tests/test_progress.py.


def test_parse_since():
    assert abs(output.parse_since("2h") - (time.time() - 7200)) < 5
    assert output.parse_since("2024-05-01") == 1714521600.0
    with pytest.raises(click.BadParameter):
        output.parse_since("last tuesday")


def test_sizes_and_digests():
    assert output.human_size(512) == "512 B"
    assert output.human_size(3 * 1024 * 1024) == "3.0 MiB"
    assert output.short_digest("blake3:0123456789abcdef") == "0123456789ab"
    assert output.short_time("2024-05-01T12:03:04+00:00") == "2024-05-01 12:03"


def test_a_log_tells_the_meter_its_total_from_its_own_walk(model_dir, tmp_path):
    from mvc.store.chunks import DirChunkStore
    from mvc.store.ingest import ingest_tree
    s = Tty()
    total = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    with output.Progress("logging", None, stream=s) as meter:
        ingest_tree(DirChunkStore(str(tmp_path / "chunks")), str(model_dir), meter)
    assert meter.total == total and meter.done == total
    assert "100%" in s.getvalue()


def test_a_use_tells_the_meter_its_total_and_reads_the_pointers_once(project, model_dir, monkeypatch):
    import mvc
    with mvc.init() as run:
        run.log_model(str(model_dir), name="M")
    total = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    with mvc.init() as run:
        reads = []
        files = run._repo.artifacts.files
        monkeypatch.setattr(run._repo.artifacts, "files", lambda tree, *a: reads.append(tree) or files(tree, *a))
        with output.Progress("fetching", None, stream=Tty()) as meter:
            run.use_model("M:v0", root=str(project / "out"), progress=meter)
    assert meter.total == total and meter.done == total
    assert len(reads) == 1  # listing the files and downloading them share one read of the version
