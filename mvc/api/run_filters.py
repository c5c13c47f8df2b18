"""W&B's run filters and order for ``Api().runs(path, filters=, order=)``: MongoDB's query form
on the fields W&B's docs name (``state``, ``displayName``, ``createdAt``, ``config.KEY``,
``summary_metrics.KEY``, ...), read from what a run record holds.  A filter is checked whole
before any run is read: an unknown field or operator is an error, never a filter that silently
matches nothing (a typo such as ``stat`` used to return no runs)."""
from __future__ import annotations

import difflib
import re
import time

from ..errors import InvalidInputError

MISSING = object()  # a field the run does not have (MongoDB: $exists false, $eq null matches it)


def _none_missing(value):
    return MISSING if value is None else value


def _env(key: str):
    return lambda r: _none_missing(r.record.get("env", {}).get(key))


def _duration(r) -> float:
    start = r.record.get("started_at") or 0
    return (r.record.get("ended_at") or time.time()) - start


_STATE = lambda r: r.state  # noqa: E731 - the table below reads best as one line a field
_DISPLAY = lambda r: _none_missing(r.name)  # noqa: E731
_RUN_ID = lambda r: r.id  # noqa: E731
_CREATED = lambda r: _none_missing(r.record.get("started_at"))  # noqa: E731
_JOB_TYPE = lambda r: _none_missing(r.job_type)  # noqa: E731

FIELDS = {  # W&B's spelling (camelCase, as its docs list them) and the snake_case one its examples use
    "state": _STATE,
    "displayName": _DISPLAY, "display_name": _DISPLAY,
    "name": _RUN_ID, "id": _RUN_ID,  # W&B's filter field "name" is the run id
    "createdAt": _CREATED, "created_at": _CREATED,
    "jobType": _JOB_TYPE, "job_type": _JOB_TYPE,
    "group": lambda r: _none_missing(r.group),
    "tags": lambda r: list(r.tags),
    "duration": _duration,
    "host": _env("host"),
    "username": _env("user"),
    "entity": lambda r: _none_missing(r.entity),
    "project": lambda r: _none_missing(r.project),
    "notes": lambda r: r.notes or MISSING,
}
TIME_FIELDS = {"createdAt", "created_at"}
PREFIXES = {"config": lambda r: r.config, "summary_metrics": lambda r: r.summary, "summary": lambda r: r.summary}
COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex")
LOGICAL = ("$and", "$or", "$nor")

_KEYS_HINT = ("filter on one of: state, displayName (display_name), name or id (the run id), createdAt "
              "(created_at), jobType (job_type), group, tags, duration, host, username, entity, project, "
              "notes, config.KEY, summary_metrics.KEY (summary.KEY)")
_OPS_HINT = "operators: " + ", ".join(COMPARISONS) + " ($options with $regex); combine with " + ", ".join(LOGICAL)


def compile_filters(filters):
    """A predicate on RunRecord for W&B's ``filters`` dict (None: every run)."""
    if filters is None:
        return lambda r: True
    return _document(filters, "filters")


def _document(doc, where: str):
    if not isinstance(doc, dict):
        raise InvalidInputError(f"run {where} must be a dict such as {{'state': 'finished'}}, not "
                                f"{type(doc).__name__}", _KEYS_HINT)
    tests = [_logical(k, v) if k.startswith("$") else _field(k, v) for k, v in doc.items()]
    return lambda r: all(t(r) for t in tests)


def _logical(op: str, parts):
    if op not in LOGICAL:
        raise InvalidInputError(f"run filter operator {op!r} is not supported at the top level",
                                f"{_suggest(op, LOGICAL)}combine filters with {', '.join(LOGICAL)}; {_OPS_HINT}")
    if not isinstance(parts, (list, tuple)) or not parts:
        raise InvalidInputError(f"run filter {op} takes a non-empty list of filters, not {parts!r}",
                                f"write e.g. {{'{op}': [{{'state': 'finished'}}, {{'jobType': 'train'}}]}}")
    tests = [_document(p, f"filter inside {op}") for p in parts]
    if op == "$and":
        return lambda r: all(t(r) for t in tests)
    if op == "$or":
        return lambda r: any(t(r) for t in tests)
    return lambda r: not any(t(r) for t in tests)


def getter(key: str):
    """(value of ``key`` on a run, or MISSING; whether the field is a time)."""
    if not isinstance(key, str):
        raise InvalidInputError(f"run filter key {key!r} is not text", _KEYS_HINT)
    if key in FIELDS:
        return FIELDS[key], key in TIME_FIELDS
    head, dot, rest = key.partition(".")
    if dot and head in PREFIXES and rest:
        tree = PREFIXES[head]
        return (lambda r: lookup(tree(r), rest)), False
    known = [*FIELDS, *(f"{p}.KEY" for p in PREFIXES)]
    raise InvalidInputError(f"run filter key {key!r} is not one mvc knows", _suggest(key, known) + _KEYS_HINT)


def lookup(tree, path: str):
    """``tree[path]``, else down the dots (``opt.name``); W&B's ``KEY.value`` form of a config
    value (its server stores config as {KEY: {"value": ...}}) reads the value itself."""
    if isinstance(tree, dict) and path in tree:
        return tree[path]
    head, dot, rest = path.partition(".")
    if not dot or not isinstance(tree, dict) or head not in tree:
        return MISSING
    sub = tree[head]
    if rest == "value" and not (isinstance(sub, dict) and "value" in sub):
        return sub
    return lookup(sub, rest)


def _field(key: str, want):
    get, is_time = getter(key)
    if isinstance(want, dict) and any(isinstance(k, str) and k.startswith("$") for k in want):
        bad = [k for k in want if not (isinstance(k, str) and k.startswith("$"))]
        if bad:
            raise InvalidInputError(f"run filter {key!r} mixes operators with the plain key {bad[0]!r}",
                                    "write either {'$gt': 1, '$lt': 5} or a plain value, not both")
        options = want.get("$options", "")
        if "$options" in want and "$regex" not in want:
            raise InvalidInputError(f"run filter {key!r}: $options goes with $regex", _OPS_HINT)
        conds = [_operator(key, op, arg, is_time, options) for op, arg in want.items() if op != "$options"]
    else:
        conds = [_operator(key, "$eq", want, is_time, "")]
    return lambda r: (lambda have: all(c(have) for c in conds))(get(r))


def _operator(key: str, op: str, arg, is_time: bool, options: str):
    if op not in COMPARISONS:
        raise InvalidInputError(f"run filter {key!r}: operator {op!r} is not supported",
                                _suggest(op, COMPARISONS) + _OPS_HINT)
    if op in ("$in", "$nin"):
        if not isinstance(arg, (list, tuple, set)):
            raise InvalidInputError(f"run filter {key!r}: {op} takes a list, not {arg!r}",
                                    f"write e.g. {{'{key}': {{'{op}': ['a', 'b']}}}}")
        values = [_time(key, a) if is_time else a for a in arg]
        found = lambda have: any(_eq(have, v) for v in values)  # noqa: E731
        return found if op == "$in" else (lambda have: not found(have))
    if op == "$exists":
        return lambda have: (have is not MISSING) == bool(arg)
    if op == "$regex":
        return _regex(key, arg, options)
    value = _time(key, arg) if is_time and arg is not None else arg
    if op == "$eq":
        return lambda have: _eq(have, value)
    if op == "$ne":
        return lambda have: not _eq(have, value)
    compare = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
               "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}[op]
    return lambda have: _any_of(have, lambda h: _comparable(h, value) and compare(h, value))


def _regex(key: str, pattern, options: str):
    if not isinstance(pattern, str) or not isinstance(options, str) or set(options) - set("imsx"):
        raise InvalidInputError(f"run filter {key!r}: $regex takes a pattern string (and $options of i, m, s, x)",
                                f"write e.g. {{'{key}': {{'$regex': '^base', '$options': 'i'}}}}")
    flags = 0
    for ch in options:
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[ch]
    try:
        rx = re.compile(pattern, flags)
    except re.error as e:
        raise InvalidInputError(f"run filter {key!r}: $regex {pattern!r} is not a valid pattern ({e})",
                                "write a Python regular expression") from None
    return lambda have: _any_of(have, lambda h: isinstance(h, str) and rx.search(h) is not None)


def _any_of(have, test) -> bool:
    """MongoDB on an array field: the condition holds for some element."""
    if have is MISSING:
        return False
    if isinstance(have, list):
        return any(test(h) for h in have)
    return test(have)


def _eq(have, value) -> bool:
    """MongoDB's equality: null matches a missing field; an array matches a value it holds or an
    equal array; True is not 1."""
    if have is MISSING:
        return value is None
    if isinstance(have, list) and not isinstance(value, list):
        return any(_same(h, value) for h in have)
    return _same(have, value)


def _same(a, b) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _comparable(a, b) -> bool:
    """Both numbers (not booleans) or both text: MongoDB compares only within a type."""
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    return (number(a) and number(b)) or (isinstance(a, str) and isinstance(b, str))


def _time(key: str, value) -> float:
    """Epoch seconds of a filter's time: a number, a datetime, an ISO date or time (W&B's
    "2023-01-01T12:00:00Z"; UTC unless it says), or mvc's duration ago ("2d")."""
    from datetime import datetime, timezone
    from .. import durations
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    try:
        return durations.parse_since(str(value))
    except ValueError as e:
        raise InvalidInputError(f"run filter {key!r}: {e}",
                                "pass epoch seconds, a datetime, or text such as '2024-05-01T12:00:00Z' or '2d'") \
            from None


def sort_key(order: str | None):
    """(key function, reverse) for W&B's ``order``: ``[+|-]FIELD`` where FIELD is a filter
    field (``created_at``, ``summary_metrics.loss``, ``config.lr``, ...); runs lacking the value
    come last either way.  None: oldest first (W&B's "+created_at")."""
    if order is None:
        order = "+created_at"
    if not isinstance(order, str) or not order.lstrip("+-"):
        raise InvalidInputError(f"run order must be text such as '-created_at', not {order!r}",
                                "write [+|-]FIELD: + ascending (the default), - descending")
    reverse = order.startswith("-")
    field = order.lstrip("+-")
    if field in ("heartbeat_at", "heartbeatAt", "updated_at", "updatedAt"):
        get = lambda r: _none_missing(r.record.get("ended_at") or r.record.get("started_at"))  # noqa: E731
    else:
        get, _ = getter(field)

    def key(r):
        v = get(r)
        if v is MISSING or v is None or isinstance(v, (dict, list)):
            return (1, 0, "")  # last (flipped below when descending)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, 0, float(v))
        return (0, 1, str(v))

    if not reverse:
        return key, False
    return (lambda r: (lambda k: (-k[0],) + k[1:])(key(r))), True


def _suggest(word: str, known) -> str:
    near = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}? " if near else ""
