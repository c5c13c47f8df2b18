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


def test_progress_waits_a_second_when_not_a_tty():
    s = io.StringIO()
    p = output.Progress("logging", 1000, stream=s)
    p(100)
    assert s.getvalue() == ""
    p.start -= 1.5
    p(100)
    assert s.getvalue().startswith("mvc: logging 200 B / 1000 B (20%), ")
    assert s.getvalue().endswith("B/s\n")
    p.close()
    assert "1000 B (20%)" in s.getvalue().splitlines()[-1]


def test_progress_draws_at_once_on_a_tty_and_ends_the_line():
    s = Tty()
    with output.Progress("fetching", 2048, stream=s) as p:
        p(1024)
    text = s.getvalue()
    assert text.startswith("\r\033[Kmvc: fetching 1.0 KiB / 2.0 KiB (50%)") and text.endswith("\n")


def test_progress_quiet_draws_nothing():
    s = Tty()
    with output.Progress("logging", 10, quiet=True, stream=s) as p:
        p.start -= 5
        p(10)
    assert s.getvalue() == "" and p.done == 10


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


def test_progress_close_does_not_repeat_the_final_line():
    s = io.StringIO()
    p = output.Progress("logging", 100, stream=s)
    p.start -= 2
    p(100)
    p.close()
    assert len(s.getvalue().splitlines()) == 1


def test_a_log_tells_the_meter_its_total_from_its_own_walk(model_dir, tmp_path):
    from mvc.store.chunks import DirChunkStore
    from mvc.store.ingest import ingest_tree
    s = Tty()
    total = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    with output.Progress("logging", None, stream=s) as meter:
        ingest_tree(DirChunkStore(str(tmp_path / "chunks")), str(model_dir), meter)
    assert meter.total == total and meter.done == total
    assert f"/ {output.human_size(total)} (100%)" in s.getvalue()


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
