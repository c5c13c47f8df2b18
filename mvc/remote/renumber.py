"""Renumber, don't clobber: replay this store's commits of a ref on the remote's tip, as
`git rebase` would, when both moved on (docs/design.md, "Remotes").

Each local commit C (parent P) is re-applied on the current new tip T as the change P -> C:
- artifacts: a version new in C whose digest T already has becomes T's version; any other
  takes T's next free number (its version.json says the new number; its files are
  unchanged).  Edits of a version (metadata, delete, restore) apply field by field to the
  version's new number; alias moves follow the new numbers.
- registered models: a new link of a source T already links becomes T's link, any other the
  next free link number; its record and tree follow the source version's new number.
- runs: the files C changed are taken, inputs and outputs rewritten to the new numbers.
The map old -> new is collected in ``Renumbering`` and reported to the user."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..meta.pygit import pygit2

from ..errors import ConflictError
from ..meta import refs
from ..meta.gitdb import EMPTY_TREE, MetaRepo, git_signature, identity
from ..meta.layout import digest_path, link_path, numbered, version_path
from ..meta.registry import source_path

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any, Callable

_TOKEN = re.compile(r"\bv(0|[1-9][0-9]*)\b")


@dataclass
class Renumbering:
    versions: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (project, name, old) -> new
    links: dict[tuple[str, str], str] = field(default_factory=dict)          # (model, old) -> new

    def version(self, project: str, name: str, v: str) -> str:
        return self.versions.get((project, name, v), v)

    def to_json(self) -> dict[str, str]:
        out = {f"{p}/{n}:{old}": f"{p}/{n}:{new}" for (p, n, old), new in self.versions.items() if old != new}
        out.update({f"registry/{m}:{old}": f"registry/{m}:{new}" for (m, old), new in self.links.items()
                    if old != new})
        return dict(sorted(out.items()))

    def __bool__(self) -> bool:
        return bool(self.to_json())


def _index(v: str) -> int:
    return int(v[1:])


class Rebaser:
    """Replays local commits of refs on remote tips in one store, sharing one Renumbering."""

    def __init__(self, meta: MetaRepo, mapping: Renumbering | None = None):
        self.meta = meta
        self.git = meta.git
        self.mapping = mapping if mapping is not None else Renumbering()

    # ---- the replay loop ---------------------------------------------------------
    def rebase(self, refname: str, local: str, onto: str | None) -> str:
        """The new tip for ``refname``: the commits of ``local`` not in ``onto`` replayed on
        ``onto`` (None: on nothing, for a ref the remote lacks).  ``local`` itself when the
        replay changes nothing."""
        parsed = refs.parse(refname)
        if parsed is None:
            raise ConflictError(f"cannot replay {refname}: it is in no namespace mvc knows")
        kind, project, name = parsed
        merge = self._merger(kind, project, name)
        local_c = self.meta.commit(pygit2.Oid(hex=local), f"tip of {refname}")
        base = self.git.merge_base(local_c.id, pygit2.Oid(hex=onto)) if onto else None
        todo = self._since(local_c, base)
        cur = self.meta.commit(pygit2.Oid(hex=onto)) if onto else None
        changed = str(base) != str(onto) if onto else base is not None
        for c in todo:
            parent_tree = self.meta.commit(c.parent_ids[0]).tree if c.parent_ids else None
            tree = merge(parent_tree, c.tree, cur.tree if cur is not None else None)
            if cur is not None and tree == cur.tree_id:
                changed = True
                continue  # the change is already there (the same version logged on both sides)
            changed = changed or tree != c.tree_id
            message = self._message(kind, project, name, c.message)
            oid = self.git.create_commit(None, git_signature(c.author), git_signature(identity()), message, tree,
                                         [cur.id] if cur is not None else [])
            cur = self.meta.commit(oid)
        if not changed:
            return local
        return str(cur.id) if cur is not None else local

    def _since(self, tip: pygit2.Commit, base) -> list[pygit2.Commit]:
        out, c = [], tip
        while c is not None and (base is None or c.id != base):
            out.append(c)
            c = self.meta.commit(c.parent_ids[0]) if c.parent_ids else None
        return out[::-1]

    def _merger(self, kind: str, project: str | None, name: str) -> Callable:
        if kind == "artifact":
            return lambda b, o, t: self.merge_artifact(project, name, b, o, t)
        if kind == "registry":
            return lambda b, o, t: self.merge_registry(name, b, o, t)
        return lambda b, o, t: self.merge_files(b, o, t)

    def _message(self, kind: str, project: str | None, name: str, message: str) -> str:
        if kind == "artifact":
            return _TOKEN.sub(lambda m: self.mapping.version(project, name, m.group()), message)
        if kind == "registry":
            return _TOKEN.sub(lambda m: self.mapping.links.get((name, m.group()), m.group()), message)
        return message

    # ---- helpers ---------------------------------------------------------------------
    def _json(self, tree, path: str, default: Any = None) -> Any:
        return self.meta.json(tree, path, default) if tree is not None else default

    def _listing(self, tree, folders=("versions", "trash")) -> dict[str, tuple[str, pygit2.Oid]]:
        out = {}
        for folder in folders:
            for v, oid in (numbered(self.meta, tree, folder) if tree is not None else []):
                out[v] = (folder, oid)
        return out

    def _with_record(self, sub_oid, record: dict) -> pygit2.Oid:
        return self.meta.edit_tree(self.meta.get(sub_oid), {"version.json": self.meta.write_json(record)})

    @staticmethod
    def _next_free(info: dict, listing: dict) -> int:
        return max([int(info.get("next", 0))] + [_index(v) + 1 for v in listing])

    # ---- artifacts -------------------------------------------------------------------
    def merge_artifact(self, project: str, name: str, base, ours, theirs) -> pygit2.Oid:
        if theirs is None:
            return ours.id
        info_o, info_t = self._json(ours, "artifact.json", {}), dict(self._json(theirs, "artifact.json", {}))
        if info_o.get("type") != info_t.get("type"):
            raise ConflictError(f"artifact {project}/{name} has type {info_t.get('type')!r} on the remote and "
                                f"{info_o.get('type')!r} here; mvc cannot replay one on the other",
                                "rename the local artifact (log it under another name) and push again")
        lb, lo, lt = self._listing(base), self._listing(ours), self._listing(theirs)
        changes: dict[str, Any] = {}
        nxt = self._next_free(info_t, lt)
        for v in sorted(lo.keys() - lb.keys(), key=_index):
            nxt = self._new_version(project, name, v, lo[v], theirs, lt, changes, nxt)
        for v in sorted(lo.keys() & lb.keys(), key=_index):
            if lb[v] != lo[v]:
                self._edited_version(project, name, v, lb[v], lo[v], theirs, lt, changes)
        for v in lb.keys() - lo.keys():  # purged from the trash here: purge it there too
            new = self.mapping.version(project, name, v)
            if lt.get(new, ("",))[0] == "trash":
                changes[version_path(new, trash=True)] = None
        changes["aliases.json"] = self.meta.write_json(self._aliases(
            self._json(base, "aliases.json", {}), self._json(ours, "aliases.json", {}),
            self._json(theirs, "aliases.json", {}), lambda v: self.mapping.version(project, name, v)))
        info_t["next"] = max(nxt, int(info_t.get("next", 0)))
        changes["artifact.json"] = self.meta.write_json(info_t)
        return self.meta.edit_tree(theirs, changes)

    def _new_version(self, project, name, v, where, theirs, lt, changes, nxt) -> int:
        folder, oid = where
        rec = dict(self._json(self.meta.get(oid), "version.json", {}))
        digest = rec.get("digest")
        existing = None
        if folder == "versions" and digest:
            data = self.meta.blob(theirs, digest_path(digest))
            existing = data.decode().strip() if data else None
        if existing is not None and existing in lt:
            self.mapping.versions[(project, name, v)] = existing
            self._add_loggers(existing, lt[existing], rec, changes)
            return nxt
        new = f"v{nxt}"
        self.mapping.versions[(project, name, v)] = new
        sub = oid if rec.get("version") == new else self._with_record(oid, dict(rec, version=new))
        changes[version_path(new, trash=folder == "trash")] = ("tree", sub)
        if folder == "versions" and digest:
            changes[digest_path(digest)] = self.meta.write_blob(new.encode() + b"\n")
        lt[new] = (folder, sub)
        return nxt + 1

    def _add_loggers(self, version: str, where, rec: dict, changes: dict) -> None:
        """The same digest was logged on both sides: the remote's version gains our loggers."""
        folder, oid = where
        theirs = dict(self._json(self.meta.get(oid), "version.json", {}))
        known = theirs.get("logged_by", [])
        extra = [e for e in rec.get("logged_by", []) if e not in known]
        if extra:
            changes[f"{version_path(version, folder == 'trash')}/version.json"] = \
                self.meta.write_json(dict(theirs, logged_by=known + extra))

    def _edited_version(self, project, name, v, was, now, theirs, lt, changes) -> None:
        new = self.mapping.version(project, name, v)
        if new not in lt:
            return  # the remote no longer has it (purged there): nothing to apply the edit to
        (fb, ob), (fo, oo), (ft, ot) = was, now, lt[new]
        rb = self._json(self.meta.get(ob), "version.json", {})
        ro = self._json(self.meta.get(oo), "version.json", {})
        rt = dict(self._json(self.meta.get(ot), "version.json", {}))
        for k in set(rb) | set(ro):
            if k != "version" and rb.get(k) != ro.get(k):
                if k in ro:
                    rt[k] = ro[k]
                else:
                    rt.pop(k, None)
        target = fo if fo != fb else ft
        sub = self._with_record(ot, rt)
        if target != ft:
            changes[version_path(new, trash=ft == "trash")] = None
        changes[version_path(new, trash=target == "trash")] = ("tree", sub)
        digest = rt.get("digest")
        if digest:
            data = self.meta.blob(theirs, digest_path(digest))
            held = data.decode().strip() if data else None
            if target == "versions" and held is None:
                changes[digest_path(digest)] = self.meta.write_blob(new.encode() + b"\n")
            elif target == "trash" and held == new:
                changes[digest_path(digest)] = None
        lt[new] = (target, sub)

    @staticmethod
    def _aliases(base: dict, ours: dict, theirs: dict, rename: Callable[[str], str]) -> dict:
        """``theirs`` with every alias change from ``base`` to ``ours`` applied, renumbered."""
        out = dict(theirs)
        for a in set(base) | set(ours):
            if base.get(a) == ours.get(a):
                continue
            if a in ours:
                out[a] = rename(ours[a])
            else:
                out.pop(a, None)
        return out

    # ---- registered models -----------------------------------------------------------
    def merge_registry(self, model: str, base, ours, theirs) -> pygit2.Oid:
        info_b, info_o = self._json(base, "model.json", {}), self._json(ours, "model.json", {})
        info_t = dict(self._json(theirs, "model.json", info_o))
        for k in set(info_b) | set(info_o):
            if k != "next" and info_b.get(k) != info_o.get(k):
                if k in info_o:
                    info_t[k] = info_o[k]
                else:
                    info_t.pop(k, None)
        lb, lo = self._listing(base, ("links",)), self._listing(ours, ("links",))
        lt = self._listing(theirs, ("links",))
        changes: dict[str, Any] = {}
        nxt = self._next_free(info_t, lt) if theirs is not None else None
        for link in sorted(lo.keys() - lb.keys(), key=_index):
            nxt = self._new_link(model, link, lo[link][1], theirs, changes, nxt)
        for link in lb.keys() - lo.keys():  # unlinked here
            new = self.mapping.links.get((model, link), link)
            if new in lt:
                rec = self._json(self.meta.get(lt[new][1]), "link.json", {})
                changes[link_path(new)] = None
                changes[source_path(rec["project"], rec["name"], rec["version"])] = None
        for link in lo.keys() & lb.keys():  # a link whose source version was renumbered since
            if theirs is None:
                self._relink_source(link, lo[link][1], changes)
        changes["aliases.json"] = self.meta.write_json(self._aliases(
            self._json(base, "aliases.json", {}), self._json(ours, "aliases.json", {}),
            self._json(theirs, "aliases.json", {}), lambda x: self.mapping.links.get((model, x), x)))
        if nxt is not None:
            info_t["next"] = max(nxt, int(info_t.get("next", 0)))
        changes["model.json"] = self.meta.write_json(info_t)
        if theirs is None and base is not None:
            return self.meta.edit_tree(base, changes)
        return self.meta.edit_tree(theirs, changes)

    def _new_link(self, model, link, oid, theirs, changes, nxt):
        rec = dict(self._json(self.meta.get(oid), "link.json", {}))
        p, n, v = rec.get("project"), rec.get("name"), rec.get("version")
        new_v = self.mapping.version(p, n, v)
        key = source_path(p, n, new_v)
        held = self.meta.blob(theirs, key) if theirs is not None else None
        if held is not None:
            self.mapping.links[(model, link)] = held.decode().strip()
            return nxt
        new = link if nxt is None else f"v{nxt}"
        self.mapping.links[(model, link)] = new
        self._write_link(new, dict(rec, link=new, version=new_v), oid, changes)
        changes[key] = self.meta.write_blob(new.encode() + b"\n")
        return None if nxt is None else nxt + 1

    def _relink_source(self, link, oid, changes) -> None:
        rec = dict(self._json(self.meta.get(oid), "link.json", {}))
        p, n, v = rec.get("project"), rec.get("name"), rec.get("version")
        new_v = self.mapping.version(p, n, v)
        if new_v != v:
            changes[source_path(p, n, v)] = None
            changes[source_path(p, n, new_v)] = self.meta.write_blob(link.encode() + b"\n")
            self._write_link(link, dict(rec, version=new_v), oid, changes)

    def _write_link(self, link: str, rec: dict, old_oid, changes: dict) -> None:
        changes[f"{link_path(link)}/link.json"] = self.meta.write_json(rec)
        changes[f"{link_path(link)}/version"] = ("tree", self._source_tree(rec, old_oid))

    def _source_tree(self, rec: dict, old_oid) -> pygit2.Oid:
        """The linked version's tree as this store now holds it (renumbered), else the old one."""
        tip = self.meta.tip(refs.artifact(rec["project"], rec["name"]))
        for trash in (False, True):
            sub = self.meta.subtree(tip.tree, version_path(rec["version"], trash)) if tip else None
            if sub is not None:
                return sub.id
        return self.meta.subtree(self.meta.get(old_oid), "version").id

    # ---- runs ------------------------------------------------------------------------
    def merge_files(self, base, ours, theirs) -> pygit2.Oid:
        """Every top-level file ``ours`` changed since ``base``, on ``theirs``; version records renumbered."""
        changes: dict[str, Any] = {}
        names = {e.name for e in ours} | ({e.name for e in base} if base is not None else set())
        for n in names:
            was = base[n].id if base is not None and n in base else None
            now = ours[n].id if n in ours else None
            if was == now and theirs is not None:
                continue
            if now is None:
                changes[n] = None
            elif n in ("inputs.json", "outputs.json"):
                items = self._json(ours, n, [])
                changes[n] = self.meta.write_json([self._renumbered(i) for i in items])
            else:
                changes[n] = ("tree", now) if ours[n].type == pygit2.GIT_OBJECT_TREE else now
        out = self.meta.edit_tree(theirs, changes)
        return pygit2.Oid(hex=EMPTY_TREE) if out is None else out

    def _renumbered(self, item):
        if isinstance(item, dict) and {"project", "name", "version"} <= item.keys():
            return dict(item, version=self.mapping.version(item["project"], item["name"], item["version"]))
        return item

    def run_needs_renumber(self, tree) -> bool:
        for n in ("inputs.json", "outputs.json"):
            for item in self._json(tree, n, []) or []:
                if isinstance(item, dict) and self._renumbered(item) != item:
                    return True
        return False

    def registry_needs_renumber(self, tree) -> bool:
        for _, oid in numbered(self.meta, tree, "links"):
            rec = self._json(self.meta.get(oid), "link.json", {})
            if self.mapping.version(rec.get("project"), rec.get("name"), rec.get("version")) != rec.get("version"):
                return True
        return False
