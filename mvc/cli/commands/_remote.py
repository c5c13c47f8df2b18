"""Printing shared by push, pull and clone."""
import click

from .. import output


def print_summary(verb: str, summary: dict, as_json: bool, quiet: bool) -> None:
    if as_json:
        output.emit_json(summary)
        return
    for old, new in summary.get("renumbered", {}).items():
        output.echo(f"renumbered {old} -> {new}")
    if quiet:
        return
    refs = summary.get("refs") if verb == "pushed" else summary.get("updated", [])
    chunks, nbytes = summary.get("chunks", 0), summary.get("bytes", 0)
    skipped = f", {summary['skipped']} already there" if summary.get("skipped") else ""
    click.echo(f"mvc: {verb} {len(refs or [])} refs, {chunks} chunks ({output.human_size(nbytes)}){skipped}",
               err=True)
