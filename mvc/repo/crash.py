"""The fault-injection seam: MVC_TEST_CRASH_AT=<label>[,<label>...] kills the
process with SIGKILL when it reaches a named point.  Inert unless set.

Every label below is reached by some operation; tests/test_reliability_crash.py
kills at each one and checks the store opens, fscks clean and is unchanged or
wholly changed.

The other seam, MVC_TEST_CORRUPT_CHUNK=<n> (a failing chunker that flips one byte
of the n-th chunk after it is hashed), lives in mvc/store/ingest.py, below this layer;
tests/test_reliability_r8.py checks the write path catches it before any ref moves."""
from __future__ import annotations

import os

POINTS = (
    # log: lease taken, chunks written, pointer blobs and trees written, commit made, ref moved
    "log:after-lease", "log:after-chunks", "log:after-objects", "before-ref-move", "log:after-ref-move",
    "use:after-files",
    # link, alias and delete: the edit's commit exists, the ref has not moved / has moved
    "link:before-ref-move", "link:after-ref-move", "alias:before-ref-move", "alias:after-ref-move",
    "delete:before-ref-move", "delete:after-ref-move",
    # gc: plan made, trash purged, half the chunks deleted, temp files and leases removed
    "gc:after-plan", "gc:after-purge", "gc:mid-sweep", "gc:after-sweep",
    # migrate (format 1 -> 2): staged, marked migrating, chunks and indexes moved, packed-refs
    # switched, loose format-1 refs removed, format file written (tests/test_migrate.py)
    "migrate:after-prepare", "migrate:after-mark", "migrate:after-chunks", "migrate:after-packed-refs",
    "migrate:after-loose-refs", "migrate:after-format",
)


def crash_at(label: str) -> None:
    wanted = os.environ.get("MVC_TEST_CRASH_AT")
    if wanted and label in wanted.split(","):
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
