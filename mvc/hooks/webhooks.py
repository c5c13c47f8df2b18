"""Webhooks: an HMAC-signed JSON POST per store event, as W&B's registry automations send one
when an alias is added in a registry.

The list lives in ``<store>/webhooks.json`` (the user's own, never transferred); a secret is
named by the environment variable that holds it and read at each delivery, never stored.  A
delivery happens in the foreground of the command that caused the event (nothing runs in the
background): a few attempts with a short timeout and backoff; what still fails is retried by a
later command once its backoff has passed, or at once by `mvc webhook retry`.  Every attempt is
a line of ``<store>/events/webhooks.log``."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from urllib.parse import urlparse

from .. import canonical
from ..errors import InvalidInputError, MvcError, NotFoundError
from ..fsutil import atomic_write, folder_lock

CONFIG = "webhooks.json"
LOG = os.path.join("events", "webhooks.log")
KINDS = ("log", "alias", "link")
TIMEOUT_S = 3.0                  # each attempt; MVC_WEBHOOK_TIMEOUT overrides it
FOREGROUND_PAUSES = (0.2, 0.8)   # between the attempts made by the command that caused the event
LATER_BACKOFF_S = (30, 120, 600, 1800, 3600, 3600, 3600)  # before each later round; then it is failed
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---- the list --------------------------------------------------------------
def load(store: str) -> list[dict]:
    try:
        with open(os.path.join(store, CONFIG), "rb") as f:
            data = canonical.loads(f.read())
    except FileNotFoundError:
        return []
    except ValueError as e:
        raise InvalidInputError(f"{store}/{CONFIG} is not valid JSON ({e})",
                                "fix or remove it; `mvc webhook add` writes it") from None
    hooks = data.get("webhooks", []) if isinstance(data, dict) else []
    return [h for h in hooks if isinstance(h, dict) and isinstance(h.get("url"), str)]


def _save(store: str, hooks: list[dict]) -> None:
    atomic_write(os.path.join(store, CONFIG), canonical.dumps({"webhooks": hooks}), mode=0o600)


def parse_events(specs) -> list[dict]:
    """``link,alias:REGEX`` (one string or several) -> [{"kind", "match"}].  The REGEX (Python
    syntax, matched in full) filters by the alias name for alias events, the registered model for
    link events and the artifact name for log events; a comma inside it stays part of it."""
    pieces: list[str] = []
    for spec in ([specs] if isinstance(specs, str) else specs):
        for part in spec.split(","):
            if pieces and not re.match(rf"({'|'.join(KINDS)})(:|$)", part):
                pieces[-1] += "," + part  # alias:prod{1,2}: the comma was the regex's
            else:
                pieces.append(part)
    out = []
    for piece in pieces:
        kind, _, pattern = piece.strip().partition(":")
        if kind not in KINDS:
            raise InvalidInputError(f"unknown webhook event {kind!r} in {piece!r}",
                                    f"use one of {', '.join(KINDS)}, optionally KIND:REGEX, e.g. alias:production")
        try:
            re.compile(pattern)
        except re.error as e:
            raise InvalidInputError(f"bad regular expression {pattern!r} for {kind} events: {e}",
                                    "write a Python regular expression, e.g. alias:prod.*") from None
        out.append({"kind": kind, "match": pattern or None})
    if not out:
        raise InvalidInputError("no webhook event given", "pass --event log, link and/or alias[:REGEX]")
    return out


def add(store: str, url: str, events, secret_env: str | None) -> dict:
    check_url(url)
    if secret_env is not None and not _ENV_RE.fullmatch(secret_env):
        raise InvalidInputError(f"{secret_env!r} is not an environment variable name",
                                "pass the variable's name, e.g. --secret-env MVC_WEBHOOK_SECRET (never the secret)")
    hook = {"id": secrets.token_hex(4), "url": url, "events": parse_events(events),
            "secret_env": secret_env, "created_at": round(time.time(), 3)}
    with _editing(store):
        hooks = load(store)
        hooks.append(hook)
        _save(store, hooks)
    return hook


def remove(store: str, key: str) -> dict:
    with _editing(store):
        hooks = load(store)
        gone = [h for h in hooks if key in (h.get("id"), h.get("url"))]
        if not gone:
            raise NotFoundError(f"no webhook {key!r}", "list them with `mvc webhook ls` (remove by id or URL)")
        _save(store, [h for h in hooks if h not in gone])
    return gone[0]


def _editing(store: str):
    """The lock every read-modify-write of the list holds: without it two `mvc webhook add` at
    once each read the old list and the second rename drops the first one's webhook."""
    return folder_lock(store, f"{store}/{CONFIG}")


def check_url(url: str) -> None:
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise InvalidInputError(f"webhook URL {url!r} is not an http:// or https:// URL",
                                "give the receiver's full URL, e.g. https://ci.example.com/mvc-hook")


def wants(hook: dict, doc: dict) -> bool:
    """Does ``hook`` subscribe to the event ``doc``?"""
    kind = doc.get("kind")
    subject = {"alias": doc.get("alias"), "link": doc.get("model"), "log": doc.get("name")}.get(kind)
    for f in hook.get("events", []):
        if f.get("kind") == kind and (not f.get("match") or re.fullmatch(f["match"], subject or "")):
            return True
    return False


# ---- one delivery ------------------------------------------------------------
def body(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signature(secret: str, data: bytes) -> str:
    """The X-Mvc-Signature value: sha256=<hex HMAC-SHA256 of the body under the secret> (as
    GitHub's X-Hub-Signature-256; compare with hmac.compare_digest)."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _timeout() -> float:
    from ..durations import from_env
    return from_env("MVC_WEBHOOK_TIMEOUT", TIMEOUT_S)


def attempt(target: dict, doc: dict) -> tuple[bool, int | None, str | None, bool]:
    """One POST.  Returns (delivered, HTTP status, error, worth retrying)."""
    data = body(doc)
    headers = {"Content-Type": "application/json", "User-Agent": "mvc-webhook/1",
               "X-Mvc-Event": doc.get("event", ""), "X-Mvc-Delivery": doc.get("id", "")}
    env = target.get("secret_env")
    if env:
        secret = os.environ.get(env)
        if not secret:
            return False, None, f"the secret's variable {env} is not set in this environment", True
        headers["X-Mvc-Signature"] = signature(secret, data)
    import urllib.error  # here: urllib.request (http.client, email) costs every command ~10 ms of start-up
    import urllib.request
    req = urllib.request.Request(target["url"], data=data, headers=headers, method="POST")
    try:
        limit = _timeout()
    except MvcError as e:  # a bad MVC_WEBHOOK_TIMEOUT: this attempt fails with the reason, the change stands
        return False, None, e.message, False
    try:
        with urllib.request.urlopen(req, timeout=limit) as resp:
            resp.read(65536)
            return True, resp.status, None, False
    except urllib.error.HTTPError as e:
        return False, e.code, f"HTTP {e.code} {e.reason}", e.code >= 500 or e.code in (408, 429)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return False, None, f"{type(reason).__name__}: {reason}", True


def log_attempt(store: str, target: dict, doc: dict, ok: bool, status: int | None, error: str | None,
                state: str, ms: float) -> None:
    """Append one line to the delivery log (O_APPEND: whole lines from concurrent writers)."""
    line = json.dumps({"when": round(time.time(), 3), "webhook": target.get("id"), "url": target.get("url"),
                       "event": doc.get("event"), "event_id": doc.get("id"), "address": doc.get("address"),
                       "attempt": target.get("attempts", 0), "status": status, "error": error, "state": state,
                       "ms": round(ms, 1), "delivered": ok}, sort_keys=True) + "\n"
    path = os.path.join(store, LOG)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def read_log(store: str, limit: int | None = None) -> list[dict]:
    """The delivery log, newest first."""
    try:
        with open(os.path.join(store, LOG), "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for raw in reversed(lines):
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue  # a line cut by a crash
        if limit and len(out) >= limit:
            break
    return out


def deliver(store: str, target: dict, doc: dict, foreground: bool) -> None:
    """Deliver ``doc`` to one webhook ``target`` (a spool target, updated in place: state,
    attempts, next).  ``foreground``: the command that caused the event, which tries a few
    times with short pauses; otherwise one attempt (a later command, or `mvc webhook retry`)."""
    pauses = FOREGROUND_PAUSES if foreground else ()
    for n in range(len(pauses) + 1):
        target["attempts"] = target.get("attempts", 0) + 1
        start = time.monotonic()
        ok, status, error, retry = attempt(target, doc)
        ms = (time.monotonic() - start) * 1000
        if ok:
            target["state"] = "done"
            log_attempt(store, target, doc, True, status, None, "delivered", ms)
            return
        last = n == len(pauses)
        if not retry or (last and target.get("rounds", 0) >= len(LATER_BACKOFF_S)):
            target["state"] = "failed"
            log_attempt(store, target, doc, False, status, error, "failed", ms)
            return
        if last:
            target["next"] = time.time() + LATER_BACKOFF_S[target.get("rounds", 0)]
            target["rounds"] = target.get("rounds", 0) + 1
            log_attempt(store, target, doc, False, status, error, "retry-later", ms)
            return
        log_attempt(store, target, doc, False, status, error, "retrying", ms)
        time.sleep(pauses[n])
