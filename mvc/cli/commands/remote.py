"""mvc remote add|ls|rm: the remotes a store pushes to and pulls from."""
import click

from .. import context, output


@click.group(short_help="Add, list and remove remotes (metadata URL + storage URL).")
def command() -> None:
    """A remote is a git repository for the metadata (a path or file:// to a bare
    repository, git://, http(s)://, ssh://) and a storage for the bytes
    (s3://BUCKET/PREFIX or a folder).  Kept in the store's git config; no
    credentials are ever written (boto3's chain and ssh-agent supply them)."""


@command.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--storage", metavar="URL", help="Where the bytes go: s3://BUCKET/PREFIX or a folder.")
@click.option("--no-check", is_flag=True, help="Do not probe the storage for create-only writes.")
@click.option("--json", "as_json", is_flag=True, help="Print the remote as JSON.")
def add(name, url, storage, no_check, as_json) -> None:
    """Add remote NAME at URL.  A storage is probed once: a server that ignores
    conditional writes (If-None-Match) is refused, since two pushers could then
    overwrite each other's bytes."""
    added = context.get().api(create=True).add_remote(name, url, storage, check=not no_check)
    if as_json:
        output.emit_json(added)
    else:
        output.echo(f"added remote {added['name']}: {added['url']}"
                    + (f" (bytes: {added['storage']})" if added["storage"] else ""))


@command.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{name, url, storage, kind}].")
def ls(as_json) -> None:
    """Every remote: name, metadata URL, storage URL."""
    rows = context.get().api().remotes()
    if as_json:
        output.emit_json(rows)
        return
    output.table([[r["name"], r["url"], r["storage"] or "-"] for r in rows], ["name", "url", "storage"],
                 empty="(no remotes)")


@command.command("rm")
@click.argument("name")
def rm(name) -> None:
    """Forget remote NAME and its remote-tracking refs here.  Nothing on the remote is touched."""
    context.get().api().remove_remote(name)
    output.echo(f"removed remote {name}")
