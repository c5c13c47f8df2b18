"""Installing mvc's git hooks (pre-commit, pre-push; post-checkout and post-merge with
``restore``) without ever clobbering anyone's.

- The hooks folder is the one git uses: ``git rev-parse --git-path hooks`` (core.hooksPath,
  worktrees and a separate git dir all honoured).
- mvc's scripts carry the MARKER line; only marked files are ever replaced or removed.
- A foreign hook is kept: ``chain`` renames it to ``<hook>.pre-mvc``, which mvc's script runs
  first (uninstall puts it back); ``force`` replaces it (a copy stays as ``<hook>.mvc-backup``);
  otherwise install stops, names it, and writes nothing.
- Installing twice changes nothing.

The scripts are in the top-level ``hooks/`` folder of mvc's source too, exactly as ``script``
renders them (tests/test_hooks_git.py checks it), so that folder also works as core.hooksPath."""
from __future__ import annotations

import os
import subprocess

from ..errors import ConflictError, NotFoundError
from ..fsutil import atomic_write

HOOKS = ("pre-commit", "pre-push")
RESTORE_HOOKS = ("post-checkout", "post-merge")
ALL = HOOKS + RESTORE_HOOKS
MARKER = "# mvc-hook: managed by mvc (mvc hooks install); `mvc hooks uninstall` removes it"
CHAINED = ".pre-mvc"
BACKUP = ".mvc-backup"

_HEAD = """#!/bin/sh
{marker}
# {what}
hook={name}
here=$(dirname "$0")
if ! command -v mvc >/dev/null 2>&1; then
    echo "mvc $hook hook: the mvc command is not on PATH, so this hook cannot {verb}." >&2
    echo "  install mvc (pip install mvc-models) in this environment, or remove $0" >&2
    exit 1
fi
"""

_CHAIN = """if [ -x "$here/$hook{chained}" ]; then
    "$here/$hook{chained}" "$@" || exit $?
fi
exec mvc hooks run "$hook" "$@"
"""

_PRE_PUSH = """input=$(cat)  # the refs being pushed: read once, for the chained hook and for mvc
if [ -x "$here/$hook{chained}" ]; then
    printf '%s\\n' "$input" | "$here/$hook{chained}" "$@" || exit $?
fi
# Fast path (no mvc start-up): when no commit being pushed changes mvc.lock, nothing is to push.
pins=
while read -r lref lsha rref rsha; do
    case $lsha in *[!0]*) ;; *) continue ;; esac  # empty, or a deletion: pushes no commit
    case $rsha in *[!0]*) range="$rsha..$lsha" ;; *) range="$lsha --not --remotes=$1" ;; esac
    found=$(git rev-list -n 1 $range -- mvc.lock 2>/dev/null) || found=unknown
    if [ -n "$found" ]; then pins=1; break; fi
done <<EOF
$input
EOF
[ -n "$pins" ] || exit 0
printf '%s\\n' "$input" | mvc hooks run "$hook" "$@"
"""

_WHAT = {
    "pre-commit": ("refuses staged files that look like model weights (`mvc log` versions them)",
                   "check the staged files for model weights (commit with --no-verify to skip it)"),
    "pre-push": ("pushes the model versions that the commits being pushed pin in mvc.lock (`mvc push`)",
                 "push the models pinned in mvc.lock (git push --no-verify skips it)"),
    "post-checkout": ("restores the models pinned in mvc.lock after a branch checkout (`mvc use --locked`)",
                      "restore the models pinned in mvc.lock"),
    "post-merge": ("restores the models pinned in mvc.lock after a merge that changed it (`mvc use --locked`)",
                   "restore the models pinned in mvc.lock"),
}


def script(name: str) -> str:
    """The text of mvc's hook ``name``."""
    what, verb = _WHAT[name]
    body = _PRE_PUSH if name == "pre-push" else _CHAIN
    return _HEAD.format(marker=MARKER, what=what, name=name, verb=verb) + body.format(chained=CHAINED)


def _git(where: str, *args: str) -> str:
    try:
        p = subprocess.run(["git", *args], cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise NotFoundError("git is not installed (no `git` on PATH)", "install git, then run this again") from None
    if p.returncode != 0:
        raise NotFoundError(f"{os.path.abspath(where)} is not in a git repository ({p.stderr.strip()})",
                            "run this inside the git work tree whose hooks you want (or `git init` first)")
    return p.stdout.rstrip("\n")


def hooks_dir(where: str | None = None) -> str:
    """The folder git runs hooks from for the repository at or above ``where``."""
    where = os.path.abspath(where or ".")
    return os.path.normpath(os.path.join(where, _git(where, "rev-parse", "--git-path", "hooks")))


def is_mvc(path: str) -> bool:
    """Is the file at ``path`` one of mvc's hook scripts (it holds the marker line)?"""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head.splitlines()


def _plan(folder: str, names, chain: bool, force: bool) -> list[dict]:
    plan, foreign = [], []
    for name in names:
        path = os.path.join(folder, name)
        row = {"hook": name, "path": path}
        if not os.path.lexists(path):
            row["action"] = "installed"
        elif is_mvc(path):
            with open(path) as f:
                row["action"] = "unchanged" if f.read() == script(name) else "updated"
        elif force:
            row["action"] = "replaced"
        elif chain:
            if os.path.lexists(path + CHAINED):
                raise ConflictError(f"cannot chain {path}: {path + CHAINED} exists already",
                                    f"merge the two hooks by hand, or pass --force to replace {path}")
            row["action"] = "chained"
        else:
            foreign.append(path)
        plan.append(row)
    if foreign:
        raise ConflictError(f"git hooks that are not mvc's are in the way: {', '.join(foreign)}; nothing was "
                            "installed", "pass --chain to keep each and run it before mvc's, or --force to "
                            "replace it (a copy is kept as <hook>.mvc-backup)")
    return plan


def install(where: str | None = None, chain: bool = False, force: bool = False,
            restore: bool = False) -> list[dict]:
    """Install the hooks (plus post-checkout and post-merge with ``restore``); one row per hook:
    hook, path, action (installed, updated, unchanged, chained, replaced)."""
    folder = hooks_dir(where)
    plan = _plan(folder, HOOKS + (RESTORE_HOOKS if restore else ()), chain, force)
    os.makedirs(folder, exist_ok=True)
    for row in plan:
        path = row["path"]
        if row["action"] == "unchanged":
            continue
        if row["action"] == "chained":
            os.rename(path, path + CHAINED)
        elif row["action"] == "replaced":
            os.replace(path, path + BACKUP)
        atomic_write(path, script(row["hook"]).encode(), mode=0o755)
    return plan


def uninstall(where: str | None = None) -> list[dict]:
    """Remove mvc's hooks (marked files only) and put chained hooks back; rows as ``install``'s
    with action removed, kept (not mvc's) or absent."""
    folder = hooks_dir(where)
    out = []
    for name in ALL:
        path = os.path.join(folder, name)
        row = {"hook": name, "path": path}
        if is_mvc(path):
            os.unlink(path)
            row["action"] = "removed"
            if os.path.lexists(path + CHAINED):
                os.rename(path + CHAINED, path)
                row["action"] = "removed (chained hook put back)"
        else:
            row["action"] = "kept (not mvc's)" if os.path.lexists(path) else "absent"
        out.append(row)
    return out


def status(where: str | None = None) -> dict:
    """Where git looks for hooks and, per hook: mvc (current or outdated, chained or not), foreign,
    or absent."""
    folder = hooks_dir(where)
    rows = []
    for name in ALL:
        path = os.path.join(folder, name)
        if is_mvc(path):
            with open(path) as f:
                state = "mvc" if f.read() == script(name) else "mvc (outdated: run `mvc hooks install`)"
            if os.path.lexists(path + CHAINED):
                state += f", runs {name}{CHAINED} first"
        else:
            state = "not mvc's" if os.path.lexists(path) else "absent"
        rows.append({"hook": name, "path": path, "state": state})
    return {"hooks_dir": folder, "hooks": rows}
