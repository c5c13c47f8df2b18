"""Protected aliases: ``protected.json`` in an artifact's or a registered model's tree, a sorted
list of alias names whose moves need ``--force`` (or a pre-alias hook's yes).  Kept in the
metadata, so protection is part of the artifact's history and travels with push and pull."""
from __future__ import annotations

from ..errors import InvalidNameError
from ..meta import upkeep
from ..meta.gitdb import MetaRepo, NoChange, TreeEdit

FILE = "protected.json"


def protected(meta: MetaRepo, tree) -> list[str]:
    """The protected aliases recorded in ``tree`` (an artifact's or a registered model's)."""
    if tree is None:
        return []
    got = meta.json(tree, FILE, [])
    return sorted(a for a in got if isinstance(a, str)) if isinstance(got, list) else []


def set_protected(meta: MetaRepo, refname: str, label: str, alias: str, on: bool) -> bool:
    """Protect (``on``) or unprotect ``alias`` on the ref; one commit (Mvc-Op: protect or
    unprotect) so `mvc alias history` shows who did it and when.  False if nothing changed."""
    if alias == "latest":
        raise InvalidNameError("'latest' cannot be protected: every log moves it",
                               "protect the alias you promote by hand, e.g. production")

    def edit(tip):
        if tip is None:
            from ..errors import NotFoundError
            raise NotFoundError(f"no {label}", "list artifacts with `mvc ls` and models with `mvc registry ls`")
        now = protected(meta, tip.tree)
        new = sorted(set(now) | {alias}) if on else [a for a in now if a != alias]
        if new == now:
            raise NoChange(False)
        tree = meta.edit_tree(tip.tree, {FILE: meta.write_json(new) if new else None})
        op = "protect" if on else "unprotect"
        return TreeEdit(tree, f"{op} alias {alias}\n\nMvc-Op: {op}\nMvc-Alias: {alias}\n", True)

    changed = meta.update(refname, edit)
    upkeep.after_commit(meta)
    return changed
