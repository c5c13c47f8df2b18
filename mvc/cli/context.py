"""What every command gets from the global options (-q, -C/--dir, --project).

The options work before the command name (`mvc -q log ...`) and after it
(`mvc log -q ...`, `mvc runs ls -q`): main.py adds them to every command and
each occurrence lands here (``given``).  Given twice with different values is a
usage error; an environment variable (MVC_DIR, MVC_PROJECT, MVC_SILENT) is only
the default.  Commands reach the context with ``get()``.  For the length of the
invocation the options are also exported to the environment, so code that finds
the store the usual way (``mvc.init()``, ``Api()``) honours them unasked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import click

# option name -> (environment variable, how the option is spelled in messages)
OPTIONS = {"dir": ("MVC_DIR", "-C/--dir"), "project": ("MVC_PROJECT", "--project"), "quiet": ("MVC_SILENT", "-q/--quiet")}


@dataclass
class CliContext:
    dir: str | None = None
    project: str | None = None
    quiet: bool = False
    json: bool = False                           # `mvc --json CMD`: passed on to CMD as its --json
    given: dict = field(default_factory=dict)   # option name -> value, as given on the command line
    _saved_env: dict | None = field(default=None, repr=False)

    def api(self, create: bool = False):
        """An Api on the selected store; a missing store is a NotFoundError unless ``create``."""
        from mvc.api import Api
        return Api(self.dir, self.project, create=create)

    def start_run(self, job_type: str = "cli", **kwargs):
        """A run recording this invocation (job type ``cli``); its summary is left to the command.
        Call it only once the input is checked: a usage or validation error must record no run."""
        from mvc.api import init
        return init(project=self.project, dir=self.dir, job_type=job_type, quiet=True, **kwargs)

    def give(self, name: str, value, check: bool = True) -> None:
        """Record a global option found on the command line (before or after the command name);
        UsageError if it was already given with another value.  ``check``: refuse a bad project
        name now (the root group checks its own later, inside its error boundary)."""
        if name == "dir":
            value = os.path.abspath(value)
        if name in self.given and self.given[name] != value:
            raise click.UsageError(f"{OPTIONS[name][1]} given twice with different values: "
                                   f"{self.given[name]!r} and {value!r}; give it once")
        if name == "project" and check:
            from mvc.names import check_project
            check_project(value)
        self.given[name] = value
        setattr(self, name, value)

    def export(self, ctx: click.Context) -> None:
        """Set MVC_DIR/MVC_PROJECT/MVC_SILENT from the options until the invocation ends (``ctx``'s
        close); called again when an option comes after the command name."""
        wanted = {"MVC_DIR": self.dir and os.path.abspath(self.dir), "MVC_PROJECT": self.project,
                  "MVC_SILENT": "1" if self.quiet else None}
        if self._saved_env is None:
            self._saved_env = {k: os.environ.get(k) for k in wanted}
            ctx.call_on_close(self._restore_env)
        for k, v in wanted.items():
            if v:
                os.environ[k] = v

    def _restore_env(self) -> None:
        for k, old in (self._saved_env or {}).items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def checked_address(text: str) -> str:
    """``text`` checked as an address before any store is opened: a malformed one is an
    InvalidNameError (exit 2) whether or not there is a store (``run:<id>`` passes as it is)."""
    if not text.startswith("run:"):
        from mvc.names import parse_address
        parse_address(text)
    return text


def get() -> CliContext:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(CliContext) if ctx else None
    if found is not None:
        return found
    return CliContext(os.environ.get("MVC_DIR") or None, os.environ.get("MVC_PROJECT") or None,
                      os.environ.get("MVC_SILENT", "") not in ("", "0"))


def export_env(ctx: click.Context, obj: CliContext) -> None:
    """Set MVC_DIR/MVC_PROJECT/MVC_SILENT from the options until the invocation ends."""
    obj.export(ctx)
