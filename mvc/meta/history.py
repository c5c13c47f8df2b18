"""Reading history: the commits of a ref, newest first, each read through the checked
path of ``MetaRepo`` (never libgit2's revwalk, which reads commits unchecked), the
trailers of their messages, and the alias history derived from them."""
from __future__ import annotations

import heapq

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator
    from .odb import Commit
    from .gitdb import MetaRepo


def trailer(message: str, key: str) -> str | None:
    """The value of the ``key`` trailer (e.g. Mvc-Op) of a commit message, or None."""
    for line in message.splitlines():
        if line.startswith(key + ": "):
            return line[len(key) + 2:].strip()
    return None


def history(meta: "MetaRepo", refname: str, limit: int | None = None) -> Iterator[Commit]:
    """Commits on the ref, newest first."""
    tip = meta.tip(refname)
    if tip is None:
        return
    for n, c in enumerate(walk(meta, tip), 1):
        yield c
        if limit and n >= limit:
            return


def walk(meta: "MetaRepo", start: Commit) -> Iterator[Commit]:
    """``start`` and every commit behind it, children before parents and newest first (git's
    topological+time order), read through ``meta.commit`` rather than libgit2's revwalk, which
    reads commits unchecked.  Before a commit is yielded its parents and every tree are checked,
    so ``c.tree`` and ``c.parents[k].tree`` are safe reads.  Linear history (all mvc writes) is
    walked lazily; below a merge the rest is collected and sorted."""
    seen, todo = {start.id}, [start]
    while len(todo) == 1:
        c = todo.pop()
        todo = [p for p in _parents(meta, c) if p.id not in seen]
        seen.update(p.id for p in todo)
        yield c
    if todo:
        yield from _topo(meta, todo, seen)


def _parents(meta: "MetaRepo", c: Commit) -> list[Commit]:
    return [meta.commit(p, f"commit {p}, parent of {c.id}") for p in c.parent_ids]


def _topo(meta: "MetaRepo", heads: list[Commit], seen: set) -> Iterator[Commit]:
    commits, children, stack = {c.id: c for c in heads}, {c.id: 0 for c in heads}, list(heads)
    while stack:
        for p in _parents(meta, stack.pop()):
            children[p.id] = children.get(p.id, 0) + 1
            if p.id not in commits and p.id not in seen:
                commits[p.id] = p
                stack.append(p)
    ready = [(-c.commit_time, str(c.id)) for c in heads if children[c.id] == 0]
    heapq.heapify(ready)
    while ready:
        c = commits[heapq.heappop(ready)[1]]
        yield c
        for pid in c.parent_ids:
            if pid in commits:
                children[pid] -= 1
                if children[pid] == 0:
                    heapq.heappush(ready, (-commits[pid].commit_time, str(pid)))


def alias_history(meta: "MetaRepo", refname: str) -> list[dict]:
    """Every alias change on ``refname`` (an artifact or a registered model), newest first:
    alias, from, to, who, email, when, op, run, commit."""
    out = []
    for c in history(meta, refname):
        new = meta.json(c.tree, "aliases.json", {})
        old = meta.json(c.parents[0].tree, "aliases.json", {}) if c.parents else {}
        op = trailer(c.message, "Mvc-Op")
        changed = [a for a in sorted(set(new) | set(old)) if new.get(a) != old.get(a)]
        if op in ("protect", "unprotect") and trailer(c.message, "Mvc-Alias"):  # mvc/hooks/protect.py
            changed = [trailer(c.message, "Mvc-Alias")]
        for a in changed:
            out.append({"alias": a, "from": old.get(a), "to": new.get(a), "who": c.author.name,
                        "email": c.author.email, "when": c.commit_time, "op": op,
                        "run": trailer(c.message, "Mvc-Run"), "commit": str(c.id)})
    return out
