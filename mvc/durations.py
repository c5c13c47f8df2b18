"""Durations as users write them, one parser for every option, call and environment variable
that takes one: a number of seconds, or a number with a unit, `90`, `90s`, `30m`, `1.5h`, `2d`,
`2w`.  Negative, NaN, infinite and empty values are refused (a negative grace would let gc
delete what a live writer is still writing), and so is an upper-case M: `1M` read as one
minute once let `mvc gc --retention 1M` purge a trash its user meant to keep for a month."""
from __future__ import annotations

import math
import os
import re
from datetime import datetime, timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = "a number of seconds or a number with a unit: 90, 90s, 30m, 1.5h, 2d, 2w"
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhdw]?)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_duration(text: str | float) -> float:
    """Seconds from ``text`` (see the module); ValueError saying what is wrong."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        written = str(text).strip()
        if written.endswith("M"):  # months to some, megabytes to others, minutes to nobody who meant them
            raise ValueError(f"{written!r} is not a duration: M is ambiguous; write 30m for minutes, 30d for "
                             f"a month ({FORMS})")
        m = _DURATION.fullmatch(written.lower())
        if m is None:
            raise ValueError(f"{str(text)!r} is not a duration: write {FORMS} (not negative)")
        value = float(m.group(1)) * UNITS[m.group(2) or "s"]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration: write {FORMS} (finite, not negative)")
    return value


def from_env(name: str, default: float) -> float:
    """Seconds from the environment variable ``name`` (a duration above zero), or ``default``
    when it is unset or empty; a UsageError naming the variable for anything else (a timeout
    of NaN crashed the hook runner, `1s` was ignored, and `-1` made every hook time out)."""
    text = os.environ.get(name, "")
    if not text.strip():
        return default
    try:
        value = parse_duration(text)
        if value <= 0:
            raise ValueError(f"{text!r} is not above zero")
    except ValueError as e:
        from .errors import UsageError
        raise UsageError(f"{name}={text}: {e}", f"set {name} to a duration above zero ({FORMS}), or unset it "
                         f"for the default of {default:g}s") from None
    return value


def parse_since(text: str, now: float | None = None) -> float:
    """Epoch seconds of ``text``: a duration ago (see the module), or an ISO date or date and
    time (UTC unless it says); ValueError saying what is wrong."""
    try:
        ago = parse_duration(text)
    except ValueError:
        ago = None
    if ago is not None:
        return (datetime.now(timezone.utc).timestamp() if now is None else now) - ago
    try:
        if not _ISO_DATE.match(str(text).strip()):  # 20240501 would be a date to fromisoformat: it is seconds here
            raise ValueError
        dt = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration ({FORMS}) nor an ISO date (2024-05-01)") from None
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)).timestamp()
