"""mvc ls: artifacts, or the versions of one."""
import click

from .. import context, output, views
from ..params import SINCE


@click.command(short_help="List artifacts, or the versions of one, with aliases and sizes.")
@click.argument("name", required=False)
@click.option("--alias", metavar="A", help="Only versions holding this alias.")
@click.option("--tag", metavar="TAG", help="Only versions with this tag.")
@click.option("--type", "type_", metavar="T", help="Only artifacts (or versions) of this type.")
@click.option("--since", type=SINCE, metavar="WHEN",
              help="Only versions created since WHEN: a duration ago (90s, 30m, 1.5h, 2d, 2w) or an ISO date.")
@click.option("--deleted", is_flag=True, help="List soft-deleted versions of NAME instead (see `mvc restore`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (fields: see docs/cli.md).")
def command(name, alias, tag, type_, since, deleted, as_json) -> None:
    """Without NAME: every artifact of the project (name, type, versions,
    latest, aliases, size).  With NAME: its versions (version, aliases, size,
    files, created, digest prefix, the run that logged it)."""
    api = context.get().api()
    if name is None:
        if alias or tag or since is not None or deleted:
            raise click.UsageError("--alias, --tag, --since and --deleted need an artifact NAME")
        _artifacts(api, type_, as_json)
        return
    arts = api.artifacts(name, alias=alias, tag=tag, type=type_, since=since, deleted=deleted)
    rows = [views.version_row(a) for a in arts]
    if as_json:
        output.emit_json(rows)
        return
    output.table([[r["version"], ", ".join(r["aliases"]), output.human_size(r["size"]), r["files"],
                   output.short_time(r["created_at"]), output.short_digest(r["digest"]), r["logged_by"] or "-"]
                  for r in rows], ["version", "aliases", "size", "files", "created", "digest", "logged by"],
                 empty="(no versions match)")


def _artifacts(api, type_, as_json) -> None:
    rows = [_artifact_row(api, n) for n in sorted(api.artifact_names(type=type_))]
    if as_json:
        output.emit_json(rows)
        output.report_unreadable(api, "artifact", api.project)
        return
    output.table([[r["name"], r["type"], r["versions"], r["latest"] or "-",
                   " ".join(f"{a}:{v}" for a, v in sorted(r["aliases"].items()) if a != "latest") or "-",
                   output.human_size(r["size"])] for r in rows],
                 ["name", "type", "versions", "latest", "aliases", "size"], empty="(no artifacts)")
    output.report_unreadable(api, "artifact", api.project)


def _artifact_row(api, name: str) -> dict:
    versions = api.artifacts(name)
    aliases = {a: v.version for v in versions for a in v.aliases}
    latest = next((v for v in versions if v.version == aliases.get("latest")), None)
    return {"name": name, "project": api.project, "type": versions[0].type if versions else None,
            "versions": len(versions), "latest": latest.version if latest else None, "aliases": aliases,
            "size": latest.size if latest else 0, "total_size": sum(v.size for v in versions),
            "updated_at": max((v.created_at or "" for v in versions), default=None) or None}
