"""Api().diff: resolve two addresses and compare the versions they name (mvc/repo/diff.py)."""
from __future__ import annotations


def diff(repo, project: str, a, b, progress=None) -> dict:
    """The changes from version ``a`` (old) to ``b`` (new): any two addresses, of one artifact
    or two (`name:v1`, `name:best`, `registry/M:production`, `name@digestprefix`), or Artifacts
    of this store as `api.artifact` and `run.use_artifact` return them (as W&B code holds them).  The
    result's shape is documented in docs/cli.md ("mvc diff"); ``a`` and ``b`` in it carry
    ``via_link`` (the registry link an address went through, else null).  ``progress(nbytes)``
    hears of the tensor bytes compared."""
    from ..repo.diff import diff_versions
    va, link_a = _resolve(repo, project, a, "a")
    vb, link_b = _resolve(repo, project, b, "b")
    out = diff_versions(repo, va, vb, progress)
    out["a"]["via_link"] = _via(link_a)
    out["b"]["via_link"] = _via(link_b)
    return out


def change_phrase(f: dict) -> str | None:
    """What changed inside a changed file of a diff, as `mvc diff` and `mvc ui` say it: its
    tensors (and header metadata keys), or its JSON keys; None for one compared by bytes only."""
    from ..repo.diff_json import count_changes
    from ..text import counted
    t, j, m = f.get("tensors"), f.get("json"), f.get("metadata")
    if t:
        parts = [f"{len(t[k])} {k}" for k in ("changed", "added", "removed") if t[k]]
        text = "tensors: " + (", ".join(parts) or "none changed") + f" ({t['unchanged']} unchanged)"
        if m:  # else a file whose header metadata alone changed reads as "none changed"
            text += f", {counted(count_changes(m), 'metadata key')} changed"
        return text
    if j:
        return f"{counted(count_changes(j), 'key')} changed"
    return None


def _via(link) -> str | None:
    return f"registry/{link.model}:{link.link}" if link is not None else None


def _resolve(repo, project: str, address, which: str):
    """(version, link) of an address, or of a logged Artifact of this store (not resolved again:
    an alias may have moved since it was read, as ``run.use_artifact`` takes it)."""
    from ..errors import InvalidInputError, UsageError
    from .artifact import Artifact
    if isinstance(address, Artifact):
        if address.is_draft():
            raise UsageError(f"artifact {address.name!r} is a draft; only logged versions can be diffed",
                             "log it first (run.log_artifact(artifact)), then diff the version it returns")
        if address._repo.path != repo.path:
            raise UsageError(f"{address.address} is an artifact of another store ({address._repo.path})",
                             "diff versions of one store: open it with mvc.Api(dir=...)")
        return address._info, address.via_link
    if not isinstance(address, str):
        raise InvalidInputError(f"diff's {which} must be an address (str) or an Artifact, not "
                                f"{type(address).__name__}", "pass e.g. 'NAME:v0', 'NAME:best' or 'registry/M:production'")
    return repo.resolve(address, project)
