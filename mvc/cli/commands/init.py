"""mvc init: create a store."""
import click

from .. import context


@click.command(short_help="Create a store (in the project root, or -C DIR).")
def command() -> None:
    """Create an mvc store at <project root>/.mvc (the top of the enclosing git
    work tree, or the current folder), or at -C DIR / MVC_DIR, and print where.
    Running it on an existing store changes nothing."""
    import os

    from mvc.repo import layout
    target = _target(context.get().dir)
    existed = layout.is_store(target)
    layout.create_store(target)
    layout.check_format(target)
    verb = "Reinitialized existing" if existed else "Initialized empty"
    click.echo(f"{verb} mvc store in {target}{os.sep}")


def _target(store_dir) -> str:
    import os

    from mvc.repo import layout
    if store_dir:
        path = os.path.abspath(store_dir)
        if layout.is_store(path) or os.path.basename(path) == layout.STORE_DIR:
            return path
        return os.path.join(path, layout.STORE_DIR)
    return os.path.join(layout.project_root(os.getcwd()), layout.STORE_DIR)
