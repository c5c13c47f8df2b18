"""mvc status: what the store holds."""
import click

from .. import context, output


@click.command(short_help="Show the store: location, format, counts, chunk bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def command(as_json: bool) -> None:
    """Show the store path, format version, default project, and counts of
    artifacts, versions, registered models, runs, chunks and chunk bytes."""
    stats = context.get().api().stats()
    if as_json:
        output.emit_json(stats)
        return
    rows = [
        ("store", stats["store"]),
        ("format", stats["format"]),
        ("project", stats["project"]),
        ("projects", ", ".join(stats["projects"]) or "-"),
        ("artifacts", stats["artifacts"]),
        ("versions", f"{stats['versions']} (+{stats['deleted_versions']} deleted)"),
        ("registered models", stats["registered_models"]),
        ("runs", stats["runs"]),
        ("chunks", f"{stats['chunks']} ({output.human_size(stats['chunk_bytes'])})"),
    ]
    for k, v in rows:
        output.echo(f"{k + ':':<19}{v}")
