"""Click parameter types shared by commands: every duration option parses through
``mvc.durations``, and a bad value is a usage error (exit 2) naming the option."""
from __future__ import annotations

import click

from mvc import durations


class _Parsed(click.ParamType):
    """A value turned into a number by one ``mvc.durations`` parser; its ValueError is a usage error."""

    parse = None

    def convert(self, value, param, ctx) -> float:
        try:
            return type(self).parse(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


class Duration(_Parsed):
    """Seconds: `90`, `90s`, `30m`, `1.5h`, `2d`, `2w`."""

    name = "duration"
    parse = staticmethod(durations.parse_duration)


class Since(_Parsed):
    """Epoch seconds: a duration ago, or an ISO date (UTC unless it says)."""

    name = "when"
    parse = staticmethod(durations.parse_since)


DURATION = Duration()
SINCE = Since()
