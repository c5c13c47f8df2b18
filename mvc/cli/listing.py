"""The tables of `mvc ls`, without click: commands/ls.py calls them after click has parsed the
command line, and mvc/cli/launch.py calls them directly for the plain forms of `mvc ls`."""
from __future__ import annotations

from . import output, views


def artifacts(api, type_, as_json: bool) -> None:
    """Every artifact of the project: name, type, versions, latest, aliases, size (and, when the
    store holds other projects but not this one, an error or a note naming them)."""
    note = api.check_project_listed()
    rows = [_artifact_row(api, n) for n in sorted(api.artifact_names(type=type_))]
    if note:
        output.echo(f"mvc: note: {note}", err=True)
    if as_json:
        output.emit_json(rows)
        output.report_unreadable(api, "artifact", api.project)
        return
    output.table([[r["name"], r["type"], r["versions"], r["latest"] or "-",
                   " ".join(f"{a}:{v}" for a, v in sorted(r["aliases"].items()) if a != "latest") or "-",
                   output.human_size(r["size"])] for r in rows],
                 ["name", "type", "versions", "latest", "aliases", "size"], empty="(no artifacts)")
    output.report_unreadable(api, "artifact", api.project)


def versions(api, name: str, as_json: bool, **filters) -> None:
    """The versions of ``name`` (``filters``: alias, tag, type, since, deleted, as
    ``Api.artifacts`` takes them): version, aliases, size, files, created, digest, logged by."""
    rows = [views.version_row(a) for a in api.artifacts(name, **filters)]
    if as_json:
        output.emit_json(rows)
        return
    output.table([[r["version"], ", ".join(r["aliases"]), output.human_size(r["size"]), r["files"],
                   output.short_time(r["created_at"]), output.short_digest(r["digest"]), r["logged_by"] or "-"]
                  for r in rows], ["version", "aliases", "size", "files", "created", "digest", "logged by"],
                 empty="(no versions match)")


def _artifact_row(api, name: str) -> dict:
    versions = api.artifacts(name)
    aliases = {a: v.version for v in versions for a in v.aliases}
    latest = next((v for v in versions if v.version == aliases.get("latest")), None)
    return {"name": name, "project": api.project, "type": versions[0].type if versions else None,
            "versions": len(versions), "latest": latest.version if latest else None, "aliases": aliases,
            "size": latest.size if latest else 0, "total_size": sum(v.size for v in versions),
            "updated_at": max((v.created_at or "" for v in versions), default=None) or None}
