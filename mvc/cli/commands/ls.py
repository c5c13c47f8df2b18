"""mvc ls: artifacts, or the versions of one."""
import click

from .. import context, listing
from ..params import SINCE


@click.command(short_help="List artifacts, or the versions of one, with aliases and sizes.")
@click.argument("name", required=False)
@click.option("--alias", metavar="A", help="Only versions holding this alias.")
@click.option("--tag", metavar="TAG", help="Only versions with this tag.")
@click.option("--type", "type_", metavar="T", help="Only artifacts (or versions) of this type.")
@click.option("--since", type=SINCE, metavar="WHEN",
              help="Only versions created since WHEN: a duration ago (90s, 30m, 1.5h, 2d, 2w) or an ISO date.")
@click.option("--deleted", is_flag=True, help="List soft-deleted versions of NAME instead (see `mvc restore`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def command(name, alias, tag, type_, since, deleted, as_json) -> None:
    """Without NAME: every artifact of the project (name, type, versions,
    latest, aliases, size).  With NAME: its versions (version, aliases, size,
    files, created, digest prefix, the run that logged it)."""
    api = context.get().api()
    if name is None:
        if alias or tag or since is not None or deleted:
            raise click.UsageError("--alias, --tag, --since and --deleted need an artifact NAME")
        listing.artifacts(api, type_, as_json)
        return
    listing.versions(api, name, as_json, alias=alias, tag=tag, type=type_, since=since, deleted=deleted)
