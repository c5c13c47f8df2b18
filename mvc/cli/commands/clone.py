"""mvc clone: a new store from a remote, with `origin` recorded."""
import click

from .. import context, output
from ._remote import print_summary


@click.command(short_help="Make a new store from a remote.")
@click.argument("url")
@click.argument("target", metavar="[DIR]", required=False, type=click.Path(file_okay=False))
@click.option("--no-bytes", is_flag=True, help="Metadata only; bytes are fetched when a version is used.")
@click.option("--storage", metavar="URL", help="Storage for the bytes (default: the one the remote records).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel chunk downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (fields: see docs/cli.md).")
def command(url, target, no_bytes, storage, jobs, as_json) -> None:
    """Clone the metadata at URL (path, file://, git://, http(s)://, ssh://) into
    DIR/.mvc (default DIR: the URL's last part) and record it as `origin`.  The
    store appears only once everything arrived and was checked."""
    from mvc.api import clone
    c = context.get()
    with output.Progress("cloning", None, c.quiet or as_json) as meter:
        summary = clone(url, target, storage, no_bytes=no_bytes, jobs=jobs, progress=meter)
    print_summary("cloned", summary, as_json, c.quiet)
    if not as_json:
        output.echo(summary["store"])
