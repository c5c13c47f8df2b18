"""What `mvc hooks run HOOK` does for each of mvc's git hooks (the decisions are in
mvc/hooks/githooks.py; this runs them and talks to the user)."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from .. import context


def run_hook(hook: str, args: list[str]) -> int:
    handlers = {"pre-commit": _pre_commit, "pre-push": _pre_push, "post-checkout": _post_checkout,
                "post-merge": _post_merge}
    if hook not in handlers:
        click.echo(f"mvc: error: no git hook {hook!r}; mvc has {', '.join(handlers)}", err=True)
        return 2
    return handlers[hook](args)


def _pre_commit(args: list[str]) -> int:
    from mvc.api import hooks
    files = args[1:] if args[:1] == ["--files"] else None  # the pre-commit framework passes the files
    try:
        refusal = hooks.weights_refusal(files)
    except ValueError as e:
        click.echo(f"mvc pre-commit: git config mvc.maxFileSize: {e}", err=True)
        return 1
    if refusal:
        click.echo(refusal, err=True)
        return 1
    return 0


def _pre_push(args: list[str]) -> int:
    from mvc.api import hooks
    from mvc.errors import MvcError
    remote = args[0] if args else (os.environ.get("PRE_COMMIT_REMOTE_NAME") or "origin")
    lines = [ln for ln in sys.stdin.read().splitlines() if ln.strip()] if not sys.stdin.isatty() else []
    try:
        plan = hooks.pins_to_push(remote, lines)
    except MvcError as e:
        click.echo(f"mvc pre-push: {e.message}; the git push is stopped\n  hint: {e.hint}", err=True)
        return 1
    for mvc_remote, addresses in plan.items():
        cmd = [sys.executable, "-m", "mvc", "push", mvc_remote, *addresses]
        click.echo(f"mvc pre-push: pushing {len(addresses)} model version{'s' if len(addresses) > 1 else ''} "
                   f"pinned in mvc.lock: mvc push {' '.join(cmd[4:])}", err=True)
        code = subprocess.run(cmd).returncode
        if code != 0:
            click.echo(f"mvc pre-push: `mvc push` failed (exit {code}); the git push is stopped, so no commit "
                       "reaches the remote pinning models it cannot get. Fix the mvc remote and push again "
                       "(git push --no-verify skips this check).", err=True)
            return 1
    return 0


def _restore(hook: str) -> int:
    from mvc.errors import MvcError
    from ._lock import _use_locked
    try:
        _use_locked(context.get(), None)
    except MvcError as e:
        click.echo(f"mvc {hook}: could not restore the models pinned in mvc.lock: {e.message}\n  hint: {e.hint}",
                   err=True)
        return 1
    return 0


def _post_checkout(args: list[str]) -> int:
    from mvc.api import hooks
    return _restore("post-checkout") if hooks.restores_after("post-checkout", args) else 0


def _post_merge(args: list[str]) -> int:
    from mvc.api import hooks
    return _restore("post-merge") if hooks.restores_after("post-merge", args) else 0
