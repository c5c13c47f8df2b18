"""mvc fetch: bring a remote's metadata into its remote-tracking refs (checked)."""
import click

from .. import context, output


@click.command(short_help="Fetch a remote's metadata (default: origin); change nothing here.")
@click.argument("remote", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {remote, refs, advertised, seconds}.")
def command(remote, as_json) -> None:
    """Fetch REMOTE's refs into refs/mvc-remotes/REMOTE/, each new commit checked
    (names, paths, digests) first.  Your versions and aliases do not change; `mvc
    pull` folds them in."""
    summary = context.get().api().fetch(remote)
    if as_json:
        output.emit_json(summary)
        return
    output.echo(f"fetched {len(summary['refs'])} changed refs from {summary['remote']} "
                f"({summary['advertised']} advertised)")
