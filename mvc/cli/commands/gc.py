"""mvc gc: delete what nothing reaches (plan, then execute)."""
import click

from .. import context, output
from ..params import DURATION


@click.command(short_help="Remove chunks and trash no version needs any more.")
@click.option("--dry-run", "-n", is_flag=True, help="Print exactly what a real run would delete; delete nothing.")
@click.option("--grace", type=DURATION, default="1h", show_default=True, metavar="DURATION",
              help="Keep unreferenced chunks younger than this (a log may still be writing them).")
@click.option("--retention", type=DURATION, default="14d", show_default=True, metavar="DURATION",
              help="Keep deleted versions, and whatever aliases and links pointed at, this long.")
@click.option("--keep-last", type=click.IntRange(min=0), metavar="N",
              help="Also move versions beyond the last N of each artifact to the trash (never aliased or linked ones).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def command(dry_run, grace, retention, keep_last, as_json) -> None:
    """Mark every chunk the metadata reaches (tips, trash within the retention,
    history within the retention, registry links), then delete the rest once
    older than the grace period and not covered by a live writer's lease."""
    report = context.get().api().gc(dry_run=dry_run, grace=grace, retention=retention, keep_last=keep_last)
    if as_json:
        output.emit_json(report.to_json())  # times are ISO strings, as in every other --json
        return
    verb = "would delete" if dry_run else "deleted"
    for line in report.lines():
        output.echo(f"{verb} {line}")
    # The summary is the result (stdout, after the items); -q does not hide a result.
    click.echo(f"{verb} {len(report.chunks)} chunks ({output.human_size(report.bytes)}); kept {report.marked} "
               f"reachable and {report.kept_young} recent")
