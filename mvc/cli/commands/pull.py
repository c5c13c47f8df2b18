"""mvc pull: fetch a remote and fold it into this store (renumbering what collides)."""
import click

from .. import context, output
from ._remote import print_summary


@click.command(short_help="Fetch a remote (default: origin) and fold it in.")
@click.argument("remote", required=False)
@click.option("--no-bytes", is_flag=True, help="Metadata only; bytes are fetched when a version is used.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel chunk downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (fields: see docs/cli.md).")
def command(remote, no_bytes, jobs, as_json) -> None:
    """Fetch REMOTE, bring the bytes of new versions (each chunk re-hashed), then
    move this store's refs: new ones created, those behind fast-forwarded, those
    that diverged replayed on the remote's with new numbers (printed)."""
    c = context.get()
    with output.Progress("pulling", None, c.quiet or as_json) as meter:
        summary = c.api().pull(remote, no_bytes=no_bytes, jobs=jobs, progress=meter)
    print_summary("pulled", summary, as_json, c.quiet)
