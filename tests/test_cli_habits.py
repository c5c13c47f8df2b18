"""CLI habits (issue 11, section 3) and the CLI going through the API (section 5):
global options before or after the command name, hints in the CLI's words, gc and
fsck output streams, `runs ls` filters, no run for a refused call, shell completion,
`log --from`, and Api.gc/fsck/verify/du/unlock/create for Python users."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli

cli_main = importlib.import_module("mvc.cli.main")  # mvc.cli.main is also the name of a function


def _mvc(*args, **kw):
    return CliRunner(**kw).invoke(cli, [str(a) for a in args])


def _sh(args, cwd, env=None):
    """The installed `mvc` as a real process (in process, no resident server)."""
    exe = os.path.join(os.path.dirname(sys.executable), "mvc")
    env = dict(env or os.environ, MVC_SERVER="0")
    return subprocess.run([exe, *map(str, args)], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def logged(project, model_file):
    res = _mvc("log", model_file, "--name", "M")
    assert res.exit_code == 0, res.output
    return project


# ---- global options before or after the command name ------------------------------
def test_quiet_after_the_command_name(project, monkeypatch):
    """-q after the name silences what -q before it does: here the note a first hardlinked use prints."""
    monkeypatch.delenv("MVC_SILENT")
    for n in ("A", "B", "C"):  # over one chunk each, so a hardlinked use builds a whole file
        (project / f"{n}.bin").write_bytes(os.urandom(9_000_000))
        assert _sh(["log", f"{n}.bin", "--name", n], project).returncode == 0
    loud = _sh(["use", "A", "--link", "hardlink", "-o", "a"], project)
    after = _sh(["use", "B", "--link", "hardlink", "-o", "b", "-q"], project)
    before = _sh(["-q", "use", "C", "--link", "hardlink", "-o", "c"], project)
    assert loud.returncode == after.returncode == before.returncode == 0, (loud.stderr, after.stderr)
    assert "mvc: note: --link hardlink added" in loud.stderr
    assert after.stderr == before.stderr == ""
    assert after.stdout.strip() == str(project / "b" / "B.bin")


def test_dir_and_project_after_the_command_name(tmp_path, model_file):
    store = tmp_path / "elsewhere"
    res = _mvc("log", model_file, "--name", "X", "-C", store, "--project", "other")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("other/X:v0")
    assert (store / ".mvc").is_dir()
    rows = json.loads(_mvc("ls", "--json", "--dir", store, "--project", "other").output)
    assert [r["name"] for r in rows] == ["X"]
    # and before the name, for a group's subcommand too
    runs = json.loads(_mvc("--project", "other", "runs", "ls", "--all", "--json", "-C", store).output)
    assert len(runs) == 1 and runs[0]["project"] == "other"
    assert not os.path.exists(os.path.join(os.getcwd(), ".mvc"))  # nothing went to the cwd's store


@pytest.mark.parametrize("args", [["--project", "a", "ls", "--project", "b"], ["-C", "x", "ls", "--dir", "y"],
                                  ["runs", "--project", "a", "ls", "--project", "b"]])
def test_a_global_option_twice_with_different_values_is_a_usage_error(logged, args):
    res = _mvc(*args)
    assert res.exit_code == 2
    assert "given twice with different values" in res.output and "give it once" in res.output


def test_a_global_option_twice_with_one_value_is_fine(logged):
    res = _mvc("--project", "proj", "ls", "--project", "proj", "-q", "-q", "--json")
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(res.output)] == ["M"]


def test_a_bad_project_after_the_command_is_refused(logged):
    res = _mvc("ls", "--project", "registry")
    assert res.exit_code == 2 and "registry" in res.output


def _all_commands():
    group = cli
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield name, cmd
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            yield f"{name} {sub}", subcmd


def test_every_command_takes_the_global_options():
    """No command (new ones included) shadows -q, -C/--dir or --project with a meaning of its own."""
    seen = 0
    for name, cmd in _all_commands():
        ours = {o for p in cmd.params if getattr(p, "callback", None) is cli_main._given for o in p.opts}
        assert {"-q", "--quiet", "-C", "--dir", "--project"} <= ours, f"`mvc {name}` shadows a global option"
        seen += 1
    assert seen > 20


def test_json_before_the_command_name(logged):
    assert json.loads(_mvc("--json", "ls").stdout) == json.loads(_mvc("ls", "--json").stdout)
    assert json.loads(_mvc("--json", "runs", "ls", "--all").stdout)[0]["job_type"] == "cli"
    assert json.loads(_mvc("--json", "show", "M").stdout)["address"] == "proj/M:v0"
    res = _mvc("--json", "init")  # a command without --json refuses it
    assert res.exit_code == 2 and "--json" in res.output


def test_global_options_are_in_each_commands_help():
    res = _mvc("gc", "--help")
    assert "-C, --dir DIR" in res.output and "--project P" in res.output and "-q, --quiet" in res.output


# ---- hints in the CLI's words ------------------------------------------------------
PY_OPTION = r"(?<![-\w])([a-z_]\w*|\{\})=(?!=)"   # verify=False, name=, {what}=[...]
# Hints below the API that only a Python caller can meet: the CLI never passes such values (it
# passes strings and lists of strings, builds no draft artifact, names no run).  Each is named by
# a piece of its text.  Hints in mvc/api answer that call's Python caller (mvc/cli/hints.py).
PYTHON_ONLY = ["errors='replace'", "pass e.g. {}=['best']", "pass name='my run'", "add_file(), add_dir()",
               "pass name= with a relative path", "another name= (or remove()", "pass max_objects= with"]


def _hints():
    """Every hint written in the mvc package: the second argument or hint=/fix= of an error
    constructor (a name ending in Error or _error), and each class's default_hint.  f-string
    holes read as {}."""
    import ast
    import pathlib

    def text(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = text(node.left), text(node.right)
            return None if a is None or b is None else a + b
        if isinstance(node, ast.IfExp):
            return text(node.body)
        return None

    pkg = pathlib.Path(cli_main.__file__).parents[1]
    for path in sorted(pkg.rglob("*.py")):
        for n in ast.walk(ast.parse(path.read_text())):
            nodes = []
            if isinstance(n, ast.Call):
                f = n.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name.endswith(("Error", "_error")):
                    nodes += n.args[1:2] + [k.value for k in n.keywords if k.arg in ("hint", "fix")]
            elif isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "default_hint" for t in n.targets):
                nodes.append(n.value)
            for node in nodes:
                if text(node):
                    yield f"{path.relative_to(pkg.parent)}:{node.lineno}", text(node)


def test_no_hint_names_a_python_option_to_a_cli_user():
    import re
    from mvc.cli.hints import for_cli
    hints = list(_hints())
    assert len(hints) > 100
    below_api = [(w, h) for w, h in hints if not w.startswith(("mvc/api/", "mvc/cli/", "mvc/ui/"))]
    assert len(below_api) > 50
    bad = [(where, for_cli(h)) for where, h in below_api
           if re.search(PY_OPTION, for_cli(h)) and not any(p in h for p in PYTHON_ONLY)]
    assert bad == []
    # the API's own hints the CLI can reach (it passes these through) are rewritten too
    for h in ("pass direction='up', 'down' or 'both'", "pass depth=None for any depth, or e.g. depth=2"):
        assert not re.search(PY_OPTION, for_cli(h)), for_cli(h)


@pytest.mark.parametrize("python,cli_form", [
    ("pass verify=False to take it as it is now, or log it again", "pass --no-verify to take it as it is now"),
    ("use link='copy' (or 'auto', which falls back to a copy)", "use --link copy (or --link auto, which"),
    ("unlink it first (`mvc registry unlink`), or pass delete_aliases=True (`mvc delete --delete-aliases`)",
     "or pass --delete-aliases"),
    ("pass --force (`mvc alias set --force ...`; Python: force=True), or unprotect it",
     "pass --force (`mvc alias set --force ...`), or unprotect it"),
    ("choose another folder with root=/-o, or fix its permissions", "choose another folder with -o, or fix"),
    ("pass entity='alice' (or leave entity out), or use another", "write the address with entity 'alice' (or none)"),
])
def test_the_cli_rewrites_python_forms(python, cli_form):
    from mvc.cli.hints import for_cli
    assert for_cli(python).startswith(cli_form) or cli_form in for_cli(python)


def test_a_changed_reference_hints_no_verify_and_no_verify_works(project):
    src = project / "ref.bin"
    src.write_bytes(b"one" * 1000)
    assert _mvc("log", f"file://{src}", "--name", "R", "--type", "dataset").exit_code == 0
    src.write_bytes(b"two" * 1000)
    res = _mvc("use", "R", "-o", project / "a")
    assert res.exit_code == 5
    assert "hint: pass --no-verify" in res.stderr and "verify=False" not in res.stderr
    res = _mvc("use", "R", "-o", project / "b", "--no-verify")
    assert res.exit_code == 0, res.output
    assert (project / "b" / "ref.bin").read_bytes() == b"two" * 1000
    # and the Python face keeps the Python form
    from mvc.errors import IntegrityError
    with pytest.raises(IntegrityError) as e:
        mvc.Api().artifact("R").download(str(project / "c"))
    assert "verify=False" in e.value.hint
    assert mvc.Api().artifact("R").download(str(project / "d"), verify=False)


# ---- one duration grammar ------------------------------------------------------------
TIME_WORDS = ("since", "until", "grace", "retention", "timeout", "older", "ttl", "interval", "expire", "age", "idle")


def test_every_duration_or_time_option_uses_the_one_grammar():
    from mvc.cli.params import Duration, Since
    found = []
    for name, cmd in _all_commands():
        for p in cmd.params:
            if isinstance(p, click.Option) and set((p.name or "").split("_")) & set(TIME_WORDS):
                found.append(f"{name} {p.opts[0]}")
                assert isinstance(p.type, (Duration, Since)), f"`mvc {name} {p.opts[0]}` parses its own time"
    assert {"gc --grace", "gc --retention", "ls --since", "runs ls --since", "runs ls --until"} <= set(found)


# ---- gc and fsck: results on stdout, progress and warnings on stderr -------------------------
def test_gc_json_times_are_iso_strings(logged):
    from datetime import datetime
    res = _mvc("gc", "--dry-run", "--json")
    d = json.loads(res.stdout)
    assert d["dry_run"] is True and isinstance(d["cutoff"], str)
    assert datetime.fromisoformat(d["cutoff"]).utcoffset().total_seconds() == 0


def test_gc_dry_run_and_fsck_summaries_are_on_stdout(logged):
    assert _mvc("delete", "M:v0").exit_code == 0
    res = _sh(["gc", "--dry-run", "--grace", "0", "--retention", "0"], logged)
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and res.stderr == ""
    assert lines[0] == "would delete purge proj/M:v0" and any(x.startswith("would delete chunk ") for x in lines)
    assert lines[-1].startswith("would delete ") and "chunks (" in lines[-1] and "reachable" in lines[-1]
    res = _sh(["fsck", "--no-git"], logged)
    assert res.returncode == 0 and res.stderr == "" and res.stdout.startswith("ok: ")
    assert _sh(["-q", "fsck", "--no-git"], logged).stdout == res.stdout  # -q silences progress, not the result


# ---- runs: none for a refused call; ls filters ------------------------------------------
@pytest.mark.parametrize("args", [["log", "nope.bin"], ["log", "model.bin", "--metadata", "{bad"],
                                  ["log", "model.bin", "--alias", "v3"], ["log", "model.bin", "--tag", "a b"],
                                  ["log", "model.bin", "--type", "bad/type"], ["log", "model.bin", "--from", "Nope:v9"],
                                  ["log", "model.bin", "--bogus-option"], ["use", "Nope:v1"], ["log", "empty"],
                                  ["log", "broken"], ["log", "good", "--exclude", ""],
                                  ["use", "M", "--include", "*.nothing", "-o", "out"],
                                  ["link", "model.bin", "--to", "bad/name"], ["link", "model.bin", "--to", "R", "-a", "v1"],
                                  ["link", "model.bin", "--to", "R", "--name", "bad name"]])
def test_a_refused_cli_call_records_no_run(logged, args):
    (logged / "empty").mkdir()
    (logged / "good").mkdir()
    (logged / "good" / "w.bin").write_bytes(b"w")
    (logged / "broken" / "sub").mkdir(parents=True)
    (logged / "broken" / "a.bin").write_bytes(b"a")
    os.symlink(logged / "nowhere", logged / "broken" / "sub" / "dangling")  # found only by walking the folder
    before = len(mvc.Api().runs())
    res = _sh(args, logged)
    assert res.returncode in (2, 3), res.stderr
    assert len(mvc.Api().runs()) == before


def test_runs_ls_filters_and_hides_cli_runs(logged, model_file):
    with mvc.init(job_type="train") as run:
        run.log({"loss": 1})
    try:
        with mvc.init(job_type="eval"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass

    def ids(*args):
        res = _mvc("runs", "ls", "--json", *args)
        assert res.exit_code == 0, res.output
        return [(r["job_type"], r["state"]) for r in json.loads(res.stdout)]
    assert ids() == [("train", "finished"), ("eval", "failed")]           # the `mvc log` run is hidden
    assert ids("--all") == [("cli", "finished"), ("train", "finished"), ("eval", "failed")]
    assert ids("--job-type", "cli") == [("cli", "finished")]
    assert ids("--state", "failed") == [("eval", "failed")]
    assert ids("--state", "failed", "--state", "finished", "--job-type", "train") == [("train", "finished")]
    assert ids("--since", "1h") == ids() and ids("--until", "1h") == []
    assert ids("--since", "2000-01-01", "--until", "2999-01-01", "--all") == ids("--all")
    res = _mvc("runs", "ls", "--since", "yesterday")
    assert res.exit_code == 2 and "--since" in res.output
    text = _mvc("runs", "ls", "--state", "running").stdout
    assert "no runs; 1 of `mvc log`, `use`, `link` hidden" in text


# ---- completion ---------------------------------------------------------------------
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_clicks_script(project, shell):
    res = _sh(["completion", shell], project)
    assert res.returncode == 0 and "_MVC_COMPLETE" in res.stdout
    # exactly what click's own protocol prints (the env var alone, no command)
    assert res.stdout == _sh([], project, dict(os.environ, _MVC_COMPLETE=f"{shell}_source")).stdout


def test_bash_completion_script_is_valid_and_completes_a_command(project, tmp_path):
    bash = shutil.which("bash")
    script = tmp_path / "mvc.bash"
    script.write_text(_sh(["completion", "bash"], project).stdout)
    check = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # the shell itself: source the script, complete `mvc lin<TAB>` and `mvc runs ls --st<TAB>`
    driver = (f'source {script}\n'
              'COMP_WORDS=(mvc lin); COMP_CWORD=1; _mvc_completion mvc; echo "${COMPREPLY[*]}"\n'
              'COMPREPLY=(); COMP_WORDS=(mvc runs ls --st); COMP_CWORD=3; _mvc_completion mvc; echo "${COMPREPLY[*]}"\n')
    env = dict(os.environ, MVC_SERVER="0", PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    out = subprocess.run([bash, "-c", driver], capture_output=True, text=True, env=env, cwd=str(project), timeout=60)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert sorted(first.split()) == ["lineage", "link"]
    assert second.split() == ["--state"]


# ---- log --from: lineage without Python ------------------------------------------------
def test_log_from_records_the_input_edge(logged, project):
    tuned = project / "tuned.bin"
    tuned.write_bytes(os.urandom(20_000))
    res = _sh(["log", tuned, "--name", "tuned", "--from", "M:v0", "--from", "M:latest", "--json"], project)
    assert res.returncode == 0, res.stderr
    run_id = json.loads(res.stdout)["run"]
    graph = json.loads(_sh(["lineage", "tuned", "--direction", "up", "--format", "json"], project).stdout)
    edges = {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}
    assert ("artifact:proj/M:v0", f"run:{run_id}", "input") in edges
    assert (f"run:{run_id}", "artifact:proj/tuned:v0", "output") in edges
    detail = json.loads(_sh(["runs", "show", run_id, "--json"], project).stdout)
    assert [i["address"] for i in detail["inputs"]] == ["proj/M:v0"]
    text = _sh(["lineage", "M:v0", "--direction", "down"], project).stdout
    assert "tuned" in text


# ---- docs/cli.md documents every command and option (issue 11: "Done when") ----------------
def test_docs_name_every_command_and_option():
    import pathlib
    doc = (pathlib.Path(cli_main.__file__).parents[2] / "docs" / "cli.md").read_text()
    missing = []
    for name, cmd in _all_commands():
        if f"mvc {name}" not in doc:
            missing.append(f"mvc {name}")
        missing += [f"mvc {name} {o}" for p in cmd.params for o in p.opts
                    if o.startswith("--") and getattr(p, "callback", None) is not cli_main._given and o not in doc]
    assert missing == []


def test_a_refused_delete_hints_the_cli_option(logged):
    assert _mvc("alias", "set", "M:v0", "keep").exit_code == 0
    res = _mvc("delete", "M:v0")
    assert res.exit_code == 4
    assert "hint: move or remove them first, or pass --delete-aliases" in res.stderr
    assert "delete_aliases=True" not in res.stderr


def test_every_time_in_json_output_is_an_iso_string(logged):
    """gc's cutoff was epoch seconds while every other time was ISO; now no --json output holds a
    time (a key ending in _at, or when/cutoff) that is not an ISO 8601 string."""
    from datetime import datetime
    run_id = json.loads(_mvc("runs", "ls", "--all", "--json").stdout)[0]["id"]
    assert _mvc("link", "M:v0", "--to", "Reg", "-a", "prod").exit_code == 0
    assert _mvc("alias", "set", "M:v0", "best").exit_code == 0
    commands = [["ls"], ["ls", "M"], ["show", "M"], ["runs", "ls", "--all"], ["runs", "show", run_id], ["status"],
                ["registry", "ls"], ["registry", "show", "Reg"], ["alias", "history", "M"], ["du"], ["du", "M"],
                ["gc", "--dry-run"], ["fsck", "--no-git"], ["unlock"], ["lineage", "M", "--format", "json"]]
    seen = []

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                if (k.endswith("_at") or k in ("when", "cutoff")) and v is not None:
                    assert isinstance(v, str) and datetime.fromisoformat(v).tzinfo, (where, k, v)
                    seen.append(k)
                walk(v, where)
        elif isinstance(value, list):
            for v in value:
                walk(v, where)
    for args in commands:
        res = _mvc(*args, *([] if args[0] == "lineage" else ["--json"]))
        assert res.exit_code == 0, (args, res.output)
        walk(json.loads(res.stdout), args)
    assert {"created_at", "started_at", "ended_at", "linked_at", "when", "cutoff"} <= set(seen)


def test_init_and_status_take_dir_after_the_name(tmp_path):
    res = _mvc("init", "-C", tmp_path / "s")
    assert res.exit_code == 0 and res.output == f"Initialized empty mvc store in {tmp_path / 's' / '.mvc'}{os.sep}\n"
    assert _mvc("init", "--dir", tmp_path / "s").output.startswith("Reinitialized existing mvc store")
    status = json.loads(_mvc("status", "--json", "-C", tmp_path / "s", "--project", "p1").stdout)
    assert status["store"] == str(tmp_path / "s" / ".mvc") and status["project"] == "p1"


@pytest.mark.parametrize("cmd", ["show", "verify", "delete", "lineage", "restore"])
def test_a_malformed_address_is_a_usage_error_even_without_a_store(project, cmd):
    res = _mvc(cmd, "a/b/c/d")
    assert res.exit_code == 2 and "is not of the form" in res.stderr
    assert not (project / ".mvc").exists()


def test_a_refused_log_creates_no_store(project, model_file):
    res = _mvc("log", model_file, "--name", "bad name")
    assert res.exit_code == 2 and not (project / ".mvc").exists()
