"""Store usage (``mvc du``): logical bytes (what the versions hold), stored
bytes (what the chunks cost on disk) and the dedup ratio between them, for the
whole store, per artifact and per version.

- a version's ``stored`` counts each distinct chunk it references once; its
  ``new`` counts the chunks no earlier version of the same artifact referenced
  (what logging it added);
- an artifact's ``stored`` counts each distinct chunk of all its versions once;
- the store's ``stored`` is every chunk the store holds (``referenced`` is the
  part some live version uses; the rest is for gc).
References (bytes outside the store) count as logical, never as stored.
The whole-file cache (``files/``, what hardlinked uses link to) is shown apart
(``file_cache``): it is derived, and gc trims it to its size limit.
"""
from __future__ import annotations

from ..errors import NotFoundError


def _ratio(logical: int, stored: int) -> float | None:
    return round(logical / stored, 3) if stored else None


class _Sizes:
    def __init__(self, store):
        self.store, self.known = store, {}

    def __call__(self, cid: str) -> int:
        if cid not in self.known:
            try:
                self.known[cid] = self.store.stored_size(cid)
            except (NotFoundError, FileNotFoundError, KeyError):
                self.known[cid] = 0  # missing: fsck names it; it costs nothing here
        return self.known[cid]


def _version_row(repo, v, sizes, seen: set) -> tuple[dict, set]:
    chunks = {cid for _, ptr in repo.entries(v) for cid, _ in ptr.chunks}
    new = chunks - seen
    row = {"version": v.version, "logical": v.record.get("size", 0), "stored": sum(map(sizes, chunks)),
           "new": sum(map(sizes, new)), "files": v.record.get("files", 0)}
    row["dedup_ratio"] = _ratio(row["logical"], row["stored"])
    return row, chunks


def artifact_usage(repo, project: str, name: str, sizes=None) -> tuple[dict, set]:
    sizes = sizes or _Sizes(repo.chunks)
    st = repo.artifact_state(project, name)
    seen: set = set()
    rows = []
    for v in repo.artifacts.versions(st):
        row, chunks = _version_row(repo, v, sizes, seen)
        rows.append(row)
        seen |= chunks
    logical = sum(r["logical"] for r in rows)
    stored = sum(map(sizes, seen))
    return {"project": project, "name": name, "logical": logical, "stored": stored,
            "dedup_ratio": _ratio(logical, stored), "versions": rows}, seen


def store_usage(repo, project: str | None = None) -> dict:
    """Usage of every artifact (of ``project``, or of all projects) and of the store."""
    sizes = _Sizes(repo.chunks)
    arts, referenced = [], set()
    for p, n in sorted(repo.artifacts.list(project)):
        row, chunks = artifact_usage(repo, p, n, sizes)
        arts.append(row)
        referenced |= chunks
    logical = sum(a["logical"] for a in arts)
    ref_bytes = sum(map(sizes, referenced))
    all_bytes = sum(map(sizes, repo.chunks.ids()))
    from ..store.linkmodes import cache_usage
    return {"logical": logical, "stored": all_bytes, "referenced": ref_bytes,
            "unreferenced": all_bytes - ref_bytes, "dedup_ratio": _ratio(logical, ref_bytes),
            "chunks": len(sizes.known), "artifacts": arts, "file_cache": cache_usage(repo.path)}
