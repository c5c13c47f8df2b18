"""mvc.lock from the API: pin a version used (`mvc use --save`), restore every pin exactly
(`mvc use --locked`), and check the pins (`mvc lock check`).  The file itself: mvc/hooks/lockfile.py."""
from __future__ import annotations

import os

from ..errors import IntegrityError, InvalidInputError, MvcError, NotFoundError
from ..hooks import lockfile
from ..names import parse_address
from ..repo.repository import check_digest


def _lock_path(lock: str | None) -> str:
    return os.path.abspath(lock) if lock else lockfile.find()


def pin_key(address: str) -> str:
    """The lock's key for an address: as written, without its version, alias or digest."""
    addr = parse_address(address)
    if addr.registry:
        return f"registry/{addr.name}"
    return "/".join(p for p in (addr.project, addr.name) if p)


def pin_folder(folder: str, lock: str | None = None) -> str:
    """``folder`` relative to the lock's folder ('/'-separated); InvalidInputError if it is outside."""
    top = os.path.dirname(_lock_path(lock))
    rel = os.path.relpath(os.path.abspath(folder), top)
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise InvalidInputError(f"{folder} is outside {top}, where {lockfile.NAME} is; a pin's folder must be "
                                "inside the work tree", "pass -o with a folder inside the work tree")
    return rel.replace(os.sep, "/")


def save_pin(api, address: str, art, folder: str, lock: str | None = None, remote: str | None = None) -> dict:
    """Record in mvc.lock that this code uses ``art`` (resolved from ``address``) in ``folder``."""
    path = _lock_path(lock)
    rel = pin_folder(folder, lock)
    via = f"registry/{art.via_link.model}:{art.via_link.link}" if getattr(art, "via_link", None) else None
    pin = lockfile.Pin(pin_key(address), art.project, art.name, art.version, art.digest,
                       rel, remote if remote is not None else default_remote(api), via)
    lockfile.save(path, pin)
    return dict(pin.as_dict(), lock=path)


def default_remote(api) -> str | None:
    """The remote a pinned version is pushed to: ``origin``, or the store's only remote, or none."""
    try:
        names = [r["name"] for r in api.remotes()]
    except MvcError:  # the remotes cannot be read: record none (the pin still names the version)
        return None
    return "origin" if "origin" in names else (names[0] if len(names) == 1 else None)


def _pins(lock: str | None, keys=None) -> tuple[str, list]:
    path = _lock_path(lock)
    pins = lockfile.load(path)
    if keys:
        unknown = [k for k in keys if k not in {p.key for p in pins}]
        if unknown:
            raise NotFoundError(f"{path} pins no {', '.join(unknown)}; it pins {', '.join(p.key for p in pins) or 'nothing'}",
                                "pin it with `mvc use ADDRESS -o DIR --save`")
        pins = [p for p in pins if p.key in keys]
    return path, pins


def _pinned(api, pin, where: str):
    """The store's version for ``pin``, which must have the pinned digest."""
    art = api.artifact(pin.address)
    if art.digest != pin.digest:
        others = [a.version for a in api.artifacts(f"{pin.project}/{pin.name}") if a.digest == pin.digest]
        raise IntegrityError(
            f"{pin.address} in this store has digest {art.digest[:16]}…, but {where} pins {pin.digest[:16]}… for "
            f"{pin.key}" + (f" (that content is {', '.join(others)} here)" if others else ""),
            "the store and the lock disagree: pull the store from the remote the lock names, or pin again with "
            f"`mvc use {pin.project}/{pin.name}@{pin.digest[:12]} -o {pin.path} --save`; nothing was written")
    return art


def use_locked(api, lock: str | None = None, keys=None, progress=None, run=None) -> list[dict]:
    """Materialise each pin into its folder (a folder already holding exactly its files is left
    alone).  Every pin is resolved and its digest checked before any file is written."""
    path, pins = _pins(lock, keys)
    top = os.path.dirname(path)
    arts = [(pin, _pinned(api, pin, path)) for pin in pins]
    out = []
    for pin, art in arts:
        folder = os.path.join(top, *pin.path.split("/"))
        same = os.path.isdir(folder) and not art._verify_folder(folder)
        if run is not None:
            run.use_artifact(art)
        if not same:
            art.download(folder, progress=progress)
        out.append(dict(pin.as_dict(), folder=folder, action="unchanged" if same else "restored"))
    return out


def check(api, lock: str | None = None) -> dict:
    """For each pin: is its version in the store with the pinned digest and every chunk present
    (``store``), and does its folder, if there is one, hold exactly its files (``folder``)?"""
    path, pins = _pins(lock)
    rows = [dict(pin.as_dict(), store=_store_state(api, pin), folder=_folder_state(api, pin, path))
            for pin in pins]
    ok = all(r["store"] == "ok" and r["folder"] in ("ok", "absent") for r in rows)
    return {"lock": path, "ok": ok, "pins": rows}


def _store_state(api, pin) -> str:
    try:
        art = api.artifact(pin.address)
    except NotFoundError:
        return "missing"
    if art.digest != pin.digest:
        return f"digest differs (the store has {art.digest[:16]}…)"
    v = art._info
    try:
        entries = api.repo.entries(v)
        check_digest(art.address, v.record, entries)
    except MvcError as e:
        return f"damaged: {e.message}"
    missing = api.repo.chunks.missing(cid for _, ptr in entries if not ptr.is_reference for cid, _ in ptr.chunks)
    return f"{len(missing)} chunks missing (pull them from the remote)" if missing else "ok"


def _folder_state(api, pin, path: str) -> str:
    folder = os.path.join(os.path.dirname(path), *pin.path.split("/"))
    if not os.path.isdir(folder):
        return "absent"
    try:
        problems = api.artifact(pin.address)._verify_folder(folder)
    except MvcError:
        return "unknown (the version is not in the store)"
    return "ok" if not problems else f"differs: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
