"""mvc show: one version in full."""
import click

from .. import context, output, views


@click.command(short_help="Show one version: files, metadata, aliases, lineage, links.")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def command(address, as_json) -> None:
    """Show the version ADDRESS names: files (path, size, digest prefix or
    reference), metadata, description, aliases, the runs that logged and used
    it, and its registry links."""
    context.checked_address(address)  # before the store is looked for: a bad one is exit 2 either way
    d = views.version_detail(context.get().api().artifact(address))
    if as_json:
        output.emit_json(d)
        return
    _print(d)


def _print(d: dict) -> None:
    echo = output.echo
    echo(f"{d['address']}" + (f"  (via {d['via_link']})" if d["via_link"] else ""))
    echo(f"  type:        {d['type']}")
    echo(f"  aliases:     {', '.join(d['aliases']) or '-'}")
    echo(f"  digest:      {d['digest']}")
    files = output.counted(d["file_count"], "file")
    echo(f"  size:        {output.human_size(d['size'])} in {files}")
    echo(f"  created:     {output.short_time(d['created_at'])}")
    if d["tags"]:
        echo(f"  tags:        {', '.join(d['tags'])}")
    if d["description"]:
        echo(f"  description: {d['description']}")
    echo(f"  logged by:   {_runs(d['logged_by'])}")
    echo(f"  used by:     {_runs(d['used_by'])}")
    echo(f"  links:       {', '.join(_link(li) for li in d['links']) or '-'}")
    if d["metadata"]:
        echo("metadata:")
        for k, v in sorted(d["metadata"].items()):
            echo(f"  {k}: {v}")
    echo("files:")
    output.table([[f["path"], output.human_size(f["size"]), f["reference"] or output.short_digest(f["digest"])]
                  for f in d["files"]], ["path", "size", "digest/reference"])


def _runs(runs: list[dict]) -> str:
    return ", ".join(f"{r['name']} ({r['id']})" for r in runs) or "-"


def _link(li: dict) -> str:
    return li["address"] + (f" [{', '.join(li['aliases'])}]" if li["aliases"] else "")
