"""Settings in TOML files, for what was only an environment variable: who you are, the
default project, the link mode of `use`, the remote `push` and `fetch` use, the size of
the whole-file cache.

Where a value comes from, first match wins (as git's own settings):

1. the command-line option, where there is one (the caller passes it, not this module);
2. the environment variable (``MVC_USER`` …), so a CI job or one shell can override;
3. the store's file, ``<store>/config.toml`` (never pushed, pulled or cloned);
4. the user's file, ``$XDG_CONFIG_HOME/mvc/config.toml`` (``~/.config/mvc/config.toml``);
5. the built-in default.

Both files are the user's own, yet are checked like input: an unknown key, a value of
the wrong kind or TOML that does not parse is a typed error naming the file, the key and
the fix, never a traceback and never silently ignored.  Writes are atomic (temp file,
fsync, rename) and keep the file sorted, one ``[section]`` per group, so it diffs well.
"""
from __future__ import annotations

import os
import re

from .errors import InvalidInputError, UsageError
from .fsutil import atomic_write, folder_lock
from .record import record

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Callable

FILE_NAME = "config.toml"
LEVELS = ("store", "user")


def _text(value, key: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInputError(f"{key} must be a non-empty line of text, got {value!r}",
                                f"set it with `mvc config set {key} VALUE`")
    return value


def _ident(value, key: str) -> str:
    """A commit author's name or email: what git itself refuses (a line break, NUL, angle
    brackets) is refused; anything else is kept, and escaped wherever mvc prints it."""
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\n\r\0<>"):
        raise InvalidInputError(f"{key} must be one line without < or >, got {value!r}",
                                f"set it with `mvc config set {key} VALUE`")
    return value


def _project(value, key: str) -> str:
    from .names import check_project
    return check_project(_text(value, key))


def _remote(value, key: str) -> str:
    from .names import check_remote_name
    return check_remote_name(_text(value, key))


def _link(value, key: str) -> str:
    if value not in LINK_MODES:
        raise InvalidInputError(f"{key} must be one of {', '.join(LINK_MODES)}, got {value!r}",
                                f"e.g. `mvc config set {key} hardlink`")
    return value


def _size(value, key: str) -> int:
    """Bytes: an integer, or a number with a unit (``500M``, ``20G``, ``1.5TiB``)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value >= 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", str(value), re.IGNORECASE) if value is not None else None
    if not m:
        raise InvalidInputError(f"{key} must be a size in bytes such as 20G or 500M, got {value!r}",
                                f"e.g. `mvc config set {key} 20G`")
    return int(float(m.group(1)) * 1024 ** ("", "k", "m", "g", "t").index(m.group(2).lower()))


LINK_MODES = ("copy", "hardlink", "reflink", "auto")  # use never writes symlinks


@record(frozen=True)
class Key:
    env: str
    check: Callable
    default: object
    help: str


KEYS: dict[str, Key] = {
    "user.name": Key("MVC_USER", _ident, None, "the name on commits (alias moves, logs); else git's user.name"),
    "user.email": Key("MVC_EMAIL", _ident, None, "the email on commits; else git's user.email"),
    "core.project": Key("MVC_PROJECT", _project, None, "the project to work in; else the project folder's name"),
    "use.link": Key("MVC_LINK", _link, "copy", "how `use` materialises files: copy, hardlink, reflink, auto"),
    "remote.default": Key("MVC_REMOTE", _remote, "origin", "the remote that push, pull and fetch use without a name"),
    "cache.max_size": Key("MVC_CACHE_MAX", _size, None, "the size limit of the whole-file cache that gc keeps to"),
}


def user_file() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "mvc", FILE_NAME)


def store_file(store: str) -> str:
    return os.path.join(store, FILE_NAME)


def path_of(level: str, store: str | None) -> str:
    if level == "user":
        return user_file()
    if store is None:
        raise UsageError("there is no store here to hold a store-level setting",
                         "run `mvc init`, pass -C DIR, or use --user")
    return store_file(store)


def _key(key: str) -> Key:
    spec = KEYS.get(key)
    if spec is None:
        raise InvalidInputError(f"unknown setting {key!r}", "known settings: " + ", ".join(sorted(KEYS)))
    return spec


def read_file(path: str) -> dict[str, object]:
    """The flat ``{"section.key": value}`` of one file ({} if it does not exist), checked."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidInputError(f"{path} is not valid TOML: {e}", f"fix or remove {path}") from None
    flat: dict[str, object] = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise InvalidInputError(f"{path}: {section!r} must be a [section] of settings",
                                    "known settings: " + ", ".join(sorted(KEYS)))
        for name, value in table.items():
            key = f"{section}.{name}"
            if key not in KEYS:
                raise InvalidInputError(f"{path}: unknown setting {key!r}",
                                        f"remove it (`mvc config unset {key}`); known: " + ", ".join(sorted(KEYS)))
            try:
                KEYS[key].check(value, key)
            except InvalidInputError as e:
                raise InvalidInputError(f"{path}: {e.message}", e.hint) from None
            flat[key] = value
    return flat


def lookup(key: str, store: str | None = None) -> tuple[object, str]:
    """(checked value, where it came from: ``env MVC_X``, a file's path, or ``default``)."""
    spec = _key(key)
    env = os.environ.get(spec.env)
    if env:
        try:
            return spec.check(env, key), f"env {spec.env}"
        except InvalidInputError as e:
            raise InvalidInputError(f"{spec.env}: {e.message}", f"fix or unset {spec.env}") from None
    for level in LEVELS:
        if level == "store" and store is None:
            continue
        path = path_of(level, store)
        values = read_file(path)
        if key in values:
            return spec.check(values[key], key), path
    return spec.default, "default"


def get(key: str, store: str | None = None):
    return lookup(key, store)[0]


def items(store: str | None = None) -> list[tuple[str, object, str]]:
    """Every known setting with its effective value and origin, sorted by key."""
    return [(key, *lookup(key, store)) for key in sorted(KEYS)]


def set_value(key: str, value: str, level: str = "store", store: str | None = None) -> str:
    """Write ``key = value`` at ``level``; returns the file written."""
    spec = _key(key)
    checked = spec.check(value, key)
    path = path_of(level, store)
    with _editing(path):
        values = read_file(path)
        values[key] = value if isinstance(value, (int, str)) else checked  # as the user wrote it: "20G" stays "20G"
        _write(path, values)
    return path


def unset(key: str, level: str = "store", store: str | None = None) -> bool:
    """Remove ``key`` from ``level``'s file; False if it was not there."""
    _key(key)
    path = path_of(level, store)
    with _editing(path):
        values = read_file(path)
        if key not in values:
            return False
        del values[key]
        _write(path, values)
    return True


def _editing(path: str):
    """The lock a read-modify-write of a settings file holds (on its folder): without it two
    `mvc config set` of different keys at once each read the old file and one key is lost."""
    return folder_lock(os.path.dirname(path), path)


def toml_string(value: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped (also mvc.lock's)."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInputError(f"cannot write {value!r} as a setting")
    return str(value) if isinstance(value, int) else toml_string(value)


def render(values: dict[str, object]) -> str:
    """The TOML text of ``values``: sorted sections, sorted keys."""
    sections: dict[str, list[str]] = {}
    for key in sorted(values):
        section, name = key.split(".", 1)
        sections.setdefault(section, []).append(f"{name} = {_toml_value(values[key])}")
    return "\n".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())


def _write(path: str, values: dict[str, object]) -> None:
    atomic_write(path, render(values).encode("utf-8"))
