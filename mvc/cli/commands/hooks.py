"""mvc hooks install|uninstall|status|run|run-pending: mvc's git hooks, and store events."""
import sys

import click

from .. import context, output


@click.group(short_help="Install mvc's git hooks; deliver pending store events.")
def command() -> None:
    """Git hooks (in the enclosing git repository): pre-commit refuses model
    weights, pre-push pushes the model versions mvc.lock pins, post-checkout and
    post-merge (with --restore) restore them. Never clobbers a hook that is not
    mvc's."""


@command.command("install")
@click.option("--chain", is_flag=True, help="Keep an existing hook that is not mvc's and run it first.")
@click.option("--force", is_flag=True, help="Replace an existing hook that is not mvc's (a copy is kept as "
              "<hook>.mvc-backup).")
@click.option("--restore", is_flag=True, help="Also install post-checkout and post-merge, which restore the "
              "pinned models (`mvc use --locked`) after a branch checkout or a merge that changed mvc.lock.")
def install(chain, force, restore) -> None:
    """Install pre-commit and pre-push (and, with --restore, post-checkout and
    post-merge) where git looks for hooks (`git rev-parse --git-path hooks`:
    core.hooksPath and worktrees honoured). Installing twice changes nothing."""
    from mvc.api import hooks
    for row in hooks.install(chain=chain, force=force, restore=restore):
        output.echo(f"{row['action']:9}  {row['path']}")


@command.command("uninstall")
def uninstall() -> None:
    """Remove mvc's hooks (only files carrying mvc's marker line); a chained
    hook is put back in place."""
    from mvc.api import hooks
    for row in hooks.uninstall():
        output.echo(f"{row['action']:9}  {row['path']}")


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def status(as_json) -> None:
    """Where git looks for hooks, and which are mvc's."""
    from mvc.api import hooks
    report = hooks.status()
    if as_json:
        output.emit_json(report)
        return
    output.echo(f"hooks folder: {report['hooks_dir']}")
    output.table([[r["hook"], r["state"]] for r in report["hooks"]], ["hook", "state"])


@command.command("run-pending")
def run_pending() -> None:
    """Deliver store events (hooks in .mvc/hooks, webhooks) that a process which
    ended before delivering them left in the spool. Every command does this
    when it opens the store; this one says what it did."""
    counts = context.get().api().run_pending_events()
    output.echo(f"delivered {counts.get('delivered', 0)}; dropped {counts.get('dropped', 0)} (never committed); "
                f"webhooks waiting to retry {counts.get('pending', 0)}")


@command.command("run", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("hook")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(hook, args) -> None:
    """Run mvc's git hook HOOK (the scripts `mvc hooks install` writes call this)."""
    from ._githook import run_hook
    sys.exit(run_hook(hook, list(args)))
