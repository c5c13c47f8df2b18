"""mvc restore: bring a soft-deleted version back."""
import click

from .. import context, output


@click.command(short_help="Restore a soft-deleted version.")
@click.argument("address", metavar="NAME:vN")
def command(address) -> None:
    """Bring the soft-deleted version NAME:vN back from the trash (its number is unchanged)."""
    context.checked_address(address)  # before the store is looked for
    art = context.get().api().restore(address)
    output.echo(f"restored {art.address}")
