"""What every command gets from the global options (-q, -C/--dir, --project).

Commands reach it with ``get()`` (or ``click.pass_obj``).  The root group also
exports the options to the environment for the length of the invocation
(MVC_DIR, MVC_PROJECT, MVC_SILENT), so code that finds the store the usual way
(``Repository.find()``, ``mvc.init()``) honours them without being told.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import click


@dataclass
class CliContext:
    dir: str | None = None
    project: str | None = None
    quiet: bool = False

    def api(self, create: bool = False):
        """An Api on the selected store; a missing store is a NotFoundError unless ``create``."""
        from mvc.api import Api
        return Api(self.dir, self.project, create=create)

    def start_run(self, job_type: str = "cli", **kwargs):
        """A run recording this invocation (job type ``cli``); its summary is left to the command."""
        from mvc.api import init
        return init(project=self.project, dir=self.dir, job_type=job_type, quiet=True, **kwargs)


def get() -> CliContext:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(CliContext) if ctx else None
    if found is not None:
        return found
    return CliContext(os.environ.get("MVC_DIR") or None, os.environ.get("MVC_PROJECT") or None,
                      os.environ.get("MVC_SILENT", "") not in ("", "0"))


def export_env(ctx: click.Context, obj: CliContext) -> None:
    """Set MVC_DIR/MVC_PROJECT/MVC_SILENT from the options until the invocation ends."""
    wanted = {"MVC_DIR": obj.dir and os.path.abspath(obj.dir), "MVC_PROJECT": obj.project,
              "MVC_SILENT": "1" if obj.quiet else None}
    saved = {k: os.environ.get(k) for k, v in wanted.items() if v}
    for k, v in wanted.items():
        if v:
            os.environ[k] = v

    def restore() -> None:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old

    ctx.call_on_close(restore)
