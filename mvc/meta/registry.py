"""A registered model's state is the tree at the tip of refs/mvc/registry/<name>:

    model.json                     {"name","next","created_at","description"}
    aliases.json                   {"latest": "v2", "production": "v1"}
    links/0/v0/link.json           {"link","project","name","version","digest","linked_at","run"}
    links/0/v0/version             the linked version's tree itself (a pointer: git shares it)
    sources/<project>/<name>/<vN>  "v0"  (source version -> link, for idempotent re-links;
                                   project and name codec.encode_entry'd)
Links fan out as versions do (layout.py): links/<K // 256>/v<K>.
"""
from __future__ import annotations



from ..errors import NotFoundError
from ..record import record
from ..text import escaped
from . import refs, upkeep
from .artifacts import VersionInfo, now
from .codec import encode_entry
from .gitdb import MetaRepo, NoChange, TreeEdit, alias_history
from .layout import is_version, link_path, numbered

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any


def source_path(project: str, name: str, version: str) -> str:
    """'sources/<project>/<name>/<vN>': the entry that maps a source version to its link."""
    return f"sources/{encode_entry(project)}/{encode_entry(name)}/{encode_entry(version)}"


@record
class LinkInfo:
    model: str
    link: str  # "v0"
    record: dict
    aliases: list[str]

    @property
    def source(self) -> tuple[str, str, str]:
        return self.record["project"], self.record["name"], self.record["version"]


class Registry:
    def __init__(self, meta: MetaRepo, crash_hook=None):
        self.meta = meta
        self.crash_hook = crash_hook

    def _update(self, model: str, edit):
        result = self.meta.update(refs.registry(model), edit, self.crash_hook)
        upkeep.after_commit(self.meta)
        return result

    def names(self) -> list[str]:
        """Registered models that exist (a deleted one keeps its ref, for its history)."""
        out = []
        for r in self.meta.refnames(refs.REGISTRY_PREFIX):
            parsed = refs.parse(r)
            if parsed and parsed[0] == "registry" and self.info(parsed[2]) is not None:
                out.append(parsed[2])
        return out

    def tip(self, model: str):
        return self.meta.tip(refs.registry(model))

    def info(self, model: str) -> dict | None:
        tip = self.tip(model)
        info = self.meta.json(tip.tree, "model.json", {}) if tip else None
        return None if info is None or "deleted_at" in info else info

    def aliases(self, model: str, tip=None) -> dict:
        tip = tip or self.tip(model)
        return self.meta.json(tip.tree, "aliases.json", {}) if tip else {}

    def links(self, model: str) -> list[LinkInfo]:
        tip = self.tip(model)
        if tip is None:
            return []
        al = self.aliases(model, tip)
        out = []
        for name, oid in numbered(self.meta, tip.tree, "links"):
            rec = self.meta.json(self.meta.get(oid, f"link {name} of registry/{model}"), "link.json", {})
            out.append(LinkInfo(model, name, rec, sorted(a for a, v in al.items() if v == name)))
        return out

    def link_info(self, model: str, link: str) -> LinkInfo | None:
        """One link, read directly (not by listing every link of the model)."""
        tip = self.tip(model)
        rec = self.meta.json(tip.tree, f"{link_path(link)}/link.json") if tip and is_version(link) else None
        if rec is None:
            return None
        al = self.aliases(model, tip)
        return LinkInfo(model, link, rec, sorted(a for a, v in al.items() if v == link))

    def link(self, model: str, v: VersionInfo, aliases: list[str], run_id: str | None,
             description: str | None = None) -> tuple[LinkInfo, bool]:
        meta = self.meta
        key = source_path(v.project, v.name, v.version)

        def edit(tip):
            tree = tip.tree if tip else None
            info = dict(meta.json(tree, "model.json", {})) if tip else {
                "name": model, "next": 0, "created_at": now(), "description": description or ""}
            info.pop("deleted_at", None)  # linking into a deleted name brings it back
            al = dict(meta.json(tree, "aliases.json", {})) if tip else {}
            changes: dict[str, Any] = {}
            existing = meta.blob(tree, key)
            if existing is not None:
                link = existing.decode().strip()
                created = False
                wanted = {a: link for a in aliases}
                if all(al.get(a) == link for a in wanted):
                    raise NoChange((link, False))
            else:
                link = f"v{info['next']}"
                info["next"] += 1
                created = True
                rec = {"link": link, "project": v.project, "name": v.name, "version": v.version,
                       "digest": v.record.get("digest"), "type": v.record.get("type"), "linked_at": now(),
                       "run": run_id}
                changes[f"{link_path(link)}/link.json"] = meta.write_json(rec)
                changes[f"{link_path(link)}/version"] = ("tree", v.tree)
                changes[key] = meta.write_blob(link.encode() + b"\n")
                changes["model.json"] = meta.write_json(info)
                al["latest"] = link
            for a in aliases:
                al[a] = link
            changes["aliases.json"] = meta.write_json(al)
            new_tree = meta.edit_tree(tree, changes)
            op = "link" if created else "relink"
            msg = (f"{op} {v.project}/{v.name}:{v.version} as {model}:{link}\n\nMvc-Op: {op}\n"
                   f"Mvc-Version: {link}\n" + (f"Mvc-Run: {run_id}\n" if run_id else ""))
            return TreeEdit(new_tree, msg, (link, created))

        link, created = self._update(model, edit)
        return self.link_info(model, link), created

    def set_alias(self, model: str, link: str, alias: str, remove: bool = False) -> str | None:
        meta = self.meta

        def edit(tip):
            if tip is None:
                raise NotFoundError(f"registered model {model!r} does not exist", "list them with `mvc registry ls`")
            al = dict(meta.json(tip.tree, "aliases.json", {}))
            old = al.get(alias)
            if remove:
                if old is None:
                    raise NotFoundError(f"registry/{model} has no alias {alias!r}",
                                        f"see its aliases with `mvc registry show {model}`")
                del al[alias]
            else:
                if not is_version(link) or meta.subtree(tip.tree, link_path(link)) is None:
                    raise NotFoundError(f"registry/{model} has no link {link}",
                                        f"see its links with `mvc registry show {model}`")
                if old == link:
                    raise NoChange(old)
                al[alias] = link
            tree = meta.edit_tree(tip.tree, {"aliases.json": meta.write_json(al)})
            what = f"rm alias {escaped(alias)} (was {old})" if remove else f"alias {escaped(alias)}: {old or '-'} -> {link}"
            return TreeEdit(tree, f"{what}\n\nMvc-Op: alias\n", old)

        return self._update(model, edit)

    def unlink(self, model: str, link: str) -> None:
        meta = self.meta

        def edit(tip):
            if tip is None or not is_version(link) or meta.subtree(tip.tree, link_path(link)) is None:
                raise NotFoundError(f"registry/{model}:{link} does not exist",
                                    f"see its links with `mvc registry show {model}`")
            rec = meta.json(tip.tree, f"{link_path(link)}/link.json", {})
            al = {a: v for a, v in meta.json(tip.tree, "aliases.json", {}).items() if v != link}
            changes = {link_path(link): None, "aliases.json": meta.write_json(al),
                       source_path(rec["project"], rec["name"], rec["version"]): None}
            remaining = [n for n, _ in numbered(meta, tip.tree, "links") if n != link]
            if remaining:
                al["latest"] = remaining[-1]
                changes["aliases.json"] = meta.write_json(al)
            tree = meta.edit_tree(tip.tree, changes)
            return TreeEdit(tree, f"unlink {model}:{link}\n\nMvc-Op: unlink\nMvc-Version: {link}\n")

        self._update(model, edit)

    def alias_history(self, model: str) -> list[dict]:
        return alias_history(self.meta, refs.registry(model))

    def delete(self, model: str) -> None:
        """Delete the registered model: one commit that drops every link and alias
        and marks model.json deleted.  The ref stays, so alias history (who
        unlinked what, when) survives; artifact versions are untouched; linking
        into the name again continues its numbering."""
        meta = self.meta

        def edit(tip):
            info = meta.json(tip.tree, "model.json", {}) if tip else None
            if info is None or "deleted_at" in info:
                raise NotFoundError(f"registered model {model!r} does not exist",
                                    "list registered models with `mvc registry ls`")
            tree = meta.build_tree({"model.json": meta.write_json(dict(info, deleted_at=now())),
                                    "aliases.json": meta.write_json({})})
            return TreeEdit(tree, f"delete registered model {model}\n\nMvc-Op: unlink\n")

        self._update(model, edit)
