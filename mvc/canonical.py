"""The one canonical encoding for anything mvc hashes or stores as JSON.

Sorted keys, no whitespace between tokens, UTF-8, no NaN, one trailing LF.
Golden vectors in tests/test_canonical.py pin it.
"""
from __future__ import annotations

import json
import math
import re

from .errors import InvalidInputError

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any


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


MAX_DEPTH = 100
"""Containers (objects and lists) nest at most this deep in metadata, config and logged values:
a parser with a fixed nesting limit (serde_json's is 128) still reads every document mvc writes."""
MAX_INT_DIGITS = 4300
"""Integers have at most this many decimal digits: Python's default int/str conversion limit,
so any Python reader with default settings can parse what mvc writes."""
_INT_BOUND = 10 ** MAX_INT_DIGITS
_INT_HINT = "store it as a string, or as a float if an approximation will do"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_json(value: Any, where: str = "metadata") -> Any:
    """Return a JSON-safe copy of ``value``: NaN becomes None; infinities, non-JSON types, lone
    surrogates (not UTF-8), integers beyond MAX_INT_DIGITS and nesting beyond MAX_DEPTH are
    refused with an InvalidInputError that names the path of keys to the bad value."""
    return _clean(value, where, (), 0)


def clean_text(value: Any, where: str) -> Any:
    """``value`` if it is None or a string that UTF-8 can encode; InvalidInputError otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{where} must be a string, not {type(value).__name__}", f"pass {where} as text")
    _check_str(value, where, (), "text")
    return value


def key_path(where: str, path: tuple) -> str:
    """``where`` and the keys below it, as Python would index them: metadata['a'][3]['b'] (long
    paths keep their first and last keys, long keys their first characters)."""
    parts = [f"[{_short(k)}]" for k in path]
    if len(parts) > 8:
        parts = parts[:4] + [f"[…{len(parts) - 6} more…]"] + parts[-2:]
    return where + "".join(parts)


def _short(key) -> str:
    text = repr(key)  # escapes control characters and surrogates
    return text if len(text) <= 40 else text[:36] + "…" + text[-1]


class _LongInt(str):
    """An integer literal of user JSON too long for int() (parse_int): clean_json refuses it by key."""


def parse_int(text: str):
    """json.loads' parse_int for user input: a literal beyond MAX_INT_DIGITS stays text, so that
    clean_json can name the key that holds it instead of the parser failing without one."""
    return int(text) if len(text) <= MAX_INT_DIGITS else _LongInt(text)


def _clean(value: Any, where: str, path: tuple, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, _LongInt):
        raise InvalidInputError(f"{key_path(where, path)} holds an integer of {len(value.lstrip('-'))} digits; "
                                f"the limit is {MAX_INT_DIGITS}", _INT_HINT)
    if isinstance(value, str):
        _check_str(value, where, path, "value")
        return value
    if isinstance(value, int):
        if -_INT_BOUND < value < _INT_BOUND:
            return value
        raise InvalidInputError(
            f"{key_path(where, path)} holds an integer of about {int(value.bit_length() * 0.30103)} digits; "
            f"the limit is {MAX_INT_DIGITS}", _INT_HINT)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise InvalidInputError(
                f"{key_path(where, path)} holds an infinite number, which JSON cannot represent",
                "replace it with a large finite number or a string such as \"inf\"",
            )
        return value
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise InvalidInputError(f"{key_path(where, path)} is nested more than {MAX_DEPTH} levels deep "
                                    "(or refers to itself)",
                                    "flatten it (join nested keys into one, e.g. 'a.b.c'), or log a deep "
                                    "structure as a file of the artifact")
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise InvalidInputError(f"{key_path(where, path)} has a non-string key {_short(k)}",
                                            "use string keys only")
                _check_str(k, where, path + (k,), "key")
                out[k] = _clean(v, where, path + (k,), depth + 1)
            return out
        return [_clean(v, where, path + (i,), depth + 1) for i, v in enumerate(value)]
    # numpy scalars and the like expose item(); accept them as plain numbers.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):
            plain = value
        if isinstance(plain, (str, int, float)):
            return _clean(plain, where, path, depth)
    raise InvalidInputError(
        f"{key_path(where, path)} holds a {type(value).__name__}, which is not JSON",
        "pass only dicts, lists, strings, numbers, booleans and None",
    )


def _check_str(text: str, where: str, path: tuple, what: str) -> None:
    bad = _SURROGATE.search(text)
    if bad:
        raise InvalidInputError(
            f"{key_path(where, path)}: the {what} holds a lone surrogate {bad.group()!r} at character "
            f"{bad.start()}, which is not Unicode text and cannot be written as UTF-8",
            "decode bytes with their real encoding (or errors='replace') before passing them")
