"""The one canonical encoding for anything mvc hashes or stores as JSON.

Sorted keys, no whitespace between tokens, UTF-8, no NaN, one trailing LF.
Golden vectors in tests/test_canonical.py pin it.
"""
from __future__ import annotations

import json
import math
from typing import Any

from .errors import InvalidInputError


def dumps(obj: Any) -> bytes:
    return (
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        + b"\n"
    )


def loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:  # '[[[[...' deeper than the interpreter's stack: malformed, not a crash
        raise ValueError("JSON nested too deeply") from None


def clean_json(value: Any, where: str = "metadata") -> Any:
    """Return a JSON-safe copy of ``value``: NaN becomes None, infinities and
    non-JSON types are refused with an error that names the key."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise InvalidInputError(
                f"{where} holds an infinite number, which JSON cannot represent",
                "replace it with a large finite number or a string such as \"inf\"",
            )
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInputError(f"{where} has a non-string key {k!r}", "use string keys only")
            out[k] = clean_json(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [clean_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    # numpy scalars and the like expose item(); accept them as plain numbers.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return clean_json(item(), where)
        except (TypeError, ValueError):
            pass
    raise InvalidInputError(
        f"{where} holds a {type(value).__name__}, which is not JSON",
        "pass only dicts, lists, strings, numbers, booleans and None",
    )
