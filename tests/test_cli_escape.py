"""Issue 9, display: control and format characters in text from the store (metadata keys and
values, descriptions, config, job types, aliases written by another client, commit authors)
are escaped wherever the CLI prints them, so they can neither fake a line nor reach the
terminal; --json stays valid JSON that gives the raw values back."""
from __future__ import annotations

import json
import unicodedata

import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli

HOSTILE = "a\nmvc: error: fake\x00\x1b[2J\x1b]0;t\x07\r\t\u2028\u2029\u202egnp.exe\u200b\x85\x7f"
ESCAPED = "a\\nmvc: error: fake\\x00\\x1b[2J\\x1b]0;t\\x07\\r\\t\\u2028\\u2029\\u202egnp.exe\\u200b\\x85\\x7f"


def mvc_cli(*args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, (res.output, res.exception)
    return res


def assert_clean(text: str) -> None:
    """No character but the line breaks mvc makes is a control, format or separator character."""
    bad = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert not bad, bad
    assert "\nmvc: error: fake" not in text  # no faked line


def test_safe_escapes_only_what_it_must():
    from mvc.cli.output import safe
    assert safe(HOSTILE) == ESCAPED
    assert safe("modèle 模型 \U0001F600 C:\\models") == "modèle 模型 \U0001F600 C:\\models"
    assert safe("\ud800") == "\\ud800" and safe(5) == "5"


@pytest.fixture
def hostile(project, model_file, monkeypatch):
    with mvc.init(config={"opt" + HOSTILE: HOSTILE}, job_type="job" + HOSTILE) as run:
        run.log({"loss" + HOSTILE: 1.0})
        run.log_model(str(model_file), name="M", metadata={"k" + HOSTILE: "v" + HOSTILE, "n": [HOSTILE]},
                      description="d" + HOSTILE)
        run_id = run.id
    # another client wrote an alias and an author name mvc itself would refuse
    monkeypatch.setenv("MVC_USER", "eve\x1b[31m\u202e")
    api = mvc.Api()
    api.repo.artifacts.set_alias("proj", "M", "v0", "al" + HOSTILE)
    return project, run_id


def test_show_escapes_metadata_and_description(hostile):
    out = mvc_cli("show", "M").output
    assert_clean(out)
    assert f"  k{ESCAPED}: v{ESCAPED}" in out.splitlines()
    assert f"  description: d{ESCAPED}" in out.splitlines()
    assert f"al{ESCAPED}" in out


def test_json_is_ascii_and_gives_the_raw_values_back(hostile):
    project, run_id = hostile
    for args in (["show", "M", "--json"], ["ls", "M", "--json"], ["runs", "show", run_id, "--json"],
                 ["alias", "history", "M", "--json"], ["ls", "--json"]):
        out = mvc_cli(*args).output
        assert out.isascii(), args
        json.loads(out)
    d = json.loads(mvc_cli("show", "M", "--json").output)
    assert d["metadata"] == {"k" + HOSTILE: "v" + HOSTILE, "n": [HOSTILE]} and d["description"] == "d" + HOSTILE
    r = json.loads(mvc_cli("runs", "show", run_id, "--json").output)
    assert r["config"] == {"opt" + HOSTILE: HOSTILE} and r["job_type"] == "job" + HOSTILE


def test_listings_escape_every_cell(hostile):
    project, run_id = hostile
    for args in (["ls"], ["ls", "M"], ["runs", "ls"], ["runs", "show", run_id], ["alias", "history", "M"],
                 ["lineage", "M"]):
        out = mvc_cli(*args).output
        assert_clean(out)
    assert f"al{ESCAPED}" in mvc_cli("ls", "M").output
    assert f"job{ESCAPED}" in mvc_cli("runs", "ls").output
    shown = mvc_cli("runs", "show", run_id).output.splitlines()
    assert f"  opt{ESCAPED}: {ESCAPED}" in shown and f"  loss{ESCAPED}: 1.0" in shown
    assert "eve\\x1b[31m\\u202e" in mvc_cli("alias", "history", "M").output


def test_error_messages_escape_what_they_quote(hostile):
    res = mvc_cli("show", "M:nope", code=3)
    assert_clean(res.stderr)
    assert f"al{ESCAPED}" in res.stderr


def test_a_hostile_alias_is_quoted_escaped_in_the_commit_message(hostile):
    """git has no NUL in a commit, and a line break in a quoted name could fake a trailer: the
    summary line quotes the alias escaped (libgit2 used to cut the message at the NUL)."""
    from mvc.meta import refs
    from mvc.meta.history import trailer
    from mvc.text import escaped
    api = mvc.Api()
    tip = api.repo.meta.tip(refs.artifact("proj", "M"))
    assert tip.message.splitlines()[0] == f"alias {escaped('al' + HOSTILE)}: - -> v0"
    assert "\x00" not in tip.message and trailer(tip.message, "Mvc-Op") == "alias"
    assert "al" + HOSTILE in api.artifact("M:v0").aliases   # the alias itself is kept as written
