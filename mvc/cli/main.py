"""The root `mvc` group: global options, lazy command discovery, the error boundary."""
from __future__ import annotations

import os
import pkgutil
import sys

import click

from mvc.errors import MvcError

from . import commands as _commands_pkg
from .context import CliContext, export_env

COMMANDS_PACKAGE = _commands_pkg.__name__


def discover() -> dict[str, str]:
    """Command name -> module name, for every module in mvc/cli/commands/ (``du_x.py`` is ``du-x``)."""
    return {m.name.replace("_", "-"): m.name for m in pkgutil.iter_modules(_commands_pkg.__path__)
            if not m.name.startswith("_")}


class LazyGroup(click.Group):
    """Lists commands from the modules on disk and imports one only when it is needed.
    Also the one error boundary: an MvcError becomes `mvc: error: ...` and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(discover()) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str):
        if name in self.commands:
            return self.commands[name]
        module = discover().get(name)
        if module is None:
            return None
        import importlib
        return getattr(importlib.import_module(f"{COMMANDS_PACKAGE}.{module}"), "command")

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MvcError as err:
            report(err)
            ctx.exit(err.exit_code)
        except OSError as exc:  # the last net: a full or read-only disk below code that did not say so
            err = typed_os_error(exc)
            if err is None:
                raise
            report(err)
            ctx.exit(err.exit_code)


def typed_os_error(exc: OSError) -> MvcError | None:
    """A full or read-only filesystem as the typed error it is; None for any other OSError."""
    import errno

    from mvc.fsutil import is_full, read_only_error, storage_full
    where = exc.filename or os.getcwd()
    if is_full(exc):
        return storage_full(f"writing {where}", os.path.dirname(str(where)) or ".")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return read_only_error(str(where), "write", exc)
    return None


def report(err: MvcError) -> None:
    """The error and its hint on stderr, escaped (output.echo_block): a message may quote text from the store."""
    from .output import echo_block
    echo_block(f"mvc: error: {err.message}", err=True)
    if err.hint:
        echo_block(f"mvc: hint: {err.hint}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-q", "--quiet", is_flag=True, help="Silence progress and run summaries.")
@click.option("-C", "--dir", "store_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Store location (a .mvc folder or the folder holding one); like MVC_DIR.")
@click.option("--project", metavar="P", help="Project to work in (default: MVC_PROJECT, else the project folder's name).")
@click.version_option(package_name="mvc-models", prog_name="mvc")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, store_dir: str | None, project: str | None) -> None:
    """mvc: version control for machine-learning models.

    Log model files as numbered versions, move aliases, pull versions back out,
    link them into a registry, and follow lineage between runs and versions.
    """
    obj = CliContext(store_dir or os.environ.get("MVC_DIR") or None, project or os.environ.get("MVC_PROJECT") or None,
                     quiet or os.environ.get("MVC_SILENT", "") not in ("", "0"))
    if project:
        from mvc.names import check_project
        check_project(project)
    ctx.obj = obj
    export_env(ctx, obj)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (`mvc = "mvc.cli:main"`)."""
    try:
        cli.main(args=argv, prog_name="mvc")
    except BrokenPipeError:  # `mvc ls | head`: stop quietly, like git
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
