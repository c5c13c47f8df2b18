"""Issue 9, hostile values: metadata, config, logged values and text fields that nest
10,000 deep, hold lone surrogates, integers of 5000 digits or more than 1 MiB are refused
with an InvalidInputError that names the path of keys to the bad value (never a
RecursionError, UnicodeEncodeError or ValueError), and nothing is written."""
from __future__ import annotations

import os
import subprocess
import sys

import pygit2
import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli
from mvc.errors import InvalidInputError

MVC = os.path.join(os.path.dirname(sys.executable), "mvc")
HUGE = 10 ** 5000


def deep(n: int, key: str = "a") -> dict:
    top = cur = {}
    for _ in range(n - 1):
        cur[key] = {}
        cur = cur[key]
    return top


def cyclic() -> dict:
    d: dict = {}
    d["self"] = d
    return d


@pytest.fixture
def ready(project):
    (project / "m.bin").write_bytes(b"m")
    (project / "n.bin").write_bytes(b"n")
    run = mvc.init()
    run.log_model(str(project / "m.bin"), name="M")
    return run, project


def _state(project) -> tuple:
    repo = pygit2.Repository(str(project / ".mvc"))
    refs = {r: str(repo.references[r].target) for r in repo.references}
    runs = sorted(os.listdir(project / ".mvc" / "runs"))
    return refs, runs


def _save(field, value):
    def call(run, p):
        art = mvc.Api().artifact("M")
        setattr(art, field, value)
        art.save()
    return call


def _log(**kw):
    return lambda run, p: run.log_model(str(p / "n.bin"), name="N", **kw)


# case -> (call, words the message must hold: the path of keys to the bad value, and what is wrong)
CASES = {
    "metadata 10000 deep": (_log(metadata=deep(10_000)), ["metadata['a']['a']", "more than 100 levels"]),
    "metadata refers to itself": (_log(metadata=cyclic()), ["metadata['self']['self']", "refers to itself"]),
    "metadata surrogate key": (_log(metadata={"x": {"\ud800": 1}}), ["metadata['x']['\\ud800']", "the key",
                                                                       "lone surrogate"]),
    "metadata surrogate value": (_log(metadata={"x": ["ok", "\udc80"]}), ["metadata['x'][1]", "lone surrogate"]),
    "metadata 5000-digit int": (_log(metadata={"n": {"m": HUGE}}), ["metadata['n']['m']", "integer", "4300"]),
    "metadata JSON 5000-digit int": (_log(metadata='{"n": [%s]}' % ("9" * 5000)),
                                     ["metadata['n'][0]", "5000 digits", "4300"]),
    "metadata JSON 100000 deep": (_log(metadata="[" * 100_000), ["metadata", "100 levels"]),
    "metadata over 1 MiB": (_log(metadata={"s": "x" * (1 << 20)}), ["metadata is 1,048,584 bytes", "1,048,576"]),
    "log_artifact metadata deep": (lambda run, p: run.log_artifact(str(p / "n.bin"), name="N", type="dataset",
                                                                   metadata={"k": deep(200, "b")}),
                                   ["metadata['k']['b']", "100 levels"]),
    "description surrogate": (_log(description="caf\udce9"), ["description", "lone surrogate", "'\\udce9'"]),
    "description over 1 MiB": (_log(description="d" * ((1 << 20) + 1)), ["description is 1,048,577 bytes"]),
    "save metadata deep": (_save("metadata", {"k": deep(10_000)}), ["metadata['k']['a']", "100 levels"]),
    "save metadata surrogate": (_save("metadata", {"\udfff": 1}), ["metadata['\\udfff']", "lone surrogate"]),
    "save metadata int": (_save("metadata", {"n": -HUGE}), ["metadata['n']", "4300"]),
    "save metadata over 1 MiB": (_save("metadata", {"s": ["y" * 1000] * 1100}), ["metadata is", "1,048,576"]),
    "save description surrogate": (_save("description", "\ud800"), ["description", "lone surrogate"]),
    "config 10000 deep": (lambda run, p: mvc.init(config={"opt": deep(10_000)}), ["config['opt']['a']", "100 levels"]),
    "config surrogate key": (lambda run, p: mvc.init(config={"l\udce9r": 1}), ["config['l\\udce9r']", "the key"]),
    "config 5000-digit int": (lambda run, p: mvc.init(config={"seed": HUGE}), ["config['seed']", "4300"]),
    "notes surrogate": (lambda run, p: mvc.init(notes="\ud800"), ["notes", "lone surrogate"]),
    "job_type surrogate": (lambda run, p: mvc.init(job_type="\ud800"), ["job_type", "lone surrogate"]),
    "run.log 10000 deep": (lambda run, p: run.log({"m": deep(10_000)}), ["logged data['m']['a']", "100 levels"]),
    "run.log 5000-digit int": (lambda run, p: run.log({"loss": HUGE}), ["logged data['loss']", "4300"]),
    "run.log surrogate": (lambda run, p: run.log({"loss": {"\ud800": 1.0}}), ["logged data['loss']['\\ud800']"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_value_is_refused_by_key_and_nothing_is_written(ready, case):
    run, project = ready
    call, words = CASES[case]
    history = os.path.join(run.dir, "history.jsonl")
    before = _state(project), os.path.exists(history)
    with pytest.raises(InvalidInputError) as ei:
        call(run, project)
    err = ei.value
    assert err.exit_code == 2 and err.hint, repr(err)
    for w in words:
        assert w in err.message, (w, err.message)
    assert len(err.message) < 400  # a long path is elided, not printed whole
    assert (_state(project), os.path.exists(history)) == before
    assert [a.version for a in mvc.Api().artifacts("M")] == ["v0"]
    assert mvc.Api().artifact("M").metadata == {}


def test_summary_set_by_hand_is_refused_at_finish(ready):
    run, _ = ready
    with pytest.raises(InvalidInputError, match=r"summary\['best'\]\['epoch'\]\['a'\]"):
        run.summary["best"] = {"epoch": deep(500)}  # refused where it is set (run.summary checks values)
    run.summary["best"] = {"epoch": 1}
    run.summary["best"]["epoch"] = deep(500)  # a change inside a value is still caught at finish
    with pytest.raises(InvalidInputError, match=r"summary\['best'\]\['epoch'\]\['a'\]"):
        run.finish()


def test_values_at_the_limits_are_kept(ready):
    run, project = ready
    meta = {"d": deep(99), "n": 10 ** 4299, "s": "é 模型 \U0001F600", "big": "z" * ((1 << 20) - 10_000)}
    art = run.log_model(str(project / "n.bin"), name="N", metadata=meta)
    assert mvc.Api().artifact("N").metadata == meta
    with mvc.init(config={"c": deep(99)}) as other:
        other.log({"v": -(10 ** 4299)})
    assert art.version == "v0"


def test_cli_metadata_with_a_huge_integer_names_the_key(project, model_file):
    res = CliRunner().invoke(cli, ["log", str(model_file), "--name", "M", "--metadata",
                                   '{"ok": 1, "seed": %s}' % ("7" * 5000)])
    assert res.exit_code == 2, (res.output, res.exception)
    assert "metadata['seed'] holds an integer of 5000 digits" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_description_that_is_not_utf8_is_refused(project, model_file):
    """argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)."""
    r = subprocess.run([MVC, "log", os.fsencode(model_file), "--name", "M", "--description", b"caf\xe9"],
                       cwd=project, capture_output=True, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "description: the text holds a lone surrogate '\\udce9'" in err and "Traceback" not in err
    assert not os.path.exists(project / ".mvc" / "refs" / "mvc" / "proj" / "artifacts" / "M")
