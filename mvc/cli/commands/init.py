"""mvc init: create a store."""
import click

from .. import context


@click.command(short_help="Create a store (in the project root, or -C DIR).")
def command() -> None:
    """Create an mvc store at <project root>/.mvc (the top of the enclosing git
    work tree, or the current folder), or at -C DIR / MVC_DIR, and print where.
    Running it on an existing store changes nothing."""
    import os

    from mvc.api import upkeep
    path, created = upkeep.init_store(context.get().dir)
    verb = "Initialized empty" if created else "Reinitialized existing"
    click.echo(f"{verb} mvc store in {path}{os.sep}")
