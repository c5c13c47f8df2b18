"""mvc lineage: the graph of runs and versions around one node."""
import click

from .. import context, output


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
    context.checked_address(address)  # before the store is looked for
    graph = context.get().api().lineage(address, direction=direction, depth=depth)
    click.echo(lineage.render(graph if fmt == "json" else _escaped(graph), fmt))  # JSON: \u escapes


def _escaped(graph):
    """The graph with every name and label escaped (output.safe), so a name or alias from the
    store cannot add a line to the rendering or reach the terminal."""
    from mvc.api.lineage import Graph
    s = output.safe

    def value(v):
        return s(v) if isinstance(v, str) else [s(x) for x in v] if isinstance(v, list) else v
    return Graph(s(graph.root), {s(k): {a: value(v) for a, v in n.items()} for k, n in graph.nodes.items()},
                 [(s(a), s(b), kind) for a, b, kind in graph.edges])
