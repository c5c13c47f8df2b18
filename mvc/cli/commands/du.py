"""mvc du: logical bytes, stored bytes and the dedup ratio (store, artifacts, versions)."""
import click

from .. import context, output


@click.command(short_help="Show logical and stored bytes and the dedup ratio.")
@click.argument("name", required=False)
@click.option("--all-projects", is_flag=True, help="Count the artifacts of every project, not only this one.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: logical, stored, referenced, unreferenced, dedup_ratio, file_cache, "
                   "artifacts[].versions[].")
def command(name, all_projects, as_json) -> None:
    """Without NAME: the store and each artifact.  With NAME: its versions
    (logical size, distinct stored bytes, bytes new in that version)."""
    api = context.get().api()
    if name:
        data = api.du(name)
        if as_json:
            output.emit_json(data)
            return
        output.table([[r["version"], output.human_size(r["logical"]), output.human_size(r["stored"]),
                       output.human_size(r["new"]), _x(r["dedup_ratio"])] for r in data["versions"]],
                     ["version", "logical", "stored", "new", "dedup"], empty="(no versions)")
        click.echo(f"total: {output.human_size(data['logical'])} logical, "
                   f"{output.human_size(data['stored'])} stored, dedup {_x(data['dedup_ratio'])}")
        return
    data = api.du(all_projects=all_projects)
    if as_json:
        output.emit_json(data)
        return
    output.table([[a["name"], len(a["versions"]), output.human_size(a["logical"]), output.human_size(a["stored"]),
                   _x(a["dedup_ratio"])] for a in data["artifacts"]],
                 ["artifact", "versions", "logical", "stored", "dedup"], empty="(no artifacts)")
    click.echo(f"store: {output.human_size(data['logical'])} logical, {output.human_size(data['stored'])} stored "
               f"({output.human_size(data['unreferenced'])} unreferenced), dedup {_x(data['dedup_ratio'])}")
    cache = data["file_cache"]
    click.echo(f"file cache: {output.counted(cache['files'], 'whole file')}, {output.human_size(cache['bytes'])} "
               f"({output.human_size(cache['shared'])} shared with hardlinked uses), "
               f"limit {output.human_size(cache['limit'])}; `mvc gc` trims it")


def _x(ratio) -> str:
    return f"{ratio:.2f}x" if ratio else "-"
