"""Key-level changes between two JSON documents (config.json, tokenizer_config.json, ...).

Paths are JSON Pointers (RFC 6901): ``/architectures/0``, ``/rope_scaling/factor``;
``~`` and ``/`` inside a key are written ``~0`` and ``~1``.  Objects are compared key by key,
arrays index by index (a longer array has its extra indices added or removed), anything
else by type and value, so ``1`` and ``1.0`` differ as the files do.  At most ``MAX_CHANGES``
changes are listed (``truncated`` says when there were more), and a value whose JSON is over
``MAX_VALUE`` bytes is given as null with ``elided`` set.  NaN and the infinities, which
Python's parser accepts, come back as the strings "NaN", "Infinity", "-Infinity".
"""
from __future__ import annotations

import json
import math

MAX_CHANGES = 1000
MAX_VALUE = 4096
MAX_DOCUMENT = 8 << 20   # bytes: larger JSON files are compared as bytes


class _Full(Exception):
    pass


class TooDeep(ValueError):
    """Valid JSON nested deeper than the parser recurses (a ValueError, as before)."""


def parse(data: bytes):
    """The document, or ValueError (not UTF-8, not JSON, nested too deep).  NaN and the infinities
    come back as their names, and a number too large for a double (``1e400``) as its text: a float
    that is not finite would make the result invalid JSON, and NaN != NaN a change that is none."""
    try:
        return json.loads(data, parse_constant=str, parse_float=finite_float)
    except RecursionError:
        raise TooDeep("nested too deeply to compare key by key") from None


def finite_float(text: str):
    """A JSON number as a float, or its text when a double cannot hold it (``1e400``)."""
    value = float(text)
    return value if math.isfinite(value) else text


def finite(value):
    """A scalar read from a binary header (GGUF metadata) with NaN and the infinities named as
    ``parse`` names them."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    return value


def count_changes(kd: dict) -> int:
    """The changes a key diff (``changes``' result) lists: added, removed and changed."""
    return len(kd["added"]) + len(kd["removed"]) + len(kd["changed"])


def changes(old, new) -> dict:
    """{added: [{path, value, elided}], removed: [...], changed: [{path, old, new, elided}], truncated}."""
    out = {"added": [], "removed": [], "changed": [], "truncated": False}
    try:
        _walk(old, new, "", out)
    except _Full:
        out["truncated"] = True
    except RecursionError:
        out["truncated"] = True
    return out


def _walk(a, b, path: str, out: dict) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            sub = f"{path}/{_escape(k)}"
            if k not in b:
                _note(out, "removed", sub, value=a[k])
            elif k not in a:
                _note(out, "added", sub, value=b[k])
            else:
                _walk(a[k], b[k], sub, out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                _note(out, "removed", f"{path}/{i}", value=a[i])
            elif i >= len(a):
                _note(out, "added", f"{path}/{i}", value=b[i])
            else:
                _walk(a[i], b[i], f"{path}/{i}", out)
    elif type(a) is not type(b) or a != b:
        _note(out, "changed", path, old=a, new=b)


def _note(out: dict, kind: str, path: str, **values) -> None:
    if sum(len(out[k]) for k in ("added", "removed", "changed")) >= MAX_CHANGES:
        raise _Full
    elided = False
    for k, v in values.items():
        if len(json.dumps(v)) > MAX_VALUE:
            values[k], elided = None, True
    out[kind].append({"path": path, **values, "elided": elided})


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
