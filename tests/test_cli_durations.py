"""One duration parser for the whole CLI (mvc.durations): every duration option takes the same
forms, and refuses a negative, NaN, infinite or empty value as a usage error naming it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mvc.cli import cli

GOOD = {"90": 90, "90s": 90, "30m": 1800, "1.5h": 5400, "2d": 172800, "2w": 1209600, "0": 0, " 2H ": 7200}
BAD = ["-5h", "-1", "nan", "NaN", "inf", "-inf", "infinity", "", "   ", "5x", "h", "1e400", "1" * 400, "1.5.2h",
       "1M", " 30M "]
OPTIONS = [["gc", "--dry-run", "--grace"], ["gc", "--dry-run", "--retention"], ["ls", "M", "--since"]]


def _mvc(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def logged(project, model_file):
    assert _mvc("log", str(model_file), "--name", "M").exit_code == 0
    return project


@pytest.mark.parametrize("text,seconds", GOOD.items())
def test_one_parser_for_every_form(text, seconds):
    from mvc import durations
    assert durations.parse_duration(text) == seconds
    assert abs(durations.parse_since(text, now=1e9) - (1e9 - seconds)) < 1e-6


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o[-1])
@pytest.mark.parametrize("text", ["90", "90s", "30m", "1.5h", "2d", "2w"])
def test_every_duration_option_takes_every_form(logged, option, text):
    res = _mvc(*option, text, "--json")
    assert res.exit_code == 0, res.output
    json.loads(res.output)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o[-1])
@pytest.mark.parametrize("text", BAD)
def test_bad_durations_are_usage_errors_naming_the_option(logged, option, text):
    res = _mvc(*option, text)
    assert res.exit_code == 2, res.output
    assert option[-1] in res.output and "duration" in res.output


def test_negative_grace_plans_nothing(logged):
    """Before: `gc --grace=-5h` planned deleting chunks written up to five hours in the future."""
    store = os.path.join(str(logged), ".mvc")
    orphan = os.path.join(store, "tmp", "in-flight")
    with open(orphan, "wb") as f:
        f.write(b"a write in flight")
    res = _mvc("gc", "--grace=-5h")
    assert res.exit_code == 2 and "--grace" in res.output
    assert os.path.exists(orphan)


def test_since_still_takes_an_iso_date(logged):
    assert json.loads(_mvc("ls", "M", "--since", "2999-01-01", "--json").output) == []
    assert len(json.loads(_mvc("ls", "M", "--since", "2001-01-01T00:00:00+00:00", "--json").output)) == 1


def test_the_mvc_command_says_it_too(logged):
    """Through the real entry point (the resident server or in process): exit 2, the option named."""
    p = subprocess.run([sys.executable, "-m", "mvc", "gc", "--grace", "nan"], cwd=logged,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--grace" in p.stderr, p.stderr
