"""`mvc migrate`: a format-1 store becomes format 2 in place (docs/format.md, "Migration").

What changes: chunk ids (xxh3-128 -> BLAKE3), file digests (BLAKE3 of the file -> composed
from the chunk ids), hence every pointer blob, version record, artifact digest, `digests/`
entry, registry link and run record that holds one; ref names and tree entries (user strings
encoded, mvc/meta/codec.py); the fan-out of `versions/`, `trash/`, `digests/` and `links/`.
Every commit of every ref is rewritten (same author, committer, times and message, digest
trailers mapped), so version numbers, aliases, alias history, registry links and runs stay.

Crash safety.  Three phases, each restartable:

1. *Prepare* (the store is format 1 and stays readable by format-1 mvc): read and check every
   chunk (its xxh3 must match its name) and hash it with BLAKE3; stage each loose chunk as a
   hard link `migrate-2/chunks/<id>` (no copy) and each chunk pack's new index as
   `migrate-2/packs/<pack>.idx`; write every rewritten git object into one new git pack
   (unreferenced: format-1 mvc ignores it); write the new refs as `migrate-2/packed-refs` and a
   journal naming the format-1 tips they were made from.  Nothing format-1 mvc reads changes.
2. *Mark*: `mvc-format.json` becomes `{"features":["migrating"],"format":2}` (one atomic
   rename).  From here format-1 mvc refuses the store, and format-2 mvc finishes the migration
   before it reads anything (``resume``).
3. *Switch* (idempotent, so a crash anywhere in it is finished by the next run): if the refs
   moved since the journal, prepare again; move the staged chunks and pack indexes into place;
   replace `packed-refs` with the staged one (one rename: the switch of every ref at once);
   remove the loose format-1 refs (they would shadow the packed ones); drop derived caches
   (`state.db`, `files/`, `git-packs-checked`); write `{"features":[],"format":2}`; remove the
   old chunk names and `migrate-2/`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field

from ..meta.pygit import pygit2
import xxhash

from .. import canonical
from ..errors import FormatError, IntegrityError
from ..fsutil import atomic_write, fsync_dir, fsync_tree
from ..meta import MetaRepo, codec, refstore
from ..meta import layout as tree_layout
from ..meta import refs as refs2
from ..meta.packwriter import MODE_BLOB, MODE_TREE, OBJ_BLOB, OBJ_COMMIT, PackBuilder
from ..store import Pointer
from ..store.digest import chunk_id, file_digest
from ..store.packs import encode_index
from . import layout
from .crash import crash_at

STAGE = "migrate-2"
MIGRATING = "migrating"
_OLD_ID = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
_DERIVED = ("state.db", "state.db-wal", "state.db-shm", "git-packs-checked")


@dataclass
class Report:
    """What a migration did (or, with --dry-run, would do)."""

    chunks: int = 0
    chunk_bytes: int = 0
    packs: int = 0
    refs: dict = field(default_factory=dict)        # old ref name -> new ref name
    commits: int = 0
    versions: int = 0
    runs: int = 0
    bytes_gone: list = field(default_factory=list)  # history-only versions whose chunks gc had removed
    seconds: float = 0.0
    done: bool = False

    def to_json(self) -> dict:
        return {"chunks": self.chunks, "chunk_bytes": self.chunk_bytes, "packs": self.packs,
                "refs": self.refs, "renamed": {a: b for a, b in self.refs.items() if a != b},
                "commits": self.commits, "versions": self.versions, "runs": self.runs,
                "bytes_gone": self.bytes_gone, "seconds": round(self.seconds, 3), "done": self.done}


# ---- phase 1: chunks ---------------------------------------------------------------------------
def _read_chunks(store: str, report: Report, stage: bool) -> dict[str, tuple[str, int]]:
    """old id -> (new id, size) for every chunk, each checked against its old id on the way."""
    out: dict[str, tuple[str, int]] = {}
    root = os.path.join(store, "chunks")
    for fan in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        for rest in sorted(os.listdir(os.path.join(root, fan))):
            old = fan + rest
            if not _OLD_ID.fullmatch(old):
                continue  # a format-2 name staged by an earlier, interrupted run, or a temp
            path = os.path.join(root, fan, rest)
            with open(path, "rb") as f:
                data = f.read()
            _check_old(old, data, path)
            new = chunk_id(data)
            out[old] = (new, len(data))
            report.chunks += 1
            report.chunk_bytes += len(data)
            if stage:
                _stage_link(store, path, new)
    for pack_id, entries, pack_path in _old_packs(store):
        with open(pack_path, "rb") as f:
            blob = f.read()
        new_entries = []
        for old, off, n in entries:
            data = blob[off:off + n]
            _check_old(old, data, f"{pack_path} at {off}")
            new = out[old][0] if old in out else chunk_id(data)
            if old not in out:
                out[old] = (new, n)
                report.chunks += 1
                report.chunk_bytes += n
            new_entries.append((new, off, n))
        report.packs += 1
        if stage:
            dest = os.path.join(store, STAGE, "packs", pack_id + ".idx")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            atomic_write(dest, encode_index(pack_id, new_entries), mode=0o444)
    return out


def _check_old(old: str, data: bytes, where: str) -> None:
    if xxhash.xxh3_128_hexdigest(data) != old:
        raise IntegrityError(f"chunk {old} ({where}) is corrupt: its bytes do not hash to its name; "
                             "mvc migrate carries no corrupt byte into format 2",
                             "restore the chunk from a backup (or delete the versions that need it with the "
                             "mvc you had), then run `mvc migrate` again; the store was left as it was")


def _old_packs(store: str):
    folder = os.path.join(store, "packs")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".idx") or name.startswith("."):
            continue
        with open(os.path.join(folder, name), "rb") as f:
            d = json.loads(f.read())
        if d.get("v") != 1:
            continue  # already a format-2 index (an interrupted switch put it there)
        yield d["pack"], [(c, o, n) for c, o, n in d["chunks"]], os.path.join(folder, d["pack"] + ".pack")


def _stage_link(store: str, src: str, new: str) -> None:
    dest = os.path.join(store, STAGE, "chunks", new[:2], new[2:])
    if os.path.exists(dest) or os.path.exists(os.path.join(store, "chunks", new[:2], new[2:])):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        os.link(src, dest)  # the same bytes under their new name: no copy
    except OSError:
        shutil.copy2(src, dest)  # a filesystem without hard links


# ---- phase 1: metadata -------------------------------------------------------------------------
class _Rewriter:
    """Format-1 git objects -> format-2 ones, memoised by old id, collected in one pack."""

    def __init__(self, meta: MetaRepo, chunks: dict[str, tuple[str, int]], report: Report):
        self.meta, self.chunks, self.report = meta, chunks, report
        self.pb = PackBuilder()
        self.pointers: dict = {}     # old blob id -> (new blob id, size, new file digest) or None (bytes gone)
        self.versions: dict = {}     # old version tree id -> (new tree id or None, old digest, new digest)
        self.digests: dict[str, str] = {}   # old artifact digest -> new
        self.commits: dict = {}      # old commit id -> new binary id

    # -- blobs and trees
    def blob(self, data: bytes) -> tuple[bytes, bytes]:
        return MODE_BLOB, self.pb.add(OBJ_BLOB, data)

    def tree(self, node: dict) -> tuple[bytes, bytes]:
        """A tree from a nested dict: name -> (mode, binary id) or a dict (a folder)."""
        entries = {n: (self.tree(v) if isinstance(v, dict) else v) for n, v in node.items()}
        return MODE_TREE, self.pb.add_tree(entries)

    @staticmethod
    def copy(obj) -> tuple[bytes, bytes]:
        """An unchanged object: the new trees name it by its id (it stays in the store; nothing
        is written again)."""
        return (MODE_TREE if obj.type == pygit2.GIT_OBJECT_TREE else MODE_BLOB), bytes.fromhex(str(obj.id))

    @staticmethod
    def place(node: dict, path: str, value) -> None:
        *dirs, leaf = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = value

    def json(self, tree, path: str, default=None):
        return self.meta.json(tree, path, default)

    # -- a version
    def pointer(self, oid) -> tuple[bytes, int, str] | None:
        key = str(oid)
        if key not in self.pointers:
            d = json.loads(self.meta.get(oid, "pointer").data)
            if "ref" in d:
                ptr = Pointer(size=d["size"], digest=d["digest"], ref=d["ref"],
                              extra={k: v for k, v in d.items() if k not in ("v", "size", "digest", "ref")})
            elif all(c in self.chunks for c, _ in d["chunks"]):
                new = tuple((self.chunks[c][0], n) for c, n in d["chunks"])
                ptr = Pointer(size=d["size"], digest=file_digest(list(new)), chunks=new, executable=d.get("exec", False),
                              extra={k: v for k, v in d.items() if k not in ("v", "size", "digest", "chunks", "exec")})
            else:
                self.pointers[key] = None  # gc removed its bytes long ago (history outside the retention)
                return None
            self.pointers[key] = (self.pb.add(OBJ_BLOB, ptr.encode()), ptr.size, ptr.digest)
        return self.pointers[key]

    def version(self, tree_oid, label: str) -> tuple[tuple[bytes, bytes], str | None, str | None]:
        """(new version tree, old digest, new digest); a version whose chunks are gone keeps its
        record (digest unchanged) and loses its file list."""
        key = str(tree_oid)
        if key not in self.versions:
            tree = self.meta.get(tree_oid, label)
            record = self.json(tree, "version.json", {})
            files = self.meta.subtree(tree, "files")
            node, rows, gone = {}, [], False
            for path, oid in (self.meta.walk_blobs(files) if files is not None else []):
                got = self.pointer(oid)
                if got is None:
                    gone = True
                    break
                new_id, size, digest = got
                self.place(node, codec.encode_path(path), (MODE_BLOB, new_id))
                rows.append([path, size, digest])
            old_digest = record.get("digest")
            out: dict = {}
            if gone:
                new_digest = old_digest
                self.report.bytes_gone.append(label)
            else:
                new_digest = _artifact_digest(rows)
                if node:
                    out["files"] = node
                if old_digest:
                    self.digests[old_digest] = new_digest
            record = dict(record, digest=new_digest) if old_digest else record
            out["version.json"] = self.blob(canonical.dumps(record))
            for e in tree:  # anything else a version holds (unknown to this mvc) is kept as it is
                if e.name not in ("version.json", "files"):
                    out[codec.encode_entry(e.name)] = self.copy(self.meta.get(e.id))
            self.versions[key] = (self.tree(out), old_digest, new_digest)
            self.report.versions += 1
        return self.versions[key]

    # -- the three kinds of commit tree
    def artifact_tree(self, tree, label: str) -> tuple[bytes, bytes]:
        out: dict = {}
        for e in tree:
            if e.name in ("versions", "trash"):
                for v in self.meta.get(e.id):
                    new, _, _ = self.version(v.id, f"{label}:{v.name}")
                    self.place(out, tree_layout.version_path(v.name, trash=e.name == "trash"), new)
            elif e.name != "digests":
                out[codec.encode_entry(e.name)] = self.copy(self.meta.get(e.id))
        digests = self.meta.subtree(tree, "digests")
        for d in (digests if digests is not None else []):
            new = self.digests.get(d.name, d.name)
            self.place(out, tree_layout.digest_path(new), self.copy(self.meta.get(d.id)))
        return self.tree(out)

    def registry_tree(self, tree, label: str) -> tuple[bytes, bytes]:
        out: dict = {}
        for e in tree:
            if e.name == "links":
                for li in self.meta.get(e.id):
                    self.place(out, tree_layout.link_path(li.name), self.link(li, f"{label}:{li.name}"))
            elif e.name == "sources":
                node: dict = {}
                for path, oid in self.meta.walk_blobs(self.meta.get(e.id)):
                    self.place(node, codec.encode_path(path), self.copy(self.meta.get(oid)))
                out["sources"] = node
            else:
                out[codec.encode_entry(e.name)] = self.copy(self.meta.get(e.id))
        return self.tree(out)

    def link(self, entry, label: str) -> tuple[bytes, bytes]:
        tree = self.meta.get(entry.id)
        out: dict = {}
        for e in tree:
            if e.name == "version":
                out["version"], _, _ = self.version(e.id, label)
            elif e.name == "link.json":
                rec = self.json(tree, "link.json", {})
                if rec.get("digest") in self.digests:
                    rec = dict(rec, digest=self.digests[rec["digest"]])
                out["link.json"] = self.blob(canonical.dumps(rec))
            else:
                out[codec.encode_entry(e.name)] = self.copy(self.meta.get(e.id))
        return self.tree(out)

    def run_tree(self, tree) -> tuple[bytes, bytes]:
        out: dict = {}
        for e in tree:
            if e.name in ("inputs.json", "outputs.json"):
                rows = self.json(tree, e.name, [])
                rows = [dict(r, digest=self.digests.get(r.get("digest"), r.get("digest")))
                        if isinstance(r, dict) and "digest" in r else r for r in rows]
                out[e.name] = self.blob(canonical.dumps(rows))
            else:
                out[codec.encode_entry(e.name)] = self.copy(self.meta.get(e.id))
        return self.tree(out)

    # -- commits
    def commit(self, oid, kind: str, label: str) -> bytes:
        """The rewritten commit (parents first, iteratively: histories are long)."""
        todo = [oid]
        while todo:
            top = todo[-1]
            if str(top) in self.commits:
                todo.pop()
                continue
            c = self.meta.commit(top, f"commit of {label}")
            missing = [p for p in c.parent_ids if str(p) not in self.commits]
            if missing:
                todo.extend(missing)
                continue
            todo.pop()
            tree = c.tree
            if kind == "artifact":
                new_tree = self.artifact_tree(tree, label)
            elif kind == "registry":
                new_tree = self.registry_tree(tree, label)
            else:
                new_tree = self.run_tree(tree)
            self.commits[str(top)] = self.pb.add(OBJ_COMMIT, self.commit_bytes(c, new_tree[1]))
            self.report.commits += 1
        return self.commits[str(oid)]

    def commit_bytes(self, c, tree_id: bytes) -> bytes:
        """The old commit's bytes with the new tree and parents, author and committer lines kept
        byte for byte, and every artifact digest the message names mapped."""
        raw = self.meta.get(c.id, "commit").read_raw()
        head, _, message = raw.partition(b"\n\n")
        lines = [ln for ln in head.split(b"\n") if not ln.startswith((b"tree ", b"parent "))]
        parents = [b"parent " + self.commits[str(p)].hex().encode() for p in c.parent_ids]
        text = _HEX64.sub(lambda m: self.digests.get(m.group(0), m.group(0)), message.decode("utf-8", "surrogateescape"))
        return b"\n".join([b"tree " + tree_id.hex().encode(), *parents, *lines]) + b"\n\n" + \
            text.encode("utf-8", "surrogateescape")


def _artifact_digest(rows: list) -> str:
    from .repository import artifact_digest_rows
    return artifact_digest_rows(rows)


def _new_ref(old: str) -> str:
    kind, project, name = _parse_old(old)
    if kind == "artifact":
        return refs2.artifact(project, name)
    if kind == "registry":
        return refs2.registry(name)
    return refs2.run(project, name)


def _parse_old(refname: str) -> tuple[str, str | None, str]:
    parts = refname[len("refs/mvc/"):].split("/")
    if len(parts) == 2 and parts[0] == "registry":
        return ("registry", None, parts[1])
    if len(parts) == 3 and parts[1] in ("artifacts", "runs"):
        return ("artifact" if parts[1] == "artifacts" else "run", parts[0], parts[2])
    raise FormatError(f"ref {refname} is in no namespace of format 1", "the store was left as it was")


def _old_refs(store: str) -> dict[str, str]:
    table = refstore.read_refs(store, "refs/mvc/")
    if table.bad:
        first = sorted(table.bad)[0]
        raise IntegrityError(f"ref {first} is damaged ({table.bad[first]}); mvc migrate rewrites every ref",
                             "repair it first (`mvc fsck --repair` works on format 1 too), then migrate")
    return dict(table.good)


def _prepare(store: str, report: Report, stage: bool) -> dict:
    """Phase 1; returns the journal (also written, with the staged packed-refs, when ``stage``)."""
    meta = MetaRepo(store)
    old = _old_refs(store)
    chunks = _load_or_read_chunks(store, report, stage)
    rw = _Rewriter(meta, chunks, report)
    new_refs: dict[str, bytes] = {}
    for name in sorted(old, key=lambda r: (_parse_old(r)[0] != "artifact", r)):  # artifacts first: digests
        kind, _, _ = _parse_old(name)
        new_refs[_new_ref(name)] = rw.commit(pygit2.Oid(hex=old[name]), kind, name[len("refs/mvc/"):])
        report.refs[name] = _new_ref(name)
        report.runs += kind == "run"
    journal = {"from": old, "refs": {n: oid.hex() for n, oid in sorted(new_refs.items())}}
    if stage:
        rw.pb.write(os.path.join(store, "objects"))
        fsync_dir(os.path.join(store, "objects", "pack"))
        packed = _packed_refs(store, journal["refs"])
        atomic_write(os.path.join(store, STAGE, "packed-refs"), packed)
        journal["packed_refs_sha256"] = hashlib.sha256(packed).hexdigest()
        fsync_tree(os.path.join(store, STAGE))
        atomic_write(os.path.join(store, STAGE, "journal.json"), canonical.dumps(journal))
    return journal


def _load_or_read_chunks(store: str, report: Report, stage: bool) -> dict:
    path = os.path.join(store, STAGE, "chunk-map.json")
    try:
        with open(path, "rb") as f:
            saved = canonical.loads(f.read())
        report.chunks, report.chunk_bytes, report.packs = saved["chunks"], saved["bytes"], saved["packs"]
        return {k: tuple(v) for k, v in saved["map"].items()}
    except (FileNotFoundError, ValueError, KeyError):
        pass
    chunks = _read_chunks(store, report, stage)
    if stage:
        atomic_write(path, canonical.dumps({"map": chunks, "chunks": report.chunks, "bytes": report.chunk_bytes,
                                            "packs": report.packs}))
    return chunks


def _packed_refs(store: str, refs: dict[str, str]) -> bytes:
    """The new packed-refs: every format-2 ref, and any ref outside refs/mvc/ as it was."""
    lines = [f"{oid} {name}" for name, oid in refs.items()]
    try:
        with open(os.path.join(store, "packed-refs"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 1)
                if len(parts) == 2 and not parts[1].startswith("refs/mvc/") and not line.startswith("#"):
                    lines.append(line.rstrip("\n"))
    except FileNotFoundError:
        pass
    return ("# pack-refs with: peeled fully-peeled sorted \n"
            + "".join(ln + "\n" for ln in sorted(lines, key=lambda x: x.split(" ", 1)[1]))).encode()


# ---- phases 2 and 3 ----------------------------------------------------------------------------
def _write_format(store: str, features: list[str]) -> None:
    atomic_write(os.path.join(store, layout.FORMAT_FILE),
                 canonical.dumps({"features": features, "format": layout.FORMAT_VERSION}))


def _switch(store: str, report: Report) -> None:
    """Phase 3, idempotent."""
    journal = _journal(store)
    packed_path = os.path.join(store, "packed-refs")
    if journal is None or (_sha256(packed_path) != journal.get("packed_refs_sha256")
                           and _old_refs(store) != journal["from"]):
        journal = _prepare(store, report, stage=True)  # refs moved since, or no journal: again
    if _sha256(packed_path) != journal["packed_refs_sha256"]:
        _move_staged(store)
        crash_at("migrate:after-chunks")
        os.replace(os.path.join(store, STAGE, "packed-refs"), packed_path)
        fsync_dir(store)
        crash_at("migrate:after-packed-refs")
    _drop_loose_refs(store)
    crash_at("migrate:after-loose-refs")
    for name in _DERIVED:
        _remove(os.path.join(store, name))
    shutil.rmtree(os.path.join(store, "files"), ignore_errors=True)
    _write_format(store, [])
    crash_at("migrate:after-format")
    _drop_old_chunks(store)
    shutil.rmtree(os.path.join(store, STAGE), ignore_errors=True)
    _remove(os.path.join(store, "migrate.lock"))
    report.done = True


def _move_staged(store: str) -> None:
    staged = os.path.join(store, STAGE, "chunks")
    for fan in sorted(os.listdir(staged)) if os.path.isdir(staged) else []:
        os.makedirs(os.path.join(store, "chunks", fan), exist_ok=True)
        for rest in os.listdir(os.path.join(staged, fan)):
            dest = os.path.join(store, "chunks", fan, rest)
            if not os.path.exists(dest):
                os.replace(os.path.join(staged, fan, rest), dest)
        fsync_dir(os.path.join(store, "chunks", fan))
    packs = os.path.join(store, STAGE, "packs")
    for name in sorted(os.listdir(packs)) if os.path.isdir(packs) else []:
        os.replace(os.path.join(packs, name), os.path.join(store, "packs", name))
    fsync_dir(os.path.join(store, "packs"))


def _drop_loose_refs(store: str) -> None:
    """Every loose ref under refs/mvc/ is format 1 once packed-refs is format 2 (the switch wrote
    only packed ones): a loose file would shadow the packed line of the same name."""
    top = os.path.join(store, "refs", "mvc")
    for base, _, names in os.walk(top, topdown=False):
        for n in names:
            _remove(os.path.join(base, n))
        if base != top:
            try:
                os.rmdir(base)
            except OSError:
                pass
    fsync_dir(top)


def _drop_old_chunks(store: str) -> None:
    root = os.path.join(store, "chunks")
    for fan in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        for rest in os.listdir(os.path.join(root, fan)):
            if _OLD_ID.fullmatch(fan + rest):
                _remove(os.path.join(root, fan, rest))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def _journal(store: str) -> dict | None:
    try:
        with open(os.path.join(store, STAGE, "journal.json"), "rb") as f:
            return canonical.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None


# ---- entry points ----------------------------------------------------------------------------------
def store_format(store: str) -> dict:
    with open(os.path.join(store, layout.FORMAT_FILE), "rb") as f:
        return canonical.loads(f.read())


class _Exclusive:
    """One migrating process at a time (an flock on `migrate.lock`): two commands opening a store
    whose migration was cut short would otherwise both finish it.  The lock is released by the
    kernel when its holder dies, so a killed migration never blocks the next one."""

    def __init__(self, store: str):
        self.path = os.path.join(store, "migrate.lock")

    def __enter__(self):
        import fcntl
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def migrate(store: str, dry_run: bool = False) -> Report:
    """Bring ``store`` to format 2 (or say what that would do).  A format-2 store that is still
    ``migrating`` is finished; a finished one is left as it is."""
    info = store_format(store)
    version, features = info.get("format"), info.get("features", [])
    known = version == 1 and features == [] or version == layout.FORMAT_VERSION and set(features) <= {MIGRATING}
    if not known:
        layout.check_format(store)  # a newer format or an unknown feature: refused, untouched, as everywhere
    if version == layout.FORMAT_VERSION and not features:
        layout.check_format(store)  # current: nothing to do, but a damaged store is still said so
        return Report(done=True)
    if dry_run:
        return _migrate(store, True)
    with _Exclusive(store):
        return _migrate(store, False)


def _migrate(store: str, dry_run: bool) -> Report:
    t0 = time.monotonic()
    report = Report()
    info = store_format(store)
    if info.get("format") == layout.FORMAT_VERSION and not info.get("features"):
        report.done = True  # another process finished it while this one waited for the lock
        return report
    if dry_run:
        _prepare(store, report, stage=False)
    else:
        if info.get("format") == 1:
            _prepare(store, report, stage=True)
            crash_at("migrate:after-prepare")
            _write_format(store, [MIGRATING])
            crash_at("migrate:after-mark")
        _switch(store, report)
    report.seconds = time.monotonic() - t0
    return report


def resume(store: str) -> None:
    """Finish a migration a crash interrupted (the store says format 2, ``migrating``)."""
    with _Exclusive(store):
        if MIGRATING in store_format(store).get("features", []):  # another process may have finished it
            _switch(store, Report())
