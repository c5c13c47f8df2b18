"""Store events: ``pre-alias`` and ``pre-link`` before a ref moves (a hook may veto; protected
aliases need --force), ``post-log``, ``post-alias`` and ``post-link`` after it, delivered to the
user's hooks in ``<store>/hooks/`` and to webhooks, at least once (spool.py).

``StoreEvents`` is the observer ``MetaRepo.update`` calls around every ref move: the events are
read off the change itself (the ``Mvc-Op`` trailer and the aliases before and after), so every
path that moves an alias (log --alias, alias set and rm, Artifact.save, delete, link, unlink,
registry aliases) is covered by one check.  ``latest`` moves by itself and makes no alias event
(a new version makes a log event).  Nothing is spooled or run when no hook or webhook wants it."""
from __future__ import annotations

import contextlib
import datetime
import os

from ..errors import HookVetoError, MvcError, ProtectedAliasError
from ..meta import refs
from ..meta.gitdb import identity
from ..meta.history import trailer
from ..meta.layout import link_path, version_path
from . import spool
from .protect import protected

SCHEMA = 1
EVENTS = ("pre-alias", "pre-link", "post-log", "post-alias", "post-link")



def _runner():
    """mvc/hooks/runner.py (subprocess, signal): loaded when a hook may run, never by a read."""
    from . import runner
    return runner


def _webhooks():
    """mvc/hooks/webhooks.py (urllib, hmac): loaded when an event may be sent, never by a read."""
    from . import webhooks
    return webhooks

class Ticket:
    """What ``before_move`` spooled for one commit, handed back to ``after_move``/``abandon``."""

    def __init__(self, path: str, entry: dict):
        self.path, self.entry = path, entry


class StoreEvents:
    def __init__(self, store: str):
        self.store = store
        self.force = False
        self.delivered = 0  # post-event deliveries made by this instance (hooks run, webhooks sent)

    @contextlib.contextmanager
    def forcing(self, on: bool = True):
        """Moves made inside may move protected aliases (`--force`); pre-alias hooks still run."""
        old, self.force = self.force, bool(on)
        try:
            yield
        finally:
            self.force = old

    # ---- around a ref move (MetaRepo.update) --------------------------------
    def before_move(self, meta, refname: str, tip, change, commit) -> Ticket | None:
        """Check the pre-events of the change (raise to veto: nothing moves) and spool its
        post-events for the commit (returned as a Ticket), or None when nobody wants them."""
        parsed = refs.parse(refname)
        if parsed is None or parsed[0] == "run":
            return None
        if not self._listening() and not (tip is not None and protected(meta, tip.tree)):
            return None  # the common case: no hook, no webhook, no protected alias (one listdir, one stat)
        docs = describe(meta, parsed, tip, change)
        if not docs:
            return None
        self._check(meta, tip, docs)
        entry = self._entry(refname, tip, commit, docs)
        if entry is None:
            return None
        return Ticket(spool.create(self.store, entry), entry)

    def after_move(self, ticket: Ticket) -> None:
        """The ref moved: deliver (hooks, then webhooks), in the foreground of this command."""
        self._deliver(ticket.path, ticket.entry, foreground=True)

    def abandon(self, ticket: Ticket) -> None:
        """The ref did not move (lost race, error): the spooled events never happened."""
        spool.remove(ticket.path)

    def _listening(self) -> bool:
        """Is there any store-event hook or webhook at all?"""
        if os.path.exists(os.path.join(self.store, _webhooks().CONFIG)):
            return True
        try:
            names = os.listdir(os.path.join(self.store, "hooks"))
        except OSError:
            return False
        return any(n in EVENTS for n in names)

    # ---- pre-events -------------------------------------------------------------
    def _check(self, meta, tip, docs: list[dict]) -> None:
        guarded = set(protected(meta, tip.tree)) if tip is not None else set()
        for doc in docs:
            pre = dict(doc, event="pre-" + doc["kind"], commit=None)
            if doc["kind"] == "alias":
                pre["protected"] = doc["alias"] in guarded
                pre["force"] = self.force
                self._check_alias(pre)
            elif doc["kind"] == "link":
                self._veto_if_refused(pre)

    def _check_alias(self, pre: dict) -> None:
        hook = _runner().find(self.store, "pre-alias")
        if pre["protected"] and not self.force and hook is None:
            raise ProtectedAliasError(
                f"alias {pre['alias']} of {pre['subject']} is protected: {_move_words(pre)} needs --force",
                f"{_force_words(pre)}, or unprotect it with "
                f"`mvc alias unprotect {pre['subject']} {pre['alias']}`; nothing was changed")
        self._veto_if_refused(pre, hook)

    def _veto_if_refused(self, pre: dict, hook: str | None = None) -> None:
        hook = hook or _runner().find(self.store, pre["event"])
        if hook is None:
            return
        result = _runner().run(self.store, hook, pre)
        if not result.ok:
            what = (_move_words(pre) if pre["kind"] == "alias"
                    else f"linking {pre['source']} into registry/{pre['model']}")
            raise HookVetoError(f"the {pre['event']} hook refused {what}: {result.message()}",
                                f"the hook is {hook}; nothing was changed")

    # ---- post-events: spool and delivery ----------------------------------------
    def _entry(self, refname: str, tip, commit, docs: list[dict]) -> dict | None:
        hooks_found = {d["kind"]: _runner().find(self.store, "post-" + d["kind"]) for d in docs}
        try:
            hooks = _webhooks().load(self.store)
        except MvcError as e:
            _runner().warn(e.message)
            hooks = []
        targets = []
        for i, doc in enumerate(docs):
            doc.update(event="post-" + doc["kind"], commit=str(commit), id=f"{commit}-{i}")
            if hooks_found[doc["kind"]]:
                targets.append({"type": "hook", "event": i, "state": "pending"})
            for h in hooks:
                if _webhooks().wants(h, doc):
                    targets.append({"type": "webhook", "event": i, "state": "pending", "id": h.get("id"),
                                    "url": h["url"], "secret_env": h.get("secret_env"), "attempts": 0})
        if not targets:
            return None
        return {"ref": refname, "commit": str(commit), "parent": str(tip.id) if tip is not None else None,
                "created": datetime.datetime.now(datetime.timezone.utc).timestamp(), "events": docs,
                "targets": targets}

    def _deliver(self, path: str, entry: dict, foreground: bool, retry_failed: bool = False) -> str:
        """Deliver every pending (or, with ``retry_failed``, failed) target that is due; the entry
        goes when all are done, to events/failed/ when only failed ones are left."""
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        for t in entry["targets"]:
            state = t.get("state")
            if state == "done" or (state == "failed" and not retry_failed):
                continue
            if t["type"] == "webhook" and not foreground and not retry_failed and t.get("next", 0) > now:
                continue
            doc = entry["events"][t["event"]]
            if t["type"] == "hook":
                self._run_post_hook(doc, t)
            else:
                if state == "failed":
                    t["rounds"] = 0
                _webhooks().deliver(self.store, t, doc, foreground)
                self.delivered += t["state"] == "done"
            with contextlib.suppress(OSError):
                spool.write(path, entry, durable=False)  # lost in a crash: the target runs again (at least once)
        states = {t.get("state") for t in entry["targets"]}
        if states <= {"done"}:
            spool.remove(path)
            return "done"
        if states <= {"done", "failed"}:
            with contextlib.suppress(OSError):
                spool.move_to_failed(self.store, path)
            return "failed"
        return "pending"

    def _run_post_hook(self, doc: dict, target: dict) -> None:
        hook = _runner().find(self.store, doc["event"])
        target["state"] = "done"  # a hook that ran (or is gone) is delivered; its failure is only reported
        if hook is None:
            return
        try:
            result = _runner().run(self.store, hook, doc)
        except MvcError as e:  # a bad MVC_HOOK_TIMEOUT: reported, as any trouble after the commit
            _runner().warn(f"the {doc['event']} hook {hook} did not run for {doc['address']}: {e.message} "
                           "(the change stands)")
            return
        _runner().relay(result)
        self.delivered += 1
        if not result.ok:
            _runner().warn(f"the {doc['event']} hook {hook} failed for {doc['address']}: {result.message()} "
                        "(the change stands)")

    def run_pending(self, meta, retry_failed: bool = False) -> dict:
        """Deliver what other (ended) processes spooled and did not deliver, and webhooks whose
        backoff has passed (``retry_failed``: every failed one too, at once).  Entries whose
        commit never reached their ref are dropped.  Returns counts."""
        counts = {"delivered": 0, "dropped": 0, "pending": 0, "failed": 0}
        paths = spool.listing(self.store) + (spool.listing(self.store, failed=True) if retry_failed else [])
        for path in paths:
            try:
                self._take_over(meta, path, retry_failed, counts)
            except (OSError, MvcError) as e:  # a read-only store, a damaged ref: leave it for later
                _runner().warn(f"could not deliver the events in {path}: {getattr(e, 'message', e)}")
        return counts

    def _take_over(self, meta, path: str, retry_failed: bool, counts: dict) -> None:
        entry = spool.read(path)
        in_failed = os.path.dirname(path).endswith(spool.FAILED)
        if entry is None or not (in_failed or spool.orphaned(path)) or not (retry_failed or _due(entry)):
            return
        mine = spool.claim(path, os.path.join(self.store, spool.SPOOL))
        if mine is None:
            return
        if not landed(meta, entry):
            spool.remove(mine)
            counts["dropped"] += 1
            return
        before = self.delivered
        outcome = self._deliver(mine, entry, foreground=False, retry_failed=retry_failed)
        counts["delivered"] += self.delivered - before
        if outcome in ("pending", "failed"):
            counts[outcome] += 1


def _due(entry: dict) -> bool:
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    return any(t.get("state") == "pending" and (t["type"] == "hook" or t.get("next", 0) <= now)
               for t in entry["targets"])


def landed(meta, entry: dict) -> bool:
    """Is the entry's commit on its ref?  Walked from the tip back to the entry's parent commit
    (or to commits older than the entry by a minute)."""
    want, parent = entry.get("commit"), entry.get("parent")
    oldest = entry.get("created", 0) - 60
    for c in meta.history(entry["ref"]):
        cid = str(c.id)
        if cid == want:
            return True
        if cid == parent or c.commit_time < oldest:
            return False
    return False


def _move_words(pre: dict) -> str:
    """'moving alias production of p/M from v1 to v2' (or setting, or removing)."""
    what = f"alias {pre['alias']} of {pre['subject']}"
    if pre["new"] is None:
        return f"removing {what} (it is on {pre['old']})"
    if pre["old"] is None:
        return f"setting {what} to {pre['new']}"
    return f"moving {what} from {pre['old']} to {pre['new']}"


def _force_words(pre: dict) -> str:
    """How to move a protected alias where the refused call has no --force: `log`, `link`,
    `delete`, unlink and ``Artifact.save()`` take none, so the hint names the command that does."""
    alias, op = pre["alias"], pre.get("op")
    if op in ("log", "link"):  # the version or link does not exist yet: `latest` will name it
        verb = "log" if op == "log" else "link"
        return (f"{verb} it without that alias, then move the alias with `mvc alias set --force "
                f"{pre['subject']}:latest {alias}` (Python: Api.set_alias with force=True)")
    if op == "alias":  # `mvc alias set|rm`, `mvc registry alias`, Api.set_alias: they take it
        return "pass --force (`mvc alias set --force ...`; Python: force=True)"
    if pre["new"] is None:  # delete, unlink, an edit that takes it off
        return (f"remove the alias first with `mvc alias rm --force {pre['subject']} {alias}` "
                "(Python: Api.remove_alias with force=True)")
    return (f"move the alias with `mvc alias set --force {pre['address']} {alias}` "  # relog, relink, edit
            "(Python: Api.set_alias with force=True)")


# ---- what a change is, as events ---------------------------------------------------
def describe(meta, parsed, tip, change) -> list[dict]:
    """The events of a change (kind log, alias or link), without phase: one per new version, per
    alias whose target changed (not ``latest``) and per new registry link."""
    kind, project, name = parsed
    old_tree = tip.tree if tip is not None else None
    new_tree = meta.get(change.tree, "new tree")
    op = trailer(change.message, "Mvc-Op")
    base = _base(kind, project, name, op)
    docs = []
    if kind == "artifact" and op == "log":
        version = trailer(change.message, "Mvc-Version")
        docs.append(dict(base, kind="log", version=version, digest=trailer(change.message, "Mvc-Digest"),
                         address=f"{project}/{name}:{version}", old=None, new=version))
    if kind == "registry" and op == "link":
        docs.append(_link_doc(meta, base, new_tree, trailer(change.message, "Mvc-Version")))
    old_al = meta.json(old_tree, "aliases.json", {}) if old_tree is not None else {}
    new_al = meta.json(new_tree, "aliases.json", {})
    for alias in sorted(set(old_al) | set(new_al)):
        if alias != "latest" and old_al.get(alias) != new_al.get(alias):
            docs.append(_alias_doc(meta, base, alias, old_al.get(alias), new_al.get(alias),
                                   new_tree if new_al.get(alias) else old_tree))
    return docs


def _base(kind, project, name, op) -> dict:
    who = identity()
    registry = kind == "registry"
    return {"schema": SCHEMA, "op": op, "registry": registry, "project": None if registry else project,
            "name": None if registry else name, "model": name if registry else None,
            "subject": f"registry/{name}" if registry else f"{project}/{name}", "user": who.name,
            "email": who.email, "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _link_doc(meta, base, tree, link) -> dict:
    rec = meta.json(tree, f"{link_path(link)}/link.json", {}) if link else {}
    source = f"{rec.get('project')}/{rec.get('name')}:{rec.get('version')}"
    return dict(base, kind="link", version=link, digest=rec.get("digest"), source=source,
                address=f"registry/{base['model']}:{link}", old=None, new=link)


def _alias_doc(meta, base, alias, old, new, tree) -> dict:
    target = new or old
    if base["registry"]:
        rec = meta.json(tree, f"{link_path(target)}/link.json", {})
        digest, source = rec.get("digest"), f"{rec.get('project')}/{rec.get('name')}:{rec.get('version')}"
        address = f"registry/{base['model']}:{target}"
    else:
        rec = meta.json(tree, f"{version_path(target)}/version.json", {}) if target else {}
        digest, source, address = rec.get("digest"), None, f"{base['subject']}:{target}"
    return dict(base, kind="alias", alias=alias, old=old, new=new, version=target, digest=digest,
                source=source, address=address)
