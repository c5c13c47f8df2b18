"""Durations as users write them, one parser for every option and call that takes one:
a number of seconds, or a number with a unit, `90`, `90s`, `30m`, `1.5h`, `2d`, `2w`.
Negative, NaN, infinite and empty values are refused (a negative grace would let gc
delete what a live writer is still writing)."""
from __future__ import annotations

import math
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
        m = _DURATION.fullmatch(str(text).strip().lower())
        if m is None:
            raise ValueError(f"{str(text)!r} is not a duration: write {FORMS} (not negative)")
        value = float(m.group(1)) * UNITS[m.group(2) or "s"]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration: write {FORMS} (finite, not negative)")
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
