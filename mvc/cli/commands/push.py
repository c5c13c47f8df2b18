"""mvc push: send versions, links and runs to a remote (bytes first, then names)."""
import click

from .. import context, output
from ._remote import print_summary


@click.command(short_help="Send what a remote lacks (default: origin).")
@click.argument("remote", required=False)
@click.argument("addresses", nargs=-1, metavar="[ADDRESS...]")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel chunk uploads.")
@click.option("--verify", is_flag=True, help="Ask the storage again for every chunk instead of trusting the local "
                                             "record of what it holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (fields: see docs/cli.md).")
def command(remote, addresses, jobs, verify, as_json) -> None:
    """Upload every chunk the pushed refs reach and REMOTE lacks, then move its
    refs by compare-and-swap.  ADDRESS (NAME, registry/MODEL, run:ID) limits the
    push to those; default: everything.  Versions someone else numbered first are
    renumbered here and there (the old -> new map is printed)."""
    c = context.get()
    with output.Progress("pushing", None, c.quiet or as_json) as meter:
        summary = c.api().push(remote, list(addresses) or None, jobs=jobs, verify=verify, progress=meter)
    print_summary("pushed", summary, as_json, c.quiet)
