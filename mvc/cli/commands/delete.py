"""mvc delete: soft-delete a version (restorable until gc)."""
import click

from .. import context, output


@click.command(short_help="Soft-delete a version (bring it back with `mvc restore`).")
@click.argument("address")
@click.option("--delete-aliases", is_flag=True, help="Delete even while aliases or registry links hold it (its aliases are removed).")
def command(address, delete_aliases) -> None:
    """Move the version ADDRESS names to the trash.  Refused while aliases or
    registry links point at it, unless --delete-aliases.  `mvc restore` brings
    it back until gc removes it."""
    context.checked_address(address)  # before the store is looked for
    art = context.get().api().artifact(address)
    art.delete(delete_aliases=delete_aliases)
    output.echo(f"deleted {art.address} (restore with `mvc restore {art.address}`)")
