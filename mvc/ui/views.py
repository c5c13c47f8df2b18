"""What each page shows, as plain data read through the public API.

Nothing here renders HTML: the templates do, with Jinja2's autoescape, so every string
from the store (names, metadata, descriptions, paths, run config) reaches the page escaped.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

from ..api.diff import change_phrase
from ..errors import MvcError, UsageError


def href(*parts: str) -> str:
    """A path of this app from its segments, each percent-encoded (no segment can add a '/')."""
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


def artifact_href(project: str, name: str, *rest: str) -> str:
    return href("p", project, "a", name, *rest)


def run_href(run_id: str, *rest: str) -> str:
    return href("runs", run_id, *rest)


def address_href(address: str) -> str:
    """The version page of ``project/name:vN``."""
    project, _, rest = address.partition("/")
    name, _, version = rest.rpartition(":")
    return artifact_href(project, name, version)


def home(api) -> dict:
    projects = []
    for p in api.projects():
        projects.append({"name": p, "artifacts": [artifact_row(api, p, n) for n in sorted(api.artifact_names(p))],
                         "runs": [run_row(r) for r in reversed(api.runs(p))]})
    return {"projects": projects, "models": len(api.registered_models()), "store": api.repo.path,
            "damaged": api.damaged_refs()}


def artifact_row(api, project: str, name: str) -> dict:
    versions = api.artifacts(name, project=project)
    aliases = {a: v.version for v in versions for a in v.aliases}
    latest = next((v for v in versions if v.version == aliases.get("latest")), None)
    return {"name": name, "project": project, "href": artifact_href(project, name),
            "type": versions[0].type if versions else None, "versions": len(versions),
            "latest": latest.version if latest else None, "size": latest.size if latest else 0,
            "aliases": sorted((a, v) for a, v in aliases.items() if a != "latest")}


def artifact(api, project: str, name: str) -> dict:
    versions = api.artifacts(name, project=project)
    deleted = api.artifacts(name, project=project, deleted=True)
    rows = [version_row(v) for v in reversed(versions)]
    return {"project": project, "name": name, "versions": rows, "deleted": [version_row(v) for v in deleted],
            "type": versions[0].type if versions else None, "href": artifact_href(project, name),
            "history_href": artifact_href(project, name, "aliases")}


def version_row(v) -> dict:
    return {"version": v.version, "href": artifact_href(v.project, v.name, v.version), "aliases": v.aliases,
            "size": v.size, "files": v.file_count, "created_at": v.created_at, "digest": v.digest or "",
            "logged_by": v.created_by, "metadata": preview(v.metadata), "tags": v.tags}


def preview(metadata: dict, limit: int = 4) -> str:
    """A one-line taste of the metadata (key=value, the first few keys)."""
    items = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in list(metadata.items())[:limit]]
    more = len(metadata) - limit
    return ", ".join(items) + (f", … (+{more})" if more > 0 else "")


def alias_history(api, project: str, name: str) -> dict:
    api.artifacts(name, project=project)   # NotFoundError for an unknown artifact
    moves = [move(h) for h in api.alias_history(f"{project}/{name}")]
    return {"project": project, "name": name, "moves": moves, "href": artifact_href(project, name),
            "versions": [v.version for v in reversed(api.artifacts(name, project=project))],
            "aliases": alias_targets(api, project, name)}


def alias_targets(api, project: str, name: str) -> list[tuple[str, str]]:
    return sorted((a, v.version) for v in api.artifacts(name, project=project) for a in v.aliases)


def move(h: dict) -> dict:
    """One alias move: added (no from), removed (no to) or moved."""
    kind = "added" if not h.get("from") else "removed" if not h.get("to") else "moved"
    return {"alias": h["alias"], "from": h.get("from"), "to": h.get("to"), "who": h.get("who"),
            "email": h.get("email"), "when": when(h.get("when")), "op": h.get("op"), "run": h.get("run"),
            "commit": (h.get("commit") or "")[:12], "kind": kind}


def version(api, project: str, name: str, ver: str) -> dict:
    v = api.artifact(f"{project}/{name}:{ver}")
    others = [o.version for o in reversed(api.artifacts(name, project=project)) if o.version != v.version]
    # the form's default is the version before this one (as a compare view starts), not the newest
    earlier = [o for o in others if int(o[1:]) < int(v.version[1:])]
    return {"v": v, "address": v.address, "project": project, "name": name, "version": v.version,
            "href": artifact_href(project, name), "files": v.files(),
            "metadata": json.dumps(v.metadata, indent=2, ensure_ascii=False, sort_keys=True) if v.metadata else "",
            "logged_by": [run_row(r) for r in v.loggers()], "used_by": [run_row(r) for r in v.used_by() if r],
            "links": [{"address": li.address, "href": href("registry", li.model), "aliases": li.aliases,
                       "linked_at": li.linked_at} for li in v.links()],
            "others": others, "previous": earlier[0] if earlier else None,
            "lineage_href": artifact_href(project, name, v.version, "lineage"),
            "diff_href": artifact_href(project, name, v.version, "diff")}


def run_row(r) -> dict:
    return {"id": r.id, "name": r.name, "job_type": r.job_type, "state": r.state, "href": run_href(r.id),
            "started_at": r.started_at}


def run(api, run_id: str) -> dict:
    r = api.run(run_id)
    return {"r": run_row(r), "project": r.project, "ended_at": r.ended_at, "tags": r.tags,
            "config": pretty(r.config), "summary": pretty(r.summary),
            "inputs": [v_link(a) for a in r.used()], "outputs": [v_link(a) for a in r.logged()],
            "lineage_href": run_href(r.id, "lineage")}


def v_link(a) -> dict:
    return {"address": a.address, "href": artifact_href(a.project, a.name, a.version), "aliases": a.aliases}


def pretty(d) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False, sort_keys=True) if d else ""


def registry(api) -> dict:
    return {"models": [model_row(m) for m in api.registered_models()], "damaged": api.damaged_refs("registry")}


def model_row(m) -> dict:
    links = m.links()
    return {"name": m.name, "href": href("registry", m.name), "description": m.description,
            "created_at": m.created_at, "aliases": sorted(m.aliases.items()),
            "links": [link_row(li) for li in links]}


def link_row(li) -> dict:
    return {"version": li.version, "source": li.source, "source_href": address_href(li.source),
            "aliases": li.aliases, "linked_at": li.linked_at, "run": li.run_id,
            "run_href": run_href(li.run_id) if li.run_id else None}


def model(api, name: str) -> dict:
    m = api.registered_model(name)
    return dict(model_row(m), moves=[move(h) for h in m.alias_history()])


def when(ts) -> str | None:
    """A commit time (seconds) or an ISO string as 'YYYY-MM-DD HH:MM:SS UTC'."""
    if ts is None or ts == "":
        return None
    if isinstance(ts, (int, float)):
        dt = datetime.fromtimestamp(ts, timezone.utc)
    else:
        try:
            dt = datetime.fromisoformat(str(ts)).astimezone(timezone.utc)
        except ValueError:
            return str(ts)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def human_size(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def error(err: Exception) -> dict:
    if isinstance(err, MvcError):
        return {"message": err.message, "hint": err.hint}
    return {"message": "mvc ui failed on this page (the server's terminal has the traceback)", "hint": ""}


def diff(api, project: str, name: str, ver: str, against: str, other: str = "") -> dict:
    """The diff of part 1 (`Api().diff`) from ``against`` (old) to this version (new).  ``against``
    is a version of the same artifact (``v3``); ``other``, when given, any address instead."""
    this = api.artifact(f"{project}/{name}:{ver}")
    old = other.strip() or (f"{project}/{name}:{against}" if against else "")
    if not old:
        raise UsageError("no version to compare with", "pick one in the version page's Diff form")
    api.project = project        # an address typed without a project means this page's (a per-request Api)
    d = api.diff(old, this.address)
    return {"d": d, "a": side(d["a"]), "b": side(d["b"]), "files": [file_change(f) for f in d["files"]],
            "summary": d["summary"], "project": project, "name": name, "version": this.version,
            "href": artifact_href(project, name, this.version), "art_href": artifact_href(project, name),
            "swap_href": _swap(d) if d["a"]["project"] == d["b"]["project"] and d["a"]["name"] == d["b"]["name"] else None}


def side(s: dict) -> dict:
    return dict(s, href=artifact_href(s["project"], s["name"], s["version"]))


def _swap(d: dict) -> str:
    b = d["b"]
    return artifact_href(d["a"]["project"], d["a"]["name"], d["a"]["version"], "diff") + "?against=" + quote(b["version"])


def file_change(f: dict) -> dict:
    t = f.get("tensors") or {}
    tensors = [dict(x, shape=_shape(x), dtype=_pair(x.get("old_dtype"), x.get("new_dtype")))
               for key in ("changed", "added", "removed") for x in t.get(key) or []]
    read_and_changed = sum(1 for x in t.get("changed") or [] if x.get("bytes_changed") is not None)
    return dict(f, tensor_rows=tensors, json_rows=key_rows(f.get("json")), meta_rows=key_rows(f.get("metadata")),
                tensors_unchanged=t.get("unchanged"), tensors_read=t.get("read"), what=_what(f),
                # unchanged tensors are known so from their chunks, or were read and found equal
                tensors_known=(t.get("unchanged") or 0) - ((t.get("read") or 0) - read_and_changed))


def _what(f: dict) -> str:
    """A short phrase, as `mvc diff --stat` says it."""
    if f["status"] == "renamed":
        return "renamed"
    if f["status"] != "changed":
        return f["status"]
    return change_phrase(f) or "bytes changed"


def _shape(x: dict) -> str:
    old, new = x.get("old_shape"), x.get("new_shape")
    fmt = lambda s: ("×".join(str(n) for n in s) or "scalar") if s is not None else None  # noqa: E731
    return _pair(fmt(old), fmt(new))


def _pair(old, new) -> str:
    if old == new or old is None or new is None:
        return str(new if new is not None else old if old is not None else "-")
    return f"{old} → {new}"


def key_rows(kd: dict | None) -> list[dict]:
    """A key diff as rows: status, path, old value, new value (JSON text; elided ones say so)."""
    if not kd:
        return []
    rows = []
    for status in ("changed", "added", "removed"):
        for c in kd.get(status) or []:
            old = c.get("old") if status == "changed" else c.get("value") if status == "removed" else None
            new = c.get("new") if status == "changed" else c.get("value") if status == "added" else None
            elided = c.get("elided")   # only the large side is null: a small one is kept (docs/cli.md)
            shown = lambda v: "(over 4 KiB: not shown)" if elided and v is None else _json(v)  # noqa: E731
            rows.append({"status": status, "path": c["path"], "old": shown(old) if status != "added" else "",
                         "new": shown(new) if status != "removed" else ""})
    return rows


def _json(v) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)
