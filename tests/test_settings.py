"""`mvc config` and mvc/settings.py: TOML settings at the store and user level, with the
environment over the store over the user over the default (issue 11, part 3)."""
from __future__ import annotations

import os
import subprocess
import sys

import pygit2
import pytest

import mvc
from mvc import settings
from mvc.api.settings import get_setting, set_setting, settings as all_settings, unset_setting
from mvc.errors import InvalidInputError, UsageError

MVC = os.path.join(os.path.dirname(sys.executable), "mvc")


def cli(*args, cwd, env=None, check=True):
    r = subprocess.run([MVC, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_precedence_env_over_store_over_user_over_default(project):
    mvc.Api(create=True)
    assert get_setting("use.link") == ("copy", "default")
    user_file = set_setting("use.link", "auto", user=True)
    assert user_file == os.path.join(os.environ["HOME"], ".config", "mvc", "config.toml")
    assert get_setting("use.link") == ("auto", user_file)
    store_file = set_setting("use.link", "hardlink")
    assert store_file == str(project / ".mvc" / "config.toml")
    assert get_setting("use.link") == ("hardlink", store_file)
    os.environ["MVC_LINK"] = "reflink"
    try:
        assert get_setting("use.link") == ("reflink", "env MVC_LINK")
    finally:
        del os.environ["MVC_LINK"]
    assert unset_setting("use.link") is True and unset_setting("use.link") is False
    assert get_setting("use.link") == ("auto", user_file)


def test_files_are_sorted_toml_and_keep_what_the_user_wrote(project):
    mvc.Api(create=True)
    set_setting("user.name", 'Ada "the" Lovelace')
    set_setting("cache.max_size", "20G")
    set_setting("core.project", "vision")
    text = (project / ".mvc" / "config.toml").read_text()
    assert text == ('[cache]\nmax_size = "20G"\n\n[core]\nproject = "vision"\n\n'
                    '[user]\nname = "Ada \\"the\\" Lovelace"\n')
    assert settings.read_file(str(project / ".mvc" / "config.toml"))["user.name"] == 'Ada "the" Lovelace'
    assert settings.get("cache.max_size", str(project / ".mvc")) == 20 * 2**30


@pytest.mark.parametrize("key,value,words", [
    ("use.link", "bogus", "must be one of"),
    ("cache.max_size", "lots", "size in bytes"),
    ("core.project", "a/b", "project"),
    ("user.name", "two\nlines", "one line"),
    ("remote.default", "two\nlines", "line of text"),
    ("nope.key", "x", "unknown setting"),
])
def test_bad_values_are_refused_and_nothing_is_written(project, key, value, words):
    mvc.Api(create=True)
    with pytest.raises((InvalidInputError, mvc.InvalidNameError)) as ei:
        set_setting(key, value)
    assert words in str(ei.value)
    assert not (project / ".mvc" / "config.toml").exists()


def test_a_damaged_file_is_a_clear_error_naming_it(project):
    mvc.Api(create=True)
    path = project / ".mvc" / "config.toml"
    path.write_text("[use\nlink = 1\n")
    with pytest.raises(InvalidInputError, match="not valid TOML") as ei:
        get_setting("use.link")
    assert str(path) in ei.value.message
    path.write_text('[use]\nlink = "teleport"\n')
    with pytest.raises(InvalidInputError, match="must be one of"):
        get_setting("use.link")
    path.write_text('[use]\nspeed = 3\n')
    with pytest.raises(InvalidInputError, match="unknown setting 'use.speed'"):
        get_setting("use.link")


def test_store_level_needs_a_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no store here"):
        set_setting("use.link", "hardlink")
    assert set_setting("use.link", "hardlink", user=True).endswith("config.toml")


def test_settings_change_identity_and_project(project, model_file):
    api = mvc.Api(create=True)
    os.environ.pop("MVC_USER", None)
    os.environ.pop("MVC_EMAIL", None)
    set_setting("user.name", "Grace")
    set_setting("user.email", "grace@example.com")
    set_setting("core.project", "configured")
    os.environ.pop("MVC_PROJECT", None)
    api = mvc.Api()
    assert api.project == "configured"
    with mvc.init() as run:
        assert run.project == "configured"
        run.log_model(str(model_file), name="m")
    git = pygit2.Repository(str(project / ".mvc"))
    ref = [r for r in git.references if r.endswith("/artifacts/m")][0]
    commit = git.references[ref].peel(pygit2.Commit)
    assert (commit.author.name, commit.author.email) == ("Grace", "grace@example.com")
    assert "/configured/" in ref


def test_cli_config_round_trip(project):
    cli("init", cwd=project)
    cli("config", "set", "use.link", "hardlink", cwd=project)
    assert cli("config", "get", "use.link", cwd=project).stdout == "hardlink\n"
    got = cli("config", "get", "use.link", "--show-origin", cwd=project).stdout
    assert got.endswith("hardlink\n") and ".mvc/config.toml" in got
    assert cli("config", "get", "user.name", cwd=project, env={"MVC_USER": ""}, check=False).returncode == 1
    listed = cli("config", "list", "--json", cwd=project).stdout
    import json
    rows = {r["key"]: r for r in json.loads(listed)}
    assert rows["use.link"]["value"] == "hardlink" and rows["remote.default"]["value"] == "origin"
    bad = cli("config", "set", "use.link", "bogus", cwd=project, check=False)
    assert bad.returncode == 2 and "must be one of" in bad.stderr and "Traceback" not in bad.stderr
    assert cli("config", "unset", "use.link", cwd=project).returncode == 0
    assert cli("config", "unset", "use.link", cwd=project, check=False).returncode == 1
    assert cli("config", "get", "use.link", cwd=project).stdout == "copy\n"


def test_listing_works_outside_any_store(tmp_path):
    rows = all_settings(str(tmp_path / "nowhere"))
    assert {r["key"] for r in rows} == set(settings.KEYS)
    assert not (tmp_path / "nowhere").exists()


def test_use_link_setting_is_the_default_link_mode(project, model_file):
    cli("log", str(model_file), "--name", "m", cwd=project)
    cli("config", "set", "use.link", "hardlink", cwd=project)
    cli("use", "m:v0", "-o", "hard", cwd=project)
    used = project / "hard"
    f = next(p for p in used.rglob("*") if p.is_file())
    assert f.stat().st_nlink > 1 and f.stat().st_mode & 0o222 == 0  # a read-only link to the store's bytes
    copy = cli("use", "m:v0", "-o", "copied", "--link", "copy", cwd=project)
    assert copy.returncode == 0
    g = next(p for p in (project / "copied").rglob("*") if p.is_file())
    assert g.stat().st_nlink == 1 and g.read_bytes() == f.read_bytes()
    with mvc.init() as run:  # Python follows the setting too
        art = run.use_artifact("m:v0")
        path = art.download(str(project / "py"))
    h = next(p for p in (project / "py").rglob("*") if p.is_file())
    assert h.stat().st_nlink > 1 and path
