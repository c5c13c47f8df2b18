"""mvc migrate: convert a store of an older format in place."""
import click

from .. import context, output


@click.command(short_help="Convert a store of an older format (format 1) in place.")
@click.option("--dry-run", "-n", is_flag=True, help="Say what it would do; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(dry_run, as_json) -> None:
    """Rewrite a format-1 store as format 2: chunk ids become BLAKE3, file and
    artifact digests are recomputed, ref names and paths are encoded (see
    docs/format.md, "Migration").  Every version number, alias, alias history,
    registry link and run is kept.  Safe to interrupt: run it again (or any
    command) and it finishes."""
    from mvc.api.upkeep import migrate
    report = migrate(context.get().dir, dry_run=dry_run)
    d = report.to_json()
    if as_json:
        output.emit_json(dict(d, dry_run=dry_run))
        return
    if report.done and not report.commits:
        output.echo("the store is already in the current format; nothing to do")
        return
    head = "would rewrite" if dry_run else "rewrote"
    output.echo(f"{head} {d['chunks']} chunks ({output.human_size(d['chunk_bytes'])}, {d['packs']} packs), "
                f"{d['commits']} commits, {d['versions']} versions, {d['runs']} runs"
                + ("" if dry_run else f" in {d['seconds']:.1f} s"))
    for old, new in sorted(d["renamed"].items()):
        output.echo(f"  ref {old} -> {new}")
    for label in d["bytes_gone"]:
        output.echo(f"  {label}: its chunks were removed by gc long ago; its record is kept, its file list dropped")
    if dry_run:
        output.echo("nothing was changed; run `mvc migrate` to do it")
