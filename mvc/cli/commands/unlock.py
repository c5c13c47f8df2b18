"""mvc unlock: clear ref locks and leases left by killed writers."""
import click

from .. import context, output


@click.command(short_help="Remove locks and leases left behind by killed writers.")
@click.option("--force", is_flag=True, help="Also remove locks and leases whose holder may still be alive.")
@click.option("--json", "as_json", is_flag=True, help="Print what was found and removed as JSON.")
def command(force, as_json) -> None:
    """List ref .lock files and writers' leases; remove those whose owner is
    provably gone (same host, dead PID; a ref lock without such an owner
    record once it is 30 s old and no mvc writer holds it), and with --force
    every one (only when no mvc process is running)."""
    found = context.get().api().unlock(force=force)
    if as_json:
        output.emit_json(found)
        return
    for item in found:
        state = "removed" if item["removed"] else "kept (holder may be alive; --force removes it)"
        output.echo(f"{item['kind']} {item['path']}: {item['detail']}: {state}")
    if not found:
        click.echo("no locks or leases")
