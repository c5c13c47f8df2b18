"""What changed between two versions: files, tensors inside safetensors and GGUF files,
keys inside JSON files (`mvc diff`, `Api().diff`; the JSON shape is in docs/cli.md).

The chunk lists in the versions' pointers do most of the work: equal file digests mean
equal files, and a tensor whose byte range is covered by the same chunks at the same
places in both files is unchanged without reading a byte of it (the tensor-aligned
chunkers put a chunk boundary at every tensor start).  Only tensors whose chunks differ
are read, block by block (diff_values), and every chunk read is checked against its id
(diff_read: as it is read, before any result leaves).
"""
from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from ..errors import IntegrityError
from ..store.digest import cores
from . import diff_json
from .diff_read import ChunkTooLarge, StoredFile
from .diff_tensors import IndexError_, Tensor, TensorIndex, read_index, sniff
from .diff_values import Change

SCHEMA = 1
WORKERS = 2  # threads comparing tensors; each holds one chunk per file (docs/performance.md, "Diff")


def diff_versions(repo, va, vb, progress=None) -> dict:
    """The diff of version ``va`` (old) against ``vb`` (new), as the documented JSON object;
    ``progress(nbytes)`` is told of the tensor bytes compared (both sides) as they are."""
    from .repository import _label, check_digest
    ea, eb = repo.entries(va), repo.entries(vb)
    check_digest(_label(va), va.record, ea)
    check_digest(_label(vb), vb.record, eb)
    ctx = _Context(repo.chunks, _label(va), _label(vb), progress)
    a, b = dict(ea), dict(eb)
    from ..errors import IntegrityError, NotFoundError
    from .lease import Lease
    with Lease(repo.path, "diff", reads=[str(va.tree), str(vb.tree)]):  # gc keeps both versions' chunks meanwhile
        try:
            files = _file_changes(ctx, a, b)
        except (NotFoundError, IntegrityError) as e:  # lost the race anyway: deleted before the lease was seen
            raise repo._deleted_meanwhile(va, e) or repo._deleted_meanwhile(vb, e) or e
    same = sum(1 for p in a.keys() & b.keys() if a[p].digest == b[p].digest)
    return {"schema": SCHEMA, "a": _side(va, ea), "b": _side(vb, eb),
            "identical": va.record.get("digest") == vb.record.get("digest"),
            "files": files, "summary": _summary(files, same, ctx)}


class _Context:
    def __init__(self, chunks, label_a: str, label_b: str, progress=None):
        self.chunks, self.label_a, self.label_b = chunks, label_a, label_b
        self.progress = progress or (lambda nbytes: None)
        self.bytes_read = 0


def _side(v, entries) -> dict:
    return {"address": f"{v.project}/{v.name}:{v.version}", "project": v.project, "name": v.name,
            "version": v.version, "digest": v.record.get("digest"), "files": len(entries),
            "size": sum(ptr.size for _, ptr in entries)}


def _file_changes(ctx: _Context, a: dict, b: dict) -> list[dict]:
    out = [_changed(ctx, p, a[p], b[p]) for p in sorted(a.keys() & b.keys()) if a[p].digest != b[p].digest]
    gone = {p: a[p] for p in sorted(a.keys() - b.keys())}
    by_digest: dict = {}
    for p, ptr in gone.items():
        by_digest.setdefault(ptr.digest, []).append(p)
    for p in sorted(b.keys() - a.keys()):
        olds = by_digest.get(b[p].digest)
        if olds:
            old = olds.pop(0)
            del gone[old]
            out.append(_entry(p, old, "renamed", a[old], b[p]))
        else:
            out.append(_entry(p, None, "added", None, b[p]))
    out += [_entry(p, p, "removed", ptr, None) for p, ptr in gone.items()]
    return sorted(out, key=lambda e: (e["path"], e["status"]))


def _entry(path: str, old_path: str | None, status: str, pa, pb) -> dict:
    return {"path": path, "old_path": old_path, "status": status,
            "old_size": pa.size if pa else None, "new_size": pb.size if pb else None,
            "old_digest": pa.digest if pa else None, "new_digest": pb.digest if pb else None,
            "format": None, "shared_bytes": None, "tensors": None, "json": None, "metadata": None, "note": None}


def _changed(ctx: _Context, path: str, pa, pb) -> dict:
    e = _entry(path, path, "changed", pa, pb)
    if pa.is_reference or pb.is_reference:
        e["note"] = "a reference to bytes outside the store: compared by digest only"
        return e
    e["shared_bytes"] = _shared_bytes(pa, pb)
    fa = StoredFile(ctx.chunks, pa.chunks, f"{ctx.label_a}: {path}")
    fb = StoredFile(ctx.chunks, pb.chunks, f"{ctx.label_b}: {path}")
    try:
        _inside(e, path, fa, fb, ctx.progress)
    except ChunkTooLarge as err:
        e.update(tensors=None, json=None, metadata=None, note=f"compared by chunks only: {err}")
    finally:
        ctx.bytes_read += fa.bytes_read + fb.bytes_read
        fa.close()
        fb.close()
    return e


def _shared_bytes(pa, pb) -> int:
    """Bytes of the new file in chunks the old file has too (a byte-level measure that reads nothing)."""
    old = {cid for cid, _ in pa.chunks}
    return sum(n for cid, n in pb.chunks if cid in old)


def _inside(e: dict, path: str, fa: StoredFile, fb: StoredFile, progress) -> None:
    """Fill in the tensor or key-level changes of one changed file, or a note saying why not."""
    fmt = sniff(fa, path)
    if fmt and fmt == sniff(fb, path):
        e["format"] = fmt
        try:
            ia, ib = read_index(fa, fmt), read_index(fb, fmt)
        except IndexError_ as err:
            e["note"] = f"tensor index unreadable, compared by chunks only: {err}"
            return
        e["tensors"] = _tensor_changes(fa, fb, ia, ib, progress)
        if (ia.metadata or {}) != (ib.metadata or {}):
            e["metadata"] = diff_json.changes(ia.metadata or {}, ib.metadata or {})
    elif path.endswith(".json"):
        e["format"] = "json"
        _json_changes(e, fa, fb)


def _json_changes(e: dict, fa: StoredFile, fb: StoredFile) -> None:
    if max(fa.size, fb.size) > diff_json.MAX_DOCUMENT:
        e["note"] = f"JSON over {diff_json.MAX_DOCUMENT >> 20} MiB: compared by chunks only"
        return
    try:
        old, new = diff_json.parse(fa.read(0, fa.size)), diff_json.parse(fb.read(0, fb.size))
    except diff_json.TooDeep as err:   # valid JSON, but deeper than Python's parser recurses
        e["note"] = f"JSON {err}: compared by chunks only"
        return
    except ValueError as err:  # UnicodeDecodeError is a ValueError
        e["note"] = f"not valid JSON ({err}): compared by chunks only"
        return
    e["json"] = diff_json.changes(old, new)


def _tensor_changes(fa: StoredFile, fb: StoredFile, ia: TensorIndex, ib: TensorIndex, progress) -> dict:
    a, b = ia.tensors, ib.tensors
    out = {"added": [_tensor(b[n], "added", None, b[n]) for n in sorted(b.keys() - a.keys())],
           "removed": [_tensor(a[n], "removed", a[n], None) for n in sorted(a.keys() - b.keys())],
           "changed": [], "unchanged": 0, "read": 0}
    to_read = []
    for name in sorted(a.keys() & b.keys()):
        ta, tb = a[name], b[name]
        if ta.dtype != tb.dtype or ta.shape != tb.shape or ta.end - ta.start != tb.end - tb.start:
            out["changed"].append(_tensor(ta, "changed", ta, tb))
        elif fa.covering(ta.start, ta.end) == fb.covering(tb.start, tb.end):
            out["unchanged"] += 1
        else:
            to_read.append((ta, tb))
    out["read"] = len(to_read)
    for (ta, tb), stats in zip(to_read, _compare_all(fa, fb, to_read, progress)):
        if stats["bytes_changed"]:
            out["changed"].append({**_tensor(ta, "changed", ta, tb), **stats})
        else:
            out["unchanged"] += 1
    out["changed"].sort(key=lambda t: t["name"])
    return out


def _compare_all(fa: StoredFile, fb: StoredFile, pairs: list, progress) -> list[dict]:
    """``_compare`` each tensor pair, on up to WORKERS threads: numpy and BLAKE3 release the GIL,
    so the widening and sums of one tensor overlap the reading of the next.  Each thread reads
    through its own clones of the two files (one chunk each in hand), all closed before return."""
    workers = min(WORKERS, cores(), len(pairs))
    if workers <= 1:
        return [_compare(fa, fb, ta, tb, progress) for ta, tb in pairs]
    local, lock, clones = threading.local(), threading.Lock(), []

    def one(pair):
        if not hasattr(local, "files"):
            local.files = (fa.clone(), fb.clone())
            with lock:
                clones.append(local.files)
        return _compare(*local.files, *pair, told)

    def told(nbytes: int) -> None:
        with lock:
            progress(nbytes)
    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, pairs))
    finally:
        for ca, cb in clones:
            fa.bytes_read += ca.bytes_read
            fb.bytes_read += cb.bytes_read
            ca.close()
            cb.close()


def _tensor(t: Tensor, status: str, ta: Tensor | None, tb: Tensor | None) -> dict:
    return {"name": t.name, "status": status,
            "old_dtype": ta.dtype if ta else None, "new_dtype": tb.dtype if tb else None,
            "old_shape": list(ta.shape) if ta else None, "new_shape": list(tb.shape) if tb else None,
            "old_bytes": ta.end - ta.start if ta else None, "new_bytes": tb.end - tb.start if tb else None,
            "bytes_changed": None, "max_abs_delta": None, "rel_l2": None, "cosine": None}


def _compare(fa: StoredFile, fb: StoredFile, ta: Tensor, tb: Tensor, progress) -> dict:
    """Stream both tensors in blocks of a few hundred KiB, each side read and hashed straight into
    its half of the Change's buffer (StoredFile.blocks).  zip_longest, not zip: each side's iterator must run to its end,
    where it checks its last chunk against its id, before the result may be returned."""
    import numpy as np
    change = Change(ta.dtype)
    n = ta.end - ta.start
    if ta.start + n > fa.size or tb.start + n > fb.size:
        raise IntegrityError(f"{fa.label if ta.start + n > fa.size else fb.label}: tensor {ta.name!r} "
                             "ends past its file")
    xs = fa.blocks(ta.start, n, change.block, out=change.sides[0])
    ys = fb.blocks(tb.start, n, change.block, out=change.sides[1])
    try:
        with np.errstate(all="ignore"):  # NaN and infinities end as None in the result, not as warnings
            for x, _ in itertools.zip_longest(xs, ys):
                change.add_sides(len(x))
                progress(2 * len(x))
    finally:
        xs.close()
        ys.close()
    return change.result()


def _summary(files: list[dict], unchanged_files: int, ctx: _Context) -> dict:
    count = {s: sum(1 for f in files if f["status"] == s) for s in ("added", "removed", "changed", "renamed")}
    tensors = [f["tensors"] for f in files if f["tensors"]]
    jsons = [f["json"] for f in files if f["json"]]
    return {"files_added": count["added"], "files_removed": count["removed"], "files_changed": count["changed"],
            "files_renamed": count["renamed"], "files_unchanged": unchanged_files,
            "tensors_added": sum(len(t["added"]) for t in tensors),
            "tensors_removed": sum(len(t["removed"]) for t in tensors),
            "tensors_changed": sum(len(t["changed"]) for t in tensors),
            "tensors_unchanged": sum(t["unchanged"] for t in tensors),
            "tensors_read": sum(t["read"] for t in tensors),
            "json_keys_changed": sum(diff_json.count_changes(j) for j in jsons),
            "metadata_keys_changed": sum(diff_json.count_changes(f["metadata"]) for f in files if f["metadata"]),
            "bytes_read": ctx.bytes_read}
