"""Click parameter types shared by commands: every duration option parses through
``mvc.durations``, and a bad value is a usage error (exit 2) naming the option."""
from __future__ import annotations

import click

from mvc import durations


class Duration(click.ParamType):
    """Seconds: `90`, `90s`, `30m`, `1.5h`, `2d`, `2w`."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        try:
            return durations.parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


class Since(click.ParamType):
    """Epoch seconds: a duration ago, or an ISO date (UTC unless it says)."""

    name = "when"

    def convert(self, value, param, ctx) -> float:
        try:
            return durations.parse_since(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


DURATION = Duration()
SINCE = Since()
