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


def report(err: MvcError) -> None:
    click.echo(f"mvc: error: {err.message}", err=True)
    if err.hint:
        click.echo(f"mvc: hint: {err.hint}", err=True)


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
