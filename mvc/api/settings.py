"""`mvc config` for Python: read and write the settings of mvc/settings.py at the store or
user level.  Reading finds the store as every command does (``dir``, MVC_DIR, the nearest
``.mvc``) but never creates one; outside a store only the user level and the environment
apply."""
from __future__ import annotations

from .. import settings as config
from ..errors import NotFoundError


def _store(dir: str | None) -> str | None:
    """The store here, or None; a store this mvc cannot read (a newer format) is refused as every
    command refuses it, so its settings file is neither read nor written."""
    from ..repo.layout import check_format, find_store
    try:
        store = find_store(dir, create=False)
    except NotFoundError:
        return None
    check_format(store)
    return store


def settings(dir: str | None = None) -> list[dict]:
    """Every known setting: [{key, value, origin, env, help}], sorted by key."""
    store = _store(dir)
    return [{"key": k, "value": v, "origin": origin, "env": config.KEYS[k].env, "help": config.KEYS[k].help}
            for k, v, origin in config.items(store)]


def get_setting(key: str, dir: str | None = None) -> tuple[object, str]:
    """(value, origin) of ``key``: the environment, the store's file, the user's file or the default."""
    return config.lookup(key, _store(dir))


def set_setting(key: str, value: str, user: bool = False, dir: str | None = None) -> str:
    """Write ``key = value`` into the store's file (or the user's); returns the file written."""
    return config.set_value(key, value, "user" if user else "store", None if user else _store(dir))


def unset_setting(key: str, user: bool = False, dir: str | None = None) -> bool:
    """Remove ``key`` from the store's file (or the user's); False if it was not set there."""
    return config.unset(key, "user" if user else "store", None if user else _store(dir))
