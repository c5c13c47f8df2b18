"""The fault-injection seam: MVC_TEST_CRASH_AT=<label>[,<label>...] kills the
process with SIGKILL when it reaches a named point.  Inert unless set."""
from __future__ import annotations

import os
import signal

POINTS = (
    "log:after-chunks", "log:after-objects", "before-ref-move", "log:after-ref-move",
    "use:after-files", "link:before-ref-move", "alias:before-ref-move",
)


def crash_at(label: str) -> None:
    wanted = os.environ.get("MVC_TEST_CRASH_AT")
    if wanted and label in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
