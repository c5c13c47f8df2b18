"""Plain-dict views of API objects: the documented --json fields (docs/cli.md).
Tables are built from the same dicts, so text and JSON never disagree."""
from __future__ import annotations


def version_row(art) -> dict:
    """One version in a listing (`mvc ls NAME --json`)."""
    return {"address": art.address, "name": art.name, "project": art.project, "version": art.version,
            "type": art.type, "aliases": sorted(art.aliases), "tags": list(art.tags), "size": art.size,
            "files": art.file_count, "created_at": art.created_at, "digest": art.digest,
            "logged_by": art.created_by, "deleted": bool(art.deleted)}


def run_ref(rec) -> dict:
    return {"id": rec.id, "name": rec.name, "project": rec.project, "job_type": rec.job_type}


def version_detail(art) -> dict:
    """One version in full (`mvc show --json`)."""
    out = version_row(art)
    out.update({
        "entity": art.entity, "metadata": art.metadata, "description": art.description,
        "files": [{"path": f.path, "size": f.size, "digest": f.digest, "reference": f.reference}
                  for f in art.files()],
        "file_count": art.file_count,
        "logged_by": [run_ref(r) for r in art.loggers()],
        "used_by": [run_ref(r) for r in art.used_by() if r is not None],
        "links": [{"address": li.address, "aliases": li.aliases, "linked_at": li.linked_at} for li in art.links()],
        "via_link": f"registry/{art.via_link.model}:{art.via_link.link}" if art.via_link else None,
    })
    return out


def link_row(link) -> dict:
    return {"address": link.address, "model": link.model, "version": link.version, "source": link.source,
            "aliases": link.aliases, "linked_at": link.linked_at, "run": link.run_id}


def model_row(model) -> dict:
    links = model.links()
    aliases = model.aliases
    latest = next((li.source for li in links if li.version == aliases.get("latest")), None)
    return {"name": model.name, "links": len(links), "aliases": aliases, "latest": latest,
            "description": model.description, "created_at": model.created_at}


def run_row(rec) -> dict:
    return {"id": rec.id, "name": rec.name, "project": rec.project, "job_type": rec.job_type,
            "state": rec.state, "started_at": rec.started_at, "ended_at": rec.ended_at,
            "inputs": _addresses(rec.inputs), "outputs": _addresses(rec.outputs)}


def run_detail(rec) -> dict:
    out = run_row(rec)
    r = rec.record
    out.update({"entity": rec.entity, "tags": rec.tags, "notes": r.get("notes", ""), "config": rec.config,
                "summary": rec.summary, "exit_code": r.get("exit_code"), "error": r.get("error"),
                "env": r.get("env", {}), "dir": r.get("dir"),
                "inputs": [{"address": _addr(i), "digest": i.get("digest"), "via": i.get("via")} for i in rec.inputs],
                "outputs": [{"address": _addr(o), "digest": o.get("digest"), "created": o.get("created")}
                            for o in rec.outputs]})
    return out


def _addr(item: dict) -> str:
    return f"{item['project']}/{item['name']}:{item['version']}"


def _addresses(items: list[dict]) -> list[str]:
    return list(dict.fromkeys(_addr(i) for i in items))
