"""Api().diff: resolve two addresses and compare the versions they name (mvc/repo/diff.py)."""
from __future__ import annotations


def diff(repo, project: str, a: str, b: str, progress=None) -> dict:
    """The changes from version ``a`` (old) to ``b`` (new): any two addresses, of one artifact
    or two (`name:v1`, `name:best`, `registry/M:production`, `name@digestprefix`).  The
    result's shape is documented in docs/cli.md ("mvc diff"); ``a`` and ``b`` in it carry
    ``via_link`` (the registry link an address went through, else null).  ``progress(nbytes)``
    hears of the tensor bytes compared."""
    from ..repo.diff import diff_versions
    va, link_a = repo.resolve(a, project)
    vb, link_b = repo.resolve(b, project)
    out = diff_versions(repo, va, vb, progress)
    out["a"]["via_link"] = _via(link_a)
    out["b"]["via_link"] = _via(link_b)
    return out


def _via(link) -> str | None:
    return f"registry/{link.model}:{link.link}" if link is not None else None
