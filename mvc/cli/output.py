"""Printing for the CLI: tables (tabulate, imported when used), JSON, sizes,
times, and the byte-progress bar on stderr (tqdm, imported only on a terminal)."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from mvc import durations
from mvc import text as _text


def write(text: str, err: bool = False) -> None:
    """``text`` and a line end on stdout (stderr if ``err``), flushed: what click.echo does with a
    str, without importing click, so that `mvc ls` can print without it (mvc/cli/launch.py)."""
    stream = sys.stderr if err else sys.stdout
    if stream is not None:
        stream.write(f"{text}\n")
        stream.flush()


def emit_json(obj) -> None:
    """Stable JSON on stdout: sorted keys, two-space indent, ASCII only (every control character,
    U+2028/U+2029 and lone surrogate is a \\u escape, so no raw one reaches the terminal)."""
    write(json.dumps(obj, indent=2, sort_keys=True, default=str, ensure_ascii=True))


counted = _text.counted  # ``1 file``, ``2 files``: the same words as the web page's


def safe(text) -> str:
    """``text`` (anything; str() of it) with every control or format character escaped as Python
    writes it (\\n, \\x1b, \\u2028, \\u202e): text from the store can neither fake a line of output
    nor send the terminal a control sequence.  Every human-readable line mvc prints goes through
    it (``echo``, ``table``, the error boundary); --json output is escaped by emit_json."""
    return _text.escaped(text)


def echo(line="", err: bool = False) -> None:
    """Print one line of human-readable output (escaped with ``safe``)."""
    write(safe(line), err=err)


def echo_block(text: str, err: bool = False) -> None:
    """Print a message whose only line breaks are its own continuation lines ("\\n  ": an error and
    the list of bad files, an fsck problem and its fix), escaped with ``safe``: a line break in
    text it quotes is printed as \\n, so the quote cannot fake a line."""
    write("\n  ".join(safe(part) for part in str(text).split("\n  ")), err=err)


def table(rows: list[list], headers: list[str], empty: str = "(none)") -> None:
    if not rows:
        echo(empty)
        return
    rows = [[safe(c) if isinstance(c, str) else c for c in row] for row in rows]
    text = _plain(rows, headers)
    if text is None:
        from tabulate import tabulate
        text = tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True)
    write(text)


def _plain(rows: list[list], headers: list[str]) -> str | None:
    """What tabulate(rows, headers, tablefmt="plain", disable_numparse=True) prints, byte for byte,
    when every cell is None, a number or printable ASCII (else None: tabulate then does it).
    tabulate took 0.5 s for the 10,000 rows of `mvc ls NAME` (docs/performance.md, "Metadata
    growth"); this takes ~20 ms.  Cells are stripped, a column is as wide as its widest cell
    and at least its header plus 2, columns are joined by two spaces, lines right-stripped."""
    cells = []
    for row in rows:
        if len(row) != len(headers):
            return None
        out = []
        for c in row:
            s = "" if c is None else f"{c}" if isinstance(c, (str, int, float)) else None
            if s is None or not (s.isascii() and s.isprintable()):
                return None
            out.append(s.strip())
        cells.append(out)
    if not all(h.isascii() and h.isprintable() and h == h.strip() for h in headers):
        return None
    widths = [max([len(h) + 2] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    return "\n".join("  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip() for r in [headers, *cells])


def human_size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def short_digest(digest: str | None, n: int = 12) -> str:
    if not digest:
        return "-"
    return digest.split(":", 1)[-1][:n]


def short_time(iso: str | None) -> str:
    """'2024-05-01T12:03:04+00:00' -> '2024-05-01 12:03' (UTC)."""
    return iso[:16].replace("T", " ") if iso else "-"


def iso_utc(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def parse_since(text: str) -> float:
    """A duration ago or an ISO date/time (UTC unless it says) -> epoch seconds (``mvc.durations``)."""
    try:
        return durations.parse_since(text)
    except ValueError as e:
        import click
        raise click.BadParameter(str(e), param_hint="--since") from None


class Progress:
    """A ``progress(nbytes)`` callable: a tqdm bar (bytes done/total, rate, time left) on stderr.

    Drawn only when the stream is a terminal and not quiet: a pipe or a log file gets nothing
    (no carriage-return noise in CI logs).  tqdm is imported only then, so a script that
    pipes mvc's output never pays for it.  ``done``/``total`` are counted here either way
    (callers and tests read them); tqdm throttles its own redraws (``mininterval``)."""

    def __init__(self, label: str, total: int | None, quiet: bool = False, stream=None):
        self.label, self.total, self.quiet = label, total, quiet
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.bar = None if quiet or not self.tty else self._open_bar()

    def _open_bar(self):
        from tqdm import tqdm
        from tqdm.utils import _screen_shape_wrapper
        width, height = (_screen_shape_wrapper()(self.stream) or (None, None))
        sized = bool(width and width >= 20 and height and height > 0)
        # a pty nobody sized reads as 0 or -1 columns and rows: tqdm then draws nothing at all
        return tqdm(total=self.total, desc=f"mvc: {self.label}", file=self.stream, unit="B",
                    unit_scale=True, unit_divisor=1024, mininterval=0.1, leave=True,
                    dynamic_ncols=sized, ncols=None if sized else 80, nrows=None if sized else 24)

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if self.bar is not None:
            self.bar.update(nbytes)

    def expect(self, total: int) -> None:
        """The total, once the caller knows it (ingest_tree, after its walk)."""
        if self.total is None:
            self.total = total
            if self.bar is not None:
                self.bar.total = total
                self.bar.refresh()

    def close(self) -> None:
        """Finish the bar (its last state stays on the terminal, the line ended)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def report_unreadable(api, kind: str, project: str | None = None) -> None:
    """After a listing: name each ref of ``kind`` it could not read (never leave one out in
    silence), with the repair, and exit 5 (integrity) so that scripts notice."""
    bad = api.damaged_refs(kind, project)
    if not bad:
        return
    for d in bad:
        echo(f"mvc: error: could not read {d['label']}: ref {d['ref']} is damaged ({d['problem']})", err=True)
    write("mvc: hint: run `mvc fsck` to see what it held, then `mvc fsck --repair` to point it back "
               "at its newest commit", err=True)
    from mvc.errors import IntegrityError
    raise SystemExit(IntegrityError.exit_code)  # click's Exit would import click; both end the process
