"""Where a version, a registry link and a digest index entry live in their trees
(docs/format.md, "Artifact tree" and "Registered model tree"): fan-out folders, so
that a commit rewrites a few small trees, not one that grows with every version.

    versions/<N // 256>/v<N>     the bucket in decimal: v0..v255 in versions/0/, v256 in versions/1/
    trash/<N // 256>/v<N>        likewise
    links/<K // 256>/v<K>        a registered model's links
    digests/<2 hex>/<2 hex>/<60 hex>   the dedup index, by the digest's first four hex digits

The path functions are pure (the format migration calls them too); ``numbered``
and ``digests_below`` read a tree laid out so, and refuse anything else in it.
"""
from __future__ import annotations

import re

from ..errors import IntegrityError
from .odb import OBJECT_TREE, Tree

FANOUT = 256  # versions (and links) per bucket
_VERSION_RE = re.compile(r"v(0|[1-9][0-9]*)")
_BUCKET_RE = re.compile(r"0|[1-9][0-9]*")
_HEX_RE = re.compile(r"[0-9a-f]+")


def is_version(name) -> bool:
    """``name`` is a version (or link) name as mvc writes it: v0, v1, ... (no leading zeros)."""
    return isinstance(name, str) and _VERSION_RE.fullmatch(name) is not None


def bucket(version: str) -> str:
    """The fan-out folder of ``version``: N // 256 in decimal."""
    if not is_version(version):
        raise ValueError(f"{version!r} is not a version name (v<N>)")
    return str(int(version[1:]) // FANOUT)


def version_path(version: str, trash: bool = False) -> str:
    """'versions/0/v3' (or 'trash/0/v3'): where ``version`` lives in an artifact's tree."""
    return f"{'trash' if trash else 'versions'}/{bucket(version)}/{version}"


def link_path(link: str) -> str:
    """'links/0/v3': where ``link`` lives in a registered model's tree."""
    return f"links/{bucket(link)}/{link}"


def digest_path(digest: str) -> str:
    """'digests/ab/cd/ef01...': the dedup index entry of an artifact digest (lower-case hex)."""
    if not isinstance(digest, str) or len(digest) < 5 or not _HEX_RE.fullmatch(digest):
        raise ValueError(f"{digest!r} is not an artifact digest (lower-case hex)")
    return f"digests/{digest[:2]}/{digest[2:4]}/{digest[4:]}"


# ---- reading -------------------------------------------------------------------------
def numbered(meta, tree: Tree | None, folder: str) -> list[tuple[str, str]]:
    """(name, tree id) of every version (or link) below ``folder`` ('versions', 'trash',
    'links') of ``tree``, in number order.  An entry that is not where this layout puts
    one is an IntegrityError: a reader (gc above all) must not skip a version."""
    top = meta.subtree(tree, folder) if tree is not None else None
    if top is None:
        return []
    out = []
    for b in top:
        if b.type != OBJECT_TREE or not _BUCKET_RE.fullmatch(b.name):
            raise _misplaced(tree, f"{folder}/{b.name}", "a bucket folder named by a number")
        for e in meta.get(b.id, f"folder {folder}/{b.name} in tree {tree.id}"):
            if e.type != OBJECT_TREE or not is_version(e.name) or bucket(e.name) != b.name:
                raise _misplaced(tree, f"{folder}/{b.name}/{e.name}", f"a folder v<N> with N // {FANOUT} = {b.name}")
            out.append((e.name, e.id))
    return sorted(out, key=lambda t: int(t[0][1:]))


def digests_below(meta, tree: Tree | None, prefix: str = "") -> list[str]:
    """Every digest in the dedup index of ``tree`` that starts with ``prefix`` (hex), sorted."""
    node = meta.subtree(tree, "digests") if tree is not None else None
    if node is None:
        return []
    found = [("", node)]
    for level in (0, 2):  # the two bucket levels: digests/ab/, digests/ab/cd/
        found = [(name + e.name, meta.get(e.id, f"folder digests/{name}{e.name} in tree {tree.id}"))
                 for name, sub in found for e in sub
                 if e.type == OBJECT_TREE and e.name.startswith(prefix[level:level + 2])]
    return sorted(name + e.name for name, sub in found for e in sub if (name + e.name).startswith(prefix))


def _misplaced(tree, path: str, want: str) -> IntegrityError:
    return IntegrityError(f"{path} in tree {tree.id} is not where mvc keeps anything (expected {want}); "
                          "the metadata is damaged, hostile, or of an older format",
                          "run `mvc fsck`; a format-1 store is converted with `mvc migrate`")
