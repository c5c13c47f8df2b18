"""mvc lineage: the graph of runs and versions around one node."""
import click

from .. import context


@click.command(short_help="Show the lineage of a version or run (text, json, dot, mermaid).")
@click.argument("address")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json", "dot", "mermaid"]), default="text",
              show_default=True)
@click.option("--depth", type=click.IntRange(min=1), metavar="N", help="Follow at most N edges (default: all).")
@click.option("--direction", type=click.Choice(["up", "down", "both"]), default="both", show_default=True,
              help="up: what it was made from; down: what used it.")
def command(address, fmt, depth, direction) -> None:
    """Walk the lineage of ADDRESS (a version, or run:<id>) upstream and/or
    downstream and print it.  Runs point at the versions they logged; versions
    point at the runs that used them."""
    from mvc.api import lineage
    graph = context.get().api().lineage(address, direction=direction, depth=depth)
    click.echo(lineage.render(graph, fmt))
