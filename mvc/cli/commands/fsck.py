"""mvc fsck: check every chunk, pointer and git object of the store."""
import click

from .. import context, output


@click.command(short_help="Check the store: chunk hashes, pointers, git metadata.")
@click.option("--sample", type=click.FloatRange(0, 1, min_open=True), metavar="SHARE",
              help="Re-hash only this share of chunks (0-1]; pointers and git are always checked in full.")
@click.option("--no-git", is_flag=True, help="Skip `git fsck` on the metadata.")
@click.option("--repair", is_flag=True, help="Point each damaged ref back at its newest commit, when found, and set "
              "corrupt chunks aside (.mvc/quarantine/) so that a re-log writes them back.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(sample, no_git, repair, as_json) -> None:
    """Re-hash every chunk (or a --sample share), check that every pointer
    resolves, run `git fsck` on the metadata, and name each problem with the
    versions it affects and the command that repairs or removes it.
    Exit 0 when clean, 5 (integrity) when a problem was found.  Without
    --repair it changes nothing.  Chunks absent here whose versions a remote
    holds (a --no-bytes clone) are reported as not fetched, not as damage.

    With --repair, a ref whose file is damaged (truncated, empty, garbage) is
    first pointed back at the newest commit of its own that the store holds,
    and a chunk whose bytes fail their check is set aside in .mvc/quarantine/,
    so that logging the original files again writes it back."""
    report = context.get().api().fsck(sample=sample, git=not no_git, repair=repair)
    for refname, commit in report.repaired:
        output.echo(f"repaired {refname}: now at {commit}")
    if as_json:
        output.emit_json(report.to_json())
    else:
        for p in report.problems:
            output.echo_block(p.text())
        click.echo(f"{'ok' if report.ok else 'FAILED'}: {report.versions} versions, {report.pointers} pointers, "
                   f"{report.chunks_hashed}/{report.chunks_total} chunks re-hashed, "
                   f"git fsck {'run' if report.git_checked else 'skipped'}; "
                   + (f"{report.chunks_not_fetched} chunks not fetched; " if report.chunks_not_fetched else "") +
                   f"{sum(p.severity == 'error' for p in report.problems)} errors")  # the result: stdout
    if not report.ok:
        from mvc.errors import IntegrityError
        raise click.exceptions.Exit(IntegrityError.exit_code)
