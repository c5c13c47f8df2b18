"""mvc verify: re-read one version end to end."""
import click

from .. import context, output


@click.command(short_help="Re-read every byte of one version against its digests.")
@click.argument("address")
def command(address) -> None:
    """Re-hash every file of the version ADDRESS names (references are read
    from their source).  Exit 0 when sound, 5 naming each bad file otherwise."""
    context.checked_address(address)  # before the store is looked for
    art = context.get().api().verify(address)
    output.echo(f"ok: {art.address} ({output.counted(art.file_count, 'file')}) matches its digests")
