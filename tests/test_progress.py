"""The byte-progress bar (mvc/cli/output.py ``Progress``, drawn by tqdm): it moves within a
large file, it is drawn on stderr only when stderr is a terminal, and -q silences it."""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys

from mvc.cli import output


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_drawn_on_a_terminal_with_bytes_rate_and_time_left():
    s = Tty()
    with output.Progress("fetching", 4 << 20, stream=s) as p:
        p(1 << 20)
        p(3 << 20)
    text = s.getvalue()
    assert "mvc: fetching" in text and "100%" in text and "4.00M/4.00M" in text
    assert "B/s" in text and "<" in text  # the rate and elapsed<left
    assert text.endswith("\n") and p.done == 4 << 20


def test_nothing_drawn_when_not_a_terminal_or_quiet():
    pipe = io.StringIO()
    with output.Progress("logging", 10, stream=pipe) as p:
        p(10)
    assert pipe.getvalue() == "" and p.done == 10 and p.bar is None
    tty = Tty()
    with output.Progress("logging", 10, quiet=True, stream=tty) as p:
        p(10)
    assert tty.getvalue() == "" and p.done == 10


def test_expect_sets_the_total_once():
    s = Tty()
    with output.Progress("logging", None, stream=s) as p:
        p.expect(100)
        p.expect(999)  # a second total (a use told it twice) does not replace the first
        p(100)
    assert p.total == 100 and "100/100" in s.getvalue()


def test_a_large_file_moves_the_meter_chunk_by_chunk(tmp_path):
    from mvc.store.chunks import DirChunkStore
    from mvc.store.ingest import ingest_tree
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "big.bin").write_bytes(os.urandom(12 << 20))
    (folder / "small.txt").write_text("x" * 100)
    calls = []
    expected = []

    class Meter:
        def __call__(self, n):
            calls.append(n)

        def expect(self, total):
            expected.append(total)

    ingest_tree(DirChunkStore(str(tmp_path / "chunks")), str(folder), Meter())
    assert expected == [(12 << 20) + 100]
    assert sum(calls) == (12 << 20) + 100
    assert len(calls) >= 4  # the 12 MiB file told in pieces (chunks of at most 4 MiB), not once
    assert max(calls) <= 4 << 20


def test_the_drawn_bar_moves_within_one_large_file(tmp_path):
    """What a terminal shows while one 12 MiB file is logged: byte counts between 0 and the
    total, not one jump at the file's end (redraw throttling off, so every update is drawn)."""
    import re

    from mvc.store.chunks import DirChunkStore
    from mvc.store.ingest import ingest_tree
    (tmp_path / "big.bin").write_bytes(os.urandom(12 << 20))
    s = Tty()
    with output.Progress("logging", None, stream=s) as meter:
        meter.bar.mininterval, meter.bar.miniters = 0, 0
        ingest_tree(DirChunkStore(str(tmp_path / "chunks")), str(tmp_path / "big.bin"), meter)
    shown = [float(n) for n in re.findall(r"\| ([0-9.]+)M/12\.0M", s.getvalue())]
    assert shown[-1] == 12.0 and len([n for n in shown if 0 < n < 12]) >= 2, s.getvalue()


def _env(quiet: bool = False) -> dict:
    env = dict(os.environ, MVC_SERVER="0")
    env.pop("MVC_SILENT", None)
    if quiet:
        env["MVC_SILENT"] = "1"
    return env


def _log_on_a_pty(project, args) -> tuple[int, str, str]:
    """Run `mvc log` with stderr on a pseudo-terminal (stdout on a pipe); what it drew there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mvc", *args], cwd=str(project), env=_env(),
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    drawn = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out = proc.stdout.read().decode()
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, out, drawn.decode(errors="replace")


def test_cli_draws_the_bar_on_a_terminal(project):
    (project / "big.bin").write_bytes(os.urandom(8 << 20))
    rc, out, drawn = _log_on_a_pty(project, ["log", "big.bin", "--name", "Big"])
    assert rc == 0, drawn
    assert "proj/Big:v0" in out
    assert "mvc: logging" in drawn and "100%" in drawn and "8.00M/8.00M" in drawn and "B/s" in drawn


def test_cli_draws_nothing_on_a_pipe_and_nothing_with_q(project):
    (project / "big.bin").write_bytes(os.urandom(8 << 20))
    res = subprocess.run([sys.executable, "-m", "mvc", "log", "big.bin", "--name", "Big"], cwd=str(project),
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr == ""
    rc, out, drawn = _log_on_a_pty(project, ["-q", "log", "big.bin", "--name", "Big2"])
    assert rc == 0 and "proj/Big2:v0" in out
    assert "mvc: logging" not in drawn and "%" not in drawn
