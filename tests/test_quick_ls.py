"""`mvc ls` without click (issue 11, part 4): mvc/cli/launch.py reads the plain forms of the
command line itself and prints what the click command prints.  Each form runs both ways in a
real process, the launcher and click's own group, and the two must agree on stdout, stderr
and the exit status; the forms the launcher does not read must reach click."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mvc.errors import IntegrityError
from mvc.meta import refs

PROBE = """
import contextlib, io, json, sys
{prelude}
from mvc.cli.{module} import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code or 0
    results.append([out.getvalue(), err.getvalue(), code, "click" in sys.modules])
print(json.dumps(results))
"""


def run(module: str, argvs: list[list[str]], cwd, env=None, prelude: str = "") -> list[tuple[str, str, int, bool]]:
    """For each of ``argvs`` in turn, run by mvc.cli.``module``.main in one fresh interpreter
    (after ``prelude``): stdout, stderr, exit status, and whether click had been imported by then."""
    r = subprocess.run([sys.executable, "-c", PROBE.format(module=module, prelude=prelude), json.dumps(argvs)],
                       cwd=str(cwd), env=env or os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [tuple(x) for x in json.loads(r.stdout)]


def both(argvs: list[list[str]], cwd, env=None, prelude: str = "") -> list[tuple[tuple, bool]]:
    """The launcher's (stdout, stderr, status) and whether it imported click, for each of ``argvs``,
    after checking that click's own group gives the same stdout, stderr and status."""
    launched, clicks = run("launch", argvs, cwd, env, prelude), run("main", argvs, cwd, env, prelude)
    for argv, mine, theirs in zip(argvs, launched, clicks):
        assert mine[:3] == theirs[:3], argv
    return [(x[:3], x[3]) for x in launched]


def one(argv: list[str], cwd, env=None) -> tuple[str, str, int]:
    return both([argv], cwd, env)[0][0]


@pytest.fixture
def world(project):
    """Project `proj` with two models (one with three versions and a `best` alias) and a dataset;
    a second store at other/.mvc holding project `side`."""
    for i in range(3):
        (project / f"m{i}").write_bytes(os.urandom(5_000 + i))
    (project / "d").write_bytes(os.urandom(7_000))
    steps = [["log", "m0", "--name", "M"], ["log", "m1", "--name", "M"], ["log", "m2", "--name", "M"],
             ["alias", "set", "M:v1", "best"], ["log", "m0", "--name", "N"], ["log", "d", "--name", "D", "--type", "dataset"],
             ["-C", "other", "init"], ["-C", "other", "--project", "side", "log", "d", "--name", "S"]]
    for out, err, code, _ in run("main", steps, project):
        assert code == 0, err
    return project


QUICK = [
    ["ls"], ["ls", "--json"], ["--json", "ls"], ["ls", "M"], ["ls", "M", "--json"], ["ls", "--json", "M"],
    ["ls", "--type", "dataset"], ["ls", "--type=model", "--json"], ["ls", "M", "--type", "dataset"],
    ["ls", "-q"], ["-q", "ls", "M"], ["--quiet", "ls", "M", "-q"],
    ["-C", "other", "ls"], ["ls", "--dir", "other"], ["--dir=other", "ls", "S", "--project", "side"],
    ["ls", "--project", "side", "-C", "other/.mvc"], ["--project=nope", "ls"], ["--project", "nope", "ls", "M"],
    ["ls", "ls"], ["ls", "proj/M:v1"], ["ls", "M:best"],
    # errors, each reported by the one boundary
    ["ls", "Missing"], ["ls", "bad name!"], ["ls", "a/b/c/d"], ["--project", "bad name", "ls"],
    ["-C", "nowhere", "ls"], ["ls", "-C", "nowhere", "M"],
]


def test_the_plain_forms_print_what_click_prints_without_click(world):
    for argv, ((out, err, code), clicked) in zip(QUICK, both(QUICK, world)):
        assert not clicked, f"{argv} went through click"
        assert "Traceback" not in err, argv


SLOW = [
    ["ls", "--help"], ["-h", "ls"], ["ls", "--alias", "best", "M"], ["ls", "M", "--tag", "t"],
    ["ls", "M", "--since", "2d"], ["ls", "M", "--deleted"], ["ls", "--alias", "best"],
    ["ls", "M", "N"], ["ls", "--typo"], ["ls", "--type"], ["ls", "--type", "--json"], ["ls", "--type="],
    ["-C", "a", "ls", "-C", "b"], ["--project", "proj", "ls", "--project", "proj"], ["-Cother", "ls"],
    ["--type", "model", "ls"], ["ls", "--", "M"], ["ls", "-"], ["log", "ls"], ["show", "ls"],
    ["ls", "--json=1"], ["-C", "m0", "ls"],
]


def test_every_other_form_goes_through_click(world):
    from mvc.cli.launch import quick_ls
    for argv in SLOW:
        assert quick_ls(argv) is None, argv
    both(SLOW, world)
    for argv in QUICK:
        assert quick_ls(argv) is not None, argv


def test_the_forms_agree_on_content(world):
    """Not only the same: right.  The listing, the versions, the filter and the other store."""
    out = one(["ls"], world)[0].splitlines()
    assert [line.split()[:4] for line in out[1:]] == [["D", "dataset", "1", "v0"], ["M", "model", "3", "v2"],
                                                      ["N", "model", "1", "v0"]]
    assert "best:v1" in out[2]
    rows = json.loads(one(["ls", "M", "--json"], world)[0])
    assert [r["version"] for r in rows] == ["v0", "v1", "v2"] and rows[1]["aliases"] == ["best"]
    assert [r["name"] for r in json.loads(one(["ls", "--json", "--type", "dataset"], world)[0])] == ["D"]
    assert json.loads(one(["-C", "other", "--project", "side", "ls", "--json"], world)[0])[0]["name"] == "S"
    out, err, code = one(["ls", "Missing"], world)
    assert code == 3 and err.startswith("mvc: error: no artifact 'Missing'") and out == ""


def test_environment_picks_the_store_and_project(world):
    env = dict(os.environ, MVC_DIR=str(world / "other"), MVC_PROJECT="side")
    [((out, err, code), clicked)] = both([["ls", "--json"]], world.parent, env)
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["S"] and not clicked


def test_a_damaged_ref_is_named_and_exits_5(world):
    (world / ".mvc" / refs.artifact("proj", "N")).write_bytes(b"2ca0")
    [((out, err, code), clicked)] = both([["ls"]], world)
    assert code == IntegrityError.exit_code and not clicked
    assert "could not read artifact proj/N" in err and "mvc fsck --repair" in err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["D", "M"]


def test_an_interrupt_ends_with_130_both_ways(world):
    """Ctrl-C during a long listing: "Aborted!" and git's status 130, not a traceback, both ways."""
    prelude = ("import mvc.cli.listing as listing\n"
               "def interrupted(*a, **k):\n    raise KeyboardInterrupt\n"
               "listing.artifacts = listing.versions = interrupted")
    for (out, err, code), clicked in both([["ls"], ["ls", "M", "--json"]], world, prelude=prelude):
        assert (out, err, code, clicked) == ("", "\nAborted!\n", 130, False)


def test_completion_requests_go_to_click(world):
    """`mvc ls --t<TAB>`: the shell runs `mvc ls` with click's completion variables set."""
    env = dict(os.environ, _MVC_COMPLETE="bash_complete", COMP_WORDS="mvc ls --t", COMP_CWORD="2")
    r = subprocess.run([sys.executable, "-c", "from mvc.cli.launch import main; main()", "ls"], cwd=str(world),
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "plain,--type" in r.stdout.splitlines() and "name" not in r.stdout


@pytest.mark.parametrize("module", ["launch", "main"])
def test_a_closed_pipe_stops_quietly(world, module):
    """A reader that is gone (`mvc ls | head` once head has exited): git's quiet exit, 141."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([sys.executable, "-c", f"from mvc.cli.{module} import main; main()", "ls"], cwd=str(world),
                           stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 141 and p.stderr == ""


def test_ls_loads_only_what_it_needs(world):
    """What the 90 ms goal rests on (bench/startup.py times it): besides click, neither typing,
    dataclasses (with inspect), pygit2 nor tabulate is imported by a plain `mvc ls`."""
    probe = ("import sys\nsys.argv = ['mvc', 'ls']\nfrom mvc.cli.launch import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "sys.stderr.write(' '.join(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", probe], cwd=str(world), capture_output=True, text=True, timeout=120)
    loaded = set(r.stderr.split())
    assert "M" in r.stdout and "mvc.cli.listing" in loaded
    assert not loaded & {"click", "typing", "dataclasses", "inspect", "pygit2", "tabulate", "numpy"}
