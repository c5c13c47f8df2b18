"""Running the user's own store-event hooks: executables in ``<store>/hooks/<event>``.

They are the user's, like git's ``.git/hooks``: nothing mvc fetches, pulls or clones ever
writes there (git transfers refs and objects, never this folder).  Each hook gets one JSON
document on stdin (docs/design.md, "Store events"), runs in the folder holding the store, and is
killed after ``MVC_HOOK_TIMEOUT`` seconds (60 by default)."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 60.0
MAX_MESSAGE = 2000  # characters of a hook's output quoted in a veto


@dataclass
class HookResult:
    path: str
    code: int | None  # None: killed at the timeout
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def message(self) -> str:
        text = self.output.strip() or (f"it exited with status {self.code}" if self.code is not None
                                       else "it timed out")
        return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def hook_path(store: str, event: str) -> str:
    return os.path.join(store, "hooks", event)


def find(store: str, event: str) -> str | None:
    """The hook for ``event`` if there is one mvc will run: a regular executable file that only its
    owner (or root) can write (a hook anyone could edit would run their code as you)."""
    path = hook_path(store, event)
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        return None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or st.st_uid not in (os.geteuid(), 0):
        warn(f"not running {path}: it is writable by others or owned by another user "
             f"(chmod go-w {path} to use it)")
        return None
    return path


def timeout() -> float:
    from ..durations import from_env
    return from_env("MVC_HOOK_TIMEOUT", DEFAULT_TIMEOUT_S)


def run(store: str, path: str, doc: dict) -> HookResult:
    """Run the hook at ``path`` with ``doc`` as JSON on stdin; its output (stdout and stderr) is
    returned, not printed."""
    env = dict(os.environ, MVC_EVENT=doc.get("event", ""), MVC_DIR=os.path.abspath(store))
    data = (json.dumps(doc, sort_keys=True) + "\n").encode()
    limit = timeout()  # before the hook starts: a bad MVC_HOOK_TIMEOUT refuses, leaving no hook running
    try:  # its own process group, so a timeout (or our Ctrl-C) also ends what the hook started
        p = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=env, cwd=os.path.dirname(os.path.abspath(store)), start_new_session=True)
    except OSError as e:  # not a valid executable (no #! line, bad interpreter)
        return HookResult(path, 126, f"cannot run it: {e.strerror}")
    try:
        out, _ = p.communicate(data, timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(p)
        return HookResult(path, None, "")
    except BaseException:
        _kill_group(p)
        raise
    return HookResult(path, p.returncode, out.decode("utf-8", "replace"))


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    p.wait()


def warn(text: str) -> None:
    """A hook's trouble after a change was committed is reported, never raised: the change stands."""
    try:
        sys.stderr.write(f"mvc: warning: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def relay(result: HookResult) -> None:
    """Show a post-event hook's output on stderr (stdout carries the command's result)."""
    if result.output:
        try:
            sys.stderr.write(result.output if result.output.endswith("\n") else result.output + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
