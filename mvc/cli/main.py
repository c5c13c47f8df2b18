"""The root `mvc` group: global options, lazy command discovery, the error boundary."""
from __future__ import annotations

import os

import click

from mvc.errors import MvcError

from . import commands as _commands_pkg
from .boundary import exit_code
from .context import CliContext

COMMANDS_PACKAGE = _commands_pkg.__name__


def discover() -> dict[str, str]:
    """Command name -> module name, for every module in mvc/cli/commands/ (``du_x.py`` is ``du-x``)."""
    names = set()
    for folder in _commands_pkg.__path__:  # os.listdir, not pkgutil: pkgutil costs ~3 ms of start-up
        for entry in os.listdir(folder):
            stem, dot, ext = entry.partition(".")
            if dot and ext in ("py", "pyc") and stem.isidentifier() and not stem.startswith("_"):
                names.add(stem)
    return {n.replace("_", "-"): n for n in names}


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
        return with_global_options(getattr(importlib.import_module(f"{COMMANDS_PACKAGE}.{module}"), "command"))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `mvc --help`, from commands.SUMMARIES: listing must not import and
        wrap every command module (tests/test_startup.py keeps the table true)."""
        from .commands import SUMMARIES
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)  # as click's own listing
        rows = []
        for name in names:
            summary = SUMMARIES.get(name)
            if summary is None:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                summary = cmd.get_short_help_str(limit)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """`mvc --json ls` is `mvc ls --json`: a --json before the command name goes to the command
        (to the subcommand of a group); a command without --json then refuses it (exit 2)."""
        name, cmd, rest = super().resolve_command(ctx, args)
        obj = ctx.find_object(CliContext)
        if obj is not None and obj.json and ctx.parent is None:
            cut = rest.index("--") if "--" in rest else len(rest)
            rest = [*rest[:cut], "--json", *rest[cut:]]
        return name, cmd, rest

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # before click's own net, which would exit 1
            from .launch import exit_on_broken_pipe
            exit_on_broken_pipe()
        except KeyboardInterrupt:  # Ctrl-C: click's words, git's status (128 + SIGINT), not click's 1
            from .launch import INTERRUPTED, interrupted
            interrupted()
            ctx.exit(INTERRUPTED)
        except (MvcError, OSError) as exc:  # OSError: a full or read-only disk, untyped below
            code = exit_code(exc)
            if code is None:
                raise
            ctx.exit(code)


# ---- global options: before the command name (the root group) or after it (every command) ----
def global_options() -> list[click.Option]:
    """-q, -C/--dir and --project as options; each occurrence is handed to CliContext.give."""
    return [
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_given,
                     help="Silence progress and run summaries."),
        click.Option(["-C", "--dir", "dir"], metavar="DIR", type=click.Path(file_okay=False), expose_value=False,
                     callback=_given, help="Store location (a .mvc folder or the folder holding one); like MVC_DIR."),
        click.Option(["--project"], metavar="P", expose_value=False, callback=_given,
                     help="Project to work in (default: MVC_PROJECT, else the project folder's name)."),
    ]


def _given(ctx: click.Context, param: click.Parameter, value) -> None:
    """Callback of a global option: record it if it was on the command line, and re-export the env."""
    if ctx.get_parameter_source(param.name) is not click.core.ParameterSource.COMMANDLINE or not value:
        return
    obj = ctx.find_object(CliContext)
    if obj is None:  # the root group, before its callback: keep it for the callback
        obj = ctx.ensure_object(CliContext)
    obj.give(param.name, value, check=ctx.parent is not None)
    if ctx.parent is not None:  # after the command name: the root callback has exported already
        obj.export(ctx.find_root())


def with_global_options(cmd: click.Command) -> click.Command:
    """``cmd`` (and, for a group, each of its subcommands) accepting the global options too.
    An option name the command already uses keeps the command's meaning (tests/test_cli_habits.py
    checks that no command shadows one)."""
    if getattr(cmd, "_mvc_global_options", False):
        return cmd
    taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    cmd.params.extend(o for o in global_options() if not taken & set(o.opts))
    cmd._mvc_global_options = True
    for sub in getattr(cmd, "commands", {}).values():
        with_global_options(sub)
    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mvc-models", prog_name="mvc")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """mvc: version control for machine-learning models.

    Log model files as numbered versions, move aliases, pull versions back out,
    link them into a registry, and follow lineage between runs and versions.

    -q, -C/--dir and --project work before or after the command name.
    """
    obj = ctx.ensure_object(CliContext)
    if obj.project:
        from mvc.names import check_project
        check_project(obj.project)
    obj.dir = obj.dir or os.environ.get("MVC_DIR") or None
    obj.project = obj.project or os.environ.get("MVC_PROJECT") or None
    obj.quiet = obj.quiet or os.environ.get("MVC_SILENT", "") not in ("", "0")
    obj.export(ctx)


def _json_first(ctx: click.Context, param: click.Parameter, value) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


cli.params[:0] = global_options() + [
    click.Option(["--json", "json_first"], is_flag=True, expose_value=False, callback=_json_first,
                 help="Print JSON: the same as the command's own --json, for commands that have one.")]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (`mvc = "mvc.cli:main"`)."""
    try:
        cli.main(args=argv, prog_name="mvc")
    except BrokenPipeError:  # `mvc ls | head`: stop quietly, like git (output outside a command)
        from .launch import exit_on_broken_pipe
        exit_on_broken_pipe()
