"""A refused link, and a refused protected alias on log and link (issue 11 audit).

Log then link moves two refs, so a link refused after the log (a hook's veto needs the
version) leaves the version logged: the error must say so and how to link it later, never
"nothing was changed".  A protected registry alias is known before the log, so it is refused
before anything is logged or a run recorded.  `mvc link PATH` names the artifact after the
basename as `mvc log` does; the hints name what a CLI user can type (log and link have no
--force)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import mvc
from cli_kit import mvc_cli as _mvc, mvc_ok as _ok
from mvc.errors import HookVetoError, ProtectedAliasError
from mvc.repo import Repository


def _hook(project, event: str, code: int, say: str = "") -> None:
    """A real executable store-event hook (a shell script) that prints ``say`` and exits ``code``."""
    path = project / ".mvc" / "hooks" / event
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{say}'\nexit {code}\n")
    os.chmod(path, 0o755)


def _names() -> list[str]:
    return sorted(r["name"] for r in json.loads(_ok("ls", "--json").output))


def _runs() -> list[dict]:
    return json.loads(_ok("runs", "ls", "--all", "--json").output)


def _links(model: str) -> list[str]:
    return [li.version for li in mvc.Api().registered_model(model).links()] if model in _models() else []


def _models() -> list[str]:
    return [m.name for m in mvc.Api().registered_models()]


@pytest.fixture
def store(project):
    _ok("init")
    for n in ("a", "b", "w"):
        (project / f"{n}.bin").write_bytes(os.urandom(2000))
    return project


@pytest.fixture
def protected_registry(store):
    """registry/good with `prod` on its v0 (a.bin) and protected."""
    _ok("link", "a.bin", "--to", "good", "--alias", "prod")
    _ok("alias", "protect", "registry/good", "prod")
    return store


# ---- 2. a link refused after the log says what was logged ---------------------------
def test_cli_pre_link_veto_says_the_path_was_logged(store):
    _hook(store, "pre-link", 1, "no links today")
    res = _mvc("link", "w.bin", "--to", "prod", "--name", "wv")
    assert res.exit_code == 4
    assert "w.bin was logged as proj/wv:v0, but linking it into registry/prod was refused" in res.stderr
    assert "no links today" in res.stderr
    assert "nothing was changed" not in res.stderr
    assert "`mvc link proj/wv:v0 --to prod`" in res.stderr and "Python:" not in res.stderr
    assert _names() == ["wv"] and _models() == []
    failed = [r for r in _runs() if r["state"] == "failed"]
    assert len(failed) == 1  # the log happened, in a run: recorded, and the message now agrees
    (store / ".mvc" / "hooks" / "pre-link").unlink()
    assert "registry/prod:v0 -> proj/wv:v0" in _ok("link", "proj/wv:v0", "--to", "prod").output  # the hint works


def test_python_link_model_veto_says_the_path_was_logged(store, no_live_runs):
    _hook(store, "pre-link", 3, "frozen")
    with mvc.init() as run:
        with pytest.raises(HookVetoError) as e:
            run.link_model("w.bin", "prod")
        address = f"proj/run-{run.id}-w.bin:v0"
    assert e.value.message.startswith(f"w.bin was logged as {address}, but linking it into registry/prod "
                                      "was refused: the pre-link hook refused")
    assert "frozen" in e.value.message and "nothing was changed" not in str(e.value)
    assert f"mvc link {address} --to prod" in e.value.hint
    assert mvc.Api().artifact(address).version == "v0"
    assert _models() == []


def test_a_pre_alias_hook_veto_on_the_link_also_says_it_was_logged(store):
    _hook(store, "pre-alias", 1, "not on friday")
    res = _mvc("link", "w.bin", "--to", "prod", "--alias", "staging")
    assert res.exit_code == 4
    assert "w.bin was logged as proj/w.bin:v0, but linking it into registry/prod was refused" in res.stderr
    assert "not on friday" in res.stderr and "nothing was changed" not in res.stderr
    assert _names() == ["w.bin"]


def test_a_refused_link_of_an_address_still_says_nothing_changed(store):
    _ok("log", "w.bin", "--name", "wv")
    _hook(store, "pre-link", 1, "no")
    res = _mvc("link", "wv:v0", "--to", "prod")
    assert res.exit_code == 4 and "nothing was changed" in res.stderr and "was logged as" not in res.stderr


# ---- 2. a protected registry alias is refused before the log --------------------------
def test_cli_protected_registry_alias_refused_before_the_log(protected_registry):
    runs = len(_runs())
    res = _mvc("link", "b.bin", "--to", "good", "--alias", "prod", "--name", "newart")
    assert res.exit_code == 4
    assert "alias prod of registry/good is protected" in res.stderr and "nothing was logged" in res.stderr
    assert "`mvc alias set --force registry/good:latest prod`" in res.stderr
    assert "Python:" not in res.stderr and "pass --force" not in res.stderr
    assert "newart" not in _names() and len(_runs()) == runs  # no version, no run
    assert _links("good") == ["v0"]
    # the hint, followed
    _ok("link", "b.bin", "--to", "good", "--name", "newart")
    _ok("alias", "set", "--force", "registry/good:latest", "prod")
    assert mvc.Api().artifact("registry/good:prod").name == "newart"


def test_python_protected_registry_alias_refused_before_the_log(protected_registry, no_live_runs):
    with mvc.init() as run:
        with pytest.raises(ProtectedAliasError) as e:
            run.link_model("b.bin", "good", aliases=["prod"])
        assert run.id not in " ".join(_names())
    assert "nothing was logged" in e.value.message and "Api.set_alias with force=True" in e.value.hint
    assert _links("good") == ["v0"]


def test_relinking_the_version_a_protected_alias_is_on_is_allowed(protected_registry):
    res = _ok("link", "a.bin", "--to", "good", "--alias", "prod")
    assert "registry/good:v0 -> proj/a.bin:v0" in res.output
    assert _links("good") == ["v0"]


def test_a_changed_file_under_the_same_name_is_refused_after_the_log_truthfully(protected_registry):
    """prod is on a link of a.bin: the next log of a.bin may be a re-log (no move), so only the
    link can tell; when the file changed, the new version stays and the error says so."""
    (protected_registry / "a.bin").write_bytes(os.urandom(2000))
    res = _mvc("link", "a.bin", "--to", "good", "--alias", "prod")
    assert res.exit_code == 4
    assert "a.bin was logged as proj/a.bin:v1, but linking it into registry/good was refused" in res.stderr
    assert "`mvc link proj/a.bin:v1 --to good`" in res.stderr


def test_a_pre_alias_hook_may_allow_a_protected_registry_alias(protected_registry):
    _hook(protected_registry, "pre-alias", 0)
    res = _ok("link", "b.bin", "--to", "good", "--alias", "prod")
    assert "registry/good:v1 -> proj/b.bin:v0" in res.output


# ---- 3. `mvc link PATH` names the artifact after the basename ---------------------------
def test_cli_link_of_an_unchanged_file_twice_is_one_version_and_one_link(store):
    first = _ok("link", "w.bin", "--to", "M").output
    second = _ok("link", "w.bin", "--to", "M").output
    assert first == second == "registry/M:v0 -> proj/w.bin:v0  (aliases: latest)\n"
    assert _names() == ["w.bin"] and _links("M") == ["v0"]
    assert "registry/M:v0 -> proj/given:v0" not in _ok("link", "w.bin", "--to", "N", "--name", "given").output
    assert "given" in _names()


def test_python_link_model_keeps_wandb_default_name(store, no_live_runs):
    ids = []
    for _ in range(2):
        with mvc.init() as run:
            run.link_model("w.bin", "M")
            ids.append(run.id)
    assert _names() == sorted(f"run-{i}-w.bin" for i in ids)
    assert _links("M") == ["v0", "v1"]


def test_cli_link_default_name_that_breaks_the_rules_is_refused_before_anything(store):
    (store / "bad name.bin").write_bytes(b"x")
    res = _mvc("link", "bad name.bin", "--to", "M")
    assert res.exit_code == 2 and "--name" in res.stderr and "name=" not in res.stderr
    assert _names() == [] and _runs() == []


# ---- 4. the protected-alias hint names what the CLI has ---------------------------------
def test_log_with_a_protected_alias_hints_what_the_cli_can_do(store):
    _ok("log", "a.bin", "--name", "m", "--alias", "prod")
    _ok("alias", "protect", "m", "prod")
    res = _mvc("log", "b.bin", "--name", "m", "--alias", "prod")
    assert res.exit_code == 4
    hint = res.stderr.split("hint:", 1)[1]
    assert "log it without that alias, then move the alias with `mvc alias set --force proj/m:latest prod`" in hint
    assert "pass --force" not in hint and "Python" not in hint
    assert [r["version"] for r in json.loads(_ok("ls", "m", "--json").output)] == ["v0"]  # nothing logged
    assert _mvc("log", "b.bin", "--name", "m", "--force").exit_code == 2  # why the hint must not say --force
    _ok("log", "b.bin", "--name", "m")  # the hint, followed
    _ok("alias", "set", "--force", "proj/m:latest", "prod")
    assert mvc.Api().artifact("m:prod").version == "v1"


def test_log_model_with_a_protected_alias_hints_the_python_form(store, no_live_runs):
    _ok("log", "a.bin", "--name", "m", "--alias", "prod")
    mvc.Api().protect_alias("m", "prod")
    with mvc.init() as run:
        with pytest.raises(ProtectedAliasError) as e:
            run.log_model("b.bin", name="m", aliases=["prod"])
    assert "Api.set_alias with force=True" in e.value.hint
    from mvc.cli.hints import for_cli
    assert "Python" not in for_cli(e.value.hint) and "mvc alias set --force proj/m:latest prod" in for_cli(e.value.hint)


def test_relog_and_delete_hints(store):
    _ok("log", "a.bin", "--name", "m")
    _ok("log", "b.bin", "--name", "m", "--alias", "prod")
    _ok("alias", "protect", "m", "prod")
    res = _mvc("log", "a.bin", "--name", "m", "--alias", "prod")  # a re-log of v0's content
    assert res.exit_code == 4 and "`mvc alias set --force proj/m:v0 prod`" in res.stderr
    res = _mvc("delete", "m:v1", "--delete-aliases")
    assert res.exit_code == 4 and "`mvc alias rm --force proj/m prod`" in res.stderr
    assert "pass --force" not in res.stderr
    res = _mvc("alias", "set", "m:v0", "prod")  # alias set has --force: its hint keeps it
    assert res.exit_code == 4 and "pass --force" in res.stderr
    art = mvc.Api().artifact("m:v0")  # Artifact.save() takes no force either
    art.aliases.append("prod")
    with pytest.raises(ProtectedAliasError) as e:
        art.save()
    assert "`mvc alias set --force proj/m:v0 prod` (Python: Api.set_alias with force=True)" in e.value.hint
    art = mvc.Api().artifact("m:v1")
    art.aliases.remove("prod")
    with pytest.raises(ProtectedAliasError) as e:
        art.save()
    assert "`mvc alias rm --force proj/m prod`" in e.value.hint and "force=True" not in e.value.hint.split(")")[-1]


def test_refused_link_in_a_real_process(store):
    """The installed command, end to end: exit code and both lines on stderr."""
    _hook(store, "pre-link", 1, "vetoed")
    exe = os.path.join(os.path.dirname(sys.executable), "mvc")
    res = subprocess.run([exe, "link", "w.bin", "--to", "prod"], cwd=str(store), capture_output=True, text=True,
                         env=dict(os.environ, MVC_SERVER="0"), timeout=120)
    assert res.returncode == 4
    assert res.stderr.startswith("mvc: error: w.bin was logged as proj/w.bin:v0, but linking it into "
                                 "registry/prod was refused: the pre-link hook refused")
    assert "mvc: hint: the hook is " in res.stderr and "`mvc link proj/w.bin:v0 --to prod`" in res.stderr
    assert Repository.find(str(store)).artifacts.list("proj") == [("proj", "w.bin")]
